"""The Flask class the app is built on: Flask's, with its check for `async def` views and hooks made cheap.

Flask asks, before each call of a view or hook, whether the function is a coroutine function
(inspect.iscoroutinefunction: unwrapping methods and partials, then the code's flags): nine times an API request, ~60
of the article JSON's 1,360 Python calls (bench/bench_request_cpu.py). A plain function's answer is in its code's
flags (and, from Python 3.12, in inspect.markcoroutinefunction's mark), a bound method's in its function's; anything else is asked as Flask asks.
"""
from __future__ import annotations

from inspect import CO_COROUTINE
from types import FunctionType, MethodType
from typing import Any, Callable

from flask import Flask

_MARK = "_is_coroutine_marker"  # inspect.markcoroutinefunction's attribute (Python 3.12+)


class App(Flask):
    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        plain = func.__func__ if type(func) is MethodType else func  # a bound method is asked about its function, as inspect does
        if type(plain) is FunctionType and not plain.__code__.co_flags & CO_COROUTINE and _MARK not in plain.__dict__:
            return func  # a plain `def`: what Flask's check answers for it
        return super().ensure_sync(func)

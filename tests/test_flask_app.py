"""The app's Flask class answers Flask's question (is this view or hook an `async def`?) as Flask does, only cheaper."""
from __future__ import annotations

import functools
import inspect

import pytest
from flask import Flask

from annotator.web.flask_app import App


def plain(x=None):  # noqa: ANN001, ANN201
    return x


async def coroutine(x=None):  # noqa: ANN001, ANN201
    return x


def generator():  # noqa: ANN201
    yield 1


async def async_generator():  # noqa: ANN201
    yield 1


class Hooks:
    def method(self):  # noqa: ANN201
        return self

    async def async_method(self):  # noqa: ANN201
        return self

    def __call__(self):  # noqa: ANN204
        return self


def marked():  # noqa: ANN201
    return None


if hasattr(inspect, "markcoroutinefunction"):  # Python 3.12+
    inspect.markcoroutinefunction(marked)

CALLABLES = [plain, coroutine, generator, async_generator, Hooks().method, Hooks().async_method, Hooks(), functools.partial(plain, 1),
             functools.partial(coroutine, 1), functools.wraps(coroutine)(lambda: None), marked, len, print]


@pytest.mark.parametrize("func", CALLABLES, ids=lambda f: getattr(f, "__name__", type(f).__name__))
def test_ensure_sync_wraps_exactly_what_flask_wraps(func):
    wrapped = object()
    answers = []
    for cls in (Flask, App):
        app = cls(__name__)
        app.async_to_sync = lambda f: wrapped  # asgiref need not be installed: only the decision is compared
        answers.append(app.ensure_sync(func))
    assert answers[0] is answers[1]
    assert (answers[1] is wrapped) == inspect.iscoroutinefunction(func)

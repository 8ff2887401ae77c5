"""conftest's _shared_template_code: the suite's apps share Jinja's compiled templates, and render the same pages."""
from __future__ import annotations

import re

from jinja2 import Environment

from .conftest import SharedTemplateCode, make_app

_TOKEN = re.compile(r'((?:content|value)=")[\w.-]{40,}"')  # the CSRF token, new in each session


def _login_page(app) -> str:
    page = app.test_client().get("/login")
    assert page.status_code == 200
    return _TOKEN.sub(r'\1TOKEN"', page.get_data(as_text=True))


def test_a_second_app_renders_without_compiling_and_the_same_page(tmp_path, monkeypatch):
    compiled: list[str] = []
    compile_template = Environment.compile

    def counting(self, source, name=None, filename=None, raw=False, defer_init=False):  # noqa: ANN001, ANN202
        compiled.append(name)
        return compile_template(self, source, name, filename, raw, defer_init)

    monkeypatch.setattr(Environment, "compile", counting)
    first = make_app(f"sqlite:///{tmp_path / 'first.sqlite3'}")
    assert isinstance(first.jinja_env.bytecode_cache, SharedTemplateCode), "the shared template code is not in place"
    _login_page(first)  # compiles what no app of this run compiled yet (nothing, if another test rendered the page)
    compiled.clear()
    second = _login_page(make_app(f"sqlite:///{tmp_path / 'second.sqlite3'}"))
    assert compiled == []

    own = make_app(f"sqlite:///{tmp_path / 'own.sqlite3'}")
    own.jinja_env.bytecode_cache = None  # an app that compiles its own templates, as in production
    assert 'content="TOKEN"' in second and _login_page(own) == second
    assert "login.html" in compiled and "base.html" in compiled

"""conftest's _shared_url_builders: one compiled URL builder per rule, shared by the suite's apps."""
from __future__ import annotations

from .conftest import make_app


def test_shared_url_builders_build_what_werkzeugs_own_build(tmp_path):
    """conftest's _shared_url_builders: every rule of a second app builds the URLs a freshly compiled builder does."""
    import inspect as pyinspect

    from werkzeug.routing.rules import Rule

    assert Rule._compile_builder.__name__ == "shared", "the shared builders are not in place"
    original = pyinspect.getclosurevars(Rule._compile_builder).nonlocals["compile_builder"]
    make_app(f"sqlite:///{tmp_path / 'first.sqlite3'}", create=False)
    second = make_app(f"sqlite:///{tmp_path / 'second.sqlite3'}", create=False)
    checked = 0
    for rule in second.url_map.iter_rules():
        values = {
            name: 7 if type(rule._converters[name]).__name__ in {"IntegerConverter", "NumberConverter"} else f"v{i} é/?"
            for i, name in enumerate(rule.arguments)
            if name not in (rule.defaults or {})
        }
        for append_unknown in (False, True):
            fresh = original(rule, append_unknown).__get__(rule, None)
            extra = {"q": "a b", "page": 2} if append_unknown else {}
            assert rule.build({**values, **extra}, append_unknown=append_unknown) == fresh(**values, **extra), rule.rule
            checked += 1
    assert checked > 100

"""Bad input, generated: every importer and every request body limit.

Properties, for random and hand-picked hostile input:
  * never a crash: the CLI exits 0 or 1 with a one-line reason (no traceback),
    the web answers 4xx (never 5xx);
  * never a partial write: a rejected file or request leaves every table with
    exactly the rows it had (counted before and after);
  * always a message that says what is wrong, naming the file (and line).

Covered: `annotator import` (.jsonl, .csv, .txt, raw bytes incl. invalid
UTF-8), `annotator import-annotations` (random article-format lines, Label
Studio and doccano files), the admin upload form, and bodies larger than the
configured MAX_CONTENT_LENGTH on every state-changing route (413, JSON under
/api). The annotation API's own property test is in test_api.py.

Example counts come from a settings profile: ANNOTATOR_FUZZ=thorough runs more.
"""
from __future__ import annotations

import contextlib
import csv
import functools
import http.client
import io
import json
import os
import re
import tracemalloc
from pathlib import Path
from typing import Any

import flask
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from markupsafe import escape
from sqlalchemy import func, literal, select, union_all
from werkzeug.exceptions import RequestEntityTooLarge

from annotator.db import db
from annotator.db.models import Article, Project, Sentence
from annotator.domain import projects
from annotator.domain.dataset.ingest import IngestError, read_bytes
from annotator.web import inputs

from .conftest import Browser, make_app, serving
from .test_route_matrix import WRITE_CASES, Case, World, access_of, caller, find_rule, seed, url_for_rule

settings.register_profile(
    "bad-input",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("bad-input-thorough", parent=settings.get_profile("bad-input"), max_examples=400)
FUZZ = settings.get_profile("bad-input-thorough" if os.environ.get("ANNOTATOR_FUZZ") == "thorough" else "bad-input")

# Hand-picked hostile lines: what Python's json reads but JSON and PostgreSQL's json type do not, numbers
# too long to convert, nesting too deep for the parser, lone surrogates, NUL, wrong types.
HOSTILE_JSONL = [
    b'{"id": "n1", "text": "Hello there.", "meta": {"n": ' + b"1" * 5000 + b"}}",
    b'{"id": ' + b"9" * 5000 + b', "text": "Hello there."}',
    b'{"id": "d1", "text": "Hello.", "meta": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}",
    b'{"id": "nan", "text": "Hello.", "meta": {"x": NaN}}',
    b'{"id": "inf", "text": "Hello.", "meta": {"x": -Infinity}}',
    b'{"id": "big", "text": "Hello.", "meta": {"x": 1e400}}',
    b'{"id": "s1", "text": "Hello \\ud800."}',
    b'{"id": "s2", "text": "Hello.", "meta": {"\\udfff": 1}}',
    b'{"id": "z", "text": "Hello.", "title": "a\\u0000b"}',
    b'{"id": 1.5, "text": "Hello."}',
    b'{"id": true, "text": "Hello."}',
    b'{"id": "t", "text": ["not", "a", "string"]}',
    b'{"id": "w", "text": " \\t\\r\\n "}',
    b"[1, 2, 3]",
    b'"just a string"',
    b"\xff\xfe{}",
    b'{"id": "ok", "text": "Fine."}\n{"id": "ok", "text": "Duplicate id."}',
    b'{"id": "ok2", "text": "Fine."}\n{broken',
]

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.sampled_from(["", " ", "\u0000", "a\u0000", "\ufeff", "\r\n", "<b>x</b>", "x" * 300]),
)
_json = st.recursive(_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
_texts = st.one_of(st.text(max_size=300), st.sampled_from(["Prices rose. They fell.", "\u200b", "...", "\U0001f600 \U0001f1eb\U0001f1f7!", "a\r\nb\rc"]))
_article = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.text(max_size=20), st.integers(-(10**20), 10**20), _scalars),
        "title": st.one_of(st.text(max_size=40), _json),
        "text": st.one_of(_texts, _json),
        "meta": _json,
        "source": _json,
    },
)


def _dump(value) -> str:
    return json.dumps(value, ensure_ascii=False, allow_nan=True)


_jsonl_lines = st.lists(
    st.one_of(_article.map(_dump), _json.map(_dump), st.text(max_size=40), st.just("")), max_size=6
).map("\n".join)


def _encode(text: str, how: str, junk: bytes) -> bytes:
    data = text.encode("utf-8", "surrogatepass")
    if how == "bom":
        return b"\xef\xbb\xbf" + data
    if how == "broken":
        cut = len(data) // 2
        return data[:cut] + junk + data[cut:]
    return data


_csv_text = st.tuples(
    st.lists(st.sampled_from(["id", "title", "text", "meta", "extra", "", "text "]), min_size=0, max_size=5),
    st.lists(st.lists(st.one_of(st.text(max_size=30), st.sampled_from(["\"", "a\"b", "\n", "x" * 200])), max_size=6), max_size=5),
    st.booleans(),
).map(lambda t: _csv(*t))


def _csv(header: list[str], rows: list[list[str]], raw: bool) -> str:
    if raw:  # hand-joined: quotes and commas as they come
        return "\n".join(",".join(r) for r in [header, *rows])
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue()


_files = st.one_of(
    st.tuples(st.just(".jsonl"), _jsonl_lines),
    st.tuples(st.just(".csv"), _csv_text),
    st.tuples(st.just(".txt"), _texts),
).flatmap(
    lambda f: st.tuples(st.just(f[0]), st.sampled_from(["plain", "bom", "broken"]), st.binary(min_size=1, max_size=4)).map(
        lambda e: (f[0], _encode(f[1], e[1], e[2] if e[2][:1] >= b"\x80" else b"\xff" + e[2]))
    )
) | st.tuples(st.sampled_from([".jsonl", ".csv", ".txt"]), st.binary(max_size=300))


# ----------------------------------------------------------------- helpers
@functools.cache
def _count_every_table() -> Any:
    """One statement counting the rows of every table: one round trip, where a count per table took 24 (about 70 ms
    a call on PostgreSQL, and the fuzz tests count before and after every request)."""
    return union_all(*(select(literal(t.name), func.count()).select_from(t) for t in db.metadata.sorted_tables))


def row_counts(app) -> dict[str, int]:
    with app.app_context():
        with db.engine.connect() as conn:
            found = dict(conn.execute(_count_every_table()).all())
    assert set(found) == {t.name for t in db.metadata.sorted_tables}
    return found


def check_articles(app) -> None:
    """Every stored article is whole: sentences in order, inside its text, none empty."""
    with app.app_context():
        texts = dict(db.session.execute(select(Article.id, Article.text)).all())
        spans: dict[int, list[tuple[int, int]]] = {}
        for article_id, start, end in db.session.execute(select(Sentence.article_id, Sentence.start, Sentence.end).order_by(Sentence.article_id, Sentence.index)):
            spans.setdefault(article_id, []).append((start, end))
        db.session.remove()
    for article_id, text in texts.items():
        sentences = spans.get(article_id, [])
        assert sentences, f"article {article_id} was stored without sentences ({text[:60]!r})"
        previous = 0
        for start, end in sentences:
            assert previous <= start < end <= len(text), (article_id, sentences, len(text))
            previous = end


def cli_ok(result) -> None:
    """Exit 0 or 1 with a reason, never an exception with a traceback."""
    crash = result.exception if result.exception is not None and not isinstance(result.exception, SystemExit) else None
    assert crash is None, f"crashed with {crash!r}:\n{result.output[-2000:]}"
    assert "Traceback" not in result.output, result.output[-2000:]
    assert result.exit_code in (0, 1), (result.exit_code, result.output[-500:])


@pytest.fixture
def project(app) -> str:
    with app.app_context():
        projects.create_project(db.session, "Fuzz")
        db.session.commit()
    return "Fuzz"


@pytest.fixture
def workdir(tmp_path) -> Path:
    return tmp_path


_counter = iter(range(10**9))  # distinct file names across examples (a constant, not shared state: tests run in one process)


def write_file(folder: Path, suffix: str, data: bytes) -> Path:
    path = folder / f"in{next(_counter)}{suffix}"
    path.write_bytes(data)
    return path


def check_import_outcome(app, result, path: Path, before: dict[str, int]) -> None:
    cli_ok(result)
    if currently_in_test_context():  # statistics for --hypothesis-show-statistics
        event(f"exit {result.exit_code}")
    after = row_counts(app)
    if result.exit_code == 1:
        assert after == before, f"a rejected file changed the database: {before} -> {after}\n{result.output}"
        reason = [line for line in result.output.splitlines() if line.startswith(str(path))]
        assert reason, f"no 'FILE[:LINE]: reason' line naming {path.name}:\n{result.output}"
        assert re.match(re.escape(str(path)) + r"(:\d+)?: \S", reason[0]), reason[0]
    else:
        created = int(re.search(r"imported (\d+) new", result.output).group(1))
        assert after["articles"] - before["articles"] == created, (before, after, result.output)
        check_articles(app)


# ----------------------------------------------------------------- annotator import
@pytest.mark.parametrize("data", HOSTILE_JSONL, ids=lambda d: d[:32].decode("utf-8", "replace"))
def test_import_hostile_jsonl(app, runner, project, workdir, data: bytes):
    path = write_file(workdir, ".jsonl", data)
    before = row_counts(app)
    result = runner.invoke(args=["import", project, str(path)])
    check_import_outcome(app, result, path, before)
    if data.startswith(b'{"id": "ok"') or b"NaN" in data or b"Infinity" in data or b"1e400" in data:
        assert result.exit_code == 1, "not JSON (or a duplicate id): must be refused"


@FUZZ
@given(file=_files)
@example(file=(".txt", b"\xef\xbb\xbf"))
@example(file=(".txt", "\u200b\u200b".encode()))
@example(file=(".csv", b"text\n\"unterminated"))
@example(file=(".csv", b"text,text\na,b\n"))
@example(file=(".csv", b'text\n"' + b"a" * 140_000 + b'"\n'))
@example(file=(".jsonl", b'{"text": "x", "meta": {"a": NaN}}'))
def test_import_never_crashes_or_half_writes(app, runner, project, workdir, file):
    suffix, data = file
    path = write_file(workdir, suffix, data)
    before = row_counts(app)
    result = runner.invoke(args=["import", project, str(path), "--on-duplicate", "error"])
    check_import_outcome(app, result, path, before)


def test_one_bad_file_among_good_ones_rejects_only_itself(app, runner, project, workdir):
    good = write_file(workdir, ".jsonl", b'{"id": "g1", "text": "Good one. Two sentences."}')
    bad = write_file(workdir, ".jsonl", b'{"id": "b1", "text": "Fine line."}\n{"id": "b2", "text": "x", "meta": {"v": NaN}}')
    also_good = write_file(workdir, ".txt", b"A text file.\nWith two lines.")
    result = runner.invoke(args=["import", project, str(good), str(bad), str(also_good)])
    cli_ok(result)
    assert result.exit_code == 1 and f"{bad}:2: " in result.output
    with app.app_context():
        assert set(db.session.scalars(select(Article.external_id))) == {"g1", also_good.stem}
    check_articles(app)


UNCLOSED_CSV = b"id,text\nq1,First article.\nq2,\"This quote never closes.\nq3,Third article.\nq4,Fourth article.\n"


def test_a_csv_with_an_unterminated_quote_is_refused_naming_the_line(app, runner, project, workdir):
    """Before: q2 silently swallowed q3 and q4 into its text (3 articles instead of 4). Now: FILE:3 (where the quote
    opened), nothing of that file stored, the other files still import."""
    bad = write_file(workdir, ".csv", UNCLOSED_CSV)
    good = write_file(workdir, ".jsonl", b'{"id": "g1", "text": "Good one."}')
    result = runner.invoke(args=["import", project, str(bad), str(good)])
    cli_ok(result)
    assert result.exit_code == 1 and f"{bad}:3: a quoted field opened on this line is never closed" in result.output, result.output
    with app.app_context():
        assert set(db.session.scalars(select(Article.external_id))) == {"g1"}


# ----------------------------------------------------------------- annotator import-annotations
LABELS = ["CFS", "UFS", "NFS", "QUOTE", "bogus", "", None, 1]
_names = st.sampled_from(["ann", "bob", "new_person", "", "a b", "<x>", None, 7, "x" * 100])
_offsets = st.one_of(st.integers(-3, 40), st.sampled_from([2**31, 2**70, -(2**70), 1.5, "3", None, True]))
_span_ids = st.sampled_from(["s-000001", "s-000002", "ann-span-1", "bob-span-1", "", "x" * 80, None, 3])
# Where an item came from (origin) and who suggested it, as the export spells them, right and wrong.
_origin = {"origin": st.sampled_from(["manual", "suggested", "bogus", None, 3]),
           "suggester": st.sampled_from(["attribution", "", None, 5, ["x"], "x" * 101, "a\u0000"]),
           "suggester_version": st.sampled_from(["1.0", "", None, 2, {}, "v" * 65])}
_score = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0, 1, 0.5, True, "0.5", None]))
_annotation = st.fixed_dictionaries(
    {"annotator": _names},
    optional={
        "labels": st.lists(st.fixed_dictionaries({"sentence": _offsets, "label": st.sampled_from(LABELS)},
                                                  optional={"seconds": st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-5, 10**12), st.text(max_size=3)),
                                                            "updated_at": st.sampled_from(["2024-01-01T00:00:00Z", "yesterday", 5, None]),
                                                            "needs_review": _scalars, **_origin}), max_size=3) | _scalars,
        "spans": st.lists(st.fixed_dictionaries({"id": _span_ids, "label": st.sampled_from(LABELS), "start": _offsets, "end": _offsets},
                                                 optional={"text": st.text(max_size=10), **_origin}), max_size=3) | _scalars,
        "relations": st.lists(st.fixed_dictionaries({"id": _span_ids, "type": st.sampled_from(["attributed_to", "said", None]), "from": _span_ids, "to": _span_ids},
                                                     optional=_origin), max_size=2) | _scalars,
        "extra": _scalars,
    },
)
# The article export's suggestions object: labels, spans and links of suggesters, every item with a score.
_suggestions = st.fixed_dictionaries(
    {},
    optional={
        **_origin,
        "labels": st.lists(st.fixed_dictionaries({"sentence": _offsets, "label": st.sampled_from(LABELS), "score": _score}, optional=_origin), max_size=2) | _scalars,
        "spans": st.lists(st.fixed_dictionaries({"id": _span_ids, "label": st.sampled_from(LABELS), "start": _offsets, "end": _offsets, "score": _score},
                                                 optional={"text": st.text(max_size=10), **_origin}), max_size=3) | _scalars,
        "relations": st.lists(st.fixed_dictionaries({"id": _span_ids, "type": st.sampled_from(["attributed_to", "said", None, ["x"]]), "from": _span_ids,
                                                     "to": _span_ids, "score": _score}, optional=_origin), max_size=2) | _scalars,
        "extra": _scalars,
    },
)
EXISTING_TEXT = "Prices rose by 5% in May. The minister said so."
_annotated = st.fixed_dictionaries(
    {
        "id": st.sampled_from(["existing", "new-one", "new-two", "", None, 12]),
        "text": st.one_of(st.just(EXISTING_TEXT), _texts, _scalars),
    },
    optional={
        "title": st.one_of(st.text(max_size=20), _scalars),
        "meta": _json,
        "sentences": st.one_of(st.just([{"start": 0, "end": 25}, {"start": 26, "end": 47}]),
                               st.lists(st.fixed_dictionaries({"start": _offsets, "end": _offsets}), max_size=3), _scalars),
        "annotations": st.lists(_annotation, max_size=3) | _scalars,
        "gold": st.one_of(_json, st.fixed_dictionaries({"labels": st.lists(st.fixed_dictionaries({"sentence": _offsets, "label": st.sampled_from(LABELS)}, optional={"provenance": st.sampled_from(["adjudicated", "bogus", None])}), max_size=2)})),
        "suggestions": _suggestions | _scalars,
    },
)
_annotation_files = st.lists(st.one_of(_annotated.map(_dump), _json.map(_dump), st.text(max_size=30)), min_size=1, max_size=4).map("\n".join)


@pytest.fixture
def annotated_project(app, project, runner, workdir) -> str:
    path = write_file(workdir, ".jsonl", json.dumps({"id": "existing", "text": EXISTING_TEXT}).encode())
    assert runner.invoke(args=["import", project, str(path)]).exit_code == 0
    from annotator.domain import accounts

    with app.app_context():
        accounts.create_user(db.session, "ann", "annotator")
        accounts.create_user(db.session, "bob", "annotator")
        db.session.commit()
    return project


def check_annotation_import(app, result, path: Path, before: dict[str, int]) -> None:
    cli_ok(result)
    if currently_in_test_context():  # statistics for --hypothesis-show-statistics
        event(f"exit {result.exit_code}")
    after = row_counts(app)
    if result.exit_code == 1:
        assert after == before, f"a rejected file changed the database: {before} -> {after}\n{result.output}"
        assert re.search(re.escape(str(path)) + r"(:\d+)?: \S", result.output), f"no FILE:LINE reason:\n{result.output}"
    else:
        assert after["audit_log"] >= before["audit_log"]
        check_articles(app)


@FUZZ
@given(content=_annotation_files, mode=st.sampled_from(["error", "skip", "replace"]))
@example(content=json.dumps({"id": "existing", "text": EXISTING_TEXT, "meta": {"x": float("nan")}}), mode="error")
@example(content='{"id": "n", "text": "A.", "meta": {"x": ' + "1" * 5000 + "}}", mode="error")
@example(content='{"id": "n", "text": "A.", "meta": ' + "[" * 50_000 + "]" * 50_000 + "}", mode="error")
@example(content=json.dumps({"id": "existing", "text": EXISTING_TEXT, "annotations": [
    {"annotator": "bob", "spans": [{"id": "bob-span-1", "label": "SOURCE", "start": 0, "end": 6}], "relations": []},
    {"annotator": "ann", "spans": [{"id": "ann-span-1", "label": "QUOTE", "start": 7, "end": 11}],
     "relations": [{"id": "r-000001", "type": "attributed_to", "from": "ann-span-1", "to": "bob-span-1"}]}]}), mode="error")
@example(content=json.dumps({"id": "new-one", "text": EXISTING_TEXT, "annotations": [
    {"annotator": "ann", "labels": [{"sentence": 0, "label": "CFS", "origin": "suggested", "suggester": "claims", "suggester_version": "3"}],
     "spans": [{"id": "s-000001", "label": "QUOTE", "start": 7, "end": 11, "origin": "suggested", "suggester": "attribution", "suggester_version": "1.0"}]}],
    "suggestions": {"labels": [{"sentence": 1, "label": "NFS", "score": 0.5, "suggester": "claims", "suggester_version": "3"}],
                    "spans": [{"id": "s-000001", "label": "QUOTE", "start": 7, "end": 11, "score": 1, "suggester": "m", "suggester_version": ""},
                              {"id": "s-000002", "label": "SOURCE", "start": 0, "end": 6, "score": 0, "suggester": "m", "suggester_version": "2"}],
                    "relations": [{"id": "r-1", "type": "attributed_to", "from": "s-000001", "to": "s-000002", "score": 0.5, "suggester": "m",
                                   "suggester_version": "2"}]}}), mode="error")
def test_import_annotations_never_crashes_or_half_writes(app, runner, annotated_project, workdir, content: str, mode: str):
    path = write_file(workdir, ".jsonl", content.encode("utf-8", "surrogatepass"))
    before = row_counts(app)
    result = runner.invoke(args=["import-annotations", annotated_project, str(path), "--on-duplicate", mode])
    check_annotation_import(app, result, path, before)


def test_a_relation_to_another_annotators_span_is_refused(app, runner, annotated_project, workdir):
    content = json.dumps({"id": "existing", "text": EXISTING_TEXT, "annotations": [
        {"annotator": "bob", "spans": [{"id": "bob-span-1", "label": "SOURCE", "start": 0, "end": 6}]},
        {"annotator": "ann", "spans": [{"id": "ann-span-1", "label": "QUOTE", "start": 7, "end": 11}],
         "relations": [{"id": "r-000001", "type": "attributed_to", "from": "ann-span-1", "to": "bob-span-1"}]}]})
    path = write_file(workdir, ".jsonl", content.encode())
    before = row_counts(app)
    result = runner.invoke(args=["import-annotations", annotated_project, str(path)])
    check_annotation_import(app, result, path, before)
    assert result.exit_code == 1 and "bob-span-1" in result.output


_foreign = st.one_of(
    _json.map(_dump),
    st.lists(st.fixed_dictionaries({"data": st.one_of(st.fixed_dictionaries({"text": _texts}), _json)},
                                   optional={"id": _scalars, "annotations": _json, "predictions": _json}), max_size=3).map(_dump),
    st.lists(st.fixed_dictionaries({"text": _texts}, optional={"label": st.one_of(_json, st.lists(st.tuples(_offsets, _offsets, st.sampled_from(LABELS)), max_size=3))})
             .map(_dump), max_size=3).map("\n".join),
    st.lists(st.fixed_dictionaries(  # Label Studio JSON_MIN: flat records, one per annotation
        {"text": st.one_of(st.just(EXISTING_TEXT), _texts), "id": st.sampled_from([1, 2, "x", None, True])},
        optional={"label": st.one_of(_json, st.lists(st.fixed_dictionaries({"start": _offsets, "end": _offsets, "labels": st.lists(st.sampled_from(LABELS), max_size=2)},
                                                                             optional={"text": st.text(max_size=5)}), max_size=3)),
                  "stance": st.one_of(_scalars, st.fixed_dictionaries({"choices": _json})), "annotator": st.sampled_from([1, "7", "a@b.c", "a b", None, True, 2.5]),
                  "annotation_id": _scalars, "lead_time": _scalars}), max_size=3).map(_dump),
    st.text(max_size=60),
)


@FUZZ
@given(fmt=st.sampled_from(["label-studio", "label-studio-min", "doccano"]), content=_foreign, match_by=st.sampled_from(["id", "text"]))
@example(fmt="label-studio", content="[" + "1" * 5000 + "]", match_by="id")
@example(fmt="label-studio", content='{"data": {"text": "A."}, "meta": NaN}', match_by="id")
@example(fmt="label-studio", content="[" * 50_000, match_by="id")
@example(fmt="doccano", content='{"text": "A.", "label": [[0, 1e400, "QUOTE"]]}', match_by="id")
@example(fmt="doccano", content="\n".join([json.dumps({"id": "e", "text": EXISTING_TEXT, "entities": [[0, 6, "SOURCE"]]})] * 2), match_by="text")
@example(fmt="label-studio-min", content=json.dumps([{"text": EXISTING_TEXT, "id": 1, "label": [{"start": 0, "end": 6, "labels": ["SOURCE"]}],
                                                      "annotator": 1, "annotation_id": 2}]), match_by="text")
def test_foreign_imports_never_crash_or_half_write(app, runner, annotated_project, workdir, fmt: str, content: str, match_by: str):
    path = write_file(workdir, ".json" if fmt.startswith("label-studio") else ".jsonl", content.encode("utf-8", "surrogatepass"))
    before = row_counts(app)
    args = ["import-annotations", annotated_project, str(path), "--format", fmt, "--as", "ls_user", "--match-by", match_by]
    result = runner.invoke(args=args)
    check_annotation_import(app, result, path, before)


_citron_span = st.one_of(st.fixed_dictionaries({"start": _offsets, "end": _offsets}, optional={"text": _texts}), _json)
_citron = st.lists(
    st.fixed_dictionaries({"text": _texts}, optional={
        "id": _scalars, "annotator": st.one_of(st.sampled_from(["ann", "bob", "", "no such name!"]), _scalars),
        "quotes": st.one_of(_json, st.lists(st.fixed_dictionaries({}, optional={
            "cue": st.one_of(st.none(), _citron_span), "sources": st.one_of(st.lists(_citron_span, max_size=2), _json),
            "contents": st.one_of(st.lists(_citron_span, max_size=2), _json), "coreferences": _json}), max_size=3)),
        "coreference_groups": _json, "meta": _json}),
    max_size=3,
).map(lambda docs: "\n".join(map(_dump, docs)))


@FUZZ
@given(content=st.one_of(_citron, _foreign), pseudo=st.sampled_from([[], ["--as", "ls_user"]]))
@example(content=json.dumps({"id": "existing", "text": EXISTING_TEXT, "annotator": "ann", "quotes": []}), pseudo=[])
@example(content=json.dumps({"text": "A.", "quotes": [{"cue": {"start": 0, "end": 1}}], "coreference_groups": 5}), pseudo=[])
def test_citron_imports_never_crash_or_half_write(app, runner, annotated_project, workdir, content: str, pseudo: list[str]):
    path = write_file(workdir, ".jsonl", content.encode("utf-8", "surrogatepass"))
    before = row_counts(app)
    result = runner.invoke(args=["import-annotations", annotated_project, str(path), "--format", "citron", *pseudo])
    check_annotation_import(app, result, path, before)


# ----------------------------------------------------------------- admin upload
@pytest.fixture
def admin_browser(app, project):
    from .conftest import Browser, add_user

    add_user(app, "root", "admin")
    browser = Browser(app.test_client())
    assert browser.login("root", "correct horse").status_code == 302
    with app.app_context():
        project_id = projects.get_project(db.session, project).id
    return browser, project_id


@FUZZ
@given(file=_files)
@example(file=(".jsonl", HOSTILE_JSONL[0]))
@example(file=(".jsonl", HOSTILE_JSONL[2]))
@example(file=(".jsonl", HOSTILE_JSONL[3]))
@example(file=(".jsonl", b'{"id": "again", "text": "Stored once."}'))
@example(file=(".jsonl", b'{"id": "again", "text": "Stored once."}\n'))  # the same id: refused by the store, a 422
def test_admin_upload_never_500s_or_half_writes(app, admin_browser, file):
    browser, project_id = admin_browser
    suffix, data = file
    name = f"up{next(_counter)}{suffix}"
    before = row_counts(app)
    response = browser.post(f"/admin/projects/{project_id}/upload",
                            {"files": [(io.BytesIO(data), name)], "on_duplicate": "error"}, content_type="multipart/form-data")
    page = response.get_data(as_text=True)
    assert response.status_code < 500, page[-1000:]
    after = row_counts(app)
    try:
        expected = read_bytes(data, name)
    except IngestError as exc:
        assert after == before, "a rejected upload changed the database"
        assert str(escape(str(exc))) in page, f"the reason {exc} is not shown"
        return
    except Exception as exc:  # the parser itself must not fail another way
        pytest.fail(f"read_bytes raised {exc!r} instead of IngestError")
    grew = after["articles"] - before["articles"]
    assert grew in (0, len(expected)), (grew, len(expected))
    if grew == 0:  # refused by the store (e.g. an id an earlier example stored), with its reason: the only file, so a 422
        assert response.status_code == 422 and after == before and name in page, response.status_code
    else:
        assert response.status_code == 200
    check_articles(app)


def test_admin_upload_of_a_csv_with_an_unterminated_quote_names_the_line(app, admin_browser):
    browser, project_id = admin_browser
    before = row_counts(app)
    response = browser.post(f"/admin/projects/{project_id}/upload", {"files": [(io.BytesIO(UNCLOSED_CSV), "quotes.csv")], "on_duplicate": "error"},
                            content_type="multipart/form-data")
    assert response.status_code == 422  # its one file refused
    assert "quotes.csv:3: a quoted field opened on this line is never closed" in response.get_data(as_text=True)
    assert row_counts(app) == before


# ----------------------------------------------------------------- bodies over the configured limit
LIMIT = 64 * 1024


@pytest.fixture
def small_limit_app(database_uri):
    app = make_app(database_uri, MAX_CONTENT_LENGTH=LIMIT)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@settings(parent=FUZZ, max_examples=min(FUZZ.max_examples, 20))
@given(raw=st.binary(max_size=200), target=st.sampled_from(["PUT labels/0", "POST spans", "POST relations", "PATCH spans/x-secret-1"]))
def test_api_raw_bytes_are_400_json(app, raw: bytes, target: str):
    """Bytes that are not UTF-8 JSON (the API engineer's property test sends JSON values; these are below that)."""
    world = _api_world(app)
    method, tail = target.split()
    before = row_counts(app)
    response = app.test_client().open(f"/api/articles/{world.article_a}/{tail}", method=method, data=raw, content_type="application/json",
                                      headers={"Authorization": f"Bearer {world.tokens['annotator']}"})
    assert response.status_code < 500 and response.is_json and response.get_json()["error"]
    if response.status_code >= 400:
        assert row_counts(app) == before



def _chunked(base_url: str, method: str, path: str, token: str, content_type: str, body: bytes, as_json: bool = True) -> tuple[int, Any]:
    """Send the body with Transfer-Encoding: chunked (no Content-Length), as a streaming client or a proxy that does
    not buffer does, to a real server; (status, JSON answer, or the page's text)."""
    host, port = base_url.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=60)
    try:
        pieces = (body[i:i + 8192] for i in range(0, len(body), 8192))
        connection.request(method, path, body=pieces, encode_chunked=True,
                           headers={"Authorization": f"Bearer {token}", "Content-Type": content_type})
        response = connection.getresponse()
        answer = response.read()
        return response.status, json.loads(answer) if as_json else answer.decode()
    finally:
        connection.close()


def test_a_chunked_body_over_the_limit_is_a_413_never_cut_short(small_limit_app):
    """A body sent without a Content-Length is read up to the limit; werkzeug's reader stopped there silently, so a
    JSONL body twice the limit stored its first half (the cut fell between two lines) and answered 201, and a label
    save padded past the API's limit was saved. Over the limit is a 413 with nothing stored, as with a Content-Length."""
    app = small_limit_app
    world: World = seed(app)
    line = '{{"id": "c{:05d}", "text": "{}"}}\n'
    lines = [line.format(i, "Word. " * 100) for i in range(2 * LIMIT // 700)]
    lines = [row.replace("Word. ", "Word. " + "x" * (1024 - len(row)), 1) for row in lines]  # 1024 bytes each:
    assert {len(row) for row in lines} == {1024} and LIMIT % 1024 == 0  # the limit falls between two lines
    before = row_counts(app)
    with serving(app) as url:
        status, answer = _chunked(url, "POST", f"/api/projects/{world.project}/articles", world.tokens["admin"],
                                  "application/x-ndjson", "".join(lines).encode())
        assert status == 413 and "larger than" in answer.get("error", ""), (status, str(answer)[:200])
        assert row_counts(app) == before
        padded = b'{"label": "UFS"}' + b" " * (20 * 1024)  # valid JSON, over the annotation API's 16 KiB
        status, answer = _chunked(url, "PUT", f"/api/articles/{world.article_a}/labels/1", world.tokens["annotator"],
                                  "application/json", padded)
        assert status == 413 and "larger than" in answer.get("error", ""), (status, answer)
        assert row_counts(app) == before
        # under the limit, the same way, is stored
        status, answer = _chunked(url, "POST", f"/api/projects/{world.project}/articles", world.tokens["admin"],
                                  "application/x-ndjson", "".join(lines[:3]).encode())
        assert status == 201 and answer["created"] == ["c00000", "c00001", "c00002"], answer


def test_a_chunked_form_is_checked_for_text_that_is_not_utf8_like_any_form(app):
    """A form body sent without a Content-Length skipped the check of its raw bytes, and werkzeug keeps a byte that is
    not UTF-8 as its percent escape: a project named "Caf%E9" was stored. It is a 400 naming the field, as it is with
    a Content-Length, and nothing is stored."""
    world: World = seed(app)
    before = row_counts(app)
    form = b"name=Caf%E9&schema_source=preset&preset=claims&annotators_per_article=1&majority_threshold=1"
    with serving(app) as url:
        status, page = _chunked(url, "POST", "/admin/projects/new", world.tokens["admin"], "application/x-www-form-urlencoded", form, as_json=False)
        assert status == 400 and "form field &#39;name&#39; is not valid UTF-8 text" in page, (status, page[-600:])
        assert row_counts(app) == before
        status, _ = _chunked(url, "POST", "/admin/projects/new", world.tokens["admin"], "application/x-www-form-urlencoded",
                             form.replace(b"Caf%E9", b"Caf%C3%A9"), as_json=False)
        assert status == 302  # the same form in UTF-8 makes the project
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Project).where(Project.name == "Café")) == 1


@contextlib.contextmanager
def _form_without_a_length(app, body: bytes) -> Any:
    """A request context for a form POST whose body comes without a Content-Length, as a chunked one does."""
    with app.test_request_context("/admin/projects/new", method="POST", input_stream=io.BytesIO(body),
                                  content_type="application/x-www-form-urlencoded", environ_base={"wsgi.input_terminated": True}):
        flask.request.environ.pop("CONTENT_LENGTH", None)
        yield


def test_a_chunked_form_past_the_form_limit_is_a_413_and_never_held_whole(app):
    """A form with a Content-Length past werkzeug's limit for a form held in memory (max_form_memory_size, 500 kB) is a
    413; one sent without a length (chunked) was read whole, up to the upload limit (32 MiB), and parsed: an 8 MiB body
    took 40 MiB at its peak (here 4 MiB, 20 MiB). It is read a piece at a time and refused at the same limit; a form
    within it is read as before."""
    size = 4 * 1024 * 1024
    body = b"name=Caf%C3%A9&text=" + b"x" * size
    with _form_without_a_length(app, body):
        assert flask.request.content_length is None and flask.request.max_content_length > size
        tracemalloc.start()
        try:
            with pytest.raises(RequestEntityTooLarge):
                inputs.input_problem()
                flask.request.form  # noqa: B018  (what the view would read)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < size / 4, f"{peak / 2**20:.1f} MiB at the peak for a {size / 2**20:.0f} MiB body"
    within = b"name=Caf%C3%A9&text=" + b"x" * 400_000 + b"&more=%E2%98%95"
    with _form_without_a_length(app, within):
        assert inputs.input_problem() is None
        assert flask.request.form.to_dict() == {"name": "Café", "text": "x" * 400_000, "more": "☕"}
    world: World = seed(app)
    before = row_counts(app)
    form = b"name=Big&schema_source=preset&preset=claims&annotators_per_article=1&majority_threshold=1&pad=" + b"x" * 600_000
    with serving(app) as url:
        status, page = _chunked(url, "POST", "/admin/projects/new", world.tokens["admin"], "application/x-www-form-urlencoded", form, as_json=False)
    assert status == 413 and "The form is larger than the limit of 500 kB for a form&#39;s fields" in page, (status, page[-600:])
    assert row_counts(app) == before
    # with a Content-Length, the same answer (it named the upload limit, 32 MB, for a form refused at 500 kB)
    page = app.test_client().post("/admin/projects/new", data=form, content_type="application/x-www-form-urlencoded",
                                  headers={"Authorization": f"Bearer {world.tokens['admin']}"})
    assert page.status_code == 413 and "The form is larger than the limit of 500 kB" in page.get_data(as_text=True)
    assert row_counts(app) == before


@pytest.mark.parametrize("chunked", [False, True])
def test_a_json_body_sent_to_a_page_is_held_to_a_forms_limit(app, chunked):
    """A JSON body to a page is read as a form (Flask-WTF), but was read up to the upload limit (32 MiB) and parsed
    whole: 2 MiB of "[[],[],...]" took 90 MiB, sent to /login by anyone with its CSRF token (32 MiB: 1.4 GiB). Past the
    form limit (500 kB) it is a 413 as an urlencoded form is, before anything parses it."""
    body = b"[" + b"[]," * (2 * 2**20 // 3) + b"[]]"
    environ = {"wsgi.input_terminated": True} if chunked else {}
    with app.test_request_context("/login", method="POST", input_stream=io.BytesIO(body), content_type="application/json",
                                  content_length=len(body), environ_base=environ):
        if chunked:
            flask.request.environ.pop("CONTENT_LENGTH", None)
        tracemalloc.start()
        try:
            with pytest.raises(RequestEntityTooLarge):
                inputs.json_to_pages_is_form_like()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert peak < 4 * 2**20, f"{peak / 2**20:.1f} MiB at the peak for a {len(body) / 2**20:.0f} MiB body"
    browser = Browser(app.test_client())
    response = browser.client.post("/login", data=body, content_type="application/json", headers={"X-CSRFToken": browser.csrf()})
    assert response.status_code == 413 and "The form is larger than the limit of 500 kB" in response.get_json()["error"]
    # within the limit, the guidelines' preview (the one page that takes JSON) still renders its most, 200,000 characters
    world: World = seed(app)
    admin = caller(app, world, "admin")
    response = admin.send_json("POST", f"/admin/projects/{world.project}/guidelines/preview", {"text": "x" * 199_999 + "é"})
    assert response.status_code == 200 and "é" in response.get_json()["html"]


NAMED = "form field 'name'"
FORM_BODIES = [
    (b"name=Caf%C3%A9&text=%E2%98%95+ok", None), ("name=Café&text=☕".encode(), None), (b"e=%F0%9F%98%80&x=%C3%A9%", None),
    (b"&&a=b=c&=&%=%%zz&x", None),
    (b"name=Caf%E9", f"{NAMED} is not valid UTF-8 text"), (b"name=Caf\xe9", f"{NAMED} is not valid UTF-8 text"),
    (b"name=%E2%98&y=%95", f"{NAMED} is not valid UTF-8 text"), (b"name=%ED%A0%80", f"{NAMED} is not valid UTF-8 text"),
    (b"name=ab%00cd", f"{NAMED} contains a NUL character"), (b"a%ff=1", "a form field name is not valid UTF-8"),
    (b"ok=1&a%00b=1", "form field 'a\\x00b' contains a NUL character"),
]


@pytest.mark.parametrize("body, expected", FORM_BODIES)
def test_the_urlencoded_check_reads_a_body_cut_anywhere(body, expected):
    """The check of a form body is fed a piece at a time (inputs._FormFieldsCheck): an escape ("%E9") or a character's
    bytes split between two pieces are still read as one, and the answer is the same however the body is cut."""
    for pieces in ([body], [body[i:i + 1] for i in range(len(body))], [body[:len(body) // 2], body[len(body) // 2:]],
                   [body[i:i + 2] for i in range(0, len(body), 2)]):
        check = inputs._FormFieldsCheck("form field")
        found = next((reason for piece in pieces if (reason := check.feed(piece))), None) or check.feed(b"", final=True)
        assert found == expected, (pieces[:4], found)


def _multipart(fields: dict[str, bytes], boundary: bytes = b"XX") -> bytes:
    parts = [b'--%s\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (boundary, name.encode(), value) for name, value in fields.items()]
    return b"".join(parts) + b"--%s--\r\n" % boundary


def test_a_multipart_field_that_is_not_utf8_is_a_400_not_a_replacement_character(app):
    """Werkzeug's multipart parser decodes a field's bytes that are not UTF-8 to U+FFFD, so the project form (multipart:
    it takes a schema file) stored a project named "Caf\ufffd" from "Caf\xe9". It is a 400 naming the field, as in a
    urlencoded form, and nothing is stored; the same form in UTF-8 makes the project."""
    world: World = seed(app)
    client = app.test_client()
    headers = {"Authorization": f"Bearer {world.tokens['admin']}"}
    form = {"name": b"Caf\xe9", "schema_source": b"preset", "preset": b"claims", "annotators_per_article": b"1", "majority_threshold": b"1"}
    before = row_counts(app)
    response = client.post("/admin/projects/new", data=_multipart(form), content_type="multipart/form-data; boundary=XX", headers=headers)
    assert response.status_code == 400 and "form field &#39;name&#39; is not valid UTF-8 text" in response.get_data(as_text=True)
    assert row_counts(app) == before
    response = client.post("/admin/projects/new", data=_multipart({**form, "name": "Café".encode()}), content_type="multipart/form-data; boundary=XX",
                           headers=headers)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Project.name).where(Project.id != world.project)) == "Café"
    # an upload whose file name is not UTF-8 (a .txt file's name is its article's id): said, not an empty form
    before = row_counts(app)
    body = (b'--XX\r\nContent-Disposition: form-data; name="files"; filename="caf\xe9.txt"\r\n\r\nTitle\nBody.\r\n'
            + _multipart({"on_duplicate": b"error"}))
    response = client.post(f"/admin/projects/{world.project}/upload", data=body, content_type="multipart/form-data; boundary=XX", headers=headers)
    assert response.status_code == 400 and "a form field&#39;s name or a file&#39;s name is not valid UTF-8 text" in response.get_data(as_text=True)
    assert row_counts(app) == before

@pytest.mark.parametrize("charset", ["latin-1", "utf_8", "utf-16", "windows-1252", "ascii", "US-ASCII"])
def test_a_multipart_field_in_a_charset_the_parser_does_not_honour_is_checked_as_it_will_be_read(app, charset):
    """The raw check read a field as UTF-8 only when its part said charset=utf-8 (or none); werkzeug's parser honours
    ascii, us-ascii and iso-8859-1 only and reads any other charset as UTF-8, both with U+FFFD in place of what does not
    decode: `name` sent as 'Caf\\xe9' with charset=latin-1 (or utf_8, utf-16, ascii ...) made a project 'Caf\\ufffd'.
    The check now reads each field as the parser will: a 400 naming the field, nothing stored."""
    world: World = seed(app)
    headers = {"Authorization": f"Bearer {world.tokens['admin']}"}
    body = (b'--XX\r\nContent-Disposition: form-data; name="name"\r\nContent-Type: text/plain; charset=' + charset.encode()
            + b"\r\n\r\nCaf\xe9\r\n" + _multipart({"schema_source": b"preset", "preset": b"claims", "annotators_per_article": b"1",
                                                      "majority_threshold": b"1"}))
    before = row_counts(app)
    response = app.test_client().post("/admin/projects/new", data=body, content_type="multipart/form-data; boundary=XX", headers=headers)
    assert response.status_code == 400 and "form field &#39;name&#39; is not valid" in response.get_data(as_text=True), response.status_code
    assert row_counts(app) == before


def test_a_multipart_field_in_iso_8859_1_is_read_in_it(app):
    """The one 8-bit charset the parser honours: 'Caf\\xe9' with charset=iso-8859-1 is 'Café', as sent."""
    world: World = seed(app)
    headers = {"Authorization": f"Bearer {world.tokens['admin']}"}
    body = (b'--XX\r\nContent-Disposition: form-data; name="name"\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n\r\nCaf\xe9\r\n'
            + _multipart({"schema_source": b"preset", "preset": b"claims", "annotators_per_article": b"1", "majority_threshold": b"1"}))
    response = app.test_client().post("/admin/projects/new", data=body, content_type="multipart/form-data; boundary=XX", headers=headers)
    assert response.status_code == 302
    with app.app_context():
        assert db.session.scalar(select(Project.name).where(Project.id != world.project)) == "Café"


@pytest.mark.parametrize("value, refused", [("Café ☕ naïve".encode(), False), (b"Caf\xe9", True), ("ok".encode() + b"\xc3", True)])
def test_the_raw_multipart_check_reads_a_field_split_anywhere(value, refused):
    """The raw check reads the body a piece at a time: a character whose bytes fall in two pieces is still one
    character (not refused), and bytes that are not UTF-8 are refused however the body is cut (here a byte a piece)."""
    body = _multipart({"name": value, "preset": b"claims"})
    for pieces in ([body], [body[i:i + 1] for i in range(len(body))], [body[:len(body) // 2], body[len(body) // 2:]]):
        reason = inputs._multipart_raw_problem(iter(pieces), "XX")
        assert (reason == "form field 'name' is not valid UTF-8 text") if refused else reason is None, (pieces[:3], reason)


def test_a_multipart_body_at_the_limit_is_not_held_in_memory_by_the_raw_check(app):
    """The raw check read the whole body into memory (get_data) and gave its decoder a copy: a 16 MiB upload took
    64 MiB at its peak, against 0.7 MiB for werkzeug's parser alone, which spools files to disk. The check now reads
    the body a piece at a time and hands the parser its own spooled copy; the form it parses is the same."""
    size = 16 * 1024 * 1024
    line = b'{"id": "x", "text": "Hello there."}\n'
    body = (b'--XX\r\nContent-Disposition: form-data; name="files"; filename="a.jsonl"\r\n\r\n' + line * (size // len(line))
            + b"\r\n" + _multipart({"name": "Café".encode()}))
    app.config["MAX_CONTENT_LENGTH"] = len(body)
    with app.test_request_context("/admin/projects/1/upload", method="POST", input_stream=io.BytesIO(body),
                                  content_type="multipart/form-data; boundary=XX", content_length=len(body)):
        tracemalloc.start()
        try:
            assert inputs.input_problem() is None
            form, files = flask.request.form, flask.request.files
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert form["name"] == "Café" and len(files["files"].read()) == len(line) * (size // len(line))
    assert peak < size / 8, f"{peak / 2**20:.1f} MiB at the peak for a {size / 2**20:.0f} MiB body"


def _api_world(app) -> World:
    cached = app.config.get("_fuzz_world")  # one seed per test, reused across examples
    if cached is None:
        cached = app.config["_fuzz_world"] = seed(app)
    return cached


# ----------------------------------------------------------------- hostile bodies on every state-changing route
HOSTILE_BODIES = [
    ("application/json", b"[" * 5_000 + b"]" * 5_000),  # deeper than the parser recurses, under the 64 KiB limit
    ("application/json", b'{"label": ' + b"1" * 5000 + b"}"),
    ("application/json", b'{"label": NaN, "start": Infinity, "end": 1e400}'),
    ("application/json", b"\xff\xfe\x00{"),
    ("application/json", b'"\\ud800"'),
    ("application/json", b"null"),
    ("application/x-www-form-urlencoded", b"name=%ff%fe&text=%00&position=-99999999999999999999&sentence_id=abc&annotators=x&annotators=99999999999999"),
    ("multipart/form-data; boundary=xyz", b"--xyz\r\nContent-Disposition: form-data; name=\"files\"; filename=\"a.jsonl\"\r\n\r\n\xff\r\n--x"),
    ("text/plain", b"\x00" * 100),
]


@pytest.mark.parametrize("case", WRITE_CASES, ids=lambda c: c.id)
def test_hostile_and_oversized_bodies_on_every_state_changing_route(small_limit_app, case: Case):
    """Whatever the body, as a caller the route allows with a valid CSRF token: a 4xx with nothing written, or a
    success; never a 5xx (an anonymous visitor could otherwise crash /login with one request). A body over the
    configured MAX_CONTENT_LENGTH is a 413 that says so (JSON under /api and for JSON callers)."""
    app = small_limit_app
    world: World = seed(app)
    path = url_for_rule(find_rule(app, case), world)
    public, roles = access_of(app, case.endpoint)
    role = "anonymous" if public else next(r for r in ("annotator", "reviewer", "admin") if not roles or r in roles)
    browser = caller(app, world, role)
    problems = []
    for content_type, data in HOSTILE_BODIES:
        before = row_counts(app)
        before.pop("cache_entries")  # derived figures a page may cache while showing itself: not the request's write
        response = browser.client.open(path, method=case.method, data=data, content_type=content_type,
                                       headers={"X-CSRFToken": browser.csrf()})
        response.get_data()
        if response.status_code >= 500:
            problems.append(f"{content_type} {data[:40]!r}: {response.status_code}")
        elif response.status_code >= 400 and {k: v for k, v in row_counts(app).items() if k != "cache_entries"} != before:
            problems.append(f"{content_type} {data[:40]!r}: refused ({response.status_code}) but wrote")
        elif path.startswith("/api/") and response.status_code >= 400 and not (response.is_json and response.get_json().get("error")):
            problems.append(f"{content_type} {data[:40]!r}: {response.status_code} without a JSON error")
    assert not problems, f"{case.method} {path} as {role}:\n  " + "\n  ".join(problems)

    # over the limit
    before = row_counts(app)
    big = "x" * (LIMIT + 1024)
    if path.startswith("/api/"):
        response = browser.send_json(case.method, path, {"label": "CFS", "pad": big})
    else:
        response = browser.client.open(path, method=case.method, data={"csrf_token": browser.csrf(), "text": big},
                                       headers={"X-CSRFToken": browser.csrf()})
    body = response.get_data(as_text=True)
    assert response.status_code == 413, f"{case.method} {path}: {response.status_code} {body[:200]}"
    if path.startswith("/api/") or response.is_json:
        assert response.get_json()["status"] == 413 and "larger than" in response.get_json()["error"]
    else:
        assert "larger than the limit" in body, body[:500]
    assert row_counts(app) == before
    # asked for JSON (fetch() from a page), the refusal is JSON too
    response = browser.client.open(path, method=case.method, data=big.encode(), content_type="application/json",
                                   headers={"X-CSRFToken": browser.csrf(), "Accept": "application/json"})
    assert response.status_code == 413 and response.is_json and response.get_json()["status"] == 413, response.get_data(as_text=True)[:200]

"""One strict JSON parser for request bodies, article files and label schemas (annotator.stats.strict_json),
and each caller's own message for what it refuses."""
from __future__ import annotations

import json

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from annotator.domain import labelschema
from annotator.stats import strict_json, textcheck

NOT_JSON = [
    ('{"x": NaN}', "NaN is not a JSON value"),
    ('{"x": -Infinity}', "-Infinity is not a JSON value"),
    ("[Infinity]", "Infinity is not a JSON value"),
    ('{"x": 1e400}', "the number 1e400 is out of range"),
    ('{"x": -1.5e999}', "the number -1.5e999 is out of range"),
    ('{"x": ' + "7" * 5000 + "}", "a number has too many digits"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"cats": {"X": 1, "X": 0}}', 'the key "X" is given twice in one object'),
    ('[{"a": 1}, {"b": 2, "c": 3, "b": 2}]', 'the key "b" is given twice in one object'),
]


@pytest.mark.parametrize(("text", "reason"), NOT_JSON)
def test_what_python_reads_but_json_does_not_have_is_refused_with_a_reason(text, reason):
    with pytest.raises(strict_json.NotJson) as refused:
        strict_json.loads(text)
    assert str(refused.value) == reason
    with pytest.raises(strict_json.NotJson):
        strict_json.loads(text.encode("utf-8"))


def test_nesting_is_limited_to_max_depth_the_same_for_loads_and_the_stream_decoder():
    """A fixed limit, not the stack's: a document the parser read at the door could be too deep for a later step with
    more frames below it (the JSON column's serializer in an INSERT was a 500)."""
    deepest = "[" * strict_json.MAX_DEPTH + "]" * strict_json.MAX_DEPTH
    assert strict_json.loads(deepest) == json.loads(deepest)
    assert strict_json.loads('{"a": ' + deepest[1:-1] + "}") == json.loads('{"a": ' + deepest[1:-1] + "}")
    for text in ("[" + deepest + "]", '{"a": {"b": ' + deepest[1:-1] + "}}", '[[], {"x": [1, ' + deepest + "]}]"):
        with pytest.raises(strict_json.NotJson, match="nested too deeply"):
            strict_json.loads(text)
        with pytest.raises(strict_json.NotJson, match="nested too deeply"):
            strict_json.decoder().raw_decode("  " + text + ", 1", 2)
    wide = "[" + ", ".join(["[[1]]"] * 1000) + "]"  # many brackets, but three levels
    assert strict_json.loads(wide) == json.loads(wide)


def test_syntax_errors_stay_json_decode_errors_with_line_and_column():
    with pytest.raises(json.JSONDecodeError) as refused:
        strict_json.loads('{"a": 1,\n "b": }')
    assert (refused.value.lineno, refused.value.colno) == (2, 7)
    with pytest.raises(json.JSONDecodeError, match="Unexpected UTF-8 BOM"):
        strict_json.loads('\ufeff{"a": 1}')


def test_valid_json_reads_as_json_loads_reads_it_str_or_bytes():
    text = '{"a": [1, 2.5, -0.0, 1e308, true, null, "caf\\u00e9 \\ud83d\\ude00"], "b": {"c": ""}}'
    assert strict_json.loads(text) == json.loads(text)
    assert strict_json.loads(text.encode("utf-16")) == json.loads(text)  # bytes: the encoding found as json.loads finds it


@pytest.mark.parametrize(("text", "reason"), [
    ('{"label": "a\\u0000b"}', "label contains a NUL character"),
    ('{"spans": [{"text": "\\ud800"}]}', "spans[0].text contains an unpaired surrogate"),
    ('{"\\udfff": 1}', "a field name contains an unpaired surrogate"),
])
def test_storable_refuses_text_no_database_stores_and_says_where(text, reason):
    assert strict_json.loads(text) is not None  # valid JSON all the same
    with pytest.raises(strict_json.UnstorableText, match=reason.replace("[", r"\[").replace("]", r"\]")):
        strict_json.loads(text, storable=True)


def test_the_stream_decoder_has_the_same_rules():
    decoder = strict_json.decoder()
    assert decoder.raw_decode('[1, {"a": 2.5}] tail') == ([1, {"a": 2.5}], 15)
    with pytest.raises(strict_json.NotJson, match="NaN"):
        decoder.raw_decode("[NaN]")
    with pytest.raises(strict_json.NotJson, match="out of range"):
        decoder.raw_decode("[1e400]")


def test_label_schemas_refuse_nan_like_every_other_json():
    schema = json.dumps(labelschema.preset(labelschema.DEFAULT_PRESET))
    assert labelschema.loads(schema)
    for bad, reason in (('{"sentence_labels": NaN}', "NaN is not a JSON value"), ('{"x": 1e999}', "the number 1e999 is out of range")):
        with pytest.raises(labelschema.SchemaError) as refused:
            labelschema.loads(bad)
        assert refused.value.problems == [f"not valid JSON: {reason}"]


_TEXT = st.text(alphabet=st.sampled_from(["a", "é", "“", "\x00", "\x01", "\ud800", "\udfff", "\U0001f600", "\\", '"', "u"]), max_size=6)
_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | _TEXT,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_TEXT, children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=400, deadline=None)
@given(value=_VALUES, ascii_only=st.booleans(), as_bytes=st.booleans())
@example(value={"\ud800\udfff": None}, ascii_only=True, as_bytes=False)  # an escaped pair reads as one character (CI found it)
def test_storable_refuses_exactly_what_a_walk_of_every_string_finds(value, ascii_only, as_bytes):
    """loads(storable=True) skips the walk when the text can hold no NUL or lone surrogate (no \\u escape, no
    surrogate in the text): it must refuse exactly the documents the walk refuses, written either way, str or bytes."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    document = text.encode("utf-8", "surrogatepass") if as_bytes else text
    parsed = json.loads(text)  # not always `value`: an escaped surrogate pair reads as the one character it encodes
    expected = textcheck.find_problem(parsed)
    if expected is None:
        assert strict_json.loads(document, storable=True) == parsed
    else:
        with pytest.raises(strict_json.UnstorableText) as refused:
            strict_json.loads(document, storable=True)
        assert str(refused.value) == expected

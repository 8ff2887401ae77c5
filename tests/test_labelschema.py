"""Label schemas: presets are valid, and every mistake gets a message that says where."""
from __future__ import annotations

import pytest

from annotator import labelschema
from annotator.labelschema import SchemaError


@pytest.mark.parametrize("name", labelschema.PRESET_NAMES)
def test_presets_validate(name):
    schema = labelschema.validate(labelschema.preset(name))
    assert schema["sentence_labels"]
    assert labelschema.names(schema, "span_labels") == ["QUOTE", "SOURCE", "CUE"]


def test_claims_preset_labels_and_keys():
    schema = labelschema.preset("claims")
    assert [(x["name"], x["key"]) for x in schema["sentence_labels"]] == [("CFS", "1"), ("UFS", "2"), ("NFS", "3")]
    assert [(x["name"], x["key"]) for x in schema["span_labels"]] == [("QUOTE", "q"), ("SOURCE", "s"), ("CUE", "c")]
    assert schema["relation_types"][0]["name"] == "attributed_to"


def test_fullfact_has_seven_classes():
    assert len(labelschema.preset("fullfact")["sentence_labels"]) == 7


def test_preset_is_a_copy():
    a = labelschema.preset("claims")
    a["sentence_labels"].clear()
    assert labelschema.preset("claims")["sentence_labels"]


def base():
    return labelschema.preset("claims")


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda s: s.update(colors=[]), r"unknown key\(s\) colors"),
        (lambda s: s["sentence_labels"][0].update(hotkey="x"), r"sentence_labels\[0\]: unknown key\(s\) hotkey"),
        (lambda s: s["sentence_labels"][1].update(name="CFS"), "sentence_labels: duplicate name 'CFS'"),
        (lambda s: s["span_labels"][0].update(key="1"), r"span_labels\[0\] \(QUOTE\): key '1' is already used by CFS"),
        (lambda s: s["span_labels"][0].update(key="j"), "reserved"),
        (lambda s: s["span_labels"][0].update(key="qq"), "single character"),
        (lambda s: s["relation_types"][0].update(to=["SPEAKER"]), r"'to' names unknown span label 'SPEAKER'"),
        (lambda s: s["sentence_labels"][0].update(color="red"), "color must look like"),
        (lambda s: s["sentence_labels"][0].update(name="has space"), "name must be"),
        (lambda s: s.update(sentence_labels=[]), "at least one label"),
        (lambda s: s.update(span_labels={}), "span_labels must be a list"),
    ],
)
def test_invalid_schemas(mutate, message):
    schema = base()
    mutate(schema)
    with pytest.raises(SchemaError, match=message):
        labelschema.validate(schema)


def test_loads_reports_bad_json():
    with pytest.raises(SchemaError, match="not valid JSON"):
        labelschema.loads("{")


def test_defaults_filled():
    schema = labelschema.validate({"sentence_labels": [{"name": "A"}, {"name": "B", "key": "X"}]})
    assert schema["sentence_labels"][0] == {"name": "A", "description": "", "color": "#1f77b4", "key": None}
    assert schema["sentence_labels"][1]["key"] == "x"
    assert schema["span_labels"] == [] and schema["relation_types"] == []


def test_relation_allows():
    schema = base()
    assert labelschema.relation_allows(schema, "attributed_to", "QUOTE", "SOURCE") is None
    assert "cannot start at a SOURCE" in labelschema.relation_allows(schema, "attributed_to", "SOURCE", "SOURCE")
    assert "unknown relation type" in labelschema.relation_allows(schema, "said_by", "QUOTE", "SOURCE")

"""Label schemas: presets are valid, and every mistake gets a message that says where."""
from __future__ import annotations

import pytest

from annotator.domain import labelschema
from annotator.domain.labelschema import SchemaError
from annotator.stats import textcheck


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
        (lambda s: s.update(colors=[]), r"unknown key colors"),
        (lambda s: s["sentence_labels"][0].update(hotkey="x"), r"sentence_labels\[0\]: unknown key hotkey"),
        (lambda s: s["sentence_labels"][1].update(name="CFS"), r'sentence_labels\[1\].name: duplicate name "CFS" \(also sentence_labels\[0\]\)'),
        (lambda s: s["span_labels"][0].update(key="1"), r'span_labels\[0\].key: duplicate key "1" \(also sentence_labels\[0\] \(CFS\)\)'),
        (lambda s: s["span_labels"][0].update(key="j"), "reserved"),
        (lambda s: s["span_labels"][0].update(key="qq"), "single printable character"),
        (lambda s: s["relation_types"][0].update(to=["SPEAKER"]), r'relation_types\[0\].to: names unknown span label "SPEAKER"'),
        (lambda s: s["sentence_labels"][0].update(color="red"), r"sentence_labels\[0\].color: must look like"),
        (lambda s: s["sentence_labels"][0].update(name="has space"), r"sentence_labels\[0\].name: must be"),
        (lambda s: s.update(sentence_labels=[]), "at least one label"),
        (lambda s: s.update(span_labels={}), "span_labels: must be a list"),
    ],
)
def test_invalid_schemas(mutate, message):
    """Messages name the place as a path (section[index].field); updated from the older 'section[i] (NAME):' form."""
    schema = base()
    mutate(schema)
    with pytest.raises(SchemaError, match=message):
        labelschema.validate(schema)


def test_every_problem_is_listed_at_once_with_where_it_is():
    schema = {
        "sentence_labels": [
            {"name": "A", "key": "1"},
            {"name": "B", "key": "2", "color": "blue"},
            {"name": "C", "key": "1"},
            {"name": "A", "key": "3"},
        ],
        "span_labels": [{"name": "Q", "key": "u", "shade": 1}],
        "relation_types": [{"name": "r", "from": ["Q"], "to": ["NOPE"]}],
    }
    with pytest.raises(SchemaError) as caught:
        labelschema.validate(schema)
    problems = caught.value.problems
    assert problems == [
        "sentence_labels[1].color: must look like #1f77b4 (got \"blue\")",
        'sentence_labels[2].key: duplicate key "1" (also sentence_labels[0] (A))',
        'sentence_labels[3].name: duplicate name "A" (also sentence_labels[0])',
        "span_labels[0]: unknown key shade; allowed: color, description, key, name",
        f'span_labels[0].key: "u" is reserved by the annotation page ({labelschema.RESERVED_LIST})',
        'relation_types[0].to: names unknown span label "NOPE"',
    ]
    assert str(caught.value) == "; ".join(problems)  # one line, for the CLI


@pytest.mark.parametrize("key", ["?", "f", "u", "n", "p", "[", "]", "{", "}", "j", "k", "J", "U", "a", "x", "A"])
def test_keys_the_annotation_page_uses_are_refused_with_the_reserved_list(key):
    schema = base()
    schema["sentence_labels"][0]["key"] = key
    with pytest.raises(SchemaError) as caught:
        labelschema.validate(schema)
    message = str(caught.value)
    assert "sentence_labels[0].key" in message and "reserved: ? [ ] a f j k n p u x { }" in message


def test_the_reserved_keys_are_the_page_s_own():
    """Every single-character key annotate.js handles itself is in RESERVED_KEYS (read from the script)."""
    import re

    from tests.conftest import ROOT

    script = (ROOT / "static" / "js" / "annotate.js").read_text(encoding="utf-8")
    handler = script[script.index('document.addEventListener("keydown"'):]
    handler = handler[: handler.index("\n});")]
    used = {k.lower() for k in re.findall(r'key === "(.)"', handler)} | set(re.search(r'"(\[\]\{\})"\.includes\(key\)', handler).group(1))
    assert used <= labelschema.RESERVED_KEYS, used - labelschema.RESERVED_KEYS


def test_a_validated_schema_is_not_validated_again(monkeypatch):
    """The admin page and CLI validate once (loads); create_project then takes the result as it is."""
    checked = labelschema.loads('{"sentence_labels": [{"name": "A"}]}')
    calls = []
    monkeypatch.setattr(labelschema, "_item", lambda *a: calls.append(a))
    assert labelschema.validate(checked) is checked
    assert calls == []
    import copy

    assert type(copy.deepcopy(checked)) is dict  # a copy someone may change is checked again


def test_loads_reports_bad_json():
    with pytest.raises(SchemaError, match="not valid JSON"):
        labelschema.loads("{")


def test_defaults_filled():
    schema = labelschema.validate({"sentence_labels": [{"name": "A"}, {"name": "B", "key": "Y"}]})
    assert schema["sentence_labels"][0] == {"name": "A", "description": "", "color": "#1f77b4", "key": None}
    assert schema["sentence_labels"][1]["key"] == "y"
    assert schema["span_labels"] == [] and schema["relation_types"] == []


def test_relation_allows():
    schema = base()
    assert labelschema.relation_allows(schema, "attributed_to", "QUOTE", "SOURCE") is None
    assert "cannot start at a SOURCE" in labelschema.relation_allows(schema, "attributed_to", "SOURCE", "SOURCE")
    assert "unknown relation type" in labelschema.relation_allows(schema, "said_by", "QUOTE", "SOURCE")


# ----------------------------------------------------------------- article-level labels (issue 18)
def with_groups(*groups):
    schema = base()
    schema["article_labels"] = list(groups)
    return schema


def test_article_label_groups_validate_and_default_to_one_value():
    schema = labelschema.validate(with_groups(
        {"name": "stance", "description": "The article's stance.", "values": ["support", "oppose", "neutral"]},
        {"name": "topics", "values": ["economy", "transport"], "multiple": True},
    ))
    assert schema["article_labels"] == [
        {"name": "stance", "description": "The article's stance.", "values": ["support", "oppose", "neutral"], "multiple": False},
        {"name": "topics", "description": "", "values": ["economy", "transport"], "multiple": True},
    ]
    assert list(labelschema.article_groups(schema)) == ["stance", "topics"]
    assert labelschema.check_article_values(schema, "topics", ["economy", "transport"]) is None
    assert "takes one value, not 2" in labelschema.check_article_values(schema, "stance", ["support", "oppose"])
    assert "has no value 'maybe'" in labelschema.check_article_values(schema, "stance", ["maybe"])
    assert "unknown article label group 'tone'" in labelschema.check_article_values(schema, "tone", ["x"])


def test_a_schema_without_article_labels_is_stored_as_it_was():
    assert "article_labels" not in labelschema.validate(base())
    assert labelschema.article_groups(labelschema.validate(base())) == {}


@pytest.mark.parametrize(
    "groups, message",
    [
        ({}, r"article_labels: must be a list"),
        ([{"name": "stance"}], r"article_labels\[0\].values: must be a non-empty list"),
        ([{"name": "stance", "values": []}], r"article_labels\[0\].values: must be a non-empty list"),
        ([{"name": "stance", "values": ["a", "a"]}], r'article_labels\[0\].values\[1\]: duplicate value "a"'),
        ([{"name": "stance", "values": ["a", 3]}], r"article_labels\[0\].values\[1\]: must be a text of 1-64 characters"),
        ([{"name": "stance", "values": ["a"], "multiple": "yes"}], r"article_labels\[0\].multiple: must be true or false"),
        ([{"name": "stance", "values": ["a"], "key": "s"}], r"article_labels\[0\]: unknown key key"),
        ([{"name": "has space", "values": ["a"]}], r"article_labels\[0\].name: must be"),
        ([{"name": "s", "values": ["a"]}, {"name": "s", "values": ["b"]}], r'article_labels\[1\].name: duplicate name "s" \(also article_labels\[0\]\)'),
        (["stance"], r"article_labels\[0\]: must be an object"),
    ],
)
def test_invalid_article_label_groups(groups, message):
    schema = base()
    schema["article_labels"] = groups
    with pytest.raises(SchemaError, match=message):
        labelschema.validate(schema)


def test_article_labels_through_json_text_as_the_admin_pastes_it():
    text = '{"sentence_labels": [{"name": "CFS"}], "article_labels": [{"name": "stance", "values": ["pro", "con"], "multiple": false}]}'
    assert labelschema.loads(text)["article_labels"][0]["values"] == ["pro", "con"]


@pytest.mark.parametrize("section", ["sentence_labels", "span_labels", "relation_types", "article_labels"])
def test_every_section_checks_an_item_s_object_keys_name_and_description_alike(section):
    """Labels, relation types and article label groups share one check of what they have in common (labelschema._head):
    an article label group's description that was no text said only "must be text", not what it got."""
    fill = {"relation_types": {"from": ["QUOTE"], "to": ["QUOTE"]}, "article_labels": {"values": ["a"]}}.get(section, {})
    items = ["X", {"name": "a", "shade": 1, **fill}, {"name": "has space", **fill}, {"name": "b", "description": 5, **fill},
             {"name": "c", "description": "nul\x00", **fill}, {"name": "a", **fill}]
    schema = {"sentence_labels": [{"name": "S"}], "span_labels": [{"name": "QUOTE"}], section: items}
    with pytest.raises(SchemaError) as caught:
        labelschema.validate(schema)
    allowed = sorted({"name", "description"} | ({"values", "multiple"} if section == "article_labels" else {"color", "key"}) | set(fill))
    got = [problem for problem in caught.value.problems if problem.startswith(section)]
    assert got == [
        f"{section}[0]: must be an object",
        f"{section}[1]: unknown key shade; allowed: {', '.join(allowed)}",
        f"{section}[2].name: must be 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit (got \"has space\")",
        f"{section}[3].description: must be text (got 5)",
        f"{section}[4].description: {textcheck.problem('nul' + chr(0))}",
        f'{section}[5].name: duplicate name "a" (also {section}[1])',
    ]


def test_labels_given_no_colour_take_colours_no_other_label_has():
    """Found in the newcomer walk: each section counted the palette from its start, so a schema's first sentence label,
    first span label and first relation type all came out #1f77b4, and so did a label given that colour itself."""
    schema = labelschema.validate({
        "sentence_labels": [{"name": "CFS"}, {"name": "UFS", "color": "#1F77B4"}, {"name": "NFS"}],
        "span_labels": [{"name": "QUOTE"}, {"name": "SOURCE"}],
        "relation_types": [{"name": "attributed_to", "from": ["QUOTE"], "to": ["SOURCE"]}],
    })
    colours = [item["color"] for section in labelschema.SECTIONS for item in schema[section]]
    assert len(set(colours)) == len(colours) == 6 and colours[1] == "#1f77b4", colours
    many = labelschema.validate({"sentence_labels": [{"name": f"L{i}"} for i in range(12)]})["sentence_labels"]
    assert [x["color"] for x in many] == [*labelschema.PALETTE, *labelschema.PALETTE[:2]]  # more labels than colours

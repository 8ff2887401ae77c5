"""`annotator suggest text [FILE|-]`: attribution suggestions as JSON lines, one per article."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from click.testing import CliRunner

from annotator.cli.suggest import suggest_group
from annotator.stats.attribution import suggest

ARTICLE = "Bridge to reopen\n“We are nearly there,” the engineer said. Dr. Ola Ek said the cost had doubled.\n"


def run(args, input=None):  # noqa: A002
    return CliRunner().invoke(suggest_group, ["text", *args], input=input)


def rows(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines()]


def check_offsets(text: str, row: dict) -> None:
    for s in row["spans"]:
        assert text[s["start"]:s["end"]] == s["text"]
        assert set(s) == {"id", "label", "start", "end", "text", "score"}
    ids = {s["id"] for s in row["spans"]}
    for r in row["relations"]:
        assert set(r) == {"type", "from", "to", "score"} and r["from"] in ids and r["to"] in ids


def test_a_txt_article_gives_one_line_named_after_the_file(tmp_path):
    path = tmp_path / "bridge.txt"
    path.write_bytes(b"\xef\xbb\xbf" + ARTICLE.encode())  # a BOM is dropped, as on import
    result = run([str(path)])
    assert result.exit_code == 0, result.output
    [row] = rows(result.output)
    assert set(row) == {"id", "spans", "relations"} and row["id"] == "bridge"
    check_offsets(ARTICLE, row)
    assert row == {"id": "bridge", **suggest(ARTICLE).to_dict()}
    assert {(s["label"], s["text"]) for s in row["spans"]} >= {("QUOTE", "We are nearly there"), ("SOURCE", "Dr. Ola Ek")}


def test_jsonl_gives_a_line_per_article_in_order_with_code_point_offsets(tmp_path):
    texts = ["🙂 “Fine,” he said.", "No quotes here.", ARTICLE]
    path = tmp_path / "batch.jsonl"
    path.write_text("\n".join(json.dumps({"id": f"n{i}", "text": t}, ensure_ascii=False) for i, t in enumerate(texts)) + "\n\n", encoding="utf-8")
    result = run([str(path)])
    assert result.exit_code == 0, result.output
    out = rows(result.output)
    assert [r["id"] for r in out] == ["n0", "n1", "n2"]
    for text, row in zip(texts, out, strict=True):
        check_offsets(text, row)
    assert out[1]["spans"] == [] and out[1]["relations"] == []
    assert {s["text"] for s in out[0]["spans"]} == {"Fine", "he", "said"}


def test_jsonl_ids_default_to_file_and_line_and_extra_keys_are_ignored(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps({"text": "“Yes,” she said.", "title": "t", "meta": {"a": 1}}) + "\n" + json.dumps({"id": 7, "text": "Hi."}) + "\n")
    out = rows(run([str(path)]).output)
    assert [r["id"] for r in out] == ["x-1", "7"]


@pytest.mark.parametrize("data, expected_id", [(ARTICLE, "stdin"), (json.dumps({"id": "a", "text": ARTICLE}) + "\n", "a")])
def test_stdin_reads_an_article_or_jsonl(data, expected_id):
    result = run(["-"], input=data)
    assert result.exit_code == 0, result.output
    [row] = rows(result.output)
    assert row["id"] == expected_id
    check_offsets(ARTICLE, row)
    assert run([], input=data).output == result.output  # FILE defaults to stdin


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("bad.jsonl", '{"id": "a", "text": "One."}\n{"id": "b", "text": \n', "bad.jsonl:2: invalid JSON: Expecting value (column 21)"),
        ("bad.jsonl", '{"id": "a", "text": "One."}\n\n{"id": "b"}\n', "bad.jsonl:3: missing 'text' (the line has 'id')"),
        ("bad.jsonl", '{"id": "a", "text": 5}\n', "bad.jsonl:1: 'text' must be a string, got int"),
        ("bad.jsonl", '["a"]\n', "bad.jsonl:1: expected a JSON object, got list"),
        ("bad.jsonl", '{"id": null, "text": "x"}\n', "bad.jsonl:1: 'id' must be a string or an integer"),
        ("bad.jsonl", '{"id": "a", "text": "x"}\n{"id": "a", "text": "y"}\n', "bad.jsonl:2: duplicate id 'a' (first on line 1)"),
        ("bad.jsonl", "", "bad.jsonl: no articles in file"),
        ("bad.txt", "   \n", "bad.txt: empty text"),
        ("bad.csv", "text\nx\n", "bad.csv: unknown format '.csv'; use .txt or .jsonl"),
    ],
)
def test_bad_input_is_one_line_naming_file_and_line_and_prints_nothing(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    result = run([str(path)])
    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [f"Error: {tmp_path}/{message}"]


def test_non_utf8_and_missing_files_are_one_line_errors(tmp_path):
    path = tmp_path / "latin.txt"
    path.write_bytes(b"Caf\xe9 au lait\n")
    result = run([str(path)])
    assert result.exit_code != 0 and result.output.strip() == f"Error: {path}:1: not UTF-8 (byte 0xe9); save the file as UTF-8"
    result = run([str(tmp_path / "nope.txt")])
    assert result.exit_code != 0 and result.output.strip() == f"Error: {tmp_path}/nope.txt: cannot read: No such file or directory"
    result = run(["-"], input='{"id": "a", "text": 1}\n')
    assert result.exit_code != 0 and result.output.strip() == "Error: <stdin>:1: 'text' must be a string, got int"


def test_threshold_option_filters_by_score(tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    everything = rows(run([str(path)]).output)[0]
    strict = rows(run([str(path), "--threshold", "0.9"]).output)[0]
    assert all(s["score"] >= 0.9 for s in strict["spans"]) and len(strict["spans"]) < len(everything["spans"])
    result = run([str(path), "--threshold", "2"])
    assert result.exit_code != 0 and "not in the range 0<=x<=1" in result.output


def test_the_command_is_registered_on_the_annotator_cli(runner, tmp_path):
    path = tmp_path / "a.txt"
    path.write_text(ARTICLE, encoding="utf-8")
    result = runner.invoke(args=["suggest", "text", str(path)])
    assert result.exit_code == 0, result.output
    assert rows(result.output)[0]["id"] == "a"


def test_console_script_reads_stdin_outside_the_test_runner(tmp_path):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3", "SECRET_KEY": "x"}
    result = subprocess.run([sys.executable, "-m", "annotator", "suggest", "text", "-"], input="“Done,” Sen. Ray Oduya said.",
                            env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    [row] = rows(result.stdout)
    assert {(s["label"], s["text"]) for s in row["spans"]} == {("QUOTE", "Done"), ("SOURCE", "Sen. Ray Oduya"), ("CUE", "said")}

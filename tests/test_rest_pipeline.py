"""A pipeline over HTTP with tokens only, against gunicorn: the README's example code, run as written.

An admin's token is the only thing made outside HTTP. Over the REST API: annotators and their tokens;
then the README's "push" block (a project, 1,000 articles as JSONL, assigned by hand two per article);
then the annotators save labels through the annotation API; then the README's "pull" block (the
sentence export, streamed to a file), whose records are checked against what was sent and saved.
"""
from __future__ import annotations

import re
import time
from pathlib import Path

import requests

from annotator.db import db
from annotator.domain import accounts

from .conftest import make_app
from .test_concurrency import start_gunicorn, stop

ROOT = Path(__file__).resolve().parents[1]
LABELLED = 30  # articles both of their annotators label


def readme_block(name: str) -> str:
    """The python block after `<!-- rest-example: NAME -->` in README.md."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    found = re.search(rf"<!-- rest-example: {name} -->\n```python\n(.*?)```", readme, re.S)
    assert found, f"README.md has no python block marked rest-example: {name}"
    return found.group(1)


def admin_token(database_uri: str) -> str:
    app = make_app(database_uri)
    with app.app_context():
        token = accounts.issue_token(db.session, accounts.create_user(db.session, "boss", "admin"))
        db.session.commit()
        db.session.remove()
        db.engine.dispose()
    return token


def test_a_pipeline_over_http_with_tokens_only(database_uri, tmp_path, monkeypatch):
    token = admin_token(database_uri)
    process, base = start_gunicorn(database_uri, tmp_path / "gunicorn.log", workers=2)
    try:
        started = time.monotonic()
        admin = requests.Session()
        admin.headers["Authorization"] = f"Bearer {token}"
        tokens = {}
        for name in ("alice", "bob", "carol"):
            assert admin.post(f"{base}/api/users", json={"name": name, "role": "annotator"}).status_code == 201
            tokens[name] = admin.post(f"{base}/api/users/{name}/tokens", json={"expires_days": 1}).json()["token"]

        monkeypatch.setenv("ANNOTATOR_URL", base)
        monkeypatch.setenv("ANNOTATOR_TOKEN", token)
        monkeypatch.chdir(tmp_path)
        example: dict = {}
        exec(compile(readme_block("push"), "README.md (push)", "exec"), example)  # noqa: S102  (our own README's code)
        pid, sent = example["pid"], {a["id"]: a for a in example["articles"]}
        assert len(sent) == 1000

        # the balanced and rebalance forms agree: every article already has its two
        assign = f"{base}/api/projects/{pid}/assignments"
        assert admin.post(assign, json={"per_article": 2}).json() == {"created": 0, "articles_short": 0}
        assert admin.post(assign, json={"rebalance": True}).json()["moved"] == 0

        listed, url = [], f"{base}/api/projects/{pid}/articles?per_page=400"
        while url:
            page = admin.get(url).json()
            listed += page["items"]
            url = page["next"]
        assert [a["external_id"] for a in listed] == list(sent)
        saved: dict[tuple[str, int], str] = {}
        for article in listed[:LABELLED]:
            for person in article["annotators"]:
                annotator = requests.Session()
                annotator.headers["Authorization"] = f"Bearer {tokens[person['name']]}"
                for index in range(article["sentences"]):
                    label = "CFS" if index == 0 else "NFS"
                    response = annotator.put(f"{base}/api/articles/{article['id']}/labels/{index}", json={"label": label, "seconds": 2})
                    assert response.status_code == 200, response.text
                    saved[(article["external_id"], index)] = label

        exec(compile(readme_block("pull"), "README.md (pull)", "exec"), example)  # noqa: S102
        records = example["sentences"]
        assert (tmp_path / "sentences.jsonl").exists()
        assert len(records) == sum(a["sentences"] for a in listed)
        for record in records:
            text = sent[record["article_id"]]["text"]
            assert text[record["start"]:record["end"]] == record["text"]
            assert record["label"] == saved.get((record["article_id"], record["sentence_index"]))  # unanimous gold, or none
            assert len(record["annotations"]) == (2 if record["label"] else 0)
        assert admin.get(f"{base}/api/projects/{pid}/export.jsonl", params={"unit": "sentence"},
                         headers={"If-None-Match": example["etag"]}).status_code == 304
        figures = admin.get(f"{base}/api/projects/{pid}/agreement").json()
        assert figures["overall"]["percent_agreement"]["value"] == 1.0
        elapsed = time.monotonic() - started
        assert elapsed < 60, f"the pipeline took {elapsed:.1f} s"
    finally:
        stop(process)


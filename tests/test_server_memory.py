"""A long-lived server worker keeps the heap its biggest request grew it to (issue 17: gunicorn's summed RSS).

So what a request holds at once must not grow with the project: the streamed export reads a bounded batch of
articles at a time, whatever the project's size (bench/bench_server_memory.py measures the workers themselves).
"""
from __future__ import annotations

import json
import tracemalloc

from annotator.db import db
from annotator.db.transactions import begin_write
from annotator.domain import labelschema, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.export import STREAM_BATCH_SIZE
from annotator.domain.dataset.ingest import ArticleRecord

from .conftest import Browser, add_user

SENTENCE = "The minister said on Tuesday that the bridge repairs would cost {n} million euros, twice the estimate. "


def _project_with(app, name: str, count: int) -> int:
    """A project of `count` news-sized articles (about 2,000 characters, 20 sentences each)."""
    with app.app_context():
        begin_write(db.session)
        project = projects.create_project(db.session, name, labelschema.preset("claims"))
        records = [ArticleRecord(f"{name}-{i:04d}", f"Story {i}", "".join(SENTENCE.format(n=i + k) for k in range(20)), {})
                   for i in range(count)]
        articles.store_articles(db.session, project, records, "test")
        db.session.commit()
        return project.id


def _peak_of_download(browser: Browser, url: str) -> tuple[int, int]:
    """(lines, peak bytes Python allocated while the answer streamed) of one download."""
    tracemalloc.start()  # before the request: stream_with_context reads the first batch before answering
    try:
        response = browser.get(url, buffered=False)
        assert response.status_code == 200, response.get_data(as_text=True)
        lines = 0
        for chunk in response.response:  # the streamed body, record by record
            lines += chunk.count(b"\n")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    response.close()
    return lines, peak


def test_the_streamed_download_holds_one_bounded_batch_whatever_the_projects_size(app):
    """Three times the articles, about the same peak: a batch of at most STREAM_BATCH_SIZE articles at a time.
    (Batches of 500 held every article of both projects at once: the peak grew threefold.)"""
    small, large = STREAM_BATCH_SIZE + STREAM_BATCH_SIZE // 2, 4 * STREAM_BATCH_SIZE + STREAM_BATCH_SIZE // 2
    ids = {small: _project_with(app, "small", small), large: _project_with(app, "large", large)}
    add_user(app, "boss", "admin")
    browser = Browser(app.test_client())
    browser.login("boss", "correct horse")
    for unit in ("article", "sentence"):
        peaks = {}
        for count, project_id in ids.items():
            _peak_of_download(browser, f"/projects/{project_id}/export.jsonl?unit={unit}")  # warm: caches, first compilations
            lines, peaks[count] = _peak_of_download(browser, f"/projects/{project_id}/export.jsonl?unit={unit}")
            assert lines >= count and (unit == "sentence" or lines == count), (unit, lines)
        assert peaks[large] < 1.5 * peaks[small], (unit, peaks)


def test_the_download_still_gives_every_article_in_order_across_batches(app):
    project_id = _project_with(app, "news", STREAM_BATCH_SIZE + 3)
    add_user(app, "boss", "admin")
    browser = Browser(app.test_client())
    browser.login("boss", "correct horse")
    body = browser.get(f"/projects/{project_id}/export.jsonl?unit=article").get_data(as_text=True)
    assert [json.loads(line)["id"] for line in body.splitlines()] == [f"news-{i:04d}" for i in range(STREAM_BATCH_SIZE + 3)]

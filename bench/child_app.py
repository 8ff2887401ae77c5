"""The app a benchmark's child process drives: a seeded SQLite file, requests through the WSGI app, a batch save.

bench_request_cpu.py and bench_write_lock.py pass this file's source to each child (`python -c SOURCE + CHILD`),
which runs the annotator of the checkout under comparison (on sys.path before these functions are called). It is
passed as text, not imported: an older checkout's bench/ may not have this file, and every checkout must be seeded
and driven alike. Only the standard library and SQLAlchemy at the top; the app's modules are imported inside the
functions, once the child has put its checkout first on sys.path.
"""
import io
import json
import sys
import tempfile

from sqlalchemy import select


def text(n):
    """An article of n sentences, each of them alike in length and shape."""
    return " ".join(f"The minister said on day {i} that fares would rise by {i % 9 + 1}% next year, critics said." for i in range(n))


def seeded_app(prefix, sizes):
    """A fresh SQLite file (a file, so the writer queue's flock is real) with project "Bench" (the claims preset) and
    annotator "ann", who has a token and is assigned one article per (external id, title, sentences) of `sizes`,
    seeded through the domain functions every checkout since issue 17 has.
    Returns (app, token, {external id: article id}, {external id: [(sentence index, start)]})."""
    from annotator import create_app
    from annotator.db import db
    from annotator.db.migrating import upgrade_schema
    from annotator.db.models import Article, Sentence
    from annotator.domain import accounts, assignment, labelschema, projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    uri = f"sqlite:///{tempfile.mkdtemp(prefix=prefix)}/bench.sqlite3"
    app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench"})
    with app.app_context():
        upgrade_schema()
        s = db.session
        ann = accounts.create_user(s, "ann", "annotator", None)
        project = projects.create_project(s, "Bench", labelschema.preset("claims"))
        articles.store_articles(s, project, [ArticleRecord(name, title, text(n)) for name, title, n in sizes], "bench")
        assignment.assign_to_user(s, project.id, ann, [name for name, _, _ in sizes])
        token = accounts.issue_token(s, ann)
        s.commit()
        ids = dict(s.execute(select(Article.external_id, Article.id)).all())
        sentences = {name: [(x.index, x.start) for x in s.scalars(select(Sentence).where(Sentence.article_id == ids[name]).order_by(Sentence.index))]
                     for name in ids}
    return app, token, ids, sentences


def wsgi_caller(app, token, statuses):
    """call(method, path, body): one request through the WSGI app with the annotator's Bearer token, as gunicorn would
    call it; each status goes to `statuses`, with the start of the body when it is not a 200."""

    def call(method, path, body=b""):
        environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": "", "SERVER_NAME": "127.0.0.1",
                   "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body),
                   "CONTENT_LENGTH": str(len(body)), "CONTENT_TYPE": "application/json", "wsgi.errors": sys.stderr,
                   "wsgi.multithread": True, "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0),
                   "HTTP_AUTHORIZATION": "Bearer " + token, "HTTP_HOST": "127.0.0.1:8000", "REMOTE_ADDR": "127.0.0.1"}
        body = b"".join(app.wsgi_app(environ, lambda status, headers, exc=None: statuses.append(status)))
        if not statuses[-1].startswith("200"):
            statuses[-1] += " " + body[:300].decode("utf-8", "replace")

    return call


def batch_body(k, sentences):
    """The k-th batch save's JSON body: a label and two spans on sentence k (round the article), new ids each time,
    the spans moved by a character every round so that none repeats."""
    index, start = sentences[k % len(sentences)]
    shift = k // len(sentences)
    operations = [
        {"op": "put_label", "sentence_index": index, "label": "CFS", "seconds": 12.5},
        {"op": "create_span", "id": f"q{k:031d}", "label": "QUOTE", "start": start + shift, "end": start + 20},
        {"op": "create_span", "id": f"s{k:031d}", "label": "SOURCE", "start": start + 22 + shift, "end": start + 30},
    ]
    return json.dumps({"request_id": f"r{k:031d}", "operations": operations}).encode()

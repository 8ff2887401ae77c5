"""Reading article files: exact text, and one clear reason per bad file or line."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from annotator.domain.dataset.ingest import IngestError, expand_paths, read_bytes, read_path
from annotator.stats.segment import segment

ARTICLES = Path(__file__).resolve().parent / "data" / "articles"


def write(tmp_path, name, data: bytes):
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


def test_txt_keeps_crlf_and_drops_bom(tmp_path):
    raw = "\ufeffTitle line\r\n\r\nFirst sentence. “Quoted,” she said.\r\n".encode("utf-8")
    (record,) = read_path(write(tmp_path, "story.txt", raw))
    assert record.text == "Title line\r\n\r\nFirst sentence. “Quoted,” she said.\r\n"
    assert record.title == "Title line"
    assert record.external_id == "story"


def test_txt_title_is_first_non_empty_line(tmp_path):
    (record,) = read_path(write(tmp_path, "a.txt", b"\n\n  Headline here  \nBody.\n"))
    assert record.title == "Headline here"
    assert record.text == "\n\n  Headline here  \nBody.\n"


def test_jsonl_reads_fields_and_extra_keys_go_to_meta(tmp_path):
    lines = [
        {"id": "a1", "title": "T", "text": "Body 👍🏽 text.", "meta": {"url": "u"}},
        {"id": 7, "text": "Second\r\nline.", "lang": "en"},
    ]
    path = write(tmp_path, "x.jsonl", "\n".join(json.dumps(x, ensure_ascii=False) for x in lines).encode())
    a, b = read_path(path)
    assert (a.external_id, a.title, a.text, a.meta) == ("a1", "T", "Body 👍🏽 text.", {"url": "u"})
    assert (b.external_id, b.title, b.text, b.meta) == ("7", "", "Second\r\nline.", {"lang": "en"})


def test_jsonl_broken_line_7_is_named(tmp_path):
    lines = [json.dumps({"id": f"a{i}", "text": f"Text {i}."}) for i in range(1, 11)]
    lines[6] = '{"id": "a7", "text": "unterminated'
    path = write(tmp_path, "bad.jsonl", "\n".join(lines).encode())
    with pytest.raises(IngestError) as info:
        read_path(path)
    assert info.value.line == 7
    assert str(info.value).startswith(f"{path}:7: invalid JSON")


@pytest.mark.parametrize(
    "obj, reason",
    [
        ({"id": "a"}, r"missing 'text' \(the line has 'id'\)$"),
        ({"id": "a", "txt": "x"}, r"missing 'text' \(the line has 'id', 'txt': did you mean 'text'\?\)$"),
        ({"id": "a", "text": None}, "'text' must be a string, got null"),
        ({}, r"missing 'text' \(the line has no keys\)$"),
        ({f"k{i}\n": i for i in range(10)}, r"missing 'text' \(the line has 'k0\\n', .* 'k7\\n' and 2 more\)$"),
        ({"id": "a", "text": "   \n"}, "empty text"),
        ({"id": "a", "text": 5}, "'text' must be a string"),
        ({"id": "a", "text": "x", "meta": [1]}, "'meta' must be a JSON object"),
        ({"id": "a", "text": "x", "title": 3}, "'title' must be a string"),
        ({"id": None, "text": "x"}, "'id' must be a string or an integer"),
        ({"id": "a", "text": "x\u0000y"}, "NUL"),
        ({"id": "a", "text": "x", "annotations": []}, "import-annotations"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_jsonl_line_errors(tmp_path, obj, reason):
    path = write(tmp_path, "f.jsonl", (json.dumps({"id": "ok", "text": "Fine."}) + "\n" + json.dumps(obj)).encode())
    with pytest.raises(IngestError, match=reason) as info:
        read_path(path)
    assert info.value.line == 2


def test_jsonl_lone_surrogate_is_rejected(tmp_path):
    path = write(tmp_path, "s.jsonl", b'{"id": "a", "text": "bad \\ud800 escape"}')
    with pytest.raises(IngestError, match="surrogate"):
        read_path(path)


def test_duplicate_id_in_file_names_both_lines(tmp_path):
    path = write(tmp_path, "d.jsonl", b'{"id": "a", "text": "x"}\n\n{"id": "a", "text": "y"}\n')
    with pytest.raises(IngestError, match=r":3: duplicate id 'a' \(first on line 1\)"):
        read_path(path)


def test_latin1_file_gets_its_own_reason(tmp_path):
    path = write(tmp_path, "old.txt", "Line one\nCaf\u00e9 society.\n".encode("latin-1"))
    with pytest.raises(IngestError) as info:
        read_path(path)
    assert str(info.value) == f"{path}:2: not UTF-8 (byte 0xe9); save the file as UTF-8"


def test_empty_text_file(tmp_path):
    path = write(tmp_path, "empty.txt", b"  \r\n ")
    with pytest.raises(IngestError, match="empty text"):
        read_path(path)


def test_unknown_extension(tmp_path):
    path = write(tmp_path, "story.docx", b"PK")
    with pytest.raises(IngestError) as info:
        read_path(path)
    assert str(info.value) == f"{path}: unknown format '.docx'; use .txt, .jsonl or .csv"


def test_csv_columns_and_multiline_cells(tmp_path):
    raw = 'id,title,text,source\r\nc1,Head,"Line one.\r\nLine two.",wire\r\nc2,,Short.,desk\r\n'
    path = write(tmp_path, "a.csv", raw.encode())
    a, b = read_path(path)
    assert a.text == "Line one.\r\nLine two."
    assert a.meta == {"source": "wire"}
    assert (b.external_id, b.title, b.line) == ("c2", "", 4)


def test_csv_without_text_column(tmp_path):
    path = write(tmp_path, "a.csv", b"id,body\n1,x\n")
    with pytest.raises(IngestError, match=r":1: the header row must have a 'text' column"):
        read_path(path)


@pytest.mark.parametrize(
    "data, said",
    [
        (b"id,text\n1,ok\n2,x,extra\n", ":3: the row has 3 cells where the header has 2; a comma inside a cell"),
        (b"id,text\n1,ok\n2\n", ":3: the row has 1 cell where the header has 2; an empty cell is still written"),
        (b"id,text,desk\n1,ok\n", ":2: the row has 2 cells where the header has 3"),  # stored desk: None
        (b"id,text,,\n1,ok,x\n", ":2: the row has 3 cells where the header has 4"),  # counted by cell, not by name
        (b"id,text\n1,ok\n\n\n2\n", ":5: the row has 1 cell"),  # the row's own line, not the empty one above it
    ],
)
def test_a_csv_row_of_more_or_fewer_cells_than_the_header_is_refused_saying_so(tmp_path, data, said):
    """A row short of its text said "missing 'text'" of a file whose header has it: the count is what is wrong."""
    path = write(tmp_path, "a.csv", data)
    with pytest.raises(IngestError) as caught:
        read_path(path)
    assert str(caught.value).startswith(f"{path}{said}"), str(caught.value)


def test_folders_expand_to_sorted_files(tmp_path):
    (tmp_path / "b.txt").write_text("B")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.jsonl").write_text("{}")
    (tmp_path / ".hidden.txt").write_text("x")
    found = list(expand_paths([str(tmp_path)]))
    assert [p for p, _ in found] == [str(tmp_path / "b.txt"), str(tmp_path / "sub" / "a.jsonl")]
    assert all(explicit is False for _, explicit in found)


@pytest.mark.parametrize("name", ["border_talks.txt", "river_flood_crlf.txt"])
def test_our_own_articles_import_exactly(name):
    """The project's own news articles (tests/data/articles) import as they are:
    a BOM dropped, CRLF kept, title from the first line, and their sentences
    are the hand-split ones, at offsets into the stored text."""
    raw = (ARTICLES / name).read_bytes()
    (record,) = read_path(str(ARTICLES / name))
    assert record.text == raw.decode("utf-8").removeprefix("\ufeff")
    assert ("\r\n" in record.text) == (b"\r\n" in raw)
    assert record.external_id == name.removesuffix(".txt")
    assert record.title == record.text.splitlines()[0]
    expected = json.loads((ARTICLES.parent / "articles_expected.json").read_text(encoding="utf-8"))[name]
    assert [record.text[a:b] for a, b in segment(record.text)] == expected



def test_our_own_articles_folder_is_only_articles():
    found = [p for p, _ in expand_paths([str(ARTICLES)])]
    assert found == [str(ARTICLES / "border_talks.txt"), str(ARTICLES / "river_flood_crlf.txt")]


# ----------------------------------------------------------------- staged imports (big files stored in chunks)
def test_a_staged_import_is_seen_by_nothing_until_it_is_published(app, browser):
    """Chunks of a big import are committed but invisible: pages, API, export, assignment, agreement; publishing shows them at once."""
    from sqlalchemy import delete, func, select

    from annotator.db import db
    from annotator.db.models import Article, StagedImport
    from annotator.db.transactions import begin_write
    from annotator.domain import accounts, assignment, projects
    from annotator.domain.agreement import loaders as pa
    from annotator.domain.dataset import articles, export
    from annotator.domain.dataset.ingest import ArticleRecord
    from annotator.domain.project_head import project_head

    from .conftest import add_user

    add_user(app, "ann", "annotator")
    add_user(app, "root", "admin")
    with app.app_context():
        s = db.session
        project = projects.create_project(s, "Stage")
        projects.add_members(s, project.id, [accounts.get_user(s, "ann")])
        articles.store_articles(s, project, [ArticleRecord("shown", "Shown", "A visible story. It has two sentences.")], "seed")
        s.commit()
        pid = project.id
        staging = articles.new_staged_import(s, pid, "big.jsonl")
        begin_write(s)
        hidden = [ArticleRecord(f"hidden-{i}", "Hidden", f"Staged story {i}. Not published yet.") for i in range(3)]
        articles._insert_new(s, pid, hidden, {}, staged_import=staging)
        s.commit()
        hidden_id = s.scalar(select(Article.id).where(Article.external_id == "hidden-0").execution_options(include_staged=True))
        assert s.scalar(select(func.count()).select_from(Article).execution_options(include_staged=True)) == 4

        def seen() -> dict:
            s.rollback()
            head = project_head(s, pid)
            return {
                "articles": s.scalar(select(func.count()).select_from(Article)),
                "export": sorted(r["id"] for r in export.iter_records(s, pid, "article")),
                "sentences": len(pa.load_sentences(s, head).ids),
                "get": s.get(Article, hidden_id) is not None,
            }

        assert seen() == {"articles": 1, "export": ["shown"], "sentences": 2, "get": False}
        begin_write(s)
        assert assignment.assign_balanced(s, pid, 1).created == 1  # the visible article only
        s.commit()

    assert browser.login("root", "correct horse").status_code == 302
    assert browser.get(f"/api/articles/{hidden_id}").status_code == 404
    assert "hidden-0" not in browser.get(f"/admin/projects/{pid}").get_data(as_text=True)

    with app.app_context():
        s = db.session
        begin_write(s)
        s.execute(delete(StagedImport).where(StagedImport.id == staging))  # what publishing does
        s.commit()
        assert seen() == {"articles": 4, "export": ["hidden-0", "hidden-1", "hidden-2", "shown"], "sentences": 8, "get": True}
        begin_write(s)
        assert assignment.assign_balanced(s, pid, 1).created == 3
        s.commit()
    assert browser.get(f"/api/articles/{hidden_id}").status_code == 200


def test_import_records_in_chunks_stores_the_whole_file_and_leaves_no_staging(app):
    from sqlalchemy import func, select

    from annotator.db import db
    from annotator.db.models import Article, Sentence, StagedImport
    from annotator.domain import projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord
    from annotator.stats.segment import segment

    records = [ArticleRecord(f"n{i}", f"T{i}", f"Story {i} begins. It goes on. It ends {i}.") for i in range(23)]
    with app.app_context():
        s = db.session
        project = projects.create_project(s, "Chunks")
        articles.store_articles(s, project, [ArticleRecord("n0", "Old", "Old text. Not annotated.")], "seed")
        s.commit()
        result = articles.import_records(s, project, records, "many.jsonl", "update", chunk_articles=5)
        assert (len(result.created), result.updated, result.skipped) == (22, ["n0"], [])
        assert s.scalar(select(func.count()).select_from(StagedImport)) == 0
        stored = {e: t for e, t in s.execute(select(Article.external_id, Article.text))}
        assert stored == {r.external_id: r.text for r in records}
        offsets = s.execute(select(Article.text, Sentence.start, Sentence.end).join(Sentence).order_by(Sentence.article_id, Sentence.index)).all()
        assert len(offsets) == sum(len(segment(r.text)) for r in records)
        assert all(text[start:end] for text, start, end in offsets)


def test_import_files_stores_each_file_on_its_own_and_leaves_no_transaction_open(app):
    """The upload page's use case: a rejected file (a bad line, or an id already there) stores nothing, the next
    file still imports, and whatever happened the session holds no transaction (no read keeps SQLite's log from
    being checkpointed, nothing is left for the caller to roll back)."""
    from sqlalchemy import select

    from annotator.db import db
    from annotator.db.models import Article
    from annotator.domain import projects
    from annotator.domain.dataset import articles

    good = b'{"id": "g1", "text": "A good story. It has two sentences."}\n'
    files = [
        ("broken.jsonl", b'{"id": "b1", "text": "Fine line."}\n{"id": "b2", "text": 5}\n'),
        ("good.jsonl", good),
        ("story.txt", b"Headline\nBody of the story."),
        ("again.jsonl", good),  # g1 is in the project now: an error with on_duplicate="error", found by a read
    ]
    with app.app_context():
        s = db.session
        project = projects.create_project(s, "Files")
        s.commit()
        s.get(type(project), project.id)  # a read, as a page makes before the import
        results = articles.import_files(s, project, iter(files))
        assert not s().in_transaction()
        assert [(r["file"], r["created"], r["error"] is None) for r in results] == [
            ("broken.jsonl", [], False), ("good.jsonl", ["g1"], True), ("story.txt", ["story"], True), ("again.jsonl", [], False),
        ]
        assert results[0]["error"].startswith("broken.jsonl:2: ") and "already exists" in results[3]["error"]
        assert sorted(s.scalars(select(Article.external_id))) == ["g1", "story"]


def test_abandoned_staged_imports_are_recognised():
    import os
    import socket
    from datetime import timedelta

    from annotator.db.models import utcnow
    from annotator.domain.dataset.articles import STALE_AFTER, abandoned

    now = utcnow()
    host = socket.gethostname()
    assert not abandoned(f"{host}:{os.getpid()}", now, now)  # this process: alive
    assert abandoned(f"{host}:{os.getpid()}", now - STALE_AFTER - timedelta(seconds=1), now)  # silent too long
    assert not abandoned("another-host:1", now, now)  # cannot tell: wait for it to go stale
    assert abandoned("abandoned", now, now)
    child = os.fork()
    if child == 0:
        os._exit(0)
    os.waitpid(child, 0)
    assert abandoned(f"{host}:{child}", now, now)  # its process is gone


# ----------------------------------------------------------------- an unterminated quote in a CSV
UNTERMINATED = [
    # (content, line where the quote opened): rows after it must not silently become one article's text
    ("id,text\nu1,Fine first row.\nu2,\"This quote is never closed.\nu3,Third row.\nu4,Fourth row.\n", 3),
    ("id,text\nu1,\"Opened here.\nu2,\"Quoted\"\nu3,Last.\n", 2),
]


@pytest.mark.parametrize("content, line", UNTERMINATED)
def test_an_unterminated_csv_quote_names_the_file_and_line(content, line):
    with pytest.raises(IngestError) as caught:
        read_bytes(content.encode(), "news.csv")
    assert caught.value.file == "news.csv" and caught.value.line == line, str(caught.value)
    assert "quote" in caught.value.reason and "never closed" in caught.value.reason, caught.value.reason


# Lines without a \u escape skip the storability checks (NUL, lone surrogates): only an escape can put those into
# a string of valid JSON read from valid UTF-8. The checks still run, and refuse, wherever an escape is.
@pytest.mark.parametrize(
    "line, reason",
    [
        (b'{"id": "a", "text": "x\\u0000y"}', "text contains a NUL character"),
        (b'{"id": "a", "text": "x\\ud800y"}', "text contains an unpaired surrogate"),
        (b'{"id": "a", "text": "x", "title": "t\\u0000"}', "title contains a NUL character"),
        (b'{"id": "a", "text": "x", "title": "t\\udfff"}', "title contains an unpaired surrogate"),
        (b'{"id": "a", "text": "x", "meta": {"k": "v\\u0000"}}', "meta contains a NUL character"),
        (b'{"id": "a", "text": "x", "meta": {"k\\ud800": 1}}', "meta contains an unpaired surrogate"),
        (b'{"id": "a", "text": "x", "source": ["\\u0000"]}', "meta contains a NUL character"),
        # the id too: PostgreSQL failed the lookup of such an id with a 500 (REST) or a traceback (CLI), SQLite stored it
        (b'{"id": "a\\u0000", "text": "x"}', "'id' contains a NUL character"),
        (b'{"id": "\\ud800", "text": "x"}', "'id' contains an unpaired surrogate"),
        (b'{"id": "a", "text": "\\n \\t"}', "empty text"),
        (b'{"id": "a", "text": "x\x00y"}', "invalid JSON"),  # a raw NUL: refused by the JSON parser, whatever the shortcut
    ],
)
def test_escapes_are_still_checked(tmp_path, line, reason):
    path = write(tmp_path, "e.jsonl", b'{"id": "ok", "text": "Fine. \\u00e9"}\n' + line + b"\n")
    with pytest.raises(IngestError, match=reason) as info:
        read_path(path)
    assert info.value.line == 2


def test_a_line_without_escapes_gives_the_same_record_as_with_the_checks(monkeypatch):
    from annotator.domain.dataset import ingest

    data = ('{"id": 7, "title": "Café \\\\u0000 not an escape", "text": "Wörds, “quotes”, 🎉.\\r\\nMore.", "meta": {"a": [1]}, "x": 2}\n'
            '{"text": "Anonymous."}\n').encode("utf-8")
    fast = read_bytes(data, "f.jsonl")
    monkeypatch.setattr(ingest, "_UNICODE_ESCAPE", ingest.re.compile(""))  # every line looks escaped: the checks run
    assert read_bytes(data, "f.jsonl") == fast
    assert [(r.external_id, r.title, r.meta, r.line) for r in fast] == [
        ("7", "Café \\u0000 not an escape", {"a": [1], "x": 2}, 1), ("f-2", "", {}, 2)]


def test_only_lines_with_an_escape_are_checked_for_storability(monkeypatch):
    """The checks encode each string (3,000 characters an article): about a third of the parsing of a 1,000-article
    file whose lines carry no escape at all."""
    from annotator.domain.dataset import ingest

    checked = []
    monkeypatch.setattr(ingest.textcheck, "problem", lambda value: checked.append(value) or None)
    lines = [json.dumps({"id": f"a{i}", "title": "Tïtle", "text": "Wörds “quoted”. More.\n" * 50}, ensure_ascii=False) for i in range(100)]
    lines[7] = json.dumps({"id": "a7", "title": "T", "text": "Escaped \u00e9."})  # ensure_ascii: \u00e9
    assert len(read_bytes("\n".join(lines).encode("utf-8"), "f.jsonl")) == 100
    assert checked == ["Escaped é.", "a7", "T", "{}"]  # text, id, title, meta of line 8 only


def test_a_staged_import_taken_for_abandoned_stops_at_its_next_chunk(app, monkeypatch):
    """Another process took the import for abandoned (its owner is no longer this process): the next chunk's claim
    refuses to go on, and nothing of the file stays."""
    from sqlalchemy import func, select, update

    from annotator.db import db
    from annotator.db.models import Article, StagedImport
    from annotator.domain import projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    records = [ArticleRecord(f"n{i}", f"T{i}", f"Story {i}. It ends.") for i in range(3)]
    with app.app_context():
        s = db.session
        project = projects.create_project(s, "Taken")
        s.commit()
        stored = []

        def checkpoint_then_taken(session) -> None:  # noqa: ANN001  (after the first chunk, another process takes it)
            if not stored:
                stored.append(session.scalar(select(func.count()).select_from(Article).execution_options(include_staged=True)))
                session.execute(update(StagedImport).values(owner="otherhost:1"))
                session.commit()

        monkeypatch.setattr(articles, "checkpoint", checkpoint_then_taken)
        with pytest.raises(IngestError, match="taken for abandoned"):
            articles.import_records(s, project, records, "taken.jsonl", chunk_articles=1)
        assert stored == [1]
        assert s.scalar(select(func.count()).select_from(Article).execution_options(include_staged=True)) == 0
        assert s.scalar(select(func.count()).select_from(StagedImport)) == 0


def test_a_chunk_holds_as_many_news_articles_as_short_ones():
    """Since the sentence rows go in many a statement, CHUNK_ARTICLES news articles (~3,100 characters, 25
    sentences) hold the write lock for less time in one chunk (11-12 ms) than 500,000 characters did before (17-18 ms):
    CHUNK_CHARS no longer cuts them in two."""
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    records = [ArticleRecord(f"n{i}", "T", "A sentence of a news article. " * 103) for i in range(articles.CHUNK_ARTICLES + 1)]
    assert len(records[0].text) > 3000
    chunks = list(articles._chunks(records, articles.CHUNK_ARTICLES, articles.CHUNK_CHARS))
    assert [len(chunk) for chunk in chunks] == [articles.CHUNK_ARTICLES, 1]


@pytest.mark.parametrize("data", [b'"', b'"id,text\n1,a\n', b'"id"x,text\n1,a\n'])
def test_a_header_row_that_is_not_valid_csv_is_an_error_naming_the_file_and_line(data):
    """The header is read before the rows' try: a quote never closed on it raised csv.Error, a crash of the import
    (found by test_bad_input's fuzzing on PostgreSQL with `".csv", b'"'`)."""
    with pytest.raises(IngestError, match=r"^a\.csv:1: the header row is not valid CSV"):
        read_bytes(data, "a.csv")


@pytest.mark.parametrize("header, column", [("id,text,text", "text"), ("id,title,text,source,source", "source"), ("id,id,text", "id")])
def test_a_csv_column_named_twice_in_the_header_is_an_error_naming_it(header, column):
    """csv.DictReader keeps the last of two columns of one name without a word: 'id,text,text' stored the second
    cell as the article's text and dropped the first (a JSON key given twice is refused for the same reason)."""
    data = f"{header}\n" + ",".join(f"v{n}." for n in range(header.count(",") + 1)) + "\n"
    with pytest.raises(IngestError, match=rf"^a\.csv:1: the header row names the column '{column}' twice"):
        read_bytes(data.encode(), "a.csv")


def test_a_csv_column_named_meta_goes_into_meta():
    """Every column but id, title and text goes into meta: one named 'meta' was dropped without a word."""
    (record,) = read_bytes(b"id,text,meta,desk\n1,Short.,wire copy,city\n", "a.csv")
    assert record.meta == {"meta": "wire copy", "desk": "city"}


def test_a_jsonl_key_given_both_at_the_top_and_in_meta_is_an_error_naming_it():
    """Keys besides id, title, text and meta go into meta: one that meta has too, with another value, replaced meta's
    value silently."""
    line = json.dumps({"id": "a", "text": "Short.", "meta": {"source": "wire", "desk": "city"}, "source": "agency"})
    with pytest.raises(IngestError, match=r"^a\.jsonl:1: 'source' is given both as a field of the line and in 'meta', with other values; keep one"):
        read_bytes(line.encode(), "a.jsonl")
    (record,) = read_bytes(json.dumps({"id": "a", "text": "Short.", "meta": {"desk": "city"}, "source": "agency"}).encode(), "a.jsonl")
    assert record.meta == {"desk": "city", "source": "agency"}
    same = {"id": "a", "text": "Short.", "meta": {"source": "agency"}, "source": "agency"}  # nothing lost: taken
    assert read_bytes(json.dumps(same).encode(), "a.jsonl")[0].meta == {"source": "agency"}


def test_an_article_to_update_deleted_while_a_big_file_is_staged_is_an_error_naming_it(app, monkeypatch):
    """A big file's updates are classified before its chunks, and applied in the last transaction: an article deleted
    in between (an admin's REST delete) failed `assert article is not None` there, a 500 on the upload page and a
    traceback from `annotator import`. Now the file is refused with its line, and nothing of it stays."""
    from sqlalchemy import delete, func, select

    from annotator.db import db
    from annotator.db.models import Article, StagedImport
    from annotator.db.transactions import transaction
    from annotator.domain import projects
    from annotator.domain.dataset import articles
    from annotator.domain.dataset.ingest import ArticleRecord

    records = [ArticleRecord(f"n{i}", f"T{i}", f"Story {i}. It ends.", line=i + 1) for i in range(3)]
    with app.app_context():
        s = db.session
        project = projects.create_project(s, "Gone")
        articles.store_articles(s, project, [ArticleRecord("n1", "Old", "Old text. Not annotated.")], "seed")
        s.commit()

        def checkpoint_then_deleted(session) -> None:  # noqa: ANN001  (after the first chunk, the article to update goes)
            with transaction(session):
                session.execute(delete(Article).where(Article.external_id == "n1"))

        monkeypatch.setattr(articles, "checkpoint", checkpoint_then_deleted)
        with pytest.raises(IngestError, match=r"^gone\.jsonl:2: article 'n1' was deleted while the file was being imported"):
            articles.import_records(s, project, records, "gone.jsonl", "update", chunk_articles=1)
        counts = [s.scalar(select(func.count()).select_from(m).execution_options(include_staged=True)) for m in (Article, StagedImport)]
        assert counts == [0, 0]


# An id is one line: `annotator assign --articles-from`, one id a line, could not name an article whose id a JSON
# escape or a quoted CSV field had given a line break (and a bidirectional control makes an id read as another).
@pytest.mark.parametrize(
    "name, data, line, shown",
    [
        ("a.jsonl", b'{"id": "ok", "text": "x"}\n{"id": "two\\nlines", "text": "x"}\n', 2, r"'two\nlines' holds a line break or control character (U+000A at 3)"),
        ("a.jsonl", b'{"id": "ok", "text": "x"}\n{"id": "vt\\u000bhere", "text": "x"}\n', 2, "(U+000B at 2)"),
        ("a.jsonl", b'{"id": "ok", "text": "x"}\n{"id": "nel\\u0085here", "text": "x"}\n', 2, "(U+0085 at 3)"),
        ("a.jsonl", b'{"id": "ok", "text": "x"}\n{"id": "esc\\u001bhere", "text": "x"}\n', 2, "(U+001B at 3)"),
        ("a.jsonl", b'{"id": "ok", "text": "x"}\n{"id": "a\\u2028b", "text": "x"}\n', 2, "(U+2028 at 1)"),  # splitlines breaks there
        ("a.jsonl", b'{"id": "ok", "text": "x"}\n{"id": "abc\\u202efdp", "text": "x"}\n', 2, "(U+202E at 3)"),
        ("a.csv", b'id,text\nok,x\n"two\nlines",x\n', 3, "(U+000A at 3)"),
        ("a.csv", b'id,text\nok,x\n"cr\rhere",x\n', 3, "(U+000D at 2)"),
    ],
)
def test_an_article_id_with_a_line_break_or_control_is_refused_with_file_and_line(name, data, line, shown):
    with pytest.raises(IngestError) as caught:
        read_bytes(data, name)
    assert (caught.value.file, caught.value.line) == (name, line), str(caught.value)
    assert caught.value.reason.startswith("'id' ") and shown in caught.value.reason, caught.value.reason
    assert "an article id is one line without control characters" in caught.value.reason


def test_a_tab_inside_an_article_id_is_kept():
    """A tab breaks no line: `--articles-from` names such an id (tests/test_cli.py assigns one)."""
    assert read_bytes(b'{"id": "tab\\tinside", "text": "x"}\n', "a.jsonl")[0].external_id == "tab\tinside"


def test_a_txt_file_whose_name_holds_a_line_break_is_refused(tmp_path):
    with pytest.raises(IngestError, match=r"the file's name, the article's id, 'two\\nlines' holds a line break"):
        read_bytes(b"Some text.", "two\nlines.txt")


def test_ids_with_spaces_and_any_script_are_still_one_line():
    records = read_bytes('{"id": "Story 1 – Zürich 東京 🎉", "text": "x"}\n'.encode(), "a.jsonl")
    assert records[0].external_id == "Story 1 – Zürich 東京 🎉"


def test_csv_errors_name_the_row_s_line_past_empty_lines_and_ids_made_of_lines_stay_as_they_were(tmp_path):
    """An error after empty lines named the empty line above the row. The ids of a file without an id column are
    made of line numbers that never counted those empty lines: they must not change, or a re-import stores the
    articles again under new ids."""
    path = write(tmp_path, "a.csv", b"text\nOne.\n\nTwo.\n\n\nThree.\n")
    assert [r.external_id for r in read_path(path)] == ["a-2", "a-3", "a-5"]  # as they always were
    bad = write(tmp_path, "b.csv", b"text\nOne.\n\nTwo.\n\n\nThree,\"two cells\"\n")
    with pytest.raises(IngestError, match=r"b\.csv:7: the row has 2 cells where the header has 1"):  # said :5: before
        read_path(bad)

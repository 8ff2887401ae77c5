"""The headless interface: every bulk job from the `annotator` command, with one-line errors."""
from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from annotator.db import db
from annotator.db.models import Article, Assignment, Project, User
from annotator.domain import accounts

from .conftest import CORPUS, make_app

DATA = Path(__file__).resolve().parent / "data"


def count(app, model, *where):
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def make_project(runner, name="news", *args):
    result = runner.invoke(args=["projects", "create", name, *args])
    assert result.exit_code == 0, result.output
    return result


def jsonl(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return str(path)


@pytest.mark.real_password_hashing
def test_users_create_with_password_stdin(app, runner):
    result = runner.invoke(args=["users", "create", "rita", "--role", "reviewer", "--password-stdin"], input="s3cret-pass\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(select(User).where(User.name == "rita"))
        assert user.role == "reviewer"
        assert user.password_hash.startswith("scrypt:") and user.check_password("s3cret-pass")


@pytest.mark.parametrize(
    "args, stdin, message",
    [
        (["users", "create", "bad name", "--password-stdin"], "longenough\n", "user name must be"),
        (["users", "create", "x", "--password-stdin"], "short\n", "at least 8 characters"),
        (["users", "role", "nobody", "admin"], "", "no user named 'nobody'"),
    ],
)
def test_users_errors_are_one_line(runner, args, stdin, message):
    result = runner.invoke(args=args, input=stdin)
    assert result.exit_code != 0
    assert message in result.output
    assert result.output.strip().count("\n") == 0


@pytest.mark.parametrize("command", [["users", "create", "pat", "--password-stdin"], ["users", "password", "root", "--password-stdin"]])
@pytest.mark.parametrize("stdin, message", [
    (b"pass\xffword123\n", "the password on standard input is not valid UTF-8 text"),  # a traceback before
    (b"pass\x00word123\n", "password contains a NUL character; no login could send it"),  # stored before, and no login form could send it
])
def test_a_password_no_login_could_send_is_refused_in_one_line(app, runner, command, stdin, message):
    runner.invoke(args=["users", "create", "root", "--role", "admin", "--password-stdin"], input="longenough\n")
    with app.app_context():
        before = db.session.scalar(select(User.password_hash).where(User.name == "root"))
    result = runner.invoke(args=command, input=stdin)
    assert result.exit_code == 1 and message in result.output and result.output.strip().count("\n") == 0, result.output
    with app.app_context():
        assert db.session.scalar(select(User.password_hash).where(User.name == "root")) == before
        assert db.session.scalar(select(User).where(User.name == "pat")) is None


def test_a_password_with_bytes_escaped_from_stdin_is_refused():
    """A stdin that is not strict (Python's surrogateescape in a C or POSIX locale) turns bytes that are not UTF-8 into
    lone surrogates, which the password hash could not encode: refused before it is hashed."""
    with pytest.raises(accounts.AccountError, match="unpaired surrogate"):
        accounts.hash_password("pass\udcffword123")

def test_last_admin_cannot_be_demoted(app, runner):
    runner.invoke(args=["users", "create", "root", "--role", "admin", "--password-stdin"], input="longenough\n")
    result = runner.invoke(args=["users", "role", "root", "annotator"])
    assert result.exit_code == 1 and "last active admin" in result.output
    result = runner.invoke(args=["users", "deactivate", "root"])
    assert result.exit_code == 1 and "last active admin" in result.output


def test_becoming_an_admin_revokes_the_tokens_and_says_so(app, runner):
    """A token issued while the user was not an admin may be another admin's doing: it ends with the promotion."""
    runner.invoke(args=["users", "create", "root", "--role", "admin", "--password-stdin"], input="longenough\n")
    runner.invoke(args=["users", "create", "bot", "--password-stdin"], input="longenough\n")
    runner.invoke(args=["users", "token", "bot"])
    result = runner.invoke(args=["users", "role", "bot", "admin"])
    assert result.exit_code == 0 and result.output.startswith("bot is now admin; their 1 API token was revoked")
    result = runner.invoke(args=["users", "role", "bot", "reviewer"])
    assert result.output == "bot is now reviewer\n"


def test_token_is_printed_once_and_stored_hashed(app, runner):
    runner.invoke(args=["users", "create", "bot", "--password-stdin"], input="longenough\n")
    result = runner.invoke(args=["users", "token", "bot"])
    token = result.output.strip()
    assert token.startswith("ann_") and len(token) > 40
    from annotator.db.models import ApiToken

    with app.app_context():
        stored = db.session.scalars(select(ApiToken.token_hash)).all()
        assert token not in stored and len(stored) == 1


def test_projects_create_with_preset_and_schema_file(app, runner, tmp_path):
    make_project(runner, "ff", "--preset", "fullfact", "--majority", "0.66")
    result = runner.invoke(args=["projects", "create", "bad", "--majority", "0.5"])
    assert result.exit_code == 1 and "above 0.5 and at most 1" in result.output
    bad = tmp_path / "schema.json"
    bad.write_text(json.dumps({"sentence_labels": [{"name": "A", "key": "1"}, {"name": "B", "key": "1"}]}))
    result = runner.invoke(args=["projects", "create", "custom", "--schema", str(bad)])
    assert result.exit_code == 1
    assert f'{bad}: sentence_labels[1].key: duplicate key "1" (also sentence_labels[0] (A))' in result.output  # the path-style message (was "[1] (B): key '1' is already used by A")
    long = tmp_path / "guidelines.md"
    long.write_text("x" * 200_001)  # the guidelines page's limit holds here too (it was only the page's)
    result = runner.invoke(args=["projects", "create", "long", "--guidelines", str(long)])
    assert result.exit_code == 1 and "The guidelines may be at most 200,000 characters (this text has 200,001)." in result.output
    with app.app_context():
        names = db.session.scalars(select(Project.name)).all()
        assert names == ["ff"]
        schema, majority = db.session.execute(select(Project.label_schema, Project.majority_threshold)).one()
        assert len(schema["sentence_labels"]) == 7 and majority == 0.66


def test_projects_create_lists_every_schema_problem_on_one_line(app, runner, tmp_path):
    bad = tmp_path / "schema.json"
    bad.write_text(json.dumps({"sentence_labels": [{"name": "A", "key": "1"}, {"name": "A", "key": "n", "description": "x\u0000"}]}))
    result = runner.invoke(args=["projects", "create", "custom", "--schema", str(bad)])
    assert result.exit_code == 1 and "Traceback" not in result.output
    line = next(line for line in result.output.splitlines() if str(bad) in line)
    for problem in ('sentence_labels[1].name: duplicate name "A" (also sentence_labels[0])', 'sentence_labels[1].key: "n" is reserved',
                    "sentence_labels[1].description: contains a NUL character"):
        assert problem in line, line


def test_import_jsonl_segments_with_exact_offsets(app, runner, tmp_path):
    make_project(runner)
    text = "Title 👍🏽 here\r\nBy A. Writer\r\nThe cost rose to $1.2bn, Dr. Smith said. “Why?” she asked.\r\n"
    path = jsonl(tmp_path / "a.jsonl", [{"id": "x1", "title": "Title", "text": text, "meta": {"k": 1}}])
    result = runner.invoke(args=["import", "news", path])
    assert result.exit_code == 0, result.output
    assert "imported 1 new" in result.output
    with app.app_context():
        article = db.session.scalar(select(Article))
        assert article.text == text and article.meta == {"k": 1}
        import hashlib

        assert article.sha256 == hashlib.sha256(text.encode()).hexdigest()
        sentences = [text[s.start:s.end] for s in article.sentences]
    assert sentences[:2] == ["Title 👍🏽 here", "By A. Writer"]
    assert all(s == s.strip() and s for s in sentences)


def test_broken_line_7_rejects_the_whole_file_and_others_still_import(app, runner, tmp_path):
    make_project(runner)
    rows = [{"id": f"a{i}", "text": f"Sentence {i}. Another one."} for i in range(1, 11)]
    path = tmp_path / "bad.jsonl"
    lines = [json.dumps(r) for r in rows]
    lines[6] = '{"id": "a7", "text": '
    path.write_text("\n".join(lines) + "\n")
    good = jsonl(tmp_path / "good.jsonl", [{"id": "g1", "text": "Fine text."}])
    result = runner.invoke(args=["import", "news", str(path), good])
    assert result.exit_code == 1
    assert f"{path}:7: invalid JSON" in result.output
    assert "imported 1 new, 0 updated, 0 skipped into news; 1 file rejected" in result.output
    assert count(app, Article, Article.external_id.like("a%")) == 0
    assert count(app, Article, Article.external_id == "g1") == 1


def test_the_commands_word_their_counts_singular_or_plural_never_with_s_in_brackets():
    """As the admin pages (tests/test_admin.py): "1 file rejected", "2 files rejected", not "1 file(s) rejected"."""
    import re

    root = Path(__file__).resolve().parent.parent / "annotator" / "cli"
    bracketed = [f"{path.name}:{n}" for path in root.rglob("*.py") for n, line in enumerate(path.read_text().splitlines(), 1)
                 if re.search(r"[a-z]\(s\)", line) and not line.lstrip().startswith("#")]
    assert bracketed == []


@pytest.mark.parametrize(
    "name, data, reason",
    [
        ("latin.txt", "Caf\u00e9\n".encode("latin-1"), ":1: not UTF-8"),
        ("empty.txt", b"   \n", ": empty text"),
        ("notes.docx", b"PK", ": unknown format '.docx'"),
    ],
)
def test_bad_files_get_their_own_reason(app, runner, tmp_path, name, data, reason):
    make_project(runner)
    path = tmp_path / name
    path.write_bytes(data)
    result = runner.invoke(args=["import", "news", str(path)])
    assert result.exit_code == 1
    assert f"{path}{reason}" in result.output
    assert count(app, Article) == 0


@pytest.mark.parametrize("name, data", [
    (b"bad\xffname.txt", b"Headline\nBody text.\n"),  # the name is the article's id: a traceback from the database
    (b"j\xff.jsonl", b'{"text": "Body text."}\n'),  # no id: the name makes it, a traceback too
    (b"c\xff.csv", b"text\nBody text.\n"),  # no id column: refused as an "unpaired surrogate (a broken \\ud800-style escape)"
])
def test_a_file_in_a_folder_whose_name_is_not_utf8_is_refused_in_one_line(app, runner, tmp_path, name, data):
    """The command line refuses an argument that is not UTF-8, but a folder's files are named by the file system: Python
    keeps such a name's bytes as lone surrogates, which reached the database as part of an article id."""
    make_project(runner)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.txt").write_bytes(b"Fine text.\n")
    with open(os.path.join(os.fsencode(folder), name), "wb") as out:
        out.write(data)
    result = runner.invoke(args=["import", "news", str(folder)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), result.output
    shown = os.fsencode(folder / os.fsdecode(name)).decode("utf-8", "backslashreplace")
    assert f"{shown}: the file's name is not valid UTF-8" in result.output
    assert "imported 1 new, 0 updated, 0 skipped into news; 1 file rejected" in result.output
    with app.app_context():
        assert [a.external_id for a in db.session.scalars(select(Article))] == ["good"]


def test_on_duplicate_modes(app, runner, tmp_path):
    make_project(runner)
    first = jsonl(tmp_path / "1.jsonl", [{"id": "a", "title": "Old", "text": "One. Two."}])
    second = jsonl(tmp_path / "2.jsonl", [{"id": "a", "title": "New", "text": "One. Two. Three."}, {"id": "b", "text": "B."}])
    assert runner.invoke(args=["import", "news", first]).exit_code == 0
    result = runner.invoke(args=["import", "news", second])
    assert result.exit_code == 1 and "already exists" in result.output and f"{second}:1:" in result.output
    assert count(app, Article) == 1  # b was not stored either: one transaction per file
    result = runner.invoke(args=["import", "news", second, "--on-duplicate", "skip"])
    assert "imported 1 new, 0 updated, 1 skipped" in result.output
    result = runner.invoke(args=["import", "news", second, "--on-duplicate", "update"])
    assert "0 new, 2 updated" in result.output
    with app.app_context():
        article = db.session.scalar(select(Article).where(Article.external_id == "a"))
        assert article.title == "New" and len(article.sentences) == 3


def test_import_txt_csv_folder_and_stdin(app, runner, tmp_path):
    make_project(runner)
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "one.txt").write_bytes(b"Headline\nBody text.\n")
    (folder / "two.csv").write_text('id,title,text,desk\nc1,T,"Body.",metro\n')
    (folder / "readme.md").write_text("ignored in folders")
    result = runner.invoke(args=["import", "news", str(folder)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["import", "news", "-"], input='{"id": "s1", "text": "From stdin."}\n')
    assert result.exit_code == 0, result.output
    with app.app_context():
        got = {a.external_id: (a.title, a.meta) for a in db.session.scalars(select(Article))}
    assert got == {"one": ("Headline", {}), "c1": ("T", {"desk": "metro"}), "s1": ("", {})}


def test_import_refuses_a_csv_row_of_fewer_or_more_cells_than_the_header_naming_both_counts(app, runner, tmp_path):
    """A short row said "missing 'text' (the line has 'id', 'meta')" of a file whose header has 'text'."""
    make_project(runner)
    short, long = tmp_path / "short.csv", tmp_path / "long.csv"
    short.write_text("id,title,text\nc1,T,Body.\nc2,Only a title\n")
    long.write_text("id,title,text\nc3,T,Body, with a comma.\n")
    result = runner.invoke(args=["import", "news", str(short), str(long)])
    assert result.exit_code == 1
    assert f"{short}:3: the row has 2 cells where the header has 3" in result.output, result.output
    assert f"{long}:2: the row has 4 cells where the header has 3" in result.output, result.output
    assert "missing" not in result.output
    assert count(app, Article) == 0


def test_import_into_unknown_project(runner, tmp_path):
    result = runner.invoke(args=["import", "nope", str(tmp_path)])
    assert result.exit_code == 1 and "no project named 'nope'" in result.output


@pytest.mark.parametrize("name", ["border_talks.txt", "river_flood_crlf.txt"])
def test_segment_command_on_our_own_articles(runner, name):
    """The project's own articles (tests/data/articles, one LF, one CRLF with a BOM): runs from a plain clone."""
    path = DATA / "articles" / name
    text = path.read_bytes().decode("utf-8-sig")
    expected = json.loads((DATA / "articles_expected.json").read_text(encoding="utf-8"))[name]
    result = runner.invoke(args=["segment", str(path)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert all(text[r["start"]:r["end"]] == r["text"] for r in rows)
    assert [r["text"] for r in rows] == expected
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert rows[0]["text"] == lines[0] and rows[1]["text"] == lines[1]  # title, byline


@pytest.mark.parametrize(
    "path,rank,ellipsis",
    [pytest.param(DATA / "articles" / "border_talks.txt", "Maj.-Gen. Viktor Aalto", "border…is the first thing on our list", id="own")]
    + ([pytest.param(CORPUS / "news_russia_israel.txt", "Maj.-Gen. Aharon Haliva", "State of Israel…is one of the top priorities of Russia", id="shared")]
       if (CORPUS / "news_russia_israel.txt").exists() else []),
)
def test_segment_command_on_the_shared_article(runner, path, rank, ellipsis):
    """Our own article always; the shared one as a cross-check when ../shared is present."""
    text = path.read_bytes().decode("utf-8-sig")
    result = runner.invoke(args=["segment", str(path)])
    assert result.exit_code == 0
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert all(text[r["start"]:r["end"]] == r["text"] for r in rows)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    assert rows[0]["text"] == lines[0] and rows[1]["text"] == lines[1]  # title, byline
    assert any(rank in r["text"] for r in rows)
    assert any(ellipsis in r["text"] for r in rows)


def test_assign_is_balanced_and_idempotent(app, runner, tmp_path):
    make_project(runner)
    for name in ("a1", "a2", "a3"):
        runner.invoke(args=["users", "create", name, "--password-stdin"], input="longenough\n")
    path = jsonl(tmp_path / "x.jsonl", [{"id": f"n{i}", "text": f"Text {i}."} for i in range(6)])
    runner.invoke(args=["import", "news", path])
    result = runner.invoke(args=["assign", "news", "--per-article", "2"])  # nobody is a member of news yet
    assert result.exit_code == 1 and "projects members news --add" in result.output
    assert runner.invoke(args=["projects", "members", "news", "--add", "a1", "a2", "a3"]).exit_code == 0
    result = runner.invoke(args=["assign", "news", "--per-article", "2"])
    assert result.exit_code == 0 and "12 new assignments" in result.output
    assert "0 new assignments" in runner.invoke(args=["assign", "news", "--per-article", "2"]).output
    with app.app_context():
        per_user = dict(db.session.execute(select(Assignment.user_id, func.count()).group_by(Assignment.user_id)).all())
        per_article = set(dict(db.session.execute(select(Assignment.article_id, func.count()).group_by(Assignment.article_id)).all()).values())
    assert sorted(per_user.values()) == [4, 4, 4] and per_article == {2}
    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles", "n0", "n1", "missing"])
    assert result.exit_code == 1 and "no article with id 'missing'" in result.output


def test_assign_by_hand_takes_ids_with_spaces_one_per_argument_from_a_file_or_stdin(app, runner, tmp_path):
    """An article id is one argument, spaces and all; many ids come from a file or stdin, one per line."""
    make_project(runner)
    runner.invoke(args=["users", "create", "a1", "--password-stdin"], input="longenough\n")
    ids = ["Budget story 2024", "Éire: the vote", "plain", "tab\tinside", "last one"]
    path = jsonl(tmp_path / "x.jsonl", [{"id": x, "text": f"Text {i}."} for i, x in enumerate(ids)])
    assert runner.invoke(args=["import", "news", path]).exit_code == 0

    def assigned() -> set[str]:
        with app.app_context():
            return set(db.session.scalars(select(Article.external_id).join(Assignment, Assignment.article_id == Article.id)))

    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles", "Budget story 2024", "plain"])
    assert result.exit_code == 0, result.output
    assert "2 new assignments" in result.output and assigned() == {"Budget story 2024", "plain"}
    # the old space-separated form names one id, and the error says how to name several
    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles", "plain last"])
    assert result.exit_code == 1 and "no article with id 'plain last'" in result.output
    assert "each id its own argument" in result.output and result.output.strip().count("\n") == 0
    # ... but when every part of it is an id (and the whole is none), it names those ids, as it did for older scripts
    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles", " plain  Budget story 2024 ", "Éire: the vote"])
    assert result.exit_code == 1 and "no article with id 'plain  Budget story 2024'" in result.output  # 'Budget' is no id
    runner.invoke(args=["import", "news", jsonl(tmp_path / "y.jsonl", [{"id": "n1", "text": "One."}, {"id": "n2", "text": "Two."}])])
    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles", "n1 n2\tlast one"])
    assert result.exit_code == 1 and "no article with id" in result.output  # 'last' and 'one' are no ids
    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles", "n1 n2"])
    assert result.exit_code == 0 and "2 new assignments" in result.output, result.output
    assert {"n1", "n2"} <= assigned()
    listing = tmp_path / "ids.txt"
    listing.write_text("Éire: the vote\r\n\n  tab\tinside  \n", encoding="utf-8")
    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles-from", str(listing)])
    assert result.exit_code == 0, result.output
    assert "2 new assignments" in result.output and "Éire: the vote" in assigned() and "tab\tinside" in assigned()
    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles-from", "-"], input="last one\nplain\n")
    assert result.exit_code == 0 and "1 new assignment" in result.output, result.output
    assert assigned() == set(ids) | {"n1", "n2"}
    # a listing that is not UTF-8 or names nothing: one line, nothing assigned
    bad = tmp_path / "latin.txt"
    bad.write_bytes("Caf\u00e9\n".encode("latin-1"))
    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles-from", str(bad)])
    assert result.exit_code == 1 and f"{bad}:1: not UTF-8" in result.output
    result = runner.invoke(args=["assign", "news", "--user", "a1", "--articles-from", "-"], input="\n \n")
    assert result.exit_code == 1 and "--user needs article ids" in result.output


@pytest.mark.parametrize(
    "args",
    [
        [b"assign", b"p", b"--user", b"a1", b"--articles", b"\xff"],
        [b"users", b"create", b"caf\xe9", b"--password-stdin"],
        [b"import", b"p\xc3", b"x.jsonl"],
    ],
)
def test_arguments_that_are_not_utf8_get_one_line_not_a_traceback(tmp_path, args):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3", "SECRET_KEY": "x"}
    from .conftest import add_user, make_app

    app = make_app(env["DATABASE_URL"])
    with app.app_context():
        from annotator.domain import projects

        projects.create_project(db.session, "p")
        db.session.commit()
    add_user(app, "a1")
    with app.app_context():
        db.engine.dispose()
    (tmp_path / "x.jsonl").write_text('{"id": "a", "text": "One."}\n')
    args = [tmp_path.as_posix().encode() + b"/" + a if a == b"x.jsonl" else a for a in args]
    result = subprocess.run([sys.executable.encode(), b"-m", b"annotator", *args], env=env, capture_output=True, timeout=60, input=b"longenough\n")
    err = result.stderr.decode("utf-8", "replace")
    assert result.returncode != 0
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "not valid UTF-8" in err


def test_a_command_the_cli_suggests_quotes_the_project_name(app, runner):
    """Was `annotator assign Rent news --rebalance`: two arguments when pasted into a shell."""
    assert runner.invoke(args=["projects", "create", "Rent news"]).exit_code == 0
    runner.invoke(args=["users", "create", "a1", "--role", "annotator", "--password-stdin"], input="longenough\n")
    assert runner.invoke(args=["projects", "members", "Rent news", "--add", "a1"]).exit_code == 0
    result = runner.invoke(args=["projects", "members", "Rent news", "--remove", "a1"])
    assert result.exit_code == 0 and "(`annotator assign 'Rent news' --rebalance` hands" in result.output
    result = runner.invoke(args=["assign", "Rent news", "--per-article", "1"])
    assert result.exit_code != 0 and "`annotator projects members 'Rent news' --add NAME ...`" in result.output
    result = runner.invoke(args=["suggest", "evaluate", "Rent news", "--against", "gold"])
    assert result.exit_code != 0 and "run `annotator suggest run 'Rent news'` first" in result.output


def test_projects_members_add_remove_and_list(app, runner, tmp_path):
    make_project(runner)
    make_project(runner, "sport")
    for name, role in (("a1", "annotator"), ("a2", "annotator"), ("a3", "annotator"), ("rev", "reviewer"), ("root", "admin")):
        runner.invoke(args=["users", "create", name, "--role", role, "--password-stdin"], input="longenough\n")
    result = runner.invoke(args=["projects", "members", "news", "--add", "a1", "a2", "rev"])
    assert result.exit_code == 0, result.output
    assert "added a1, a2, rev to news" in result.output
    assert runner.invoke(args=["projects", "members", "sport", "--add", "a3"]).exit_code == 0
    listing = runner.invoke(args=["projects", "members", "news"])
    assert listing.exit_code == 0 and listing.output.splitlines() == ["a1\tannotator\tactive", "a2\tannotator\tactive", "rev\treviewer\tactive"]
    # balanced assignment draws on news's annotators only
    path = jsonl(tmp_path / "x.jsonl", [{"id": f"n{i}", "text": f"Text {i}."} for i in range(3)])
    runner.invoke(args=["import", "news", path])
    assert "6 new assignments" in runner.invoke(args=["assign", "news", "--per-article", "3"]).output
    with app.app_context():
        names = set(db.session.scalars(select(User.name).join(Assignment, Assignment.user_id == User.id)))
    assert names == {"a1", "a2"}
    # add and remove in one go; then re-balancing hands a2's unstarted work to the members left
    result = runner.invoke(args=["projects", "members", "news", "--remove", "a2", "--add", "a3"])
    assert result.exit_code == 0, result.output
    assert "added a3 to news" in result.output and "removed a2 from news" in result.output and "--rebalance" in result.output
    assert runner.invoke(args=["assign", "news", "--rebalance"]).exit_code == 0
    with app.app_context():
        names = set(db.session.scalars(select(User.name).join(Assignment, Assignment.user_id == User.id)))
    assert names == {"a1", "a3"}
    # refusals: one line each, nothing changed
    for args, message in (
        (["--add", "nobody"], "no user named 'nobody'"),
        (["--add", "a1", "root"], "root is an admin"),
        (["--remove", "a2"], "a2 is not a member of news"),
        (["a1"], "names follow --add or --remove"),
        (["--add"], "--add needs at least one user name"),
        (["--ad", "a1"], "no such option --ad"),
    ):
        result = runner.invoke(args=["projects", "members", "news", *args])
        assert result.exit_code != 0 and message in result.output, (args, result.output)
        assert result.output.strip().count("\n") == 0, result.output
    assert runner.invoke(args=["projects", "members", "news"]).output.splitlines() == [
        "a1\tannotator\tactive", "a3\tannotator\tactive", "rev\treviewer\tactive"]
    assert "no project named 'nope'" in runner.invoke(args=["projects", "members", "nope"]).output


def test_demo_is_idempotent(database_uri):
    from .conftest import make_app

    app = make_app(database_uri, create=False)  # the demo migrates the empty database itself
    runner = app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(args=["demo", "--no-serve"])
        assert result.exit_code == 0, result.output
    assert "alice" in result.output and "annotator" in result.output
    assert count(app, Project) == 1
    assert count(app, Article) == 4
    assert count(app, Assignment) == 8
    with app.app_context():
        db.engine.dispose()


def test_demo_on_a_port_in_use_says_how_to_serve_on_another_and_sets_nothing_up(database_uri):
    """The README's first command on a machine where port 5000 is taken: werkzeug only said "start the server with a
    different port", after the demo had printed "serving on ..." and the passwords a rerun no longer prints."""
    import socket

    from .conftest import make_app

    app = make_app(database_uri, create=False)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        result = app.test_cli_runner().invoke(args=["demo", "--port", str(port)])
    assert result.exit_code == 1, result.output
    assert f"annotator demo --port {port + 1}" in result.output, result.output
    assert "serving on" not in result.output and "demo users" not in result.output
    with app.app_context():
        db.engine.dispose()


def _demo_passwords(output: str) -> dict[str, str]:
    """{name: password} for the users a demo run printed a new password for."""
    import re

    return dict(re.findall(r"^\s+(\S+)\s+(?:admin|reviewer|annotator)\s+(\S+)$", output, re.M))


def test_demo_rerun_keeps_existing_users_passwords(database_uri):
    """Running `annotator demo` again must not lock out people who already use the demo accounts."""
    from .conftest import make_app

    app = make_app(database_uri, create=False)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "--no-serve"])
    assert first.exit_code == 0, first.output
    passwords = _demo_passwords(first.output)
    assert set(passwords) == {"admin", "reviewer", "alice", "bob"}
    with app.app_context():
        bob = db.session.scalar(select(User).where(User.name == "bob"))
        db.session.delete(bob)  # a demo user someone removed: the next run makes it again, with a new password
        db.session.commit()
    second = runner.invoke(args=["demo", "--no-serve"])
    assert second.exit_code == 0, second.output
    assert "existing users keep their passwords" in second.output
    assert set(_demo_passwords(second.output)) == {"bob"}
    with app.app_context():
        for name in ("admin", "reviewer", "alice"):
            user = db.session.scalar(select(User).where(User.name == name))
            assert user.check_password(passwords[name]), f"{name}'s password was reset"
        db.session.remove()
        db.engine.dispose()


def test_demo_says_it_is_for_local_use_only(database_uri):
    """--no-serve serves nothing: it printed that it serves on Flask's development server all the same."""
    from .conftest import make_app

    app = make_app(database_uri, create=False)
    result = app.test_cli_runner().invoke(args=["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    assert "for local use only" in result.output and "not served (--no-serve)" in result.output
    assert "serves on" not in result.output and "serving on" not in result.output and "development server" not in result.output
    with app.app_context():
        db.engine.dispose()


def test_readme_quick_start_makes_a_virtual_environment_and_ci_runs_its_second_command():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    readme = (root / "README.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0].strip() for b in readme.split("```sh\n")[1:3]]
    assert readme.split("```sh\n")[0].strip() == "# annotator", "the README opens with the two commands"
    first, second = blocks
    assert first.startswith("python3 -m venv .venv && . .venv/bin/activate && ") and first.endswith("annotator demo")
    assert "keeps that terminal" in readme and "second terminal" in readme and ". .venv/bin/activate" in readme
    run = (root / ".ci" / "run").read_text(encoding="utf-8").strip().splitlines()
    assert second in run, "`.ci/run` must run the README's second command exactly"


def test_readme_says_the_proxy_is_a_security_control():
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    deployment = readme.split("## Deployment", 1)[1].split("\n## ", 1)[0]
    assert "security control" in deployment and "slow clients" in deployment


def test_console_script_runs_outside_the_test_client(tmp_path):
    """The installed `annotator` entry point, as a user types it."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/cli.sqlite3", "SECRET_KEY": "x"}
    run = lambda *args, **kw: subprocess.run([sys.executable, "-m", "annotator", *args], env=env, capture_output=True, text=True, timeout=60, **kw)  # noqa: E731
    assert run("init").returncode == 0
    assert run("projects", "create", "p").returncode == 0
    result = run("segment", "-", input="One sentence. Two sentences.")
    assert [json.loads(x)["text"] for x in result.stdout.splitlines()] == ["One sentence.", "Two sentences."]
    result = run("import", "p", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"{tmp_path}/missing.jsonl: cannot read: No such file or directory"


def test_demo_serves_the_demo_project(tmp_path):
    """The README's first command: `annotator demo` sets up and answers on its port with the demo project listed."""
    import re
    import socket
    import time

    import requests

    def start(attempt: int) -> tuple[subprocess.Popen, int, Path]:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path}/demo-{attempt}.sqlite3", "SECRET_KEY": "x"}
        log = tmp_path / f"demo-{attempt}.log"
        with open(log, "w") as out:
            process = subprocess.Popen([sys.executable, "-m", "annotator", "demo", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
        return process, port, log

    server, port, log = start(0)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        attempt = 0
        while True:
            if server.poll() is not None and "already in use" in log.read_text() and attempt < 3:
                # another test process took the free port between the probe and the demo's bind: another port
                attempt += 1
                server, port, log = start(attempt)
                base = f"http://127.0.0.1:{port}"
            assert server.poll() is None, f"demo exited: {log.read_text()}"
            try:
                if requests.get(f"{base}/healthz", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        password = re.search(r"^\s+admin\s+admin\s+(\S+)$", log.read_text(), re.M).group(1)
        session = requests.Session()
        token = re.search(r'name="csrf-token" content="([^"]+)"', session.get(f"{base}/login", timeout=5).text).group(1)
        home = session.post(f"{base}/login", data={"name": "admin", "password": password, "csrf_token": token}, timeout=10)
        assert home.status_code == 200 and "Demo: check-worthy claims" in home.text
    finally:
        server.terminate()
        server.wait(10)


def test_commands_take_a_project_name_or_id(app, runner, tmp_path):
    make_project(runner, "news")
    path = jsonl(tmp_path / "a.jsonl", [{"id": "a", "text": "One. Two."}])
    with app.app_context():
        project_id = db.session.scalar(select(Project.id))
    assert runner.invoke(args=["import", str(project_id), path]).exit_code == 0
    result = runner.invoke(args=["export", str(project_id), "--unit", "article"])
    assert result.exit_code == 0 and '"id":"a"' in result.output.replace(" ", "")
    assert "no project named '999'" in runner.invoke(args=["export", "999"]).output
    for command in (["export", "99999999999"], ["agreement", "99999999999"], ["import", "99999999999", path]):
        result = runner.invoke(args=command)  # past a 32-bit id: still "no project", not a database error
        assert result.exit_code == 1 and "no project named '99999999999'" in result.output, command


@pytest.mark.parametrize("args", [
    ["projects", "create", "caf\udce9"],  # the bytes b"caf\xe9" as Python hands a non-UTF-8 argument over
    ["import", "news", "file-\udcff.jsonl"],
    ["users", "create", "x\udc80", "--role", "annotator", "--password-stdin"],
])
def test_cli_arguments_that_are_not_utf8_are_one_line_errors(app, args):
    from click.testing import CliRunner

    from annotator.cli import AnnotatorGroup

    before = {model: _count(app, model) for model in (Project, User)}
    result = CliRunner().invoke(AnnotatorGroup(create_app=lambda: app), args, input="a long password\n")
    assert result.exit_code != 0 and not isinstance(result.exception, UnicodeError), result.output
    assert "Traceback" not in result.output
    assert "not valid UTF-8" in result.output and len(result.output.strip().splitlines()) == 1, result.output
    assert {model: _count(app, model) for model in (Project, User)} == before


def test_guidelines_file_with_a_nul_is_refused(app, runner, tmp_path):
    path = tmp_path / "g.md"
    path.write_bytes(b"# Guidelines\x00 here")
    result = runner.invoke(args=["projects", "create", "g", "--guidelines", str(path)])
    assert result.exit_code == 1 and f"{path}: the guidelines contains a NUL character" in result.output, result.output
    assert _count(app, Project) == 0


def _count(app, model) -> int:
    from sqlalchemy import func

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize("args", [
    ["projects", "create", "huge", "--annotators-per-article", str(10**30)],
    ["projects", "create", "huge", "--majority", "1e400"],
    ["projects", "create", "huge", "--majority", "nan"],
])
def test_oversized_numbers_in_cli_options_are_one_line_errors(app, runner, args):
    result = runner.invoke(args=args)
    assert result.exit_code in (1, 2) and result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output and "Error" in result.output, result.output
    assert _count(app, Project) == 0


def test_oversized_per_article_in_assign_is_a_one_line_error(app, runner):
    make_project(runner)
    result = runner.invoke(args=["assign", "news", "--per-article", str(10**30)])
    assert isinstance(result.exception, (SystemExit, type(None))) and result.exit_code in (1, 2), repr(result.exception)
    assert "Error" in result.output and "Traceback" not in result.output, result.output


@pytest.mark.parametrize("name", ["\u00b2", "9" * 5000])
def test_a_project_named_by_digits_int_cannot_read_is_not_found_not_a_traceback(app, runner, name):
    """get_project reads an all-digit name as an id: '²' passes isdigit() and fails int(), as do 5000 digits."""
    result = runner.invoke(args=["projects", "schema", name])
    assert result.exit_code != 0 and (result.exception is None or isinstance(result.exception, SystemExit)), result.exception
    assert "no project named" in result.output


@pytest.mark.parametrize("args", [["projects", "list"], ["users", "list"], ["projects", "schema", "p"], ["export", "p"], ["agreement", "p"],
                                  ["users", "create", "ann", "--role", "annotator", "--password-stdin"]])
def test_a_command_on_a_database_file_that_does_not_exist_creates_nothing(tmp_path, args):
    """Found by a newcomer: `annotator projects list` before `annotator init` left an empty SQLite file behind
    and then blamed a missing schema. Only the commands that create the database (init, db upgrade, demo) may create it."""
    path = tmp_path / "none.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"}
    result = subprocess.run([sys.executable, "-m", "annotator", *args], env=env, capture_output=True, text=True, timeout=60,
                            input="a long password\n")
    assert result.returncode == 1, result
    assert result.stderr.strip().splitlines() == [f"Error: no database at {path}; run `annotator init`"], result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_command_that_needs_no_database_runs_without_one_and_creates_nothing(tmp_path):
    """The refusal above waits for a connection: `segment` never opens one, so it runs where the file is missing.
    Once here, not in each case above, where it was the same process on the same empty folder six times."""
    path = tmp_path / "none.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"}
    segmented = subprocess.run([sys.executable, "-m", "annotator", "segment", "-"], env=env, capture_output=True, text=True, timeout=60,
                               input="One. Two.")
    assert segmented.returncode == 0 and len(segmented.stdout.splitlines()) == 2, segmented
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("args", [["db", "current"], ["db", "downgrade"], ["db", "stamp", "head"], ["db", "check"],
                                  ["db", "history", "--indicate-current"]])
def test_a_db_subcommand_other_than_upgrade_on_a_database_file_that_does_not_exist_creates_nothing(tmp_path, args):
    """Found by a newcomer: the whole `db` group was let through the missing-file check, so `annotator db current`
    left an empty SQLite file behind (and `db stamp head` one that claimed the newest schema without any table, which
    `annotator init` then took as up to date). Only `db upgrade` makes a database; the others refuse as every command does."""
    path = tmp_path / "none.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"}
    result = subprocess.run([sys.executable, "-m", "annotator", *args], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result
    assert result.stderr.strip().splitlines() == [f"Error: no database at {path}; run `annotator init`"], result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("launcher", [["-m", "annotator"], ["-m", "flask", "--app", "annotator"]])
def test_shell_on_a_database_file_that_does_not_exist_refuses_before_its_prompt(tmp_path, launcher):
    """Flask's `shell` is the group's own command, which skipped the missing-file check: a query typed into it
    created an empty SQLite file and answered from it, exit 0. It now refuses as the other commands do."""
    path = tmp_path / "none.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"}
    typed = "from annotator.db import db; from sqlalchemy import text; print(db.session.execute(text('select 1')).all())\n"
    result = subprocess.run([sys.executable, *launcher, "shell"], env=env, capture_output=True, text=True, timeout=60, input=typed)
    assert result.returncode == 1, result
    assert result.stderr.strip().splitlines() == [f"Error: no database at {path}; run `annotator init`"], result.stderr
    assert "[(1,)]" not in result.stdout and list(tmp_path.iterdir()) == []
    made = subprocess.run([sys.executable, "-m", "annotator", "init"], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0, made
    typed = "from annotator.db import db; from sqlalchemy import text; print(db.session.execute(text('select count(*) from users')).all())\n"
    result = subprocess.run([sys.executable, *launcher, "shell"], env=env, capture_output=True, text=True, timeout=60, input=typed)
    assert result.returncode == 0 and "[(0,)]" in result.stdout, result  # on a database that is there, the shell works


def test_db_upgrade_still_makes_a_database_from_nothing(tmp_path):
    path = tmp_path / "new.sqlite3"
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"}
    made = subprocess.run([sys.executable, "-m", "annotator", "db", "upgrade"], env=env, capture_output=True, text=True, timeout=60)
    assert made.returncode == 0 and path.exists(), made
    listed = subprocess.run([sys.executable, "-m", "annotator", "db", "current"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0 and "(head)" in listed.stdout, listed


@pytest.mark.parametrize(("revisions", "refused"), [("head", "0007"), ("0009:0010", "0010")])
def test_an_sql_script_of_a_revision_that_repairs_rows_is_refused_in_one_line(tmp_path, revisions, refused):
    """Found by the attacker: `annotator db upgrade --sql` (Alembic's offline mode, a script for a DBA) ended in an
    AttributeError traceback inside 0007, whose repair reads rows that a script has none of (0010's merge too). The
    revisions that only change the schema still make a script."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "SECRET_KEY": "x"}
    run = functools.partial(subprocess.run, env=env, capture_output=True, text=True, timeout=60)
    result = run([sys.executable, "-m", "annotator", "db", "upgrade", revisions, "--sql"])
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if "Error:" in line]
    assert len(errors) == 1 and f"revision {refused} " in errors[0] and "SQL script (--sql)" in errors[0], result.stderr
    schema_only = run([sys.executable, "-m", "annotator", "db", "upgrade", "0006", "--sql"])
    assert schema_only.returncode == 0 and "CREATE TABLE staged_imports" in schema_only.stdout, schema_only
    assert list(tmp_path.iterdir()) == []


def test_the_web_apps_engine_has_no_missing_file_check(tmp_path):
    """The missing-file check is the command line's: the app as gunicorn's workers build it (create_app) has no
    listener on its engine, where it could only ever do nothing; looking a command up attaches it, and the command
    is then refused."""
    path = tmp_path / "none.sqlite3"
    app = make_app(f"sqlite:///{path}", create=False)
    with app.app_context():
        engine = db.engine
    assert len(engine.dialect.dispatch.do_connect) == 0 and not getattr(engine, "_annotator_refuses_missing", False)
    result = app.test_cli_runner().invoke(args=["projects", "list"])
    assert result.exit_code == 1 and result.output.strip() == f"Error: no database at {path}; run `annotator init`", result.output
    assert len(engine.dialect.dispatch.do_connect) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_sqlite_uri_is_left_to_sqlite(tmp_path):
    """`sqlite:///file:...?uri=true` names a file with SQLite's own options (mode=ro, ...): its path is not a file
    name to look for, so the missing-file check stays out of its way."""
    from sqlalchemy import create_engine

    from annotator.cli import refuse_missing_sqlite

    engine = create_engine(f"sqlite:///file:{tmp_path / 'a.sqlite3'}?mode=rwc&uri=true")
    refuse_missing_sqlite(engine)
    assert not getattr(engine, "_annotator_refuses_missing", False)
    file_engine = create_engine(f"sqlite:///{tmp_path / 'b.sqlite3'}")
    refuse_missing_sqlite(file_engine)
    assert file_engine._annotator_refuses_missing


def test_a_sqlite_path_that_cannot_be_looked_at_is_a_one_line_error_not_a_traceback(tmp_path):
    """Found by the session attacker: the missing-file check's stat raised where the path cannot be looked at (a name
    too long, a folder without search permission) and the command ended in an OSError traceback; before the check,
    SQLite's own one-line "unable to open database file". Such a path is now left to SQLite, which says so (and the
    line names the file)."""
    path = tmp_path / ("x" * 300 + ".sqlite3")
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{path}", "SECRET_KEY": "x"}
    result = subprocess.run([sys.executable, "-m", "annotator", "projects", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result
    assert result.stderr.strip().splitlines() == [f"Error: cannot open the database file {path} (unable to open database file); "
                                                  "check DATABASE_URL and that its folder can be written"], result.stderr
    assert list(tmp_path.iterdir()) == []


def test_a_name_taken_between_the_check_and_the_insert_is_a_one_line_error_not_a_traceback(runner, monkeypatch):
    """A command checks a name is free and then inserts it; another admin's request (the REST API, the admin pages)
    that took the name in between made the insert fail on the unique key: an IntegrityError traceback. It is one
    line now, as a REST request's 409 says, and nothing of the command stays. The check is skipped here to stand for
    the name taken in between."""
    from annotator.domain import projects

    assert runner.invoke(args=["projects", "create", "news"]).exit_code == 0
    monkeypatch.setattr(projects, "find_project", lambda session, name: None)
    result = runner.invoke(args=["projects", "create", "news"])
    assert isinstance(result.exception, SystemExit) and result.exit_code == 1, (result.output, result.exception)
    assert result.output.startswith("Error: another change to the same data was made meanwhile"), result.output
    assert result.output.strip().endswith("nothing was changed: run the command again"), result.output
    monkeypatch.undo()
    assert [line.split()[0] for line in runner.invoke(args=["projects", "list"]).output.splitlines()] == ["news"]


def _readme_commands() -> list[str]:
    """Each `annotator ...` form in README's command table."""
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    table = readme.split("## The command line", 1)[1].split("\n\n", 3)[2]
    return [form for row in table.splitlines()[2:] for form in re.findall(r"`(annotator [^`]*)`", row.split(" | ")[0])]


def test_every_help_names_the_options_and_values_readme_gives_them(runner):
    """`assign --help` showed `PROJECT [ID]...` and `--articles TEXT` where README has `--articles ID...`,
    and `--group TEXT`, `--suggester TEXT`, `-o TEXT`, `--expires-days INTEGER RANGE` drifted likewise."""
    import re

    forms = _readme_commands()
    assert len(forms) > 20, forms
    for form in forms:
        words = form.split()[1:]
        path = words[: next(i for i, w in enumerate([*words, "-"]) if not re.fullmatch(r"[a-z][a-z-]*", w))]
        result = runner.invoke(args=[*path, "--help"])
        assert result.exit_code == 0, (form, result.output)
        shown = " ".join(result.output.split())  # a long usage line wraps
        for option, value in re.findall(r"(--[a-z-]+)(?: ([A-Z][A-Z|.-]*)(?=[] ]|$))?", form):
            assert option in shown, (form, option)
            if value:  # a placeholder (NAME, N, ID..., FILE|-): the help shows the same one
                assert re.search(rf"{option} {re.escape(value)}(?![\w.|-])", shown), (form, f"{option} {value}", result.output)
        assert "[ID]..." not in result.output.splitlines()[0], (form, result.output)


def test_assign_usage_is_what_it_takes_and_ids_without_articles_are_refused(app, runner):
    """Ids given with no --articles before them were taken silently, though neither README nor the help said so."""
    assert runner.invoke(args=["assign", "--help"]).output.startswith("Usage: annotator assign [OPTIONS] PROJECT [--articles ID...]\n")
    assert runner.invoke(args=["suggest", "run", "--help"]).output.startswith("Usage: annotator suggest run [OPTIONS] PROJECT [--articles ID...]\n")
    make_project(runner, "news")
    assert runner.invoke(args=["users", "create", "a1", "--role", "annotator", "--password-stdin"], input="pw-123456789\n").exit_code == 0
    result = runner.invoke(args=["assign", "news", "--user", "a1", "n0", "n1"])
    assert result.exit_code != 0 and "article ids follow --articles (got 'n0')" in result.output, result.output
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Assignment)) == 0


def test_import_annotations_help_gives_the_suggester_version_default_once(runner):
    """The help said "(default: a Label Studio prediction's model_version, else 'imported')", then "[default: imported]"."""
    shown = " ".join(runner.invoke(args=["import-annotations", "--help"]).output.split())
    assert "model_version, else 'imported')" in shown and "[default: imported]" not in shown


@pytest.mark.parametrize("where, extra", [
    ("in_the_way/out.jsonl", []),  # a file where the folder would go
    ("in_the_way/splits/", ["--split", "train=0.5,test=0.5"]),
    ("in_the_way/citron/", ["--format", "citron"]),
    ("in_the_way/ls.json", ["--format", "label-studio"]),
])
def test_an_export_it_cannot_write_is_one_line_naming_the_file(app, runner, tmp_path, where, extra):
    """`export -o` into a folder that cannot be made (or, likewise, no permission, a full disk) was a traceback ending
    in FileNotFoundError on the .part file; it is one line naming what was asked for, exit 1, and no file is left."""
    from click.testing import CliRunner

    from annotator.cli import AnnotatorGroup

    make_project(runner)
    assert runner.invoke(args=["import", "news", jsonl(tmp_path / "a.jsonl", [{"id": "a1", "text": "One. Two."}])]).exit_code == 0
    (tmp_path / "in_the_way").write_text("a file, not a folder")
    before = sorted(tmp_path.rglob("*"))
    for result in (runner.invoke(args=["export", "news", "-o", str(tmp_path / where), *extra]),
                   CliRunner().invoke(AnnotatorGroup(create_app=lambda: app), ["export", "news", "-o", str(tmp_path / where), *extra])):
        assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (result.exception, result.output)
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"Error: {tmp_path / 'in_the_way'}") and "Not a directory" in lines[0], result.output
        assert ".part" not in lines[0]
    assert sorted(tmp_path.rglob("*")) == before

"""The demo: users of every role, a project with the claims preset, sample articles, balanced assignments.

`annotator demo` sets it up (idempotent) before serving; the content lives
here and in demo/articles.jsonl so the command stays a thin wrapper.
"""
from __future__ import annotations

import secrets
from importlib.resources import files

from sqlalchemy.orm import Session

from annotator.domain import accounts, assignment, labelschema, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import parse_jsonl

DEMO_PROJECT = "Demo: check-worthy claims"
DEMO_USERS = (("admin", "admin"), ("reviewer", "reviewer"), ("alice", "annotator"), ("bob", "annotator"))
DEMO_GUIDELINES = """# Labelling guidelines (demo)

Label **every sentence** with one of:

- **CFS** (key `1`): a check-worthy factual claim, one the public would want verified: numbers, costs, causes, records.
- **UFS** (key `2`): factual, but not worth checking (dates of meetings, who wrote the story).
- **NFS** (key `3`): not a factual claim: opinions, questions, promises, predictions.

Then mark **quotes** and **who said them**:

1. Select the reported words and press `q` (QUOTE).
2. Select the person or body they are attributed to and press `s` (SOURCE); the verb (*said*, *told*, *according to*) is a `c` (CUE).
3. With the quote selected, press `l` and click its source to link them. The source may be in another sentence.
"""
DEMO_ARTICLES = "demo/articles.jsonl"


def set_up_demo(session: Session) -> list[str | None]:
    """The demo users, project and articles; returns each demo user's new password (None: the user was there already).

    Users that exist are left exactly as they are (password, role, active): a
    second run must not lock out whoever already uses the demo accounts.
    """
    passwords: list[str | None] = []
    for name, role in DEMO_USERS:
        if accounts.find_user(session, name) is not None:
            passwords.append(None)
            continue
        password = secrets.token_urlsafe(9)
        accounts.create_user(session, name, role, password)
        passwords.append(password)
    project = projects.find_project(session, DEMO_PROJECT) or projects.create_project(
        session, DEMO_PROJECT, labelschema.preset("claims"), annotators_per_article=2, guidelines=DEMO_GUIDELINES
    )
    source = files("annotator") / "demo" / "articles.jsonl"
    records = parse_jsonl(source.read_text(encoding="utf-8"), DEMO_ARTICLES)
    articles.store_articles(session, project, records, DEMO_ARTICLES, on_duplicate="skip")
    people = [accounts.get_user(session, name) for name, _ in DEMO_USERS]
    projects.add_members(session, project.id, [u for u in people if u.role in ("annotator", "reviewer")])
    assignment.assign_balanced(session, project.id, project.annotators_per_article)
    return passwords

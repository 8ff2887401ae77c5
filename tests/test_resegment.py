"""Correcting segmentation: offsets of spans never move, no label vanishes, every change is audited and undoable."""
from __future__ import annotations

import pytest
from sqlalchemy import func, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import Annotation, Article, Assignment, AuditEntry, GoldLabel, Sentence, Span, User
from annotator.db.transactions import begin_write, transaction
from annotator.domain import accounts, assignment, projects, resegment
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord

from .races import deleting, postgres_only, take_turns

TEXT = (
    "The cost rose to $1.2bn 👍🏽 last year. "
    "Dr. Smith said it would fall. "
    "Critics disagree. "
    "They point to the deficit. "
    "Nobody knows."
)


@pytest.fixture
def world(app):
    """A project with one article, two annotators with labels, spans, a relation and gold labels."""
    with app.app_context():
        s = db.session
        begin_write(s)
        project = projects.create_project(s, "news")
        ann = accounts.create_user(s, "ann", "annotator", "password1")
        bob = accounts.create_user(s, "bob", "annotator", "password1")
        rev = accounts.create_user(s, "rev", "reviewer", "password1")
        articles.store_articles(s, project, [ArticleRecord("a1", "T", TEXT)], "t.jsonl")
        projects.add_members(s, project.id, [ann, bob, rev])
        assignment.assign_balanced(s, project.id, 2)
        article = s.scalar(select(Article))
        s.commit()
        ids = {"project": project.id, "article": article.id, "ann": ann.id, "bob": bob.id, "rev": rev.id}
    with app.app_context():
        s = db.session
        sentences = sentence_texts(ids["article"])
        assert sentences == ["The cost rose to $1.2bn 👍🏽 last year.", "Dr. Smith said it would fall.", "Critics disagree.", "They point to the deficit.", "Nobody knows."]
        labels = {"ann": ["CFS", "UFS", "NFS", "NFS", "NFS"], "bob": ["CFS", "UFS", "NFS", "CFS", "NFS"]}
        for who, row in labels.items():
            for index, label in enumerate(row):
                annotations.write(s, lambda who=who, index=index, label=label: annotations.put_label(s, ids[who], ids["article"], index, label, 3.5))
        begin_write(s)
        quote = Span(article_id=ids["article"], user_id=ids["ann"], label="QUOTE", start=TEXT.index("it would"), end=TEXT.index(" fall.") + 5)
        source = Span(article_id=ids["article"], user_id=ids["ann"], label="SOURCE", start=TEXT.index("Dr. Smith"), end=TEXT.index(" said"))
        s.add_all([quote, source])
        first = s.scalars(select(Sentence).where(Sentence.article_id == ids["article"]).order_by(Sentence.index)).all()
        s.commit()
        # the label writes made the automatic gold where ann and bob agree (issue 16: gold kept current by the writes)
        gold = dict(s.execute(select(GoldLabel.sentence_id, GoldLabel.label).where(GoldLabel.provenance == "unanimous")).all())
        assert gold == {first[0].id: "CFS", first[1].id: "UFS", first[2].id: "NFS", first[4].id: "NFS"}
    return ids


def sentence_texts(article_id: int) -> list[str]:
    article = db.session.get(Article, article_id)
    db.session.refresh(article)
    rows = db.session.execute(select(Sentence.start, Sentence.end).where(Sentence.article_id == article_id).order_by(Sentence.index)).all()
    return [article.text[a:b] for a, b in rows]


def snapshot(article_id: int) -> dict:
    """Everything a correction may touch, as plain values."""
    db.session.expire_all()
    sentences = db.session.execute(
        select(Sentence.id, Sentence.index, Sentence.start, Sentence.end).where(Sentence.article_id == article_id).order_by(Sentence.index)
    ).all()
    ids = [s.id for s in sentences]
    labels = db.session.execute(
        select(Annotation.id, Annotation.user_id, Annotation.sentence_id, Annotation.label, Annotation.seconds, Annotation.guidelines_version,
               Annotation.version, Annotation.needs_review, Annotation.updated_at).where(Annotation.sentence_id.in_(ids)).order_by(Annotation.id)
    ).all()
    gold = db.session.execute(
        select(GoldLabel.id, GoldLabel.sentence_id, GoldLabel.label, GoldLabel.provenance, GoldLabel.updated_at).order_by(GoldLabel.id)
    ).all()
    spans = db.session.execute(select(Span.id, Span.start, Span.end, Span.label).order_by(Span.id)).all()
    statuses = db.session.execute(select(Assignment.user_id, Assignment.status).order_by(Assignment.user_id)).all()
    return {"sentences": sentences, "labels": labels, "gold": gold, "spans": spans, "statuses": statuses}


def run(fn, *args):
    begin_write(db.session)
    try:
        result = fn(db.session, *args)
        db.session.commit()
        return result
    except Exception:
        db.session.rollback()
        raise


def labelled_indexes(article_id: int, user_id: int) -> list[int]:
    """The sentences `user_id` has labelled, as their annotation page loads them."""
    payload = annotations.article_payload(db.session, db.session.get(Article, article_id), db.session.get(User, user_id))
    return [label["sentence"] for label in payload["annotations"]["labels"]]


def sentence_id(article_id: int, index: int) -> int:
    return db.session.scalar(select(Sentence.id).where(Sentence.article_id == article_id, Sentence.index == index))


def test_split_and_merge_keep_spans_and_labels_then_undo_restores_everything(app, world):
    aid = world["article"]
    with app.app_context():
        original = snapshot(aid)
        assert all(s.status == "done" for s in original["statuses"])
        # split sentence 1 ("Dr. Smith said it would fall.") after "said" (the space is trimmed from both halves)
        cut = TEXT.index(" it would")
        split = run(resegment.split_sentence, sentence_id(aid, 1), cut, world["rev"])
        assert sentence_texts(aid)[1:3] == ["Dr. Smith said", "it would fall."]
        # merge "Critics disagree." (now 3) with "They point to the deficit." (now 4): ann NFS+NFS, bob NFS+CFS
        merge = run(resegment.merge_with_next, sentence_id(aid, 3), world["rev"])
        assert sentence_texts(aid) == [
            "The cost rose to $1.2bn 👍🏽 last year.", "Dr. Smith said", "it would fall.",
            "Critics disagree. They point to the deficit.", "Nobody knows.",
        ]
        after = snapshot(aid)
        assert after["spans"] == original["spans"]  # offsets of every span untouched
        assert [s.index for s in after["sentences"]] == list(range(5))
        text = db.session.get(Article, aid).text
        assert all(text[s.start:s.end] == text[s.start:s.end].strip() for s in after["sentences"])

        halves = {s.id for s in after["sentences"][1:3]}
        on_halves = [(r.user_id, r.label, r.needs_review) for r in after["labels"] if r.sentence_id in halves]
        assert sorted(on_halves) == sorted([(world["ann"], "UFS", True)] * 2 + [(world["bob"], "UFS", True)] * 2)
        merged = after["sentences"][3].id
        on_merged = [(r.user_id, r.label, r.needs_review, r.seconds) for r in after["labels"] if r.sentence_id == merged]
        assert on_merged == [(world["ann"], "NFS", False, 7.0)]  # same label on both parts: kept, times added
        assert merge.relabel == [{"user_id": world["bob"], "sentence_id": merged, "labels": [
            {"sentence_id": original["sentences"][2].id, "label": "NFS"}, {"sentence_id": original["sentences"][3].id, "label": "CFS"}]}]
        # bob's merged sentence is back in his queue, the labels he had given listed in the correction history; ann keeps hers
        assert labelled_indexes(aid, world["bob"]) == [0, 1, 2, 4]
        assert labelled_indexes(aid, world["ann"]) == [0, 1, 2, 3, 4]
        assert resegment.history(db.session, aid)[0]["relabel"] == merge.relabel
        statuses = dict(after["statuses"])
        assert statuses[world["ann"]] == "done" and statuses[world["bob"]] == "in_progress"

        # no label disappeared: each original (user, sentence, label) is on a current row or kept in the audit log
        entries = db.session.scalars(select(AuditEntry).where(AuditEntry.entity == "segmentation").order_by(AuditEntry.id)).all()
        assert [(e.action, e.id) for e in entries] == [("split", split.entry_id), ("merge", merge.entry_id)]
        logged = {(a["user_id"], a["sentence_id"], a["label"]) for e in entries for a in e.before["annotations"]}
        current = {(r.user_id, r.label) for r in after["labels"]}
        kept_for_relabel = {(item["user_id"], label["sentence_id"], label["label"]) for e in entries for item in e.after["relabel"] for label in item["labels"]}
        for row in original["labels"]:
            key = (row.user_id, row.sentence_id, row.label)
            assert (row.user_id, row.label) in current or key in kept_for_relabel, key
            if row.sentence_id in {s["id"] for e in entries for s in e.before["sentences"]}:
                assert key in logged
        assert entries[0].before["sentences"][0]["end"] == original["sentences"][1].end
        assert [(s["start"], s["end"]) for s in entries[0].after["sentences"]] == [(s.start, s.end) for s in after["sentences"][1:3]]

        # undo, newest first, gets the original state back exactly (ids, offsets, labels, times, versions, gold)
        run(resegment.undo, merge.entry_id, world["rev"])
        run(resegment.undo, split.entry_id, world["rev"])
        assert snapshot(aid) == original
        undos = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "undo").order_by(AuditEntry.id)).all()
        assert [u.entity_id for u in undos] == [str(merge.entry_id), str(split.entry_id)]
        assert labelled_indexes(aid, world["bob"]) == [0, 1, 2, 3, 4]
        assert all(h["undone_by"] for h in resegment.history(db.session, aid) if h["action"] in resegment.CORRECTIONS)


def test_gold_follows_a_merge_of_equal_labels_and_is_kept_in_the_log_otherwise(app, world):
    aid = world["article"]
    with app.app_context():
        first = sentence_id(aid, 0)
        split = run(resegment.split_sentence, first, TEXT.index(" last year"), world["rev"])
        # the gold of the whole sentence went (and is in the log); what is there now is the automatic gold of the labels
        # copied onto the first half, made by the correction itself (issue 16; a reader's refresh used to make it)
        assert db.session.execute(select(GoldLabel.label, GoldLabel.provenance).where(GoldLabel.sentence_id == first)).all() == [
            ("CFS", "unanimous")]
        assert split.gold_removed[0]["label"] == "CFS"
        entry = db.session.get(AuditEntry, split.entry_id)
        assert entry.after["gold_removed"][0]["label"] == "CFS" and entry.before["gold"][0]["sentence_id"] == first
        # merging the two halves back: every annotator had the same label on both: kept, still flagged for review
        merge = run(resegment.merge_with_next, first, None)
        rows = db.session.execute(select(Annotation.label, Annotation.needs_review).where(Annotation.sentence_id == first)).all()
        assert sorted(rows) == [("CFS", True), ("CFS", True)] and merge.relabel == []


def test_merge_keeps_equal_gold(app, world):
    aid = world["article"]
    with app.app_context():
        begin_write(db.session)
        db.session.add(GoldLabel(sentence_id=sentence_id(aid, 3), label="NFS", provenance="adjudicated"))
        db.session.commit()
        last_two = sentence_id(aid, 3)
        merge = run(resegment.merge_with_next, last_two, None)
        gold = db.session.execute(select(GoldLabel.sentence_id, GoldLabel.label)).all()
        # sentences 1-3 keep their automatic gold, 4 and 5 are one sentence with the reviewer's gold
        assert (last_two, "NFS") in gold and len(gold) == 4 and merge.gold_removed == []


@pytest.mark.parametrize(
    "where, message",
    [
        (lambda s: s.start, "not strictly inside"),
        (lambda s: s.end, "not strictly inside"),
        (lambda s: s.start + 1, None),
        (lambda s: TEXT.index(" it would") + 1, None),
    ],
)
def test_split_offsets_must_be_strictly_inside(app, world, where, message):
    aid = world["article"]
    with app.app_context():
        sentence = db.session.get(Sentence, sentence_id(aid, 1))
        at = where(sentence)
        if message:
            with pytest.raises(resegment.ResegmentError, match=message):
                run(resegment.split_sentence, sentence.id, at, None)
            return
        run(resegment.split_sentence, sentence.id, at, None)
        texts = sentence_texts(aid)
        assert len(texts) == 6 and all(t and t == t.strip() for t in texts)
        assert "".join(texts[1:3]).replace(" ", "") == "Dr. Smith said it would fall.".replace(" ", "")


def test_split_inside_a_run_of_whitespace_trims_both_sides(app):
    with app.app_context():
        s = db.session
        begin_write(s)
        project = projects.create_project(s, "p")
        articles.store_articles(s, project, [ArticleRecord("x", "", "A   B c.")], "x.txt")
        s.commit()
        article = s.scalar(select(Article))
        sid = sentence_id(article.id, 0)
        run(resegment.split_sentence, sid, 2, None)  # "A" | "B c."
        assert sentence_texts(article.id) == ["A", "B c."]
        with pytest.raises(resegment.ResegmentError, match="not strictly inside"):
            run(resegment.split_sentence, sid, 1, None)
        assert sentence_texts(article.id) == ["A", "B c."]


def test_split_counts_code_points_not_utf16(app, world):
    aid = world["article"]
    with app.app_context():
        at = TEXT.index(" last year")  # after the emoji with skin tone (2 code points, 4 UTF-16 units)
        run(resegment.split_sentence, sentence_id(aid, 0), at, None)
        assert sentence_texts(aid)[:2] == ["The cost rose to $1.2bn 👍🏽", "last year."]


def test_merge_of_the_last_sentence_is_refused(app, world):
    aid = world["article"]
    with app.app_context():
        with pytest.raises(resegment.ResegmentError, match="last sentence"):
            run(resegment.merge_with_next, sentence_id(aid, 4), None)


def test_undo_refuses_to_drop_later_work_and_runs_once(app, world):
    aid = world["article"]
    with app.app_context():
        split = run(resegment.split_sentence, sentence_id(aid, 1), TEXT.index(" it would"), None)
        # the annotator confirms one half: undoing now would drop that confirmation
        annotations.write(db.session, lambda: annotations.put_label(db.session, world["ann"], aid, 2, "CFS"))
        with pytest.raises(resegment.ResegmentError, match="labels on these sentences changed"):
            run(resegment.undo, split.entry_id, None)
        annotations.write(db.session, lambda: annotations.delete_label(db.session, world["ann"], aid, 2))
        with pytest.raises(resegment.ResegmentError, match="labels on these sentences changed"):
            run(resegment.undo, split.entry_id, None)

    with app.app_context():
        merge = run(resegment.merge_with_next, sentence_id(aid, 3), None)
        again = run(resegment.split_sentence, sentence_id(aid, 3), TEXT.index(" They"), None)
        with pytest.raises(resegment.ResegmentError, match="corrected again since"):
            run(resegment.undo, merge.entry_id, None)
        run(resegment.undo, again.entry_id, None)
        run(resegment.undo, merge.entry_id, None)
        with pytest.raises(resegment.ResegmentError, match="already been undone"):
            run(resegment.undo, merge.entry_id, None)
        history = resegment.history(db.session, aid)
        assert [h["action"] for h in history] == ["undo", "undo", "split", "merge", "split"]
        assert history[3]["undone_by"] == history[0]["id"]


def test_renumbering_a_long_article_keeps_indexes_unique_and_dense(app):
    with app.app_context():
        s = db.session
        begin_write(s)
        project = projects.create_project(s, "long")
        text = " ".join(f"Sentence number {i} is here." for i in range(60))
        articles.store_articles(s, project, [ArticleRecord("long", "", text)], "long.txt")
        s.commit()
        article = s.scalar(select(Article))
        corrections = []
        for index in (0, 10, 30):
            sid = sentence_id(article.id, index)
            sentence = s.get(Sentence, sid)
            corrections.append(run(resegment.split_sentence, sid, sentence.start + len("Sentence"), None))
        corrections.append(run(resegment.merge_with_next, sentence_id(article.id, 5), None))
        indexes = s.scalars(select(Sentence.index).where(Sentence.article_id == article.id).order_by(Sentence.start)).all()
        assert indexes == list(range(62))
        for correction in reversed(corrections):
            run(resegment.undo, correction.entry_id, None)
        assert sentence_texts(article.id) == [f"Sentence number {i} is here." for i in range(60)]


def test_undo_of_unknown_entry(app, world):
    with app.app_context():
        with pytest.raises(resegment.ResegmentError, match="no segmentation correction"):
            run(resegment.undo, 999999, None)


def test_a_merge_that_meets_an_annotators_batch_in_a_deadlock_is_made_not_a_500(app, world, browser, monkeypatch):
    """Found by the attacker: on PostgreSQL a correction locks the article's sentences in order, and a batch of new
    labels holds each labelled sentence's key (the labels' foreign key) in the batch's order; a batch labelling
    sentence 4, then sentence 1 while a merge of sentence 1 waited for sentence 4, deadlocked, and the merge (first
    to wait, so the one PostgreSQL ended) was a 500. Here the batch waits after its first label until the merge
    has started: the merge is retried and made, and the batch goes through too."""
    import threading
    import time

    from annotator.domain.annotations import batch

    from .conftest import add_user

    add_user(app, "adm", "admin", "password1")
    cat = add_user(app, "cat", "annotator", "password1")
    with app.app_context():
        begin_write(db.session)
        assignment.assign_to_user(db.session, world["project"], db.session.get(User, cat), ["a1"])
        db.session.commit()
        first = sentence_id(world["article"], 0)
    required, optional, put = batch.OPERATIONS["put_label"]
    browser.login("adm", "password1")
    merging, errors, answers = threading.Event(), [], {}

    def merge() -> None:
        try:
            merging.wait(30)
            answers["merge"] = browser.post(f"/segmentation/articles/{world['article']}/merge", {"sentence_id": str(first)}).status_code
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)

    def label_then_wait(s, user_id, article_id, operation):  # noqa: ANN001, ANN202
        result = put(s, user_id, article_id, operation)
        if operation["sentence_index"] == 3 and not merging.is_set():
            merging.set()
            time.sleep(0.3)  # the merge locks sentences 1-3 and waits for sentence 4 (under deadlock_timeout: the merge is the one ended)
        return result

    def labels() -> None:
        try:
            with app.app_context():
                s = db.session
                operations = [{"op": "put_label", "sentence_index": 3, "label": "CFS"}, {"op": "put_label", "sentence_index": 0, "label": "CFS"}]
                answers["batch"] = annotations.write(s, lambda: annotations.apply_changes(s, cat, world["article"], operations))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    monkeypatch.setitem(batch.OPERATIONS, "put_label", (required, optional, label_then_wait))
    threads = [threading.Thread(target=merge), threading.Thread(target=labels)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert answers["merge"] == 302 and len(answers["batch"]["results"]) == 2
    with app.app_context():
        assert sentence_texts(world["article"])[0] == "The cost rose to $1.2bn 👍🏽 last year. Dr. Smith said it would fall."


# ----------------------------------------------------------------- an article deleted while a correction runs
@pytest.mark.parametrize("correction", ["split", "merge"])
def test_an_article_deleted_during_a_correction_waits_for_it_instead_of_a_deadlock(app, world, monkeypatch, correction):
    """Found by the attacker: on PostgreSQL a correction locked the article's sentences, then (inserting a sentence,
    or its audit entry) took a key-share lock on the article row, while a delete of the article locked that row FOR
    UPDATE first and then waited for the sentences: a deadlock, which PostgreSQL broke after deadlock_timeout by
    ending one of the two (a REST delete's 500). Both lock the article row first now: the delete waits for the
    correction, then deletes the article with it."""
    postgres_only(app)
    import threading


    locked, go, errors, results = threading.Event(), threading.Event(), [], {}
    original_state = resegment._state

    def state_then_wait(session, sentences):  # noqa: ANN001, ANN202 - the correction holds its locks here
        result = original_state(session, sentences)
        if not locked.is_set():
            locked.set()
            go.wait(30)
        return result

    monkeypatch.setattr(resegment, "_state", state_then_wait)
    first = None
    with app.app_context():
        first = sentence_id(world["article"], 0)
        at = TEXT.index("last year")

    def correct() -> None:
        try:
            with app.app_context():
                s = db.session
                with transaction(s):
                    if correction == "split":
                        results["correction"] = resegment.split_sentence(s, first, at, None).action
                    else:
                        results["correction"] = resegment.merge_with_next(s, first, None).action
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(("correction", exc))
            locked.set()

    remove = deleting(app, world["project"], world["article"], results, errors, annotated_too=True)
    take_turns(app, correct, locked, go, remove, "the delete should wait for the correction")
    assert not errors, errors
    assert results == {"correction": correction, "delete": "a1"}
    with app.app_context():
        assert db.session.get(Article, world["article"]) is None
        assert db.session.scalar(select(func.count()).select_from(Sentence).where(Sentence.article_id == world["article"])) == 0


@pytest.mark.parametrize("correction", ["split", "merge", "undo"])
def test_a_correction_of_an_article_deleted_meanwhile_is_a_404_not_a_500(app, world, browser, correction):
    """The other order: the delete holds the article when an admin's correction arrives. The correction waits for
    it, then finds the article gone: a 404 page saying so, nothing stored (it was a 500: the page it showed read the
    deleted article)."""
    postgres_only(app)
    import threading

    from annotator.domain import catalog

    from .conftest import add_user

    add_user(app, "adm", "admin", "password1")
    with app.app_context():
        first = sentence_id(world["article"], 0)
        entry = None
        if correction == "undo":
            entry = run(resegment.split_sentence, first, TEXT.index("last year"), None).entry_id
    browser.login("adm", "password1")
    browser.get(f"/segmentation/articles/{world['article']}")
    deleted, go, errors, answers = threading.Event(), threading.Event(), [], {}

    def remove() -> None:
        try:
            with app.app_context():
                with transaction(db.session):
                    catalog.delete_article(db.session, world["project"], world["article"], annotated_too=True)
                    deleted.set()
                    go.wait(30)
        except BaseException as exc:  # noqa: BLE001 - reported by the main thread
            errors.append(exc)
            deleted.set()

    def correct() -> None:
        try:
            base = f"/segmentation/articles/{world['article']}"
            if correction == "split":
                response = browser.post(f"{base}/split", {"sentence_id": str(first), "position": "5"})
            elif correction == "merge":
                response = browser.post(f"{base}/merge", {"sentence_id": str(first)})
            else:
                response = browser.post(f"{base}/undo/{entry}")
            answers["status"], answers["page"] = response.status_code, response.get_data(as_text=True)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    take_turns(app, remove, deleted, go, correct, "the correction should wait for the delete")
    assert not errors, errors
    assert answers["status"] == 404, answers
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Sentence).where(Sentence.article_id == world["article"])) == 0
        assert db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.entity == "segmentation", AuditEntry.article_id == world["article"])) == (1 if correction == "undo" else 0)

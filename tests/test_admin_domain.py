"""The Flask-free pieces the admin pages stand on: uploads from bytes, re-balancing, hand assignment, project edits."""
from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

import annotator.domain.annotations as annotations
from annotator.db import db
from annotator.db.models import Article, Assignment, Span, User
from annotator.db.transactions import begin_write
from annotator.domain import accounts, assignment, labelschema, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord, IngestError, read_bytes


def test_read_bytes_parses_like_read_path_and_names_the_file_and_line():
    data = b'{"id": "a", "text": "One."}\n{"id": "b", "text": \n'
    with pytest.raises(IngestError) as err:
        read_bytes(data, "upload.jsonl")
    assert str(err.value).startswith("upload.jsonl:2: invalid JSON")
    assert [r.external_id for r in read_bytes(b"id,text\nc1,Hello.\n", "x.csv")] == ["c1"]
    assert read_bytes("\ufeffTitle\r\nBody.".encode(), "story.txt")[0].text == "Title\r\nBody."
    with pytest.raises(IngestError, match="unknown format '.docx'"):
        read_bytes(b"PK", "notes.docx")
    with pytest.raises(IngestError, match=r"latin\.txt:1: not UTF-8"):
        read_bytes("Café".encode("latin-1"), "latin.txt")


def setup_project(n_articles: int = 6, annotators: tuple[str, ...] = ("a1", "a2", "a3")) -> dict:
    s = db.session
    begin_write(s)
    project = projects.create_project(s, "news", annotators_per_article=2)
    users = {name: accounts.create_user(s, name, "annotator", "password1").id for name in annotators}
    records = [ArticleRecord(f"n{i}", "", f"Text {i}. More {i}.") for i in range(n_articles)]
    articles.store_articles(s, project, records, "x.jsonl")
    projects.add_members(s, project.id, [accounts.get_user(s, name) for name in annotators])
    s.commit()
    return {"project": project.id, **users}


def per_user(project_id: int) -> dict[str, int]:
    from annotator.db.models import User

    rows = db.session.execute(
        select(User.name, func.count()).join(Assignment, Assignment.user_id == User.id).join(Article).where(Article.project_id == project_id).group_by(User.name)
    ).all()
    return dict(rows)


def commit(fn):
    begin_write(db.session)
    result = fn()
    db.session.commit()
    return result


def test_rebalance_takes_only_unstarted_work_from_a_deactivated_annotator(app):
    with app.app_context():
        ids = setup_project()
        s = db.session
        commit(lambda: assignment.assign_balanced(s, ids["project"], 2))
        assert per_user(ids["project"]) == {"a1": 4, "a2": 4, "a3": 4}
        mine = s.scalars(select(Assignment.article_id).where(Assignment.user_id == ids["a1"]).order_by(Assignment.article_id)).all()
        annotations.write(s, lambda: annotations.put_label(s, ids["a1"], mine[0], 0, "CFS"))
        commit(lambda: s.add(Span(article_id=mine[1], user_id=ids["a1"], label="QUOTE", start=0, end=4)))
        commit(lambda: accounts.set_active(s, accounts.get_user(s, "a1"), False))

        result = commit(lambda: assignment.rebalance(s, ids["project"]))
        started = {external for _, external, _ in result.kept}
        assert len(result.removed) == 2 and len(result.kept) == 2 and result.articles_short == 0
        assert started == {s.get(Article, mine[0]).external_id, s.get(Article, mine[1]).external_id}
        counts = per_user(ids["project"])
        assert counts["a1"] == 2  # started work stays
        # every article has 2 active annotators again, loads even
        active = dict(
            s.execute(
                select(Assignment.article_id, func.count()).where(Assignment.user_id.in_([ids["a2"], ids["a3"]])).group_by(Assignment.article_id)
            ).all()
        )
        assert set(active.values()) == {2} and len(active) == 6
        again = commit(lambda: assignment.rebalance(s, ids["project"]))
        assert (len(again.removed), again.created, again.moved) == (0, 0, [])


def test_rebalance_counts_an_article_finished_by_an_annotator_who_left(app):
    """Found walking the admin pages: an annotator who had finished their articles left the project, and a re-balance
    said those articles "still have fewer than 3 annotators" and gave each to one more annotator (a fourth on an
    article three had finished). Finished work counts towards N now; started but unfinished work still does not."""
    with app.app_context():
        ids = setup_project()
        s = db.session
        commit(lambda: assignment.assign_balanced(s, ids["project"], 2))
        mine = s.scalars(select(Assignment.article_id).where(Assignment.user_id == ids["a3"]).order_by(Assignment.article_id)).all()
        done, started = mine[0], mine[1]
        annotations.write(s, lambda: annotations.put_label(s, ids["a3"], done, 0, "CFS"))
        annotations.write(s, lambda: annotations.put_label(s, ids["a3"], done, 1, "NFS"))  # every sentence of it
        annotations.write(s, lambda: annotations.put_label(s, ids["a3"], started, 0, "CFS"))  # one of two
        commit(lambda: projects.remove_members(s, ids["project"], [accounts.get_user(s, "a3")]))

        result = commit(lambda: assignment.rebalance(s, ids["project"]))
        assert sorted(k[1] for k in result.kept) == sorted(s.get(Article, a).external_id for a in (done, started))

        def annotators(article_id):
            return set(s.scalars(select(User.name).join(Assignment, Assignment.user_id == User.id).where(Assignment.article_id == article_id)))

        assert len(annotators(done)) == 2 and "a3" in annotators(done)  # a3's whole work and one more: no third
        assert annotators(started) == {"a1", "a2", "a3"}  # unfinished: two who can still finish it
        assert result.articles_short == 0


def test_rebalance_gives_a_new_annotator_a_share_of_unstarted_work(app):
    with app.app_context():
        ids = setup_project(annotators=("a1", "a2"))
        s = db.session
        commit(lambda: assignment.assign_balanced(s, ids["project"], 2))
        first = s.scalars(select(Assignment.article_id).where(Assignment.user_id == ids["a1"]).order_by(Assignment.article_id)).all()
        annotations.write(s, lambda: annotations.put_label(s, ids["a1"], first[0], 0, "CFS"))
        new = commit(lambda: accounts.create_user(s, "a3", "annotator", "password1")).id
        commit(lambda: projects.add_members(s, ids["project"], [s.get(User, new)]))  # joins the project
        result = commit(lambda: assignment.rebalance(s, ids["project"]))
        counts = per_user(ids["project"])
        assert counts == {"a1": 4, "a2": 4, "a3": 4} and len(result.moved) == 4
        assert s.scalar(select(Assignment.user_id).where(Assignment.article_id == first[0], Assignment.user_id == ids["a1"])) == ids["a1"]
        assert new in s.scalars(select(Assignment.user_id)).all()


def test_cli_assign_rebalance(app, runner):
    with app.app_context():
        ids = setup_project()
        commit(lambda: assignment.assign_balanced(db.session, ids["project"], 2))
        commit(lambda: accounts.set_active(db.session, accounts.get_user(db.session, "a3"), False))
    result = runner.invoke(args=["assign", "news", "--rebalance"])
    assert result.exit_code == 0, result.output
    assert "removed 4, kept 0 started, added 4" in result.output
    result = runner.invoke(args=["assign", "news", "--rebalance", "--user", "a1"])
    assert result.exit_code != 0 and "not both" in result.output


def test_set_article_annotators_by_hand(app):
    with app.app_context():
        ids = setup_project(n_articles=1)
        s = db.session
        article = s.scalar(select(Article.id))
        result = commit(lambda: assignment.set_article_annotators(s, article, [ids["a1"], ids["a2"]]))
        assert result.added == ["a1", "a2"]
        annotations.write(s, lambda: annotations.put_label(s, ids["a1"], article, 0, "CFS"))
        result = commit(lambda: assignment.set_article_annotators(s, article, [ids["a3"]]))
        assert (result.added, result.removed, result.kept) == (["a3"], ["a2"], ["a1"])
        reviewer = commit(lambda: accounts.create_user(s, "rev", "reviewer", "password1")).id
        with pytest.raises(assignment.AssignmentError, match="rev is a reviewer"):
            assignment.set_article_annotators(s, article, [reviewer])
        db.session.rollback()


def test_update_project_keeps_labels_in_use(app):
    with app.app_context():
        ids = setup_project(n_articles=1)
        s = db.session
        project = s.get(projects.Project, ids["project"])
        article = s.scalar(select(Article.id))
        commit(lambda: assignment.assign_to_user(s, project.id, accounts.get_user(s, "a1"), ["n0"]))
        annotations.write(s, lambda: annotations.put_label(s, ids["a1"], article, 0, "CFS"))
        with pytest.raises(projects.ProjectError, match="sentence_labels: 'CFS' already used in stored work"):
            projects.update_project(s, project, schema=labelschema.preset("checkthat"))
        s.rollback()
        schema = labelschema.preset("claims")
        schema["sentence_labels"].append({"name": "MIXED", "key": "4"})
        commit(lambda: projects.update_project(s, project, name="renamed", schema=schema, annotators_per_article=3, majority_threshold=0.66))
        s.expire_all()
        project = s.get(projects.Project, ids["project"])
        assert (project.name, project.annotators_per_article, project.majority_threshold) == ("renamed", 3, 0.66)
        assert labelschema.names(project.label_schema, "sentence_labels")[-1] == "MIXED"
        for bad, message in ((0.5, "above 0.5"), (1.01, "at most 1")):
            with pytest.raises(projects.ProjectError, match=message):
                projects.update_project(s, project, majority_threshold=bad)
        with pytest.raises(projects.ProjectError, match="annotators per article"):
            projects.update_project(s, project, annotators_per_article=0)
        s.rollback()
        json.dumps(project.label_schema)


def test_update_project_keeps_article_label_values_in_use(app):
    """A stored article-label answer keeps its values in the schema, and a group with a stored answer of several
    values stays `multiple`: dropping them made answers the schema calls impossible, which the article export
    carried and `import-annotations` of that export refused (the round trip broke)."""
    with app.app_context():
        ids = setup_project(n_articles=1)
        s = db.session
        project = s.get(projects.Project, ids["project"])
        article = s.scalar(select(Article.id))
        schema = labelschema.preset("claims")
        schema[labelschema.ARTICLE_SECTION] = [{"name": "stance", "values": ["pro", "con", "neutral"], "multiple": True}]
        commit(lambda: projects.update_project(s, project, schema=schema))
        commit(lambda: assignment.assign_to_user(s, project.id, accounts.get_user(s, "a1"), ["n0"]))
        annotations.write(s, lambda: annotations.put_article_label(s, ids["a1"], article, "stance", ["pro", "con"]))
        for values, multiple, message in (
            (["neutral", "con"], True, "article_labels: group 'stance': value 'pro' already used in stored work"),
            (["pro", "con", "neutral"], False, "article_labels: group 'stance' holds answers of several values in stored work; keep it multiple"),
        ):
            changed = labelschema.preset("claims")
            changed[labelschema.ARTICLE_SECTION] = [{"name": "stance", "values": values, "multiple": multiple}]
            with pytest.raises(projects.ProjectError, match=message):
                projects.update_project(s, project, schema=changed)
            s.rollback()
        s.expire_all()
        assert s.get(projects.Project, ids["project"]).label_schema == labelschema.validate(schema)
        # values nobody used may go, and a group with one-value answers only may stop being multiple
        annotations.write(s, lambda: annotations.put_article_label(s, ids["a1"], article, "stance", ["pro"]))
        fewer = labelschema.preset("claims")
        fewer[labelschema.ARTICLE_SECTION] = [{"name": "stance", "values": ["pro", "other"], "multiple": False}]
        commit(lambda: projects.update_project(s, s.get(projects.Project, ids["project"]), schema=fewer))


def test_chart_geometry_fills_empty_days_and_runs_a_total():
    from datetime import date, timedelta

    from annotator.domain import progress

    assert progress.chart([]) is None
    start = date(2026, 1, 1)
    chart = progress.chart([(start, 2), (start + timedelta(days=3), 4)], width=400, height=100, pad=20)
    assert [b["n"] for b in chart.bars] == [2, 0, 0, 4] and chart.total == 6 and chart.max_daily == 4
    assert chart.bars[3]["h"] == 60 and chart.bars[0]["h"] == 30 and chart.bars[1]["h"] == 0
    ys = [float(p.split(",")[1]) for p in chart.line.split()]
    assert ys[0] == 80 - 60 * 2 / 6 and ys[-1] == 20  # the running total ends at the top
    one = progress.chart([(start, 1)], width=400, height=100, pad=20)
    assert one.bars[0]["w"] == progress.MAX_BAR_WIDTH
    long = progress.chart([(start, 1), (start + timedelta(days=800), 1)])
    assert len(long.bars) == progress.MAX_CHART_DAYS and long.total == 2  # older days count in the running total


def test_labels_per_day_and_overview(app):
    with app.app_context():
        ids = setup_project(n_articles=2)
        s = db.session
        commit(lambda: assignment.assign_balanced(s, ids["project"], 2))
        article = s.scalar(select(Article.id).order_by(Article.id))
        annotations.write(s, lambda: annotations.put_label(s, ids["a1"], article, 0, "CFS"))
        annotations.write(s, lambda: annotations.put_label(s, ids["a2"], article, 0, "NFS"))
        from datetime import datetime, timezone

        from annotator.domain import progress

        days = progress.labels_per_day(s, ids["project"])
        assert days == [(datetime.now(timezone.utc).date(), 2)]
        assert progress.labels_per_day(s, ids["project"], ids["a1"])[0][1] == 1
        counts = progress.overview(s, ids["project"])
        assert (counts["articles"], counts["sentences"], counts["labels"], counts["annotators"]) == (2, 4, 2, 3)
        assert [(d["name"], d["count"]) for d in counts["distribution"]] == [("CFS", 1), ("UFS", 0), ("NFS", 1)]
        people = {p["name"]: p for p in progress.annotator_progress(s, ids["project"])}
        assert sum(p["labelled"] for p in people.values()) == 2 and sum(p["articles"] for p in people.values()) == 4
        rows = progress.article_progress(s, ids["project"], s.execute(progress.project_articles(ids["project"])).scalars().all())
        assert rows[0]["labelled"] == 2 and rows[0]["expected"] == 4 and rows[1]["labelled"] == 0


# ----------------------------------------------------------------- per-project membership
def two_projects() -> dict:
    """news: annotators a1, a2 and reviewer rev as members; sport: annotator a3; nobody else is a member."""
    s = db.session
    begin_write(s)
    news = projects.create_project(s, "news")
    sport = projects.create_project(s, "sport")
    users = {name: accounts.create_user(s, name, role, "password1") for name, role in
             (("a1", "annotator"), ("a2", "annotator"), ("a3", "annotator"), ("rev", "reviewer"), ("root", "admin"))}
    articles.store_articles(s, news, [ArticleRecord(f"n{i}", "", f"News {i}. More.") for i in range(4)], "n.jsonl")
    articles.store_articles(s, sport, [ArticleRecord(f"s{i}", "", f"Sport {i}. More.") for i in range(2)], "s.jsonl")
    assert projects.add_members(s, news.id, [users["a1"], users["a2"], users["rev"]]) == ["a1", "a2", "rev"]
    assert projects.add_members(s, sport.id, [users["a3"]]) == ["a3"]
    s.commit()
    return {"news": news.id, "sport": sport.id, **{name: u.id for name, u in users.items()}}


def test_balanced_assignment_draws_only_on_the_projects_annotators(app):
    with app.app_context():
        ids = two_projects()
        s = db.session
        result = commit(lambda: assignment.assign_balanced(s, ids["news"], 3))
        assert result.articles_short == 4  # two member annotators for three places: a3 (not a member) is never drawn
        assert per_user(ids["news"]) == {"a1": 4, "a2": 4}
        assert [u.name for u in assignment.project_annotators(s, ids["sport"])] == ["a3"]
        assert [(u.name, u.role) for u in projects.members(s, ids["news"])] == [("a1", "annotator"), ("a2", "annotator"), ("rev", "reviewer")]
        # adding a member twice changes nothing; an admin is no member (admins see every project anyway)
        assert commit(lambda: projects.add_members(s, ids["news"], [accounts.get_user(s, "a1")])) == []
        with pytest.raises(projects.ProjectError, match="root is an admin"):
            projects.add_members(s, ids["news"], [accounts.get_user(s, "root")])
        s.rollback()
        empty = commit(lambda: projects.create_project(s, "empty")).id
        with pytest.raises(assignment.AssignmentError, match="no active annotators.*projects members empty --add"):
            assignment.assign_balanced(s, empty, 1)
        s.rollback()


def test_rebalance_moves_unstarted_work_of_a_member_who_left_to_members_only(app):
    with app.app_context():
        ids = two_projects()
        s = db.session
        commit(lambda: assignment.assign_balanced(s, ids["news"], 1))
        assert per_user(ids["news"]) == {"a1": 2, "a2": 2}
        mine = s.scalars(select(Assignment.article_id).where(Assignment.user_id == ids["a2"]).order_by(Assignment.article_id)).all()
        annotations.write(s, lambda: annotations.put_label(s, ids["a2"], mine[0], 0, "CFS"))
        assert commit(lambda: projects.remove_members(s, ids["news"], [accounts.get_user(s, "a2")])) == ["a2"]
        result = commit(lambda: assignment.rebalance(s, ids["news"]))
        assert len(result.removed) == 1 and [k[0] for k in result.kept] == ["a2"]
        # a2 keeps what they started; a1, the one member left, tops every article up; a3 (sport) gets nothing
        assert per_user(ids["news"]) == {"a1": 4, "a2": 1} and result.articles_short == 4
        with pytest.raises(projects.ProjectError, match="a3 is not a member of news"):
            projects.remove_members(s, ids["news"], [accounts.get_user(s, "a3")])
        s.rollback()


def test_assigning_by_hand_makes_the_annotator_a_member(app):
    with app.app_context():
        ids = two_projects()
        s = db.session
        assert commit(lambda: assignment.assign_to_user(s, ids["news"], accounts.get_user(s, "a3"), ["n0"])) == 1
        assert "a3" in [u.name for u in assignment.project_annotators(s, ids["news"])]


def test_reviewers_open_only_their_projects_and_admins_all(app):
    with app.app_context():
        ids = two_projects()
        s = db.session
        rev, root, a1 = (accounts.get_user(s, n) for n in ("rev", "root", "a1"))
        assert projects.visible_project_ids(s, rev) == {ids["news"]}
        assert projects.visible_project_ids(s, root) is None  # every project
        assert projects.can_open(s, rev, ids["news"]) and not projects.can_open(s, rev, ids["sport"])
        assert projects.can_open(s, root, ids["sport"]) and not projects.can_open(s, a1, ids["news"])
        assert not projects.can_open(s, rev, 10**12)  # no such project: no error either


def test_adding_the_same_member_at_the_same_moment_is_one_membership_not_an_integrity_error(app):
    """Two admins (or a member add and a hand assignment) adding one person at once: on PostgreSQL both read
    'not a member yet' and the second insert was an IntegrityError (a 500 on the members page)."""
    import threading

    from annotator.db.models import ProjectMember

    with app.app_context():
        s = db.session
        project = projects.create_project(s, "Together")
        user = accounts.create_user(s, "ann")
        articles.store_articles(s, project, [ArticleRecord("a1", "T", "One sentence. Two sentences.")], "test")
        s.commit()
        project_id, user_id = project.id, user.id
    start = threading.Barrier(8)
    outcomes = []

    def add(by_assignment: bool) -> None:
        with app.app_context():
            person = db.session.get(User, user_id)
            start.wait()
            try:
                begin_write(db.session)
                if by_assignment:
                    assignment.assign_to_user(db.session, project_id, person, ["a1"])
                    outcomes.append("assigned")
                else:
                    outcomes.append(tuple(projects.add_members(db.session, project_id, [person])))
                db.session.commit()
            except Exception as exc:  # noqa: BLE001
                db.session.rollback()
                outcomes.append(type(exc).__name__)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=add, args=(k == 0,)) for k in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert "IntegrityError" not in outcomes, outcomes
    assert sum(o == ("ann",) for o in outcomes) <= 1
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ProjectMember)) == 1

"""Gold links in adjudication (the form, on SQLite and PostgreSQL): a reviewer who keeps an annotator's quote
and source keeps the link between them, a reviewer's own link reaches the gold and the export with the right
span ids and offsets, and a gold quote left linked to nothing is named after the save and on the page."""
from __future__ import annotations

import html as html_lib
import json
import re
from typing import Any

from sqlalchemy import select

from annotator.db import db
from annotator.db.models import Annotation, Article, GoldLabel, GoldRelation, GoldSpan, Project, Relation, Sentence, Span, User
from annotator.db.transactions import begin_write
from annotator.domain import gold, projects
from annotator.domain.dataset import articles
from annotator.domain.dataset.ingest import ArticleRecord
from annotator.domain.gold.keys import link_key_str

from .conftest import add_member, add_user

PASSWORD = "correct horse"
TEXT = ("The harbour 🚢 will close in May, the council said. "  # characters beyond UTF-16's one unit: offsets are code points
        "“We will appeal,” 📣 said Mayor Ana Ruiz on Monday. "
        "“We are not done.”")
QUOTE, SOURCE, LATER = "We will appeal", "Mayor Ana Ruiz", "We are not done"


def at(needle: str) -> tuple[int, int]:
    start = TEXT.index(needle)
    return start, start + len(needle)


def key(label: str, needle: str) -> str:
    start, end = at(needle)
    return f"{label}:{start}:{end}"  # as the page's checkboxes send it


LINK = f"attributed_to|{key('QUOTE', QUOTE)}|{key('SOURCE', SOURCE)}"


def seed_world(app, linked_by: tuple[str, ...] = ("ann",)) -> dict[str, Any]:
    """One article; ann and ben disagree on sentence 2's label, both mark its quote and source, and those in
    `linked_by` link them."""
    with app.app_context():
        s = db.session
        begin_write(s)
        project = projects.create_project(s, "harbour")
        articles.store_articles(s, project, [ArticleRecord("h1", "Harbour", TEXT)], "test")
        sentences = s.scalars(select(Sentence).join(Article).where(Article.project_id == project.id).order_by(Sentence.index)).all()
        assert [TEXT[x.start:x.end] for x in sentences][1].startswith("“We will appeal")
        for name, label in (("ann", "CFS"), ("ben", "UFS")):
            user = User(name=name, role="annotator")
            s.add(user)
            s.flush()
            s.add(Annotation(user_id=user.id, sentence_id=sentences[1].id, label=label, seconds=1.0, guidelines_version=1))
            quote = Span(article_id=sentences[1].article_id, user_id=user.id, label="QUOTE", start=at(QUOTE)[0], end=at(QUOTE)[1])
            source = Span(article_id=sentences[1].article_id, user_id=user.id, label="SOURCE", start=at(SOURCE)[0], end=at(SOURCE)[1])
            s.add_all([quote, source])
            s.flush()
            if name in linked_by:
                s.add(Relation(article_id=quote.article_id, user_id=user.id, type="attributed_to", from_span_id=quote.id, to_span_id=source.id))
        s.commit()
        world = {"project": project.id, "sentences": [x.id for x in sentences]}
    add_user(app, "rita", "reviewer", PASSWORD)
    add_member(app, world["project"], "rita")
    add_user(app, "alice", "annotator", PASSWORD)
    add_member(app, world["project"], "alice")
    return world


def checked(html: str, name: str) -> list[str]:
    """The values of the page's checked checkboxes called `name`: what a browser submits when nothing is changed."""
    boxes = re.findall(rf'<input type="checkbox" name="{name}" value="([^"]*)"[^>]*>', html)
    tags = re.findall(rf'<input type="checkbox" name="{name}" value="[^"]*"[^>]*>', html)
    return [html_lib.unescape(v) for v, tag in zip(boxes, tags, strict=True) if " checked" in tag]


def gold_links(app) -> list[tuple[str, str, int, int, str, int, int, str]]:
    with app.app_context():
        return [(r.type, r.from_span.label, r.from_span.start, r.from_span.end, r.to_span.label, r.to_span.start, r.to_span.end, r.provenance)
                for r in db.session.scalars(select(GoldRelation))]


def export_article(browser, project_id: int) -> dict[str, Any]:
    response = browser.get(f"/projects/{project_id}/export.jsonl?unit=article")
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    (record,) = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    return record


def test_saving_the_prefilled_form_keeps_the_annotators_link_between_the_quote_and_source_kept(app, browser):
    """Before: the page checked ann's link only if every annotator had made it, so keeping the quote and the source
    (which both marked) stored gold with the two spans and no relation, and nothing said so."""
    world = seed_world(app)
    browser.login("rita", PASSWORD)
    url = f"/review/{world['project']}/sentences/{world['sentences'][1]}"
    page = browser.get(url).get_data(as_text=True)
    assert sorted(checked(page, "spans")) == sorted([key("QUOTE", QUOTE), key("SOURCE", SOURCE)])
    response = browser.post(url, {"label": "CFS", "spans": checked(page, "spans"), "links": checked(page, "links")})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]

    quote, source = at(QUOTE), at(SOURCE)
    assert gold_links(app) == [("attributed_to", "QUOTE", *quote, "SOURCE", *source, "adjudicated")]
    # the export's gold has the relation, naming the gold spans by their ids, at code-point offsets into the text
    record = export_article(browser, world["project"])
    spans = {s["id"]: s for s in record["gold"]["spans"]}
    (relation,) = record["gold"]["relations"]
    assert relation["type"] == "attributed_to" and relation["provenance"] == "adjudicated"
    assert (spans[relation["from"]]["label"], spans[relation["from"]]["start"], spans[relation["from"]]["end"]) == ("QUOTE", *quote)
    assert (spans[relation["to"]]["label"], spans[relation["to"]]["start"], spans[relation["to"]]["end"]) == ("SOURCE", *source)
    assert [TEXT[spans[relation[end]]["start"]:spans[relation[end]]["end"]] for end in ("from", "to")] == [QUOTE, SOURCE]
    # nothing to warn about
    assert "linked to nothing" not in browser.get(response.headers["Location"]).get_data(as_text=True)


def test_rival_links_of_one_quote_are_the_reviewers_to_choose():
    """Two annotators linked the same quote to different sources, one each: neither comes with the spans."""
    q, a, b = ({"key": k, "in_sentence": True} for k in ("QUOTE:0:5", "SOURCE:6:8", "SOURCE:9:12"))
    offered = [{"key": "l1", "type": "attributed_to", "from": q, "to": a, "by": ["ann"]},
               {"key": "l2", "type": "attributed_to", "from": q, "to": b, "by": ["ben"]}]
    chosen = {"QUOTE:0:5", "SOURCE:6:8", "SOURCE:9:12"}
    assert gold.links_with_spans(offered, chosen) == []
    assert gold.links_with_spans(offered, chosen - {"SOURCE:9:12"}) == ["l1"]
    offered[0]["by"] = ["ann", "cat"]
    assert gold.links_with_spans(offered, chosen) == ["l1"]


def test_a_reviewers_own_link_to_a_source_in_another_sentence_reaches_the_gold_and_the_export(app, browser):
    world = seed_world(app, linked_by=())
    browser.login("rita", PASSWORD)
    first = f"/review/{world['project']}/sentences/{world['sentences'][1]}"
    browser.get(first)
    assert browser.post(first, {"label": "CFS", "spans": [key("QUOTE", QUOTE), key("SOURCE", SOURCE)], "links": [LINK]}).status_code == 302

    # the next sentence's quote continues the mayor's: the page offers the gold SOURCE of the sentence before as a link's end
    later = f"/review/{world['project']}/sentences/{world['sentences'][2]}"
    page = browser.get(later).get_data(as_text=True)
    data = json.loads(html_lib.unescape(re.search(r'<script type="application/json" id="adjudication-data">(.*?)</script>', page, re.S).group(1)))
    assert [(x["key"], x["sentence"]) for x in data["outside"] if x["label"] == "SOURCE"] == [(key("SOURCE", SOURCE), 1)]
    assert [r["name"] for r in data["relations"]] == ["attributed_to"]
    own = f"attributed_to|{key('QUOTE', LATER)}|{key('SOURCE', SOURCE)}"
    response = browser.post(later, {"label": "CFS", "spans": [key("QUOTE", LATER)], "links": [own]})
    assert response.status_code == 302, response.get_data(as_text=True)[:500]

    assert sorted(gold_links(app)) == sorted([("attributed_to", "QUOTE", *at(QUOTE), "SOURCE", *at(SOURCE), "adjudicated"),
                                              ("attributed_to", "QUOTE", *at(LATER), "SOURCE", *at(SOURCE), "adjudicated")])
    with app.app_context():  # one gold SOURCE, both quotes linked to it
        assert db.session.scalars(select(GoldSpan).where(GoldSpan.label == "SOURCE")).all().__len__() == 1
    record = export_article(browser, world["project"])
    spans = {s["id"]: s for s in record["gold"]["spans"]}
    pairs = sorted((spans[r["from"]]["text"], spans[r["to"]]["text"]) for r in record["gold"]["relations"])
    assert pairs == sorted([(QUOTE, SOURCE), (LATER, SOURCE)])
    # the sentence unit: the last sentence's record carries the link, its source's sentence named
    response = browser.get(f"/projects/{world['project']}/export.jsonl?unit=sentence")
    last = [json.loads(line) for line in response.get_data(as_text=True).splitlines()][2]
    (relation,) = last["relations"]
    assert (relation["type"], relation["from_sentence"], relation["to_sentence"]) == ("attributed_to", 2, 1)


def test_a_gold_quote_saved_without_its_source_is_named_after_the_save_and_on_its_page(app, browser):
    world = seed_world(app)
    browser.login("rita", PASSWORD)
    url = f"/review/{world['project']}/sentences/{world['sentences'][1]}"
    browser.get(url)
    response = browser.post(url, {"label": "CFS", "spans": [key("QUOTE", QUOTE), key("SOURCE", SOURCE)]})  # the link unchecked
    assert response.status_code == 302
    assert gold_links(app) == []  # a warning, not a refusal: the reviewer may know better
    shown = browser.get(response.headers["Location"]).get_data(as_text=True)
    assert "flash-warning" in shown and f"saved with 1 span linked to nothing: QUOTE “{QUOTE}”" in shown
    page = browser.get(url).get_data(as_text=True)
    # one message, under the links (before, a note above the sentence said it too)
    assert re.search(r'id="unlinked-warning">Linked to nothing: QUOTE “We will appeal” \(saved so\)\. Saving keeps it without a source\.', page)
    assert page.count("linked to nothing") == 0 and page.count("Linked to nothing") == 1


def test_annotators_cannot_adjudicate_links(app, browser):
    world = seed_world(app)
    browser.login("alice", PASSWORD)
    url = f"/review/{world['project']}/sentences/{world['sentences'][1]}"
    assert browser.get(url).status_code == 403
    response = browser.post(url, {"label": "CFS", "spans": [key("QUOTE", QUOTE), key("SOURCE", SOURCE)], "links": [LINK]})
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalars(select(GoldLabel).where(GoldLabel.provenance == "adjudicated")).all() == []
        assert db.session.scalars(select(GoldRelation)).all() == []


def test_a_refused_save_shows_the_reviewers_own_spans_and_links_again(app, browser):
    """Before: the page shown again after a refused save offered only the annotators' and the gold's spans and links,
    so the reviewer's own link (and the span it starts at) vanished from the form."""
    world = seed_world(app, linked_by=())
    browser.login("rita", PASSWORD)
    later = f"/review/{world['project']}/sentences/{world['sentences'][2]}"
    browser.get(later)
    own = f"attributed_to|{key('QUOTE', LATER)}|{key('SOURCE', SOURCE)}"
    response = browser.post(later, {"spans": [key("QUOTE", LATER)], "links": [own]})  # no label: refused
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert checked(page, "spans") == [key("QUOTE", LATER)] and checked(page, "links") == [own]
    row = re.search(rf'<input type="checkbox" name="links" value="{re.escape(own)}"[^>]*>(.*?)</label>', page, re.S).group(1)
    assert f"“{LATER}”" in row and f"“{SOURCE}”" in row and "(other sentence)" in row


def test_the_domain_names_the_gold_quotes_an_adjudication_leaves_linked_to_nothing(app):
    world = seed_world(app)
    quote, source = ("QUOTE", *at(QUOTE)), ("SOURCE", *at(SOURCE))
    with app.app_context():
        rita = db.session.scalar(select(User.id).where(User.name == "rita"))
        begin_write(db.session)
        out = gold.adjudicate(db.session, rita, world["sentences"][1], "CFS", [quote, source])
        db.session.commit()
        assert out["unlinked"] == [{"label": "QUOTE", "start": at(QUOTE)[0], "end": at(QUOTE)[1], "text": QUOTE,
                                    "sentence_id": world["sentences"][1], "sentence": 1}]
        begin_write(db.session)
        out = gold.adjudicate(db.session, rita, world["sentences"][1], "CFS", [quote, source], [("attributed_to", quote, source)])
        db.session.commit()
        assert out["unlinked"] == [] and out["relations"] == 1
        context = gold.adjudication_context(db.session, world["project"], world["sentences"][1])
        assert context["gold_unlinked"] == [] and [link["key"] for link in context["gold_links"]] == [LINK]


def test_a_quote_in_another_sentence_that_loses_its_link_to_a_dropped_source_is_named_too(app):
    """Sentence 3's gold quote is linked to sentence 2's gold source. Adjudicating sentence 2 again without that source
    (and so without the link) leaves sentence 3's quote linked to nothing: the save names it, not only sentence 2's."""
    world = seed_world(app, linked_by=())
    assert link_later_quote_to_the_source(app, world) == [[], []]  # each quote linked: nothing named
    quote, later = ("QUOTE", *at(QUOTE)), ("QUOTE", *at(LATER))
    with app.app_context():
        s = db.session
        rita = s.scalar(select(User.id).where(User.name == "rita"))
        begin_write(s)
        out = gold.adjudicate(s, rita, world["sentences"][1], "CFS", [quote])
        s.commit()
        assert gold_links(app) == []
        assert out["unlinked"] == [{"label": "QUOTE", "start": k[1], "end": k[2], "text": TEXT[k[1]:k[2]], "sentence_id": world["sentences"][n],
                                    "sentence": n} for k, n in ((quote, 1), (later, 2))]


def link_later_quote_to_the_source(app, world) -> list[list[dict]]:
    """Sentence 2's gold: its quote linked to its source; sentence 3's gold: its quote linked to that source too.
    Returns each adjudication's `unlinked` list."""
    quote, source, later = ("QUOTE", *at(QUOTE)), ("SOURCE", *at(SOURCE)), ("QUOTE", *at(LATER))
    unlinked = []
    with app.app_context():
        s = db.session
        rita = s.scalar(select(User.id).where(User.name == "rita"))
        for sentence, spans, links in ((1, [quote, source], [("attributed_to", quote, source)]), (2, [later], [("attributed_to", later, source)])):
            begin_write(s)
            unlinked.append(gold.adjudicate(s, rita, world["sentences"][sentence], "CFS", spans, links)["unlinked"])
            s.commit()
    return unlinked


def test_after_the_save_a_quote_of_another_sentence_left_unlinked_links_to_its_own_sentences_page(app, browser):
    """Before: the warning after the save named sentence 3's quote, but its only link went to sentence 2's page (the one
    just saved), where that quote is no checkbox and cannot be linked."""
    world = seed_world(app, linked_by=())
    link_later_quote_to_the_source(app, world)
    browser.login("rita", PASSWORD)
    url = f"/review/{world['project']}/sentences/{world['sentences'][1]}"
    seen = re.search(r'name="seen" id="seen" value="([^"]*)"', browser.get(url).get_data(as_text=True)).group(1)
    response = browser.post(url, {"label": "CFS", "spans": [key("QUOTE", QUOTE)], "seen": seen})  # the source dropped, and its two links
    assert response.status_code == 302
    shown = browser.get(response.headers["Location"]).get_data(as_text=True)
    (warning,) = re.findall(r'<p class="flash flash-warning"[^>]*>(.*?)</p>', shown, re.S)
    pages = [f"/review/{world['project']}/sentences/{world['sentences'][n]}" for n in (1, 2)]
    assert re.findall(r'“([^”]*)” \(\d+–\d+\) in <a href="([^"]+)">sentence (\d)</a>', warning) == [
        (QUOTE, pages[0], "2"), (LATER, pages[1], "3")], warning
    assert "saved with 2 spans linked to nothing" in warning
    later_page = browser.get(pages[1]).get_data(as_text=True)  # where it is linked: its page names it as the gold's quote with no link
    assert re.search(r'id="unlinked-warning">Linked to nothing: QUOTE “We are not done” \(saved so\)', later_page)


def test_before_the_save_the_warning_names_a_quote_of_another_sentence_that_would_lose_its_only_link(app, browser):
    """Before: the warning under the links named only this sentence's chosen quotes, so a reviewer dropping the source
    that sentence 3's gold quote is linked to learnt of that quote only after the save."""
    world = seed_world(app, linked_by=())
    link_later_quote_to_the_source(app, world)
    browser.login("rita", PASSWORD)
    url = f"/review/{world['project']}/sentences/{world['sentences'][1]}"
    page = browser.get(url).get_data(as_text=True)
    assert re.search(r'id="unlinked-warning" hidden>', page)  # as stored, every gold quote has its link
    data = json.loads(html_lib.unescape(re.search(r'<script type="application/json" id="adjudication-data">(.*?)</script>', page, re.S).group(1)))
    assert [(x["key"], x["sentence"]) for x in data["linked_in"]] == [(key("QUOTE", LATER), 2)] and data["links_elsewhere"] == []
    refused = browser.post(url, {"spans": [key("QUOTE", QUOTE)]}).get_data(as_text=True)  # no label: shown again, source unchecked
    assert re.search(r'id="unlinked-warning">Linked to nothing: QUOTE “We will appeal”; QUOTE “We are not done” \(sentence 3\)\. '
                     r'Saving keeps them without a source\.', refused), refused
    # the other quote's link kept: only this sentence's quote is named
    later_link = f"attributed_to|{key('QUOTE', LATER)}|{key('SOURCE', SOURCE)}"
    kept = browser.post(url, {"spans": [key("QUOTE", QUOTE), key("SOURCE", SOURCE)], "links": [later_link]}).get_data(as_text=True)
    assert re.search(r'id="unlinked-warning">Linked to nothing: QUOTE “We will appeal”\. Saving keeps it without a source\.', kept), kept


def test_a_quote_of_another_sentence_linked_elsewhere_too_is_not_named(app):
    """Sentence 3's quote is linked to sentence 2's source and to a source of its own sentence: dropping sentence 2's
    source leaves it linked, and neither the page's data nor the save calls it unlinked."""
    world = seed_world(app, linked_by=())
    link_later_quote_to_the_source(app, world)
    quote, later = ("QUOTE", *at(QUOTE)), ("QUOTE", *at(LATER))
    own_source = ("SOURCE", at(LATER)[0], at(LATER)[0] + 2)  # “We”: a stand-in of sentence 3 for a speaker
    with app.app_context():
        s = db.session
        rita = s.scalar(select(User.id).where(User.name == "rita"))
        begin_write(s)
        source = ("SOURCE", *at(SOURCE))
        gold.adjudicate(s, rita, world["sentences"][2], "CFS", [later, own_source],
                        [("attributed_to", later, source), ("attributed_to", later, own_source)])
        s.commit()
        context = gold.adjudication_context(s, world["project"], world["sentences"][1])
        assert context["gold_links_elsewhere"] == [link_key_str("attributed_to", later, own_source)]
        begin_write(s)
        out = gold.adjudicate(s, rita, world["sentences"][1], "CFS", [quote])
        s.commit()
        assert [(x["start"], x["sentence"]) for x in out["unlinked"]] == [(quote[1], 1)]


def test_a_quote_and_link_another_reviewer_added_to_the_sentence_since_its_page_opened_are_not_dropped_silently(app):
    """rita opens sentence 2; root, on sentence 1's page, links sentence 2's quote to the mayor (a gold QUOTE in sentence
    2 and its link). rita's save of the page she opened would make sentence 2's gold spans exactly hers, dropping root's
    quote and link: the page's stamp covered the gold label only, which root had not touched, so it went through."""
    world = seed_world(app, linked_by=())
    add_user(app, "root", "reviewer", PASSWORD)
    add_member(app, world["project"], "root")
    later = ("QUOTE", *at(LATER))
    with app.app_context():
        s = db.session
        rita, root = (s.scalar(select(User.id).where(User.name == n)) for n in ("rita", "root"))
        seen = gold.sentence_stamp(s, world["sentences"][2])
        begin_write(s)
        gold.adjudicate(s, root, world["sentences"][1], "CFS", [("QUOTE", *at(QUOTE)), ("SOURCE", *at(SOURCE))],
                        [("attributed_to", ("QUOTE", *at(QUOTE)), ("SOURCE", *at(SOURCE))), ("attributed_to", later, ("SOURCE", *at(SOURCE)))])
        s.commit()
        begin_write(s)
        try:
            gold.adjudicate(s, rita, world["sentences"][2], "NFS", [], [], seen=seen)
        except gold.GoldError as exc:
            assert exc.status == 409
        else:
            raise AssertionError("rita's save dropped root's quote and link in her sentence")
        finally:
            s.rollback()
    assert ("attributed_to", *later, "SOURCE", *at(SOURCE), "adjudicated") in gold_links(app)


def add_a_second_relation_type(app, project_id: int) -> None:
    """The project's schema gains "contradicts", QUOTE → SOURCE as its "attributed_to" (a schema with several types)."""
    with app.app_context():
        project = db.session.get(Project, project_id)
        schema = json.loads(json.dumps(project.label_schema))
        schema["relation_types"].append({"name": "contradicts", "description": "", "color": "#aa0000", "key": "m",
                                         "from": ["QUOTE"], "to": ["SOURCE"]})
        begin_write(db.session)
        projects.update_project(db.session, project, schema=schema)
        db.session.commit()


def test_a_link_is_named_by_its_spans_and_by_its_relation_only_where_the_schema_has_several(app, browser):
    """The link rows said "attributed_to: QUOTE … → SOURCE …" to people; with the one relation type of the presets they
    say "QUOTE … → SOURCE …", as the annotation page does. Where a schema has two relation types, a row names its own,
    which is then what tells two links of the same spans apart."""
    world = seed_world(app)
    browser.login("rita", PASSWORD)
    url = f"/review/{world['project']}/sentences/{world['sentences'][1]}"
    row = re.compile(r'<input type="checkbox" name="links" value="[^"]*"[^>]*>\s*(.*?)<span class="span-label"', re.S)
    page = browser.get(url).get_data(as_text=True)
    assert row.findall(page) == [""] and ">Link <kbd>l</kbd></button>" in page
    add_a_second_relation_type(app, world["project"])
    page = browser.get(url).get_data(as_text=True)
    assert [x.strip() for x in row.findall(page)] == ["attributed_to:"]

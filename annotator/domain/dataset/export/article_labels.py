"""The article unit's article-level labels: each annotator's {group: value or [values]}, and their automatic gold.

Only projects whose schema has article label groups carry them (the key is left out
otherwise, so their records read as before). A group that is not `multiple` gives
its one value, a `multiple` group the sorted list. The gold of a group is the
automatic-gold rule of sentences (stats.gold.auto_gold_label: unanimous, or the
project's majority, among at least max(2, annotators per article) annotators), over
whole answers: computed when exported, never stored, so an export -> import ->
export round trip gives the same gold. A reviewer's decision on a group (stored,
domain.gold.article_labels) wins over the rule and carries who decided, why and when:
{"value", "provenance": "adjudicated", "reviewer", "reason", "updated_at"}; an import
reads it back as it reads a sentence's human gold.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from annotator.db.models import Project
from annotator.domain import labelschema
from annotator.domain.records import timestamp
from annotator.stats.gold import PROVENANCE_CODES, auto_gold_label

_PROVENANCE = {code: name for name, code in PROVENANCE_CODES.items()}


@dataclass(frozen=True)
class ArticleLabelRule:
    multiple: dict[str, bool]  # group -> whether it takes several values
    threshold: float
    min_raters: int

    def value(self, group: str, values: list[str]) -> str | list[str]:
        return list(values) if self.multiple.get(group, True) or len(values) != 1 else values[0]


def article_label_rule(session: Session, project_id: int) -> ArticleLabelRule | None:
    """The project's groups and gold settings; None when its schema has no article label groups."""
    row = session.execute(
        select(Project.label_schema, Project.majority_threshold, Project.annotators_per_article).where(Project.id == project_id)
    ).first()
    if row is None:
        return None
    groups = labelschema.article_groups(row[0] or {})
    if not groups:
        return None
    return ArticleLabelRule({name: bool(spec["multiple"]) for name, spec in groups.items()}, float(row[1]), max(2, int(row[2])))


def by_annotator(rows: Iterable[tuple], rule: ArticleLabelRule, chosen: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """annotator -> {group: value or [values]}, groups in name order; only the `chosen` annotators when given."""
    out: dict[str, dict[str, Any]] = {}
    for annotator, group, values in sorted(rows):
        if not chosen or annotator in chosen:
            out.setdefault(annotator, {})[group] = rule.value(group, values)
    return out


def gold(rows: Iterable[tuple], rule: ArticleLabelRule, decided: dict[str, tuple] | None = None) -> dict[str, dict[str, Any]]:
    """{group: {"value", "provenance"}} for the groups whose annotators agree as the automatic-gold rule asks, and
    the reviewers' decisions (`decided`: group -> (values, provenance, reviewer, reason, updated_at)), which win."""
    answers: dict[str, list[tuple[str, ...]]] = {}
    for _, group, values in rows:
        answers.setdefault(group, []).append(tuple(values))
    out: dict[str, dict[str, Any]] = {}
    for group in sorted(answers):  # a few groups per article: the one-item rule, no arrays (tests/test_gold_rule.py: the same)
        distinct = sorted(set(answers[group]))
        winner, provenance = auto_gold_label([distinct.index(a) for a in answers[group]], rule.threshold, rule.min_raters)
        if winner >= 0:
            out[group] = {"value": rule.value(group, list(distinct[winner])), "provenance": _PROVENANCE[provenance]}
    for group, (values, provenance, reviewer, reason, updated_at) in (decided or {}).items():
        out[group] = {"value": rule.value(group, values), "provenance": provenance, "reviewer": reviewer, "reason": reason,
                      "updated_at": timestamp(updated_at)}
    return dict(sorted(out.items()))

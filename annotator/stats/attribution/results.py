"""What suggest() returns: QUOTE / SOURCE / CUE spans and attributed_to relations, as plain tuples."""
from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

NAME = "annotator-attribution-rules"
VERSION = "1"

class Span(NamedTuple):
    id: str
    label: str  # QUOTE, SOURCE or CUE
    start: int  # code-point offsets: text[start:end] == self.text
    end: int
    text: str
    score: float

    def to_dict(self) -> dict:
        return {"id": self.id, "label": self.label, "start": self.start, "end": self.end, "text": self.text, "score": self.score}


class Relation(NamedTuple):
    type: str  # always "attributed_to"
    quote: str  # span id of the QUOTE ("from")
    source: str  # span id of the SOURCE ("to")
    score: float

    def to_dict(self) -> dict:
        return {"type": self.type, "from": self.quote, "to": self.source, "score": self.score}


@dataclass(frozen=True)
class Suggestions:
    spans: tuple[Span, ...]
    relations: tuple[Relation, ...]
    suggester: str = f"{NAME}/{VERSION}"

    def to_dict(self) -> dict:
        return {"spans": [s.to_dict() for s in self.spans], "relations": [r.to_dict() for r in self.relations]}

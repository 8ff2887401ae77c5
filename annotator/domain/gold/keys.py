"""What a reviewer sends to adjudicate: span and link keys, spans typed in by hand, a sentence id; and GoldError.

The adjudication form's checkboxes carry keys ('LABEL:START:END',
'TYPE|SPAN|SPAN'); its text box takes spans typed one per line. Each parser
refuses bad input with a GoldError whose status fits the HTTP answer.
"""
from __future__ import annotations

import re
from typing import Iterable

SpanKey = tuple[str, int, int]
LinkKey = tuple[str, SpanKey, SpanKey]

# Offsets in ASCII digits, as the API's JSON integers: `\d` alone also took '١٢٠' (Arabic-Indic) or '１２' (full width) for 120 or 12.
_SPAN_LINE = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9_.-]{0,63})\s*[\s:,]\s*([0-9]{1,10})\s*[\s:,-]\s*([0-9]{1,10})\s*$")
_SEPARATORS = re.compile(r"[\s:,-]+")
_OFFSET = re.compile(r"[0-9]{1,10}")


class GoldError(ValueError):
    """An adjudication that cannot be stored; `status` is the HTTP status that fits."""

    def __init__(self, message: str, status: int = 422, problems: Iterable[str] = ()):
        super().__init__(message)
        self.message = message
        self.status = status
        self.problems = list(problems)  # one line each, when there are several (typed spans)


def span_key_str(label: str, start: int, end: int) -> str:
    return f"{label}:{start}:{end}"


def link_key_str(rtype: str, a: SpanKey, b: SpanKey) -> str:
    return f"{rtype}|{span_key_str(*a)}|{span_key_str(*b)}"


def parse_span_key(value: str) -> SpanKey:
    """'LABEL:START:END' (what the adjudication form's span checkboxes send)."""
    label, _, rest = (value or "").rpartition(":")
    label, _, start = label.rpartition(":")
    # ASCII digits, as the page writes them ("²" passes isdigit() and fails int(); 5000 digits fail int() too)
    if not label or not all(_OFFSET.fullmatch(x) for x in (start, rest)):
        raise GoldError(f"not a span: “{(value or '')[:80]}” (expected LABEL:START:END)", 400)
    return label, int(start), int(rest)


def parse_link_key(value: str) -> LinkKey:
    """'TYPE|LABEL:START:END|LABEL:START:END' (the link checkboxes)."""
    parts = (value or "").split("|")
    if len(parts) != 3 or not parts[0]:
        raise GoldError(f"not a link: “{(value or '')[:80]}” (expected TYPE|SPAN|SPAN)", 400)
    return parts[0], parse_span_key(parts[1]), parse_span_key(parts[2])


def parse_span_lines(
    text: str,
    span_labels: Iterable[str] | None = None,
    text_length: int | None = None,
    sentence: tuple[int, int] | None = None,
) -> list[SpanKey]:
    """Spans typed in by hand, one per line: 'LABEL START END' (code-point offsets into the article).

    Every line is checked (its form, and when given: the label among `span_labels`, the end
    within `text_length`, overlapping the `sentence`'s (start, end)), and all problems are
    reported at once, each with its line number, as GoldError.problems.
    """
    labels = list(span_labels) if span_labels is not None else None
    out: list[SpanKey] = []
    problems: list[str] = []
    for number, line in enumerate((text or "").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"Line {number}"
        match = _SPAN_LINE.match(line)
        foreign = [word for word in _SEPARATORS.split(line) if any(c.isdigit() and not c.isascii() for c in word)]
        if foreign:
            problems.append(f"{where}: write the offsets with the digits 0–9, not “{' '.join(foreign)[:40]}”")
            continue
        if not match:
            shown = line.strip()[:60]
            problems.append(f"{where}: expected 'LABEL START END', e.g. QUOTE 120 164, not “{shown}”")
            continue
        label, start, end = match.group(1), int(match.group(2)), int(match.group(3))
        if labels is not None and label not in labels:
            problems.append(f"{where}: there is no span label {label} in this project (its span labels: {', '.join(labels) or 'none'})")
        elif start >= end:
            problems.append(f"{where}: the end ({end}) must be after the start ({start})")
        elif text_length is not None and end > text_length:
            problems.append(f"{where}: {start}–{end} runs past the article's end (it has {text_length} characters)")
        elif sentence is not None and not (start < sentence[1] and end > sentence[0]):
            problems.append(f"{where}: {label} {start}–{end} does not overlap this sentence (characters {sentence[0]}–{sentence[1]})")
        else:
            out.append((label, start, end))
    if problems:
        count = "1 typed span needs" if len(problems) == 1 else f"{len(problems)} typed spans need"
        raise GoldError(f"{count} fixing: " + "; ".join(problems), 422, problems)
    return out


def check_sentence_id(value: int) -> int:
    """A sentence id the database can hold (PostgreSQL integers are 32-bit): else 404, not a 500."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 2**31:
        raise GoldError(f"no sentence {value}", 404)
    return value


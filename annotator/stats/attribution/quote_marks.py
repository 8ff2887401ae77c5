"""Quote marks paired per paragraph: curly double marks by direction, straight ones alternating, British singles apart."""
from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass
class _Quote:
    open: int  # offset of the opening mark
    close: int | None  # offset of the closing mark; None: runs to the end of its paragraph
    start: int  # content
    end: int
    line: int  # paragraph index
    attributed: bool = False
    consumed: bool = False  # inside an indirect clause: part of that QUOTE
    fragment_of: tuple | None = None  # (source, cue) of a quoted fragment


def _pair_quotes(text: str) -> list[_Quote]:
    """Quote marks paired per paragraph (line).  Curly double marks pair by
    direction; straight ones alternate.  An opening double mark left open at
    the end of a paragraph runs to its end (a quote continued in the next
    paragraph).  Curly single marks (British style) pair outside double
    quotes, with a closing ’ told from an apostrophe by what is around it.
    Marks inside a quote belong to that quote."""
    out: list[_Quote] = []
    pos = 0
    for line_no, line in enumerate(text.split("\n")):
        first = len(out)
        _pair_doubles(line, line_no, pos, out)
        if "‘" in line:
            doubles = out[first:]
            singles = [q for q in _pair_singles(line, line_no, pos) if not any(d.open <= q.open <= (d.close or d.end) for d in doubles)]
            out[first:] = sorted(doubles + singles, key=lambda q: q.open)
        pos += len(line) + 1
    return out


_SINGLE_CLOSE = re.compile(r"(?<=[,.!?…])’|(?<=\S)’(?=[,.;:!?)\]]|\s*$)")


def _pair_singles(line: str, line_no: int, pos: int) -> list[_Quote]:
    out: list[_Quote] = []
    i = 0
    while True:
        o = line.find("‘", i)
        if o < 0:
            return out
        m = _SINGLE_CLOSE.search(line, o + 2)
        if m is None:
            return out
        nxt = line.find("‘", o + 1)
        if nxt != -1 and nxt < m.start():
            i = nxt  # an opening mark with no closing one before the next opening
            continue
        out.append(_Quote(pos + o, pos + m.start(), pos + o + 1, pos + m.start(), line_no))
        i = m.end()


_DOUBLE_MARK = re.compile(r"[“”\"]")


def _pair_doubles(line: str, line_no: int, pos: int, out: list[_Quote]) -> None:
    opened: int | None = None
    for m in _DOUBLE_MARK.finditer(line):
        i, ch = m.start(), m.group()
        if opened is None:
            if ch == "”":
                continue  # a stray closing mark
            opened = i
        elif ch == "”" or (ch == '"' and line[opened] == '"'):
            out.append(_Quote(pos + opened, pos + i, pos + opened + 1, pos + i, line_no))
            opened = None
    if opened is not None:
        end = len(line.rstrip())
        if end > opened + 1:
            out.append(_Quote(pos + opened, None, pos + opened + 1, pos + end, line_no))

"""What a foreign reader left out, by annotator and reason, for the import summary.

A reader keeps going past what cannot be stored (a cancelled annotation, a
document class the schema has no place for) instead of refusing the file, so
the person importing must be told: the CLI prints these lines, and --strict
fails on them.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Skipped:
    """Counts of skipped items by (annotator, reason), plus file-wide notes."""

    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    remarks: list[str] = field(default_factory=list)  # what the format never carries: said, but nothing was skipped
    kept: dict[str, int] = field(default_factory=dict)  # items read, but not all they meant (counted): said, nothing skipped

    def add(self, annotator: str, reason: str, n: int = 1) -> None:
        key = (annotator, reason)
        self.counts[key] = self.counts.get(key, 0) + n

    def note(self, message: str) -> None:
        if message not in self.notes:
            self.notes.append(message)

    def remark(self, message: str) -> None:
        if message not in self.remarks:
            self.remarks.append(message)

    def keep(self, what: str, n: int = 1) -> None:
        """Count an item that was read but lost something the format meant (said as "N what")."""
        self.kept[what] = self.kept.get(what, 0) + n

    def __bool__(self) -> bool:
        return bool(self.counts or self.notes)

    def lines(self) -> list[str]:
        """One line per annotator and reason, then the notes and remarks."""
        return ([f"skipped for {who}: {n} {reason}" for (who, reason), n in sorted(self.counts.items())] + self.notes
                + [f"{n} {what}" for what, n in self.kept.items()] + self.remarks)

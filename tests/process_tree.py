"""The process tree as Linux's /proc shows it: a process's children, and whether a process still runs.

For the tests that start servers and exports (gunicorn's workers, an export's worker processes) and for the
benchmarks that measure them (bench/gunicorn_server.py): bench/ already imports helpers from tests/, while
tests/ never imports from bench/ (not a package), and the app's package has no use for it.
"""
from __future__ import annotations

from pathlib import Path


def _stat(pid: int | str) -> list[str]:
    """The fields of /proc/PID/stat after the command name (which may hold spaces and parentheses): state first,
    then the parent's pid."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def children(pid: int) -> list[int]:
    """The pids whose parent is `pid`, sorted; a process that ends meanwhile is left out."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int(_stat(entry.name)[1])
            except (OSError, IndexError, ValueError):
                continue
            if parent == pid:
                found.append(int(entry.name))
    return sorted(found)


def running(pid: int) -> bool:
    """Alive and not a zombie."""
    try:
        return _stat(pid)[0] != "Z"
    except (OSError, IndexError):
        return False

"""Where an export writes: the output file (a .part file moved into place when the export succeeds), the split files, or stdout."""
from __future__ import annotations

import errno
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO


def split_paths(output: str, names: list[str]) -> dict[str, Path]:
    """Where each split goes: DIR/NAME.jsonl for a folder (existing, or given with a
    trailing slash), else PREFIX.NAME.jsonl (a trailing .jsonl of -o is dropped)."""
    if output.endswith(("/", os.sep)) or Path(output).is_dir():
        folder = Path(output)
        return {name: folder / f"{name}.jsonl" for name in names}
    prefix = output[: -len(".jsonl")] if output.endswith(".jsonl") else output
    return {name: Path(f"{prefix}.{name}.jsonl") for name in names}


def make_folder(folder: Path) -> None:
    """The folder an export writes into, made with its parents; a file in its way is said so ("File exists" named a
    path that did not exist)."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise NotADirectoryError(errno.ENOTDIR, "Not a directory (a file is in the way of the folder)", exc.filename) from None


class Outputs:
    """Files written under a temporary name and moved into place only when the export succeeds."""

    def __init__(self, paths: dict[str, Path]):
        self.paths = paths
        self.parts = {name: path.with_name(path.name + ".part") for name, path in paths.items()}
        self.handles: dict[str, IO[bytes]] = {}

    def __enter__(self) -> dict[str, IO[bytes]]:
        for name in self.parts:
            self._open(name, 1 << 20)
        return self.handles

    def add(self, name: str, path: Path) -> IO[bytes]:
        """One more file, opened while writing (a file per person, known as they come)."""
        self.paths[name] = path
        self.parts[name] = path.with_name(path.name + ".part")
        return self._open(name, 1 << 16)

    def _open(self, name: str, buffering: int) -> IO[bytes]:
        """The part file, its folder made; a failure names the file asked for, not its .part."""
        part = self.parts[name]
        make_folder(part.parent)
        try:
            self.handles[name] = open(part, "wb", buffering=buffering)  # noqa: SIM115  (closed in __exit__)
        except OSError as exc:
            raise OSError(exc.errno, exc.strerror, str(self.paths[name])) from None
        return self.handles[name]

    def __exit__(self, exc_type, exc, tb) -> None:  # noqa: ANN001
        for handle in self.handles.values():
            handle.close()
        for name, part in self.parts.items():
            if exc_type is None:
                os.replace(part, self.paths[name])
            else:
                part.unlink(missing_ok=True)


def open_outputs(stack: ExitStack, output: str | None, splits: list[tuple[str, float]] | None,
                  names: list[str]) -> tuple[dict[str, Path], dict[str, IO[bytes]]]:
    """Where each split (or the one output, "") goes, and its open handle: a .part file moved into place at the end, or stdout."""
    if splits:
        paths = split_paths(output or "", names)
    elif output and output != "-":
        paths = {"": Path(output)}
    else:
        sys.stdout.flush()
        return {"": Path("<stdout>")}, {"": sys.stdout.buffer}
    return paths, stack.enter_context(Outputs(paths))


"""Running the suggesters over many articles from the command line (`suggest run`, `import --suggest`).

A batch's suggestions are computed in a forked process while this one stores the batch before
(in its own short write transaction): on two cores the suggesters' CPU time and the database's
overlap, which keeps `import --suggest` of 1,000 articles within its budget. The worker never
touches the database (it only runs `suggesters.propose` on the texts it is sent), and the result
is what the one-process run stores. One batch or one CPU, or no fork: everything in this process.
"""
from __future__ import annotations

import multiprocessing
import os
from queue import Empty
from typing import Any, Callable, Sequence

from sqlalchemy.orm import Session

from annotator.cli.dataset import die_with_parent
from annotator.db.transactions import transaction
from annotator.domain import suggesters
from annotator.domain.suggestions import SuggestionError

Progress = Callable[[int, int], None]


def run(session: Session, project_id: int, ids: Sequence[int], chosen: Sequence[suggesters.Suggester],
        progress: Progress | None = None) -> dict[str, int]:
    """Suggestions for these articles, one write transaction per batch; counts as suggesters.run gives them."""
    batches = [list(ids[i:i + suggesters.BATCH]) for i in range(0, len(ids), suggesters.BATCH)]
    if len(batches) < 2 or (os.cpu_count() or 1) < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return suggesters.run_in_batches(session, project_id, ids, chosen, progress)
    return _pipelined(session, project_id, batches, chosen, progress)


def _pipelined(session: Session, project_id: int, batches: list[list[int]], chosen: Sequence[suggesters.Suggester],
               progress: Progress | None) -> dict[str, int]:
    context = multiprocessing.get_context("fork")
    inbox, outbox = context.Queue(), context.Queue()
    schema = suggesters.project_schema(session, project_id)
    names = [s.name for s in chosen]
    worker = context.Process(target=_propose_worker, args=(chosen, inbox, outbox, os.getpid()), daemon=True)
    worker.start()
    items: dict[int, list[suggesters.Item]] = {}
    counts = {"articles": 0, "suggestions": 0, "new": 0}
    total = sum(len(b) for b in batches)
    try:
        for k in range(len(batches) + 1):
            if k < len(batches):  # the next batch goes out before this process waits for the one before it
                items[k] = suggesters.read(session, batches[k])
                inbox.put((k, items[k]))
            if k == 0:
                continue
            proposals = _receive(outbox, worker, k - 1)
            with transaction(session):
                suggesters.add_counts(counts, suggesters.store(session, schema, names, items.pop(k - 1), proposals))
            if progress:
                progress(counts["articles"], total)
        inbox.put(None)
        worker.join()
        return counts
    finally:
        if worker.is_alive():
            worker.terminate()
            worker.join()


def _receive(outbox: Any, worker: Any, k: int) -> list[list[Any]]:
    """Batch k's proposals from the worker; an error it reported, or its death, as a SuggestionError."""
    while True:
        try:
            message = outbox.get(timeout=0.5)
        except Empty:
            if not worker.is_alive():
                raise SuggestionError(500, f"the process computing suggestions stopped (exit code {worker.exitcode})") from None
            continue
        kind, got, payload = message
        if kind == "error":
            raise SuggestionError(500, payload)
        assert got == k, (got, k)  # one worker, batches in order
        return payload


def _propose_worker(chosen: Sequence[suggesters.Suggester], inbox: Any, outbox: Any, parent: int) -> None:
    """Runs in the forked child: proposals for each batch it is sent, until None."""
    die_with_parent(parent)
    while (job := inbox.get()) is not None:
        k, items = job
        try:
            outbox.put(("done", k, suggesters.propose(chosen, items)))
        except Exception as exc:  # a suggester's bug: the parent says which, and stops
            outbox.put(("error", k, f"a suggester failed on article batch {k + 1}: {type(exc).__name__}: {exc}"))
            return

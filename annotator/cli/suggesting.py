"""Running the suggesters over many articles from the command line (`suggest run`, `import --suggest`).

The suggesters run in forked worker processes (WORKERS of them, fewer on fewer CPUs) while this
process reads the next batches and stores the finished ones, each in its own short write
transaction: on two cores the suggesters' CPU time (most of the run) is shared between both
cores instead of waiting on one, which keeps `import --suggest` of 1,000 articles within its
budget. A worker never touches the database (it only runs `suggesters.propose` on the texts it
is sent); batches are stored in order, so what is stored is what the one-process run stores.
A worker that fails or dies is a SuggestionError here (never a wait for it); the batches stored
before stay. One batch or one CPU, or no fork: everything in this process.
"""
from __future__ import annotations

import multiprocessing
import os
import pickle
from queue import Empty
from typing import Any, Callable, Sequence

from sqlalchemy.orm import Session

from annotator.cli.dataset import die_with_parent
from annotator.db.transactions import transaction
from annotator.domain import suggesters
from annotator.domain.suggestions import SuggestionError

Progress = Callable[[int, int], None]
WORKERS = 2  # processes computing suggestions; each has one batch in hand and at most one waiting (AHEAD)
AHEAD = 1
POLL_S = 0.5  # how often a wait for a worker checks that the workers are still alive


def run(session: Session, project_id: int, ids: Sequence[int], chosen: Sequence[suggesters.Suggester],
        progress: Progress | None = None) -> dict[str, int]:
    """Suggestions for these articles, one write transaction per batch; counts as suggesters.run gives them."""
    batches = [list(ids[i:i + suggesters.BATCH]) for i in range(0, len(ids), suggesters.BATCH)]
    workers = min(WORKERS, os.cpu_count() or 1, len(batches))
    if len(batches) < 2 or workers < 2 or "fork" not in multiprocessing.get_all_start_methods():
        return suggesters.run_in_batches(session, project_id, ids, chosen, progress)
    return _pipelined(session, project_id, batches, chosen, workers, progress)


def _pipelined(session: Session, project_id: int, batches: list[list[int]], chosen: Sequence[suggesters.Suggester],
               n_workers: int, progress: Progress | None) -> dict[str, int]:
    """Batches go out to the workers ahead of need; each is stored, in order, as soon as it and those before it are back."""
    context = multiprocessing.get_context("fork")
    inbox, outbox = context.Queue(), context.Queue()
    schema = suggesters.project_schema(session, project_id)
    names = [s.name for s in chosen]
    workers = [context.Process(target=_propose_worker, args=(chosen, inbox, outbox, os.getpid()), daemon=True)
               for _ in range(n_workers)]
    for worker in workers:
        worker.start()
    items: dict[int, list[suggesters.Item]] = {}
    back: dict[int, list[list[Any]]] = {}
    counts = {"articles": 0, "suggestions": 0, "new": 0}
    total = sum(len(b) for b in batches)
    sent = 0
    try:
        for k in range(len(batches)):
            while sent < len(batches) and sent - k < n_workers * (1 + AHEAD):  # keep every worker busy, memory bounded
                items[sent] = suggesters.read(session, batches[sent])
                inbox.put((sent, items[sent]))
                sent += 1
            while k not in back:  # batches come back in any order; an error waits for its batch's turn
                got, message = _receive(outbox, workers)
                back[got] = message
            kind, payload = back.pop(k)
            if kind == "error":
                raise SuggestionError(500, payload)
            with transaction(session):
                suggesters.add_counts(counts, suggesters.store(session, project_id, schema, names, items.pop(k), pickle.loads(payload)))
            if progress:
                progress(counts["articles"], total)
        for _ in workers:
            inbox.put(None)
        for worker in workers:
            worker.join()
        return counts
    finally:
        for worker in workers:
            if worker.is_alive():
                worker.terminate()
                worker.join()


def _receive(outbox: Any, workers: list[Any]) -> tuple[int, tuple[str, Any]]:
    """The next batch a worker finished: (k, ("done", pickled proposals) or ("error", message)); a worker's death is a SuggestionError."""
    while True:
        try:
            kind, k, payload = outbox.get(timeout=POLL_S)
        except Empty:
            dead = [w.exitcode for w in workers if not w.is_alive()]
            if dead:
                raise SuggestionError(500, f"a process computing suggestions stopped (exit code {dead[0]})") from None
            continue
        return k, (kind, payload)


def _propose_worker(chosen: Sequence[suggesters.Suggester], inbox: Any, outbox: Any, parent: int) -> None:
    """Runs in a forked child: proposals for each batch it takes, until None."""
    die_with_parent(parent)
    while (job := inbox.get()) is not None:
        k, items = job
        try:  # pickled here, so that a proposal that cannot be sent is an error the parent hears of
            outbox.put(("done", k, pickle.dumps(suggesters.propose(chosen, items), pickle.HIGHEST_PROTOCOL)))
        except Exception as exc:  # a suggester's bug: the parent says which when it reaches the batch, and stops
            outbox.put(("error", k, f"a suggester failed on article batch {k + 1}: {type(exc).__name__}: {exc}"))

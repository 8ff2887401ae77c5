"""Group commit on SQLite: the saves one worker process's threads send at the same moment share one write transaction.

Why: SQLite lets one writer in at a time (writer_queue, then BEGIN IMMEDIATE ... COMMIT). With several annotators
saving at once, each save took the queue on its own: a hand-over between processes and threads per save (the next
holder woken, scheduled, and given its interpreter's lock while it holds the queue), and every sibling thread of
the holder competing with it for that interpreter lock. Here a worker's saves that arrive while one of its threads
is writing wait for it (a condition, not the file lock); that thread, the leader, then writes them all in one
transaction, each in a savepoint of its own, and commits once. Every save is still committed before its thread
answers, and each keeps its own outcome: one that fails is rolled back to its savepoint alone, and one that met
another writer's change (a conflict) runs again in the next group, as run_write would run it again.

One GroupCommit per engine, so per worker process (an engine is not shared across the fork: gunicorn_conf's
post_fork); the queue it keeps is the saves now in flight in this process, not data. PostgreSQL commits its
concurrent transactions in groups itself, and its row locks would serialise a group: saves there keep run_write.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable, Generic, TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from annotator.db.transactions import WriteConflict, end_read, not_retried, out_of_time, run_write, transaction, write_deadline

T = TypeVar("T")

# At most this many saves in one transaction: a worker has a few threads (gunicorn_conf.THREADS), so a group is
# rarely larger; the bound keeps a leader's turn, and what each save in it waits for, short.
GROUP_LIMIT = 16

_ENGINE_ATTRIBUTE = "_annotator_group_commit"


class _Save(Generic[T]):
    """One thread's save: its action, the attempts it has left, and, once finished, its result or its exception."""

    __slots__ = ("action", "attempts", "deadline", "woken", "lead", "finished", "result", "error")

    def __init__(self, action: Callable[[Session], T], attempts: int) -> None:
        self.action = action
        self.attempts = attempts
        self.deadline = write_deadline()  # no attempt after a busy one past it (transactions.out_of_time)
        self.woken = threading.Event()
        self.lead = False  # this save's thread writes the next groups
        self.finished = False
        self.result: T | None = None
        self.error: BaseException | None = None

    def finish(self, result: T | None = None, error: BaseException | None = None) -> None:
        self.result, self.error, self.finished = result, error, True


class GroupCommit:
    """The saves of one process waiting for its writer, and which thread writes next."""

    def __init__(self, limit: int = GROUP_LIMIT) -> None:
        self.limit = limit
        self._mutex = threading.Lock()
        self._waiting: deque[_Save[Any]] = deque()
        self._leading = False

    def run(self, session: Session, action: Callable[[Session], T], attempts: int, on_exhausted: Callable[[], Exception]) -> T:
        """`action(session)` committed, alone or with the process's other saves of this moment; its result, or the
        exception it raised (a conflict on every attempt: `on_exhausted()`). The action gets the session it is to
        write on, which is the leader's: it must take everything else from its own arguments."""
        save: _Save[T] = _Save(action, attempts)
        with self._mutex:
            self._waiting.append(save)
            if not self._leading:
                self._leading = save.lead = True
        if not save.lead:
            save.woken.wait()  # finished by a leader, or made the leader
        if save.lead:
            self._lead(session, save)
        if save.error is not None:
            if isinstance(save.error, _OutOfAttempts):
                raise on_exhausted()
            raise save.error
        return save.result  # type: ignore[return-value]

    def _lead(self, session: Session, own: _Save[Any]) -> None:
        """Write groups until this thread's own save is finished, then hand the lead to the first save still waiting."""
        try:
            while not own.finished:
                with self._mutex:
                    group = [self._waiting.popleft() for _ in range(min(self.limit, len(self._waiting)))]
                try:
                    retry = self._write(session, group)
                except BaseException as exc:  # noqa: BLE001  (a fault of this module's own: no save may wait forever)
                    for save in group:
                        if not save.finished:
                            save.finish(error=exc)
                    retry = []
                with self._mutex:
                    self._waiting.extendleft(reversed(retry))  # first in the next group, in their order
                for save in group:
                    if save.finished and save is not own:
                        save.woken.set()
        finally:
            self._hand_over()

    def _hand_over(self) -> None:
        """The lead to the first save still waiting, or to the next save that comes."""
        with self._mutex:
            if self._waiting:
                successor = self._waiting[0]
                successor.lead = True
                successor.woken.set()
            else:
                self._leading = False

    def _write(self, session: Session, group: list[_Save[Any]]) -> list[_Save[Any]]:
        """One transaction for the group; each save finished, or returned to be run again (a conflict, attempts left)."""
        if len(group) == 1:  # alone: no savepoint, as run_write writes it
            (save,) = group
            try:
                with transaction(session, queue=True):
                    result = save.action(session)
            except BaseException as exc:  # noqa: BLE001  (handed to the save's own thread, which raises it)
                return _failed(save, exc)
            save.finish(result)
            return []
        retry: list[_Save[Any]] = []
        done: list[tuple[_Save[Any], Any]] = []
        try:
            with transaction(session, queue=True):
                for save in group:
                    try:
                        with session.begin_nested():
                            done.append((save, save.action(session)))
                    except BaseException as exc:  # noqa: BLE001  (rolled back to its savepoint; the others go on)
                        retry += _failed(save, exc)
        except BaseException as exc:  # noqa: BLE001  (no save of the group was written: the begin or the commit failed)
            return [again for save in group if not save.finished and save not in retry for again in _failed(save, exc)] + retry
        for save, result in done:
            save.finish(result)
        return retry


class _OutOfAttempts(Exception):
    """A save met a conflict on every attempt (its thread raises its caller's on_exhausted())."""


def _conflict(exc: BaseException) -> bool:
    """Another writer's change in the way (run_write runs these again): not what no retry mends (not_retried)."""
    return isinstance(exc, WriteConflict) or isinstance(exc, (IntegrityError, OperationalError)) and not not_retried(exc)


def _failed(save: _Save[Any], exc: BaseException) -> list[_Save[Any]]:
    """The save's attempt ended in `exc`: run it again ([save]) when a conflict and attempts are left (and it has not
    waited out its turn: transactions.out_of_time), else finished."""
    if not _conflict(exc):
        save.finish(error=exc)
        return []
    save.attempts -= 1
    if save.attempts > 0 and not out_of_time(exc, save.deadline):
        return [save]
    save.finish(error=_OutOfAttempts())
    return []


def grouped_write(session: Session, action: Callable[[Session], T], attempts: int, on_exhausted: Callable[[], Exception]) -> T:
    """`action(session)` in a write transaction: on SQLite through the engine's GroupCommit, elsewhere run_write's."""
    engine = session.get_bind()
    if engine.dialect.name != "sqlite":
        return run_write(session, lambda: action(session), attempts, on_exhausted)
    group = getattr(engine, _ENGINE_ATTRIBUTE, None)
    if group is None:
        group = engine.__dict__.setdefault(_ENGINE_ATTRIBUTE, GroupCommit())
    end_read(session)  # what the caller read (its token) is over: no snapshot of before the save stays open while it waits
    return group.run(session, action, attempts, on_exhausted)

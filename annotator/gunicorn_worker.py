"""gunicorn's threaded worker (gthread), with a busy kept-alive connection served on by the thread that answered it.

gthread's main thread polls the idle kept-alive connections; when one has a request it hands the connection to a
pool thread, and after the answer the pool thread hands it back to the main thread (through a pipe) to be polled
again. For a client that sends its next request right after the answer (the annotation page's save queue, a
script, the page's own loads) that is two thread hand-offs more per request than a thread that reads the
connection again itself, and each costs a wake-up. Side by side on the 2-core machine (bench/peer_rounds.py,
three rounds each, alternating, load 0.4-1.7): the article JSON p50 0.81-0.83 ms with this worker against
1.00-1.11 ms with gthread (Potato's 1.02-1.20 ms), the annotation page 1.55-1.72 against 1.73-1.93 ms, saves from
8 clients alike (407-444 and 423-469/s).

Here the pool thread that answered waits up to LINGER_MS for the connection's next request and serves it itself;
a connection that stays quiet longer goes back to the poller as before. A thread lingers only while no other
connection's request waits for a thread, and stops (its linger, or after its current request) as soon as one
does, so a worker with more busy connections than threads still serves them all in turn
(tests/test_gunicorn_worker.py).
Everything else (parsing, keep-alive limits, timeouts, graceful stop, HTTP/2) is gthread's own.
"""
from __future__ import annotations

import os
import select
import threading
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

# Long enough for a client's next request right after an answer (a loop of requests, even on a loaded machine),
# short enough that a thread waiting on a connection that went quiet is soon free again.
LINGER_MS = 5


class KeepAliveThreadWorker(ThreadWorker):
    """gthread, whose pool threads read a busy kept-alive connection's next request themselves (module docstring)."""

    linger_ms = LINGER_MS

    def init_process(self) -> None:
        self._waiting_lock = threading.Lock()
        self._waiting = 0  # requests handed to the pool that no thread has taken yet
        # Holds one byte while _waiting > 0: a lingering thread polls it beside its connection, so a request that
        # comes to wait for a thread ends the linger at once instead of waiting it out.
        self._waiting_signal, self._waiting_signal_write = os.pipe()
        os.set_blocking(self._waiting_signal, False)
        super().init_process()

    def enqueue_req(self, conn: Any) -> None:
        with self._waiting_lock:
            self._waiting += 1
            if self._waiting == 1:
                os.write(self._waiting_signal_write, b"w")
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        with self._waiting_lock:
            self._waiting -= 1
            if self._waiting == 0:
                os.read(self._waiting_signal, 1)
        result = super().handle(conn)
        # True: answered, the connection kept alive (gthread's other results: closed, HTTP/2, or no request yet).
        # _waiting again after the wait: a request that came meanwhile goes first, this connection back to the poller.
        while (result is True and self.alive and not self._waiting
               and next_request_within(conn, self.linger_ms, self._waiting_signal) and not self._waiting):
            result = super().handle(conn)
        return result


def next_request_within(conn: Any, milliseconds: int, stop_fd: int) -> bool:
    """Whether the connection has more to read (a request, or the client's close) within `milliseconds`; False as
    soon as `stop_fd` is readable."""
    if conn.parser is not None and conn.parser.unreader.buf.getvalue():  # read ahead with the last request's body
        return True
    poller = select.poll()
    try:
        fd = conn.sock.fileno()
        poller.register(fd, select.POLLIN)
        poller.register(stop_fd, select.POLLIN)
        return any(ready == fd for ready, _ in poller.poll(milliseconds))
    except (OSError, ValueError):  # closed meanwhile: the poller's path closes it
        return False

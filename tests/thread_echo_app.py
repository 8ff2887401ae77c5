"""A WSGI app for tests/test_gunicorn_worker.py: answers with the id of the thread that served the request.

`/sleep?ms=N` sleeps N milliseconds first (the slow request that makes a worker start all its threads)."""
import threading
import time

from annotator.gunicorn_worker import KeepAliveThreadWorker


def app(environ, start_response):  # noqa: ANN001, ANN201
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(int(environ["QUERY_STRING"].partition("=")[2] or 0) / 1000)
    body = str(threading.get_ident()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


class LongLingerWorker(KeepAliveThreadWorker):
    """The shipped worker with a linger of 2 s instead of a few milliseconds: whatever waits on a linger waits long."""

    linger_ms = 2000

"""Why gunicorn's sync workers want a buffering reverse proxy in front, even on one machine.

    python bench/gunicorn_linger.py

Since gunicorn 27 a sync worker, after sending a response, waits for the
client to close the connection (up to 2 s) before it takes the next request.
A browser closes after one network round trip, so without a proxy every
worker would sit idle for a round trip per save. This starts one worker,
keeps a first client's connection open for a while after its response, and
times a second request sent meanwhile. Measured on the 2-core benchmark
machine: 2.1 ms when the first client closes at once, 45 ms when it closes
after 50 ms, 196 ms after 200 ms. No target: the figures back the README's
deployment advice.
"""
from __future__ import annotations

import argparse
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gunicorn_server import start_server, stop_server  # noqa: E402


def get(address: tuple[str, int], hold: float) -> float:
    """GET /healthz; seconds until the whole response arrived; then keep the connection open `hold` s."""
    started = time.perf_counter()
    with socket.create_connection(address, timeout=10) as sock:
        sock.sendall(f"GET /healthz HTTP/1.1\r\nHost: {address[0]}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b'"ok"' not in data:
            chunk = sock.recv(4096)
            if not chunk:
                raise ConnectionError("closed before the response")
            data += chunk
        took = time.perf_counter() - started
        time.sleep(hold)
    return took


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help, no options
    with tempfile.TemporaryDirectory() as tmp:
        uri = f"sqlite:///{Path(tmp) / 'linger.sqlite3'}"
        from annotator import create_app
        from annotator.db import db

        app = create_app({"SQLALCHEMY_DATABASE_URI": uri, "SECRET_KEY": "bench"})
        with app.app_context():
            db.create_all()
            db.engine.dispose()
        process, base = start_server(uri, Path(tmp) / "gunicorn.log", 1)
        try:
            host, port = base.removeprefix("http://").rsplit(":", 1)
            address = (host, int(port))
            for hold in (0.0, 0.05, 0.2):
                times = []
                for _ in range(5):
                    first = threading.Thread(target=get, args=(address, hold))
                    first.start()
                    time.sleep(0.01)  # the first response is in; its client still holds the connection
                    times.append(get(address, 0.0))
                    first.join()
                print(f"first client closes {hold * 1000:.0f} ms after its response: a request sent meanwhile took "
                      f"{sorted(times)[2] * 1000:.1f} ms (median of 5), with one sync worker")
        finally:
            stop_server(process)
    return 0


if __name__ == "__main__":
    sys.exit(main())

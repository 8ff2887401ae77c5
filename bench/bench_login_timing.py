"""Login timing: does a failed login take as long for an unknown user name as for an existing one?

    python bench/bench_login_timing.py

On real scrypt (the production password hash), in process through the Flask app
on a fresh SQLite database: N failed logins for an existing name and N for an
unknown one, interleaved, each the full POST /login (form, throttling rows,
user lookup, password check, response). Prints the medians and their relative
difference; target: the difference is under 10 % of the existing name's median.
Throttling is set out of reach here (it would answer 429 before any hash).
Exits non-zero when the target is missed. Before the dummy hash (issue 13 item 2) the
same script gave 202 ms against 8 ms (96 %); with it, 316 ms against 312 ms (1 %),
on the shared 2-core machine under load from other runs.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from machine import describe, report  # noqa: E402

from annotator import create_app
from annotator.db import (
    db,  # noqa: E402
    models,  # noqa: E402
)
from annotator.domain import accounts

N = 41
TARGET_RELATIVE_DIFFERENCE = 0.10


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help, no options
    assert models.PASSWORD_METHOD == "scrypt", models.PASSWORD_METHOD
    with tempfile.TemporaryDirectory() as folder:
        app = create_app({
            "TESTING": True, "WTF_CSRF_ENABLED": False, "SECRET_KEY": "bench",
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.sqlite3'}",
            "LOGIN_MAX_FAILURES": 10**9, "LOGIN_MAX_FAILURES_PER_ADDRESS": 10**9,
        })
        with app.app_context():
            db.create_all()
            accounts.create_user(db.session, "existing", "annotator", "the real password")
            db.session.commit()
        client = app.test_client()

        def login(name: str) -> float:
            started = time.perf_counter()
            response = client.post("/login", data={"name": name, "password": "a wrong password"})
            elapsed = time.perf_counter() - started
            assert response.status_code == 401, (name, response.status_code)
            return elapsed

        login("existing"), login("nobody-here")  # warm-up
        times: dict[str, list[float]] = {"existing": [], "unknown": []}
        for i in range(N):
            order = (("existing", "existing"), ("unknown", f"nobody-{i}")) if i % 2 else (("unknown", f"nobody-{i}"), ("existing", "existing"))
            for kind, name in order:
                times[kind].append(login(name))
        with app.app_context():
            db.engine.dispose()
    existing, unknown = (statistics.median(times[k]) * 1000 for k in ("existing", "unknown"))
    print(f"machine: {describe()}")
    print(f"failed login, existing name: median {existing:.1f} ms of {N}")
    print(f"failed login, unknown name:  median {unknown:.1f} ms of {N}")
    ok = report("relative difference of the medians", abs(existing - unknown) / existing * 100, TARGET_RELATIVE_DIFFERENCE * 100, "%")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark (issue 16): gold kept current by the writes, on the 1M-label fixture of bench_export.py.

    python bench/bench_gold.py [--sentences N] [--changes 1000] [--gold-as-built]

On a copy of bench_export.py's fixture (333,334 sentences x 3 annotators =
1,000,002 labels; --sentences N builds a smaller one for a quick run):
0. The copy's gold is first made what the rule gives, as `annotator gold
   rebuild PROJECT --fix` does once after an upgrade (not timed): the fixture
   stores every gold label as `majority` in a unanimous-only project, a state
   the writes never leave, where the first change of every sentence would also
   rewrite its gold and audit it. --gold-as-built skips this and measures
   that state (about every gold step then writes).
1. Domain level: 1,000 random label saves through the domain write path
   (annotations.write(put_label), each its own transaction, as the API saves;
   a third of them keep the label and skip the gold step), alternating in
   blocks with the same save minus the gold step (what a save cost before
   issue 16, when gold was left to the next reader): median and p95 of wall
   and CPU time of each, and their ratio (printed, no target: the issue's
   "save latency" is what a client sees, below).
2. Request level, the target: 1,000 label changes as the annotation page
   sends them, PUT /api/articles/<id>/labels/<index> with a Bearer token and
   {label, seconds, version, sentence: {start, end}, request_id}, each to
   another label than the annotator's, through the Flask test client, in
   blocks rotating three ways: with the gold step, without it, and with it
   but without a request_id (the idempotency claim's cost, reported apart).
   Median and p95 of wall and CPU time, measured twice: around the test
   client's call (what a client of the app sees, the test client's own work
   included) and around the WSGI app alone (the server's work). Target: the
   WSGI app's median CPU time of a save with the gold step within 10 % of the
   save without (both with a request_id): the stricter of the two, since the
   test client's work is in both. Each kind also says how many of its saves
   wrote gold and their median, and the ratio of those is printed too.
3. Then the next export (the real CLI in a subprocess, as bench_export.py):
   it has no gold to bring up to date any more, the saves did; its wall time
   and peak memory (PSS of the process tree, or the largest RSS). Targets:
   < 20 s and < 300 MB.
Prints the load average next to every figure: on a busy machine the wall
times mean little, the CPU times more.
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from collections import namedtuple
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

import bench_export  # noqa: E402
from machine import describe  # noqa: E402

TARGET_SLOWDOWN = 1.10
BLOCK = 50  # saves per block; blocks alternate with and without the gold step (rotate three ways for the requests)
Save = tuple[float, float, bool]  # wall seconds, CPU seconds, whether its gold step wrote gold
Timings = dict[str, list[Save]]  # kind of save -> each save of that kind
REQUEST_KINDS = ("with gold", "without gold", "with gold, no request_id")


def load() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


class GoldStep:
    """Stands in for incremental.label_changed: the real step (`on`) or none (a save before issue 16), and whether the
    last call wrote gold (a label, span or link, and its audit entry)."""

    def __init__(self) -> None:
        from annotator.domain.gold import incremental

        self.module, self.real, self.on, self.wrote = incremental, incremental.label_changed, True, False

    def __call__(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN204
        if not self.on:
            return None
        result = self.real(*args, **kwargs)
        self.wrote = result.changed > 0
        return result

    def __enter__(self) -> GoldStep:
        self.module.label_changed = self
        return self

    def __exit__(self, *exc: object) -> None:
        self.module.label_changed = self.real

    def kind(self, with_gold: bool) -> None:
        self.on, self.wrote = with_gold, False


def make_gold_current(db_path: Path) -> tuple[int, float]:
    """The fixture's gold made what the rule gives, as `annotator gold rebuild PROJECT --fix` after an upgrade: (fixed, s).

    bench_export builds every gold label as `majority` in a unanimous-only project, a state the writes never leave;
    without this the first change of each sentence would also rewrite its gold (--gold-as-built measures that).
    """
    from annotator import create_app
    from annotator.db import db
    from annotator.domain.gold import rebuild

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "bench"})
    started = time.perf_counter()
    with app.app_context():
        report = rebuild.rebuild(db.session, 1, fix=True, show=0)
    return report.differences, time.perf_counter() - started


def saves(db_path: Path, changes: int, seed: int = 13) -> Timings:
    """Each domain-level save, with and without the gold step, in alternating blocks."""
    from sqlalchemy import insert, select

    from annotator import create_app
    from annotator.db import db
    from annotator.db.models import Article, Assignment, User
    from annotator.domain import annotations

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "bench"})
    rng = random.Random(seed)
    out: Timings = {"with gold": [], "without gold": []}
    with app.app_context(), GoldStep() as gold:
        session = db.session
        users = list(session.scalars(select(User.id).where(User.role == "annotator").order_by(User.id)))
        article_ids = list(session.scalars(select(Article.id).order_by(Article.id)))
        picked = [(rng.choice(article_ids), rng.randrange(bench_export.PER_ARTICLE), rng.choice(users), rng.choice(bench_export.LABELS))
                  for _ in range(changes)]
        with annotations_transaction(session):
            rows = {(a, u) for a, _, u, _ in picked}
            session.execute(insert(Assignment).prefix_with("OR IGNORE"), [{"article_id": a, "user_id": u, "status": "in_progress"}
                                                                          for a, u in sorted(rows)])
        for k, (article, index, user, label) in enumerate(picked):
            with_gold = (k // BLOCK) % 2 == 0
            gold.kind(with_gold)
            wall, cpu = time.perf_counter(), time.process_time()
            try:
                annotations.write(session, lambda a=article, i=index, u=user, x=label: annotations.put_label(session, u, a, i, x))
            except annotations.AnnotationError:
                continue  # a sentence index past a short article's end
            out["with gold" if with_gold else "without gold"].append((time.perf_counter() - wall, time.process_time() - cpu, gold.wrote))
    return out


def annotations_transaction(session):  # noqa: ANN001, ANN201
    from annotator.db.transactions import transaction

    return transaction(session)


def label_requests(db_path: Path, changes: int, seed: int = 17) -> tuple[Timings, Timings]:
    """Each label-save request as the page sends it, timed around the test client's call and around the WSGI app
    alone, the kinds of REQUEST_KINDS in rotating blocks.

    Each request changes the label (another value than the annotator's current one) and carries the version the
    annotator last saw and the sentence's bounds, as annotate.js sends them; every answer must be a 200.
    """
    from annotator import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{db_path}", "SECRET_KEY": "bench"})
    rng = random.Random(seed)
    plan, labels, tokens = request_plan(app, changes, rng)
    server: list[tuple[float, float]] = []
    client = app.test_client()
    app.wsgi_app = timed_wsgi(app.wsgi_app, server)
    seen: Timings = {kind: [] for kind in REQUEST_KINDS}
    inside: Timings = {kind: [] for kind in REQUEST_KINDS}
    with GoldStep() as gold:
        for k, sentence in enumerate(plan):
            kind = REQUEST_KINDS[(k // BLOCK) % len(REQUEST_KINDS)]
            gold.kind(kind != "without gold")
            current, version = labels.get((sentence.user_id, sentence.id), (None, 0))
            label = rng.choice([x for x in bench_export.LABELS if x != current])
            body = {"label": label, "seconds": 1.5, "version": version, "sentence": {"start": sentence.start, "end": sentence.end}}
            if kind != "with gold, no request_id":
                body["request_id"] = uuid.uuid4().hex
            wall, cpu = time.perf_counter(), time.process_time()
            response = client.put(f"/api/articles/{sentence.article_id}/labels/{sentence.index}", json=body,
                                  headers={"Authorization": f"Bearer {tokens[sentence.user_id]}"})
            seen[kind].append((time.perf_counter() - wall, time.process_time() - cpu, gold.wrote))
            inside[kind].append((*server[-1], gold.wrote))
            assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
            labels[(sentence.user_id, sentence.id)] = (label, response.get_json()["version"])
    return seen, inside


Planned = namedtuple("Planned", "id article_id index start end user_id")  # a sentence and who changes its label


def request_plan(app, changes: int, rng: random.Random):  # noqa: ANN001, ANN201
    """Random (sentence, annotator) pairs (Planned), the annotators' labels
    on them {(user, sentence): (label, version)}, and a token per annotator; each annotator assigned to the articles."""
    from sqlalchemy import func, insert, select

    from annotator.db import db
    from annotator.db.models import Annotation, Assignment, Sentence, User
    from annotator.domain import accounts

    with app.app_context():
        session = db.session
        users = list(session.scalars(select(User).where(User.role == "annotator").order_by(User.id)))
        last = session.scalar(select(func.max(Sentence.id)))
        picked = [(rng.randint(1, last), rng.choice(users).id) for _ in range(changes)]
        columns = (Sentence.id, Sentence.article_id, Sentence.index, Sentence.start, Sentence.end)
        rows = {r.id: r for r in session.execute(select(*columns).where(Sentence.id.in_({sid for sid, _ in picked})))}
        plan = [Planned(*rows[sid], user) for sid, user in picked if sid in rows]
        labels = {(a, s): (label, version) for a, s, label, version in session.execute(
            select(Annotation.user_id, Annotation.sentence_id, Annotation.label, Annotation.version).where(Annotation.sentence_id.in_(set(rows))))}
        with annotations_transaction(session):
            tokens = {user.id: accounts.issue_token(session, user) for user in users}
            session.execute(insert(Assignment).prefix_with("OR IGNORE"), [{"article_id": a, "user_id": u, "status": "in_progress"}
                                                                          for a, u in sorted({(r.article_id, r.user_id) for r in plan})])
    return plan, labels, tokens


def timed_wsgi(wsgi_app, out: list[tuple[float, float]]):  # noqa: ANN001, ANN201
    """The WSGI app, appending the (wall, cpu) seconds of each request to `out` (its answer read to the end)."""

    def app(environ, start_response):  # noqa: ANN001, ANN202
        wall, cpu = time.perf_counter(), time.process_time()
        answer = wsgi_app(environ, start_response)
        try:
            body = b"".join(answer)
        finally:
            getattr(answer, "close", lambda: None)()
        out.append((time.perf_counter() - wall, time.process_time() - cpu))
        return [body]

    return app


Medians = dict[str, tuple[float, float]]  # kind -> median (wall, cpu) seconds; "<kind>, wrote gold": of those saves only


def summary(timings: Timings, what: str) -> Medians:
    """Prints median and p95 of wall and CPU time of each kind (and the median of its saves that wrote gold)."""
    medians: Medians = {}
    for name, values in timings.items():
        walls, cpus = sorted(v[0] for v in values), sorted(v[1] for v in values)
        medians[name] = (statistics.median(walls), statistics.median(cpus))
        wrote = [v for v in values if v[2]]
        p95 = int(0.95 * len(values))
        line = (f"{what} {name:25}: median {1000 * medians[name][0]:.2f} ms wall, {1000 * medians[name][1]:.2f} ms CPU; "
                f"p95 {1000 * walls[p95]:.2f} ms wall, {1000 * cpus[p95]:.2f} ms CPU ({len(values)} saves")
        if wrote:
            medians[f"{name}, wrote gold"] = (statistics.median(v[0] for v in wrote), statistics.median(v[1] for v in wrote))
            line += f"; {len(wrote)} wrote gold: median {1000 * medians[f'{name}, wrote gold'][1]:.2f} ms CPU"
        print(f"{line}; {load()})")
    return medians


def ratio_line(medians: Medians, a: str, b: str, what: str, target: bool = False) -> float:
    """Prints the ratio of medians a / b (CPU, and wall beside it); with `target`, PASS or FAIL against TARGET_SLOWDOWN."""
    ratio = medians[a][1] / medians[b][1]
    verdict = f"(target <= {TARGET_SLOWDOWN})  {'PASS' if ratio <= TARGET_SLOWDOWN else 'FAIL'}" if target else "(no target)"
    print(f"{what}: {a} / {b}, median CPU {ratio:.3f}, wall {medians[a][0] / medians[b][0]:.3f} {verdict}")
    return ratio


def export(db_path: Path) -> tuple[float, float, int]:
    """(seconds, peak MB, exit code) of `annotator export bench`."""
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{db_path}", "SECRET_KEY": "bench", "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "annotator", "export", "bench", "-o", str(db_path.with_suffix(".jsonl"))],
                             env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pss_peak = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        pss_peak = max(pss_peak, bench_export.tree_memory_kb(child.pid)[1])
        time.sleep(0.05)
    return time.perf_counter() - started, max(pss_peak, usage.ru_maxrss) / 1024, os.waitstatus_to_exitcode(status)


def remove(db_path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=bench_export.N_SENTENCES)
    parser.add_argument("--changes", type=int, default=1000)
    parser.add_argument("--gold-as-built", action="store_true", help="keep the fixture's stored gold, which the rule does not give")
    args = parser.parse_args()
    bench_export.OUT.mkdir(parents=True, exist_ok=True)
    if args.sentences == bench_export.N_SENTENCES:
        fixture = bench_export.OUT / f"export-fixture-{bench_export.FIXTURE_VERSION}.sqlite3"
    else:
        bench_export.N_SENTENCES = args.sentences
        fixture = bench_export.OUT / f"gold-fixture-{args.sentences}.sqlite3"
    if not fixture.exists():
        bench_export.build(fixture)
    work = bench_export.OUT / "gold-bench.sqlite3"
    remove(work)
    shutil.copyfile(fixture, work)
    print(describe())
    if not args.gold_as_built:
        fixed, seconds = make_gold_current(work)
        print(f"the fixture's gold made what the rule gives (gold rebuild --fix): {fixed} differences fixed in {seconds:.1f} s ({load()})")
    print(f"{args.sentences} sentences x 3 annotators; {args.changes} label saves, then {args.changes} label-changing requests ({load()})")
    domain = summary(saves(work, args.changes), "domain save")
    ratio_line(domain, "with gold", "without gold", "domain save (annotations.write(put_label)), the gold step")
    if "with gold, wrote gold" in domain:
        ratio_line(domain, "with gold, wrote gold", "without gold", "domain save, the gold step where it wrote gold")
    seen, inside = label_requests(work, args.changes)
    client, server = summary(seen, "request (test client)"), summary(inside, "request (WSGI app)   ")
    ratio_line(client, "with gold", "without gold", "request (test client), the gold step")
    ratio_line(client, "with gold", "with gold, no request_id", "request (test client), the request_id claim")
    ratio_line(server, "with gold", "with gold, no request_id", "request (WSGI app), the request_id claim")
    if "with gold, wrote gold" in server:
        ratio_line(server, "with gold, wrote gold", "without gold", "request (WSGI app), the gold step where it wrote gold")
    ratio = ratio_line(server, "with gold", "without gold", "request (WSGI app), the gold step", target=True)
    seconds, mb, code = export(work)
    ok = code == 0 and seconds < bench_export.TARGET_SECONDS and mb < bench_export.TARGET_RSS_MB
    print(f"next export (gold already current): {seconds:.1f} s, peak {mb:.0f} MB, exit {code} "
          f"(targets < {bench_export.TARGET_SECONDS:.0f} s, < {bench_export.TARGET_RSS_MB:.0f} MB; {load()})  {'PASS' if ok else 'FAIL'}")
    remove(work)
    return 0 if ok and ratio <= TARGET_SLOWDOWN else 1


if __name__ == "__main__":
    sys.exit(main())

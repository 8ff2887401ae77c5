"""Side by side with Potato and Label Studio (issue 17), on the shared peerbench harness's workload.

    python bench/peer_rounds.py --rounds 3 [--labelstudio-once] [--workdir DIR]
    python bench/peer_rounds.py --report [--workdir DIR]      # the rows again, from the stored results

Not a bench_*.py: run_all.py does not run it, because it needs the harness
(../shared/peerbench/bench.py, or $PEERBENCH_DIR), Potato's and Label Studio's
virtualenvs ($PEERBENCH_WORKDIR/venv-potato, venv-ls; the harness's README
says how to make them) and about ten minutes a round. Without the harness it
says so and exits 0.

Each round runs, one after the other on the same machine: this app as the
harness drives it (`annotator`: a save is the label PUT and two span POSTs,
as the page sends a change when it is alone in its queue), this app saving
each user action as ONE request (`annotator-batch`: POST
/api/articles/{id}/changes with the label and both spans, as the page's queue
sends several waiting changes), then Potato, and Label Studio in the first
round when asked. Ratios are taken within a round only (the machine is shared).

This app runs with the shipped gunicorn settings (./gunicorn.conf.py: threaded workers, preload from three workers) and the
number of workers their rule gives (one per core on SQLite); the harness's own default would be cores + 1.

`annotator-batch` also records, on the same server in the same run:
- the server's floor: 2,000 GETs of /healthz by 8 threads, each with its own
  keep-alive connection (the throughput no save can beat);
- the summed PSS of the server's process tree, sampled every 0.25 s (the
  harness samples summed RSS, which counts the pages the preloaded workers
  share with the master once per process).

The rows the issue asks for, each PASS/FAIL per round:
- article JSON p50 (GET /api/articles/<id>) below Potato's JSON (/api/current_instance);
- annotation page HTML p50 (/annotate/<id>) below Potato's HTML page (/annotate);
- peak summed RSS of the server's tree below Potato's (PSS printed beside it);
- cold start to the first 200 below Potato's;
- import of 1,000 articles (with segmentation) below Potato's load time;
- saves by 8 annotators at 8 clients >= 2x Potato's, and >= 0.5 of the floor;
- no error in any phase, and every save in the export.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
HARNESS = Path(os.environ.get("PEERBENCH_DIR", ROOT.parent / "shared" / "peerbench"))
FLOOR_REQUESTS = 2000
FLOOR_CLIENTS = 8
SAVE_VS_POTATO = 2.0
SAVE_VS_FLOOR = 0.5


def harness():
    """The harness module (standard library only), imported from its folder."""
    sys.path.insert(0, str(HARNESS))
    import bench  # noqa: PLC0415  (the shared harness; absent on a plain clone)

    return bench


def pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def batch_adapter(pb):  # noqa: ANN001, ANN201
    """The harness's annotator adapter, saving a user action as one batch request, with the floor and PSS."""

    class AnnotatorBatchAdapter(pb.AnnotatorAdapter):
        name = "annotator-batch"

        def __init__(self, args):  # noqa: ANN001
            super().__init__(args)
            self.pss_peak_kb = 0
            self._pss_stop = threading.Event()

        def cold_start(self, **kw):  # noqa: ANN003
            seconds = super().cold_start(**kw)
            self._pss_stop.set()
            self._pss_stop = threading.Event()
            threading.Thread(target=self._sample_pss, args=(self.proc.pid, self._pss_stop), daemon=True).start()
            return seconds

        def _sample_pss(self, root: int, stop: threading.Event) -> None:
            while not stop.is_set():
                self.pss_peak_kb = max(self.pss_peak_kb, sum(pss_kb(p) for p in pb.tree_pids(root)))
                stop.wait(0.25)

        def save(self, c, di, ann):  # noqa: ANN001
            aid = self.doc_ids[di]
            idx, s, e = self.sentence_of[(di, ann["sentence"])]
            operations = [{"op": "put_label", "sentence_index": idx, "label": self.LABELS[ann["label"]], "seconds": 12.5,
                           "version": 0, "sentence": {"start": s, "end": e}}]
            operations += [{"op": "create_span", "id": self._new_uid(), "label": self.SPAN_LABELS[sp["label"]], "start": sp["start"],
                            "end": sp["end"]} for sp in ann["spans"]]
            t0 = time.perf_counter()
            c.request("POST", f"/api/articles/{aid}/changes", json_body={"request_id": self._new_uid(), "operations": operations}, ok=(200,))
            with self._lock:
                self.sub_lats["label"].append(time.perf_counter() - t0)
                self.sub_lats["span"].append(0.0)

        def export_sentence_unit(self):
            """The harness calls this after the export with the server still up: the floor is measured here."""
            out = super().export_sentence_unit()
            out["floor_c8"] = self._floor()
            out["pss_peak_mb"] = round(self.pss_peak_kb / 1024, 1)
            return out

        def _floor(self) -> dict:
            lats, errors, lock = [], [], threading.Lock()

            def worker(t: int) -> None:
                c = pb.Http(self.base)
                for _ in range(t, FLOOR_REQUESTS, FLOOR_CLIENTS):
                    t0 = time.perf_counter()
                    try:
                        c.request("GET", self.health_path, ok=(200,))
                    except Exception as exc:  # noqa: BLE001  (counted, as the harness counts save errors)
                        with lock:
                            errors.append(repr(exc)[:200])
                        continue
                    with lock:
                        lats.append(time.perf_counter() - t0)
                c.close()

            threads = [threading.Thread(target=worker, args=(t,)) for t in range(FLOOR_CLIENTS)]
            started = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join(300)
            wall = time.time() - started
            out = pb.lat_summary(lats)
            out.update(errors=len(errors), throughput_per_s=round(len(lats) / wall, 1))
            return out

        def stop(self):
            self._pss_stop.set()
            return super().stop()

    return AnnotatorBatchAdapter


def run_one(tool: str, results: Path, extra: list[str]) -> None:
    """One harness run in a child process (so each tool starts from a fresh interpreter)."""
    env = dict(os.environ, PEERBENCH_RESULTS=str(results))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--harness-run", "--tool", tool] + extra
    if tool.startswith("annotator"):
        # the workers the shipped settings' rule gives (README): the harness's own default is the earlier cores + 1
        sys.path.insert(0, str(ROOT))
        from annotator.gunicorn_conf import worker_count  # noqa: PLC0415

        workers = worker_count({}, len(os.sched_getaffinity(0)))
        cmd += ["--app-dir", str(ROOT), "--app-python", sys.executable, "--c8-annotators", "8", "--workers", str(workers)]
    else:
        cmd += ["--c8-annotators", "8"]
    print(f"--- {time.strftime('%H:%M:%S')} {tool} (load {os.getloadavg()[0]:.2f})", flush=True)
    results.mkdir(parents=True, exist_ok=True)
    with open(results / "runs.log", "a") as log:  # the harness's own lines, for when a run fails
        subprocess.run(cmd, env=env, check=True, stdout=log, stderr=subprocess.STDOUT)


def harness_run(argv: list[str]) -> None:
    """The harness's `run`; for annotator-batch, its annotator run (set-up is by tool name) with the batch adapter,
    the result file then named for annotator-batch."""
    pb = harness()
    batch = argv[argv.index("--tool") + 1] == "annotator-batch"
    if batch:
        pb.ADAPTERS["annotator"] = batch_adapter(pb)
        argv[argv.index("--tool") + 1] = "annotator"
    before = set(glob.glob(os.path.join(pb.RESULTS, "*.json")))
    sys.argv = ["bench.py", "run"] + argv
    pb.main()
    if batch:
        (path,) = set(glob.glob(os.path.join(pb.RESULTS, "*.json"))) - before
        with open(path) as f:
            result = json.load(f)
        result["tool"] = "annotator-batch"
        with open(path.replace("annotator-", "annotator-batch-"), "w") as f:
            json.dump(result, f, indent=2)
        os.remove(path)


def _median(values) -> float | None:  # noqa: ANN001
    values = values if isinstance(values, list) else [values]
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def _errors(r: dict) -> int:
    return sum(r[p].get("errors", 0) for p in ("save_c1", "save_c8") if p in r)


def rows(round_results: dict[str, dict]) -> list[tuple[str, str, bool | None]]:
    """(row, figures, passed) for one round's results by tool."""
    ours, plain, potato = round_results.get("annotator-batch"), round_results.get("annotator"), round_results.get("potato")
    if not ours or not potato:
        return [("round incomplete", ", ".join(sorted(round_results)), None)]
    out = []

    def row(name: str, a: float, b: float, passed: bool, unit: str = "") -> None:
        out.append((name, f"{a:.2f}{unit} vs {b:.2f}{unit} (ratio {a / b:.2f})", passed))

    row("article JSON p50, ours vs Potato's JSON", ours["page"]["p50_ms"], potato["page_alt"]["p50_ms"],
        ours["page"]["p50_ms"] < potato["page_alt"]["p50_ms"], " ms")
    row("annotation page HTML p50, ours vs Potato's", ours["page_alt"]["p50_ms"], potato["page"]["p50_ms"],
        ours["page_alt"]["p50_ms"] < potato["page"]["p50_ms"], " ms")
    our_rss, their_rss = max(ours["peak_rss_mb"].values()), max(potato["peak_rss_mb"].values())
    row(f"peak summed RSS (ours' PSS peak {ours.get('pss_peak_mb', float('nan')):.0f} MB)", our_rss, their_rss, our_rss < their_rss, " MB")
    row("cold start to first 200", _median(ours["cold_start_s"]), _median(potato["cold_start_s"]),
        _median(ours["cold_start_s"]) < _median(potato["cold_start_s"]), " s")
    row("import 1,000 articles (ours segments)", _median(ours["import_s"]), _median(potato["import_s"]),
        _median(ours["import_s"]) < _median(potato["import_s"]), " s")
    a, b = ours["save_c8"]["throughput_per_s"], potato["save_c8"]["throughput_per_s"]
    row(f"saves/s, 8 annotators at c8, ours (batch) vs Potato, target >= {SAVE_VS_POTATO}x", a, b, a >= SAVE_VS_POTATO * b, "/s")
    floor = ours["floor_c8"]["throughput_per_s"]
    row(f"saves/s at c8 vs the server's floor (GET /healthz at c8), target >= {SAVE_VS_FLOOR}", a, floor, a >= SAVE_VS_FLOOR * floor, "/s")
    if plain:
        out.append(("saves/s at c8, three requests a save (harness's annotator) vs Potato",
                    f"{plain['save_c8']['throughput_per_s']:.1f} vs {b:.1f}/s (ratio {plain['save_c8']['throughput_per_s'] / b:.2f})", None))
    verify = ours.get("verify", {})
    expected = ours["export_records_expected"]
    complete = verify.get("labels") == expected and verify.get("spans") == 2 * expected
    errors = _errors(ours) + ours["floor_c8"]["errors"] + (_errors(plain) if plain else 0)
    out.append(("errors in every phase; every save in the export",
                f"{errors} errors; export has {verify.get('labels')} labels and {verify.get('spans')} spans of {expected} saves", errors == 0 and complete))
    return out


def report(results: Path) -> int:
    """Group result files into rounds (a round starts at each annotator-batch run) and print the rows."""
    runs = []
    for path in sorted(glob.glob(str(results / "*.json"))):
        with open(path) as f:
            runs.append(json.load(f))
    runs.sort(key=lambda r: r["started"])
    rounds: list[dict[str, dict]] = []
    for r in runs:
        if r["tool"] == "annotator-batch" or not rounds:
            rounds.append({})
        rounds[-1][r["tool"]] = r
    failed = 0
    for n, found in enumerate(rounds, 1):
        loads = ", ".join(f"{t} {r['loadavg_start'][0]:.1f}" for t, r in found.items())
        print(f"\nround {n} (load at start: {loads})")
        for name, figures, passed in rows(found):
            mark = "" if passed is None else ("PASS" if passed else "FAIL")
            failed += passed is False
            print(f"  {mark:4}  {name}: {figures}")
        if "labelstudio" in found and "annotator-batch" in found:
            ls, ours = found["labelstudio"], found["annotator-batch"]
            print(f"        Label Studio: saves/s c8 {ls['save_c8']['throughput_per_s']:.1f} (ours {ours['save_c8']['throughput_per_s'] / ls['save_c8']['throughput_per_s']:.1f}x), "
                  f"page JSON p50 {ls['page']['p50_ms']:.1f} ms, import {_median(ls['import_s']):.2f} s, "
                  f"export {_median(ls['export_s']):.2f} s (ours {_median(ours['export_s']):.2f} s)")
    print(f"\n{failed} row(s) failed across {len(rounds)} round(s)")
    return 1 if failed else 0


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--harness-run":
        harness_run(sys.argv[2:])
        return 0
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--labelstudio-once", action="store_true", help="Label Studio in the first round")
    ap.add_argument("--no-plain", action="store_true", help="leave out the three-requests-a-save run of this app")
    ap.add_argument("--workdir", default=os.environ.get("PEERBENCH_WORKDIR"), help="the harness's work folder (venvs, data)")
    ap.add_argument("--report", action="store_true", help="only print the rows of the stored results")
    args = ap.parse_args()
    if not (HARNESS / "bench.py").is_file():
        print(f"skipped: no peerbench harness at {HARNESS} (set PEERBENCH_DIR)")
        return 0
    if not args.workdir:
        ap.error("--workdir (or PEERBENCH_WORKDIR) is needed: the harness keeps venvs and servers' data there")
    os.environ["PEERBENCH_WORKDIR"] = args.workdir
    results = Path(args.workdir) / "results-rounds"
    if not args.report:
        sys.path.insert(0, str(HERE))
        from machine import describe  # noqa: PLC0415

        print(f"machine: {describe()}")
        for n in range(args.rounds):
            tools = ["annotator-batch"] + ([] if args.no_plain else ["annotator"]) + ["potato"]
            if args.labelstudio_once and n == 0:
                tools.append("labelstudio")
            for tool in tools:
                run_one(tool, results, [])
    return report(results)


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark of annotator.stats.agreement label metrics from encoded arrays.

Run from the repository root:  python bench/bench_agreement.py

1. All label metrics together (label_report: percent agreement, Fleiss' kappa,
   Gwet's AC1, Krippendorff's alpha, one-vs-rest alpha per label, pairwise
   Cohen's kappa) on 1,000,000 ratings: 333,334 sentences x 3 annotators,
   5 % missing, 3 labels, starting from the encoded LabelMatrix.
   Target: median < 100 ms.
2. Bootstrap CI of alpha, 1,000 resamples of a 10,000-sentence project
   (500 articles of 20 sentences, and the worst case of one sentence per
   article).  Target: median < 1 s each.

Prints each figure, its target and PASS/FAIL, and the machine; exits 1 on a miss.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from annotator.stats.agreement import LabelMatrix, bootstrap_ci, label_report  # noqa: E402

N_ITEMS = 333_334
N_ANNOTATORS = 3
MISSING = 0.05
LABELS = ["CFS", "UFS", "NFS"]
REPORT_TARGET_S = 0.100
BOOT_TARGET_S = 1.0


def make_codes(n_items: int, seed: int = 13) -> np.ndarray:
    """Skewed labels (check-worthy claims are rare) with realistic agreement."""
    rng = np.random.default_rng(seed)
    truth = rng.choice(len(LABELS), size=n_items, p=[0.15, 0.25, 0.60])
    noise = rng.integers(0, len(LABELS), size=(n_items, N_ANNOTATORS))
    codes = np.where(rng.random((n_items, N_ANNOTATORS)) < 0.8, truth[:, None], noise)
    codes[rng.random((n_items, N_ANNOTATORS)) < MISSING] = -1
    return codes.astype(np.int8)


def median_time(fn, runs: int) -> tuple[float, list[float]]:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


def nproc() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=9, help="timed runs per figure (median is reported)")
    args = ap.parse_args()

    print(
        f"machine: {platform.platform()} | {platform.machine()} | nproc {nproc()} | "
        f"python {platform.python_version()} | numpy {np.__version__}"
    )

    ok = True
    codes = make_codes(N_ITEMS)
    lm = LabelMatrix(codes, [f"annotator{j}" for j in range(N_ANNOTATORS)], LABELS)
    cells = codes.size
    print(f"data: {N_ITEMS:,} sentences x {N_ANNOTATORS} annotators = {cells:,} cells, "
          f"{lm.n_ratings:,} ratings ({MISSING:.0%} missing), {len(LABELS)} labels")

    med, times = median_time(lambda: label_report(lm), args.runs)
    rep = label_report(lm)
    verdict = "PASS" if med < REPORT_TARGET_S else "FAIL"
    ok &= verdict == "PASS"
    print(
        f"label_report (all label metrics, from arrays): median {med * 1000:.1f} ms "
        f"(min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}, {args.runs} runs) "
        f"target < {REPORT_TARGET_S * 1000:.0f} ms {verdict}"
    )
    print(
        f"  alpha {rep.krippendorff_alpha.value:.4f}  fleiss {rep.fleiss_kappa.value:.4f}  "
        f"ac1 {rep.gwet_ac1.value:.4f}  percent {rep.percent_agreement.value:.4f}  "
        f"fleiss items used {rep.fleiss_kappa.n_items_used:,} (left out {rep.fleiss_kappa.n_left_out:,})"
    )

    small = lm.take(np.arange(10_000))
    for label, groups in [
        ("500 articles x 20 sentences", np.repeat(np.arange(500), 20)),
        ("10,000 one-sentence articles", np.arange(10_000)),
    ]:
        med, times = median_time(lambda groups=groups: bootstrap_ci(small, groups, "krippendorff_alpha", n=1000, seed=13),
                                 max(3, args.runs // 2))
        res = bootstrap_ci(small, groups, "krippendorff_alpha", n=1000, seed=13)
        verdict = "PASS" if med < BOOT_TARGET_S else "FAIL"
        ok &= verdict == "PASS"
        print(
            f"bootstrap_ci alpha, 10,000 sentences, 1,000 resamples, {label}: median {med * 1000:.1f} ms "
            f"target < {BOOT_TARGET_S * 1000:.0f} ms {verdict}  "
            f"(alpha {res.value:.4f}, 95% CI {res.ci[0]:.4f}..{res.ci[1]:.4f})"
        )

    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""Label-schema validation on a very large schema: the path a pasted or uploaded schema takes.

    python bench/bench_schema.py

Times, median of three runs in CPU seconds, `labelschema.loads` of a schema of
30,000 sentence labels (JSON text, as the admin page and `annotator projects
create --schema` receive it) followed by `projects.create_project`'s own
validate() of the result (which must be free: a validated schema is not
checked again), and the same for 60,000 labels to show the growth is linear.
Exits non-zero when a target is missed.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from annotator.domain import labelschema  # noqa: E402

LABELS = 30_000
TARGET_SECONDS = 0.5  # loads + the second validate, for 30,000 labels
TARGET_GROWTH = 2.6  # time(2n) / time(n): about 2 when linear, about 4 when quadratic
RUNS = 3


def schema_text(n: int) -> str:
    return json.dumps({"sentence_labels": [{"name": f"L{i}", "description": f"label number {i}", "color": "#1f77b4"} for i in range(n)]})


def timed(n: int) -> float:
    text = schema_text(n)
    times = []
    for _ in range(RUNS):
        started = time.process_time()
        checked = labelschema.loads(text)
        labelschema.validate(checked)  # what create_project / update_project do with it
        times.append(time.process_time() - started)
    return statistics.median(times)


def main() -> int:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()  # --help, no options
    small, large = timed(LABELS), timed(2 * LABELS)
    growth = large / small
    ok_time, ok_growth = small <= TARGET_SECONDS, growth <= TARGET_GROWTH
    print(f"loads + validate, {LABELS:,} labels: {small:.3f} s CPU (target <= {TARGET_SECONDS} s) {'PASS' if ok_time else 'FAIL'}")
    print(f"{2 * LABELS:,} labels: {large:.3f} s CPU; growth x{growth:.2f} for twice the labels (target <= {TARGET_GROWTH}) {'PASS' if ok_growth else 'FAIL'}")
    return 0 if ok_time and ok_growth else 1


if __name__ == "__main__":
    sys.exit(main())

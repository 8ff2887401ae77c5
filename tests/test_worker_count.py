"""conftest's pytest_xdist_auto_num_workers: how many workers the suite runs on when not told `-n N`."""
from __future__ import annotations

import os

from .conftest import pytest_xdist_auto_num_workers


def test_the_suite_runs_one_worker_more_than_the_cores_it_may_use():
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    assert pytest_xdist_auto_num_workers(None) == cores + 1

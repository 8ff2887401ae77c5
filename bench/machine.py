"""What machine a benchmark ran on, printed with every figure."""
from __future__ import annotations

import os
import platform
import sys


def describe() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError):
        mem_gb = float("nan")
    return f"{cpu}, {os.cpu_count()} cores, {mem_gb:.0f} GiB, Python {sys.version.split()[0]}, {platform.system()} {platform.release()}"


def report(name: str, value: float, target: float, unit: str, lower_is_better: bool = True) -> bool:
    ok = value < target if lower_is_better else value >= target
    sign = "<" if lower_is_better else ">="
    print(f"{name}: {value:.3g} {unit} (target {sign} {target:g} {unit}) {'PASS' if ok else 'FAIL'}", flush=True)
    return ok

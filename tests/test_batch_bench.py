"""benchmarks/batch_bench.py runs and its four approaches agree on a small population: the figures
docs/performance.md gives are of approaches that compute the same thing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_batch_benchmark_agrees_row_for_row_on_a_small_population() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "batch_bench.py"), "--rows", "300", "--repeat", "1"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all 4 agree on every status and amount of 300 rows" in done.stdout
    assert "× hand" in done.stdout

"""The benchmarks at a tiny size, so they cannot rot (`.ci/run` runs this through pytest).

Only a crash fails: missed targets are figures for bench/RESULTS.md, and timed assertions
do not belong in tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_every_benchmark_runs_at_smoke_size(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "bench.run_all", "--smoke", "--workdir", str(tmp_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    lines = [line for line in done.stdout.splitlines() if ": ratio=" in line]
    names = {line.split(":", 1)[0] for line in lines}
    assert {"cold-build-serial", "cold-build-parallel", "build-peak-memory", "sparse-build", "warm-check",
            "one-file-changed-build", "heavy-imports-check", "local-engine-10k", "prefect-generated-vs-hand",
            "uneven-dag-prefect", "uneven-dag-local"} <= names, done.stdout

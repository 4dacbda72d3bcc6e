"""Shared helpers of the benchmark scripts: timing commands in fresh processes (wall time
and peak memory), medians, and the one-line result format every script prints:

    NAME: ratio=X (target ≤ Y) …details

A result line never fails a run: missing a target is a figure to record, not a crash.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.corpus import generate

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
PYTHON = sys.executable
#: quiet, offline Prefect for every child process
ENV = {
    **os.environ,
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PYTHONDONTWRITEBYTECODE": "1",
}
_MEASURE = r"""
import json, resource, runpy, sys, time
start = time.perf_counter()
kind, target, *argv = sys.argv[1:]
sys.argv = [target, *argv]
code = 0
try:
    if kind == "module":
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        exec(compile(target, "<bench>", "exec"), {"__name__": "__main__"})
except SystemExit as exit:
    code = exit.code if isinstance(exit.code, int) else (0 if exit.code is None else 1)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
sys.stderr.write("\nBENCH-RESULT " + json.dumps({"seconds": seconds, "peak": peak, "children_peak": children, "code": code}) + "\n")
"""


class Measured(dict):
    """{"seconds", "wall", "peak", "children_peak", "code", "stdout"} of one child process
    (`children_peak`: the largest of its own child processes, e.g. extraction workers)."""

    seconds = property(lambda self: self["seconds"])
    wall = property(lambda self: self["wall"])
    peak = property(lambda self: self["peak"])


def run(kind: str, target: str, argv: Sequence[str] = (), cwd: Path | None = None,
        env: dict | None = None, check: bool = True) -> Measured:
    """Run `python -m target argv` (kind "module") or `python -c target` (kind "code") in a
    fresh interpreter. `seconds` is from interpreter start-up done to exit (what the
    command costs once Python runs), `wall` includes start-up, `peak` is its max RSS."""
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-c", _MEASURE, kind, target, *argv], cwd=cwd, env={**ENV, **(env or {})},
                          capture_output=True, text=True)
    wall = time.perf_counter() - start
    marker = done.stderr.rfind("BENCH-RESULT ")
    if marker < 0:
        raise RuntimeError(f"`{target} {' '.join(argv)}` crashed:\n{done.stderr[-3000:]}")
    result = Measured(json.loads(done.stderr[marker + len("BENCH-RESULT "):]))
    result.update(wall=wall, stdout=done.stdout, stderr=done.stderr[:marker])
    if check and result["code"] not in (0, None):
        raise RuntimeError(f"`{target} {' '.join(argv)}` exited {result['code']}:\n{done.stdout[-2000:]}\n{result['stderr'][-2000:]}")
    return result


def orchc(command: str, project: Path, env: dict | None = None, check: bool = True) -> Measured:
    return run("module", "compiler", [command, str(project)], cwd=project, env=env, check=check)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def mib(size: float) -> str:
    return f"{size / 2**20:.0f} MiB"


def line(name: str, ratio: float, target: float, details: str) -> str:
    status = "ok" if ratio <= target else "MISSED"
    text = f"{name}: ratio={ratio:.3f} (target ≤ {target:g}) {status} {details}"
    print(text, flush=True)
    return text


def parser(description: str) -> argparse.ArgumentParser:
    result = argparse.ArgumentParser(description=description)
    result.add_argument("--smoke", action="store_true", help="a tiny size, to prove the script still runs")
    result.add_argument("--repeat", type=int, default=None, help="measurements per figure (median)")
    result.add_argument("--workdir", type=Path, default=None, help="where to generate projects (default: a temp folder)")
    return result


def workdir(args: argparse.Namespace, name: str) -> Path:
    base = args.workdir or Path(tempfile.gettempdir()) / "orchc-bench"
    folder = base / name
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def build_corpus(args: argparse.Namespace, name: str) -> tuple[Path, dict]:
    """The generated project of the build benchmarks (1000 files of 10 operations; 40 of 4
    with `--smoke`) in the workdir folder `NAME-FILES`, and its summary."""
    files, ops = (40, 4) if args.smoke else (1000, 10)
    project = workdir(args, f"{name}-{files}")
    return project, generate(project, files=files, ops_per_file=ops)


def clean(project: Path) -> None:
    """Remove every output and cache: the next build is cold."""
    import shutil

    shutil.rmtree(project / ".orchc_cache", ignore_errors=True)
    shutil.rmtree(project / "orchestration", ignore_errors=True)
    (project / "flows.lock").unlink(missing_ok=True)


def parse_floor(project: Path, files: Sequence[str] | None = None) -> Measured:
    """libcst.parse_module of the project's sources (or of `files`), one process; every
    source is read either way (the floor of the sparse case)."""
    code = (
        "import glob, libcst, sys\n"
        "paths = sorted(p for p in glob.glob('src/**/*.py', recursive=True) if '/orchestration/' not in p)\n"
        f"chosen = {list(files) if files is not None else None!r}\n"
        "texts = {p: open(p, encoding='utf-8').read() for p in paths}\n"
        "for p in (chosen if chosen is not None else paths):\n"
        "    libcst.parse_module(texts[p])\n"
    )
    return run("code", code, cwd=project)


def machine() -> str:
    return f"{os.cpu_count()} cores, Python {platform.python_version()}"

"""The Dask row: 8 independent pure-Python CPU-bound operations of about 1 s each, the
generated flow on a 2-worker local Dask cluster (processes) against the same flow on the
thread runner, in one run, on one Prefect server (`prefect server start`, its own
process, as a team's server is). Threads hold the GIL, so they run the operations one
after another; two worker processes run two at once. Target ≤ 0.6 on 2 cores.

The cluster is started (and its workers have run one flow) before the timings: a team's
cluster is already up when its flows run. Runs alternate between the runners; medians.
"""

from __future__ import annotations

import asyncio
import os
import textwrap
import time
from pathlib import Path

from bench import common
from tests.prefect_server import prefect_server

_OPS = '''\
from runtime import operation


def _spin(rounds: int) -> int:
    total = 0
    for number in range(rounds):
        total += number * number % 7
    return total
'''


def _spin(rounds: int) -> int:  # the operations' body, for calibration
    total = 0
    for number in range(rounds):
        total += number * number % 7
    return total


def calibrate(seconds: float) -> int:
    """How many rounds of `_spin` take about `seconds` on this machine."""
    rounds = 100_000
    while True:
        start = time.perf_counter()
        _spin(rounds)
        took = time.perf_counter() - start
        if took > 0.2:
            return max(1, int(rounds * seconds / took))
        rounds *= 4


def write_project(root: Path, count: int, rounds: int) -> Path:
    """A project with `count` independent operations `cpu.w0`… of `rounds` rounds each."""
    (root / "src" / "cpu").mkdir(parents=True, exist_ok=True)
    (root / "src" / "cpu" / "__init__.py").write_text("")
    ops = _OPS + "".join(textwrap.dedent(f'''

        @operation(name="cpu.w{index}")
        def w{index}(rounds_{index}: int = {rounds}) -> int:
            return _spin(rounds_{index})
        ''') for index in range(count))
    (root / "src" / "cpu" / "ops.py").write_text(ops)
    (root / "pyproject.toml").write_text('[tool.orchc]\nsources = ["src"]\nout = "orchestration"\n')
    return root


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    count, seconds = (4, 0.1) if args.smoke else (8, 1.0)
    pairs = args.repeat or (1 if args.smoke else 3)
    rounds = calibrate(seconds)
    project = write_project(common.workdir(args, "dask") / "cpu", count, rounds)
    common.orchc("build", project)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    with prefect_server(common.workdir(args, "dask") / "prefect-home", dict(os.environ)) as env:
        os.environ.update(env)  # before Prefect is imported: its settings read the environment
        times = _measure(project, count, pairs)
    dask, threads = common.median(times["dask"]), common.median(times["threads"])
    common.line("dask-cpu-bound", dask / threads, 0.6,
                f"dask={dask:.2f}s threads={threads:.2f}s ({count} independent CPU-bound ops of ~{seconds:g}s, "
                f"a 2-worker local cluster of processes; {pairs} interleaved pair(s); "
                f"spread dask {min(times['dask']):.2f}-{max(times['dask']):.2f}s, "
                f"threads {min(times['threads']):.2f}-{max(times['threads']):.2f}s)")


def _measure(project: Path, count: int, pairs: int) -> dict[str, list[float]]:
    """Seconds of each run of the flow per runner, interleaved, after one warm-up run each."""
    from distributed import LocalCluster

    from runtime.dask_support import dask_task_runner
    from runtime.prefect_engine import import_generated
    from runtime.registry import Registry, set_current_registry
    from runtime.task_runners import task_runner

    registry = Registry.load(project)
    set_current_registry(registry)
    lock_flow = registry.flow("cpu")
    flow = getattr(import_generated(registry, lock_flow), lock_flow.function)
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        runners = {"threads": lambda: task_runner("thread", max_workers=count),
                   "dask": lambda: dask_task_runner(cluster.scheduler_address)}

        def timed(which: str) -> float:
            start = time.perf_counter()
            asyncio.run(flow.with_options(task_runner=runners[which]())())
            return time.perf_counter() - start

        for which in runners:  # warm up: the workers import Prefect and the project once
            timed(which)
        times: dict[str, list[float]] = {"threads": [], "dask": []}
        for pair in range(pairs):
            for which in (("dask", "threads") if pair % 2 == 0 else ("threads", "dask")):
                times[which].append(timed(which))
    return times


if __name__ == "__main__":
    main()

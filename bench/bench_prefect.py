"""Prefect rows, on one temporary Prefect server (`prefect_test_harness`) in this process:

- the generated flow of a 100-operation DAG (`orchc build`, run through
  `runtime.prefect_engine.run_flow`) against a hand-written Prefect flow calling the same
  functions as tasks submitted the same way (futures passed downstream) ≤ 1.05×; medians
  of interleaved pairs, and the median of the per-pair ratios;
- the uneven sleep DAG (`bench.dags.UNEVEN`) under both engines against its critical
  path ≤ 1.1×; the same hand-written flow of that DAG, timed alongside, shows what Prefect
  itself costs over the critical path.

Every Prefect run starts on an idle server: the server records task runs from the events
a flow sent, after that flow returned (1-2 s after a 100-task flow on 2 cores), and a flow
started meanwhile can wait seconds for its flow run to be created, a cost of the runs
before it. The wait is outside the timings.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable

from bench import common
from bench.dags import UNEVEN, critical_path, write_trivial, write_uneven

#: a task run the server has finished recording
_FINISHED = {"task_runs": {"state": {"type": {"any_": ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]}}}}


def _hand_written_flow(registry, flow_name: str):
    """The least a person writes for the same DAG: one `@task` per function, submitted in
    topological order with upstream futures as arguments, one async flow."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.task_runners import ThreadPoolTaskRunner

    operations = registry.lock.members(registry.lock.flow(flow_name))
    inputs: dict[str, dict[str, str]] = {name: {} for name in operations}
    for edge in registry.lock.edges:
        if edge.target in inputs and edge.param:
            inputs[edge.target][edge.param] = edge.source
    tasks = {name: task(registry.function(name), name=name, cache_policy=NO_CACHE) for name in operations}

    @flow(name=f"hand-written-{flow_name}", task_runner=ThreadPoolTaskRunner(max_workers=len(operations)))
    async def hand_written():
        futures = {}
        for name in operations:
            futures[name] = tasks[name].submit(**{param: futures[source] for param, source in inputs[name].items()})
        return {name: future.result() for name, future in futures.items()}

    return hand_written


class _IdleServer:
    """Times Prefect runs that each start once the server has recorded every earlier one."""

    def __init__(self) -> None:
        self.task_runs = 0  # sent by the runs so far

    def time(self, run: Callable[[], object], task_runs: int) -> float:
        self._wait_recorded()
        start = time.perf_counter()
        run()
        seconds = time.perf_counter() - start
        self.task_runs += task_runs
        return seconds

    def _wait_recorded(self, timeout: float = 60.0) -> None:
        from prefect import get_client

        deadline = time.monotonic() + timeout
        with get_client(sync_client=True) as client:
            while client.request("POST", "/task_runs/count", json=_FINISHED).json() < self.task_runs:
                if time.monotonic() > deadline:
                    return  # a figure to record, not a hang: the timing shows the backlog
                time.sleep(0.1)


def _spread(values: list[float]) -> str:
    return f"{min(values):.2f}-{max(values):.2f}s"


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    n, scale = (10, 0.1) if args.smoke else (100, 2.0)
    pairs = args.repeat or (1 if args.smoke else 9)
    base = common.workdir(args, "prefect")
    trivial = write_trivial(base / f"trivial-{n}", n, asynchronous=False)
    uneven = write_uneven(base / "uneven", scale)
    for project in (trivial, uneven):
        common.orchc("build", project)
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    from prefect.testing.utilities import prefect_test_harness

    from runtime import prefect_engine
    from runtime.local import run_flow_sync
    from runtime.registry import Registry, set_current_registry

    with prefect_test_harness(server_startup_timeout=180):
        server = _IdleServer()
        registry = Registry.load(trivial)
        set_current_registry(registry)
        hand = _hand_written_flow(registry, "dag")
        engines = {"generated": lambda: prefect_engine.run_flow(registry, "dag", {}), "hand": lambda: asyncio.run(hand())}
        for run in engines.values():  # warm both paths up once
            server.time(run, n)
        times: dict[str, list[float]] = {"generated": [], "hand": []}
        for pair in range(pairs):
            for which in (("generated", "hand") if pair % 2 == 0 else ("hand", "generated")):
                times[which].append(server.time(engines[which], n))
        generated, written = times["generated"], times["hand"]
        pair_ratio = common.median([g / h for g, h in zip(generated, written)])
        common.line("prefect-generated-vs-hand", common.median(generated) / common.median(written), 1.05,
                    f"generated={common.median(generated):.2f}s hand-written={common.median(written):.2f}s "
                    f"median pair ratio={pair_ratio:.3f} ({n} sync ops; {pairs} interleaved pairs, each run "
                    f"on an idle server; spread generated {_spread(generated)}, hand {_spread(written)})")

        registry = Registry.load(uneven)
        set_current_registry(registry)
        hand = _hand_written_flow(registry, "uneven")
        engines = {"prefect": lambda: prefect_engine.run_flow(registry, "uneven", {}),
                   "hand": lambda: asyncio.run(hand()), "local": lambda: run_flow_sync(registry, "uneven", {})}
        tasks = {"prefect": len(UNEVEN), "hand": len(UNEVEN), "local": 0}
        for which in ("prefect", "hand"):
            server.time(engines[which], tasks[which])  # warm up: the first run of a flow pays imports
        times = {which: [] for which in engines}
        for _ in range(max(1, pairs // 3)):
            for which, run in engines.items():
                times[which].append(server.time(run, tasks[which]))
    path = critical_path(scale)
    hand_figure = (f"hand-written Prefect flow={common.median(times['hand']):.2f}s "
                   f"(×{common.median(times['hand']) / path:.3f}, spread {_spread(times['hand'])}) ")
    for engine in ("prefect", "local"):
        runs = times[engine]
        common.line(f"uneven-dag-{engine}", common.median(runs) / path, 1.1,
                    f"wall={common.median(runs):.2f}s critical-path={path:.2f}s "
                    f"{hand_figure if engine == 'prefect' else ''}"
                    f"({len(runs)} run(s), spread {_spread(runs)}; sum of all sleeps "
                    f"{sum(s for s, _ in UNEVEN.values()) * scale:.2f}s)")


if __name__ == "__main__":
    main()

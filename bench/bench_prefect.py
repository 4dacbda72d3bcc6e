"""Prefect rows, on one temporary Prefect server (`prefect_test_harness`) in this process:

- the generated flow of a 100-operation DAG (`orchc build`, run through
  `runtime.prefect_engine.run_flow`) against a hand-written Prefect flow calling the same
  functions as tasks submitted the same way (futures passed downstream) ≤ 1.05×; medians
  of several runs, interleaved;
- the uneven sleep DAG (`bench.dags.UNEVEN`) under both engines against its critical
  path ≤ 1.1×.
"""

from __future__ import annotations

import asyncio
import os
import time

from bench import common
from bench.dags import UNEVEN, critical_path, locked_dag, write_trivial, write_uneven


def _hand_written_flow(registry, dag: dict[str, list[str]]):
    """The least a person writes for the same DAG: one `@task` per function, submitted in
    topological order with upstream futures as arguments, one async flow."""
    from prefect import flow, task
    from prefect.cache_policies import NO_CACHE
    from prefect.task_runners import ThreadPoolTaskRunner

    tasks = {name: task(registry.function(name), name=name, cache_policy=NO_CACHE) for name in dag}

    @flow(name="hand-written", task_runner=ThreadPoolTaskRunner(max_workers=len(dag)))
    async def hand_written():
        futures = {}
        for name, upstream in dag.items():
            futures[name] = tasks[name].submit(*(futures[u] for u in upstream))
        return {name: future.result() for name, future in futures.items()}

    return hand_written


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    n, scale = (10, 0.1) if args.smoke else (100, 2.0)
    repeat = args.repeat or (1 if args.smoke else 7)
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
        registry = Registry.load(trivial)
        set_current_registry(registry)
        hand = _hand_written_flow(registry, locked_dag(registry.lock, "dag"))
        prefect_engine.run_flow(registry, "dag", {})  # warm both paths up once
        asyncio.run(hand())
        generated, written = [], []
        for round_ in range(repeat):
            order = (0, 1) if round_ % 2 == 0 else (1, 0)
            for which in order:
                start = time.perf_counter()
                if which == 0:
                    prefect_engine.run_flow(registry, "dag", {})
                    generated.append(time.perf_counter() - start)
                else:
                    asyncio.run(hand())
                    written.append(time.perf_counter() - start)
        common.line("prefect-generated-vs-hand", common.median(generated) / common.median(written), 1.05,
                    f"generated={common.median(generated):.2f}s hand-written={common.median(written):.2f}s "
                    f"({n} sync ops; median of {repeat}, interleaved; spread generated "
                    f"{min(generated):.2f}-{max(generated):.2f}s, hand {min(written):.2f}-{max(written):.2f}s)")

        registry = Registry.load(uneven)
        set_current_registry(registry)
        path = critical_path(scale)
        prefect_runs, local_runs = [], []
        for _ in range(max(1, repeat // 3)):
            start = time.perf_counter()
            prefect_engine.run_flow(registry, "uneven", {})
            prefect_runs.append(time.perf_counter() - start)
            start = time.perf_counter()
            run_flow_sync(registry, "uneven", {})
            local_runs.append(time.perf_counter() - start)
    for engine, runs in (("prefect", prefect_runs), ("local", local_runs)):
        common.line(f"uneven-dag-{engine}", common.median(runs) / path, 1.1,
                    f"wall={common.median(runs):.2f}s critical-path={path:.2f}s "
                    f"({len(runs)} run(s); sum of all sleeps {sum(s for s, _ in UNEVEN.values()) * scale:.2f}s)")


if __name__ == "__main__":
    main()

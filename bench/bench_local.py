"""The local engine on 10k trivial async operations in a random DAG against hand-written
asyncio: one task per operation awaiting its upstream tasks (≤ 2×). Both run in this
process on the same imported functions, interleaved; the figure is the median."""

from __future__ import annotations

import asyncio
import os
import sys
import time

from bench import common
from bench.dags import locked_dag, write_trivial


async def _hand_written(functions: dict, dag: dict[str, list[str]]) -> dict:
    tasks: dict[str, asyncio.Task] = {}

    async def run(name: str, upstream: list[str]):
        values = [await tasks[u] for u in upstream]
        return await functions[name](*values)

    for name, upstream in dag.items():  # topological order
        tasks[name] = asyncio.create_task(run(name, upstream))
    await asyncio.gather(*tasks.values())
    return {name: task.result() for name, task in tasks.items()}


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    n = 200 if args.smoke else 10_000
    repeat = args.repeat or (3 if args.smoke else 5)
    project = write_trivial(common.workdir(args, f"local-{n}"), n)
    common.orchc("build", project)
    os.chdir(project)
    from runtime.local import RunReport, run_flow_sync
    from runtime.registry import Registry

    registry = Registry.load(project)
    lock = registry.lock
    flow = lock.flow("dag")
    dag = locked_dag(lock, "dag")
    functions = {name: registry.function(name) for name in dag}
    sys.setrecursionlimit(10_000)
    engine, baseline = [], []
    for _ in range(repeat):
        start = time.perf_counter()
        result = run_flow_sync(registry, "dag", {}, RunReport("dag"))
        engine.append(time.perf_counter() - start)
        start = time.perf_counter()
        expected = asyncio.run(_hand_written(functions, dag))
        baseline.append(time.perf_counter() - start)
    sinks = flow.sinks
    assert (result if len(sinks) > 1 else {sinks[0]: result}) == {s: expected[s] for s in sinks}
    common.line("local-engine-10k", common.median(engine) / common.median(baseline), 2.0,
                f"engine={common.median(engine):.3f}s asyncio={common.median(baseline):.3f}s "
                f"({n} async ops, {len(lock.edges)} edges; median of {repeat}, same process)")


if __name__ == "__main__":
    main()

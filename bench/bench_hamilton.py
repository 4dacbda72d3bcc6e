"""The local engine on 100 trivial sync operations, a chain of diamonds (a → b, c → d → …),
against Apache Hamilton's `Driver.execute` on the same functions (≤ 2× per node). Both run
in this process, interleaved, each on a graph built once; the figures are medians of
batches of runs, per node. Hamilton runs nodes one after another; the engine keeps
independent sync operations concurrent (the uneven-DAG row of `bench_prefect` checks that)."""

from __future__ import annotations

import importlib
import sys
import time
from pathlib import Path

from bench import common
from bench.dags import _project


def diamond_chain(n: int) -> dict[str, list[str]]:
    """{node: upstream}: every third node a head, the two after it its branches, joined by
    the next head."""
    dag: dict[str, list[str]] = {}
    for k in range(n):
        if k == 0:
            upstream = []
        elif k % 3:
            upstream = [k - k % 3]
        else:
            upstream = [k - 2, k - 1]
        dag[f"n{k:03d}"] = [f"n{u:03d}" for u in upstream]
    return dag


def _body(name: str, upstream: list[str]) -> str:
    params = ", ".join(f"{u}: int" for u in upstream)
    total = " + ".join(upstream) or "1"
    return f"def {name}({params}) -> int:\n    return ({total}) % 1000 + 1\n"


def write_projects(root: Path, dag: dict[str, list[str]]) -> tuple[Path, Path]:
    """The orchc project (operations `hd.nNNN`) and a Hamilton module of the same functions."""
    lines = ["from runtime import operation", "", ""]
    for name, upstream in dag.items():
        inputs = ", ".join(f'"{u}": "hd.{u}"' for u in upstream)
        option = f", inputs={{{inputs}}}" if upstream else ""
        lines += [f'@operation(name="hd.{name}"{option})', _body(name, upstream), ""]
    project = _project(root / "orchc", "\n".join(lines), "hd")
    hamilton = root / "hamilton"
    hamilton.mkdir(parents=True, exist_ok=True)
    (hamilton / "hd_hamilton.py").write_text("\n\n".join(_body(name, upstream) for name, upstream in dag.items()))
    return project, hamilton


def _batch(run, runs: int) -> float:
    start = time.perf_counter()
    for _ in range(runs):
        run()
    return (time.perf_counter() - start) / runs


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    n = 100
    runs, batches = (20, 3) if args.smoke else (200, 9)
    dag = diamond_chain(n)
    project, hamilton_folder = write_projects(common.workdir(args, "hamilton"), dag)
    common.orchc("build", project)
    from hamilton import driver

    from runtime.local import RunReport, run_flow_sync
    from runtime.registry import Registry

    sys.path.insert(0, str(hamilton_folder))
    module = importlib.import_module("hd_hamilton")
    dr = driver.Builder().with_modules(module).build()
    sink = list(dag)[-1]
    registry = Registry.load(project)
    engine_result = run_flow_sync(registry, "hd", {}, RunReport("hd"))
    assert engine_result == dr.execute([sink])[sink]
    runners = {"engine": lambda: run_flow_sync(registry, "hd", {}, RunReport("hd")),
               "hamilton": lambda: dr.execute([sink])}
    times: dict[str, list[float]] = {which: [] for which in runners}
    for batch in range(batches):
        for which in (("engine", "hamilton") if batch % 2 == 0 else ("hamilton", "engine")):
            times[which].append(_batch(runners[which], runs) / n)
    engine, hamilton = common.median(times["engine"]), common.median(times["hamilton"])
    common.line("local-sync-vs-hamilton", engine / hamilton, 2.0,
                f"engine={engine * 1e6:.1f}µs/node hamilton={hamilton * 1e6:.1f}µs/node ({n} trivial sync ops, a chain "
                f"of diamonds; medians of {batches} interleaved batches of {runs} runs)")


if __name__ == "__main__":
    main()

"""Small projects for the runtime benchmarks: a DAG of trivial (or sleeping) operations
written as user code, built with `orchc build`, and the same DAG for hand-written baselines.

`write_trivial(root, n)` writes `root/src/dag/ops.py` with operations `dag.op00000…`, each
reading one or two earlier ones (a seeded random DAG) so the flow `dag` holds them all;
`write_uneven(root, scale)` writes the uneven sleep DAG as the flow `uneven`; and
`locked_dag(lock, flow)` gives {operation: [upstream operations]} as the lock recorded them.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

#: the uneven DAG: name -> (seconds asleep at scale 1, upstream); critical path a→b→e→f
UNEVEN = {
    "a": (0.5, []),
    "b": (3.0, ["a"]),
    "c": (0.5, ["a"]),
    "d": (1.0, ["c"]),
    "e": (1.5, ["b", "c"]),
    "f": (0.5, ["e", "d"]),
    "g": (0.25, []),
    "h": (2.0, ["g"]),
}


def critical_path(scale: float) -> float:
    finish: dict[str, float] = {}
    for name, (seconds, upstream) in UNEVEN.items():
        finish[name] = max((finish[u] for u in upstream), default=0.0) + seconds * scale
    return max(finish.values())


def _project(root: Path, body: str, package: str) -> Path:
    """Package and generated folder named after `package`, so that several such projects
    can run in one process without their modules colliding in `sys.modules`."""
    shutil.rmtree(root, ignore_errors=True)
    (root / "src" / package).mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "bench-{package}"\nversion = "0"\n\n'
        f'[tool.orchc]\nsources = ["src"]\nout = "orch_{package}"\n', encoding="utf-8")
    (root / "src" / package / "__init__.py").write_text("", encoding="utf-8")
    (root / "src" / package / "ops.py").write_text(body.replace("{package}", package), encoding="utf-8")
    return root


def random_dag(n: int, seed: int = 0) -> dict[str, list[str]]:
    rng = random.Random(seed)
    dag = {}
    for i in range(n):
        upstream = sorted({i - 1, rng.randrange(i)}) if i else []
        dag[f"op{i:05d}"] = [f"op{j:05d}" for j in upstream]
    return dag


def locked_dag(lock, flow_name: str) -> dict[str, list[str]]:
    """{operation: sorted upstream operations} of one flow of a loaded lock, in the flow's
    (topological) order: the DAG the hand-written baselines run."""
    sources: dict[str, list[str]] = {name: [] for name in lock.members(lock.flow(flow_name))}
    for edge in lock.edges:
        if edge.target in sources:
            sources[edge.target].append(edge.source)
    return {name: sorted(names) for name, names in sources.items()}


def write_trivial(root: Path, n: int, asynchronous: bool = True) -> Path:
    """n trivial operations in a random DAG (each returns a small int)."""
    lines = ["from runtime import operation", "", ""]
    prefix = "async def" if asynchronous else "def"
    for name, upstream in random_dag(n).items():
        params = ", ".join(f"{u}: int" for u in upstream)
        inputs = ", ".join(f'"{u}": "dag.{u}"' for u in upstream)
        option = f", inputs={{{inputs}}}" if upstream else ""
        total = " + ".join(upstream) or "0"
        lines += [f'@operation(name="dag.{name}"{option})', f"{prefix} {name}({params}) -> int:",
                  f"    return ({total}) % 1000 + 1", "", ""]
    return _project(root, "\n".join(lines), "dag")


def write_uneven(root: Path, scale: float) -> Path:
    """The UNEVEN DAG: async operations that sleep (seconds × scale)."""
    lines = ["import asyncio", "", "from runtime import operation", "", ""]
    for name, (seconds, upstream) in UNEVEN.items():
        params = ", ".join(f"{u}: float" for u in upstream)
        inputs = ", ".join(f'"{u}": "uneven.{u}"' for u in upstream)
        option = f", inputs={{{inputs}}}" if upstream else ""
        lines += [f'@operation(name="uneven.{name}"{option})', f"async def {name}({params}) -> float:",
                  f"    await asyncio.sleep({seconds * scale!r})", f"    return {seconds * scale!r}", "", ""]
    return _project(root, "\n".join(lines), "uneven")

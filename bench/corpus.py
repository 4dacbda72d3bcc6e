"""A generator of realistic orchc projects for the benchmarks.

`generate(root, ...)` writes `root/pyproject.toml` and a source tree under `root/src`:
`pkgNN/` packages of `modNNN.py` modules of ~`lines` lines each. A module with operations
holds imports, a frozen dataclass per operation's result type, a helper class, helper
functions and decorated operations with type hints and docstrings that bind into a DAG:

- inside a module, by the name rule (a parameter named after an earlier operation's
  function) and by the type rule (a parameter annotated with an earlier operation's
  result type), shaped by `shape`: `chain`, `fan` (one source, a wide middle, one merge),
  `diamond` (each operation reads one or two earlier ones) or `mixed` (a module-dependent
  mix of the three);
- across modules, by `inputs={...}` to the source operation of its package's first
  module, as teams share a loader (flows stay bounded, as in real repositories);
- unbound parameters (`limit`, `region`) become flow parameters with the same default
  everywhere.

A module without operations is plain library code of the same size. `heavy` modules
also import the heavy libraries named in `heavy_libraries` (e.g. pandas and numpy); the
heavy-import benchmark compares `orchc check` with importing those modules.

Everything is deterministic for a given set of arguments (seeded `random.Random`).
"""

from __future__ import annotations

import argparse
import random
import shutil
import textwrap
from pathlib import Path

SHAPES = ("chain", "fan", "diamond", "mixed")
VERBS = ("load", "clean", "parse", "enrich", "score", "join", "rank", "dedupe", "summarise", "export",
         "validate", "split", "tag", "sample", "aggregate", "index")


def generate(
    root: Path,
    files: int = 1000,
    ops_per_file: int = 10,
    op_share: float = 1.0,
    heavy: int = 0,
    heavy_libraries: tuple[str, ...] = ("numpy", "pandas"),
    shape: str = "mixed",
    lines: int = 200,
    files_per_package: int = 50,
    seed: int = 0,
) -> dict:
    """Write the project; returns a summary (files, operations, lines, op files, heavy modules)."""
    if shape not in SHAPES:
        raise ValueError(f"shape must be one of {SHAPES}")
    root = Path(root)
    if (root / "src").exists():
        shutil.rmtree(root / "src")
    (root / "src").mkdir(parents=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "bench-corpus"\nversion = "0"\n\n'
        '[tool.orchc]\nsources = ["src"]\nout = "orchestration"\n', encoding="utf-8")
    rng = random.Random(seed)
    with_ops = _spread(files, op_share)
    heavy_set = set(_heavy_indices(files, heavy))
    summary = {"files": files, "operations": 0, "lines": 0, "op_files": 0, "heavy_modules": []}
    for index in range(files):
        package, module = f"pkg{index // files_per_package:02d}", f"mod{index % files_per_package:03d}"
        folder = root / "src" / package
        if not folder.exists():
            folder.mkdir()
            (folder / "__init__.py").write_text(f'"""Package {package}."""\n', encoding="utf-8")
        libraries = heavy_libraries if index in heavy_set else ()
        if index in with_ops:
            text, count = _ops_module(rng, package, module, ops_per_file, shape, lines, libraries,
                                      shared=_shared_source(package, with_ops, index, files_per_package))
            summary["operations"] += count
            summary["op_files"] += 1
        else:
            text = _plain_module(rng, package, module, lines, libraries)
        if libraries:
            summary["heavy_modules"].append(f"{package}.{module}")
        (folder / f"{module}.py").write_text(text, encoding="utf-8")
        summary["lines"] += text.count("\n")
    return summary


def _spread(files: int, share: float) -> set[int]:
    """Indices of the files with operations, spread evenly over the tree."""
    count = round(files * share)
    return {int(i * files / count) for i in range(count)} if count else set()


def _heavy_indices(files: int, heavy: int) -> list[int]:
    return [int(i * files / heavy) for i in range(heavy)] if heavy else []


def _shared_source(package: str, with_ops: set[int], index: int, per_package: int) -> str | None:
    """The first operation of the package's first module with operations (a shared loader)."""
    first = index - index % per_package
    candidates = [i for i in range(first, index) if i in with_ops]
    if not candidates:
        return None
    return f"{package}.mod{candidates[0] % per_package:03d}.{VERBS[0]}0"


# -- module text --------------------------------------------------------------------------


def _header(package: str, module: str, libraries: tuple[str, ...], with_ops: bool) -> list[str]:
    lines = [
        f'"""{package}.{module}: ingestion and shaping of the {module} feed.',
        "",
        "Generated for orchc's benchmarks: realistic imports, types, helpers and pipeline steps.",
        '"""',
        "",
        "from __future__ import annotations",
        "",
        "import dataclasses",
        "import json",
        "import logging",
        "import math",
        "from collections import defaultdict",
        "from typing import Iterable, Optional",
        "",
    ]
    aliases = {"numpy": "np", "pandas": "pd"}
    for library in libraries:
        alias = aliases.get(library)
        lines.append(f"import {library}" + (f" as {alias}" if alias else ""))
    if libraries:
        lines.append("")
    if with_ops:
        lines += ["from runtime import operation", ""]
    lines += ["log = logging.getLogger(__name__)", "", ""]
    return lines


def _helpers(rng: random.Random, module: str, budget: int) -> list[str]:
    """Helper functions and a class, about `budget` lines."""
    out: list[str] = []
    number = 0
    while len(out) < budget:
        number += 1
        if number % 4 == 1:
            out += textwrap.dedent(f'''\
                class Buffer{number}:
                    """Collects rows for {module} before they are flushed."""

                    def __init__(self, size: int = {rng.randint(8, 512)}) -> None:
                        self.size = size
                        self.rows: list[dict] = []

                    def add(self, row: dict) -> bool:
                        self.rows.append(row)
                        return len(self.rows) >= self.size

                    def flush(self) -> list[dict]:
                        rows, self.rows = self.rows, []
                        return rows


            ''').splitlines()
        else:
            out += textwrap.dedent(f'''\
                def _normalise_{number}(values: Iterable[float], scale: float = {rng.randint(1, 9)}.0) -> list[float]:
                    """Scale values into [0, 1]; an empty input gives an empty list."""
                    values = [float(v) for v in values]
                    if not values:
                        return []
                    top = max(abs(v) for v in values) or 1.0
                    return [round(v / top * scale, 6) for v in values]


            ''').splitlines()
    return out


def _plain_module(rng: random.Random, package: str, module: str, lines: int, libraries: tuple[str, ...]) -> str:
    out = _header(package, module, libraries, with_ops=False)
    out += _helpers(rng, module, lines - len(out))
    return "\n".join(out).rstrip() + "\n"


def _upstreams(rng: random.Random, shape: str, i: int, count: int) -> list[int]:
    """Earlier operations operation `i` reads, by DAG shape."""
    if i == 0:
        return []
    if shape == "chain":
        return [i - 1]
    if shape == "fan":
        return list(range(1, count - 1)) if i == count - 1 and count > 2 else [0]
    picks = {i - 1, rng.randrange(i)}
    return sorted(picks)


def _ops_module(rng, package, module, count, shape, lines, libraries, shared) -> tuple[str, int]:
    if shape == "mixed":
        shape = ("chain", "fan", "diamond")[rng.randrange(3)]
    group = f"{package}.{module}"
    types = [f"{VERBS[i % len(VERBS)].capitalize()}{i}Result" for i in range(count)]
    out = _header(package, module, libraries, with_ops=True)
    for name in types:
        out += [
            "@dataclasses.dataclass(frozen=True)",
            f"class {name}:",
            f'    """What one step of {group} returns."""',
            "",
            "    rows: list[dict]",
            "    source: str = \"\"",
            "",
            "",
        ]
    body: list[str] = []
    for i in range(count):
        body += _operation(rng, group, i, types, _upstreams(rng, shape, i, count), shared if i == 0 else None)
    helper_budget = max(0, lines - len(out) - len(body))
    out += _helpers(rng, module, helper_budget) + body
    return "\n".join(out).rstrip() + "\n", count


def _operation(rng, group, i, types, upstream, shared) -> list[str]:
    verb = VERBS[i % len(VERBS)]
    function = f"{verb}{i}"
    options = [f'name="{group}.{function}"']
    # name rule: the parameter is the upstream function's name; type rule: any name,
    # annotated with the upstream's result type
    params = [f"{VERBS[s % len(VERBS)]}{s}: {types[s]}" for j, s in enumerate(upstream) if j % 2 == 0]
    params += [f"previous_{s}: Optional[{types[s]}] = None" for j, s in enumerate(upstream) if j % 2 == 1]
    if shared is not None:
        params.append("shared: object = None")
        options.append(f'inputs={{"shared": "{shared}"}}')
    params.append("limit: int = 1000")
    if i == 0:
        params.append('region: str = "eu"')
    if rng.random() < 0.3:
        options.append(f"retries={rng.randint(1, 3)}, retry_delay_seconds={rng.randint(1, 5)}")
    if rng.random() < 0.2:
        options.append(f'tags=["{verb}", "nightly"]')
    asynchronous = "async " if rng.random() < 0.3 else ""
    return [
        f"@operation({', '.join(options)})",
        f"{asynchronous}def {function}({', '.join(params)}) -> {types[i]}:",
        f'    """{verb.capitalize()} the rows of {group} (step {i}); keeps at most `limit` rows."""',
        "    rows: list[dict] = []",
        "    counts: dict[str, int] = defaultdict(int)",
        "    for number in range(min(limit, 3)):",
        "        key = json.dumps({'n': number, 'step': " + str(i) + "})",
        "        counts[key] += 1",
        "        rows.append({'key': key, 'value': math.sqrt(number)})",
        "    log.debug('%d rows', len(rows))",
        f"    return {types[i]}(rows=rows, source={group + '.' + function!r})",
        "",
        "",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--ops-per-file", type=int, default=10)
    parser.add_argument("--op-share", type=float, default=1.0)
    parser.add_argument("--heavy", type=int, default=0)
    parser.add_argument("--shape", choices=SHAPES, default="mixed")
    parser.add_argument("--lines", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    summary = generate(args.root, args.files, args.ops_per_file, args.op_share, args.heavy,
                       shape=args.shape, lines=args.lines, seed=args.seed)
    summary["heavy_modules"] = len(summary["heavy_modules"])
    print(summary)


if __name__ == "__main__":
    main()

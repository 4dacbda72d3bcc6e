"""Graph shapes beyond the corpus's friendly one (issue 14): a cold build of each, one
worker, at 500 / 1,000 / 2,000 operations, with its peak memory, the lock's and the
generated modules' bytes per operation, and the import of the generated package.

- `module-local`: 200 modules; each operation reads the one before it in its module.
- `cross-module`: the same modules; each operation reads one random earlier operation
  from anywhere (seeded).
- `flat`: one group of n operations, each reading the one before it.
- `nested`: 200 groups nested 10 deep (20 trees `tNN.l1.l2…`), n / 200 operations each.

Rows (ratios against a baseline of the same run): cross-module build ≤ 1.5× module-local;
cross-module peak memory ≤ 300 MiB; importing the cross-module generated package ≤ 1.5×
`import prefect`; nested build ≤ 1.5× flat. Bytes per operation are printed per size:
flat from 500 to 2,000 is the target.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

from bench import common

MODULES = 200
TREES, DEPTH = 20, 10


def _write(root: Path, modules: dict[str, list[str]]) -> Path:
    """A project of `modules` (module name -> its operations' source) under `src/shapes`."""
    shutil.rmtree(root, ignore_errors=True)
    package = root / "src" / "shapes"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    for module, ops in modules.items():
        (package / f"{module}.py").write_text("from runtime import operation\n\n\n" + "\n\n".join(ops))
    (root / "pyproject.toml").write_text('[tool.orchc]\nsources = ["src"]\nout = "orchestration"\n')
    return root


def _op(name: str, function: str, upstream: str | None) -> str:
    if upstream is None:
        return f'@operation(name="{name}")\ndef {function}() -> int:\n    return 1\n'
    return (f'@operation(name="{name}", inputs={{"x": "{upstream}"}})\n'
            f"def {function}(x: int) -> int:\n    return x + 1\n")


def module_local(root: Path, n: int) -> Path:
    modules: dict[str, list[str]] = {f"m{m:03d}": [] for m in range(MODULES)}
    for i in range(n):
        module, k = f"m{i % MODULES:03d}", i // MODULES
        upstream = f"{module}.op{k - 1:04d}" if k else None
        modules[module].append(_op(f"{module}.op{k:04d}", f"op{k:04d}", upstream))
    return _write(root, modules)


def cross_module(root: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    modules: dict[str, list[str]] = {f"m{m:03d}": [] for m in range(MODULES)}
    names = []
    for i in range(n):
        module, k = f"m{i % MODULES:03d}", i // MODULES
        upstream = names[rng.randrange(i)] if i else None
        name = f"{module}.op{k:04d}"
        modules[module].append(_op(name, f"op{k:04d}", upstream))
        names.append(name)
    return _write(root, modules)


def flat(root: Path, n: int) -> Path:
    ops = [_op(f"flat.op{i:04d}", f"op{i:04d}", f"flat.op{i - 1:04d}" if i else None) for i in range(n)]
    return _write(root, {"flat": ops})


def nested(root: Path, n: int) -> Path:
    per_group = max(1, n // (TREES * DEPTH))
    modules: dict[str, list[str]] = {}
    for tree in range(TREES):
        ops, previous = [], None
        for level in range(1, DEPTH + 1):
            group = ".".join([f"t{tree:02d}", *(f"l{depth}" for depth in range(1, level + 1))])
            for k in range(per_group):
                name = f"{group}.op{k:03d}"
                ops.append(_op(name, f"op_l{level}_{k:03d}", previous))
                previous = name
        modules[f"t{tree:02d}"] = ops
    return _write(root, modules)


def _bytes(project: Path) -> tuple[int, int]:
    generated = sum(path.stat().st_size for path in (project / "orchestration").glob("*.py"))
    return (project / "flows.lock").stat().st_size, generated


def _import_seconds(project: Path) -> float:
    modules = sorted(path.stem for path in (project / "orchestration").glob("*.py") if path.stem != "__init__")
    code = "import orchestration\n" + "".join(f"import orchestration.{module}\n" for module in modules)
    return common.run("code", code, cwd=project).wall


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    sizes = (100,) if args.smoke else (500, 1000, 2000)
    base = common.workdir(args, "shapes")
    builds: dict[tuple[str, int], common.Measured] = {}
    for n in sizes:
        for shape, write in (("module-local", module_local), ("cross-module", cross_module), ("flat", flat),
                             ("nested", nested)):
            project = write(base / f"{shape}-{n}", n)
            builds[shape, n] = common.orchc("build", project, env={"ORCHC_WORKERS": "1", "ORCHC_NO_CACHE": "1"})
            lock, generated = _bytes(project)
            print(f"# {shape} n={n}: build {builds[shape, n].seconds:.2f}s, peak {common.mib(builds[shape, n].peak)}, "
                  f"lock {lock / n:,.0f} B/op, generated {generated / n:,.0f} B/op", flush=True)
    n = sizes[-1]
    cross, local = builds["cross-module", n], builds["module-local", n]
    common.line(f"cross-module-build-{n}", cross.seconds / local.seconds, 1.5,
                f"cross-module={cross.seconds:.2f}s module-local={local.seconds:.2f}s (one worker, no cache)")
    common.line(f"cross-module-peak-{n}", cross.peak / 2**20 / 300, 1.0,
                f"peak={common.mib(cross.peak)} against 300 MiB")
    project = base / f"cross-module-{n}"
    generated_import = _import_seconds(project)
    prefect_import = common.run("code", "import prefect", cwd=project).wall
    common.line(f"cross-module-import-{n}", generated_import / prefect_import, 1.5,
                f"import of the generated package={generated_import:.2f}s `import prefect`={prefect_import:.2f}s "
                "(wall, fresh interpreters)")
    deep, wide = builds["nested", n], builds["flat", n]
    common.line(f"nested-build-{n}", deep.seconds / wide.seconds, 1.5,
                f"200 groups nested 10 deep={deep.seconds:.2f}s one flat group={wide.seconds:.2f}s")


if __name__ == "__main__":
    main()

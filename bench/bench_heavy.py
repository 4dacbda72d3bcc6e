"""`orchc check` of a project whose modules import heavy libraries, against importing those
modules (`python -c "import …"`, what import-based tools pay) ≤ 0.5×.

The heavy libraries are pandas and numpy when installed (`pip install -e '.[bench]'`);
without them the project imports a generated stand-in, `heavylib`: 300 modules of real
code (classes and functions, compiled on first import, then from bytecode), documented as
such in the result line. Both commands run in fresh processes; the figure is the median
of interleaved runs, with a warm cache for `orchc check` (as in CI with the cache kept)
and, on the same line, the cold figure.
"""

from __future__ import annotations

import importlib.util
import shutil

from bench import common
from bench.corpus import generate


def _stand_in(src, modules: int) -> tuple[str, ...]:
    package = src / "heavylib"
    package.mkdir(exist_ok=True)
    names = []
    for index in range(modules):
        body = "\n".join(
            f"class Frame{index}_{k}:\n    def __init__(self, rows=()):\n        self.rows = list(rows)\n"
            f"    def head(self, n=5):\n        return self.rows[:n]\n\n"
            f"def transform_{k}(values, factor={k}):\n    return [v * factor for v in values if v is not None]\n"
            for k in range(40))
        (package / f"part{index:03d}.py").write_text(body + "\n", encoding="utf-8")
        names.append(f"from heavylib.part{index:03d} import *")
    (package / "__init__.py").write_text("\n".join(names) + "\n", encoding="utf-8")
    return ("heavylib",)


def main() -> None:
    args = common.parser(__doc__.split("\n\n")[0]).parse_args()
    files, heavy = (20, 5) if args.smoke else (60, 20)
    repeat = args.repeat or (1 if args.smoke else 5)
    project = common.workdir(args, f"heavy-{files}")
    real = all(importlib.util.find_spec(name) for name in ("pandas", "numpy"))
    libraries = ("numpy", "pandas") if real else ("heavylib",)
    summary = generate(project, files=files, ops_per_file=5, heavy=heavy, heavy_libraries=libraries)
    if not real:
        _stand_in(project / "src", 60 if args.smoke else 300)
    imports = "import sys; sys.path.insert(0, 'src'); " + "; ".join(f"import {m}" for m in summary["heavy_modules"])
    common.clean(project)
    common.orchc("build", project)
    common.run("code", imports, cwd=project)  # bytecode caches written: imports at their cheapest
    warm, cold, imported = [], [], []
    for _ in range(repeat):
        imported.append(common.run("code", imports, cwd=project).wall)
        warm.append(common.orchc("check", project).wall)
        shutil.rmtree(project / ".orchc_cache", ignore_errors=True)
        cold.append(common.orchc("check", project).wall)
    base = common.median(imported)
    what = "numpy+pandas" if real else "generated heavylib stand-in (pandas not installed)"
    common.line("heavy-imports-check", common.median(warm) / base, 0.5,
                f"check={common.median(warm):.2f}s (cold cache {common.median(cold):.2f}s = "
                f"{common.median(cold) / base:.2f}x) import={base:.2f}s ({summary['files']} files, "
                f"{len(summary['heavy_modules'])} importing {what}; wall incl. interpreter start; median of {repeat})")


if __name__ == "__main__":
    main()

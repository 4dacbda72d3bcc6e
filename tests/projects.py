"""Small projects for runtime tests, built with the real compiler."""

from __future__ import annotations

import textwrap
from pathlib import Path


def build_project(root: Path, prefix: str, source: str) -> tuple[Path, str]:
    """A project in `root` whose one module `src/PREFIX_STEM/ops.py` holds `source`
    (dedented), built with `orchc build`; the stem comes from `root`'s name, so package
    names differ between tests (Python caches imported modules for the session). Returns
    the root and the stem."""
    from compiler.api import build

    stem = "".join(c if c.isalnum() else "_" for c in root.name)
    package = root / "src" / f"{prefix}_{stem}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "ops.py").write_text(textwrap.dedent(source))
    (root / "pyproject.toml").write_text(f'[tool.orchc]\nsources = ["src"]\nout = "gen_{stem}"\n')
    assert build(root).written
    return root, stem

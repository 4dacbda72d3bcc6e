"""Snapshots of the generated Prefect modules of the repository's examples, regenerated from
the committed root flows.lock (codegen reads only the lock)."""

from __future__ import annotations

from pathlib import Path

import pytest

from compiler.codegen.modules import generate
from compiler.lock.lockfile import loads

REPO = Path(__file__).resolve().parents[1]
MODULES = {m.path: m.text for m in generate(loads((REPO / "flows.lock").read_text(encoding="utf-8")))}


@pytest.mark.parametrize("path", sorted(MODULES))
def test_example_module_snapshot(path: str, snapshot) -> None:
    assert MODULES[path] == snapshot


def test_snapshots_cover_every_example() -> None:
    assert sorted(MODULES) == [
        "orchestration/__init__.py",
        "orchestration/kg.py",
        "orchestration/ops.py",
        "orchestration/ops_nightly.py",
        "orchestration/scraping.py",
        "orchestration/tickets.py",
        "orchestration/triage.py",
    ]

"""Golden files: compare output with a reviewed file; `ORCHC_UPDATE_GOLDEN=1` rewrites them
(then read the diff before committing)."""

from __future__ import annotations

import os
from pathlib import Path


def assert_golden(path: Path, actual: str) -> None:
    if os.environ.get("ORCHC_UPDATE_GOLDEN"):
        path.write_text(actual, encoding="utf-8")
    assert actual == path.read_text(encoding="utf-8")

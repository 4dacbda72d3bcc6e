"""`--summary FILE.json`: one run's record, the same shape for both engines.

Each operation's state (`Completed`, `Cached`, `Failed`, `TimedOut`, `Crashed`,
`Cancelled` or `Skipped`, with why it was skipped), attempts, retries, seconds and
whether its result came from the cache; the whole run's state and wall time. `runtime/schemas/run-summary.schema.json`
is its JSON Schema.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runtime.errors import RuntimeUsageError

SCHEMA = "orchc-run-summary/1"
SCHEMA_FILE = Path(__file__).parent / "schemas" / "run-summary.schema.json"


def local_rows(report: Any) -> list[dict[str, Any]]:
    """The rows of a local run's `RunReport`."""
    rows = []
    for name, record in report.operations.items():
        if record.state == "completed":
            state = "Cached" if record.cached else "Completed"
        else:
            state = "Failed" if record.state == "failed" else "Skipped"
        rows.append({"operation": name, "state": state, "attempts": record.attempts,
                     "retries": max(record.attempts - record.elements, 0),
                     "duration_s": round(record.duration, 3) if state in ("Completed", "Failed") else None,
                     "cached": record.cached, "reason": record.reason if state == "Skipped" else None})
    return rows


def document(flow: str, engine: str, failed: bool, seconds: float, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    return {"schema": SCHEMA, "flow": flow, "engine": engine, "state": "Failed" if failed else "Completed",
            "duration_s": round(seconds, 3), "operations": [dict(row) for row in rows]}


def write(path: Path, summary: Mapping[str, Any]) -> None:
    """Write `summary` to `path`; RuntimeUsageError when it cannot be written (the CLI
    checked the path before the run, but a disk fills up)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    except OSError as error:
        raise RuntimeUsageError(f"cannot write the summary `{path}`: {error.strerror or error}",
                                "give --summary a file path you may write") from None

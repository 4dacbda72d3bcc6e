"""What operations may tell the run: log lines and artifacts, the same call on both engines.

- `get_logger()`: Prefect's run logger inside a Prefect run (the lines appear in the UI
  with the task run); otherwise the standard logger `orchc.operations`, each line
  prefixed with the operation (`[p.load] read 3 rows`).
- `publish_markdown(key, text)`, `publish_table(key, rows)`, `publish_link(key, url)`:
  Prefect artifacts inside a Prefect run; on the local engine files in the run's folder
  (`KEY.md`, `KEY.json`, `KEY.url`; `python -m runtime --artifacts-dir`, default
  `.orchc_cache/artifacts/FLOW-TIME`). Outside any run they are a usage error.

Keys follow Prefect's rule (lowercase letters, digits and dashes) on both engines, so an
operation that publishes locally publishes under Prefect too.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

#: the operation the local engine is calling in this context (None outside a call)
current_operation: contextvars.ContextVar[str | None] = contextvars.ContextVar("orchc_operation", default=None)
#: the artifact folder of the local run in progress (None outside one): a plain global,
#: as the operations of a run call from threads of their own (one local run per process
#: at a time, as `python -m runtime` runs)
_artifacts_folder: Path | None = None


def use_artifacts_folder(folder: Path | None) -> Path | None:
    """Make `folder` the local run's artifact folder; the previous one."""
    global _artifacts_folder
    previous, _artifacts_folder = _artifacts_folder, folder
    return previous

_KEY = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")


def call_as(operation: str, function: Callable, *args: Any, **kwargs: Any) -> Any:
    """`function(*args, **kwargs)` known as `operation`'s call (for `get_logger`)."""
    token = current_operation.set(operation)
    try:
        return function(*args, **kwargs)
    finally:
        current_operation.reset(token)


class _OperationAdapter(logging.LoggerAdapter):
    def process(self, msg: Any, kwargs: Any) -> tuple[Any, Any]:
        name = current_operation.get()
        return (f"[{name}] {msg}" if name else msg), kwargs


_local_logger = _OperationAdapter(logging.getLogger("orchc.operations"), {})


def _in_prefect_run() -> bool:
    import sys

    if "prefect" not in sys.modules:  # the local engine never imports it
        return False
    from prefect.context import FlowRunContext, TaskRunContext

    return TaskRunContext.get() is not None or FlowRunContext.get() is not None


def get_logger() -> logging.Logger | logging.LoggerAdapter:
    """The logger an operation should use (see the module docstring)."""
    if _in_prefect_run():
        from prefect.logging import get_run_logger

        return get_run_logger()
    return _local_logger


def _checked_key(key: str) -> str:
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        raise ValueError(f"artifact key {key!r} must be lowercase letters, digits and dashes (`daily-report`)")
    return key


def _local_file(key: str, suffix: str) -> Path:
    folder = _artifacts_folder
    if folder is None:
        raise RuntimeError("publish_* works inside a flow run (python -m runtime, or a Prefect run)")
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{key}{suffix}"


def publish_markdown(key: str, text: str, description: str | None = None) -> None:
    """Publish Markdown `text` under `key`."""
    _checked_key(key)
    if _in_prefect_run():
        from prefect.artifacts import create_markdown_artifact

        create_markdown_artifact(markdown=text, key=key, description=description, _sync=True)  # also in async code
    else:
        _local_file(key, ".md").write_text(text, encoding="utf-8")


def publish_table(key: str, rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
                  description: str | None = None) -> None:
    """Publish a table (a list of rows, or a mapping of columns) under `key`."""
    _checked_key(key)
    if _in_prefect_run():
        from prefect.artifacts import create_table_artifact

        create_table_artifact(table=rows, key=key, description=description, _sync=True)
    else:
        table = [dict(row) for row in rows] if not isinstance(rows, Mapping) else {k: list(v) for k, v in rows.items()}
        _local_file(key, ".json").write_text(json.dumps(table, indent=2, default=str) + "\n", encoding="utf-8")


def publish_link(key: str, url: str, description: str | None = None) -> None:
    """Publish a link to `url` under `key`."""
    _checked_key(key)
    if _in_prefect_run():
        from prefect.artifacts import create_link_artifact

        create_link_artifact(link=url, key=key, description=description, _sync=True)
    else:
        _local_file(key, ".url").write_text(url + "\n", encoding="utf-8")

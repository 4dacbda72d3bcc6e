"""`orchc check --diff`: what `orchc build` would change on disk — the semantic changes of
the lock (one line each) and unified diffs of the lock and every stale generated module.

Pure: the texts on disk come from `compiler.api.outputs_on_disk`.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping

from compiler.api import Analysis
from compiler.lock.diff import Change, lock_changes
from compiler.lock.lockfile import LockError, loads
from compiler.reports.report import FileDiff

_ABSENT = "/dev/null"


def unified_diff(path: str, before: str | None, after: str | None) -> FileDiff | None:
    """A git-style unified diff from `before` to `after` (None: the file is absent)."""
    if before == after:
        return None
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True),
        fromfile=f"a/{path}" if before is not None else _ABSENT, tofile=f"b/{path}" if after is not None else _ABSENT)
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    return FileDiff(path, text)


def stale_diffs(analysis: Analysis, on_disk: Mapping[str, str | None]) -> tuple[FileDiff, ...]:
    """Diffs of the lock, each generated module, and each leftover generated file, by path;
    `on_disk` is `api.outputs_on_disk(analysis)` (empty when the project was never built:
    the diff would be everything)."""
    expected = {analysis.config.lock: analysis.lock_text, **{m.path: m.text for m in analysis.modules}}
    diffs = (unified_diff(path, text, expected.get(path)) for path, text in sorted(on_disk.items()))
    return tuple(diff for diff in diffs if diff is not None)


def stale_changes(analysis: Analysis, on_disk: Mapping[str, str | None]) -> tuple[Change, ...]:
    """The semantic changes from the lock on disk to the expected one (none when the lock
    on disk is missing or unreadable: its diagnostic and its text diff say it all)."""
    text = on_disk.get(analysis.config.lock)
    if not analysis.ok or text is None or text == analysis.lock_text:
        return ()
    try:
        return tuple(lock_changes(loads(text), analysis.lock))
    except LockError:
        return ()

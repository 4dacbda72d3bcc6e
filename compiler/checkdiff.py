"""`orchc check --diff`: what `orchc build` would change on disk — the semantic changes of
the lock (one line each) and unified diffs of the lock and every stale generated module.

Reads the files `check` compared (under the analysed project); writes nothing.
"""

from __future__ import annotations

import difflib
from pathlib import Path

from compiler.api import GENERATED_MARKER, Analysis
from compiler.lockdiff import Change, lock_changes
from compiler.lockfile import LockError, loads
from compiler.render import FileDiff

_ABSENT = "/dev/null"


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def unified_diff(path: str, before: str | None, after: str | None) -> FileDiff | None:
    """A git-style unified diff from `before` to `after` (None: the file is absent)."""
    if before == after:
        return None
    lines = difflib.unified_diff(
        (before or "").splitlines(keepends=True), (after or "").splitlines(keepends=True),
        fromfile=f"a/{path}" if before is not None else _ABSENT, tofile=f"b/{path}" if after is not None else _ABSENT)
    text = "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
    return FileDiff(path, text)


def _extra_generated(analysis: Analysis) -> list[str]:
    """Generated files in the out folder that no flow produces any more (as `check` sees them)."""
    out = analysis.root / analysis.config.out
    expected = {m.path for m in analysis.modules}
    found = []
    for path in sorted(out.rglob("*.py")) if out.is_dir() else ():
        relative = path.relative_to(analysis.root).as_posix()
        if relative not in expected and GENERATED_MARKER in (_read(path) or "")[:400]:
            found.append(relative)
    return found


def stale_diffs(analysis: Analysis) -> tuple[FileDiff, ...]:
    """Diffs of the lock, each generated module, and each leftover generated file, by path;
    none without a lock on disk (the project was never built: the diff would be everything)."""
    root = analysis.root
    if not analysis.ok or not (root / analysis.config.lock).is_file():
        return ()
    expected = {analysis.config.lock: analysis.lock_text, **{m.path: m.text for m in analysis.modules}}
    expected |= {path: None for path in _extra_generated(analysis)}
    diffs = (unified_diff(path, _read(root / path), text) for path, text in sorted(expected.items()))
    return tuple(diff for diff in diffs if diff is not None)


def stale_changes(analysis: Analysis) -> tuple[Change, ...]:
    """The semantic changes from the lock on disk to the expected one (none when the lock
    on disk is missing or unreadable: its diagnostic and its text diff say it all)."""
    if not analysis.ok:
        return ()
    text = _read(analysis.root / analysis.config.lock)
    if text is None or text == analysis.lock_text:
        return ()
    try:
        return tuple(lock_changes(loads(text), analysis.lock))
    except LockError:
        return ()

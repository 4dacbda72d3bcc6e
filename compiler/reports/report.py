"""What one command found, ready to render: the `Report` value every output format
(`compiler.reports.render`, `compiler.reports.sarif`) takes, and the `FileDiff` of one output file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from compiler.diagnostics import Diagnostic

if TYPE_CHECKING:  # lockdiff pulls in pydantic: keep it off a fast `check`'s import path
    from compiler.lock.diff import Change


@dataclass(frozen=True, slots=True)
class FileDiff:
    """A unified diff of one output file, from what is on disk to what `build` writes."""

    #: project-relative POSIX path
    path: str
    #: the unified diff text, ending with a newline
    diff: str


@dataclass(frozen=True, slots=True)
class Report:
    """What one command found, ready to render in any format."""

    #: `build`, `check`, `graph`, `explain` or `diff`
    command: str
    diagnostics: tuple[Diagnostic, ...]
    #: the command's exit status
    status: int
    #: the last line of the text report (`found 2 errors`, `flows.lock is up to date …`)
    summary: str
    #: the project folder inside its repository (`""` at the top, else `sub/dir/`)
    prefix: str = ""
    #: `check --diff`: the semantic changes from the lock on disk to the expected one;
    #: `build`: how it rewired the previous lock (`compiler.lock.diff.rewiring`)
    changes: tuple[Change, ...] = ()
    #: `check --diff`: unified diffs of the lock and each stale generated module
    diffs: tuple[FileDiff, ...] = ()
    #: command-specific fields for json (`written`, `removed` for `build`), sorted by key
    details: tuple[tuple[str, Any], ...] = field(default=())

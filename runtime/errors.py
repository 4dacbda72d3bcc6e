"""The runtime's errors. Each carries the exit code `python -m runtime` returns for it, so
the CLI can print the message (and hint) instead of a traceback."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from compiler import naming


class OrchcRuntimeError(Exception):
    """A problem the user can fix; `message` says what is wrong, `hint` how to fix it."""

    exit_code = 1

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


class RuntimeUsageError(OrchcRuntimeError):
    """Wrong command-line usage or parameters: unknown flow, bad value, no lockfile…"""

    exit_code = 2


class StaleLockError(OrchcRuntimeError):
    """The lockfile no longer matches the source of a flow's operations."""

    def __init__(self, flow: str, problems: list[str]) -> None:
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(
            f"flow `{flow}`: the lockfile no longer matches the source: run `orchc build`\n{lines}",
            "run `orchc build`, review the lock diff, then run the flow again",
        )
        self.flow = flow
        self.problems = problems


class OperationLoadError(OrchcRuntimeError):
    """An operation named in the lock could not be imported."""


class UntrustedLockError(OrchcRuntimeError):
    """The lock, or a file it vouches for, is not what `orchc build` wrote: the runtime
    refuses to import anything of the project."""

    #: more problems than this are counted, not listed: a hostile lock can hold thousands
    MAX_LISTED = 10

    def __init__(self, headline: str, problems: list[str]) -> None:
        listed = [f"  - {problem}" for problem in problems[: self.MAX_LISTED]]
        if len(problems) > self.MAX_LISTED:
            listed.append(f"  - and {len(problems) - self.MAX_LISTED} more")
        super().__init__(
            f"{headline}:\n" + "\n".join(listed),
            "run `orchc build` and review the lock diff; never edit the lock or generated modules by hand",
        )
        self.problems = problems


class EnvironmentFailure(OrchcRuntimeError):
    """Something outside the project failed: the Prefect API is unreachable, Prefect's
    temporary server did not start…"""

    exit_code = 2


class FlowFailed(OrchcRuntimeError):
    """One or more operations of a flow failed; their downstream operations were skipped.

    `failures` maps each failed operation, or each failed element `OP[i]` of a mapped
    one, to `ExcType: message`; `skipped` lists the operations not run because something
    upstream failed; `report` is the engine's run record when it has one (the local
    engine's `RunReport`).
    """

    def __init__(
        self, flow: str, failures: Mapping[str, str], skipped: Iterable[str] = (), report: Any = None
    ) -> None:
        self.flow = flow
        self.failures = dict(failures)
        self.skipped = list(skipped)
        self.report = report
        super().__init__(self._describe())

    def _describe(self) -> str:
        operations = {naming.element_operation(name) for name in self.failures}  # a mapped one's elements count once
        lines = [f"flow `{self.flow}` failed: {len(operations)} operation(s) failed"]
        lines += [f"  - `{name}` failed: {error}" for name, error in self.failures.items()]
        if self.skipped:
            names = ", ".join(f"`{name}`" for name in self.skipped)
            lines.append(f"  skipped (upstream failed): {names}")
        return "\n".join(lines)


def describe_exception(error: BaseException) -> str:
    """`ExcType: message`, the form failures are reported in."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


"""The words both engines give for a skip, and for a mapped or conditional operation they
refuse: one wording, so the run summary, `status` and the logs read the same whichever
engine ran the flow."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from runtime.errors import describe_exception


def upstream_failed(source: str | None) -> str:
    """Skipped: `source` (an upstream operation) failed or was skipped by a failure."""
    return f"upstream `{source}` did not complete" if source else "its upstream did not complete"


def condition_unmet(target: str, negated: bool, target_skipped: bool) -> str:
    """Skipped: condition `target` says no; a skipped condition's None says nothing."""
    if target_skipped:
        return f"its condition `{target}` was skipped"
    return f"its condition `{'not ' if negated else ''}{target}` is false"


def skipped_input(source: str, param: str) -> str:
    """Skipped: `source` was skipped and feeds `param`, which cannot take its None."""
    return f"upstream `{source}` was skipped and `{param}` does not admit None"


def untestable_condition(target: str, error: BaseException) -> str:
    """Failed: the truth of condition `target`'s result cannot be told (an array)."""
    return f"its condition `{target}` cannot be tested for truth: {describe_exception(error)}"


def not_a_list(op: str, param: str, value: Any) -> str:
    """Failed: mapped operation `op` cannot map over `value`, bound to `param`: both
    engines map over exactly a list, what the lock's lifted `list[T]` promises."""
    return f"`{op}` maps over `{param}`, which is {type(value).__name__}, not a list"


def unequal_lengths(op: str, mapped: Sequence[str], columns: Sequence[Sequence[Any]]) -> str | None:
    """Failed: `op` maps over lists of unequal lengths; None when they are equal."""
    if len({len(column) for column in columns}) <= 1:
        return None
    sizes = ", ".join(f"`{name}` has {len(column)}" for name, column in zip(mapped, columns))
    return f"`{op}` maps over elements of unequal lengths: {sizes}"


"""The switch that checks orchc's mirrors of libraries against the libraries themselves.

Three hot spots reproduce a library's output for speed: black's layout of generated code
(`compiler.codegen.black_layout`), tomli-w's TOML for the lock (`compiler.lock.toml_writer`) and
networkx's lexicographic topological sort (`compiler.link.toposort`). Tests compare each with
its library on hostile inputs; with `ORCHC_VERIFY_MIRRORS=1` every result is also
compared as orchc runs (the test suite builds the examples so), and a difference is an
internal error naming the mirror.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

ENVIRONMENT = "ORCHC_VERIFY_MIRRORS"
T = TypeVar("T")


def enabled() -> bool:
    return os.environ.get(ENVIRONMENT, "") not in ("", "0")


def verify(mirror: str, result: T, reference: Callable[[], T]) -> T:
    """`result`, after checking that it equals the library's (`reference()`) when the
    switch is on; AssertionError (an internal error) when they differ."""
    if enabled():
        expected = reference()
        if result != expected:
            raise AssertionError(f"internal error: {mirror} differs from the library's:\n{_first_difference(result, expected)}")
    return result


def _first_difference(result: object, expected: object) -> str:
    if isinstance(result, str) and isinstance(expected, str):
        for number, (got, want) in enumerate(zip(result.splitlines(), expected.splitlines()), start=1):
            if got != want:
                return f"line {number}: got {got!r}, the library gives {want!r}"
        return "the line counts differ"
    return f"got {result!r}, the library gives {expected!r}"

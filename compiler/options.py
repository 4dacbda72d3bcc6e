"""The `@operation` options: their names, how a literal value becomes an `Options` field,
and what each requires. The reader checks decorators with it, the configuration checks
`[tool.orchc.defaults]`, and pipeline specs check their steps, so one rule holds for all.
"""

from __future__ import annotations

import math
from collections.abc import Callable

#: a value that is not what its option requires
INVALID = object()

#: every argument `@operation(...)` takes, in its signature's order
KEYWORDS = (
    "name",
    "depends_on",
    "inputs",
    "when",
    "map",
    "retries",
    "retry_delay_seconds",
    "timeout_seconds",
    "tags",
    "cache",
    "cache_version",
    "cache_expiration_seconds",
    "persist_result",
    "executor",
    "description",
)

#: the options a project (`[tool.orchc.defaults]`) or a pipeline (`defaults:`) may set
#: for the operations that leave them out
DEFAULTABLE = ("retries", "retry_delay_seconds", "timeout_seconds", "tags", "cache", "cache_version",
               "cache_expiration_seconds", "persist_result", "executor")


def condition_of(when: str | None) -> tuple[str, bool] | None:
    """A `when` (`OP` or `not OP`) as (OP, whether it is negated); None without one."""
    if when is None:
        return None
    negated = when.startswith("not ")
    return (when[4:] if negated else when), negated


def normalise_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n")


#: the lock is TOML, whose integers are 64-bit and whose other readers refuse larger ones
_INT64 = 2**63


def _is_int(value: object) -> bool:
    return type(value) is int and -_INT64 <= value < _INT64


def _is_number(value: object) -> bool:
    """A whole number TOML can hold, or a finite float (no infinity or NaN in a lock)."""
    return _is_int(value) or (type(value) is float and math.isfinite(value))


def _is_strings(value: object) -> bool:
    return isinstance(value, (list, tuple, set)) and all(isinstance(item, str) for item in value)


def _delays(value: object) -> object:
    if _is_number(value) and value >= 0:  # type: ignore[operator]
        return value
    if isinstance(value, (list, tuple)) and all(_is_number(item) and item >= 0 for item in value):
        return tuple(value)
    return INVALID


def _depends_on(value: object) -> object:
    if isinstance(value, str):
        return (value,)
    return tuple(sorted(set(value))) if _is_strings(value) and not isinstance(value, set) else INVALID


def _inputs(value: object) -> object:
    if value is None:
        return ()
    if isinstance(value, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return tuple(sorted(value.items()))
    return INVALID


def _when(value: object) -> object:
    """`"OP"` or `"not OP"`, with the spaces normalised."""
    if not isinstance(value, str):
        return INVALID
    words = value.split()
    if len(words) == 1 and words[0] != "not":
        return words[0]
    if len(words) == 2 and words[0] == "not":
        return f"not {words[1]}"
    return INVALID


def _map(value: object) -> object:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and value and _is_strings(value) and len(set(value)) == len(value):
        return tuple(value)
    return INVALID


def _either(check: Callable[[object], bool], convert: Callable[[object], object] = lambda v: v) -> Callable:
    return lambda value: convert(value) if check(value) else INVALID


CONVERTERS: dict[str, Callable[[object], object]] = {
    "name": _either(lambda v: isinstance(v, str)),
    "depends_on": _depends_on,
    "inputs": _inputs,
    "when": _when,
    "map": _map,
    "retries": _either(lambda v: _is_int(v) and v >= 0),
    "retry_delay_seconds": _delays,
    "timeout_seconds": _either(lambda v: v is None or (_is_number(v) and v > 0)),
    "tags": _either(_is_strings, lambda v: tuple(sorted(set(v)))),
    "cache": _either(lambda v: isinstance(v, bool)),
    "cache_version": _either(lambda v: v is None or isinstance(v, str) or _is_int(v)),
    "cache_expiration_seconds": _either(lambda v: v is None or (_is_number(v) and v > 0)),
    "persist_result": _either(lambda v: v is None or isinstance(v, bool)),
    "executor": _either(lambda v: isinstance(v, str) and v in ("thread", "process")),
    "description": _either(lambda v: v is None or isinstance(v, str), lambda v: v and normalise_newlines(v)),
}
REQUIREMENTS = {
    "name": "a string",
    "depends_on": "an operation or group name, or a list of them",
    "inputs": 'a dict of strings, `{"parameter": "operation"}`',
    "when": '`"OPERATION"` or `"not OPERATION"`',
    "map": "a parameter name, or a list of distinct parameter names",
    "retries": "a whole number ≥ 0 (of at most 64 bits)",
    "retry_delay_seconds": "a finite number ≥ 0 or a list of them",
    "timeout_seconds": "a finite number > 0 or `None`",
    "tags": "a list of strings",
    "cache": "`True` or `False`",
    "cache_version": "a string, a whole number (of at most 64 bits) or `None`",
    "cache_expiration_seconds": "a finite number > 0 or `None`",
    "persist_result": "`True`, `False` or `None`",
    "executor": '`"thread"` or `"process"`',
    "description": "a string",
}


def with_options(op, defaults):
    """`op` with each (option, value) of `defaults` it does not set itself (not among its
    decorator's keywords); `executor` is never given to an async function."""
    import dataclasses

    given = {key for key, _ in op.option_spans.keywords}
    missing = {key: value for key, value in defaults if key not in given and not (key == "executor" and op.is_async)}
    if not missing:
        return op
    return dataclasses.replace(op, options=dataclasses.replace(op.options, **missing))

"""The `@operation` marker users put on their functions.

At run time it only attaches metadata: the function keeps its behaviour, stays directly
callable (sync or async) and unit-testable. The compiler reads the same arguments from
source without running this code.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, TypeVar

F = TypeVar("F", bound=Callable)

#: the attribute holding an OperationInfo on a decorated function
ATTRIBUTE = "__orchc_operation__"


@dataclass(frozen=True)
class OperationInfo:
    """What `@operation(...)` was given."""

    name: str
    depends_on: tuple[str, ...] = ()
    inputs: Mapping[str, str] | None = None
    #: `"OP"`: run only when OP's result is truthy; `"not OP"`: only when it is falsy
    when: str | None = None
    #: the parameters run once per element of (zipped when several)
    map: tuple[str, ...] = ()
    retries: int = 0
    retry_delay_seconds: float | Iterable[float] = 0
    timeout_seconds: float | None = None
    tags: tuple[str, ...] = ()
    cache: bool = False
    cache_version: str | int | None = None
    cache_expiration_seconds: float | None = None
    persist_result: bool | None = None
    executor: Literal["thread", "process"] = "thread"
    description: str | None = None


def operation(
    name: str,
    *,
    depends_on: str | Iterable[str] = (),
    inputs: Mapping[str, str] | None = None,
    when: str | None = None,
    map: str | Iterable[str] = (),
    retries: int = 0,
    retry_delay_seconds: float | Iterable[float] = 0,
    timeout_seconds: float | None = None,
    tags: Iterable[str] = (),
    cache: bool = False,
    cache_version: str | int | None = None,
    cache_expiration_seconds: float | None = None,
    persist_result: bool | None = None,
    executor: Literal["thread", "process"] = "thread",
    description: str | None = None,
) -> Callable[[F], F]:
    """Mark a module-level function as the orchc operation `name` (e.g. `"scraping.merge"`).

    Every argument must be a literal: orchc reads them from source, it never runs them.
    """
    info = OperationInfo(
        name=name,
        depends_on=(depends_on,) if isinstance(depends_on, str) else tuple(depends_on),
        inputs=dict(inputs) if inputs else None,
        when=when,
        map=(map,) if isinstance(map, str) else tuple(map),
        retries=retries,
        retry_delay_seconds=retry_delay_seconds,
        timeout_seconds=timeout_seconds,
        tags=tuple(tags),
        cache=cache,
        cache_version=cache_version,
        cache_expiration_seconds=cache_expiration_seconds,
        persist_result=persist_result,
        executor=executor,
        description=description,
    )

    def mark(function: F) -> F:
        setattr(function, ATTRIBUTE, info)
        return function

    return mark


def operation_info(function: Callable) -> OperationInfo | None:
    """The metadata `@operation` attached to `function`, if any."""
    return getattr(function, ATTRIBUTE, None)

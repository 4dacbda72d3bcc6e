from dataclasses import dataclass

from runtime import operation


@dataclass
class Status:
    host: str
    up: bool


@operation(name="ops.check", map="host")
def check(host: str, timeout: float = 1.0) -> Status: ...


@operation(name="ops.any_down")
def any_down(statuses: list[Status]) -> bool: ...


@operation(name="ops.restart", when="ops.any_down", depends_on="ops.any_down")
def restart(statuses: list[Status]) -> list[str]: ...


@operation(name="ops.verify")
def verify(restart: list[str] | None) -> bool: ...


@operation(name="ops.calm", when="not ops.any_down")
def calm() -> str: ...


@operation(name="ops.each", map=["check", "label"])
def each(check: Status, label: str) -> str: ...

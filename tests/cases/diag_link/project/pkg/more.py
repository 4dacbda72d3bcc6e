from runtime import operation


@operation(name="amb.z.fetch")
def fetch():
    return 3


@operation(name="shadow.first")
def twice():
    return 1


@operation(name="shadow.second")
def twice():
    return 2


@operation(name="near.restart")
def restart() -> list[str]:
    return ["db-1"]


@operation(name="near.verify")
def verify(restarted: list[str] | None, checked: int = 0) -> int:
    return len(restarted or []) + checked


@operation(name="near.report")
def report(verified: int = 0, restarting: str = "") -> str:
    return f"{verified}{restarting}"

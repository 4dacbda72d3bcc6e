from runtime import operation


class Report:
    pass


@operation(name="t.fetch", retries=4)
def fetch(mailbox: str = "support") -> list[str]: ...


@operation(name="t.count")
def count(items: list[str], limit: int = 10) -> int: ...


@operation(name="t.report")
def report(count: int) -> Report: ...


@operation(name="t.summary")
def summary(page: Report) -> str: ...

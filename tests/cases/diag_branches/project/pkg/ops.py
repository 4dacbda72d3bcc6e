from runtime import operation


@operation(name="d.source")
def source() -> list[str]: ...


@operation(name="d.count")
def count(source: list[str]) -> int: ...


@operation(name="d.nomap", map="hots")
def nomap(host: str) -> str: ...


@operation(name="d.wrongtype", map="count")
def wrongtype(count: str) -> str: ...


@operation(name="d.unknown", when="d.sourc")
def unknown() -> None: ...


@operation(name="e.group", when="d")
def group() -> None: ...


@operation(name="d.itself", when="d.itself")
def itself() -> None: ...


@operation(name="d.counted", when="d.count")
def counted() -> None: ...


@operation(name="d.badwhen", when="maybe d.count")
def badwhen() -> None: ...


@operation(name="d.badmap", map=[])
def badmap(x: int) -> None: ...


@operation(name="d.mapped", map="source")
def mapped(source: str) -> int: ...


@operation(name="d.fine", map="mapped")
def fine(mapped: int) -> str: ...


@operation(name="d.optional", map="mapped")
def optional(mapped: int | None) -> str: ...


@operation(name="d.strict", map="maybe")
def strict(maybe: int) -> str: ...


@operation(name="d.maybe")
def maybe() -> list[int | None]: ...

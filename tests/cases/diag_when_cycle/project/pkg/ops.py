from runtime import operation


@operation(name="c.a")
def a(b: int) -> bool: ...


@operation(name="c.b", when="c.a")
def b() -> int: ...

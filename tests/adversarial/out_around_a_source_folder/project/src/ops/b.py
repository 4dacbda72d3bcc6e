from runtime import operation


@operation(name="h.one")
def one() -> int:
    return 1

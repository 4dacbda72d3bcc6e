from runtime import operation


@operation(name="k.one")
def one() -> int:
    return 1

from runtime import operation


@operation(name="k.two")
def two() -> int:
    return 2

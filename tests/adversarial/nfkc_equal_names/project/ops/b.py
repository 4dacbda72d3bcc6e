from runtime import operation


@operation(name="g.ｆｏｏ")
def wide() -> int:
    return 1


@operation(name="g.foo")
def narrow() -> int:
    return 2

from runtime import operation


@operation(name="y.broken")
def broken(:
    return 1

from runtime import operation


@operation(name="shop.broken")
def broken(:
    pass

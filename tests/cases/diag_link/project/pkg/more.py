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

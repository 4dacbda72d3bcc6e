from runtime import operation


@operation(name="g.after", depends_on="g")
def after() -> int:
    return 1

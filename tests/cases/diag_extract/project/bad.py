from runtime import operation

RETRIES = 3


@operation(name="x.nonliteral", retries=RETRIES)
def nonliteral():
    return 1


@operation(name="x.bad-name")
def bad_name():
    return 1


@operation(name="x..empty")
def empty_segment():
    return 1


@operation(name="x.class.kw")
def keyword_segment():
    return 1


@operation(name="x.varargs")
def varargs(*items, **options):
    return items


@operation(name="x.posonly")
def posonly(a, /, b):
    return a


def outer():
    @operation(name="x.nested")
    def nested():
        return 1

    return nested


class Holder:
    @operation(name="x.method")
    def method(self):
        return 1


lam = operation(name="x.lambda")(lambda: 1)


@operation
def bare():
    return 1


@operation(name="x.options", retries=-1, executor="gpu", tags="etl", colour="red")
def options():
    return 1


@operation(name="x.inputs", inputs={"missing": "x.options"})
def with_inputs(present):
    return present


@operation(name="x.ok")
def ok(value: int) -> int:
    return value

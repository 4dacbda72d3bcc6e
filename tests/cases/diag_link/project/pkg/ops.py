from runtime import operation


@operation(name="dup.one")
def first():
    return 1


@operation(name="dup.one")
def second():
    return 2


@operation(name="w.load", depends_on=["w.lod"])
def load():
    return 1


@operation(name="w.use", inputs={"data": "w.nothing"})
def use(data):
    return data


@operation(name="amb.x.fetch")
def fetch():
    return 1


@operation(name="amb.y.fetch")
def fetch_y():
    return 2


@operation(name="amb.consume")
def consume(fetch):
    return fetch


@operation(name="sinks.g.a")
def sa():
    return 1


@operation(name="sinks.g.b")
def sb():
    return 2


@operation(name="sinks.take")
def take(g):
    return g


@operation(name="conf.a")
def ca(date: str, limit: int = 1):
    return 1


@operation(name="conf.b")
def cb(date: int, limit: int = 2):
    return 2


@operation(name="self.op", depends_on="self.op")
def selfish():
    return 1


@operation(name="grp")
def grp():
    return 1


@operation(name="grp.inner")
def inner():
    return 1

import models as m
from runtime import operation as op


@op(name="a.b.use")
def use(item: m.Item, settings: m.Settings, load_data, other_step):
    return item

from models import Item
from runtime import operation


@operation(name="z.make")
def make_far() -> Item:
    return Item()


@operation(name="settings")
def settings() -> dict:
    return {}


@operation(name="loader")
def load_data() -> bytes:
    return b""

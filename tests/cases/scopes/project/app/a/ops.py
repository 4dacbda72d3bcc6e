import runtime
from models import Item, Settings


@runtime.operation(name="a.other.make")
def make_item() -> Item:
    return Item()


@runtime.operation(name="a.defaults")
def default_settings() -> Settings:
    return Settings()


@runtime.operation(name="a.other.step")
def step() -> int:
    return 1

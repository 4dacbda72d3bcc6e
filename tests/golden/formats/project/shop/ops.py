from runtime import operation

RETRIES = 3


@operation(name="shop.orders.load", retries=RETRIES)
def load_orders(day: str) -> list[int]:
    return []


@operation(name="shop.orders.load")
def load_orders_again(day: str) -> list[int]:
    return []


@operation(name="shop.report", depends_on=["shop.order"])
def report(day: str) -> str:
    return "100% done: a, b"


@operation(name="shop.total", inputs={"values": "shop.missing"})
def total(values: list[int]) -> int:
    return sum(values)

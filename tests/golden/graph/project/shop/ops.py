from runtime import operation

from .models import Orders, Summary


@operation(name="setup")
def setup() -> None:
    """Create the warehouse tables."""


@operation(name="shop.ingest.orders", retries=2, retry_delay_seconds=5, tags=["io"])
async def fetch_orders(day: str) -> Orders:
    return Orders()


@operation(name="shop.ingest.refunds", depends_on=["setup"])
def fetch_refunds(day: str, limit: int = 100) -> list[int]:
    return []


@operation(name="shop.summarise", inputs={"refunds": "shop.ingest.refunds"}, cache=True)
def summarise(orders: Orders, refunds: list[int]) -> Summary:
    return Summary()


@operation(name="shop.publish", depends_on=["shop.ingest"], timeout_seconds=30)
def publish(summarise: Summary, channel: str = "#sales") -> str:
    return channel

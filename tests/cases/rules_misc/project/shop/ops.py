from typing import Dict, List, Optional, Union

import pandas as pd
from runtime import operation

from shop.frames import Frame
from shop.models import Invoice, Order


@operation(name="shop.orders")
def orders() -> list[Order]:
    return []


@operation(name="shop.order_map")
def order_map() -> Dict[str, Order]:
    return {}


@operation(name="shop.table")
def table() -> pd.DataFrame:
    return pd.DataFrame()


@operation(name="shop.frame")
def frame() -> Frame:
    return Frame()


@operation(name="shop.count")
def count() -> int:
    return 0


@operation(name="shop.invoice")
def invoice(batch: List[Order], lookup: dict[str, Order]) -> Optional[Invoice]:
    return None


@operation(name="shop.audit", inputs={"orders": "shop.order_map"}, depends_on=["shop.ingest"])
def audit(orders: dict[str, Order], data: pd.DataFrame, frame_in: Frame, n: int, bill: Union[Invoice, None]) -> str:
    return "ok"


@operation(name="shop.ingest.a")
def ingest_a() -> None:
    return None


@operation(name="shop.ingest.b")
def ingest_b() -> None:
    return None

"""Types imported from the package that re-exports them bind like the types themselves:
`from shop import Order` where `shop/__init__.py` says `from .models import Order`, star
imports through `__all__`, chains of packages; resolved without importing anything, and
an edit to a re-export re-links what depends on it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from compiler import api
from compiler.lock.lockfile import loads


def _write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / "src" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))


PROJECT = {
    "shop/__init__.py": '''
        open("IMPORTED", "w").close()  # the compiler must never run this
        from .models import Order
        from .more import *
    ''',
    "shop/models.py": '''
        class Order: ...
    ''',
    "shop/more.py": '''
        __all__ = ["Invoice"]

        class Invoice: ...

        class Hidden: ...
    ''',
    "shop/ops.py": '''
        from runtime import operation
        from .models import Order
        from .more import Invoice

        @operation(name="shop.make")
        def make() -> Order:
            return Order()

        @operation(name="shop.bill")
        def bill(order: Order) -> Invoice:
            return Invoice()
    ''',
    "sales/__init__.py": '''
        from shop import Order as SaleOrder
    ''',
    "sales/ops.py": '''
        from runtime import operation
        from shop import Invoice
        from sales import SaleOrder

        @operation(name="sales.total")
        def total(order: SaleOrder) -> float:
            return 1.0

        @operation(name="sales.pay")
        def pay(invoice: "Invoice | None") -> bool:
            return True
    ''',
}


def _edges(root: Path) -> set[tuple[str, str, str | None, str]]:
    lock = loads((root / "flows.lock").read_text())
    return {(e.source, e.target, e.param, e.reason) for e in lock.edges}


def test_reexported_types_bind_by_type_without_importing_anything(tmp_path):
    _write(tmp_path, PROJECT)
    (tmp_path / "pyproject.toml").write_text('[tool.orchc]\nsources = ["src"]\nout = "gen_shop"\n')
    result = api.build(tmp_path)
    assert not result.diagnostics, result.diagnostics
    edges = _edges(tmp_path)
    assert ("shop.make", "sales.total", "order", "type") in edges  # sales.SaleOrder -> shop.Order -> shop.models.Order
    assert ("shop.bill", "sales.pay", "invoice", "type") in edges  # shop.Invoice, through `*` and `__all__`
    lock = loads((tmp_path / "flows.lock").read_text())
    sales = lock.flow("sales")
    assert not any(param.required for param in sales.params)
    total = next(op for op in lock.operations if op.name == "sales.total")
    assert total.params[0].type == "shop.models.Order"
    assert not (tmp_path / "IMPORTED").exists() and not Path("IMPORTED").exists()


def test_editing_a_reexport_relinks_what_depends_on_it(tmp_path):
    _write(tmp_path, PROJECT)
    (tmp_path / "pyproject.toml").write_text('[tool.orchc]\nsources = ["src"]\nout = "gen_shop"\n')
    api.build(tmp_path)
    init = tmp_path / "src" / "sales" / "__init__.py"
    init.write_text("from shop import Invoice as SaleOrder\n")  # now another type
    result = api.build(tmp_path)
    assert "flows.lock" in result.written
    edges = _edges(tmp_path)
    assert ("shop.make", "sales.total", "order", "type") not in edges
    assert ("shop.bill", "sales.total", "order", "type") in edges
    assert api.check(tmp_path)[1] == ()

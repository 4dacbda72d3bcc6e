"""Hand-built `LockFile` models for the codegen and Prefect engine tests."""

from __future__ import annotations

from typing import Any

from compiler import naming
from compiler.codegen.modules import flow_entries
from compiler.lock.lockfile import (
    LockEdge,
    LockFile,
    LockFlow,
    LockFlowParam,
    LockOperation,
    LockParam,
    LockProject,
)


def param(name: str, type: str | None = None, default: str | None = None, literal: str | None = None) -> LockParam:
    return LockParam(name=name, annotation=type, type=type, default=default, default_literal=literal)


def op(name: str, params: tuple[LockParam, ...] = (), *, module: str = "userops", function: str | None = None,
       is_async: bool = False, **options: Any) -> LockOperation:
    """An operation in `module.py`; `options` are further LockOperation fields (they may
    override the placeholder `line`, `column` and `source_hash`)."""
    placeholders = {"line": 1, "column": 1, "source_hash": "sha256:" + "0" * 64}
    return LockOperation(
        name=name, module=module, function=function or naming.identifier(name), file=f"{module}.py",
        is_async=is_async, params=list(params), **{**placeholders, **options},
    )


def edge(source: str, target: str, param: str | None = None) -> LockEdge:
    reason = "depends_on" if param is None else "name"
    return LockEdge(source=source, target=target, param=param, reason=reason)


def flow_param(name: str, consumers: list[str], type: str | None = None, required: bool = True,
               default: str | None = None, literal: str | None = None) -> LockFlowParam:
    return LockFlowParam(name=name, annotation=type, type=type, required=required, default=default,
                         default_literal=literal, consumers=consumers)


def lock(ops: list[LockOperation], edges: list[LockEdge], flows: list[dict[str, Any]],
         out: str = "gen", package: str = "gen") -> LockFile:
    """A lock; each flow is a dict of LockFlow fields without `module`/`function`."""
    entries = flow_entries(f["name"] for f in flows)
    return LockFile(
        project=LockProject(out=out, package=package, source_roots=["."]),
        operations=sorted(ops, key=lambda o: o.name),
        edges=sorted(edges, key=lambda e: (e.target, e.param or "\uffff", e.source)),
        flows=[LockFlow(module=entries[f["name"]][0], function=entries[f["name"]][1], **f)
               for f in sorted(flows, key=lambda f: f["name"])],
    )


def sample_lock() -> LockFile:
    """Two top-level groups, a cross-group upstream, depends_on, sync/async/process ops,
    literal and non-literal defaults, two sinks and a flat operation."""
    ops = [
        op("common.setup", description="Prepare the warehouse."),
        op("etl.extract.orders", (param("day", "str"), param("db", "warehouse.Db", "DEFAULT_DB"))),
        op("etl.extract.users", (param("day", "str"), param("limit", "int", "10", "10")),
           retries=2, retry_delay_seconds=[1, 5], tags=["io", "users"]),
        op("etl.transform", (param("orders"), param("users")), is_async=True, cache=True, timeout_seconds=30),
        op("etl.report", (param("orders"),), executor="process", persist_result=False),
        op("etl.load", (param("transform", "list[str]"),)),
        op("ping", (param("msg", "str", "'hi'", "'hi'"),), is_async=True),
    ]
    edges = [
        edge("etl.extract.orders", "etl.transform", "orders"),
        edge("etl.extract.users", "etl.transform", "users"),
        edge("etl.extract.orders", "etl.report", "orders"),
        edge("etl.transform", "etl.load", "transform"),
        edge("common", "etl.load"),
    ]
    etl_params = [
        flow_param("day", ["etl.extract.orders", "etl.extract.users"], "str"),
        flow_param("db", ["etl.extract.orders"], "warehouse.Db", False, "DEFAULT_DB"),
        flow_param("limit", ["etl.extract.users"], "int", False, "10", "10"),
    ]
    members = ["common.setup", "etl.extract.orders", "etl.extract.users", "etl.report", "etl.transform", "etl.load"]
    flows = [
        {"name": "common", "operations": ["common.setup"], "sinks": ["common.setup"]},
        {"name": "etl", "operations": members, "sinks": ["etl.load", "etl.report"], "params": etl_params},
        {"name": "etl.extract", "operations": ["etl.extract.orders", "etl.extract.users"],
         "sinks": ["etl.extract.orders", "etl.extract.users"], "params": etl_params},
        {"name": "ping", "operations": ["ping"], "sinks": ["ping"],
         "params": [flow_param("msg", ["ping"], "str", False, "'hi'", "'hi'")]},
    ]
    return lock(ops, edges, flows)

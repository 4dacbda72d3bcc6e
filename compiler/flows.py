"""Flows: every group (and every flat operation) as a runnable flow with its members in
topological order, its sinks, and its parameters (the unbound parameters of its members,
which must agree on annotation and default)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import networkx as nx

from compiler import naming
from compiler.diagnostics import Diagnostic
from compiler.model import BINDABLE_KINDS, Edge, Flow, FlowParam, OperationSpec, ParamSpec


def build_flows(
    operations: Sequence[OperationSpec], edges: Sequence[Edge], groups: Sequence[str]
) -> tuple[tuple[Flow, ...], list[Diagnostic]]:
    """One flow per group and per flat operation, sorted by name (the graph is acyclic)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(op.name for op in operations)
    graph.add_edges_from((e.source, e.target) for e in edges)
    by_name = {op.name: op for op in operations}
    bound = {(e.target, e.param) for e in edges if e.param is not None}
    heads = [*groups, *(op.name for op in operations if "." not in op.name and op.name not in groups)]
    position = {name: index for index, name in enumerate(by_name)}
    under: dict[str, list[str]] = defaultdict(list)  # group -> its operations, in `by_name` order
    for name in by_name:
        for scope in naming.ancestors(name):
            under[scope].append(name)
    flows, diagnostics, reported = [], [], set()
    for head in sorted(heads):
        core = under.get(head, [])
        if head in by_name:  # a flat operation (or one named like a group: OC309)
            core = sorted([head, *core], key=position.__getitem__)
        members = set(core).union(*(nx.ancestors(graph, name) for name in core))
        order = tuple(nx.lexicographical_topological_sort(graph.subgraph(members)))
        params, found = _flow_params(head, [by_name[name] for name in order], bound, reported)
        diagnostics += found
        flows.append(Flow(head, order, params, _sinks(core, graph)))
    return tuple(flows), diagnostics


def _sinks(core: list[str], graph: nx.DiGraph) -> tuple[str, ...]:
    inside = set(core)
    return tuple(sorted(n for n in inside if not any(s in inside and s != n for s in graph.successors(n))))


def _flow_params(flow, members, bound, reported) -> tuple[tuple[FlowParam, ...], list[Diagnostic]]:
    unbound: dict[str, list[tuple[OperationSpec, ParamSpec]]] = defaultdict(list)
    for op in sorted(members, key=lambda o: o.name):
        for param in op.params:
            if param.kind in BINDABLE_KINDS and (op.name, param.name) not in bound:
                unbound[param.name].append((op, param))
    params, diagnostics = [], []
    for name in sorted(unbound):
        uses = unbound[name]
        diagnostics += _conflicts(flow, name, uses, reported)
        annotated = [p.annotation for _, p in uses if p.annotation is not None]
        required = any(p.default is None for _, p in uses)
        first_default = next((p for _, p in uses if p.default is not None), None)
        params.append(FlowParam(
            name=name,
            annotation=annotated[0] if annotated else None,
            required=required,
            default=None if required or first_default is None else first_default.default,
            default_literal=None if required or first_default is None else first_default.default_literal,
            consumers=tuple(op.name for op, _ in uses),
        ))
    return tuple(params), diagnostics


def _conflicts(flow: str, name: str, uses, reported: set) -> list[Diagnostic]:
    """Different annotations (OC307) or different defaults (OC308) for one flow parameter,
    each conflicting pair reported once even when several flows contain it."""
    diagnostics = []
    checks = (
        ("OC307", lambda p: p.annotation.resolved if p.annotation else None, "annotation",
         lambda p: f"`{p.annotation.text}`"),
        ("OC308", lambda p: (p.default_literal or p.default) if p.default is not None else None, "default",
         lambda p: f"`{p.default}`"),
    )
    for code, value_of, what, shown in checks:
        valued = [(op, p) for op, p in uses if value_of(p) is not None]
        if not valued:
            continue
        first_op, first = valued[0]
        for op, param in valued[1:]:
            if value_of(param) == value_of(first) or (code, first_op.name, op.name, name) in reported:
                continue
            reported.add((code, first_op.name, op.name, name))
            diagnostics.append(Diagnostic(
                code,
                f"flow `{flow}` parameter `{name}` has conflicting {what}s: {shown(first)} in "
                f"`{first_op.name}` but {shown(param)} in `{op.name}`",
                param.span,
                f"give `{name}` the same {what} in both, rename one of them, or bind it with `inputs=`",
                ((first.span, f"`{first_op.name}` declares {shown(first)} here"),)))
    return diagnostics

"""Flows: every group (and every flat operation) as a runnable flow with its members in
topological order, its sinks, and its parameters (the unbound parameters of its members,
which must agree on annotation and default)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from compiler import naming
from compiler.diagnostics import Diagnostic
from compiler.link.toposort import reachable
from compiler.model import BINDABLE_KINDS, Edge, Flow, FlowParam, OperationSpec, ParamSpec


def build_flows(
    operations: Sequence[OperationSpec], edges: Sequence[Edge], groups: Sequence[str], order: Sequence[str]
) -> tuple[tuple[Flow, ...], list[Diagnostic]]:
    """One flow per group and per flat operation, sorted by name.

    `operations` are sorted by name; `order` holds them all in topological order, ties
    broken by name. A flow's members are its core (the operations under its group) and
    everything upstream of them, so whatever is upstream of a member is a member too:
    operations outside the flow never decide which member comes next, and the members'
    order in `order` is the tie-broken topological order of the flow's own subgraph. One
    sort of the whole graph serves every flow.
    """
    position = {name: index for index, name in enumerate(order)}
    upstream: dict[str, set[str]] = defaultdict(set)
    consumers: dict[str, set[str]] = defaultdict(set)  # who takes each operation's result
    for edge in edges:
        upstream[edge.target].add(edge.source)
        if edge.param is not None or edge.reason == "when":  # a condition takes the result too
            consumers[edge.source].add(edge.target)
    by_name = {op.name: op for op in operations}
    unbound_params = _unbound_params(operations, edges)
    heads = [*groups, *(op.name for op in operations if "." not in op.name and op.name not in groups)]
    under: dict[str, list[str]] = defaultdict(list)  # group -> its operations, by name
    for name in by_name:
        for scope in naming.ancestors(name)[:-1]:
            under[scope].append(name)
    flows, diagnostics, reported = [], [], set()
    for head in sorted(heads):
        core = under.get(head, [])
        if head in by_name:  # a flat operation (or one named like a group: OC309)
            core = sorted([head, *core])
        members = reachable(core, upstream)
        params, found = _flow_params(head, sorted(members), by_name, unbound_params, reported)
        diagnostics += found
        own = sorted((name for name in core if name == head or naming.parent(name) == head), key=position.__getitem__)
        flows.append(Flow(head, tuple(sorted(members, key=position.__getitem__)), params,
                          _sinks(members, consumers), tuple(own)))
    return tuple(flows), diagnostics


def _sinks(members: set[str], consumers: dict[str, set[str]]) -> tuple[str, ...]:
    """The members whose result no member takes (as data or as its condition): what the
    flow returns. One followed only through `depends_on` is a sink too, so an ordering-only step after it (a cleanup
    returning None) never hides its result."""
    return tuple(sorted(n for n in members if not (consumers.get(n, set()) - {n}) & members))


def _unbound_params(operations: Sequence[OperationSpec], edges: Sequence[Edge]) -> dict[str, list[ParamSpec]]:
    """Each operation's parameters that no edge feeds (what a flow must take), in order."""
    bound = {(e.target, e.param) for e in edges if e.param is not None}
    bound.update((op.name, name) for op in operations for name, _ in op.options.arguments)
    return {
        op.name: [p for p in op.params if p.kind in BINDABLE_KINDS and (op.name, p.name) not in bound]
        for op in operations
    }


def _flow_params(flow, members, by_name, unbound_params, reported) -> tuple[tuple[FlowParam, ...], list[Diagnostic]]:
    """The flow's parameters; `members` sorted by name."""
    unbound: dict[str, list[tuple[OperationSpec, ParamSpec]]] = defaultdict(list)
    for name in members:
        op = by_name[name]
        for param in unbound_params[name]:
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

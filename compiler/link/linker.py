"""Linking: all operations in, the dependency graph out (edges with their reason, groups,
flows and flow parameters), with every graph-level diagnostic.

The inference rules themselves are in `compiler.link.bind`; this module orders the work:
duplicates, name collisions, bindings, group sinks, cycles, then flows.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Sequence

from compiler import naming
from compiler.link.bind import Binder, GroupBinding
from compiler.link.dynamic import bind_when, check_mapped_inputs, lift_mapped
from compiler.diagnostics import Diagnostic, sorted_diagnostics
from compiler.link.flows import build_flows
from compiler.model import Edge, Graph, OperationSpec, Span
from compiler.link.toposort import lexicographic_order


def link(
    operations: Sequence[OperationSpec],
    opaque_types: frozenset[str] = frozenset(),
    project_packages: frozenset[str] = frozenset(),
) -> tuple[Graph, tuple[Diagnostic, ...]]:
    """Link extracted operations into a Graph.

    1. Keep the first of each duplicated name (by file, line) and report the others; lift
       mapped operations' types to lists (`compiler.link.dynamic`).
    2. Report operations whose name is also a group's name.
    3. Bind every parameter and `depends_on` entry (`compiler.link.bind`), and each
       `when` to its condition; check the mapped parameters' producers.
    4. Resolve bindings to groups: a group stands for its single sink, so bindings are
       resolved deepest target group first (a group's sinks depend only on bindings to
       groups nested deeper inside it).
    5. Sort the operations topologically (ties by name), once for every flow; when a
       cycle prevents it, report every cycle with the reason and location of each of its
       edges (a graph with a cycle has no flows).
    6. Build the flows (`compiler.link.flows`).
    """
    unique, diagnostics = _drop_duplicates(operations)
    unique = tuple(lift_mapped(op) for op in unique)
    names = tuple(op.name for op in unique)
    groups = naming.groups_of(names)
    diagnostics += _name_collisions(unique, set(groups)) + _shadowed_functions(operations) + _nfkc_collisions(unique)
    binder = Binder(unique, groups, opaque_types, project_packages)
    edges, pending, bind_diagnostics = binder.bind_all()
    diagnostics += bind_diagnostics
    for op in unique:
        for found in bind_when(op, binder.operations, binder.groups):
            (edges if isinstance(found, Edge) else diagnostics).append(found)
    group_edges, sink_diagnostics = _resolve_group_bindings(unique, edges, pending)
    edges = _sorted_edges([*edges, *group_edges])
    diagnostics += sink_diagnostics + check_mapped_inputs(binder.operations, edges)
    order = lexicographic_order([op.name for op in unique], [(edge.source, edge.target) for edge in edges])
    flows = ()
    if order is None:
        diagnostics += _cycles(unique, edges)
    else:
        flows, flow_diagnostics = build_flows(unique, edges, groups, order)
        diagnostics += flow_diagnostics
    graph = Graph(operations=unique, edges=edges, flows=flows, groups=groups)
    return graph, sorted_diagnostics(diagnostics)


def _drop_duplicates(operations: Iterable[OperationSpec]) -> tuple[tuple[OperationSpec, ...], list[Diagnostic]]:
    by_name: dict[str, list[OperationSpec]] = defaultdict(list)
    for op in sorted(operations, key=lambda o: (o.name, o.span.path, o.span.line)):
        by_name[op.name].append(op)
    diagnostics = []
    for name, ops in by_name.items():
        first = ops[0]
        for other in ops[1:]:
            related = ((first.name_span, f"`{name}` is first defined here, by `{first.module}.{first.function}`"),)
            for op, peer in ((other, first), (first, other)):
                diagnostics.append(Diagnostic(
                    "OC301",
                    f"duplicate operation name `{name}`: `{op.module}.{op.function}` and "
                    f"`{peer.module}.{peer.function}` ({peer.name_span.path}:{peer.name_span.line}) both use it",
                    op.name_span, "give each operation a unique name", related))
    unique = tuple(ops[0] for ops in by_name.values())
    return unique, diagnostics


def _name_collisions(operations: Iterable[OperationSpec], groups: set[str]) -> list[Diagnostic]:
    return [
        Diagnostic(
            "OC309", f"operation name `{op.name}` is also a group (other operations are named `{op.name}.…`)",
            op.name_span, f"rename it, e.g. `{op.name}.run`, or move the others out of `{op.name}`")
        for op in operations if op.name in groups
    ]


def _shadowed_functions(operations: Iterable[OperationSpec]) -> list[Diagnostic]:
    """Operations sharing (module, function): importing the module keeps only the last def."""
    by_function: dict[tuple[str, str], list[OperationSpec]] = defaultdict(list)
    for op in sorted((o for o in operations if o.uses is None), key=lambda o: (o.span.path, o.span.line)):
        by_function[(op.module, op.function)].append(op)
    return [
        Diagnostic(
            "OC311", f"operations `{first.name}` and `{later.name}` are both function `{later.function}` in "
            f"module `{later.module}`: importing it keeps only this later definition", later.span,
            "rename one of the two functions", ((first.span, f"`{first.name}` is defined here"),))
        for first, *rest in by_function.values() for later in rest
    ]


def _nfkc_collisions(operations: Iterable[OperationSpec]) -> list[Diagnostic]:
    """Operation or group names spelt differently that Python reads as one (`g.ｆｏｏ` and
    `g.foo`): their generated identifiers would be one, so one task would run for both."""
    spellings: dict[str, dict[str, OperationSpec]] = defaultdict(dict)
    for op in sorted(operations, key=lambda o: (o.name, o.span.path, o.span.line)):
        for name in (op.name, *naming.ancestors(op.name)[:-1]):
            spellings[naming.python_name(name)].setdefault(name, op)
    diagnostics = []
    for by_spelling in spellings.values():
        first, *others = sorted(by_spelling)
        for name in others:
            op = by_spelling[name]
            kind = "operation" if name == op.name else "group"
            diagnostics.append(Diagnostic(
                "OC312", f"{kind} name `{name}` is the same name to Python as `{first}` (identifiers are read in "
                f"NFKC form), so their generated code would collide", op.name_span,
                f"spell it with the same characters as `{first}`, or choose another name",
                ((by_spelling[first].name_span, f"`{first}` is used here"),)))
    return diagnostics


class _Sinks:
    """Every group's sinks, kept current as edges are added (one pass over the edges, not
    one per binding to a group)."""

    def __init__(self, operations: Iterable[OperationSpec], edges: Iterable[Edge]) -> None:
        #: group -> the operations under it
        self.members: dict[str, set[str]] = defaultdict(set)
        for op in operations:
            for scope in naming.ancestors(op.name):
                self.members[scope].add(op.name)
        #: group -> the operations under it with a downstream operation under it
        self.feeding: dict[str, set[str]] = defaultdict(set)
        for edge in edges:
            self.add(edge)

    def add(self, edge: Edge) -> None:
        if edge.source != edge.target:
            for scope in set(naming.ancestors(edge.source)).intersection(naming.ancestors(edge.target)):
                self.feeding[scope].add(edge.source)

    def of(self, group: str) -> list[str]:
        """The operations under `group` with no downstream operation under `group`, sorted."""
        return sorted(self.members.get(group, set()) - self.feeding.get(group, set()))


def _resolve_group_bindings(
    operations: Sequence[OperationSpec], edges: list[Edge], pending: Sequence[GroupBinding]
) -> tuple[list[Edge], list[Diagnostic]]:
    resolved: list[Edge] = []
    diagnostics = []
    if not pending:
        return resolved, diagnostics
    sinks_of = _Sinks(operations, edges)
    for binding in sorted(pending, key=lambda b: (-b.group.count("."), b.group, b.consumer, b.param)):
        sinks = sinks_of.of(binding.group)
        if len(sinks) == 1:
            resolved.append(Edge(sinks[0], binding.consumer, binding.param, binding.reason, via_group=binding.group))
            sinks_of.add(resolved[-1])
            continue
        found = ", ".join(f"`{s}`" for s in sinks) or "none"
        diagnostics.append(Diagnostic(
            "OC305",
            f"parameter `{binding.param}` of `{binding.consumer}` binds to group `{binding.group}` "
            f"({binding.reason} rule), which has {len(sinks)} sinks: {found}",
            binding.span,
            f"bind one operation explicitly, e.g. `inputs={{{json.dumps(binding.param)}: {json.dumps(sinks[0] if sinks else binding.group)}}}`, "
            f"or give `{binding.group}` a single final operation"))
    return resolved, diagnostics


def _sorted_edges(edges: Iterable[Edge]) -> tuple[Edge, ...]:
    """Sorted, one edge per (source, target, param): a `when` beats a `depends_on` on the
    same operation (it orders them too), a direct `depends_on` one via a group."""
    unique: dict[tuple[str, str, str | None], Edge] = {}
    for edge in sorted(edges, key=lambda e: (*e.sort_key(), e.reason != "when", e.via_group or "")):
        unique.setdefault((edge.source, edge.target, edge.param), edge)
    return tuple(unique.values())


def _edge_span(edge: Edge, by_name: dict[str, OperationSpec]) -> Span:
    consumer = by_name[edge.target]
    if edge.param is not None:
        return next((p.span for p in consumer.params if p.name == edge.param), consumer.span)
    if edge.reason == "when":
        return consumer.option_spans.of("when") or consumer.span
    spans = dict(consumer.option_spans.depends_on)
    return spans.get(edge.source) or consumer.option_spans.of("depends_on") or consumer.span


def _describe(edge: Edge) -> str:
    via = f" via group `{edge.via_group}`" if edge.via_group else ""
    if edge.reason == "when":
        return f"`{edge.target}` runs when `{edge.source}` says so (when)"
    if edge.param is None:
        return f"`{edge.target}` depends_on `{edge.source}`{via}"
    return f"`{edge.target}` takes `{edge.param}` from `{edge.source}` ({edge.reason} rule{via})"


def _cycles(operations: Sequence[OperationSpec], edges: Sequence[Edge]) -> list[Diagnostic]:
    """One diagnostic per strongly connected component that holds a cycle (link calls it
    only once it knows there is one)."""
    import networkx as nx  # only a project with a cycle needs it

    graph = nx.DiGraph()
    graph.add_nodes_from(op.name for op in operations)
    for edge in edges:
        graph.add_edge(edge.source, edge.target)
    by_name = {op.name: op for op in operations}
    by_pair: dict[tuple[str, str], list[Edge]] = defaultdict(list)
    for edge in edges:
        by_pair[(edge.source, edge.target)].append(edge)
    diagnostics = []
    for component in sorted(nx.strongly_connected_components(graph), key=min):
        start = min(component)
        if len(component) == 1 and not graph.has_edge(start, start):
            continue
        cycle = nx.find_cycle(graph.subgraph(component), source=start)
        cycle_edges = [by_pair[pair][0] for pair in cycle]
        path = " -> ".join(f"`{source}`" for source, _ in cycle) + f" -> `{cycle[0][0]}`"
        related = tuple((_edge_span(e, by_name), _describe(e)) for e in cycle_edges)
        diagnostics.append(Diagnostic(
            "OC306", f"dependency cycle: {path}; " + "; ".join(_describe(e) for e in cycle_edges),
            _edge_span(cycle_edges[0], by_name),
            "break the cycle: rename a parameter, bind it with `inputs=`, or drop a `depends_on` or `when`",
            related))
    return diagnostics

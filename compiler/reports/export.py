"""Graph exports for other tools: the stable JSON contract of `orchc graph --format json`,
and Mermaid and Graphviz diagrams (`--format mermaid|dot`)."""

from __future__ import annotations

import json
from collections.abc import Callable

from compiler.model import Edge, Graph

GRAPH_SCHEMA = 1


def restrict(graph: Graph, flow_name: str | None) -> Graph:
    """The part of the graph one flow runs (the whole graph when `flow_name` is None)."""
    if flow_name is None:
        return graph
    flow = next(f for f in graph.flows if f.name == flow_name)
    members = set(flow.operations)
    # every dotted prefix of a member: the groups that hold it (a set, not a scan per group)
    enclosing = {name[:i] for name in members for i, char in enumerate(name) if char == "."} | members
    return Graph(
        operations=tuple(op for op in graph.operations if op.name in members),
        edges=tuple(e for e in graph.edges if e.source in members and e.target in members),
        flows=(flow,),
        groups=tuple(g for g in graph.groups if g in enclosing),
    )


def graph_json(graph: Graph) -> str:
    """Operations by name, edges by (to, param, from), flows by name, members in topological order."""
    document = {
        "schema": GRAPH_SCHEMA,
        "operations": [
            {"name": op.name, "module": op.module, "function": op.function, "file": op.span.path,
             "line": op.span.line, "is_async": op.is_async,
             # present only when set, so graphs without conditions or fan-out read as before
             **({"when": op.options.when} if op.options.when else {}),
             **({"map": list(op.options.map)} if op.options.map else {})}
            for op in sorted(graph.operations, key=lambda o: o.name)
        ],
        "edges": [
            {"from": e.source, "to": e.target, "param": e.param, "reason": e.reason}
            for e in sorted(graph.edges, key=lambda e: (e.target, e.param or "", e.source))
        ],
        "flows": [
            {"name": flow.name, "operations": list(flow.operations),
             "parameters": [
                 {"name": p.name, "annotation": p.annotation.text if p.annotation else None, "required": p.required}
                 for p in flow.params
             ]}
            for flow in sorted(graph.flows, key=lambda f: f.name)
        ],
    }
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- diagrams ---------------------------------------------------------------------------

#: how each edge reason is drawn: (mermaid arrow, mermaid link style, dot attributes)
EDGE_STYLES = {
    "inputs": ("==>", "stroke:#8250df,stroke-width:3px", 'color="#8250df", penwidth=2'),
    "name": ("-->", "", ""),
    "type": ("-->", "stroke:#1f6feb", 'color="#1f6feb"'),
    "depends_on": ("-.->", "stroke:#6e7781,stroke-dasharray:4", 'style=dashed, color="#6e7781"'),
    "when": ("-.->", "stroke:#bf8700,stroke-width:2px,stroke-dasharray:2", 'style=dotted, color="#bf8700", penwidth=2'),
}


def mermaid_label(text: str) -> str:
    """`text` as a quoted Mermaid label: entity codes for the characters Mermaid or its
    HTML labels would read (`"`, `<`, `>`, `#`, `&`), newlines as spaces."""
    escaped = "".join(_MERMAID_ENTITIES.get(char, char) for char in text.replace("\r", " ").replace("\n", " "))
    return f'"{escaped}"'


_MERMAID_ENTITIES = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "&": "#amp;"}


def dot_id(text: str) -> str:
    """`text` as a quoted DOT identifier."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\r", "").replace("\n", "\\n")
    return f'"{escaped}"'


def _edge_label(edge: Edge, negated: frozenset[str]) -> str:
    """The parameter a data edge feeds, `when` (`when not`) for a condition, else `after`."""
    if edge.reason == "when":
        return "when not" if edge.target in negated else "when"
    return edge.param if edge.param is not None else "after"


def _node_label(graph: Graph) -> Callable[[str], str]:
    """An operation's label: its last name segment, with `map: PARAMS` when mapped."""
    mapped = {op.name: op.options.map for op in graph.operations if op.options.map}

    def label(name: str) -> str:
        short = name.rpartition(".")[2]
        return f"{short} (map: {', '.join(mapped[name])})" if name in mapped else short

    return label


def _negated(graph: Graph) -> frozenset[str]:
    return frozenset(op.name for op in graph.operations if op.options.condition and op.options.condition[1])


def _children(graph: Graph) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Subgroups and operations of each group (the root is `""`), sorted."""
    groups: dict[str, list[str]] = {"": []}
    operations: dict[str, list[str]] = {"": []}
    for group in graph.groups:
        groups.setdefault(group, [])
        operations.setdefault(group, [])
        groups.setdefault(group.rpartition(".")[0], []).append(group)
    for op in sorted(graph.operations, key=lambda o: o.name):
        operations.setdefault(op.group, []).append(op.name)
    return groups, operations


def _nested(graph: Graph, node: Callable[[str], str], opening: Callable[[str], list[str]], closing: str) -> list[str]:
    """The groups as nested blocks, one indent per level: `node(operation)` for each
    operation, `opening(group)` … `closing` around each subgroup."""
    subgroups, members = _children(graph)
    lines: list[str] = []

    def emit(group: str, depth: int) -> None:
        indent = "    " * depth
        lines.extend(indent + node(name) for name in members.get(group, []))
        for child in subgroups.get(group, []):
            lines.extend(indent + line for line in opening(child))
            emit(child, depth + 1)
            lines.append(indent + closing)

    emit("", 1)
    return lines


def _drawn_edges(graph: Graph) -> list[Edge]:
    """The edges between the graph's operations, in their stable order."""
    known = {op.name for op in graph.operations}
    return [e for e in sorted(graph.edges, key=lambda e: e.sort_key()) if e.source in known and e.target in known]


def graph_mermaid(graph: Graph) -> str:
    """A Mermaid flowchart: groups as nested subgraphs, operations as nodes, data edges
    labelled with the parameter, each edge reason drawn differently (see EDGE_STYLES)."""
    node = {name: f"op{index}" for index, name in enumerate(sorted(op.name for op in graph.operations))}
    group_id = {group: f"grp{index}" for index, group in enumerate(graph.groups)}
    label, negated = _node_label(graph), _negated(graph)
    mapped = {op.name for op in graph.operations if op.options.map}

    def shape(name: str) -> str:  # a mapped operation is a stack of runs: the subroutine shape
        return f"{node[name]}[[{mermaid_label(label(name))}]]" if name in mapped else f"{node[name]}[{mermaid_label(label(name))}]"

    lines = ["flowchart LR", *_nested(
        graph, shape, lambda group: [f"subgraph {group_id[group]}[{mermaid_label(group)}]"], "end")]
    edges = _drawn_edges(graph)
    for edge in edges:
        arrow = EDGE_STYLES[edge.reason][0]
        lines.append(f"    {node[edge.source]} {arrow}|{mermaid_label(_edge_label(edge, negated))}| {node[edge.target]}")
    for reason, (_, style, _) in EDGE_STYLES.items():
        indices = [str(i) for i, e in enumerate(edges) if e.reason == reason]
        if style and indices:
            lines.append(f"    linkStyle {','.join(indices)} {style}")
    return "\n".join(lines) + "\n"


def graph_dot(graph: Graph) -> str:
    """A Graphviz digraph: groups as nested clusters, operations as nodes, data edges
    labelled with the parameter, each edge reason drawn differently (see EDGE_STYLES)."""
    cluster = {group: f"cluster_{index}" for index, group in enumerate(graph.groups)}
    label, negated = _node_label(graph), _negated(graph)
    mapped = {op.name for op in graph.operations if op.options.map}

    def node(name: str) -> str:
        stack = ", peripheries=2" if name in mapped else ""  # a mapped operation: a stack of runs
        return f"{dot_id(name)} [label={dot_id(label(name))}, tooltip={dot_id(name)}{stack}];"

    def opening(group: str) -> list[str]:
        return [f"subgraph {cluster[group]} {{", f"    label={dot_id(group)};"]

    lines = ["digraph orchc {", "    rankdir=LR;", '    node [shape=box, style=rounded, fontname="Helvetica"];',
             '    edge [fontname="Helvetica", fontsize=10];', *_nested(graph, node, opening, "}")]
    for edge in _drawn_edges(graph):
        attributes = ", ".join(filter(None, (f"label={dot_id(_edge_label(edge, negated))}",
                                             f"tooltip={dot_id(edge.reason)}", EDGE_STYLES[edge.reason][2])))
        lines.append(f"    {dot_id(edge.source)} -> {dot_id(edge.target)} [{attributes}];")
    return "\n".join([*lines, "}"]) + "\n"

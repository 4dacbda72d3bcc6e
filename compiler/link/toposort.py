"""A mirror of networkx's `lexicographical_topological_sort` (ties broken by name) that
also says when there is no order: a heap over the names whose upstream are all placed;
and `reachable`, what a walk along the edges reaches.
networkx is loaded only when a cycle must be described; a test compares the two on
random graphs, and `ORCHC_VERIFY_MIRRORS=1` on every link (`compiler.mirrors`).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence

from compiler.mirrors import verify


def lexicographic_order(nodes: Sequence[str], edges: Iterable[tuple[str, str]]) -> list[str] | None:
    """Every node in topological order, ties broken by name; None when the edges hold a cycle."""
    edges = list(edges)
    downstream: dict[str, set[str]] = {node: set() for node in nodes}
    for source, target in edges:
        downstream[source].add(target)
    waiting = dict.fromkeys(downstream, 0)  # how many upstream nodes are not yet placed
    for targets in downstream.values():
        for target in targets:
            waiting[target] += 1
    ready = [node for node, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        node = heapq.heappop(ready)
        order.append(node)
        for target in downstream[node]:
            waiting[target] -= 1
            if waiting[target] == 0:
                heapq.heappush(ready, target)
    result = order if len(order) == len(downstream) else None
    return verify("the topological sort", result, lambda: _networkx(nodes, edges))


def reachable(start: Iterable[str], step: Mapping[str, Iterable[str]]) -> set[str]:
    """`start` and every name reached from it through `step` (name -> its neighbours)."""
    found = set(start)
    todo = list(found)
    while todo:
        for name in step.get(todo.pop(), ()):
            if name not in found:
                found.add(name)
                todo.append(name)
    return found


def _networkx(nodes: Sequence[str], edges: list[tuple[str, str]]) -> list[str] | None:
    import networkx as nx

    graph = nx.DiGraph()
    graph.add_nodes_from(nodes)
    graph.add_edges_from(edges)
    try:
        return list(nx.lexicographical_topological_sort(graph))
    except nx.NetworkXUnfeasible:
        return None

"""Subset runs: which of a flow's operations `--select`/`--exclude` (or an operation named
as the flow) pick, as a flow of the lock's own shape that both engines run as they run any.

A selector is an operation or group name (`ingest` picks every member inside the group),
`+NAME` adds everything upstream of what NAME picks, `NAME+` everything downstream of it
within the flow, `+NAME+` both. The selects are united, then the excludes removed. A
selected operation must have every operation whose result it takes selected too (there is
no stored result to take instead): otherwise the run is refused, naming what to add; an
unselected operation it only waits for (`depends_on`) is simply not waited for.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from compiler import naming
from compiler.link.toposort import reachable
from compiler.lock.lockfile import LockFile, LockFlow
from runtime.errors import RuntimeUsageError


@dataclass(frozen=True)
class Selector:
    name: str
    upstream: bool
    downstream: bool

    @classmethod
    def parse(cls, text: str) -> Selector:
        name = text.strip()
        upstream, downstream = name.startswith("+"), name.endswith("+")
        name = name.strip("+")
        problem = naming.name_problem(name)
        if problem is not None:
            raise RuntimeUsageError(f"bad selector `{text}`: {problem}",
                                    "write NAME, +NAME (and upstream) or NAME+ (and downstream)")
        return cls(name, upstream, downstream)


def operation_flow(lock: LockFile, name: str) -> LockFlow | None:
    """The flow an operation `name` runs in when named as the flow: its outermost group's."""
    names = {flow.name: flow for flow in lock.flows}
    for scope in reversed(naming.ancestors(name)[:-1]):
        if scope in names:
            return names[scope]
    return None


def select(lock: LockFile, flow: LockFlow, selects: Sequence[str], excludes: Sequence[str]) -> LockFlow:
    """The part of `flow` the selectors pick, as a LockFlow (same name, module and
    function; its members, sinks and parameters cut to the selection)."""
    members = lock.members(flow)
    upstream, downstream = _neighbours(lock, members)
    chosen = set(members) if not selects else set()
    for text in selects:
        chosen |= _pick(Selector.parse(text), flow.name, upstream, downstream)
    for text in excludes:
        chosen -= _pick(Selector.parse(text), flow.name, upstream, downstream)
    if not chosen:
        raise RuntimeUsageError(f"the selection runs no operation of flow `{flow.name}`",
                                "check --select and --exclude; `python -m runtime --list` shows the members")
    _refuse_missing_inputs(lock, set(members), chosen)
    return _cut(lock, flow, members, chosen)


def _neighbours(lock: LockFile, members: Iterable[str]) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    inside = set(members)
    upstream: dict[str, set[str]] = {name: set() for name in inside}
    downstream: dict[str, set[str]] = {name: set() for name in inside}
    for edge in lock.edges:
        if edge.source in inside and edge.target in inside:
            upstream[edge.target].add(edge.source)
            downstream[edge.source].add(edge.target)
    return upstream, downstream


def _pick(selector: Selector, flow_name: str, upstream: dict[str, set[str]],
          downstream: dict[str, set[str]]) -> set[str]:
    """`upstream` and `downstream` hold every member of the flow."""
    picked = {name for name in upstream if name == selector.name or naming.in_scope(name, selector.name)}
    if not picked:
        raise RuntimeUsageError(f"`{selector.name}` is no operation or group of flow `{flow_name}`",
                                f"`python -m runtime --list` shows the members of `{flow_name}`")
    found = set(picked)
    if selector.upstream:
        found |= reachable(picked, upstream)
    if selector.downstream:
        found |= reachable(picked, downstream)
    return found


def _refuse_missing_inputs(lock: LockFile, members: set[str], chosen: set[str]) -> None:
    missing = sorted({(edge.target, edge.source, edge.reason) for edge in lock.edges
                      if (edge.param is not None or edge.reason == "when") and edge.target in chosen
                      and edge.source not in chosen and edge.source in members})
    if missing:
        needs = "; ".join(f"`{target}` runs when `{source}` says so" if reason == "when"
                          else f"`{target}` takes the result of `{source}`" for target, source, reason in missing)
        raise RuntimeUsageError(f"the selection leaves out operations whose results it needs: {needs}",
                                "select them too, or select with `+NAME` to add everything upstream")


def _cut(lock: LockFile, flow: LockFlow, members: Sequence[str], chosen: set[str]) -> LockFlow:
    """The cut flow lists exactly what runs, in order: `Registry.members` takes a
    restricted flow's list as it is, without adding what is upstream."""
    members = [name for name in members if name in chosen]
    consumed = {edge.source for edge in lock.edges
                if (edge.param is not None or edge.reason == "when") and edge.source in chosen and edge.target in chosen}
    sinks = [name for name in members if name not in consumed]
    params = [param.model_copy(update={"consumers": [c for c in param.consumers if c in chosen]})
              for param in flow.params if any(c in chosen for c in param.consumers)]
    return flow.model_copy(update={"operations": members, "sinks": sinks, "params": params})

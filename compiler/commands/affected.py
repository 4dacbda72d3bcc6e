"""`orchc affected`: what a change between two locks touches, for a slim CI run.

Changed operations are those added, or whose locked record (source hash, options,
parameters) or incoming edges differ; everything downstream of them in the newer lock
is affected too, and so is every flow holding an affected operation. A CI job runs
those flows (or `python -m runtime FLOW --select NAME+` for each changed operation).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

from compiler.lock.lockfile import LockFile


@dataclass(frozen=True)
class Affected:
    #: operations added or changed, sorted
    changed: tuple[str, ...]
    #: operations downstream of a changed one (not changed themselves), sorted
    downstream: tuple[str, ...]
    #: flows holding a changed or downstream operation, sorted
    flows: tuple[str, ...]
    #: operations of the older lock that are gone, sorted
    removed: tuple[str, ...]


def affected(old: LockFile, new: LockFile) -> Affected:
    before = {op.name: op for op in old.operations}
    incoming_before = _incoming(old)
    incoming_after = _incoming(new)
    changed = {op.name for op in new.operations
               if before.get(op.name) != op or incoming_before.get(op.name) != incoming_after.get(op.name)}
    consumers: dict[str, set[str]] = {}
    for edge in new.edges:
        consumers.setdefault(edge.source, set()).add(edge.target)
    reached, todo = set(changed), list(changed)
    while todo:
        for target in consumers.get(todo.pop(), ()):
            if target not in reached:
                reached.add(target)
                todo.append(target)
    flows = sorted(flow.name for flow in new.flows if reached.intersection(new.members(flow)))
    gone = sorted(before.keys() - {op.name for op in new.operations})
    return Affected(tuple(sorted(changed)), tuple(sorted(reached - changed)), tuple(flows), tuple(gone))


def _incoming(lock: LockFile) -> dict[str, set[tuple]]:
    edges: dict[str, set[tuple]] = {}
    for edge in lock.edges:
        edges.setdefault(edge.target, set()).add((edge.source, edge.param, edge.reason, edge.via_group))
    return edges


def affected_json(data: Affected) -> str:
    return json.dumps(asdict(data), indent=2) + "\n"


def affected_text(data: Affected) -> str:
    if not (data.changed or data.removed):
        return "nothing changed: no flow needs to run\n"
    lines = []
    for title, names in (("changed", data.changed), ("downstream", data.downstream), ("flows", data.flows),
                         ("removed", data.removed)):
        if names:
            lines.append(f"{title}:")
            lines += [f"  {name}" for name in names]
    return "\n".join(lines) + "\n"

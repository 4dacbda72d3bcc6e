"""Lock comparison: the semantic changes between two locks, one line each
(`add operation x`, `remove edge a -> b.p (name)`, `update x: retries 2 -> 3`, …).

Each change carries the class a reviewer cares about: **body** (only the source hash),
**signature** (parameters, return annotation, async), **wiring** (edges), **policy**
(retries, timeouts, tags, cache…), **location** (file, line, module, function) — plus
additions and removals of operations, edges and flows.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler.lock.lockfile import LockDeployment, LockEdge, LockFile, LockFlow, LockOperation

POLICY_FIELDS = ("retries", "retry_delay_seconds", "timeout_seconds", "tags", "cache", "cache_version",
                 "cache_expiration_seconds", "persist_result", "executor", "description")
SIGNATURE_FIELDS = ("is_async", "when", "map", "uses", "arguments", "returns", "returns_type", "params")
LOCATION_FIELDS = ("module", "function", "file", "line", "column")
DEPLOYMENT_FIELDS = tuple(field for field in LockDeployment.model_fields if field != "name")


@dataclass(frozen=True, slots=True, order=True)
class Change:
    """One difference; `subject` is the operation or flow it is about."""

    #: add | remove | body | signature | policy | location | wiring | flow | deployment | project | generated
    kind: str
    subject: str
    text: str


def _edge_text(edge: LockEdge) -> str:
    param = f".{edge.param}" if edge.param else ""
    via = f" via `{edge.via_group}`" if edge.via_group else ""
    return f"`{edge.source}` -> `{edge.target}{param}` ({edge.reason}{via})"


def _producer_text(edge: LockEdge) -> str:
    via = f" via `{edge.via_group}`" if edge.via_group else ""
    return f"`{edge.source}` ({edge.reason}{via})"


def _short(value: object) -> str:
    text = repr(value) if not isinstance(value, list) else "[" + ", ".join(map(repr, value)) + "]"
    return text if len(text) <= 60 else text[:57] + "..."


def _param_changes(old: LockOperation, new: LockOperation) -> list[str]:
    before = {p.name: p for p in old.params}
    after = {p.name: p for p in new.params}
    texts = [f"add parameter `{n}`" for n in sorted(after.keys() - before.keys())]
    texts += [f"remove parameter `{n}`" for n in sorted(before.keys() - after.keys())]
    for name in sorted(before.keys() & after.keys()):
        if before[name] != after[name]:
            a, b = before[name], after[name]
            if a.annotation != b.annotation or a.type != b.type:
                texts.append(f"parameter `{name}` annotation {_short(a.annotation)} -> {_short(b.annotation)}")
            if a.default != b.default:
                texts.append(f"parameter `{name}` default {_short(a.default)} -> {_short(b.default)}")
    if not texts and [p.name for p in old.params] != [p.name for p in new.params]:
        texts.append("parameters reordered")
    return texts


def _operation_changes(old: LockOperation, new: LockOperation) -> list[Change]:
    changes = []
    name = new.name
    for kind, fields in (("location", LOCATION_FIELDS), ("policy", POLICY_FIELDS), ("signature", SIGNATURE_FIELDS)):
        for field in fields:
            before, after = getattr(old, field), getattr(new, field)
            if before == after:
                continue
            if field == "params":
                changes += [Change(kind, name, f"update `{name}`: {t}") for t in _param_changes(old, new)]
            elif field == "arguments":  # a step's literal `params`, shown as written in the lock
                before, after = ({a.name: a.value for a in v or ()} for v in (before, after))
                changes.append(Change(kind, name, f"update `{name}`: arguments {_short(before)} -> {_short(after)}"))
            else:
                changes.append(Change(kind, name, f"update `{name}`: {field} {_short(before)} -> {_short(after)}"))
    if old.source_hash != new.source_hash and not any(c.kind == "signature" for c in changes):
        changes.append(Change("body", name, f"update `{name}`: source changed"))
    return changes


def _flow_changes(old: LockFlow, new: LockFlow) -> list[Change]:
    changes = []
    if old.operations != new.operations:
        added = sorted(set(new.operations) - set(old.operations))
        removed = sorted(set(old.operations) - set(new.operations))
        detail = "; ".join(filter(None, (
            "adds " + ", ".join(f"`{a}`" for a in added) if added else "",
            "drops " + ", ".join(f"`{r}`" for r in removed) if removed else "",
        ))) or "order changed"
        changes.append(Change("flow", new.name, f"flow `{new.name}` members: {detail}"))
    before = {p.name: p for p in old.params}
    after = {p.name: p for p in new.params}
    for pname in sorted(after.keys() - before.keys()):
        changes.append(Change("flow", new.name, f"flow `{new.name}`: add parameter `{pname}`"))
    for pname in sorted(before.keys() - after.keys()):
        changes.append(Change("flow", new.name, f"flow `{new.name}`: remove parameter `{pname}`"))
    for pname in sorted(before.keys() & after.keys()):
        a, b = before[pname], after[pname]
        for field in ("annotation", "required", "default"):
            if getattr(a, field) != getattr(b, field):
                changes.append(Change("flow", new.name, f"flow `{new.name}`: parameter `{pname}` {field} "
                                      f"{_short(getattr(a, field))} -> {_short(getattr(b, field))}"))
    if old.sinks != new.sinks:
        changes.append(Change("flow", new.name, f"flow `{new.name}`: result {_short(old.sinks)} -> {_short(new.sinks)}"))
    if old.description != new.description:
        changes.append(Change("flow", new.name, f"flow `{new.name}`: description {_short(old.description)} -> "
                              f"{_short(new.description)}"))
    return changes


def _deployment_changes(old: LockDeployment, new: LockDeployment) -> list[Change]:
    name = new.name
    changes = []
    for field in DEPLOYMENT_FIELDS:
        before, after = getattr(old, field), getattr(new, field)
        if before != after:
            if field == "schedule":
                before, after = (schedule.describe() if schedule else "none" for schedule in (old.schedule, new.schedule))
                text = f"schedule {before} -> {after}"
            else:
                text = f"{field} {_short(before)} -> {_short(after)}"
            changes.append(Change("deployment", name, f"deployment `{name}`: {text}"))
    return changes


@dataclass(frozen=True, slots=True)
class EdgeDelta:
    """How the edges differ: a parameter fed by another producer is *re-bound*, not an
    add plus a remove; `updated` holds the same edge with another reason or group."""

    added: tuple[LockEdge, ...] = ()
    removed: tuple[LockEdge, ...] = ()
    #: (before, after) for each (target, param) slot fed differently
    rebound: tuple[tuple[LockEdge, LockEdge], ...] = ()
    #: (before, after) for the same (target, param, source) with another reason or group
    updated: tuple[tuple[LockEdge, LockEdge], ...] = ()


def edge_delta(old: LockFile, new: LockFile) -> EdgeDelta:
    """Compare the edges of two locks, each list sorted by (target, param, source)."""
    def keyed(lock: LockFile) -> dict[tuple[str, str, str], LockEdge]:
        return {(e.target, e.param if e.param is not None else "\uffff", e.source): e for e in lock.edges}

    before, after = keyed(old), keyed(new)
    slots_before = {(e.target, e.param): e for e in old.edges if e.param is not None}
    slots_after = {(e.target, e.param): e for e in new.edges if e.param is not None}
    rebound = [
        (slots_before[slot], slots_after[slot]) for slot in sorted(slots_before.keys() & slots_after.keys())
        if slots_before[slot].source != slots_after[slot].source
    ]
    moved = {(a.target, a.param) for a, _ in rebound}
    return EdgeDelta(
        added=tuple(after[k] for k in sorted(after.keys() - before.keys()) if (k[0], after[k].param) not in moved),
        removed=tuple(before[k] for k in sorted(before.keys() - after.keys()) if (k[0], before[k].param) not in moved),
        rebound=tuple(rebound),
        updated=tuple((before[k], after[k]) for k in sorted(before.keys() & after.keys()) if before[k] != after[k]),
    )


def _edge_changes(old: LockFile, new: LockFile) -> list[Change]:
    delta = edge_delta(old, new)
    changes = [
        Change("wiring", b.target, f"rebind `{b.target}.{b.param}`: {_producer_text(a)} -> {_producer_text(b)}")
        for a, b in delta.rebound
    ]
    changes += [Change("wiring", e.target, f"add edge {_edge_text(e)}") for e in delta.added]
    changes += [Change("wiring", e.target, f"remove edge {_edge_text(e)}") for e in delta.removed]
    changes += [Change("wiring", b.target, f"update edge {_edge_text(a)} -> {_edge_text(b)}") for a, b in delta.updated]
    return changes


def lock_changes(old: LockFile, new: LockFile) -> list[Change]:
    """Every semantic difference from `old` to `new`, in a stable order."""
    changes: list[Change] = []
    if old.project.task_runner != new.project.task_runner:
        changes.append(Change("project", "", f"task runner `{old.project.task_runner or 'thread'}` -> "
                                             f"`{new.project.task_runner or 'thread'}`"))
    if old.project.model_copy(update={"task_runner": None}) != new.project.model_copy(update={"task_runner": None}):
        changes.append(Change("project", "", f"project settings {old.project.model_dump()} -> {new.project.model_dump()}"))
    before = {op.name: op for op in old.operations}
    after = {op.name: op for op in new.operations}
    changes += [Change("add", n, f"add operation `{n}`") for n in sorted(after.keys() - before.keys())]
    changes += [Change("remove", n, f"remove operation `{n}`") for n in sorted(before.keys() - after.keys())]
    for name in sorted(before.keys() & after.keys()):
        changes += _operation_changes(before[name], after[name])
    changes += _edge_changes(old, new)
    old_flows = {f.name: f for f in old.flows}
    new_flows = {f.name: f for f in new.flows}
    changes += [Change("flow", n, f"add flow `{n}`") for n in sorted(new_flows.keys() - old_flows.keys())]
    changes += [Change("flow", n, f"remove flow `{n}`") for n in sorted(old_flows.keys() - new_flows.keys())]
    for name in sorted(old_flows.keys() & new_flows.keys()):
        changes += _flow_changes(old_flows[name], new_flows[name])
    old_deployments = {d.name: d for d in old.deployments or ()}
    new_deployments = {d.name: d for d in new.deployments or ()}
    changes += [Change("deployment", n, f"add deployment `{n}` of flow `{new_deployments[n].flow}`")
                for n in sorted(new_deployments.keys() - old_deployments.keys())]
    changes += [Change("deployment", n, f"remove deployment `{n}`")
                for n in sorted(old_deployments.keys() - new_deployments.keys())]
    for name in sorted(old_deployments.keys() & new_deployments.keys()):
        changes += _deployment_changes(old_deployments[name], new_deployments[name])
    if old.generated != new.generated:
        before_modules = {g.path: g for g in old.generated}
        after_modules = {g.path: g for g in new.generated}
        paths = sorted(p for p in before_modules.keys() | after_modules.keys()
                       if before_modules.get(p) != after_modules.get(p))
        changes.append(Change("generated", "", "generated modules changed: " + ", ".join(f"`{p}`" for p in paths)))
    return changes


def rewiring(old: LockFile, new: LockFile) -> list[Change]:
    """How a build rewired what already existed, one line each: each argument of an
    operation kept from `old` that another producer now feeds, that a producer now feeds
    (it was a flow parameter), or that no producer feeds any more; and each parameter a
    flow kept from `old` gained or lost. New operations and flows are not rewiring."""
    kept = {op.name for op in old.operations} & {op.name for op in new.operations}
    delta = edge_delta(old, new)
    changes = [Change("wiring", b.target, f"rebind {b.target}.{b.param}: {a.source} -> {b.source} ({b.reason})")
               for a, b in delta.rebound if b.target in kept]
    changes += [Change("wiring", e.target, f"bind {e.target}.{e.param}: {e.source} ({e.reason})")
                for e in delta.added if e.param is not None and e.target in kept]
    changes += [Change("wiring", e.target, f"unbind {e.target}.{e.param}: was {e.source} ({e.reason})")
                for e in delta.removed if e.param is not None and e.target in kept]
    old_flows = {f.name: f for f in old.flows}
    for flow in new.flows:
        if flow.name not in old_flows:
            continue
        before = {p.name for p in old_flows[flow.name].params}
        for param in flow.params:
            if param.name not in before:
                kind = "required" if param.required else "optional"
                shown = f"{param.name}: {param.annotation}" if param.annotation else param.name
                changes.append(Change("flow", flow.name, f"new {kind} flow parameter {shown} in {flow.name}"))
        for name in sorted(before - {p.name for p in flow.params}):
            changes.append(Change("flow", flow.name, f"flow parameter {name} gone from {flow.name}"))
    return changes

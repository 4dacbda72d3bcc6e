"""`orchc diff BASE [HEAD]`: how the locked graph changed, for a pull-request comment.

Works on two lockfiles only (never on source, never importing code). Each changed
operation is classified as **body** (only its source hash), **signature** (parameters,
return annotation, async), **wiring** (the edges into it), **policy** (retries, timeouts,
tags, cache…) or **location** (file, line, module, function); one operation can be in
several classes. The Markdown ends with a Mermaid diagram of the changed part of the graph.
"""

from __future__ import annotations

import json
from typing import Any

from compiler.reports.export import mermaid_label
from compiler.lock.diff import Change, edge_delta, lock_changes
from compiler.lock.lockfile import LockEdge, LockFile

CLASSES = ("body", "signature", "wiring", "policy", "location")
REVIEW_SCHEMA = "orchc-diff/1"
NODE_STYLES = {
    "added": "fill:#dafbe1,stroke:#1a7f37,color:#1f2328",
    "removed": "fill:#ffebe9,stroke:#cf222e,color:#1f2328,stroke-dasharray:4",
    "changed": "fill:#fff8c5,stroke:#9a6700,color:#1f2328",
}
EDGE_STYLES = {"added": "stroke:#1a7f37,stroke-width:2px", "removed": "stroke:#cf222e,stroke-dasharray:4"}


def _edge(edge: LockEdge) -> dict[str, Any]:
    return {"source": edge.source, "target": edge.target, "param": edge.param,
            "reason": edge.reason, "via_group": edge.via_group}


def _binding(edge: LockEdge) -> dict[str, Any]:
    return {"source": edge.source, "reason": edge.reason, "via_group": edge.via_group}


def _detail(change: Change) -> str:
    """`update `x`: retries 2 -> 3` without the `update `x`: ` already said by the table."""
    prefix = f"update `{change.subject}`: "
    return change.text.removeprefix(prefix)


def _changed_operations(changes: list[Change], kept: set[str]) -> list[dict[str, Any]]:
    """Each changed operation (of `kept`, those in both locks) with its classes and the
    changes themselves.

    The source hash covers the decorator too, so a policy or wiring edit also changes it:
    an operation is classed **body** only when the hash is all that changed.
    """
    by_name: dict[str, dict[str, list[str]]] = {}
    for change in changes:
        if change.kind in CLASSES and change.subject in kept:
            by_name.setdefault(change.subject, {}).setdefault(change.kind, []).append(_detail(change))
    return [
        {"name": name, "classes": [c for c in CLASSES if c in kinds and (c != "body" or len(kinds) == 1)],
         "details": [text for c in (*CLASSES[1:], "body") for text in kinds.get(c, [])]}
        for name, kinds in sorted(by_name.items())
    ]


def review(old: LockFile, new: LockFile, base: str, head: str) -> dict[str, Any]:
    """Every difference from `old` (BASE) to `new` (HEAD) as plain data (the json output)."""
    changes = lock_changes(old, new)
    before = {op.name: op for op in old.operations}
    after = {op.name: op for op in new.operations}
    added, removed = sorted(after.keys() - before.keys()), sorted(before.keys() - after.keys())
    delta = edge_delta(old, new)
    return {
        "schema": REVIEW_SCHEMA,
        "base": base,
        "head": head,
        "counts": {kind: {"before": len(getattr(old, kind)), "after": len(getattr(new, kind))}
                   for kind in ("operations", "edges", "flows")},
        "operations": {
            "added": [{"name": n, "file": after[n].file, "line": after[n].line} for n in added],
            "removed": [{"name": n, "file": before[n].file, "line": before[n].line} for n in removed],
            "changed": _changed_operations(changes, before.keys() & after.keys()),
        },
        "edges": {
            "added": [_edge(e) for e in delta.added],
            "removed": [_edge(e) for e in delta.removed],
            "rebound": [{"target": b.target, "param": b.param, "before": _binding(a), "after": _binding(b)}
                        for a, b in delta.rebound],
            "updated": [{"target": b.target, "param": b.param, "before": _binding(a), "after": _binding(b)}
                        for a, b in delta.updated],
        },
        "flows": [c.text for c in changes if c.kind == "flow"],
        "deployments": [c.text for c in changes if c.kind == "deployment"],
        "other": [c.text for c in changes if c.kind in ("project", "generated")],
        "mermaid": changed_graph_mermaid(old, new, changes),
    }


def review_json(data: dict[str, Any]) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# -- the diagram ------------------------------------------------------------------------


def _edge_key(edge: LockEdge) -> tuple[str, str, str]:
    return (edge.source, edge.target, edge.param or "")


def changed_graph_mermaid(old: LockFile, new: LockFile, changes: list[Change]) -> str:
    """The changed operations plus their direct neighbours (in either lock), as a Mermaid
    flowchart; "" when no operation or edge changed."""
    before = {op.name for op in old.operations}
    after = {op.name for op in new.operations}
    status = {n: "added" for n in after - before} | {n: "removed" for n in before - after}
    kept = before & after
    for change in changes:
        if change.kind in CLASSES and change.subject in kept:
            status[change.subject] = "changed"
    if not status:
        return ""
    old_edges = {_edge_key(e): e for e in old.edges}
    new_edges = {_edge_key(e): e for e in new.edges}
    every = old_edges | new_edges
    nodes = set(status)
    for source, target, _ in every:
        if source in status or target in status:
            nodes |= {source, target}
    ids = {name: f"op{index}" for index, name in enumerate(sorted(nodes))}
    lines = ["flowchart LR"]
    for name in sorted(nodes):
        lines.append(f"    {ids[name]}[{mermaid_label(name)}]")
    drawn = []
    for key in sorted(k for k in every if k[0] in nodes and k[1] in nodes):
        edge = every[key]
        state = "removed" if key not in new_edges else "added" if key not in old_edges else "same"
        label = f"{edge.param or 'after'} ({edge.reason})"
        arrow = "-.->" if state == "removed" or edge.reason == "depends_on" else "-->"
        lines.append(f"    {ids[edge.source]} {arrow}|{mermaid_label(label)}| {ids[edge.target]}")
        drawn.append(state)
    for state, style in EDGE_STYLES.items():
        indices = [str(i) for i, s in enumerate(drawn) if s == state]
        if indices:
            lines.append(f"    linkStyle {','.join(indices)} {style}")
    for state, style in NODE_STYLES.items():
        members = [ids[n] for n in sorted(status) if status[n] == state]
        if members:
            lines.append(f"    classDef {state} {style}")
            lines.append(f"    class {','.join(members)} {state}")
    return "\n".join(lines) + "\n"


# -- markdown ---------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _via(binding: dict[str, Any]) -> str:
    return f"{binding['reason']} via `{binding['via_group']}`" if binding["via_group"] else binding["reason"]


def _slot(edge: dict[str, Any]) -> str:
    return f"{edge['target']}.{edge['param']}" if edge["param"] else edge["target"]


def _edge_line(edge: dict[str, Any]) -> str:
    target = _slot(edge)
    return f"- `{edge['source']}` → `{target}` ({_via(edge)})"


def _counts_table(counts: dict[str, dict[str, int]]) -> list[str]:
    lines = ["| | before | after | change |", "|---|---:|---:|---:|"]
    for kind, count in counts.items():
        change = count["after"] - count["before"]
        lines.append(f"| {kind} | {count['before']} | {count['after']} | {change:+d} |")
    return lines


def _section(title: str, lines: list[str]) -> list[str]:
    return ["", f"### {title}", "", *lines] if lines else []


def review_markdown(data: dict[str, Any]) -> str:
    ops, edges = data["operations"], data["edges"]
    lines = ["## orchc: flow graph changes", "", f"`{data['base']}` → `{data['head']}`", "",
             *_counts_table(data["counts"]), ""]
    if not any([*ops.values(), *edges.values(), data["flows"], data["deployments"], data["other"]]):
        lines.append("No changes to operations, edges, flows or deployments.")
        return "\n".join(lines) + "\n"
    lines.append(f"**Operations:** {len(ops['added'])} added, {len(ops['removed'])} removed, "
                 f"{len(ops['changed'])} changed · **Edges:** {len(edges['added'])} added, "
                 f"{len(edges['removed'])} removed, {len(edges['rebound']) + len(edges['updated'])} re-bound")
    lines += _section("Operations added", [f"- `{o['name']}` (`{o['file']}:{o['line']}`)" for o in ops["added"]])
    lines += _section("Operations removed", [f"- `{o['name']}` (was `{o['file']}:{o['line']}`)" for o in ops["removed"]])
    lines += _section("Operations changed", ["| operation | class | changes |", "|---|---|---|", *(
        f"| `{o['name']}` | {', '.join(f'**{c}**' for c in o['classes'])} | {_cell('; '.join(o['details']))} |"
        for o in ops["changed"])] if ops["changed"] else [])
    lines += _section("Edges added", [_edge_line(e) for e in edges["added"]])
    lines += _section("Edges removed", [_edge_line(e) for e in edges["removed"]])
    lines += _section("Edges re-bound", [
        f"- `{_slot(r)}`: `{r['before']['source']}` ({_via(r['before'])}) → "
        f"`{r['after']['source']}` ({_via(r['after'])})" for r in [*edges["rebound"], *edges["updated"]]])
    lines += _section("Flows", [f"- {text}" for text in data["flows"]])
    lines += _section("Deployments", [f"- {text}" for text in data["deployments"]])
    lines += _section("Other", [f"- {text}" for text in data["other"]])
    if data["mermaid"]:
        lines += _section("Changed part of the graph", ["```mermaid", data["mermaid"].rstrip("\n"), "```"])
    return "\n".join(lines) + "\n"

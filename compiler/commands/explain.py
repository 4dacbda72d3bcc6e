"""`orchc explain OPERATION`: everything the analysis knows about one operation — where it
is, its options, why each input is bound to its producer, what it runs after, what runs
after it, and the flows it belongs to. Reads the graph only; never runs code."""

from __future__ import annotations

import json
from typing import Any

from compiler.diagnostics import UsageError, did_you_mean
from compiler.model import Graph, OperationSpec, Span

#: how `orchc explain` names each inference rule
RULE_NAMES = {
    "inputs": "explicit `inputs=`",
    "name": "name",
    "type": "type",
    "depends_on": "`depends_on`",
    "when": "`when`",
}
_SHOWN_OPTIONS = ("retries", "retry_delay_seconds", "timeout_seconds", "tags", "cache", "persist_result",
                  "executor", "description")


def _where(span: Span) -> str:
    return f"{span.path}:{span.line}:{span.column}"


def find_operation(graph: Graph, name: str) -> OperationSpec:
    """The operation called `name`, or a UsageError with a suggestion."""
    for op in graph.operations:
        if op.name == name:
            return op
    names = [op.name for op in graph.operations]
    if name in graph.groups:
        hint = f"`{name}` is a group: run `orchc graph {name}` to see its flow"
    else:
        hint = did_you_mean(name, names)
    raise UsageError(f"no operation named `{name}`", hint or "run `orchc graph` to list every operation")


def explanation(graph: Graph, name: str) -> dict[str, Any]:
    """The facts `explain` prints, as plain data (the json output)."""
    op = find_operation(graph, name)
    spans = {o.name: o.declared for o in graph.operations}
    incoming = {e.param: e for e in graph.edges if e.target == name and e.param is not None}
    flow_params = {p.name: p for flow in graph.flows for p in flow.params if name in p.consumers}
    arguments = dict(op.options.arguments)  # a pipeline step's literal `params`
    inputs = []
    for param in op.params:
        entry: dict[str, Any] = {"parameter": param.name,
                                 "annotation": param.annotation.text if param.annotation else None}
        edge = incoming.get(param.name)
        if edge is not None:
            entry |= {"producer": edge.source, "rule": edge.reason, "via_group": edge.via_group,
                      "location": _where(spans[edge.source])}
        elif param.name in arguments:
            entry |= {"producer": None, "rule": "argument", "value": arguments[param.name]}
        else:
            flow_param = flow_params.get(param.name)
            entry |= {"producer": None, "rule": "flow parameter",
                      "required": flow_param.required if flow_param else param.default is None,
                      "default": param.default}
        inputs.append(entry)
    options = {key: getattr(op.options, key) for key in _SHOWN_OPTIONS}
    if options["description"] is None:
        options["description"] = op.docstring  # as the lock and Prefect see it
    if op.options.map:
        options["map"] = op.options.map
    condition = op.options.condition
    return {
        "operation": op.name,
        "location": _where(op.declared),
        "module": op.module,
        "function": op.function,
        "is_async": op.is_async,
        "uses": op.uses,
        "returns": op.returns.text if op.returns else None,
        "options": {k: list(v) if isinstance(v, tuple) else v for k, v in options.items()},
        "inputs": inputs,
        "condition": None if condition is None else {
            "operation": condition[0], "negated": condition[1], "location": _where(spans[condition[0]])},
        "after": [{"operation": e.source, "via_group": e.via_group, "location": _where(spans[e.source])}
                  for e in graph.edges if e.target == name and e.param is None and e.reason != "when"],
        "downstream": [{"operation": e.target, "parameter": e.param, "rule": e.reason}
                       for e in sorted(graph.edges, key=lambda e: (e.target, e.param or "\uffff"))
                       if e.source == name],
        "flows": sorted(flow.name for flow in graph.flows if name in flow.operations),
    }


def _input_line(entry: dict[str, Any]) -> str:
    annotation = f": {entry['annotation']}" if entry["annotation"] else ""
    head = f"  {entry['parameter']}{annotation}"
    if entry["rule"] == "argument":
        return f"{head} = {entry['value']} (the step's `params`)"
    if entry["producer"] is None:
        state = "required" if entry["required"] else f"default {entry['default']}"
        return f"{head} <- flow parameter ({state})"
    via = f" via group `{entry['via_group']}`" if entry["via_group"] else ""
    return f"{head} <- {entry['producer']} (rule: {RULE_NAMES[entry['rule']]}{via}; defined at {entry['location']})"


def render_explanation(facts: dict[str, Any]) -> str:
    kind = "async function" if facts["is_async"] else "function"
    returns = f" -> {facts['returns']}" if facts["returns"] else ""
    lines = [f"operation {facts['operation']}",
             f"  defined at {facts['location']}: {kind} {facts['module']}.{facts['function']}{returns}"
             + (f" (a pipeline step using `{facts['uses']}`)" if facts.get("uses") else ""),
             "options:"]
    lines += [f"  {key} = {value!r}" for key, value in facts["options"].items()]
    lines.append("inputs:" if facts["inputs"] else "inputs: none")
    lines += [_input_line(entry) for entry in facts["inputs"]]
    condition = facts["condition"]
    if condition is not None:
        truth = "falsy (`not`)" if condition["negated"] else "truthy"
        lines.append(f"runs when: {condition['operation']} returns something {truth}, at {condition['location']}")
    lines.append("runs after (depends_on):" if facts["after"] else "runs after (depends_on): nothing")
    lines += [f"  {a['operation']}" + (f" (via group `{a['via_group']}`)" if a["via_group"] else "")
              + f" at {a['location']}" for a in facts["after"]]
    lines.append("downstream:" if facts["downstream"] else "downstream: nothing")
    lines += [f"  {d['operation']} as `{d['parameter']}` (rule: {RULE_NAMES[d['rule']]})" if d["parameter"]
              else f"  {d['operation']} (its condition, `when`)" if d["rule"] == "when"
              else f"  {d['operation']} (ordering only, `depends_on`)" for d in facts["downstream"]]
    lines.append("flows: " + ", ".join(facts["flows"]))
    return "\n".join(lines) + "\n"


def explain_json(facts: dict[str, Any]) -> str:
    return json.dumps({"schema": 1, **facts}, indent=2, ensure_ascii=False) + "\n"


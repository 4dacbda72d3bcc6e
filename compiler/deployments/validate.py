"""The deployments pass: each `[tool.orchc.deployments.NAME]` checked against the linked
flows, giving the `Deployment`s the lock records and a diagnostic, at its
`pyproject.toml` line, for each problem (OC501–OC507).
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterable, Sequence
from typing import Any

from compiler.config import TASK_RUNNERS, DeploymentDecl
from compiler.deployments.schedules import read_schedule
from compiler.deployments.values import fits, toml_kind
from compiler.diagnostics import Diagnostic, did_you_mean
from compiler.model import Deployment, Flow

#: the work pool a deployment runs on when it names none (`python -m runtime deploy` creates it)
DEFAULT_WORK_POOL = "orchc"
#: the queue of a work pool Prefect creates with it
DEFAULT_WORK_QUEUE = "default"
KEYS = ("flow", "parameters", "schedule", "work_pool", "work_queue", "tags", "description",
        "concurrency_limit", "paused", "task_runner")
_EXAMPLE = '`[tool.orchc.deployments.nightly]` with `flow = "etl"`'


def check_deployments(decls: Sequence[DeploymentDecl], flows: Iterable[Flow]) -> tuple[tuple[Deployment, ...], tuple[Diagnostic, ...]]:
    """The valid deployments, sorted by name, and every problem of the others."""
    by_name = {flow.name: flow for flow in flows}
    deployments: list[Deployment] = []
    diagnostics: list[Diagnostic] = []
    for decl in decls:
        deployment, problems = _check(decl, by_name)
        diagnostics += problems
        if deployment is not None:
            deployments.append(deployment)
    return tuple(deployments), tuple(diagnostics)


def _check(decl: DeploymentDecl, flows: dict[str, Flow]) -> tuple[Deployment | None, list[Diagnostic]]:
    where = f"deployment `{decl.name}`"
    table = decl.table
    if not isinstance(table, dict):
        return None, [Diagnostic("OC502", f"{where} must be a table, got {table!r}", decl.span(),
                                 f"declare it as {_EXAMPLE}")]
    problems = _name_problems(decl)
    for key in sorted(table):
        if key not in KEYS:
            problems.append(Diagnostic("OC501", f"{where} has unknown key `{key}`", decl.span(key),
                                       did_you_mean(key, KEYS) or "known keys: " + ", ".join(f"`{k}`" for k in KEYS)))
    settings, setting_problems = _settings(decl)
    problems += setting_problems
    flow = _flow(decl, flows, problems)
    parameters = _parameters(decl, flow, problems) if flow is not None else None
    schedule, schedule_problems = read_schedule(table["schedule"]) if "schedule" in table else (None, [])
    problems += [Diagnostic("OC507", f"{where}: {message}", decl.span("schedule", *([key] if key else [])), hint)
                 for key, message, hint in schedule_problems]
    if problems or flow is None or parameters is None:
        return None, problems
    return Deployment(name=decl.name, flow=flow.name, parameters=parameters, schedule=schedule, **settings), []


def _name_problems(decl: DeploymentDecl) -> list[Diagnostic]:
    name = decl.name
    if _text(name) and name == name.strip() and "/" not in name:
        return []
    return [Diagnostic("OC502", f"deployment name {name!r} is not usable: Prefect names a deployment "
                       "`FLOW/NAME`, so it must be non-empty, without `/`, control characters or outer spaces",
                       decl.span(), 'rename the table, such as `[tool.orchc.deployments.nightly-kg]`')]


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip()) and all(ord(c) >= 32 and c != "\x7f" for c in value)


#: key -> (is the value valid, what it must be, its default)
_SETTINGS: dict[str, tuple[Any, str, Any]] = {
    "work_pool": (_text, 'a work pool name such as "default-pool"', DEFAULT_WORK_POOL),
    "work_queue": (_text, 'a work queue name such as "default"', DEFAULT_WORK_QUEUE),
    "tags": (lambda v: isinstance(v, list) and all(_text(t) for t in v), 'a list of tags such as ["nightly"]', ()),
    "description": (lambda v: isinstance(v, str), "a string", None),
    "concurrency_limit": (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1,
                          "a whole number of runs at once, 1 or more", None),
    "paused": (lambda v: isinstance(v, bool), "`true` or `false`", False),
    "task_runner": (lambda v: v in TASK_RUNNERS, "one of " + ", ".join(f"`{r}`" for r in TASK_RUNNERS), None),
}


def _settings(decl: DeploymentDecl) -> tuple[dict[str, Any], list[Diagnostic]]:
    """The plain settings, defaults filled in, and a diagnostic for each invalid one."""
    values: dict[str, Any] = {}
    problems = []
    for key, (valid, expected, default) in _SETTINGS.items():
        value = decl.table.get(key, default)
        if key in decl.table and not valid(value):
            problems.append(Diagnostic("OC502", f"deployment `{decl.name}`: `{key}` must be {expected}, got {value!r}",
                                       decl.span(key), f"set `{key}` to {expected}, or remove it"))
        values[key] = tuple(sorted(set(value))) if key == "tags" and isinstance(value, list) else value
    return values, problems


def _flow(decl: DeploymentDecl, flows: dict[str, Flow], problems: list[Diagnostic]) -> Flow | None:
    where = f"deployment `{decl.name}`"
    name = decl.table.get("flow")
    if name is None:
        problems.append(Diagnostic("OC503", f"{where} names no `flow`", decl.span(),
                                   "add `flow = \"NAME\"`: one of " + _names(flows)))
        return None
    if not isinstance(name, str) or name not in flows:
        hint = (did_you_mean(name, flows) if isinstance(name, str) else "") or "the flows are " + _names(flows)
        problems.append(Diagnostic("OC503", f"{where}: `flow` {name!r} is not a flow of this project",
                                   decl.span("flow"), hint))
        return None
    return flows[name]


def _names(flows: dict[str, Flow]) -> str:
    return ", ".join(f"`{name}`" for name in sorted(flows)) or "(none: add operations first)"


def _parameters(decl: DeploymentDecl, flow: Flow, problems: list[Diagnostic]) -> str | None:
    """The parameter values as canonical JSON; None (and diagnostics) when any is wrong."""
    where = f"deployment `{decl.name}`"
    values = decl.table.get("parameters", {})
    if not isinstance(values, dict):
        problems.append(Diagnostic("OC502", f"{where}: `parameters` must be a table, got {values!r}",
                                   decl.span("parameters"), 'write it as `parameters = { source = "data/" }`'))
        return None
    params = {param.name: param for param in flow.params}
    count = len(problems)
    for name, value in values.items():
        param = params.get(name)
        span = decl.span("parameters", name)
        if param is None:
            hint = did_you_mean(name, params) or (f"flow `{flow.name}` takes " + ", ".join(f"`{p}`" for p in params)
                                                  if params else f"flow `{flow.name}` takes no parameters")
            problems.append(Diagnostic("OC504", f"{where}: flow `{flow.name}` has no parameter `{name}`", span, hint))
        elif param.annotation is not None and fits(value, param.annotation.resolved) is False:
            problems.append(Diagnostic(
                "OC505", f"{where}: parameter `{name}` is `{param.annotation.text}`, got {toml_kind(value)} ({value!r})",
                span, f"give `{name}` a value of type `{param.annotation.text}`"))
    missing = [param.name for param in flow.params if param.required and param.name not in values]
    if missing:
        names = ", ".join(f"`{name}`" for name in missing)
        problems.append(Diagnostic("OC506", f"{where}: flow `{flow.name}` requires {names}, which the deployment does not set",
                                   decl.span("parameters"), f"set {names} in `parameters`"))
    if len(problems) > count:
        return None
    try:
        return json.dumps(values, sort_keys=True, ensure_ascii=False, allow_nan=False, default=_iso)
    except ValueError:
        problems.append(Diagnostic("OC505", f"{where}: a parameter value is not a finite number (nan or inf)",
                                   decl.span("parameters"), "Prefect passes parameters as JSON: use a finite number"))
        return None


def _iso(value: Any) -> str:
    """TOML dates and times as ISO text, which pydantic reads back into them."""
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not a TOML value")

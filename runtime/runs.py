"""Runs of deployments on a Prefect server: `submit` queues one without waiting, `status`
reads a run's state and each operation's state, attempts and duration (waiting for a
final state when asked), as the run's summary shows them: from its task runs, and from
the summary artifact for an operation that has none (a map over an empty list)."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from compiler import naming
from runtime.deployments import api_errors, full_name, require_api, selected
from runtime.errors import RuntimeUsageError
from runtime.params import parse_params
from runtime.prefect_branches import skip_reason
from runtime.prefect_flows import task_run_figures
from runtime.registry import Registry

#: how often `status --wait` asks the server
POLL_SECONDS = 1.0


def submit(registry: Registry, name: str, assignments: Sequence[str], params_file: Path | None = None) -> dict[str, Any]:
    """Queue a run of deployment `name` (its parameters, overridden by `assignments`);
    returns the run as `{id, name, deployment, flow, state, parameters}`."""
    from pydantic_core import to_jsonable_python

    require_api()
    deployment = selected(registry, [name])[0]
    flow = registry.flow(deployment.flow)
    preset = json.loads(deployment.parameters)
    values = parse_params(registry, flow, list(assignments), params_file, preset=preset)
    with api_errors():
        return asyncio.run(_submit(full_name(deployment), to_jsonable_python(values)))


async def _submit(name: str, parameters: dict[str, Any]) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    async with get_client() as client:
        try:
            deployment = await client.read_deployment_by_name(name)
        except ObjectNotFound:
            raise RuntimeUsageError(f"deployment `{name}` is not on the server",
                                    f"register it with `python -m runtime deploy {name.split('/', 1)[1]}`") from None
        run = await client.create_flow_run_from_deployment(deployment.id, parameters=parameters)
    return {"id": str(run.id), "name": run.name, "deployment": name, "flow": name.split("/", 1)[0],
            "state": run.state.name if run.state else "Scheduled", "parameters": run.parameters}


def status(run_id: str, wait: bool, timeout: float | None = None, registry: Registry | None = None) -> dict[str, Any]:
    """The run `run_id`: its state and each operation's; with `wait`, once it is final
    (or `timeout` seconds passed). `registry` (when found) lists operations that never started."""
    require_api()
    try:
        run_uuid = uuid.UUID(run_id)
    except ValueError:
        raise RuntimeUsageError(f"`{run_id}` is not a flow-run id", "give the id `submit` printed") from None
    with api_errors():
        return asyncio.run(_status(run_uuid, wait, timeout, registry))


async def _status(run_id: uuid.UUID, wait: bool, timeout: float | None, registry: Registry | None) -> dict[str, Any]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.exceptions import ObjectNotFound

    deadline = None if timeout is None else time.monotonic() + timeout
    async with get_client() as client:
        try:
            run = await client.read_flow_run(run_id)
        except ObjectNotFound:
            raise RuntimeUsageError(f"no flow run `{run_id}` on the server", "give the id `submit` printed") from None
        while wait and not (run.state and run.state.is_final()) and (deadline is None or time.monotonic() < deadline):
            await asyncio.sleep(POLL_SECONDS)
            run = await client.read_flow_run(run_id)
        flow = await client.read_flow(run.flow_id)
        deployment = await client.read_deployment(run.deployment_id) if run.deployment_id else None
        task_runs = await client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id])))
        summary = await _summary_rows(client, run_id, flow.name)
    state = run.state
    return {
        "id": str(run.id),
        "name": run.name,
        "flow": flow.name,
        "deployment": f"{flow.name}/{deployment.name}" if deployment else None,
        "state": state.name if state else "Unknown",
        "final": bool(state and state.is_final()),
        "message": state.message if state and state.message else None,
        "operations": _operations(task_runs, _flow_operations(registry, flow.name), summary),
    }


async def _summary_rows(client: Any, run_id: uuid.UUID, flow_name: str) -> dict[str, dict[str, Any]]:
    """The rows of the run's summary artifact by operation (`runtime.prefect_flows`
    publishes it as the run ends), {} before then. Rows of another shape are left out:
    the server holds what anyone wrote."""
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId, ArtifactFilterKey

    found = await client.read_artifacts(artifact_filter=ArtifactFilter(
        flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]), key=ArtifactFilterKey(any_=[naming.artifact_key(flow_name)])))
    data = found[0].data if found else None
    try:
        rows = json.loads(data) if isinstance(data, str) else data
    except ValueError:
        return {}
    if not isinstance(rows, list):
        return {}
    return {row["operation"]: row for row in rows if isinstance(row, dict) and isinstance(row.get("operation"), str)}


def _flow_operations(registry: Registry | None, flow_name: str) -> list[str]:
    flow = registry.lock.flow(flow_name) if registry is not None else None
    return list(registry.lock.members(flow)) if flow is not None else []


def _operation_of(task_name: str, operations: Sequence[str]) -> str:
    """The operation a task run is of: orchc names its runs `OPERATION`, and `OPERATION[i]`
    for the elements of a mapped one, which keep their own rows (runs made before it did
    are `OPERATION-KEY`, Prefect's default)."""
    for name in sorted(operations, key=len, reverse=True):
        if task_name == name or task_name.startswith(name + "-"):
            return name
        if task_name.startswith(name + "["):
            return task_name
    return task_name.rsplit("-", 1)[0]


def _operations(task_runs: Sequence[Any], operations: Sequence[str],
                summary: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per operation, in the flow's order (the lock's, else the summary's): its
    task run's, or each element's of a mapped one; for one without a task run (an empty
    map has none) the run summary's row, as `--summary` shows it, else NotStarted."""
    names = list(dict.fromkeys([*operations, *summary]))
    rows: dict[str, dict[str, Any]] = {}
    for task_run in sorted(task_runs, key=lambda t: (t.name, str(t.id))):
        name = _operation_of(task_run.name, names)
        rows[name] = _task_run_row(name, task_run)
    ran = {naming.element_operation(name) for name in rows}
    for name in names:
        if name not in ran:
            rows[name] = _summarised(summary[name]) if name in summary else {
                "operation": name, "state": "NotStarted", "attempts": 0, "duration_s": None, "reason": None}
    order = {name: index for index, name in enumerate(names)}
    return sorted(rows.values(), key=lambda row: (order.get(naming.element_operation(row["operation"]), len(order)),
                                                  _element_index(row["operation"]), row["operation"]))


def _task_run_row(name: str, task_run: Any) -> dict[str, Any]:
    """A task run's row; a skip's, as the summary shows it: no attempt, no duration (its
    task run only records the skip), the reason without the UI's `skipped: `."""
    state = task_run.state
    if state is not None and state.name == "Skipped":
        return {"operation": name, "state": "Skipped", "attempts": 0, "duration_s": None,
                "reason": skip_reason(state.message)}
    attempts, duration = task_run_figures(task_run)
    return {"operation": name, "state": state.name if state else "Unknown", "attempts": attempts,
            "duration_s": duration, "reason": None}


def _summarised(row: dict[str, Any]) -> dict[str, Any]:
    """A summary artifact's row in status's shape; a field of the wrong type shows as unknown."""
    state, attempts, duration, reason = (row.get(key) for key in ("state", "attempts", "duration_s", "reason"))
    return {"operation": row["operation"], "state": state if isinstance(state, str) else "Unknown",
            "attempts": attempts if isinstance(attempts, int) else 0,
            "duration_s": duration if isinstance(duration, (int, float)) else None,
            "reason": reason if isinstance(reason, str) else None}


def _element_index(name: str) -> int:
    index = name.partition("[")[2].rstrip("]")
    return int(index) if index.isdigit() else -1


def render_status(data: dict[str, Any]) -> str:
    """The status as text: the run, then one line per operation."""
    where = f" of `{data['deployment']}`" if data["deployment"] else f" of flow `{data['flow']}`"
    lines = [f"run {data['id']} ({data['name']}){where}: {data['state']}"]
    if data["message"] and data["state"] != "Completed":
        lines.append(f"  {data['message']}")
    width = max((len(row["operation"]) for row in data["operations"]), default=0)
    for row in data["operations"]:
        duration = f"{row['duration_s']:.3f} s" if row["duration_s"] is not None else "-"
        reason = f"  ({row['reason']})" if row.get("reason") else ""
        lines.append(f"  {row['operation']:<{width}}  {row['state']:<10}  attempts {row['attempts']}  {duration}{reason}")
    return "\n".join(lines)

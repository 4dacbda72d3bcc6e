"""Declared deployments on a Prefect server: `deploy` (register them on work pools,
idempotently) and `serve` (run them from this process on their schedules).

The lock's `[[deployments]]` are the reviewed declarations; nothing is deployed from a
project whose `orchc check` fails. A deployment's entrypoint is its generated flow as a
module path (`orchestration.kg.kg`), and its one pull step moves the run into the project
folder (as `prefect deploy` does for local code), where the entrypoint imports and the
run finds the project's lock: any `prefect worker start --pool P` on a machine with the
project at that path runs it (`deploy --working-dir` names another path).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

from compiler.diagnostics import did_you_mean
from compiler.lock.lockfile import LockDeployment, LockSchedule
from runtime.errors import EnvironmentFailure, OrchcRuntimeError, RuntimeUsageError
from runtime.registry import PROJECT_ENV, Registry, set_current_registry
from runtime.task_runners import RUNNER_ENV
from runtime.trust import check_generated

#: how many lines of `orchc check`'s findings a refusal shows
_SHOWN_FINDINGS = 10
_SERVER_HINT = ("check PREFECT_API_URL: it must name a running Prefect server (`prefect server start` "
                "starts one); then retry")


def api_errors() -> Any:
    """Talking to the Prefect API: one that cannot be reached is an EnvironmentFailure
    with a hint, as when a flow runs, not a traceback."""
    from runtime.prefect_engine import api_errors as prefect_api_errors

    return prefect_api_errors(_SERVER_HINT)


class UnbuiltProjectError(OrchcRuntimeError):
    """The lock or generated modules do not match the project (`orchc check` fails)."""


def require_api() -> str:
    """The Prefect API URL these commands talk to; EnvironmentFailure when none is set."""
    from prefect.settings import PREFECT_API_URL

    url = PREFECT_API_URL.value()
    if not url:
        raise EnvironmentFailure(
            "PREFECT_API_URL is not set: deployments live on a Prefect server",
            "start one with `prefect server start` and run "
            "`prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api` (or export the variable)",
        )
    return url


def selected(registry: Registry, names: Sequence[str]) -> list[LockDeployment]:
    """The lock's deployments called `names` (all of them when none is given)."""
    declared = registry.lock.deployments or []
    if not declared:
        raise RuntimeUsageError(f"the lockfile `{registry.lock_path}` declares no deployments",
                                "declare one as `[tool.orchc.deployments.NAME]` in pyproject.toml and run `orchc build`")
    unknown = [name for name in names if registry.lock.deployment(name) is None]
    if unknown:
        known = [d.name for d in declared]
        raise RuntimeUsageError(f"unknown deployment `{unknown[0]}`",
                                did_you_mean(unknown[0], known) or "the deployments are " + ", ".join(f"`{n}`" for n in known))
    return [registry.lock.deployment(name) for name in dict.fromkeys(names)] if names else list(declared)


def refuse_unbuilt(registry: Registry) -> None:
    """Refuse a project `orchc check` finds stale: its lock (deployments included) or
    generated modules are not what `orchc build` writes from the source and pyproject."""
    from compiler.api import check
    from compiler.diagnostics import has_errors

    _, findings = check(registry.root)
    if has_errors(findings):
        errors = [d for d in findings if d.severity == "error"]
        lines = [f"  {d.span.path}:{d.span.line}: {d.code} {d.message}" for d in errors[:_SHOWN_FINDINGS]]
        if len(errors) > _SHOWN_FINDINGS:
            lines.append(f"  … and {len(errors) - _SHOWN_FINDINGS} more")
        raise UnbuiltProjectError("`orchc check` fails: the lock does not match the project\n" + "\n".join(lines),
                                  "run `orchc build`, review and commit the lock, then deploy again")


def flow_object(registry: Registry, flow_name: str) -> Any:
    """The generated Prefect flow of `flow_name`, its module checked against the lock first."""
    from runtime.prefect_engine import import_generated

    flow = registry.flow(flow_name)
    check_generated(registry.root, registry.lock, flow, registry.lock_path)
    return getattr(import_generated(registry, flow), flow.function)


def entrypoint(registry: Registry, flow_name: str) -> str:
    """The module path a worker started in the project folder imports the flow from."""
    flow = registry.flow(flow_name)
    return f"{registry.lock.project.package}.{flow.module}.{flow.function}"


def prefect_schedule(schedule: LockSchedule) -> Any:
    """Prefect's schedule object for a locked schedule."""
    import datetime

    from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule, RRuleSchedule

    if schedule.cron is not None:
        return CronSchedule(cron=schedule.cron, timezone=schedule.timezone)
    if schedule.rrule is not None:
        return RRuleSchedule(rrule=schedule.rrule, timezone=schedule.timezone)
    return IntervalSchedule(interval=datetime.timedelta(seconds=schedule.interval), timezone=schedule.timezone)


def description(deployment: LockDeployment) -> str:
    """What the UI shows of a deployment: its declared description, else its flow's name."""
    return deployment.description or f"orchc flow `{deployment.flow}`"


def full_name(deployment: LockDeployment) -> str:
    """How Prefect names a deployment: `FLOW/NAME`."""
    return f"{deployment.flow}/{deployment.name}"


# -- deploy ---------------------------------------------------------------------------


def deploy(registry: Registry, names: Sequence[str], working_dir: str | None = None) -> list[str]:
    """Register the deployments `names` (all when empty) on the server at PREFECT_API_URL,
    creating missing work pools (process type); one line per thing created, updated or
    found unchanged, then a count. Runs start in `working_dir` (default: the project
    folder). Refuses a project whose `orchc check` fails."""
    require_api()
    deployments = selected(registry, names)
    refuse_unbuilt(registry)
    set_current_registry(registry)
    flows = {d.flow: flow_object(registry, d.flow) for d in deployments}
    folder = working_dir or str(registry.root)
    with api_errors():
        return asyncio.run(_deploy(registry, deployments, flows, folder))


async def _deploy(registry: Registry, deployments: list[LockDeployment], flows: dict[str, Any], folder: str) -> list[str]:
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        report = [line for pool in sorted({d.work_pool for d in deployments})
                  if (line := await _ensure_pool(client, pool))]
        outcomes = [await _apply(client, registry, deployment, flows[deployment.flow], folder)
                    for deployment in deployments]
    report += [line for _, line in outcomes]
    counts = {verb: sum(1 for v, _ in outcomes if v == verb) for verb in ("created", "updated", "unchanged")}
    summary = ", ".join(f"{count} {verb}" for verb, count in counts.items() if count)
    report.append(f"{len(outcomes)} deployment(s): {summary}" + ("; nothing changed" if counts["unchanged"] == len(outcomes) else ""))
    return report


async def _ensure_pool(client: Any, name: str) -> str | None:
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    try:
        await client.read_work_pool(name)
        return None
    except ObjectNotFound:
        template = ProcessWorker.get_default_base_job_template()
        await client.create_work_pool(WorkPoolCreate(name=name, type="process", base_job_template=template))
        return f"created work pool `{name}` (process): start a worker with `prefect worker start --pool {name}` in the project folder"


def _desired(registry: Registry, deployment: LockDeployment, flow: Any, folder: str) -> dict[str, Any]:
    """The `create_deployment` arguments for `deployment`, `version` a digest of them all."""
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(flow).model_dump_for_openapi()
    schedule = deployment.schedule
    values = {
        "entrypoint": entrypoint(registry, deployment.flow),
        "pull_steps": [{"prefect.deployments.steps.set_working_directory": {"directory": folder}}],
        "parameters": json.loads(deployment.parameters),
        "parameter_openapi_schema": schema,
        "enforce_parameter_schema": False,  # the compiler checked the values; the flow validates its own
        "work_pool_name": deployment.work_pool,
        "work_queue_name": deployment.work_queue,
        "tags": list(deployment.tags),
        "description": description(deployment),
        "concurrency_limit": deployment.concurrency_limit,
        "paused": deployment.paused,
        "schedule": schedule.model_dump(exclude_none=True) if schedule else None,
        # the process worker passes these to the run's process (`runtime.task_runners`)
        "job_variables": {"env": {RUNNER_ENV: deployment.task_runner}} if deployment.task_runner else {},
    }
    digest = hashlib.sha256(json.dumps(values, sort_keys=True, default=str).encode()).hexdigest()[:16]
    values["version"] = f"orchc-{digest}"
    del values["schedule"]
    values["schedules"] = [DeploymentScheduleCreate(schedule=prefect_schedule(schedule), active=True)] if schedule else []
    return values


def _unchanged(existing: Any, desired: dict[str, Any]) -> bool:
    """The server's deployment is what `desired` would make it: the same version digest,
    and none of what the UI can change (pause, pool, queue, parameters, tags, schedules) changed."""
    return (existing.version == desired["version"]
            and existing.paused == desired["paused"]
            and existing.work_pool_name == desired["work_pool_name"]
            and existing.work_queue_name == desired["work_queue_name"]
            and existing.parameters == desired["parameters"]
            and sorted(existing.tags) == sorted(desired["tags"])
            and existing.description == desired["description"]
            and existing.entrypoint == desired["entrypoint"]
            and existing.pull_steps == desired["pull_steps"]
            and existing.job_variables == desired["job_variables"]
            and len(existing.schedules) == len(desired["schedules"])
            and all(schedule.active for schedule in existing.schedules))


async def _apply(client: Any, registry: Registry, deployment: LockDeployment, flow: Any, folder: str) -> tuple[str, str]:
    """Create or update `deployment` unless the server has it as declared: (verb, line)."""
    from prefect.exceptions import ObjectNotFound

    desired = _desired(registry, deployment, flow, folder)
    name = full_name(deployment)
    try:
        existing = await client.read_deployment_by_name(name)
    except ObjectNotFound:
        existing = None
    if existing is not None and _unchanged(existing, desired):
        return "unchanged", f"unchanged deployment `{name}` ({existing.id})"
    flow_id = await client.create_flow_from_name(deployment.flow)
    deployment_id = await client.create_deployment(flow_id=flow_id, name=deployment.name, **desired)
    verb = "updated" if existing is not None else "created"
    schedule = deployment.schedule.describe() if deployment.schedule else "no schedule (runs when submitted)"
    paused = " (paused)" if deployment.paused else ""
    return verb, f"{verb} deployment `{name}` ({deployment_id}) on work pool `{deployment.work_pool}`, {schedule}{paused}"


# -- serve ----------------------------------------------------------------------------


def serve(registry: Registry, names: Sequence[str]) -> list[str]:
    """Serve the deployments `names` (all when empty) from this process until Ctrl-C or
    SIGTERM, each on its schedule; runs go to subprocesses that load this project."""
    require_api()
    deployments = selected(registry, names)
    refuse_unbuilt(registry)
    set_current_registry(registry)
    _serve_runner(deployments)
    # the runs' processes import the generated package from the project folder (a module
    # path entrypoint) and find the project's lock there, whatever folder serve started in
    os.chdir(registry.root)
    os.environ[PROJECT_ENV] = str(registry.root)
    runners = [_runner_deployment(registry, deployment) for deployment in deployments]
    from prefect import serve as prefect_serve

    with api_errors():
        prefect_serve(*runners, print_starting_message=True)
    return [f"stopped serving {len(runners)} deployment(s)"]


def _serve_runner(deployments: list[LockDeployment]) -> None:
    """The task runner the served runs use (their processes read $ORCHC_TASK_RUNNER): one
    per serving process, so deployments that declare different ones are served apart."""
    runners = {deployment.task_runner for deployment in deployments}
    if len(runners) > 1:
        raise RuntimeUsageError("these deployments declare different task runners; one `serve` runs one",
                                "serve them in separate processes: `python -m runtime serve NAME...` per task runner")
    (runner,) = runners
    if runner:
        os.environ[RUNNER_ENV] = runner


def _runner_deployment(registry: Registry, deployment: LockDeployment) -> Any:
    from prefect.types.entrypoint import EntrypointType

    flow = flow_object(registry, deployment.flow)
    schedules = [prefect_schedule(deployment.schedule)] if deployment.schedule else None
    return flow.to_deployment(
        name=deployment.name, schedules=schedules, parameters=json.loads(deployment.parameters),
        tags=list(deployment.tags), description=description(deployment),
        concurrency_limit=deployment.concurrency_limit, paused=deployment.paused,
        enforce_parameter_schema=False, entrypoint_type=EntrypointType.MODULE_PATH,
    )

"""Ray for generated flows (the `ray` extra): Prefect's RayTaskRunner whose workers load
the project and report to the run's own Prefect API.

Ray starts its worker processes with the environment `runtime_env` gives: the project's
folders on PYTHONPATH (the generated module a task is pickled from imports) and
$ORCHC_PROJECT (the registry the task bodies load). Without an address, a local Ray
instance is started for the run, without its dashboard.
"""

from __future__ import annotations

import os
from typing import Any

from prefect_ray import RayTaskRunner

from runtime.task_runners import api_for_workers


class OrchcRayTaskRunner(RayTaskRunner):
    """RayTaskRunner whose workers load the project and use the flow run's Prefect API."""

    def __enter__(self) -> OrchcRayTaskRunner:
        self.init_kwargs.setdefault("runtime_env", {"env_vars": project_environment()})
        return super().__enter__()

    def submit(self, task: Any, parameters: dict[str, Any], wait_for: Any = None, dependencies: Any = None) -> Any:
        with api_for_workers():
            return super().submit(task, parameters, wait_for=wait_for, dependencies=dependencies)


def project_environment() -> dict[str, str]:
    """What a worker process needs to run this project's operations in place."""
    from runtime.prefect_support import IN_PLACE_ENV
    from runtime.registry import PROJECT_ENV, current_registry

    registry = current_registry()
    paths = [path for path in registry.project_paths() if path]
    existing = os.environ.get("PYTHONPATH")
    return {PROJECT_ENV: str(registry.root), IN_PLACE_ENV: "1",
            "PYTHONPATH": os.pathsep.join([*paths, *([existing] if existing else [])])}


def ray_task_runner(address: str | None) -> OrchcRayTaskRunner:
    """The runner for the Ray cluster at `address`, or for a local Ray instance."""
    if address:
        return OrchcRayTaskRunner(address=address)
    return OrchcRayTaskRunner(init_kwargs={"include_dashboard": False})

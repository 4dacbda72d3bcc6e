"""Dask for generated flows (the `dask` extra): Prefect's DaskTaskRunner whose workers load
the project before any task and report to the run's own Prefect API.

- Each worker gets `ProjectPlugin`: it loads the project's registry (which puts the
  project's folders on `sys.path`, so the generated module a task is pickled from imports)
  from the runner's project folder, or, when that folder is not on the worker's machine,
  from the worker's current folder. Workers started in the project folder, or on a
  machine where the project lies at the same path, need nothing else.
- Tasks get the API of the flow run (`runtime.task_runners.api_for_workers`), not a
  temporary server of each worker's own.
- Without an address, a local cluster of worker processes (Dask's defaults: one per
  core) listens on loopback for the run and stops with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from distributed.diagnostics.plugin import WorkerPlugin
from prefect_dask import DaskTaskRunner

from runtime.task_runners import api_for_workers


class ProjectPlugin(WorkerPlugin):
    """Load the orchc project on a Dask worker before it runs a task."""

    name = "orchc-project"

    def __init__(self, root: str) -> None:
        self.root = root

    def setup(self, worker: Any) -> None:
        load_project(self.root)


def load_project(root: str) -> None:
    """Make this process run operations of the project at `root` (or, when no project is
    there, of the one enclosing the current folder), in place."""
    from runtime import prefect_support
    from runtime.registry import PROJECT_ENV, Registry, set_current_registry

    folder = Path(root)
    registry = Registry.load(folder if folder.is_dir() else None)
    set_current_registry(registry)
    os.environ[PROJECT_ENV] = str(registry.root)
    prefect_support.run_operations_in_place()


class OrchcDaskTaskRunner(DaskTaskRunner):
    """DaskTaskRunner whose workers load the project and use the flow run's Prefect API."""

    def __enter__(self) -> OrchcDaskTaskRunner:
        super().__enter__()
        # Prefect enters the flow's runner again around each task a worker runs; only the
        # flow's own process sets the cluster up (a worker would connect a client per task)
        if not _in_dask_worker():
            from runtime.registry import current_registry

            self.client.register_plugin(ProjectPlugin(str(current_registry().root)))
        return self

    def attempts(self, task_run_ids: list[Any]) -> dict[Any, list[Any]]:
        """The attempt records (`runtime.prefect_support`) the workers made of these task runs."""
        records: dict[Any, list[Any]] = {}
        for found in self.client.run(_pop_attempts, task_run_ids).values():
            records.update(found)
        return records

    def submit(self, task: Any, parameters: dict[str, Any], wait_for: Any = None, dependencies: Any = None) -> Any:
        with api_for_workers():
            return super().submit(task, parameters, wait_for=wait_for, dependencies=dependencies)


def _pop_attempts(task_run_ids: list[Any]) -> dict[Any, list[Any]]:
    from runtime.prefect_support import pop_attempts

    return pop_attempts(task_run_ids)


def _in_dask_worker() -> bool:
    from distributed import get_worker

    try:
        get_worker()
    except ValueError:
        return False
    return True


def dask_task_runner(address: str | None) -> OrchcDaskTaskRunner:
    """The runner for a Dask scheduler at `address`, or for a local cluster of processes."""
    if address:
        return OrchcDaskTaskRunner(address=address)
    return OrchcDaskTaskRunner(cluster_kwargs={"processes": True, "host": "127.0.0.1", "dashboard_address": ":0"})

"""The Prefect task runner a generated flow runs its operations on: threads, Dask or Ray.

Generated code calls `task_runner(KIND, max_workers=N)` with the lock's runner; a run may
choose another (`python -m runtime FLOW --task-runner dask`, or a deployment's
`task_runner`) through $ORCHC_TASK_RUNNER. Dask and Ray come as extras; without theirs a
flow that needs one fails with one line naming it. Where the cluster is comes from
$ORCHC_DASK_ADDRESS / $ORCHC_RAY_ADDRESS; without one, a local cluster of worker
processes is started for the run.
"""

from __future__ import annotations

import os
from typing import Any

from runtime.errors import RuntimeUsageError

RUNNERS = ("thread", "dask", "ray")
RUNNER_ENV = "ORCHC_TASK_RUNNER"
DASK_ADDRESS_ENV = "ORCHC_DASK_ADDRESS"
RAY_ADDRESS_ENV = "ORCHC_RAY_ADDRESS"
#: the extra that brings each distributed runner's packages
EXTRAS = {"dask": ("prefect_dask", "distributed"), "ray": ("prefect_ray", "ray")}


class MissingExtraError(RuntimeUsageError):
    """A flow needs a task runner whose packages are not installed."""

    def __init__(self, runner: str, missing: str) -> None:
        super().__init__(f"the `{runner}` task runner needs the `{runner}` extra (`{missing}` is not installed)",
                         f"pip install 'orchc[{runner}]'")


def chosen_runner(kind: str) -> str:
    """The runner a run uses: $ORCHC_TASK_RUNNER when set, else the lock's `kind`."""
    chosen = os.environ.get(RUNNER_ENV) or kind
    if chosen not in RUNNERS:
        raise RuntimeUsageError(f"${RUNNER_ENV} is {chosen!r}, not a task runner",
                                "use one of " + ", ".join(f"`{r}`" for r in RUNNERS))
    return chosen


def require_extra(runner: str) -> None:
    """Raise MissingExtraError unless `runner`'s packages import."""
    import importlib

    for module in EXTRAS.get(runner, ()):
        try:
            importlib.import_module(module)
        except ImportError:
            raise MissingExtraError(runner, module) from None


def task_runner(kind: str, *, max_workers: int) -> Any:
    """The task runner of a generated flow whose lock says `kind` (thread: `max_workers`
    threads, the flow's operation count)."""
    runner = chosen_runner(kind)
    if runner == "thread":
        from prefect.task_runners import ThreadPoolTaskRunner

        return ThreadPoolTaskRunner(max_workers=max_workers)
    require_extra(runner)
    if runner == "dask":
        from runtime.dask_support import dask_task_runner

        return dask_task_runner(os.environ.get(DASK_ADDRESS_ENV) or None)
    from runtime.ray_support import ray_task_runner

    return ray_task_runner(os.environ.get(RAY_ADDRESS_ENV) or None)

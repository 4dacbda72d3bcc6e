"""The Prefect task runner a generated flow runs its operations on: threads, Dask or Ray.

Generated code calls `task_runner(KIND, max_workers=N)` with the lock's runner; a run may
choose another (`python -m runtime FLOW --task-runner dask`, or a deployment's
`task_runner`) through $ORCHC_TASK_RUNNER. Dask and Ray come as extras; without theirs a
flow that needs one fails with one line naming it. Where the cluster is comes from
$ORCHC_DASK_ADDRESS / $ORCHC_RAY_ADDRESS; without one, a local cluster of worker
processes is started for the run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
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


# -- the API the workers report to ---------------------------------------------------------


@contextlib.contextmanager
def api_for_workers() -> Iterator[None]:
    """Around a distributed runner's `submit`: settings naming the flow run's API, for the
    context Prefect serialises with the task. Prefect hands a task its caller's settings,
    and under Prefect's temporary server those name no API: every worker would start a
    server of its own (half a minute each) and report there. With PREFECT_API_URL set,
    or outside a flow run, nothing changes."""
    from prefect.context import FlowRunContext, SettingsContext, get_settings_context
    from prefect.settings import PREFECT_API_URL

    context = FlowRunContext.get()  # exists at submit time, not yet when the runner is entered
    if PREFECT_API_URL.value() or context is None or context.client is None:
        yield
        return
    current = get_settings_context()
    with SettingsContext(profile=current.profile, settings=_with_api(current.settings, str(context.client.api_url))):
        yield


#: the last settings `_with_api` copied, the URL, and the copy
_last_copy: tuple[Any, str, Any] | None = None


def _with_api(settings: Any, url: str) -> Any:
    """`settings` naming `url` as the API, copied once for all the tasks of a run (a copy
    costs milliseconds)."""
    global _last_copy
    from prefect.settings import PREFECT_API_URL

    if _last_copy is None or _last_copy[0] is not settings or _last_copy[1] != url:
        _last_copy = (settings, url, settings.copy_with_update(updates={PREFECT_API_URL: url}))
    return _last_copy[2]

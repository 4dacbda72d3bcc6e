"""What generated Prefect modules call: task bodies, flow endings, cache policies.

Generated code stays declarative: a task is a stub decorated with `task_body(op_name)`,
which calls the user function through the registry; a flow body only submits tasks and
returns their futures, and `flow_body(...)` waits for them, publishes the run summary
artifact and raises `FlowFailed` when an operation failed. The decorators run at import
time in module scope, so user parameter names can never shadow the names they use.

Importing this module does not import Prefect: only the functions that need it do.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import functools
import inspect
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from compiler.pools import process_pool
from runtime.errors import FlowFailed, describe_exception


class _Unset:
    """The type of `UNSET`: a flow parameter whose default is the operation's own."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "UNSET"

    def __reduce__(self) -> str:
        return "UNSET"  # pickles as a reference: identity survives a process boundary

    def __bool__(self) -> bool:
        return False


#: the default of a flow parameter whose operation default is not a literal: the
#: argument is then left out of the call so the function's own default applies
UNSET = _Unset()


def _present(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in kwargs.items() if value is not UNSET}


# -- task bodies ------------------------------------------------------------------------


#: task run id -> [attempts seen, start of the first attempt, end of the latest attempt]
_attempts: dict[Any, list[Any]] = {}
_attempts_lock = threading.Lock()


def _record_start() -> Any:
    from prefect.context import TaskRunContext

    context = TaskRunContext.get()
    if context is None:  # called outside a task run (e.g. directly in a test)
        return None
    run = context.task_run
    with _attempts_lock:
        record = _attempts.setdefault(run.id, [0, time.monotonic(), None])
        record[0] = max(record[0] + 1, run.run_count)
    return run.id


def pop_attempts(run_ids: Iterable[Any]) -> dict[Any, list[Any]]:
    """The records of these task runs made in this process, removed: a distributed
    runner's worker gives them back this way (`runtime.dask_support`)."""
    with _attempts_lock:
        return {run_id: _attempts.pop(run_id) for run_id in run_ids if run_id in _attempts}


def _record_end(run_id: Any) -> None:
    if run_id is not None:
        with _attempts_lock:
            _attempts[run_id][2] = time.monotonic()


def task_body(op_name: str, *, executor: str = "thread") -> Callable[[Callable], Callable]:
    """Make a generated stub call operation `op_name` through the current registry.

    The stub's signature (kept through `functools.wraps`) is what Prefect binds and shows;
    an `async def` stub gives an async body; `executor="process"` runs the function in a
    process pool.
    """

    def decorate(stub: Callable) -> Callable:
        if inspect.iscoroutinefunction(stub):

            @functools.wraps(stub)
            async def run_async(**kwargs: Any) -> Any:
                run_id = _record_start()
                try:
                    return await _function(op_name)(**_present(kwargs))
                finally:
                    _record_end(run_id)

            return run_async
        call = _call_in_process if executor == "process" else _call_here

        @functools.wraps(stub)
        def run(**kwargs: Any) -> Any:
            run_id = _record_start()
            try:
                return call(op_name, _present(kwargs))
            finally:
                _record_end(run_id)

        return run

    return decorate


#: set ("1") in a distributed runner's worker processes: `executor="process"` runs in the
#: worker itself (a process pool inside a worker process would only add a copy)
IN_PLACE_ENV = "ORCHC_OPERATIONS_IN_PLACE"


def run_operations_in_place() -> None:
    """This process is a worker of a distributed task runner: it runs every operation itself."""
    os.environ[IN_PLACE_ENV] = "1"


def _function(op_name: str) -> Callable:
    from runtime.registry import current_registry

    return current_registry().function(op_name)


def _call_here(op_name: str, kwargs: dict[str, Any]) -> Any:
    return _function(op_name)(**kwargs)


# One pool per project: spawned children copy the parent's sys.path when they start and
# load that project's registry once, so a pool must not outlive the registry it serves.
_pool: concurrent.futures.ProcessPoolExecutor | None = None
_pool_key: tuple | None = None
_pool_lock = threading.Lock()


def _process_pool(state: tuple) -> concurrent.futures.ProcessPoolExecutor:
    global _pool, _pool_key
    # (root, lock path, lock): tuples compare items by identity first, so the usual call
    # with the same registry costs nothing, and an equal lock reloaded still reuses the pool
    key = (state[0], state[3], state[1])
    with _pool_lock:
        if _pool is None or _pool_key != key or getattr(_pool, "_broken", False):
            if _pool is not None:
                _pool.shutdown(wait=False, cancel_futures=True)
            _pool = process_pool(os.cpu_count() or 2, initializer=_init_child, initargs=(state,))  # spawned
            _pool_key = key
            atexit.register(_pool.shutdown)  # before interpreter teardown, not during it
        return _pool


def _call_in_process(op_name: str, kwargs: dict[str, Any]) -> Any:
    from runtime.registry import current_registry

    if os.environ.get(IN_PLACE_ENV) == "1":
        return _call_here(op_name, kwargs)
    registry = current_registry()
    state = (registry.root, registry.lock, registry.config, registry.lock_path)
    return _process_pool(state).submit(_call_here, op_name, kwargs).result()


def _init_child(state: tuple) -> None:
    """Pool initializer: load the parent's registry (and its sys.path) before any task."""
    from runtime.registry import Registry, set_current_registry

    set_current_registry(Registry(*state))


# -- cache ------------------------------------------------------------------------------


def _source_key(op_name: str, source_hash: str, _context: Any, _inputs: Any) -> str:
    return f"{op_name}:{source_hash}"


def cache_policy(op_name: str, source_hash: str) -> Any:
    """Prefect's cache policy for a cached operation: its inputs plus its locked source hash.

    The operation's name is part of the key so two operations with equal inputs never
    share a cached result; a changed source (a new `source_hash`) misses the cache.
    """
    from prefect.cache_policies import INPUTS, CacheKeyFnPolicy

    return INPUTS + CacheKeyFnPolicy(cache_key_fn=functools.partial(_source_key, op_name, source_hash))


# -- flow endings -----------------------------------------------------------------------


def flow_body(flow_name: str, *, sinks: Iterable[str], artifact_key: str) -> Callable[[Callable], Callable]:
    """Finish a generated flow whose body returns `{operation: future}`.

    Waits for every future (independent branches finish even when one fails), publishes
    the run summary artifact under `artifact_key`, raises `FlowFailed` naming the failed
    operations, else returns the single sink's result or `{sink: result}`.
    """
    sinks = tuple(sinks)
    # Prefect's parameter schema cannot encode UNSET and says so on every run; the
    # default is left out of the schema, which is right: the operation owns it.
    warnings.filterwarnings("ignore", message="Default value UNSET is not JSON serializable")

    def decorate(body: Callable) -> Callable:
        @functools.wraps(body)
        async def run(*args: Any, **kwargs: Any) -> Any:
            _verify_deployed(flow_name)
            futures = await body(*args, **kwargs)
            return await _finish(flow_name, futures, sinks, artifact_key)

        return run

    return decorate


def _verify_deployed(flow_name: str) -> None:
    """A run that did not come through `python -m runtime` (a deployment's, started by a
    worker or `serve`) refuses to start when the project no longer matches its lock."""
    from runtime.registry import current_registry

    registry = current_registry()
    if registry.implicit:
        registry.verify_flow(flow_name)


async def _finish(flow_name: str, futures: Mapping[str, Any], sinks: tuple[str, ...], artifact_key: str) -> Any:
    await _wait_all(list(futures.values()))
    for future in futures.values():
        future.wait()  # done already: this only records the final state on the future
    await _collect_remote_attempts(futures)
    rows = [_summary_row(name, future) for name, future in futures.items()]
    await _fill_from_api(rows, futures)
    await _publish(flow_name, rows, artifact_key)
    failures = {
        name: describe_exception(future.result(raise_on_failure=False))
        for name, future in futures.items() if future.state.is_failed() or future.state.is_crashed()
    }
    if failures:
        skipped = [name for name, future in futures.items() if not future.state.is_final()]
        raise FlowFailed(flow_name, failures, skipped)
    results = {name: futures[name].result() for name in sinks}
    return results[sinks[0]] if len(sinks) == 1 else results


def _local(future: Any) -> bool:
    """Whether `future` is the thread runner's (its task ran in this process)."""
    return isinstance(future.wrapped_future, concurrent.futures.Future)


async def _wait_all(futures: list[Any]) -> None:
    """Until every future is done: thread-pool futures on the event loop, any other
    runner's (Dask, Ray) in one thread that waits for them all."""
    if all(_local(f) for f in futures):
        await asyncio.gather(*(asyncio.wrap_future(f.wrapped_future) for f in futures))
        return
    from prefect.futures import wait

    await asyncio.to_thread(wait, futures)


async def _collect_remote_attempts(futures: Mapping[str, Any]) -> None:
    """Bring the attempt records of operations run by the task runner's workers into this
    process, when the runner can (`attempts` of `runtime.dask_support`'s runner)."""
    remote = [future.task_run_id for future in futures.values() if not _local(future)]
    if not remote:  # the thread runner's: recorded here already
        return
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    collect = getattr(context.task_runner, "attempts", None) if context is not None else None
    if collect is None:
        return
    records = await asyncio.to_thread(collect, remote)
    with _attempts_lock:
        _attempts.update(records)


#: how long the summary waits for the server to record the task runs of other processes
_RECORDED_WAIT_SECONDS = 5.0


async def _fill_from_api(rows: list[dict[str, Any]], futures: Mapping[str, Any]) -> None:
    """Attempts and durations of the operations that ran in other processes and whose
    records did not come back (a Ray worker's), read from their task runs once the server
    has recorded their final states (it does so from events, a moment after they finish)."""
    missing = {futures[row["operation"]].task_run_id: row for row in rows
               if row["attempts"] == 0 and row["state"] != "Skipped" and not _local(futures[row["operation"]])}
    if not missing:
        return
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterId

    only_these = TaskRunFilter(id=TaskRunFilterId(any_=list(missing)))
    deadline = time.monotonic() + _RECORDED_WAIT_SECONDS
    async with get_client() as client:
        while True:
            task_runs = await client.read_task_runs(task_run_filter=only_these)
            recorded = [t for t in task_runs if t.state is not None and t.state.is_final()]
            if len(recorded) == len(missing) or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.1)
    for task_run in recorded:
        row = missing[task_run.id]
        row["attempts"], row["duration_s"] = task_run_figures(task_run)
        row["retries"] = max(row["attempts"] - 1, 0)


def task_run_figures(task_run: Any) -> tuple[int, float | None]:
    """A Prefect task run's attempts and seconds of run time, as the run summary shows them."""
    total = task_run.total_run_time
    return task_run.run_count, round(total.total_seconds(), 3) if total is not None else None


def _summary_row(name: str, future: Any) -> dict[str, Any]:
    state = future.state
    with _attempts_lock:
        attempts, start, end = _attempts.pop(future.task_run_id, (0, None, None))
    skipped = not state.is_final()
    duration = round(end - start, 3) if start is not None and end is not None else None
    return {
        "operation": name,
        "state": "Skipped" if skipped else state.name,
        "attempts": attempts,
        "retries": max(attempts - 1, 0),
        "duration_s": duration,
    }


async def _publish(flow_name: str, rows: list[dict[str, Any]], key: str) -> None:
    from prefect.artifacts import acreate_table_artifact
    from prefect.logging import get_run_logger

    try:
        await acreate_table_artifact(table=rows, key=key, description=f"orchc run summary of flow `{flow_name}`")
    except Exception as error:  # a summary must never fail the run it describes
        get_run_logger().warning("could not publish the run summary artifact: %s", describe_exception(error))

"""What generated Prefect modules call: task bodies, flow endings, cache policies.

Generated code stays declarative: a task is a stub decorated with `task_body(op_name)`,
which calls the user function through the registry, with the attempts it makes recorded
for the run summary; a flow body hands its parameters to `runtime.prefect_flows`. The
decorators run at import time in module scope, so user parameter names can never shadow
the names they use.

Importing this module does not import Prefect: only the functions that need it do.
"""

from __future__ import annotations

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
# Prefect's parameter schema cannot encode UNSET and says so for every flow defaulting to
# it, when the flow is defined (generated code reads `runtime.UNSET`, which imports this
# module, first); the default is left out of the schema, which is right: the operation owns it.
warnings.filterwarnings("ignore", message="Default value UNSET is not JSON serializable")


def _present(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in kwargs.items() if value is not UNSET}


# -- tasks ------------------------------------------------------------------------------


def task(**options: Any) -> Callable[[Callable], DeferredTask]:
    """`prefect.task(**options)` (`cache_expiration_seconds=N` standing for Prefect's
    `cache_expiration=timedelta(seconds=N)`), made when the task is first used: Prefect's `Task()`
    costs about 0.65 ms (it reads the function's source and pickles its code to hash it),
    so a generated package of 2,000 operations would spend 1.3 s making tasks at import
    time, most of them for flows that never run in that process."""

    def decorate(fn: Callable) -> DeferredTask:
        return DeferredTask(fn, options)

    return decorate


class DeferredTask:
    """A Prefect task made on first use; every attribute is the task's (`submit`, `fn`,
    `with_options`, `name`...), so it stands in for the task wherever one is used."""

    __slots__ = ("_fn", "_lock", "_options", "_task")

    def __init__(self, fn: Callable, options: dict[str, Any]) -> None:
        self._fn, self._options = fn, options
        self._task: Any = None
        self._lock = threading.Lock()

    @property
    def task(self) -> Any:
        """The `prefect.Task`."""
        if self._task is None:
            with self._lock:
                if self._task is None:
                    import datetime

                    import prefect

                    options = dict(self._options)
                    # each run is named by its operation (`scraping.merge`, not Prefect's
                    # `scraping.merge-d10`), so the UI's graph reads like `orchc graph`
                    options.setdefault("task_run_name", options.get("name"))
                    seconds = options.pop("cache_expiration_seconds", None)
                    if seconds is not None:
                        options["cache_expiration"] = datetime.timedelta(seconds=seconds)
                    self._task = prefect.task(self._fn, **options)
        return self._task

    def __getattr__(self, name: str) -> Any:
        return getattr(self.task, name)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.task(*args, **kwargs)

    def __repr__(self) -> str:
        return f"DeferredTask({self._options.get('name')!r})"


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


def task_body(op_name: str, *, executor: str = "thread", timeout: float | None = None) -> Callable[[Callable], Callable]:
    """Make a generated stub call operation `op_name` through the current registry.

    The stub's signature (kept through `functools.wraps`) is what Prefect binds and shows;
    an `async def` stub gives an async body; `executor="process"` runs the function in a
    process pool. A sync operation's `timeout` is enforced here (`runtime.deadlines`: its
    own process killed, or the thread's call abandoned, at the deadline), not by Prefect,
    which lets a sync task run on past its timeout and warns about it on every call.
    """

    def decorate(stub: Callable) -> Callable:
        if inspect.iscoroutinefunction(stub):

            @functools.wraps(stub)
            async def run_async(**kwargs: Any) -> Any:
                run_id = _record_start()
                try:
                    return _storable(op_name, await _function(op_name)(**_present(kwargs)))
                finally:
                    _record_end(run_id)

            return run_async
        call = _call_in_process if executor == "process" else _call_here
        if timeout is not None:
            call = functools.partial(_call_with_deadline, executor=executor, seconds=timeout)

        @functools.wraps(stub)
        def run(**kwargs: Any) -> Any:
            run_id = _record_start()
            try:
                return _storable(op_name, call(op_name, _present(kwargs)))
            finally:
                _record_end(run_id)

        return run

    return decorate


def _storable(op_name: str, result: Any) -> Any:
    """`result`, after checking that a cached operation's result can be stored: Prefect
    only warns and carries on when it cannot, where the local engine fails the operation
    naming it (`runtime.result_cache`); both engines fail it the same way."""
    from runtime.registry import current_registry

    op = current_registry().operations.get(op_name)
    if op is not None and op.cache:
        from runtime.result_cache import check_storable

        check_storable(op, result)
    return result


#: set ("1") in a distributed runner's worker processes: `executor="process"` runs in the
#: worker itself (a process pool inside a worker process would only add a copy)
IN_PLACE_ENV = "ORCHC_OPERATIONS_IN_PLACE"


def run_operations_in_place() -> None:
    """This process is a worker of a distributed task runner: it runs every operation itself."""
    os.environ[IN_PLACE_ENV] = "1"


def _function(op_name: str) -> Callable:
    """The operation's function, with a pipeline step's literal arguments (`params`) bound."""
    from runtime.registry import current_registry

    registry = current_registry()
    function = registry.function(op_name)
    arguments = registry.arguments(op_name)
    return functools.partial(function, **arguments) if arguments else function


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


def _call_with_deadline(op_name: str, kwargs: dict[str, Any], *, executor: str, seconds: float) -> Any:
    from runtime import deadlines

    in_process = executor == "process" and os.environ.get(IN_PLACE_ENV) != "1"
    call = deadlines.call_in_process if in_process else deadlines.call_in_thread
    return call(op_name, _function(op_name), (), kwargs, seconds)


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


def _source_key(op_name: str, source_hash: str, version: str | int | None, _context: Any, _inputs: Any) -> str:
    from runtime.registry import current_registry

    # a pipeline step's literal arguments are inputs too, though its task does not take them
    arguments = current_registry().operations[op_name].arguments
    fixed = "" if not arguments else ":" + ",".join(f"{a.name}={a.value}" for a in arguments)
    return f"{op_name}:{source_hash}" + ("" if version is None else f":{version!r}") + fixed


def cache_policy(op_name: str, source_hash: str, version: str | int | None = None) -> Any:
    """Prefect's cache policy for a cached operation: its inputs, its locked source hash
    and its `cache_version`.

    The operation's name is part of the key so two operations with equal inputs never
    share a cached result; a changed source (a new `source_hash`) or version misses the cache.
    """
    from prefect.cache_policies import INPUTS, CacheKeyFnPolicy

    return INPUTS + CacheKeyFnPolicy(cache_key_fn=functools.partial(_source_key, op_name, source_hash, version))

"""The Prefect engine: run a flow through its generated Prefect module.

The registry has already put the generated package on `sys.path`; this module imports
the flow's generated module, calls the async flow function and returns its result. With
no `PREFECT_API_URL` Prefect starts its own temporary local server. When Prefect cannot
reach its API, or its temporary server does not start, the error becomes an
`EnvironmentFailure` saying so (Prefect raises bare `RuntimeError`s for both). Before
importing a generated module the CLI has checked it against the lock's sha256.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import PurePosixPath
from types import ModuleType
from typing import Any

from compiler.lock.lockfile import LockFlow
from runtime.errors import EnvironmentFailure, OrchcRuntimeError, describe_exception
from runtime.registry import Registry, set_current_registry
from runtime.trust import check_module_file

#: how Prefect's errors start (3.9.1: `client/orchestration/__init__.py` and `server/api/server.py`
#: raise RuntimeError, ValueError for a missing API URL with the temporary server disabled)
_UNREACHABLE = "Failed to reach API at "
_SERVER_TIMEOUT = "Timed out while attempting to connect to ephemeral Prefect API server"
_NO_PORT = "Unable to find an available port"
_NO_API = "No Prefect API URL provided"
_FALLBACK = "or run without Prefect with `--engine local`"
_START_SERVER = f"start a server with `prefect server start` and set PREFECT_API_URL, {_FALLBACK}"


def run_flow(registry: Registry, flow_name: str, params: dict[str, Any]) -> Any:
    """Run `flow_name` with `params` under Prefect and return its result.

    Raises `runtime.errors.FlowFailed` naming the failed operations when any failed, and
    `EnvironmentFailure` when Prefect has no API to talk to.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    # Prefect waits 20 s for its temporary server; a first start in a fresh PREFECT_HOME
    # takes about 18 s on a quiet 2-core machine, so give it room unless the user chose
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")
    flow = registry.flow(flow_name)
    set_current_registry(registry)  # task bodies look the user functions up here
    function = getattr(import_generated(registry, flow), flow.function)
    if registry.is_subset(flow_name):  # the generated flow takes every parameter of the whole flow
        from runtime.prefect_support import UNSET

        params = {**{p.name: UNSET for p in registry.lock.flow(flow_name).params}, **params}
    try:
        with api_errors():
            return asyncio.run(function(**params))
    finally:
        if not _api_url_set():  # the temporary server stops with this process
            from runtime.prefect_flows import settle_task_runs

            settle_task_runs()


def import_generated(registry: Registry, flow: LockFlow) -> ModuleType:
    """The flow's generated module, refused when it (or its package) is not the project's file."""
    return import_module(registry, flow.module)


def import_module(registry: Registry, module: str) -> ModuleType:
    """Generated module `module`, refused when it (or its package) is not the project's
    file; the caller has checked the files' hashes (`runtime.trust.check_generated`)."""
    package = registry.lock.project.package
    out = PurePosixPath(registry.lock.project.out)
    imported = importlib.import_module(f"{package}.{module}")
    what = f"generated module `{module}`"
    check_module_file(importlib.import_module(package), registry.root / out / "__init__.py", what)
    check_module_file(imported, registry.root / out / f"{module}.py", what)
    return imported


# -- environment failures ----------------------------------------------------------------------


@contextmanager
def api_errors(hint: str | None = None) -> Iterator[None]:
    """Talking to Prefect: an API it cannot reach (or a temporary server that did not
    start) becomes an EnvironmentFailure with a hint (`hint`, else the failure's own), not
    a traceback; our own errors (FlowFailed: the operations') and the rest pass through."""
    try:
        yield
    except OrchcRuntimeError:
        raise
    except Exception as error:
        failure = environment_failure(error)
        if failure is None:
            raise
        raise (failure if hint is None else EnvironmentFailure(failure.message, hint)) from None


def environment_failure(error: BaseException) -> EnvironmentFailure | None:
    """The EnvironmentFailure `error` stands for (Prefect has no reachable API), else None."""
    for cause in _chain(error):
        text = str(cause)
        if isinstance(cause, RuntimeError) and text.startswith(_UNREACHABLE):
            return _unreachable(text[len(_UNREACHABLE):].strip(), cause.__cause__)
        if isinstance(cause, RuntimeError) and text.startswith(_SERVER_TIMEOUT):
            return _server_timeout()
        if isinstance(cause, RuntimeError) and text.startswith(_NO_PORT):
            return EnvironmentFailure("Prefect's temporary server found no free port on 127.0.0.1", _START_SERVER)
        if isinstance(cause, ValueError) and text.startswith(_NO_API):
            return EnvironmentFailure("PREFECT_API_URL is not set and Prefect's temporary server is disabled",
                                      _START_SERVER)
        if _is_connect_error(cause):  # a request after the client's first check
            return _unreachable(_api_url(), cause)
    return None


def _chain(error: BaseException) -> Iterator[BaseException]:
    """`error` and the exceptions it was raised from or while handling, each once."""
    seen: set[int] = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _is_connect_error(error: BaseException) -> bool:
    import httpx  # a Prefect dependency, imported already when this runs

    return isinstance(error, (httpx.ConnectError, httpx.ConnectTimeout))


def _unreachable(url: str, cause: BaseException | None) -> EnvironmentFailure:
    reason = f" ({describe_exception(cause)})" if cause is not None else ""
    return EnvironmentFailure(
        f"cannot reach the Prefect API at {url}{reason}",
        "start a server with `prefect server start`, check PREFECT_API_URL (unset it to let Prefect "
        f"start a temporary server), retry, {_FALLBACK}",
    )


def _server_timeout() -> EnvironmentFailure:
    from prefect.settings import PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS as timeout

    return EnvironmentFailure(
        f"Prefect's temporary server did not start in time ({timeout.value()} s)",
        f"retry, raise PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS, start a server with "
        f"`prefect server start` and set PREFECT_API_URL, {_FALLBACK}",
    )


def _api_url_set() -> bool:
    from prefect.settings import PREFECT_API_URL

    return bool(PREFECT_API_URL.value())


def _api_url() -> str:
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or "(the temporary server)"

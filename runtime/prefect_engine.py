"""The Prefect engine: run a flow through its generated Prefect module.

The registry has already put the generated package on `sys.path`; this module imports
the flow's generated module, calls the async flow function and returns its result. With
no `PREFECT_API_URL` Prefect starts its own temporary local server.
"""

from __future__ import annotations

import asyncio
import importlib
import os
from typing import Any

from runtime.registry import Registry, set_current_registry


def run_flow(registry: Registry, flow_name: str, params: dict[str, Any]) -> Any:
    """Run `flow_name` with `params` under Prefect and return its result.

    Raises `runtime.errors.FlowFailed` naming the failed operations when any failed.
    """
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    flow = registry.flow(flow_name)
    set_current_registry(registry)  # task bodies look the user functions up here
    module = importlib.import_module(f"{registry.lock.project.package}.{flow.module}")
    function = getattr(module, flow.function)
    return asyncio.run(function(**params))

"""orchc's runtime: what user code and generated code import.

`__all__` is what users may import; `GENERATED_CODE_NAMES` is the contract with generated
code, which uses `runtime.NAME` for these names and nothing else from orchc (codegen
refuses any other, and a test checks every generated module). Importing this package
never imports Prefect (the local engine must run without it), and loads what generated
code uses only when it is first used: the compiler reads the contract without it.
"""

from runtime.operation import OperationInfo, operation, operation_info
from runtime.publish import get_logger, publish_link, publish_markdown, publish_table

#: the names generated modules use, as `runtime.NAME`
GENERATED_CODE_NAMES = ("UNSET", "cache_policy", "run_operations", "task", "task_body", "task_runner")

__all__ = [
    "GENERATED_CODE_NAMES",
    "OperationInfo",
    "UNSET",
    "cache_policy",
    "get_logger",
    "operation",
    "operation_info",
    "publish_link",
    "publish_markdown",
    "publish_table",
    "run_operations",
    "task",
    "task_body",
    "task_runner",
]


def __getattr__(name: str):
    """The names generated code uses (`runtime.prefect_support`, `runtime.prefect_flows`,
    `runtime.task_runners`), loaded on first use."""
    if name == "task_runner":
        from runtime import task_runners

        return task_runners.task_runner
    if name == "run_operations":
        from runtime import prefect_flows

        return prefect_flows.run_operations
    if name in GENERATED_CODE_NAMES:
        from runtime import prefect_support

        return getattr(prefect_support, name)
    raise AttributeError(f"module 'runtime' has no attribute {name!r}")

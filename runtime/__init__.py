"""orchc's runtime: what user code and generated code import.

`__all__` is what users may import; `GENERATED_CODE_NAMES` is the contract with generated
code, which uses `runtime.NAME` for these names and nothing else from orchc (codegen
refuses any other, and a test checks every generated module). Importing this package
never imports Prefect (the local engine must run without it).
"""

from runtime.operation import OperationInfo, operation, operation_info
from runtime.prefect_support import UNSET, cache_policy, flow_body, task_body

#: the names generated modules use, as `runtime.NAME`
GENERATED_CODE_NAMES = ("UNSET", "cache_policy", "flow_body", "task_body")

__all__ = [
    "GENERATED_CODE_NAMES",
    "OperationInfo",
    "UNSET",
    "cache_policy",
    "flow_body",
    "operation",
    "operation_info",
    "task_body",
]

"""orchc's runtime: what user code and generated code import.

`__all__` is the contract: generated modules use nothing else from orchc. Importing this
package never imports Prefect (the local engine must run without it).
"""

from runtime.operation import OperationInfo, operation, operation_info
from runtime.prefect_support import UNSET, cache_policy, flow_body, task_body

__all__ = [
    "OperationInfo",
    "UNSET",
    "cache_policy",
    "flow_body",
    "operation",
    "operation_info",
    "task_body",
]

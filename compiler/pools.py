"""The one process-pool policy, for the compiler's parallel extraction and the runtime's
`executor="process"` operations: how a pool's processes start.

Forking is the cheapest start (the child has everything the parent loaded), but forking a
process that runs threads can deadlock the child (a lock held by another thread is copied
held). So a pool forks only for a batch job in a process that runs no other thread (the
compiler's extraction), and spawns otherwise (the engines: they run threads, and Prefect's).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # multiprocessing costs ~40 ms to import: only a run that makes a pool pays it
    from concurrent.futures import ProcessPoolExecutor


def process_pool(workers: int, *, batch: bool = False, initializer: Callable[..., Any] | None = None,
                 initargs: tuple = ()) -> ProcessPoolExecutor:
    """A pool of `workers` processes; `batch`: the caller runs no thread of its own, so
    the pool may fork when nothing else runs one either."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    fork = batch and threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if fork else "spawn")
    return ProcessPoolExecutor(workers, mp_context=context, initializer=initializer, initargs=initargs)

"""Calls that end at their deadline (`timeout_seconds`), the same in both engines.

A sync operation with `executor="process"` runs in a process of its own, killed at the
deadline: a pool's worker cannot be killed without taking its other calls down. A sync
operation in a thread cannot be stopped (Python has no way to), so its call is abandoned
at the deadline, left to finish in a daemon thread, and the attempt fails at once.
Either way the attempt raises `TimeoutError` naming the operation, and retries apply.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from runtime.errors import describe_exception


def timeout_error(name: str, seconds: float) -> TimeoutError:
    return TimeoutError(f"`{name}` did not finish within {seconds:g}s")


def call_in_process(name: str, function: Callable, args: tuple, kwargs: dict[str, Any], seconds: float) -> Any:
    """`function(*args, **kwargs)` in a spawned process, killed after `seconds`. The
    function goes by reference (its module is imported there: spawned children get this
    process's `sys.path`); its result and exception come back pickled."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    process = context.Process(target=_child, args=(sender, function, args, kwargs), daemon=True,
                              name=f"orchc {name}")
    process.start()
    sender.close()
    try:
        if not receiver.poll(seconds):
            raise timeout_error(name, seconds)
        completed, value = receiver.recv()
    except EOFError:  # the child died without answering (killed, or crashed hard)
        raise RuntimeError(f"`{name}`: its process ended without a result (exit code {process.exitcode})") from None
    finally:
        if process.is_alive():
            process.kill()
        process.join()
        receiver.close()
    if completed:
        return value
    raise value


def _child(sender: Any, function: Callable, args: tuple, kwargs: dict[str, Any]) -> None:
    try:
        outcome = (True, function(*args, **kwargs))
    except BaseException as error:  # noqa: BLE001 - it is the operation's outcome, sent back
        outcome = (False, error)
    try:
        sender.send(outcome)
    except Exception as error:  # the result or the exception does not pickle
        sender.send((False, RuntimeError(f"its outcome could not be sent back: {describe_exception(error)}")))


def call_in_thread(name: str, function: Callable, args: tuple, kwargs: dict[str, Any], seconds: float) -> Any:
    """`function(*args, **kwargs)` in a daemon thread, waited for `seconds`: past them the
    call is abandoned (it may still finish, unseen) and TimeoutError raised."""
    future: Future = Future()

    def call() -> None:
        try:
            future.set_result(function(*args, **kwargs))
        except BaseException as error:  # noqa: BLE001 - handed to the waiting caller
            future.set_exception(error)

    threading.Thread(target=call, daemon=True, name=f"orchc {name}").start()
    try:
        return future.result(timeout=seconds)
    except FutureTimeout:
        if future.done():  # it finished right at the deadline, possibly with its own TimeoutError
            return future.result()
        raise timeout_error(name, seconds) from None

"""The local engine: runs a locked flow in this process, without Prefect.

Same semantics as the generated Prefect flows, read from the same lock:

1. Every member operation becomes one asyncio task that awaits exactly its upstream tasks
   (data and `depends_on` edges), so independent branches overlap and wall time follows
   the critical path, never layer-by-layer barriers.
2. Arguments: each data edge feeds its `param` with the source's result; each flow
   parameter feeds its consumers (and any member taking a parameter of that name with no
   data edge into it). A parameter left out and not required is not passed, so the
   function's own default applies.
3. async functions are awaited; sync ones run in a thread pool sized to the flow (not
   asyncio's default executor, which has few workers), or in a process pool with
   `executor="process"`.
4. `retries` / `retry_delay_seconds` (a number, or one delay per retry with the last
   repeated) and `timeout_seconds` apply per operation. A sync call that times out keeps
   running in its worker (threads cannot be killed) but the operation counts as failed.
5. A failed operation's downstream is skipped; independent branches still finish; then
   FlowFailed lists every failure and every skipped operation.

This module never imports Prefect.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import logging
import multiprocessing
import os
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Literal

from compiler.lockfile import LockFlow, LockOperation
from runtime.errors import FlowFailed, RuntimeUsageError, describe_exception
from runtime.registry import Registry

logger = logging.getLogger("orchc.local")

State = Literal["pending", "running", "completed", "failed", "skipped"]


@dataclass
class OpRecord:
    """What happened to one operation during a run."""

    name: str
    state: State = "pending"
    #: how many times the function was called (1 + retries used)
    attempts: int = 0
    #: seconds from the first attempt's start to the last one's end (retry delays included)
    duration: float = 0.0
    #: `ExcType: message` of the last failure
    error: str | None = None


@dataclass
class RunReport:
    """Per-operation records of one flow run, in the flow's topological order."""

    flow: str
    operations: dict[str, OpRecord] = field(default_factory=dict)
    #: wall time of the whole run, in seconds
    duration: float = 0.0
    #: timed-out sync calls still running in a worker thread or process
    abandoned: int = 0

    def names(self, state: State) -> list[str]:
        return [name for name, record in self.operations.items() if record.state == state]

    @property
    def failures(self) -> dict[str, str]:
        return {name: self.operations[name].error or "" for name in self.names("failed")}


@dataclass(frozen=True)
class _Step:
    """One member operation, ready to run."""

    op: LockOperation
    function: Callable
    #: every operation this one waits for (data and ordering edges)
    upstream: tuple[str, ...]
    #: (parameter, source operation) for each data edge
    data: tuple[tuple[str, str], ...]
    #: the flow parameters this operation takes (same name as its own parameter)
    flow_params: tuple[str, ...]
    #: leading positional-only parameter names, in order
    positional_only: tuple[str, ...]
    #: whether the function is a coroutine function (awaited on the loop)
    is_async: bool

    @property
    def name(self) -> str:
        return self.op.name

    @property
    def in_process(self) -> bool:
        return self.op.executor == "process" and not self.is_async


# -- planning -----------------------------------------------------------------------------


def check_params(flow: LockFlow, params: dict[str, Any]) -> None:
    """Reject unknown parameter names and missing required ones (RuntimeUsageError)."""
    known = {p.name for p in flow.params}
    unknown = sorted(set(params) - known)
    missing = [p.name for p in flow.params if p.required and p.name not in params]
    problems = []
    if unknown:
        problems.append("unknown parameter(s) " + ", ".join(f"`{n}`" for n in unknown))
    if missing:
        problems.append("missing required parameter(s) " + ", ".join(f"`{n}`" for n in missing))
    if problems:
        accepted = ", ".join(f"`{n}`" for n in sorted(known)) or "none"
        raise RuntimeUsageError(f"flow `{flow.name}`: " + "; ".join(problems),
                                f"the flow's parameters: {accepted}")


def _positional_only(function: Callable) -> tuple[str, ...]:
    code = getattr(function, "__code__", None)
    if code is not None and not hasattr(function, "__wrapped__"):  # a plain function: no signature needed
        return tuple(code.co_varnames[: code.co_posonlyargcount])
    try:
        parameters = inspect.signature(function).parameters.values()
    except (TypeError, ValueError):
        return ()
    return tuple(p.name for p in parameters if p.kind is inspect.Parameter.POSITIONAL_ONLY)


def plan(registry: Registry, flow: LockFlow) -> list[_Step]:
    """The flow's steps in topological order, functions imported through the registry."""
    members = set(flow.operations)
    incoming = [edge for edge in registry.lock.edges if edge.target in members]
    for edge in incoming:
        if edge.source not in members:
            raise RuntimeUsageError(
                f"the lockfile is inconsistent: `{edge.target}` depends on `{edge.source}`, "
                f"which is not in flow `{flow.name}`", "run `orchc build`")
    by_target = defaultdict(list)  # one pass: a flow may hold thousands of operations
    for edge in incoming:
        by_target[edge.target].append(edge)
    flow_params = [(p, set(p.consumers)) for p in flow.params]
    steps = []
    for name in flow.operations:
        op = registry.operations[name]
        edges = by_target[name]
        data = tuple((edge.param, edge.source) for edge in edges if edge.param is not None)
        bound = {param for param, _ in data}
        own = {p.name for p in op.params}
        takes = tuple(
            p.name for p, consumers in flow_params
            if p.name not in bound and (name in consumers or p.name in own)
        )
        function = registry.function(name)
        upstream = tuple(dict.fromkeys(edge.source for edge in edges))
        steps.append(_Step(op, function, upstream, data, takes, _positional_only(function),
                           inspect.iscoroutinefunction(function)))
    return steps


def _delay(op: LockOperation, retry: int) -> float:
    """The delay before retry number `retry` (0-based)."""
    delays = op.retry_delay_seconds
    if isinstance(delays, list):
        return float(delays[min(retry, len(delays) - 1)]) if delays else 0.0
    return float(delays)


# -- running ------------------------------------------------------------------------------


class _Run:
    """One execution of a planned flow."""

    def __init__(self, flow: LockFlow, steps: list[_Step], params: dict[str, Any], report: RunReport) -> None:
        self.flow = flow
        self.steps = steps
        self.params = params
        self.report = report
        self.results: dict[str, Any] = {}
        self.tasks: dict[str, asyncio.Task] = {}
        self.threads = ThreadPoolExecutor(
            max_workers=self._thread_count(), thread_name_prefix=f"orchc-{flow.name}")
        self.processes: ProcessPoolExecutor | None = None

    def _thread_count(self) -> int:
        # a timed-out call keeps its thread, so each retry after a timeout may need one more
        extra = sum(s.op.retries for s in self.steps if s.op.timeout_seconds is not None)
        return max(1, len(self.steps) + extra)

    def _process_pool(self) -> ProcessPoolExecutor:
        if self.processes is None:
            count = sum(1 for s in self.steps if s.in_process)
            # spawn, not fork: forking a process that runs threads can deadlock the child
            self.processes = ProcessPoolExecutor(
                max_workers=max(1, min(count, os.cpu_count() or 1)),
                mp_context=multiprocessing.get_context("spawn"))
        return self.processes

    async def execute(self) -> None:
        for step in self.steps:
            self.report.operations[step.name] = OpRecord(step.name)
        for step in self.steps:  # topological order: upstream tasks exist already
            self.tasks[step.name] = asyncio.create_task(self._run_step(step), name=step.name)
        try:
            await asyncio.wait(self.tasks.values())
        finally:
            for task in self.tasks.values():
                task.cancel()
            self._shutdown()

    def _shutdown(self) -> None:
        self.threads.shutdown(wait=False, cancel_futures=True)
        if self.processes is not None:
            self.processes.shutdown(wait=self.report.abandoned == 0, cancel_futures=True)

    async def _run_step(self, step: _Step) -> None:
        for name in step.upstream:
            upstream = self.tasks[name]
            if not upstream.done():
                await upstream  # step tasks never raise: failures are recorded, not raised
        record = self.report.operations[step.name]
        blocked = [name for name in step.upstream if self.report.operations[name].state != "completed"]
        if blocked:
            record.state = "skipped"
            logger.warning("`%s` skipped: upstream `%s` did not complete", step.name, blocked[0])
            return
        await self._run_with_retries(step, record, self._arguments(step))

    def _arguments(self, step: _Step) -> dict[str, Any]:
        kwargs = {name: self.params[name] for name in step.flow_params if name in self.params}
        kwargs.update({param: self.results[source] for param, source in step.data})
        return kwargs

    async def _run_with_retries(self, step: _Step, record: OpRecord, kwargs: dict[str, Any]) -> None:
        record.state = "running"
        start = time.perf_counter()
        for attempt in range(step.op.retries + 1):
            record.attempts = attempt + 1
            try:
                self.results[step.name] = await self._call(step, kwargs)
            except Exception as error:  # the user's operation failed: record it, maybe retry
                record.error = describe_exception(error)
                if attempt == step.op.retries:
                    break
                delay = _delay(step.op, attempt)
                logger.warning("`%s` attempt %d/%d failed: %s; retrying in %gs", step.name,
                               attempt + 1, step.op.retries + 1, record.error, delay)
                await asyncio.sleep(delay)
            else:
                record.state, record.error = "completed", None
                record.duration = time.perf_counter() - start
                logger.info("`%s` completed in %.2fs", step.name, record.duration)
                return
        record.state = "failed"
        record.duration = time.perf_counter() - start
        logger.error("`%s` failed after %d attempt(s): %s", step.name, record.attempts, record.error)

    async def _call(self, step: _Step, kwargs: dict[str, Any]) -> Any:
        awaitable = self._start(step, kwargs)
        timeout = step.op.timeout_seconds
        if timeout is None:
            return await awaitable
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except TimeoutError:
            if not step.is_async:
                self.report.abandoned += 1
            raise TimeoutError(f"`{step.name}` did not finish within {timeout:g}s") from None

    def _start(self, step: _Step, kwargs: dict[str, Any]):
        if step.is_async and not step.positional_only:
            return step.function(**kwargs)
        kwargs = dict(kwargs)
        args = []
        for name in step.positional_only:
            if name not in kwargs:
                break
            args.append(kwargs.pop(name))
        if step.is_async:
            return step.function(*args, **kwargs)
        executor: Executor = self._process_pool() if step.in_process else self.threads
        call = functools.partial(step.function, *args, **kwargs)
        return asyncio.get_running_loop().run_in_executor(executor, call)

    def outcome(self) -> Any:
        """The flow's result, or FlowFailed when any operation failed."""
        failures = self.report.failures
        if failures:
            raise FlowFailed(self.flow.name, failures, self.report.names("skipped"), self.report)
        sinks = self.flow.sinks
        if len(sinks) == 1:
            return self.results[sinks[0]]
        return {sink: self.results[sink] for sink in sinks}


# -- entry points -------------------------------------------------------------------------


async def run_flow(registry: Registry, flow_name: str, params: dict[str, Any] | None = None,
                   report: RunReport | None = None) -> Any:
    """Run flow `flow_name` locally and return its result (see the module docstring).

    Pass a `report` to read the per-operation records afterwards (FlowFailed carries it
    too). Raises RuntimeUsageError for an unknown flow or bad parameter names.
    """
    flow = registry.flow(flow_name)
    params = dict(params or {})
    check_params(flow, params)
    report = report if report is not None else RunReport(flow_name)
    run = _Run(flow, plan(registry, flow), params, report)
    start = time.perf_counter()
    try:
        await run.execute()
    finally:
        report.duration = time.perf_counter() - start
    return run.outcome()


def run_flow_sync(registry: Registry, flow_name: str, params: dict[str, Any] | None = None,
                  report: RunReport | None = None) -> Any:
    """`run_flow` for synchronous callers (starts its own event loop)."""
    return asyncio.run(run_flow(registry, flow_name, params, report))

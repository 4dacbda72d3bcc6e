"""The local engine: runs a locked flow in this process, without Prefect.

Same semantics as the generated Prefect flows, read from the same lock:

1. Every member operation becomes one asyncio task, started as soon as all its upstream
   operations (data and `depends_on` edges) have finished, so independent branches overlap
   and wall time follows the critical path, never layer-by-layer barriers.
2. Arguments: each data edge feeds its `param` with the source's result; each flow
   parameter feeds its consumers (and any member taking a parameter of that name with no
   data edge into it). A parameter left out and not required is not passed, so the
   function's own default applies.
3. async functions are awaited; sync ones run in a thread pool sized to the flow (not
   asyncio's default executor, which has few workers), or in a process pool with
   `executor="process"`. A sync call that cannot overlap anything (the only operation
   ready, none running) or that took under half a millisecond last time runs on the
   loop's own thread instead, seeing no running loop, as in a worker thread: a thread
   hand-off costs more than such a call (`bench/bench_hamilton.py`).
4. `retries` / `retry_delay_seconds` (a number, or one delay per retry with the last
   repeated) and `timeout_seconds` apply per operation. A sync call that times out keeps
   running in its worker (threads cannot be killed) but the operation counts as failed;
   a timed `executor="process"` call runs in a process of its own, killed at the deadline
   (`runtime.deadlines`, as under Prefect).
5. A failed operation's downstream is skipped; independent branches still finish; then
   FlowFailed lists every failure and every skipped operation.
6. `when`: an operation whose condition says no is skipped (finished, result None); a
   consumer of a skipped operation gets None when its parameter admits it and is skipped
   otherwise; a `depends_on` dependent runs (`_Run._gate`). `map`: one call per element
   of the mapped arguments (zipped), all at once, each with its own retries; the result
   is the list of the calls' results (`_Run._run_elements`).

The plan (steps, edges, functions) is built once per registry and flow; a run only keeps
per-operation counters, so its cost per operation stays close to a bare asyncio task.

This module never imports Prefect.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import inspect
import logging
import os
import time
import weakref
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

from compiler import naming
from compiler.lock.lockfile import ELEMENT_WORKERS, LockFlow, LockOperation
from compiler.pools import process_pool
from runtime import deadlines, reasons
from runtime.errors import FlowFailed, RuntimeUsageError, describe_exception
from runtime.publish import call_as, current_operation, use_artifacts_folder
from runtime.registry import Registry
from runtime.result_cache import CacheError, ResultStore

logger = logging.getLogger("orchc.local")

State = Literal["pending", "running", "completed", "failed", "skipped"]


@dataclass(slots=True)
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
    #: whether the result was the one stored by an earlier run (`cache=True`), not computed
    cached: bool = False
    #: why a skipped operation did not run
    reason: str | None = None
    #: how many elements a mapped operation ran over (each called 1 + its retries used)
    elements: int = 1
    #: a mapped operation's elements that failed, each its own record named `OP[i]`
    failed_elements: tuple[OpRecord, ...] = ()


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
        """`ExcType: message` by failed operation, or by failed element (`OP[i]`), as under Prefect."""
        failures = {}
        for name in self.names("failed"):
            record = self.operations[name]
            failures.update((failed.name, failed.error or "") for failed in record.failed_elements or (record,))
        return failures


class _Step(NamedTuple):
    """One member operation, ready to run. A named tuple, not a frozen dataclass: as
    immutable (plans are shared by runs), and a quarter of the cost to build, once per
    operation."""

    op: LockOperation
    name: str
    function: Callable
    #: every operation this one waits for (data and ordering edges), each once
    upstream: tuple[str, ...]
    #: (parameter, source operation) for each data edge
    data: tuple[tuple[str, str], ...]
    #: the flow parameters this operation takes (same name as its own parameter)
    flow_params: tuple[str, ...]
    #: leading positional-only parameter names, in order
    positional_only: tuple[str, ...]
    #: whether the function is a coroutine function (awaited on the loop)
    is_async: bool
    #: whether a call runs in the process pool (a sync function with `executor="process"`)
    in_process: bool
    #: an async function called by keywords without a timeout: awaited as is, no wrapper
    direct: bool
    #: a simple sync call (by keywords, in this process, no timeout, no retries): run
    #: without a task, on the loop's thread or straight in the thread pool (`_Run._start_all`)
    inline: bool
    #: (the condition's operation, negated) of `when`, else None
    when: tuple[str, bool] | None = None
    #: the parameters it runs once per element of, zipped
    mapped: tuple[str, ...] = ()
    #: the parameters whose annotation admits None (fed None by a skipped operation)
    optional: frozenset[str] = frozenset()
    #: a pipeline step's literal arguments (`params`)
    constants: tuple[tuple[str, Any], ...] = ()


#: a simple sync call this short may run on the loop's thread next time (`_Run._start_all`):
#: a thread hand-off costs about 0.1 ms, and holding the loop this long delays nothing much
QUICK_SECONDS = 0.0005


@dataclass(frozen=True)
class _Plan:
    """What running a flow needs that no run changes: built once per registry and flow."""

    flow: LockFlow
    #: the steps in topological order; the lists below are indexed like it
    steps: tuple[_Step, ...]
    #: the indices of the steps waiting for each step
    downstream: tuple[tuple[int, ...], ...]
    #: how many steps each step waits for
    upstream_counts: tuple[int, ...]
    #: the steps waiting for nothing, started first
    roots: tuple[int, ...]
    #: workers of the thread pool: one per step, plus one per retry after a timeout, since
    #: a timed-out call keeps its thread
    thread_count: int
    #: how many steps run in the process pool
    process_count: int
    #: whether a step has a condition, so steps may be skipped without a failure (`_Run._gate`)
    gated: bool = False
    #: per step, whether its last call took under QUICK_SECONDS: learned by the runs, so
    #: mutable (a hint, never a result: a race between two runs only moves a call to a thread)
    quick: list[bool] = field(default_factory=list, compare=False)
    #: thread pools whose runs ended with no call left in them, for the next runs: a new
    #: pool starts a thread per call, and starting one hands the loop's thread over
    idle_pools: list[ThreadPoolExecutor] = field(default_factory=list, compare=False)


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


def _step(op: LockOperation, function: Callable, upstream: tuple[str, ...],
          data: tuple[tuple[str, str], ...], flow_params: tuple[str, ...],
          constants: dict[str, Any] | None = None) -> _Step:
    is_async = inspect.iscoroutinefunction(function)
    positional_only = _positional_only(function)
    in_process = op.executor == "process" and not is_async
    plain = not positional_only and op.timeout_seconds is None and not op.cache  # a cached call goes by `_run_step`
    return _Step(op, op.name, function, upstream, data, flow_params, positional_only, is_async, in_process,
                 direct=is_async and plain,
                 inline=not is_async and not in_process and plain and op.retries == 0 and not op.map,
                 when=op.condition, mapped=tuple(op.map or ()),
                 optional=frozenset(p.name for p in op.params if p.admits_none),
                 constants=tuple((constants or {}).items()))


def _flow_params_taken(consumers: dict[str, set[str]], op: LockOperation,
                       data: tuple[tuple[str, str], ...]) -> tuple[str, ...]:
    """The flow parameters (`consumers`: name -> its consumers) that `op` consumes or has a
    parameter of that name for, except the parameters a data edge feeds."""
    if not consumers:
        return ()
    bound = {param for param, _ in data}
    own = {p.name for p in op.params}
    return tuple(name for name, ops in consumers.items()
                 if name not in bound and (op.name in ops or name in own))


def plan(registry: Registry, flow: LockFlow) -> _Plan:
    """The flow's plan: its steps in topological order, functions imported through the
    registry, and who waits for whom."""
    order = registry.members(flow)
    members = set(order)
    upstream: dict[str, dict[str, None]] = defaultdict(dict)  # target -> sources, each once
    data: dict[str, list[tuple[str, str]]] = defaultdict(list)  # target -> (param, source)
    for edge in registry.lock.edges:  # one pass: a flow may hold thousands of operations
        if edge.target not in members:
            continue
        if edge.source not in members:
            if edge.param is None and registry.is_subset(flow.name):
                continue  # a subset run does not wait for an unselected operation
            raise RuntimeUsageError(
                f"the lockfile is inconsistent: `{edge.target}` depends on `{edge.source}`, "
                f"which is not in flow `{flow.name}`", "run `orchc build`")
        upstream[edge.target][edge.source] = None
        if edge.param is not None:
            data[edge.target].append((edge.param, edge.source))
    consumers = {p.name: set(p.consumers) for p in flow.params}
    steps = []
    for name in order:
        op, inputs = registry.operations[name], tuple(data.get(name, ()))
        steps.append(_step(op, registry.function(name), tuple(upstream.get(name, ())), inputs,
                           _flow_params_taken(consumers, op, inputs), registry.arguments(name)))
    return _link(flow, steps)


def _link(flow: LockFlow, steps: list[_Step]) -> _Plan:
    """The plan of `steps`: who waits for whom, by index, and the pool sizes."""
    index = {step.name: i for i, step in enumerate(steps)}
    downstream: list[list[int]] = [[] for _ in steps]
    for i, step in enumerate(steps):
        for name in step.upstream:
            downstream[index[name]].append(i)
    timed_retries = sum(s.op.retries for s in steps if s.op.timeout_seconds is not None)
    return _Plan(
        flow, tuple(steps), tuple(map(tuple, downstream)),
        upstream_counts=tuple(len(step.upstream) for step in steps),
        roots=tuple(i for i, step in enumerate(steps) if not step.upstream),
        # a mapped step's elements run at once like steps; a pool starts threads only as used
        thread_count=max(1, len(steps) + timed_retries + (ELEMENT_WORKERS if any(s.mapped for s in steps) else 0)),
        process_count=sum(1 for step in steps if step.in_process),
        gated=any(step.when is not None for step in steps),
        quick=[False] * len(steps),
    )


#: plans by registry (dropped with it) and flow name; a plan is reused while the registry
#: still holds the same locked flow
_plans: weakref.WeakKeyDictionary[Registry, dict[str, _Plan]] = weakref.WeakKeyDictionary()


def cached_plan(registry: Registry, flow: LockFlow) -> _Plan:
    """`plan(registry, flow)`, built on the flow's first run: the lock and the registry's
    imported functions do not change between runs."""
    plans = _plans.setdefault(registry, {})
    found = plans.get(flow.name)
    if found is None or found.flow is not flow:
        found = plans[flow.name] = plan(registry, flow)
    return found


def _delay(op: LockOperation, retry: int) -> float:
    """The delay before retry number `retry` (0-based)."""
    delays = op.retry_delay_seconds
    if isinstance(delays, list):
        return float(delays[min(retry, len(delays) - 1)]) if delays else 0.0
    return float(delays)


# -- running ------------------------------------------------------------------------------


class _Run:
    """One execution of a planned flow.

    Each step counts the upstream steps it still waits for; the step finishing last starts
    it (or skips it when one of them did not complete). A step task therefore runs once,
    never parks on its upstream, and never raises for a failed operation.
    """

    def __init__(self, plan: _Plan, params: dict[str, Any], report: RunReport, store: ResultStore | None = None) -> None:
        self.plan = plan
        #: where cached operations' results are read and stored (`runtime.result_cache`)
        self.store = store
        self.steps = plan.steps
        self.params = params
        self.report = report
        self.records = [OpRecord(step.name) for step in plan.steps]
        self.results: dict[str, Any] = {}
        #: per step, how many upstream steps have not finished yet
        self.waiting = list(plan.upstream_counts)
        #: steps with an upstream step that failed, or was skipped because one failed
        self.blocked: set[int] = set()
        #: operations skipped by a condition (or a skipped input): finished, result None
        self.dormant: set[str] = set()
        self.unfinished = len(plan.steps)
        #: the tasks of the steps running, by index: asyncio itself keeps only weak
        #: references to tasks, and a finished one is dropped so its memory goes at once
        self.running: dict[int, asyncio.Task | concurrent.futures.Future] = {}
        self.threads: ThreadPoolExecutor | None = None
        self.processes: ProcessPoolExecutor | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        #: resolved when every step is over
        self.done: asyncio.Future | None = None
        #: read once: `logger.info` costs a call per operation even when disabled
        self.log_completions = logger.isEnabledFor(logging.INFO)

    def _thread_pool(self) -> ThreadPoolExecutor:
        if self.threads is None:
            idle = self.plan.idle_pools
            try:
                self.threads = idle.pop()  # atomic: runs of one flow may run at once
            except IndexError:
                self.threads = ThreadPoolExecutor(
                    max_workers=self.plan.thread_count, thread_name_prefix=f"orchc-{self.plan.flow.name}")
        return self.threads

    def _process_pool(self) -> ProcessPoolExecutor:
        if self.processes is None:
            self.processes = process_pool(max(1, min(self.plan.process_count, os.cpu_count() or 1)))
        return self.processes

    async def execute(self) -> None:
        self.report.operations.update(zip((step.name for step in self.steps), self.records, strict=True))
        self.loop = asyncio.get_running_loop()
        self.done = self.loop.create_future()
        try:
            self._start_all(self.plan.roots)
            if self.unfinished:
                await self.done
        except BaseException:
            for task in list(self.running.values()):  # cancelled or interrupted: stop what still runs
                task.cancel()
            raise
        finally:
            self._shutdown()

    def _shutdown(self) -> None:
        if self.threads is not None:
            if self.unfinished or self.report.abandoned:  # calls may still run in it
                self.threads.shutdown(wait=False, cancel_futures=True)
            else:
                self.plan.idle_pools.append(self.threads)
        if self.processes is not None:
            self.processes.shutdown(wait=self.report.abandoned == 0, cancel_futures=True)

    def _start(self, index: int) -> None:
        self.running[index] = self.loop.create_task(self._run_step(index), name=self.steps[index].name)

    def _start_all(self, ready: list[int] | tuple[int, ...]) -> None:
        """Start the steps that became ready, and those their calls made here leave ready.

        A `simple` sync step (`_Step.inline`) needs no task: it is called right here when
        nothing else could run beside it (the only step ready, none running), and
        otherwise goes straight to the thread pool, except that one of them whose last
        call took under QUICK_SECONDS is called here after the others have started, so
        every ready step still runs at once while the loop's thread does some of the
        work instead of waiting; then the quick ones no thread has picked up yet (the
        call here was too short for one to) are taken back and called here too. A
        thread hand-off costs about 0.1 ms; a trivial call a few microseconds
        (`bench/bench_hamilton.py`). Other steps start as tasks.
        """
        steps, quick = self.steps, self.plan.quick
        batches = [ready]
        while batches:
            batch = batches.pop()
            if self.plan.gated:
                batch = self._gate(batch, batches)
            simple = [index for index in batch if steps[index].inline]
            for index in batch:
                if not steps[index].inline:
                    self._start(index)
            if not simple:
                continue
            if len(simple) == 1 and len(batch) == 1 and not self.running:
                here = simple[0]
            else:
                here = next((index for index in reversed(simple) if quick[index]), None)
            submitted = [index for index in simple if index != here]
            for index in submitted:
                self._submit(index)
            if here is None:
                continue
            released = self._run_inline(here)
            for index in submitted:  # a quick one no thread has picked up yet: do it here too
                if quick[index] and self._take_back(index):
                    released += self._run_inline(index)
            batches.append(released)

    def _gate(self, batch: list[int] | tuple[int, ...], batches: list) -> list[int]:
        """The steps of `batch` that run; the others are skipped by their condition or a
        skipped input (finished, result None), and the steps they release join `batches`."""
        running = []
        for index in batch:
            step, record = self.steps[index], self.records[index]
            try:
                reason = self._skip_reason(step)
            except Exception as error:  # a result whose truth cannot be told (an array): the step fails
                record.error = reasons.untestable_condition(step.when[0], error)
                self._record_outcome(step, record, False)
                batches.append(self._release(index, False))
                continue
            if reason is None:
                running.append(index)
                continue
            record.state, record.reason = "skipped", reason
            self.results[step.name] = None
            self.dormant.add(step.name)
            logger.info("`%s` skipped: %s", step.name, reason)
            batches.append(self._release(index, True))
        return running

    def _skip_reason(self, step: _Step) -> str | None:
        """Why `step` does not run although nothing upstream failed, or None: its condition
        says no, or a skipped operation feeds a parameter that does not admit None (or
        that it maps over)."""
        if step.when is not None:
            target, negated = step.when
            if bool(self.results.get(target)) == negated:
                return reasons.condition_unmet(target, negated, target in self.dormant)
        dormant = self.dormant
        if dormant:
            for param, source in step.data:
                if source in dormant and (param in step.mapped or param not in step.optional):
                    return reasons.skipped_input(source, param)
        return None

    def _run_inline(self, index: int) -> list[int]:
        """Call the simple step `index` on the loop's thread; the steps it leaves ready."""
        step, record = self.steps[index], self.records[index]
        record.state = "running"
        record.attempts = 1
        start = time.perf_counter()
        # the call sees no running loop, as in a worker thread: sync code may run its own
        # (`asyncio.run` inside an operation)
        asyncio._set_running_loop(None)
        try:
            self.results[step.name] = call_as(step.name, step.function, **self._arguments(step))
            completed = True
        except Exception as error:  # the user's operation failed (a simple step has no retries)
            record.error = describe_exception(error)
            completed = False
        finally:
            asyncio._set_running_loop(self.loop)
        return self._simple_over(index, start, completed)

    def _submit(self, index: int) -> None:
        """Start the simple step `index` in the thread pool now, without a task."""
        step, record = self.steps[index], self.records[index]
        record.state = "running"
        record.attempts = 1
        start = time.perf_counter()
        future = self._thread_pool().submit(functools.partial(call_as, step.name, step.function, **self._arguments(step)))
        self.running[index] = future
        loop = self.loop

        def over(done: concurrent.futures.Future) -> None:
            try:
                loop.call_soon_threadsafe(self._submitted_over, index, start, done)
            except RuntimeError:  # the loop is closed: the run was cancelled meanwhile
                pass

        future.add_done_callback(over)

    def _take_back(self, index: int) -> bool:
        """Withdraw the simple step `index` from the thread pool if no thread has started it."""
        future = self.running[index]
        if not future.cancel():
            return False
        del self.running[index]
        return True

    def _submitted_over(self, index: int, start: float, future: concurrent.futures.Future) -> None:
        """On the loop: the simple step `index` came back from its thread."""
        if self.running.pop(index, None) is None or future.cancelled():
            return  # the run is being torn down
        error = future.exception()
        if error is not None and not isinstance(error, Exception):  # interrupted, not a failure
            if not self.done.done():
                self.done.set_exception(error)
            return
        if error is None:
            self.results[self.steps[index].name] = future.result()
        else:
            self.records[index].error = describe_exception(error)
        self._start_all(self._simple_over(index, start, error is None))

    def _simple_over(self, index: int, start: float, completed: bool) -> list[int]:
        """Record how the simple step `index` ended, learn how quick it is; the steps it
        leaves ready."""
        record = self.records[index]
        record.duration = time.perf_counter() - start
        self.plan.quick[index] = record.duration < QUICK_SECONDS
        self._record_outcome(self.steps[index], record, completed)
        return self._release(index, completed)

    def _finish(self, index: int, completed: bool) -> None:
        """Step `index` is over: start the steps that waited only for it."""
        self._start_all(self._release(index, completed))

    def _release(self, index: int, completed: bool) -> list[int]:
        """Step `index` is over: the steps that waited only for it, ready to start; those
        with an upstream step that did not complete are skipped instead."""
        waiting, blocked = self.waiting, self.blocked
        self.unfinished -= 1
        ready = []
        for later in self.plan.downstream[index]:
            if not completed:
                blocked.add(later)
            waiting[later] -= 1
            if not waiting[later]:
                if later in blocked:
                    self._skip(later)
                else:
                    ready.append(later)
        if not self.unfinished and not self.done.done():
            self.done.set_result(None)
        return ready

    def _skip(self, index: int) -> None:
        """Skip step `index`, then the steps it leaves with nothing more to wait for (a loop,
        not recursion: skips may cascade down thousands of steps)."""
        waiting, blocked, operations = self.waiting, self.blocked, self.report.operations
        skipped = [index]
        while skipped:
            index = skipped.pop()
            step = self.steps[index]
            self.unfinished -= 1
            blocker = next(name for name in step.upstream if operations[name].state != "completed"
                           and name not in self.dormant)
            self.records[index].state = "skipped"
            self.records[index].reason = reasons.upstream_failed(blocker)
            logger.warning("`%s` skipped: upstream `%s` did not complete", step.name, blocker)
            for later in self.plan.downstream[index]:
                blocked.add(later)
                waiting[later] -= 1
                if not waiting[later]:
                    skipped.append(later)

    def _arguments(self, step: _Step) -> dict[str, Any]:
        results = self.results
        kwargs = {param: results[source] for param, source in step.data}
        if step.constants:
            kwargs.update(step.constants)
        if step.flow_params:
            params = self.params
            kwargs.update({name: params[name] for name in step.flow_params if name in params})
        return kwargs

    async def _run_step(self, index: int) -> None:
        """Call the step (each element of a mapped one) until it succeeds or its retries are
        spent; record the outcome."""
        step, record = self.steps[index], self.records[index]
        record.state = "running"
        completed = False
        start = time.perf_counter()
        current_operation.set(step.name)  # this step's own task: its async calls log as it
        try:
            kwargs = self._arguments(step)
            if step.mapped:
                completed, value = await self._run_elements(step, record, kwargs)
            else:
                completed, value = await self._call_until_done(step, record, kwargs)
            if completed:
                self.results[step.name] = value
        except BaseException as error:  # cancelled, interrupted or a bug: not an operation failure
            if not self.done.done():
                self.done.set_exception(error)  # this step will never finish, so neither will the run
            raise
        finally:
            record.duration = time.perf_counter() - start
            del self.running[index]
        self._record_outcome(step, record, completed)
        self._finish(index, completed)

    async def _call_until_done(self, step: _Step, record: OpRecord, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """(completed, result) of one call with its retries: the stored result when the
        step is cached and one is stored. `record` is the step's, or its element's."""
        try:
            key, hit, value = self._cached(step, record, kwargs)
        except CacheError as error:  # inputs that cannot be stored: no attempt can help
            record.error = str(error)
            return False, None
        if hit:
            return True, value
        for attempt in range(1, step.op.retries + 2):
            record.attempts += 1
            try:
                value = await (step.function(**kwargs) if step.direct else self._call(step, kwargs))
            except Exception as error:  # the user's operation failed: record it, maybe retry
                record.error = describe_exception(error)
                if attempt <= step.op.retries:
                    await self._before_retry(step, record, attempt)
            else:
                # a result that cannot be stored fails: another attempt makes the same
                return self._store(step, record, key, value), value
        return False, None

    async def _run_elements(self, step: _Step, record: OpRecord, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """(completed, results in input order) of a mapped step: one call per element of
        its mapped parameters (zipped), all at once, each with its own retries; an empty
        input gives [] without a call."""
        columns = []
        for name in step.mapped:
            value = kwargs.get(name)
            if not isinstance(value, list):  # a str would map over its characters, a dict over its keys
                record.error = reasons.not_a_list(step.name, name, value)
                return False, None
            columns.append(value)
        unequal = reasons.unequal_lengths(step.name, step.mapped, columns)
        if unequal is not None:
            record.error = unequal
            return False, None
        record.elements = len(columns[0]) if columns else 0
        # each element counts its own attempts: a failure names the element and its attempts
        elements = [OpRecord(naming.element_name(step.name, i)) for i in range(record.elements)]
        calls = [self._call_until_done(step, element, {**kwargs, **dict(zip(step.mapped, values))})
                 for element, values in zip(elements, zip(*columns))]
        outcomes = await asyncio.gather(*calls)
        record.attempts = sum(element.attempts for element in elements)
        record.cached = any(element.cached for element in elements)
        record.failed_elements = tuple(element for element, (done, _) in zip(elements, outcomes) if not done)
        if not record.failed_elements:
            return True, [value for _, value in outcomes]
        return False, None

    def _cached(self, step: _Step, record: OpRecord, kwargs: dict[str, Any]) -> tuple[str | None, bool, Any]:
        """The store's key for a cached step's call (None for others), whether a result
        is stored, and that result; CacheError when its inputs cannot be stored."""
        if not step.op.cache or self.store is None:
            return None, False, None
        key = self.store.key(step.op, kwargs)
        hit, value = self.store.get(key, step.op)
        if hit:
            record.cached = True
            logger.info("`%s`: the stored result of an earlier run (cache)", step.name)
        return key, hit, value

    def _store(self, step: _Step, record: OpRecord, key: str | None, value: Any) -> bool:
        """Store a cached call's result; False when it cannot be stored."""
        if key is not None:
            try:
                self.store.put(key, step.op, value)
            except (CacheError, OSError) as error:
                record.error = str(error) if isinstance(error, CacheError) else f"`{step.name}`: cannot store its result: {error}"
                return False
        return True

    async def _before_retry(self, step: _Step, record: OpRecord, attempt: int) -> None:
        delay = _delay(step.op, attempt - 1)
        logger.warning("`%s` attempt %d/%d failed: %s; retrying in %gs", record.name,
                       attempt, step.op.retries + 1, record.error, delay)
        await asyncio.sleep(delay)

    def _record_outcome(self, step: _Step, record: OpRecord, completed: bool) -> None:
        if completed:
            record.state, record.error = "completed", None
            if self.log_completions:
                logger.info("`%s` completed in %.2fs", step.name, record.duration)
        else:
            record.state = "failed"
            for failed in record.failed_elements or (record,):
                if failed.attempts:
                    logger.error("`%s` failed after %d attempt(s): %s", failed.name, failed.attempts, failed.error)
                else:  # refused before any call: unequal lengths, inputs that cannot be stored…
                    logger.error("`%s` failed: %s", failed.name, failed.error)

    async def _call(self, step: _Step, kwargs: dict[str, Any]) -> Any:
        """One call of a step that is not `direct`: sync, positional-only or timed out."""
        timeout = step.op.timeout_seconds
        if step.in_process and timeout is not None:  # its own process, killed at the deadline
            args, kwargs = _split_positional(step, kwargs)
            call = functools.partial(deadlines.call_in_process, step.name, step.function, tuple(args), kwargs, timeout)
            return await self.loop.run_in_executor(self._thread_pool(), call)
        awaitable = self._begin(step, kwargs)
        if timeout is None:
            return await awaitable
        try:
            return await asyncio.wait_for(awaitable, timeout)
        except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
            if not step.is_async:
                self.report.abandoned += 1
            raise TimeoutError(f"`{step.name}` did not finish within {timeout:g}s") from None

    def _begin(self, step: _Step, kwargs: dict[str, Any]):
        args, kwargs = _split_positional(step, kwargs)
        if step.is_async:
            return step.function(*args, **kwargs)
        if step.in_process:
            return self.loop.run_in_executor(self._process_pool(), functools.partial(step.function, *args, **kwargs))
        call = functools.partial(call_as, step.name, step.function, *args, **kwargs)
        executor: Executor = self._thread_pool()
        return self.loop.run_in_executor(executor, call)

    def outcome(self) -> Any:
        """The flow's result, or FlowFailed when any operation failed."""
        failures = self.report.failures
        flow = self.plan.flow
        if failures:
            raise FlowFailed(flow.name, failures, self.report.names("skipped"), self.report)
        sinks = flow.sinks
        if len(sinks) == 1:
            return self.results[sinks[0]]
        return {sink: self.results[sink] for sink in sinks}


# -- entry points -------------------------------------------------------------------------


def _split_positional(step: _Step, kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """The leading positional-only arguments of a call, and the keyword ones."""
    kwargs = dict(kwargs)
    args = []
    for name in step.positional_only:
        if name not in kwargs:
            break
        args.append(kwargs.pop(name))
    return args, kwargs


async def run_flow(registry: Registry, flow_name: str, params: dict[str, Any] | None = None,
                   report: RunReport | None = None, read_cache: bool = True,
                   artifacts: Path | None = None) -> Any:
    """Run flow `flow_name` locally and return its result (see the module docstring).

    Pass a `report` to read the per-operation records afterwards (FlowFailed carries it
    too). Raises RuntimeUsageError for an unknown flow or bad parameter names.
    """
    flow = registry.flow(flow_name)
    params = dict(params or {})
    check_params(flow, params)
    report = report if report is not None else RunReport(flow_name)
    run = _Run(cached_plan(registry, flow), params, report, ResultStore(registry.root, registry.config, read_cache))
    previous = use_artifacts_folder(artifacts or default_artifacts_folder(registry.root, flow_name))
    start = time.perf_counter()
    try:
        await run.execute()
    finally:
        report.duration = time.perf_counter() - start
        use_artifacts_folder(previous)
    return run.outcome()


def run_flow_sync(registry: Registry, flow_name: str, params: dict[str, Any] | None = None,
                  report: RunReport | None = None, read_cache: bool = True, artifacts: Path | None = None) -> Any:
    """`run_flow` for synchronous callers (starts its own event loop)."""
    return asyncio.run(run_flow(registry, flow_name, params, report, read_cache, artifacts))


def default_artifacts_folder(root: Path, flow_name: str) -> Path:
    """`.orchc_cache/artifacts/FLOW-YYYYmmdd-HHMMSS-ffffff`: one folder per run (made when
    an operation first publishes)."""
    import datetime

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    return root / ".orchc_cache" / "artifacts" / f"{flow_name}-{stamp}"

"""Running a generated flow's operations as Prefect tasks, and ending the run.

A generated flow body is one call, `run_operations(flow_name, parameters)`: the wiring
comes from the lock (each edge once), the tasks from the generated modules' task tables,
so the generated code grows with operations and parameters, not with flows × members.

Every operation is submitted at once, in flow order, with its upstream futures as
arguments (Prefect records them as the task run's inputs, so the UI draws the graph), so
each task run does Prefect's own set-up while its upstream still runs; an operation whose
upstream failed never starts, and at the end its task run, which Prefect leaves pending
(`NotReady`), is given a final `Skipped` state naming the upstream, as the summary and
`FlowFailed` list it. Operations with `when` or `map`, and their downstream, are placed
once what they need is known (`runtime.prefect_branches`).
(Submitting each operation only once its upstream had finished spared Prefect a state
read from the API per consumer, but put that set-up on the critical path: 1.09-1.15× the
hand-written flow on a chain of 100, against 0.97 this way; `bench/RESULTS.md`.) The run
then ends with the summary artifact, then `FlowFailed` naming the failed operations, else
the sinks' results.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from compiler import naming
from compiler.lock.lockfile import LockFile, LockFlow
from runtime import reasons
from runtime.errors import FlowFailed, describe_exception
from runtime.prefect_branches import Outcome, place_dynamic, placed, skipped_state
from runtime.prefect_support import _attempts, _attempts_lock


@dataclass(frozen=True)
class FlowPlan:
    """What a flow submits, read from the lock once per lock and flow."""

    name: str
    #: the flow's operations in the lock's (topological) order
    members: tuple[str, ...]
    sinks: tuple[str, ...]
    #: per operation: (parameter, upstream operation) of its data inputs
    inputs: Mapping[str, tuple[tuple[str, str], ...]]
    #: per operation: the members it waits for without taking data (`depends_on`), in flow order
    waits: Mapping[str, tuple[str, ...]]
    #: per operation: the flow parameters it takes (same name as its own parameter)
    takes: Mapping[str, tuple[str, ...]]
    #: per operation: every member it waits for, data or not, each once, in flow order
    upstream: Mapping[str, tuple[str, ...]]
    #: the operations with `when` or `map` and everything downstream of them, placed once
    #: what they need is known (`runtime.prefect_branches`)
    dynamic: frozenset[str]
    #: per conditional operation: (its condition's operation, negated)
    when: Mapping[str, tuple[str, bool]]
    #: per mapped operation: the parameters it maps over
    mapped: Mapping[str, tuple[str, ...]]
    #: per operation: its parameters that admit None (a skipped input passes None)
    optional: Mapping[str, frozenset[str]]


#: id of a flow -> (the lock, the flow, its plan): a process reads each flow's plan once
_plans: dict[int, tuple[LockFile, LockFlow, FlowPlan]] = {}


def flow_plan(lock: LockFile, flow: LockFlow, members: tuple[str, ...]) -> FlowPlan:
    """`flow`'s plan (a flow of `lock`, or the part of it a subset run chose), running
    `members` (`Registry.members`), remembered while the lock and flow live."""
    known = _plans.get(id(flow))
    if known is not None and known[0] is lock and known[1] is flow:
        return known[2]
    plan = _plan(lock, flow, members)
    if len(_plans) >= 64:  # a long-lived process reloading locks keeps only recent ones
        _plans.clear()
    _plans[id(flow)] = (lock, flow, plan)
    return plan


def _plan(lock: LockFile, flow: LockFlow, members: tuple[str, ...]) -> FlowPlan:
    inside = set(members)
    position = {op: index for index, op in enumerate(members)}
    inputs: dict[str, list[tuple[str, str]]] = {op: [] for op in members}
    orders: dict[str, set[str]] = {op: set() for op in members}
    for edge in lock.edges:
        if edge.target not in inside:
            continue
        if edge.param is not None:
            inputs[edge.target].append((edge.param, edge.source))
        else:  # `_waits` keeps the members among them: a subset run skips the others
            orders[edge.target].add(edge.source)
    waits = {op: _waits(op, sources, members, position) for op, sources in orders.items()}
    takes: dict[str, list[str]] = {op: [] for op in members}
    for param in flow.params:
        for consumer in param.consumers:
            if consumer in inside:
                takes[consumer].append(param.name)
    upstream = {op: tuple(dict.fromkeys(sorted({s for _, s in inputs[op]}.union(waits[op]), key=position.__getitem__)))
                for op in members}
    ops = {op: lock.operation(op) for op in members}
    when = {op: locked.condition for op, locked in ops.items() if locked.condition is not None}
    mapped = {op: tuple(locked.map) for op, locked in ops.items() if locked.map}
    return FlowPlan(
        name=flow.name, members=members, sinks=tuple(flow.sinks),
        inputs={op: tuple(pairs) for op, pairs in inputs.items()},
        waits=waits, takes={op: tuple(names) for op, names in takes.items()},
        upstream=upstream, dynamic=_downstream_of({*when, *mapped}, members, upstream),
        when=when, mapped=mapped,
        optional={op: frozenset(p.name for p in locked.params if p.admits_none) for op, locked in ops.items()},
    )


def _downstream_of(starts: set[str], members: tuple[str, ...], upstream: Mapping[str, tuple[str, ...]]) -> frozenset[str]:
    """`starts` and every member downstream of them (members in topological order)."""
    found = set(starts)
    for op in members:
        if op not in found and any(source in found for source in upstream[op]):
            found.add(op)
    return frozenset(found)


def _waits(op: str, sources: set[str], members: tuple[str, ...], position: Mapping[str, int]) -> tuple[str, ...]:
    """The members `op` waits for through `depends_on`: each source operation, and each
    member inside a source group."""
    if not sources:
        return ()
    groups = [source for source in sources if source not in position]
    return tuple(member for member in members if member != op and (
        member in sources or any(naming.in_scope(member, group) for group in groups)))


def _local(future: Any) -> bool:
    """Whether `future` is the thread runner's (its task ran in this process)."""
    import concurrent.futures

    return isinstance(future.wrapped_future, concurrent.futures.Future)


def _tasks(registry: Any, members: tuple[str, ...]) -> dict[str, Any]:
    """Each member's Prefect task, from the task table of its generated module."""
    from runtime.prefect_engine import import_module

    tables: dict[str, Mapping[str, Any]] = {}
    tasks = {}
    for op in members:
        module = naming.module_name(naming.top_level(op))
        if module not in tables:
            tables[module] = getattr(import_module(registry, module), naming.TASK_TABLE)
        tasks[op] = tables[module][op]
    return tasks


async def run_operations(flow_name: str, parameters: Mapping[str, Any]) -> Any:
    """Run flow `flow_name`'s operations with the flow's `parameters`; what a generated
    flow body returns."""
    from runtime.registry import current_registry

    registry = current_registry()
    if registry.implicit:  # a deployment's run: refuse when the project is not the lock's
        registry.verify_flow(flow_name)
        # generated flows leave validation to the runtime (`validate_parameters=False`:
        # Prefect's costs two pydantic models per flow at import time and knows only the
        # builtin annotations the flow's signature can show); `python -m runtime` has
        # validated its values already, a deployment's arrive as JSON
        from runtime.params import validate_values

        parameters = validate_values(registry, registry.flow(flow_name), dict(parameters))
    flow = registry.flow(flow_name)
    plan = flow_plan(registry.lock, flow, registry.members(flow))
    tasks = _tasks(registry, plan.members)
    outcomes = _submit_static(plan, tasks, parameters)
    await place_dynamic(plan, tasks, parameters, outcomes)
    await _wait_all([future for outcome in outcomes.values() for future in outcome.futures])
    return await _finish(plan, outcomes)


def _submit_static(plan: FlowPlan, tasks: Mapping[str, Any], parameters: Mapping[str, Any]) -> dict[str, Outcome]:
    """Every operation that is not dynamic submitted at once, in flow order, its upstream
    futures as arguments: each task run then does Prefect's own set-up while its upstream
    still runs."""
    outcomes: dict[str, Outcome] = {}
    dynamic = plan.dynamic
    for op in plan.members:
        if op in dynamic:
            continue
        arguments = {param: outcomes[source].future for param, source in plan.inputs[op]}
        arguments.update((name, parameters[name]) for name in plan.takes[op])
        waits = [outcomes[source].future for source in plan.waits[op]]
        outcomes[op] = placed(tasks[op].submit(**arguments, wait_for=waits) if waits else tasks[op].submit(**arguments))
    return outcomes


async def _wait_all(futures: list[Any]) -> None:
    """Until every future is done: thread-pool futures on the event loop, any other
    runner's (Dask, Ray) in one thread that waits for them all; then each records its
    final state, so reading it later asks the API nothing."""
    if all(_local(f) for f in futures):
        await asyncio.gather(*(asyncio.wrap_future(f.wrapped_future) for f in futures))
    else:
        from prefect.futures import wait

        await asyncio.to_thread(wait, futures)
    for future in futures:
        future.wait()


# -- the end of a run -------------------------------------------------------------------


#: the summary rows of the latest run this process finished (`--summary`), with `cached`
last_rows: list[dict[str, Any]] = []
#: the task runs of the latest run this process finished (`settle_task_runs`)
last_task_runs: list[Any] = []


async def _finish(plan: FlowPlan, outcomes: dict[str, Outcome]) -> Any:
    await _end_not_ready(plan, outcomes)
    last_task_runs[:] = [future.task_run_id for outcome in outcomes.values() for future in outcome.futures]
    runs = _task_runs(plan, outcomes)
    await _collect_remote_attempts(runs)
    rows = [_summary_row(name, outcomes[name]) for name in plan.members]
    await _fill_from_api(rows, runs)
    await _publish(plan.name, rows, naming.artifact_key(plan.name))
    last_rows[:] = [{**row, "cached": row["state"] == "Cached"} for row in rows]
    failures = {
        name: describe_exception(future.result(raise_on_failure=False))
        for name, future in runs.items() if future.state.is_failed() or future.state.is_crashed()
    }
    if failures:
        raise FlowFailed(plan.name, failures, [name for name in plan.members if outcomes[name].after_failure])
    results = {name: _result_of(outcomes[name]) for name in plan.sinks}
    return results[plan.sinks[0]] if len(plan.sinks) == 1 else results


def _result_of(outcome: Outcome) -> Any:
    if outcome.skipped is not None:
        return None
    if outcome.elements is not None:
        return [element.result() for element in outcome.elements]
    return outcome.future.result()


#: how long the summary waits for the server to record the task runs of other processes
_RECORDED_WAIT_SECONDS = 5.0
#: how long a failed run waits for the server to record the task runs that never started
_UNSTARTED_WAIT_SECONDS = 60.0


def _task_runs(plan: FlowPlan, outcomes: Mapping[str, Outcome]) -> dict[str, Any]:
    """The task runs of the operations that ran, by operation (`OP[i]` for elements)."""
    runs = {}
    for name in plan.members:
        outcome = outcomes[name]
        if outcome.skipped is not None:
            continue
        if outcome.elements is None:
            runs[name] = outcome.future
        else:
            runs.update((naming.element_name(name, index), future) for index, future in enumerate(outcome.elements))
    return runs


async def _end_not_ready(plan: FlowPlan, outcomes: Mapping[str, Outcome]) -> None:
    """Give every task run that never started (Prefect leaves a run whose upstream failed
    pending, `NotReady`, for ever) its final state: Skipped, naming the upstream operation
    that did not complete. The UI then counts it as skipped, and the flow run's timeline
    ends where the run did."""
    ended = []
    for name in plan.members:  # in flow order: an upstream is marked before its consumers
        outcome = outcomes[name]
        labels = [name] if outcome.elements is None else [naming.element_name(name, i) for i in range(len(outcome.elements))]
        waiting = [(future, label) for future, label in zip(outcome.futures, labels) if not future.state.is_final()]
        if not waiting:
            continue
        blocker = next((source for source in plan.upstream[name] if _did_not_complete(outcomes[source])), None)
        outcome.skipped = reasons.upstream_failed(blocker)
        outcome.after_failure = True
        ended += [(future, label, outcome.skipped) for future, label in waiting]
    if not ended:
        return
    from prefect.client.orchestration import get_client
    from prefect.logging import get_run_logger

    try:
        async with get_client() as client:
            # the server records task runs from events, later on a loaded machine: set a
            # state only once it knows the run, and wait longer than for figures (the
            # run's record is the point here, and this happens only after a failure)
            known = {task_run.id for task_run in await _recorded(
                client, [future.task_run_id for future, _, _ in ended], final=False, seconds=_UNSTARTED_WAIT_SECONDS)}
            for future, label, reason in ended:
                if future.task_run_id not in known:
                    get_run_logger().warning("the server has no record of %s's task run yet; it stays pending", label)
                    continue
                await client.set_task_run_state(future.task_run_id, skipped_state(reason), force=True)
                # such a run kept Prefect's default name (`f.after-92e`): it never got to its
                # own. Renamed only once its state is the newest: the server updates a run
                # (its name included) from any event with a newer state, and the run's
                # `NotReady` event may still be on its way
                await client.request("PATCH", "/task_runs/{id}", path_params={"id": future.task_run_id},
                                     json={"name": label})
    except Exception as error:  # the run's outcome stands; only the UI would show less
        get_run_logger().warning("could not mark the skipped task runs: %s", describe_exception(error))


def _did_not_complete(outcome: Outcome) -> bool:
    return outcome.after_failure or any(f.state.is_failed() or f.state.is_crashed() for f in outcome.futures)


async def _collect_remote_attempts(futures: Mapping[str, Any]) -> None:
    """Bring the attempt records of operations run by the task runner's workers into this
    process, when the runner can (`attempts` of `runtime.dask_support`'s runner)."""
    remote = [future.task_run_id for future in futures.values() if not _local(future)]
    if not remote:  # the thread runner's: recorded here already
        return
    from prefect.context import FlowRunContext

    context = FlowRunContext.get()
    collect = getattr(context.task_runner, "attempts", None) if context is not None else None
    if collect is None:
        return
    records = await asyncio.to_thread(collect, remote)
    with _attempts_lock:
        _attempts.update(records)


async def _fill_from_api(rows: list[dict[str, Any]], futures: Mapping[str, Any]) -> None:
    """Attempts and durations of the operations that ran in other processes and whose
    records did not come back (a Ray worker's), read from their task runs once the server
    has recorded their final states (it does so from events, a moment after they finish)."""
    missing = {futures[row["operation"]].task_run_id: row for row in rows
               if row["operation"] in futures and row["attempts"] == 0 and row["state"] != "Skipped"
               and not _local(futures[row["operation"]])}
    if not missing:
        return
    from prefect.client.orchestration import get_client

    async with get_client() as client:
        recorded = await _recorded(client, list(missing), final=True)
    for task_run in recorded:
        row = missing[task_run.id]
        row["attempts"], row["duration_s"] = task_run_figures(task_run)
        row["retries"] = max(row["attempts"] - 1, 0)


def settle_task_runs() -> None:
    """Wait (up to _RECORDED_WAIT_SECONDS) until the server has recorded the final state
    of every task run of the latest run. Prefect's temporary server records them from
    events a moment after they end; stopped before, it loses them and logs each lost one
    with a traceback ("Error flushing events"), so `status` would show them unfinished."""
    if not last_task_runs:
        return
    from prefect.client.orchestration import get_client

    async def settle() -> None:
        async with get_client() as client:
            await _recorded(client, list(last_task_runs), final=True)

    try:
        asyncio.run(settle())
    except Exception:  # the run is over and reported; only its record could be less complete
        pass
    finally:
        last_task_runs.clear()


async def _recorded(client: Any, ids: list[Any], final: bool, seconds: float = _RECORDED_WAIT_SECONDS) -> list[Any]:
    """The task runs `ids` once the server has recorded them (in a final state when
    `final`), or those it has after `seconds`."""
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterId

    only_these = TaskRunFilter(id=TaskRunFilterId(any_=ids))
    deadline = time.monotonic() + seconds
    while True:
        task_runs = await client.read_task_runs(task_run_filter=only_these)
        recorded = [t for t in task_runs if t.state is not None and (t.state.is_final() or not final)]
        if len(recorded) == len(ids) or time.monotonic() > deadline:
            return recorded
        await asyncio.sleep(0.1)


def task_run_figures(task_run: Any) -> tuple[int, float | None]:
    """A Prefect task run's attempts and seconds of run time, as the run summary shows them."""
    total = task_run.total_run_time
    return task_run.run_count, round(total.total_seconds(), 3) if total is not None else None


def _summary_row(name: str, outcome: Outcome) -> dict[str, Any]:
    """The summary of one operation: its task run's, or its elements' together (the
    first that did not complete decides the state), or a skip with its reason."""
    row = {"operation": name, "state": "Skipped", "attempts": 0, "retries": 0, "duration_s": None,
           "reason": outcome.skipped}
    if outcome.skipped is not None:
        return row
    runs = [outcome.future] if outcome.elements is None else outcome.elements
    states = [future.state for future in runs]
    with _attempts_lock:
        records = [_attempts.pop(future.task_run_id, (0, None, None)) for future in runs]
    starts = [start for _, start, _ in records if start is not None]
    ends = [end for _, _, end in records if end is not None]
    attempts = sum(count for count, _, _ in records)
    unfinished = next((state for state in states if not state.is_completed()), None)
    if unfinished is not None:
        state = unfinished.name
    elif states and all(state.name == "Cached" for state in states):
        state = "Cached"
    else:
        state = "Completed"
    row.update(state=state, attempts=attempts, retries=max(attempts - len(runs), 0), reason=None,
               duration_s=round(max(ends) - min(starts), 3) if starts and ends else None)
    return row


async def _publish(flow_name: str, rows: list[dict[str, Any]], key: str) -> None:
    from prefect.artifacts import acreate_table_artifact
    from prefect.logging import get_run_logger

    try:
        await acreate_table_artifact(table=rows, key=key, description=f"orchc run summary of flow `{flow_name}`")
    except Exception as error:  # a summary must never fail the run it describes
        get_run_logger().warning("could not publish the run summary artifact: %s", describe_exception(error))

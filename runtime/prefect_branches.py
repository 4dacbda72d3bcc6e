"""Conditions, fan-out and skips under Prefect: how each operation of a run was placed
(`Outcome`), the operations that can only be placed once something upstream is known,
and the task runs that record a skip.

An operation with `when` or `map`, and everything downstream of one, is *dynamic*: it is
submitted by a coroutine of its own once what it needs is known (its condition's result,
the lists it maps over, whether an input was skipped), while every other operation is
submitted at once (`runtime.prefect_flows`). So a condition waits only on its own
upstream and independent branches keep running.

A skipped operation is still a task run, named by its operation, that ends at once in a
`Completed` state named `Skipped` with the reason as its message: the UI, `status` and
the summary show it as skipped, never as a silent success, and never pending. A mapped
operation is one task run per element, named `OP[i]`, each with the operation's retries
and timeout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compiler import naming
from runtime import reasons


@dataclass
class Outcome:
    """How one operation of a run was placed."""

    #: its task run (a skip's too); None for a mapped operation
    future: Any = None
    #: a mapped operation's task runs, one per element, in input order ([] for no element)
    elements: list[Any] | None = None
    #: why it was skipped, None when it runs
    skipped: str | None = None
    #: skipped because something upstream failed: its downstream is skipped whatever
    #: their annotations (a skip by a condition hands None to consumers that admit it)
    after_failure: bool = False
    #: the futures to wait for before the run ends
    futures: list[Any] = field(default_factory=list)

    def argument(self) -> Any:
        """What a consumer is passed: the future, or the list of element futures (Prefect
        resolves both to results)."""
        return list(self.elements) if self.elements is not None else self.future


def placed(future: Any) -> Outcome:
    return Outcome(future=future, futures=[future])


async def place_dynamic(plan: Any, tasks: Mapping[str, Any], parameters: Mapping[str, Any],
                        outcomes: dict[str, Outcome]) -> None:
    """Place every dynamic operation of `plan` into `outcomes` (which holds the others),
    each as soon as what it needs is known."""
    if not plan.dynamic:
        return
    loop = asyncio.get_running_loop()
    ready = {op: loop.create_future() for op in plan.dynamic}

    async def place(op: str) -> None:
        try:
            for source in plan.upstream[op]:
                if source in ready:
                    await ready[source]
            outcomes[op] = await _decide(plan, op, tasks[op], parameters, outcomes)
        finally:
            if not ready[op].done():
                ready[op].set_result(None)

    await asyncio.gather(*(place(op) for op in plan.members if op in ready))


async def _decide(plan: Any, op: str, task: Any, parameters: Mapping[str, Any],
                  outcomes: Mapping[str, Outcome]) -> Outcome:
    upstream = [outcomes[source] for source in plan.upstream[op]]
    waits = [future for outcome in upstream for future in outcome.futures]
    failed = next((source for source in plan.upstream[op] if outcomes[source].after_failure), None)
    if failed is not None:
        return _skip(op, reasons.upstream_failed(failed), waits, after_failure=True)
    condition = plan.when.get(op)
    if condition is not None:
        target, negated = condition
        try:
            value = await _result(outcomes[target])
        except Exception:  # the condition failed: its own task run says how
            return _skip(op, reasons.upstream_failed(target), waits, after_failure=True)
        try:
            runs = bool(value) != negated
        except Exception as error:  # a result whose truth cannot be told (an array): the operation fails
            return _fail(op, reasons.untestable_condition(target, error), waits)
        if not runs:
            return _skip(op, reasons.condition_unmet(target, negated, outcomes[target].skipped is not None), waits)
    arguments: dict[str, Any] = {name: parameters[name] for name in plan.takes[op]}
    for param, source in plan.inputs[op]:
        outcome = outcomes[source]
        if outcome.skipped is None:
            arguments[param] = outcome.argument()
        elif param in plan.mapped.get(op, ()) or param not in plan.optional[op]:
            return _skip(op, reasons.skipped_input(source, param), waits)
        else:
            arguments[param] = None
    order = [f for source in plan.waits[op] for f in outcomes[source].futures]
    if op not in plan.mapped:
        return placed(task.submit(**arguments, wait_for=order) if order else task.submit(**arguments))
    return await _map(op, task, plan.mapped[op], arguments, dict(plan.inputs[op]), order, waits)


async def _map(op: str, task: Any, mapped: tuple[str, ...], arguments: dict[str, Any], sources: Mapping[str, str],
               order: list[Any], waits: list[Any]) -> Outcome:
    """One task run per element of the mapped arguments (zipped); `sources` names the
    operation feeding each parameter."""
    columns = []
    for name in mapped:
        value = arguments[name]
        elements = isinstance(value, list) and value and all(_is_future(v) for v in value)
        if _is_future(value) or elements:
            # a whole upstream result: its length is needed now; a mapped upstream's
            # elements must all complete, as on the local engine (a failed element skips
            # the whole downstream), and then go one by one, keeping each run's lineage
            try:
                resolved = await _result(Outcome(elements=value) if elements else Outcome(future=value))
            except Exception:
                return _skip(op, reasons.upstream_failed(sources[name]), waits, after_failure=True)
            value = value if elements else resolved
        if not isinstance(value, list):  # a str would map over its characters, a dict over its keys
            return _fail(op, reasons.not_a_list(op, name, value), waits)
        columns.append(value)
    unequal = reasons.unequal_lengths(op, mapped, columns)
    if unequal is not None:
        return _fail(op, unequal, waits)
    elements = []
    for index, values in enumerate(zip(*columns)):
        element = task.with_options(task_run_name=naming.element_name(op, index))
        call = {**arguments, **dict(zip(mapped, values))}
        elements.append(element.submit(**call, wait_for=order) if order else element.submit(**call))
    return Outcome(elements=elements, futures=list(elements))


def _is_future(value: Any) -> bool:
    from prefect.futures import PrefectFuture

    return isinstance(value, PrefectFuture)


async def _result(outcome: Outcome) -> Any:
    """The result of an upstream operation, waited for off the event loop (None when it
    was skipped); raises what the operation raised."""
    if outcome.skipped is not None:
        return None
    if outcome.elements is not None:
        return [await asyncio.to_thread(element.result) for element in outcome.elements]
    return await asyncio.to_thread(outcome.future.result)


# -- the task runs of skips and of failures the flow finds itself ------------------------


#: how a skipped task run's state message starts, for the UI, where it stands alone
_SKIPPED = "skipped: "


def skipped_state(reason: str) -> Any:
    """The final state of a skipped operation's task run."""
    from prefect.states import Completed

    return Completed(name="Skipped", message=_SKIPPED + reason)


def skip_reason(message: str | None) -> str | None:
    """The reason a skipped task run's state message gives (`skipped_state`'s), as the
    run summary words it."""
    return message[len(_SKIPPED):] if message and message.startswith(_SKIPPED) else message


def _skip_body(reason: str) -> Any:
    return skipped_state(reason)


def _fail_body(message: str) -> Any:
    raise ValueError(message)


def _helper_run(op: str, body: Any, argument: str, waits: list[Any]) -> Any:
    import prefect
    from prefect import allow_failure
    from prefect.cache_policies import NO_CACHE

    helper = prefect.task(body, name=op, task_run_name=op, cache_policy=NO_CACHE, persist_result=False)
    return helper.submit(argument, wait_for=[allow_failure(f) for f in waits])


def _skip(op: str, reason: str, waits: list[Any], after_failure: bool = False) -> Outcome:
    future = _helper_run(op, _skip_body, reason, waits)
    return Outcome(future=future, skipped=reason, after_failure=after_failure, futures=[future])


def _fail(op: str, message: str, waits: list[Any]) -> Outcome:
    """A failure the flow finds itself (unequal mapped lengths): a task run of the
    operation that fails with `message`."""
    return placed(_helper_run(op, _fail_body, message, waits))

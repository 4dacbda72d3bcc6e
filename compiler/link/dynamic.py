"""Conditions and fan-out as the linker sees them: a mapped operation's types lifted to
lists, `when=` bound to its condition as an edge, and the static checks of both (OC313,
OC314, OC310 for a condition on itself, OC315).

Both options are literals, so their shapes are proven before anything runs: a mapped
parameter `p: T` is bound as `list[T]` (by the usual rules, its flow parameter becomes
`list[T]`), and the mapped operation's result is `list[R]` for its return annotation `R`,
which is what its consumers and type binding see.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence

from compiler.diagnostics import Diagnostic, did_you_mean
from compiler.link.bind import split_union, without_none
from compiler.model import Edge, OperationSpec, TypeRef

#: a collection annotation and its element type: `list[T]`, `tuple[T, ...]`, `Sequence[T]`…
_COLLECTION = re.compile(
    r"^(?:list|set|frozenset|tuple|typing\.(?:Sequence|Iterable|Collection|List)"
    r"|collections\.abc\.(?:Sequence|Iterable|Collection))\[(?P<element>.*?)(?:, \.\.\.)?\]$")
_ANY = frozenset({"typing.Any", "object"})


def lifted(ref: TypeRef | None) -> TypeRef | None:
    """`list[T]` for `T`."""
    return None if ref is None else TypeRef(f"list[{ref.text}]", f"list[{ref.resolved}]")


def lift_mapped(op: OperationSpec) -> OperationSpec:
    """`op` as consumers and binding see it: each mapped parameter a list of its
    annotation, the result a list of the return annotation. Unmapped operations as they are."""
    mapped = op.options.map
    if not mapped:
        return op
    params = tuple(dataclasses.replace(p, annotation=lifted(p.annotation)) if p.name in mapped else p
                   for p in op.params)
    return dataclasses.replace(op, params=params, returns=lifted(op.returns))


def bind_when(op: OperationSpec, operations: Mapping[str, OperationSpec], groups: frozenset[str]) -> list[Edge | Diagnostic]:
    """The `when` edge from the condition's operation, or why there is none."""
    condition = op.options.condition
    if condition is None:
        return []
    target, _ = condition
    span = op.option_spans.of("when") or op.decorator_span
    if target == op.name:
        return [Diagnostic("OC310", f"`{op.name}` is its own condition (`when`)", span,
                           "name the operation whose result decides whether this one runs")]
    if target not in operations:
        what = "a group" if target in groups else "not an operation"
        hint = did_you_mean(target, list(operations)) or "name an operation by its full dotted name"
        return [Diagnostic("OC314", f"`when` of `{op.name}` names `{target}`, which is {what}", span, hint)]
    diagnostics: list[Edge | Diagnostic] = [Edge(target, op.name, None, "when")]
    returns = operations[target].returns
    if returns is not None and without_none(returns.resolved) != "bool":
        diagnostics.append(Diagnostic(
            "OC315", f"the condition of `{op.name}`, `{target}`, returns `{returns.text}`, not `bool`: "
            f"its result is tested for truth", span,
            f"annotate `{target}` with `-> bool`, or condition on an operation that returns one",
            ((operations[target].declared, f"`{target}` is defined here"),)))
    return diagnostics


def _fits_union(given: str, element: str) -> bool:
    """Whether every element type `given` may be is one `element` admits (`int` fits `int | None`)."""
    admitted = set(split_union(element))
    return all(member in admitted for member in split_union(given))


def check_mapped_inputs(operations: Mapping[str, OperationSpec], edges: Sequence[Edge]) -> list[Diagnostic]:
    """OC313: a mapped parameter bound to a producer that returns no list of its type.
    `operations` are lifted (`lift_mapped`); unannotated sides are not checked."""
    diagnostics = []
    for edge in edges:
        consumer = operations[edge.target]
        if edge.param is None or edge.param not in consumer.options.map:
            continue
        param = next(p for p in consumer.params if p.name == edge.param)
        returns = operations[edge.source].returns
        if param.annotation is None or returns is None:
            continue
        element = param.annotation.resolved[len("list["):-1]
        match = _COLLECTION.match(returns.resolved)  # `list[T] | None` may be None: no list to map over
        given = match.group("element") if match else None
        if given is not None and (_fits_union(given, element) or given in _ANY or element in _ANY):
            continue
        diagnostics.append(Diagnostic(
            "OC313", f"`{consumer.name}` maps over `{edge.param}: {param.annotation.text[len('list['):-1]}`, "
            f"but `{edge.source}` returns `{returns.text}`, not a list of it", param.span,
            f"annotate `{edge.source}` with `-> list[{param.annotation.text[len('list['):-1]}]`, "
            f"or bind `{edge.param}` to another operation with `inputs=`",
            ((operations[edge.source].declared, f"`{edge.source}` is defined here"),)))
    return diagnostics

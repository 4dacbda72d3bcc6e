"""Dependency inference: binds each operation parameter to a producer (inputs, name, type)
or leaves it a flow parameter, and turns `depends_on` into ordering edges."""

from __future__ import annotations

import difflib
import json
import re
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from compiler import naming
from compiler.diagnostics import Diagnostic, did_you_mean
from compiler.model import BINDABLE_KINDS, Edge, EdgeReason, OperationSpec, ParamSpec, Span, TypeRef

# Modules whose types carry any data: never nominal. The rest of the standard library is
# treated the same (Path, datetime, Decimal…), unless the project has a package of that name.
_STRUCTURAL_MODULES = frozenset({"builtins", "typing", "typing_extensions", "collections", "types", "abc"})
_NAME = re.compile(r"[A-Za-z_][\w.]*")


@dataclass(frozen=True, slots=True)
class Target:
    """Something a parameter can bind to: an operation, or a group standing for its sink."""

    kind: str  # "operation" | "group"
    name: str

    def describe(self) -> str:
        return f"{self.kind} `{self.name}`"


@dataclass(frozen=True, slots=True)
class GroupBinding:
    """A binding to a group, resolved to the group's single sink once all edges are known."""

    consumer: str
    param: str
    group: str
    reason: EdgeReason
    span: Span


def split_union(resolved: str) -> list[str]:
    """Top-level members of a canonical union (`a | list[b | c]` -> `a`, `list[b | c]`)."""
    if " | " not in resolved:  # most annotations: no need to walk the brackets
        return [resolved.strip()] if resolved.strip() else []
    members, depth, start, index = [], 0, 0, 0
    while index < len(resolved):
        char = resolved[index]
        depth += (char == "[") - (char == "]")
        if depth == 0 and resolved.startswith(" | ", index):
            members.append(resolved[start:index])
            index = start = index + 3
            continue
        index += 1
    members.append(resolved[start:])
    return [member.strip() for member in members if member.strip()]


def without_none(resolved: str) -> str:
    """`X | None` binds like `X`."""
    return " | ".join(m for m in split_union(resolved) if m != "None")


class Binder:
    """Holds the scope indexes of one project and binds its parameters."""

    def __init__(
        self,
        operations: Sequence[OperationSpec],
        groups: Sequence[str],
        opaque_types: frozenset[str],
        project_packages: frozenset[str],
    ) -> None:
        self.operations = {op.name: op for op in operations}
        self.groups = frozenset(groups)
        self.opaque_types = opaque_types
        self.project_packages = project_packages
        #: operation -> the scopes it binds in, innermost first (`naming.ancestors`)
        self.scopes = {name: naming.ancestors(name) for name in self.operations}
        #: resolved annotation -> its binding key (many parameters share a type)
        self._binding_keys: dict[str, str | None] = {}
        self.by_key = self._name_index()
        self.by_type = self._type_index()
        #: the first three characters of a name any scope knows -> those names (OC316)
        self._by_prefix: dict[str, set[str]] | None = None

    # -- indexes ------------------------------------------------------------------------

    def _name_index(self) -> dict[str, dict[str, set[Target]]]:
        """scope -> name -> targets: operations by relative path and function name,
        subgroups by relative path (all with dots as underscores). A pipeline step is
        known by its path only: the function it uses is its `use` operation's, and a
        spec reusing an operation must not take that operation's name from its consumers."""
        index: dict[str, dict[str, set[Target]]] = defaultdict(lambda: defaultdict(set))
        for op in self.operations.values():
            target = Target("operation", op.name)
            for scope in self.scopes[op.name]:
                index[scope][naming.relative(op.name, scope)].add(target)
                if op.uses is None:
                    index[scope][op.function].add(target)
        for group in self.groups:
            target = Target("group", group)
            for scope in naming.ancestors(group):
                index[scope][naming.relative(group, scope)].add(target)
        return index

    def _type_index(self) -> dict[str, dict[str, set[str]]]:
        """scope -> binding key of a return type -> producing operations."""
        index: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        for op in self.operations.values():
            key = self.binding_key(op.returns)
            if key is not None:
                for scope in self.scopes[op.name]:
                    index[scope][key].add(op.name)
        return index

    def _nominal_name(self, name: str) -> bool:
        if "." not in name or name in self.opaque_types:
            return False
        top = name.split(".", 1)[0]
        if top in self.project_packages:
            return True
        return top not in _STRUCTURAL_MODULES and top not in sys.stdlib_module_names

    def binding_key(self, ref: TypeRef | None) -> str | None:
        """The type a parameter or return binds by, or None when it must not bind by type:
        builtin, structural and opaque types (alone or as generic arguments) never do."""
        if ref is None:
            return None
        if ref.resolved not in self._binding_keys:
            key = without_none(ref.resolved)
            nominal = any(self._nominal_name(n) for n in _NAME.findall(key))
            self._binding_keys[ref.resolved] = key if nominal else None
        return self._binding_keys[ref.resolved]

    # -- binding ------------------------------------------------------------------------

    def bind_all(self) -> tuple[list[Edge], list[GroupBinding], list[Diagnostic]]:
        edges: list[Edge] = []
        pending: list[GroupBinding] = []
        diagnostics: list[Diagnostic] = []
        for op in self.operations.values():
            fixed = {name for name, _ in op.options.arguments}  # a step's literal `params`
            for param in op.params:
                if param.kind in BINDABLE_KINDS and param.name not in fixed:
                    bound = self.bind_param(op, param)
                    if not bound and param.default is None:
                        bound = self._near_miss(op, param)
                    self._collect(bound, edges, pending, diagnostics)
            self._collect(self.bind_depends_on(op), edges, pending, diagnostics)
        return edges, pending, diagnostics

    @staticmethod
    def _collect(result, edges, pending, diagnostics) -> None:
        for item in result:
            if isinstance(item, Edge):
                edges.append(item)
            elif isinstance(item, GroupBinding):
                pending.append(item)
            else:
                diagnostics.append(item)

    def bind_param(self, op: OperationSpec, param: ParamSpec) -> list[Edge | GroupBinding | Diagnostic]:
        """Bind one parameter; the first rule that applies wins.

        1. explicit: `inputs={"param": "x.y"}` names an operation (or a group, standing
           for its single sink). An unknown target or the operation itself is an error.
        2. name: walk the scope chain (the operation's group, each enclosing group, the
           root). In scope S an operation is known by its path relative to S with dots as
           underscores and by its function name; a subgroup of S by its relative path. The
           first scope with a match wins; two different matches there are an ambiguity.
           An operation never binds to itself, nor to a group that contains it.
        3. type: the parameter's nominal annotation (`X | None` binds like `X`; builtin,
           structural and opaque types never bind) equals the return annotation of the
           producers in the nearest scope that has any; exactly one binds, several are an
           ambiguity.
        4. otherwise it is a flow parameter (no edge).
        Each rule walks the whole scope chain before the next rule is tried.
        """
        explicit = dict(op.options.inputs)
        if param.name in explicit:
            return self._bind_explicit(op, param, explicit[param.name])
        for scope in self.scopes[op.name]:
            found = self._candidates_by_name(op, scope, param.name)
            if found:
                return self._bind_found(op, param, scope, found, "name")
        key = self.binding_key(param.annotation)
        if key is None:
            return []
        for scope in self.scopes[op.name]:
            producers = self.by_type.get(scope, {}).get(key, set()) - {op.name}
            if producers:
                found = {Target("operation", name) for name in producers}
                return self._bind_found(op, param, scope, found, "type")
        return []

    def _near_miss(self, op: OperationSpec, param: ParamSpec) -> list[Diagnostic]:
        """OC316: a required flow parameter named almost like something it could bind to
        (`restarted` beside operation `restart`) is most likely a binding that missed."""
        close = self._close_names(param.name)
        for scope in self.scopes[op.name] if close else ():
            names = self.by_key.get(scope, {})
            for name in close:
                found = self._candidates_by_name(op, scope, name) if name in names else set()
                if found:
                    target = min(found, key=lambda t: (t.name, t.kind))
                    return [Diagnostic(
                        "OC316",
                        f"parameter `{param.name}` of `{op.name}` binds to nothing and becomes a required "
                        f"flow parameter, but its name is close to `{name}`, the {target.describe()}",
                        param.span,
                        f"to take that result, rename the parameter `{name}` or bind it with "
                        f"`inputs={{{json.dumps(param.name)}: {json.dumps(target.name)}}}`; "
                        "to keep a flow parameter, give it a default")]
        return []

    def _close_names(self, word: str) -> list[str]:
        """The names any scope knows that are at least 0.8 alike to `word` (difflib's ratio),
        best first. Only names sharing its first three characters are compared: comparing
        with every name costs seconds in a project of thousands of operations, and a
        binding that missed keeps its start (`restarted`, `restart`; `status`, `statuses`)."""
        if self._by_prefix is None:
            index: dict[str, set[str]] = defaultdict(set)
            for names in self.by_key.values():
                for name in names:
                    index[name[:3]].add(name)
            self._by_prefix = index
        candidates = self._by_prefix.get(word[:3])
        if not candidates:
            return []
        matcher = difflib.SequenceMatcher(b=word)
        scored = []
        for name in candidates:
            matcher.set_seq1(name)
            if matcher.real_quick_ratio() >= 0.8 and matcher.quick_ratio() >= 0.8 and matcher.ratio() >= 0.8:
                scored.append((-matcher.ratio(), name))
        return [name for _, name in sorted(scored)]

    def _candidates_by_name(self, op: OperationSpec, scope: str, name: str) -> set[Target]:
        targets = self.by_key.get(scope, {}).get(name, set())
        return {
            t for t in targets
            if not (t.kind == "operation" and t.name == op.name)
            and not (t.kind == "group" and naming.in_scope(op.name, t.name))
        }

    def _bind_found(self, op, param, scope, found: set[Target], reason: EdgeReason) -> list:
        if len(found) == 1:
            return [self._binding(op, param, next(iter(found)), reason, param.span)]
        return [self._ambiguity(op, param, scope, found, reason)]

    def _binding(self, op, param, target: Target, reason: EdgeReason, span: Span) -> Edge | GroupBinding:
        if target.kind == "group":
            return GroupBinding(op.name, param.name, target.name, reason, span)
        return Edge(target.name, op.name, param.name, reason)

    def _ambiguity(self, op, param, scope, found: set[Target], reason: EdgeReason) -> Diagnostic:
        ordered = sorted(found, key=lambda t: (t.name, t.kind))
        where = f"scope `{scope}`" if scope else "the root scope"
        listed = " and ".join(t.describe() for t in ordered)
        related = tuple(
            (self.operations[t.name].declared, f"candidate `{t.name}`")
            for t in ordered if t.kind == "operation"
        )
        rule = "by name" if reason == "name" else f"by type `{without_none(param.annotation.resolved)}`"
        return Diagnostic(
            "OC304",
            f"parameter `{param.name}` of `{op.name}` is ambiguous: it matches {listed} {rule} in {where}",
            param.span,
            f"bind it explicitly, e.g. `inputs={{{json.dumps(param.name)}: {json.dumps(ordered[0].name)}}}`",
            related)

    def _resolve_target(self, name: str) -> Target | None:
        if name in self.operations:
            return Target("operation", name)
        if name in self.groups:
            return Target("group", name)
        return None

    def _unknown(self, code: str, what: str, name: str, span: Span) -> Diagnostic:
        hint = did_you_mean(name, [*self.operations, *self.groups])
        return Diagnostic(code, f"{what} `{name}`, which is neither an operation nor a group", span,
                          hint or "name an operation or a group by its full dotted name")

    def _bind_explicit(self, op: OperationSpec, param: ParamSpec, name: str) -> list:
        span = next((value for key, _, value in op.option_spans.inputs if key == param.name), param.span)
        if name == op.name:
            return [Diagnostic("OC310", f"`{op.name}` binds its own parameter `{param.name}` to itself",
                               span, "an operation cannot consume its own result; name another operation")]
        target = self._resolve_target(name)
        if target is None:
            return [self._unknown("OC303", f"`inputs` binds `{param.name}` of `{op.name}` to", name, span)]
        if target.kind == "group" and naming.in_scope(op.name, target.name):
            return [Diagnostic("OC310", f"`{op.name}` binds `{param.name}` to its own group `{name}`",
                               span, "name an operation outside the group, or one of its other operations")]
        return [self._binding(op, param, target, "inputs", span)]

    def bind_depends_on(self, op: OperationSpec) -> list[Edge | Diagnostic]:
        """`depends_on` entries become ordering edges: from the operation, or from every
        operation of a group (except the consumer itself)."""
        spans = dict(op.option_spans.depends_on)
        results: list[Edge | Diagnostic] = []
        for name in op.options.depends_on:
            span = spans.get(name, op.decorator_span)
            target = self._resolve_target(name)
            if name == op.name:
                results.append(Diagnostic("OC310", f"`{op.name}` lists itself in `depends_on`", span,
                                          "remove it from `depends_on`"))
            elif target is None:
                results.append(self._unknown("OC302", f"`depends_on` of `{op.name}` names", name, span))
            elif target.kind == "operation":
                results.append(Edge(name, op.name, None, "depends_on"))
            elif naming.in_scope(op.name, name):
                results.append(Diagnostic("OC310", f"`{op.name}` lists its own group `{name}` in `depends_on`", span,
                                          "name the operations it must follow, or a group it is not part of"))
            else:
                results.extend(
                    Edge(member, op.name, None, "depends_on", via_group=name)
                    for member in sorted(self.operations)
                    if naming.in_scope(member, name) and member != op.name
                )
        return results

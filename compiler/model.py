"""The immutable values passed between the compiler's passes (its IR).

Every path is relative to the project root and uses POSIX separators; every line and
column counts from 1. Collections are tuples, sorted where they become output.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from compiler import naming
from compiler.options import condition_of

EdgeReason = Literal["inputs", "name", "type", "depends_on", "when"]
#: the `ParamSpec.kind`s a flow can pass by name; the others (`*args`, `**kwargs`,
#: positional-only) are reported by extract and never bound
BINDABLE_KINDS = frozenset({"positional_or_keyword", "keyword_only"})


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A place in a project file."""

    #: project-relative POSIX path
    path: str
    #: 1-based line
    line: int = 1
    #: 1-based column, in characters
    column: int = 1
    #: 1-based end line (inclusive), 0 when unknown
    end_line: int = 0
    #: 1-based end column (exclusive), 0 when unknown
    end_column: int = 0


@dataclass(frozen=True, slots=True)
class SourceFile:
    """One discovered Python file, read but not parsed."""

    #: project-relative POSIX path, e.g. `examples/scraping/ops.py`
    path: str
    #: dotted module name relative to its source root, e.g. `scraping.ops`
    module: str
    #: the file's text (decoded UTF-8, newlines as in the file)
    text: str


@dataclass(frozen=True, slots=True)
class TypeRef:
    """A type annotation as written and as resolved through the module's imports."""

    #: the annotation's source text, e.g. `Optional[Job]`
    text: str
    #: canonical resolved form: qualified names, builtins bare, `typing.List` as `list`,
    #: `Optional[X]` / `Union[X, None]` as `X | None`, union members sorted,
    #: e.g. `list[scraping.models.Job] | None`
    resolved: str


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One parameter of an operation function."""

    name: str
    #: None when the parameter has no annotation
    annotation: TypeRef | None
    #: the default's source text as written, None when there is no default
    default: str | None
    #: for a literal default, `repr()` of its value (canonical); None otherwise
    default_literal: str | None
    #: `positional_only`, `positional_or_keyword`, `keyword_only`, `var_positional`, `var_keyword`
    kind: str
    span: Span


@dataclass(frozen=True, slots=True)
class Options:
    """The `@operation(...)` keyword arguments other than `name`, as literal values."""

    retries: int = 0
    #: a number, or a tuple of numbers (one delay per retry)
    retry_delay_seconds: float | int | tuple[float | int, ...] = 0
    timeout_seconds: float | int | None = None
    tags: tuple[str, ...] = ()
    cache: bool = False
    #: part of a cached result's key: bump it to drop what earlier runs stored
    cache_version: str | int | None = None
    #: how long a cached result stays usable
    cache_expiration_seconds: float | int | None = None
    persist_result: bool | None = None
    executor: Literal["thread", "process"] = "thread"
    description: str | None = None
    #: ordering-only upstream targets (operation or group names), as written, sorted
    depends_on: tuple[str, ...] = ()
    #: explicit data bindings, (parameter, target) pairs sorted by parameter
    inputs: tuple[tuple[str, str], ...] = ()
    #: the condition: `OP` (run only when OP's result is truthy) or `not OP`
    when: str | None = None
    #: the parameters mapped over, as written (zipped when several)
    map: tuple[str, ...] = ()
    #: literal arguments (a pipeline step's `params`): (parameter, its value's canonical
    #: repr), sorted; such a parameter is neither bound nor a flow parameter
    arguments: tuple[tuple[str, str], ...] = ()

    @property
    def condition(self) -> tuple[str, bool] | None:
        """(the condition's operation, whether it is negated), None without `when`."""
        return condition_of(self.when)


@dataclass(frozen=True, slots=True)
class OptionSpans:
    """Where each decorator keyword argument was written, for diagnostics."""

    #: (keyword, span of its value), in source order; positional name appears as `name`
    keywords: tuple[tuple[str, Span], ...] = ()
    #: (target, span of that string) for every `depends_on` entry
    depends_on: tuple[tuple[str, Span], ...] = ()
    #: (parameter, span of the key string, span of the value string) for every `inputs` entry
    inputs: tuple[tuple[str, Span, Span], ...] = ()

    def of(self, keyword: str) -> Span | None:
        return next((span for key, span in self.keywords if key == keyword), None)


@dataclass(frozen=True, slots=True)
class OperationSpec:
    """One `@operation`-decorated function as read from source (extract's output)."""

    #: the full dotted name from `name=`
    name: str
    module: str
    function: str
    #: where the `def` (or `async def`) keyword is
    span: Span
    #: where the decorator is (its `@`)
    decorator_span: Span
    #: where the `name=` value is
    name_span: Span
    is_async: bool
    params: tuple[ParamSpec, ...]
    returns: TypeRef | None
    #: the cleaned docstring (`inspect.cleandoc`), None without one
    docstring: str | None
    options: Options
    option_spans: OptionSpans
    #: `sha256:<hex>` of the function's source (decorators included, leading comments
    #: excluded, newlines normalised to `\n`)
    source_hash: str
    #: for a pipeline step (`compiler.specs`): the operation whose function it uses; its
    #: spans (but `span`, the function's) are in the spec file
    uses: str | None = None

    @property
    def declared(self) -> Span:
        """Where the operation is declared: its `def`, or a pipeline step's `id` in its spec."""
        return self.name_span if self.uses is not None else self.span

    @property
    def group(self) -> str:
        """The enclosing group (`a.b` for `a.b.c`); the root group is `""`."""
        return naming.parent(self.name)


@dataclass(frozen=True, slots=True)
class Edge:
    """A dependency: `target` runs after `source`; data flows when `param` is set."""

    source: str
    target: str
    #: the consumer's parameter fed by `source`; None for `depends_on` and `when` edges
    param: str | None
    reason: EdgeReason
    #: for a binding to a group (name rule or `inputs`), the group it stood for
    via_group: str | None = None

    def sort_key(self) -> tuple[str, str, str]:
        """Edges sort by (target, param, source), `depends_on` edges after data edges."""
        return (self.target, self.param if self.param is not None else "\uffff", self.source)


@dataclass(frozen=True, slots=True)
class FlowParam:
    """An unbound operation parameter lifted to a flow parameter."""

    name: str
    #: the agreed annotation (from the first annotated member), None when none has one
    annotation: TypeRef | None
    required: bool
    #: the agreed default's source text (when not required)
    default: str | None
    #: canonical repr of the literal default, None when the default is not a literal
    default_literal: str | None
    #: the member operations that take this parameter, sorted
    consumers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Flow:
    """A runnable flow: a group (or a flat operation) plus everything upstream of it."""

    name: str
    #: member operations in topological order, ties broken by name
    operations: tuple[str, ...]
    params: tuple[FlowParam, ...]
    #: the group's sinks (members under the group with no downstream inside it), sorted
    sinks: tuple[str, ...]
    #: the flow's own members (the operations directly in its group, not in a subgroup),
    #: in the same order: what the lock lists, so it lists each operation once
    own: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Graph:
    """The linked project: operations, edges and flows (link's output)."""

    #: sorted by name
    operations: tuple[OperationSpec, ...]
    #: sorted by Edge.sort_key
    edges: tuple[Edge, ...]
    #: sorted by name
    flows: tuple[Flow, ...]
    #: every group name (not the root), sorted
    groups: tuple[str, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Schedule:
    """When a deployment runs: exactly one of `cron`, `interval` (seconds) and `rrule`."""

    cron: str | None = None
    interval: float | int | None = None
    rrule: str | None = None
    #: an IANA name; None: Prefect's default (UTC)
    timezone: str | None = None


@dataclass(frozen=True, slots=True)
class Deployment:
    """A declared deployment of a flow, validated (`compiler.deployments`)."""

    name: str
    flow: str
    #: the parameter values set, as a canonical JSON object
    parameters: str
    schedule: Schedule | None
    work_pool: str
    work_queue: str
    tags: tuple[str, ...]
    description: str | None
    concurrency_limit: int | None
    paused: bool
    #: the task runner its runs use; None: the project's
    task_runner: str | None = None

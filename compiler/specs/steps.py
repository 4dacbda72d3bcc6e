"""Spec steps into operations: each step of pipeline `P` becomes the operation `P.ID`,
implemented by its `use` operation's function (its module, function, parameters and
source hash), with its own options and wiring.

Options a step leaves out come from the pipeline's `defaults`, then from the options the
used operation sets itself, then from `[tool.orchc.defaults]`. `inputs`, `depends_on`
and `when` name a step id of the same pipeline, or any operation or group; `params` are
literal arguments, checked against the function's annotations. What is left binds by the
usual rules in the pipeline's scope, so steps and code operations depend on each other
freely. Every mistake is a diagnostic at its place in the spec (OC602-OC608).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from compiler import naming
from compiler.diagnostics import Diagnostic, did_you_mean
from compiler.link.bind import split_union
from compiler.model import BINDABLE_KINDS, OperationSpec, Options, OptionSpans, Span
from compiler.options import CONVERTERS, DEFAULTABLE, INVALID, REQUIREMENTS
from compiler.specs.schema import check_shape
from compiler.specs.tree import Item, read_spec

#: the path a candidate spec read from standard input is reported at
STDIN = "<stdin>"
#: the step keys that are `@operation` options (the rest: id, use, params)
_STEP_OPTIONS = ("description", "depends_on", "inputs", "when", "map", *DEFAULTABLE)


@dataclasses.dataclass(frozen=True)
class _Pipeline:
    path: str
    spec: Item
    name: str
    #: step id -> its Item, in order (duplicates left out)
    steps: dict[str, Item]
    #: ids of steps left out for their shape errors
    left_out: frozenset[str]


def compile_pipelines(texts: Sequence[tuple[str, str] | Diagnostic], operations: Sequence[OperationSpec],
                      defaults: tuple[tuple[str, Any], ...]) -> tuple[list[OperationSpec], dict[str, str], list[Diagnostic]]:
    """The operations of the spec files `texts` ((path, text), or why one can't be read),
    and each pipeline's `description` (its flow's), by pipeline. Each spec is read and
    shape-checked first. A spec with a shape error adds no step, but the steps the error
    is not about are still checked, so one run reports every mistake it can. A path
    `<stdin>` (a candidate on standard input) is JSON when its text starts with `{`."""
    specs, diagnostics = [], []
    for entry in texts:
        if isinstance(entry, Diagnostic):
            diagnostics.append(entry)
            continue
        path, text = entry
        tree, found = read_spec(path, text, text.lstrip().startswith("{") if path == STDIN else None)
        diagnostics += found
        if tree is None or found:
            continue
        shape = check_shape(tree)
        diagnostics += shape.diagnostics
        if not shape.broken:
            if shape.broken_defaults:  # checked without them: their own errors are reported already
                tree = dataclasses.replace(tree, value={k: v for k, v in tree.value.items() if k != "defaults"})
            specs.append(_Spec(path, tree, shape.broken_steps))
    steps, found = compile_steps(specs, operations, defaults, troubled=frozenset(d.span.path for d in diagnostics))
    # (with any mistake nothing is built, so a spec's description reaches a lock only when all is well)
    descriptions = {spec.tree.get("pipeline").value: spec.tree.get("description").value
                    for spec in specs if spec.tree.get("description") is not None}
    return steps, descriptions, diagnostics + found


@dataclasses.dataclass(frozen=True)
class _Spec:
    """A spec whose `pipeline` and `steps` have the schema's shape."""

    path: str
    tree: Item
    #: indices of steps with shape errors: only their ids count (other steps may name them)
    broken_steps: frozenset[int] = frozenset()


def compile_steps(specs: Sequence[_Spec], operations: Sequence[OperationSpec], defaults: tuple[tuple[str, Any], ...],
                  troubled: frozenset[str] = frozenset()) -> tuple[list[OperationSpec], list[Diagnostic]]:
    """The operations of the `specs`, given the code's `operations` (with the project
    `defaults` applied) and the project `defaults`; every spec's mistakes. A pipeline
    with a mistake (here, or in its file's `troubled` path before) adds no step: the
    linker's findings about it come once it is fixed."""
    code = {op.name: op for op in operations}
    pipelines, diagnostics = _pipelines(specs, code)
    names = {*code, *(f"{p.name}.{step}" for p in pipelines for step in (*p.steps, *p.left_out))}
    known = frozenset((*names, *naming.groups_of(sorted(names))))
    hints = _Hints(sorted(known))
    troubled = troubled | {d.span.path for d in diagnostics}  # a duplicate step id
    steps = []
    for pipeline in pipelines:
        built_steps, found = [], []
        for step_id, step in pipeline.steps.items():
            built, problems = _step(pipeline, step_id, step, code, known, defaults, hints)
            found += problems
            built_steps += [built] if built is not None else []
        diagnostics += found
        # linked with a mistake, its steps would report it again, garbled (an input to a
        # step that is not there)
        if not found and pipeline.path not in troubled:
            steps += built_steps
    return steps, diagnostics


def _pipelines(specs: Sequence[_Spec], code: dict[str, OperationSpec]) -> tuple[list[_Pipeline], list[Diagnostic]]:
    """Each spec's pipeline, its name checked and its step ids unique (a step with shape
    errors takes part with its id, when that is a string)."""
    pipelines, diagnostics, seen = [], [], {}
    for entry in specs:
        spec = entry.tree
        name_item = spec.get("pipeline")
        name = name_item.value
        if name in code:
            diagnostics.append(Diagnostic("OC608", f"pipeline `{name}` has the name of an operation", name_item.span,
                                          "name the pipeline after a group, e.g. `" + name + "_pipeline`",
                                          ((code[name].name_span, f"operation `{name}` is defined here"),)))
            continue
        if name in seen:
            hint = "give each pipeline its own name"
            if STDIN in (name_item.span.path, seen[name].path):  # most likely a new version of that file
                other = seen[name].path if name_item.span.path == STDIN else name_item.span.path
                hint += f", or, if the candidate is a new version of `{other}`, say so: `orchc validate - --as {other}`"
            diagnostics.append(Diagnostic("OC608", f"pipeline `{name}` is defined twice", name_item.span,
                                          hint, ((seen[name], "first defined here"),)))
            continue
        seen[name] = name_item.span
        steps: dict[str, Item] = {}
        left_out: set[str] = set()
        for index, step in enumerate(spec.get("steps").value):
            step_id = step.get("id")
            if step_id is None or not isinstance(step_id.value, str):
                continue  # its shape error says so
            if step_id.value in steps or step_id.value in left_out:
                diagnostics.append(Diagnostic("OC607", f"step id `{step_id.value}` is used twice in pipeline `{name}`",
                                              step_id.span, "give each step its own id",
                                              ((_first_span(spec, step_id.value), "first used here"),)))
            elif index in entry.broken_steps:
                left_out.add(step_id.value)
            else:
                steps[step_id.value] = step
        pipelines.append(_Pipeline(entry.path, spec, name, steps, frozenset(left_out)))
    return pipelines, diagnostics


def _first_span(spec: Item, step_id: str) -> Span:
    return next(step.get("id").span for step in spec.get("steps").value
                if step.get("id") is not None and step.get("id").value == step_id)


class _Hints:
    """"Did you mean" for unknown names, for the first HINTS of a run: each compares with
    every name, so a spec of thousands of mistakes would otherwise take minutes."""

    HINTS = 50

    def __init__(self, names: list[str]) -> None:
        self.names, self.left = names, self.HINTS

    def __call__(self, name: str, *more: str) -> str | None:
        if self.left <= 0:
            return None
        self.left -= 1
        return did_you_mean(name, [*more, *self.names])


def _step(pipeline: _Pipeline, step_id: str, step: Item, code: dict[str, OperationSpec], known: frozenset[str],
          defaults: tuple[tuple[str, Any], ...], hints: _Hints) -> tuple[OperationSpec | None, list[Diagnostic]]:
    use = step.get("use")
    used = code.get(use.value)
    if used is None:
        hint = hints(use.value) or "name an `@operation` by its full dotted name"
        return None, [Diagnostic("OC603", f"step `{step_id}` uses `{use.value}`, which is not an operation",
                                 use.span, hint)]
    diagnostics: list[Diagnostic] = []
    values = _options(pipeline, step, used, defaults, diagnostics)
    resolve = _Resolver(pipeline, step_id, known, diagnostics, hints)
    spans: list[tuple[str, Span]] = [(key, item.span) for key, item in step.value.items() if key in _STEP_OPTIONS]
    params = {p.name: p for p in used.params if p.kind in BINDABLE_KINDS}
    inputs = _inputs(step, params, resolve, diagnostics)
    depends_on = [(name, item.span) for item in _strings(step.get("depends_on"))
                  if (name := resolve(item.value, item.span, "`depends_on`")) is not None]
    arguments = _arguments(step, params, inputs, diagnostics)
    when = step.get("when")
    if when is not None:
        negated, _, target = when.value.rpartition(" ")
        resolved = resolve(target, when.span, "`when`")
        if resolved is not None:
            values["when"] = f"{negated} {resolved}".strip()
    for name_item in _strings(step.get("map")):
        if name_item.value not in params:
            diagnostics.append(_not_a_parameter("map", name_item, step_id, used))
            values.pop("map", None)
        elif params[name_item.value].default is not None:
            diagnostics.append(Diagnostic("OC605", f"`map` of step `{step_id}` names `{name_item.value}`, which has a "
                                          "default: a mapped parameter takes the list bound to it", name_item.span,
                                          "map over a parameter without a default"))
            values.pop("map", None)
    values.update(depends_on=tuple(sorted({name for name, _ in depends_on})),
                  inputs=tuple(sorted((param, target) for param, (target, _, _) in inputs.items())),
                  arguments=arguments)
    where = step.get("id").span
    spec_params = tuple(dataclasses.replace(p, span=inputs[p.name][2] if p.name in inputs else where) for p in used.params)
    return dataclasses.replace(
        used, name=f"{pipeline.name}.{step_id}", decorator_span=step.span, name_span=where, params=spec_params,
        options=Options(**values), uses=used.name,
        option_spans=OptionSpans(keywords=tuple(spans), depends_on=tuple(depends_on),
                                 inputs=tuple((param, key_span, value_span)
                                              for param, (_, key_span, value_span) in sorted(inputs.items()))),
    ), diagnostics


def _options(pipeline: _Pipeline, step: Item, used: OperationSpec, defaults: tuple[tuple[str, Any], ...],
             diagnostics: list[Diagnostic]) -> dict[str, Any]:
    """The step's option values: its own, then the pipeline's defaults, then what the used
    operation sets itself, then the project's defaults."""
    own_keys = {key for key, _ in used.option_spans.keywords}
    values = dict(defaults)
    values.update((key, getattr(used.options, key)) for key in DEFAULTABLE if key in own_keys)
    values["description"] = used.options.description or used.docstring
    pipeline_defaults = pipeline.spec.get("defaults")
    for source in (pipeline_defaults, step):
        if source is None:
            continue
        for key, item in source.value.items():
            if key in DEFAULTABLE or key == "description":
                converted = CONVERTERS[key](item.plain())
                if converted is INVALID:
                    diagnostics.append(Diagnostic("OC602", f"`{key}` must be {REQUIREMENTS[key]}", item.span,
                                                  f"write `{key}` as {REQUIREMENTS[key]}"))
                else:
                    values[key] = converted
    if "map" in step.value:
        converted = CONVERTERS["map"](step.get("map").plain())
        if converted is INVALID:
            diagnostics.append(Diagnostic("OC602", f"`map` must be {REQUIREMENTS['map']}", step.get("map").span,
                                          f"write `map` as {REQUIREMENTS['map']}"))
        else:
            values["map"] = converted
    if used.is_async:  # async functions run on the event loop; a default is for the sync ones
        given = step.get("executor")
        if given is not None and given.value == "process":
            diagnostics.append(Diagnostic(
                "OC602", f"`executor: process` for step `{step.get('id').value}`, whose function "
                f"`{used.function}` is async", given.span,
                "remove `executor` (async functions run on the event loop); the process executor is for sync "
                "CPU-bound work"))
        values.pop("executor", None)
    return values


class _Resolver:
    """A step's reference: a step id of its pipeline, or an operation or group name."""

    def __init__(self, pipeline: _Pipeline, step_id: str, known: frozenset[str], diagnostics: list[Diagnostic],
                 hints: _Hints) -> None:
        self.pipeline, self.step_id, self.known, self.diagnostics, self.hints = pipeline, step_id, known, diagnostics, hints

    def __call__(self, name: str, span: Span, what: str) -> str | None:
        """The full name `name` stands for; None (after reporting OC604) when it is unknown."""
        if name in self.pipeline.steps or name in self.pipeline.left_out:
            return f"{self.pipeline.name}.{name}"
        if name not in self.known:
            hint = self.hints(name, *self.pipeline.steps) or (
                "name a step id of this pipeline, or an operation or group by its full dotted name")
            self.diagnostics.append(Diagnostic(
                "OC604", f"{what} of step `{self.step_id}` names `{name}`, which is no step of pipeline "
                f"`{self.pipeline.name}`, nor an operation or group", span, hint))
            return None
        return name


def _strings(item: Item | None) -> list[Item]:
    """A string or list of strings as Items."""
    if item is None:
        return []
    return item.value if isinstance(item.value, list) else [item]


def _inputs(step: Item, params: dict, resolve: _Resolver, diagnostics: list[Diagnostic]) -> dict[str, tuple[str, Span, Span]]:
    """parameter -> (target, the key's span, the value's span)."""
    item = step.get("inputs")
    if item is None:
        return {}
    found = {}
    for param, target in item.value.items():
        if param not in params:
            diagnostics.append(_not_a_parameter("inputs", Item(param, item.keys[param]), step.get("id").value, None, params))
            continue
        resolved = resolve(target.value, target.span, "`inputs`")
        if resolved is not None:
            found[param] = (resolved, item.keys[param], target.span)
    return found


def _arguments(step: Item, params: dict, inputs: dict, diagnostics: list[Diagnostic]) -> tuple[tuple[str, str], ...]:
    """The `params`: each a parameter of the function not bound by `inputs`, its literal
    fitting the parameter's annotation."""
    from compiler.extract.reader import canonical_repr

    item = step.get("params")
    if item is None:
        return ()
    mapped = {entry.value for entry in _strings(step.get("map"))}
    found = []
    for param, value in item.value.items():
        if param not in params:
            diagnostics.append(_not_a_parameter("params", Item(param, item.keys[param]), step.get("id").value, None, params))
        elif param in inputs:
            diagnostics.append(Diagnostic("OC605", f"`{param}` is in both `inputs` and `params`", item.keys[param],
                                          "bind it one way: to a step with `inputs`, or to a literal with `params`"))
        elif (problem := _argument_problem(value.plain(), params[param].annotation, param in mapped)) is not None:
            diagnostics.append(Diagnostic("OC606", f"`params.{param}` is {_short(value.plain())}, which {problem}",
                                          value.span, f"give `{param}` a literal that fits"))
        else:
            found.append((param, canonical_repr(value.plain())))
    return tuple(sorted(found))


def _not_a_parameter(key: str, item: Item, step_id: str, used: OperationSpec | None, params: dict | None = None) -> Diagnostic:
    names = list(params) if params is not None else [p.name for p in used.params if p.kind in BINDABLE_KINDS]
    hint = did_you_mean(str(item.value), names) or (
        "its parameters are " + ", ".join(f"`{n}`" for n in names) if names else "its function takes no parameters")
    return Diagnostic("OC605", f"`{key}` of step `{step_id}` names `{item.value}`, which is not a parameter of its function",
                      item.span, hint)


_CHECKED = {
    "str": lambda v: isinstance(v, str),
    "int": lambda v: type(v) is int,
    "float": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "bool": lambda v: isinstance(v, bool),
    "None": lambda v: v is None,
    "list": lambda v: isinstance(v, list),
    "tuple": lambda v: isinstance(v, list),
    "set": lambda v: isinstance(v, list),
    "frozenset": lambda v: isinstance(v, list),
    "dict": lambda v: isinstance(v, dict),
}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def _argument_problem(value: Any, annotation: Any, mapped: bool) -> str | None:
    """Why a literal cannot be a parameter's argument, or None: it must read back as
    itself (no infinity or NaN) and fit the annotation (each element, for a mapped one)."""
    import ast

    from compiler.extract.reader import canonical_repr

    try:
        readable = ast.literal_eval(canonical_repr(value)) == value
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        readable = False
    if not readable:
        return "cannot be written as a Python literal (infinity or NaN?)"
    text = annotation.text if annotation is not None else "any"
    if mapped:
        if not isinstance(value, list):
            return f"is not a list to map over (`{text}` each)"
        return None if all(_fits(element, annotation) for element in value) else f"has an element that does not fit `{text}`"
    return None if _fits(value, annotation) else f"does not fit `{text}`"


def _fits(value: Any, annotation: Any) -> bool:
    """Whether a literal fits an annotation, as far as orchc can tell from its text: the
    builtins and their generics are checked, element by element; anything else passes."""
    return annotation is None or _fits_type(value, annotation.resolved)


def _fits_type(value: Any, resolved: str) -> bool:
    for member in split_union(resolved):
        base, arguments = _generic(member)
        check = _CHECKED.get(base)
        if check is None or (check(value) and _elements_fit(value, base, arguments)):
            return True
    return False


def _elements_fit(value: Any, base: str, arguments: list[str]) -> bool:
    if not arguments:
        return True
    if base in ("list", "set", "frozenset"):
        return all(_fits_type(element, arguments[0]) for element in value)
    if base == "tuple":
        if len(arguments) == 2 and arguments[1] == "...":
            return all(_fits_type(element, arguments[0]) for element in value)
        return len(value) == len(arguments) and all(map(_fits_type, value, arguments))
    if base == "dict" and len(arguments) == 2:
        return all(_fits_type(key, arguments[0]) and _fits_type(item, arguments[1]) for key, item in value.items())
    return True


def _generic(annotation: str) -> tuple[str, list[str]]:
    """`dict[str, list[int]]` -> (`dict`, [`str`, `list[int]`])."""
    base, bracket, rest = annotation.partition("[")
    if not bracket or not rest.endswith("]"):
        return annotation, []
    arguments, depth, start = [], 0, 0
    inner = rest[:-1]
    for index, char in enumerate(inner):
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            arguments.append(inner[start:index].strip())
            start = index + 1
    arguments.append(inner[start:].strip())
    return base, arguments

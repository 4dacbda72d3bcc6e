"""Flow parameters from the command line: `--param NAME=VALUE` and `--params-file F.json`,
validated with pydantic against the real annotation of a consuming operation.

Every problem is collected and reported together (unknown names, invalid values, missing
required parameters) as one RuntimeUsageError.
"""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from compiler.lock.lockfile import LockFlow, LockFlowParam
from runtime.errors import RuntimeUsageError
from runtime.registry import Registry


def parameter_type(function: Callable, name: str) -> Any:
    """The annotation of `function`'s parameter `name`, evaluated; `Any` when unknown."""
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception:  # an unresolvable annotation elsewhere in the signature
        hints = {}
    if name in hints:
        return hints[name]
    try:
        annotation = inspect.signature(function).parameters[name].annotation
    except (KeyError, TypeError, ValueError):
        return Any
    if annotation is inspect.Parameter.empty:
        return Any
    if isinstance(annotation, str):
        try:
            return eval(annotation, getattr(function, "__globals__", {}))  # noqa: S307 - the user's own annotation
        except Exception:
            return Any
    return annotation


def flow_param_types(registry: Registry, flow: LockFlow) -> dict[str, Any]:
    """Each flow parameter's type, taken from its first consumer's signature: `list[T]`
    for a parameter `T` the consumer maps over."""
    types = {}
    for param in flow.params:
        consumer = param.consumers[0] if param.consumers else None
        if consumer is None:
            types[param.name] = Any
            continue
        tp = parameter_type(registry.function(consumer), param.name)
        types[param.name] = list[tp] if param.name in (registry.operations[consumer].map or ()) else tp
    return types


def type_label(param: LockFlowParam, tp: Any) -> str:
    """How to show a parameter's expected type: as written in the source when known."""
    if param.annotation:
        return param.annotation
    return getattr(tp, "__name__", None) or repr(tp)


def _first_error(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"])
    return f"{first['msg']} (at `{where}`)" if where else first["msg"]


def parse_value(text: str, tp: Any) -> Any:
    """A `--param` value: plain text for `str`, else JSON, else pydantic's string parsing.

    Raises ValidationError from the more telling attempt: JSON's when the text looks like
    JSON (an object, array or quoted string), string parsing's otherwise.
    """
    adapter = TypeAdapter(tp)
    if tp is str:
        return adapter.validate_python(text)
    try:
        return adapter.validate_json(text)
    except ValidationError as json_error:
        try:
            return adapter.validate_strings(text)
        except ValidationError as strings_error:
            raise json_error if text.lstrip()[:1] in ("[", "{", '"') else strings_error from None


def read_params_file(path: Path) -> dict[str, Any]:
    """The JSON object in `path` (RuntimeUsageError when unreadable or not an object)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RuntimeUsageError(f"params file `{path}` does not exist") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RuntimeUsageError(f"cannot read params file `{path}`: {error}") from None
    except json.JSONDecodeError as error:
        raise RuntimeUsageError(f"{path}:{error.lineno}:{error.colno}: invalid JSON: {error.msg}") from None
    if not isinstance(data, dict):
        raise RuntimeUsageError(f"params file `{path}` must hold a JSON object of parameter values",
                                'write it as {"name": value, ...}')
    return data


def split_assignments(assignments: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """`NAME=VALUE` strings as pairs, and the problems with malformed ones."""
    pairs, problems = [], []
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            problems.append(f"`--param {item}` is not of the form NAME=VALUE")
        else:
            pairs.append((name.strip(), value))
    return pairs, problems


def parse_params(
    registry: Registry, flow: LockFlow, assignments: list[str], params_file: Path | None = None,
    preset: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Validated keyword arguments for `flow`; `--param` values override the file's.

    `preset` are values set elsewhere (a deployment's): they count as given, so a
    required parameter they set is not missing, but they are not returned.
    """
    declared = {p.name: p for p in flow.params}
    pairs, problems = split_assignments(assignments)
    from_file = read_params_file(params_file) if params_file is not None else {}
    given = [*((name, value, False) for name, value in from_file.items()),
             *((name, value, True) for name, value in pairs)]
    unknown = sorted({name for name, _, _ in given if name not in declared})
    if unknown:
        problems.append(_unknown_message(flow, unknown))
    types = flow_param_types(registry, flow)
    values: dict[str, Any] = {}
    for name, raw, from_cli in given:
        if name in declared:
            _validate_into(values, problems, declared[name], types[name], raw, from_cli)
    given_names = {name for name, _, _ in given} | set(preset or ())
    missing = [p.name for p in flow.params if p.required and p.name not in given_names]
    if missing:
        problems.append("missing required parameter(s): "
                        + ", ".join(f"`{n}` ({type_label(declared[n], types[n])})" for n in missing))
    if problems:
        raise RuntimeUsageError(f"flow `{flow.name}`: bad parameters\n" + "\n".join(f"  - {p}" for p in problems),
                                _usage_hint(flow))
    return values


def validate_values(registry: Registry, flow: LockFlow, values: dict[str, Any]) -> dict[str, Any]:
    """A run's parameter values as the flow's operations expect them: each validated (and
    converted: a JSON list to a `set[str]`) against its consumer's real annotation, as
    `--param` values are. For runs that did not come through `python -m runtime` (a
    deployment's, whose values arrive as JSON); `UNSET` stays as it is."""
    from runtime.prefect_support import UNSET

    declared = {p.name: p for p in flow.params}
    types = flow_param_types(registry, flow)
    validated: dict[str, Any] = {}
    problems: list[str] = []
    for name, raw in values.items():
        if raw is UNSET or name not in declared:
            validated[name] = raw
        else:
            _validate_into(validated, problems, declared[name], types[name], raw, from_cli=False)
    if problems:
        raise RuntimeUsageError(f"flow `{flow.name}`: bad parameters\n" + "\n".join(f"  - {p}" for p in problems),
                                _usage_hint(flow))
    return validated


def _validate_into(values: dict, problems: list, param: LockFlowParam, tp: Any, raw: Any, from_cli: bool) -> None:
    try:
        values[param.name] = parse_value(raw, tp) if from_cli else TypeAdapter(tp).validate_python(raw)
    except ValidationError as error:
        shown = raw if from_cli else json.dumps(raw, default=repr)
        problems.append(f"parameter `{param.name}` expects `{type_label(param, tp)}`, "
                        f"got {shown!r}: {_first_error(error)}")


def _unknown_message(flow: LockFlow, unknown: list[str]) -> str:
    names = ", ".join(f"`{n}`" for n in unknown)
    accepted = ", ".join(f"`{p.name}`" for p in flow.params) or "none"
    return f"unknown parameter(s) {names}; flow `{flow.name}` takes: {accepted}"


def _usage_hint(flow: LockFlow) -> str:
    parts = [f"--param {p.name}=..." for p in flow.params if p.required]
    example = f"python -m runtime {flow.name} " + " ".join(parts) if parts else f"python -m runtime {flow.name}"
    return f"e.g. `{example.strip()}`; see `python -m runtime --list`"

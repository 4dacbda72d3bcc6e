"""A spec's shape, checked against `pipeline.schema.json` (the JSON Schema editors use
too): unknown keys with "did you mean", then every other rule of the schema, each at the
position of the value it is about (OC602)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic, did_you_mean
from compiler.specs.tree import Item

SCHEMA_FILE = Path(__file__).with_name("pipeline.schema.json")


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Shape:
    """How a spec departs from the schema, and which of its parts can still be checked."""

    diagnostics: list[Diagnostic]
    #: `pipeline` or `steps` itself is wrong: nothing of the spec can be checked
    broken: bool = False
    #: `defaults` has a wrong value: the steps are checked without the pipeline's defaults
    broken_defaults: bool = False
    #: indices of the steps with a wrong value (an unknown key alone is ignored)
    broken_steps: frozenset[int] = frozenset()


def check_shape(spec: Item) -> Shape:
    """Every way `spec` departs from the schema, unknown keys first."""
    if not isinstance(spec.value, dict):
        return Shape([Diagnostic("OC602", "a spec is a mapping with `pipeline` and `steps`", spec.span,
                                 "start the file with `pipeline: GROUP` and `steps:`")], broken=True)
    root = schema()
    diagnostics = _unknown_keys(spec, root, "the spec")
    defaults = spec.get("defaults")
    if defaults is not None and isinstance(defaults.value, dict):
        diagnostics += _unknown_keys(defaults, root["properties"]["defaults"], "`defaults`")
    steps = spec.get("steps")
    if steps is not None and isinstance(steps.value, list):
        for step in steps.value:
            if isinstance(step.value, dict):
                diagnostics += _unknown_keys(step, root["$defs"]["step"], "a step")
    errors = _schema_errors(spec)
    paths = [path for path, _ in errors]
    return Shape(
        diagnostics + [d for _, d in errors],
        broken=any(path[:1] not in (["defaults"], ["description"]) and not _in_a_step(path) for path in paths),
        broken_defaults=any(path[:1] == ["defaults"] for path in paths),
        broken_steps=frozenset(path[1] for path in paths if _in_a_step(path)))


def _in_a_step(path: list) -> bool:
    return len(path) > 1 and path[0] == "steps" and isinstance(path[1], int)


def _unknown_keys(item: Item, rules: dict[str, Any], what: str) -> list[Diagnostic]:
    known = list(rules["properties"])
    found = []
    for key in item.value:
        if key not in rules["properties"]:
            hint = did_you_mean(key, known) or "the keys are " + ", ".join(f"`{k}`" for k in known)
            found.append(Diagnostic("OC602", f"unknown key `{key}` in {what}", item.keys[key], hint))
    return found


def _schema_errors(spec: Item) -> list[tuple[list, Diagnostic]]:
    """Each schema error but unknown keys, with the path of the value it is about."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    found = []
    for error in sorted(validator.iter_errors(spec.plain()), key=lambda e: list(map(str, e.absolute_path))):
        if error.validator == "additionalProperties":
            continue  # reported as unknown keys, with "did you mean"
        where = _at(spec, list(error.absolute_path))
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path).lstrip(".")
        found.append((list(error.absolute_path),
                      Diagnostic("OC602", f"`{path or 'spec'}`: {_message(error)}", where.span, _hint(error))))
    return found


def _at(item: Item, path: list) -> Item:
    """The Item at `path` (keys and indices), or the deepest one found."""
    for part in path:
        child = item.value.get(part) if isinstance(item.value, dict) else (
            item.value[part] if isinstance(item.value, list) and isinstance(part, int) and part < len(item.value) else None)
        if child is None:
            return item
        item = child
    return item


def _message(error: Any) -> str:
    if error.validator == "required":
        return error.message.replace("is a required property", "is required")
    if error.validator in ("oneOf", "anyOf"):
        return f"{json.dumps(error.instance)} is not {error.schema.get('description') or 'of the expected form'}"
    return error.message


def _hint(error: Any) -> str:
    description = error.schema.get("description") if isinstance(error.schema, dict) else None
    if error.validator == "required":
        return "add it; see `compiler/specs/pipeline.schema.json`"
    return f"expected: {description}" if description else "see `compiler/specs/pipeline.schema.json`"

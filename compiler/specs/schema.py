"""A spec's shape, checked against `pipeline.schema.json` (the JSON Schema editors use
too): unknown keys with "did you mean", then every other rule of the schema, each at the
position of the value it is about (OC602)."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic, did_you_mean
from compiler.specs.tree import Item

SCHEMA_FILE = Path(__file__).with_name("pipeline.schema.json")


@functools.cache
def schema() -> dict[str, Any]:
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def check_shape(spec: Item) -> list[Diagnostic]:
    """Every way `spec` departs from the schema, unknown keys first."""
    if not isinstance(spec.value, dict):
        return [Diagnostic("OC602", "a spec is a mapping with `pipeline` and `steps`", spec.span,
                           "start the file with `pipeline: GROUP` and `steps:`")]
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
    return diagnostics + _schema_errors(spec)


def _unknown_keys(item: Item, rules: dict[str, Any], what: str) -> list[Diagnostic]:
    known = list(rules["properties"])
    found = []
    for key in item.value:
        if key not in rules["properties"]:
            hint = did_you_mean(key, known) or "the keys are " + ", ".join(f"`{k}`" for k in known)
            found.append(Diagnostic("OC602", f"unknown key `{key}` in {what}", item.keys[key], hint))
    return found


def _schema_errors(spec: Item) -> list[Diagnostic]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema())
    found = []
    for error in sorted(validator.iter_errors(spec.plain()), key=lambda e: list(map(str, e.absolute_path))):
        if error.validator == "additionalProperties":
            continue  # reported as unknown keys, with "did you mean"
        where = _at(spec, list(error.absolute_path))
        path = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path).lstrip(".")
        found.append(Diagnostic("OC602", f"`{path or 'spec'}`: {_message(error)}", where.span,
                                _hint(error)))
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

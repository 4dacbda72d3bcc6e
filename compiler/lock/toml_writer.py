"""A mirror of tomli-w for pydantic models: the TOML `tomli_w.dumps(model.model_dump(
mode="json", by_alias=True, exclude_none=True), multiline_strings=False)` writes, byte for
byte, written straight from the models (dumping 10k operations to dicts and walking them
with tomli-w took ~1 s). A test compares the two on hostile locks, and
`ORCHC_VERIFY_MIRRORS=1` compares them on every lock written (`compiler.mirrors`).
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Callable

from pydantic import BaseModel

from compiler.mirrors import verify
from compiler.lock.toml_strings import basic_string


def model_toml(model: BaseModel) -> str:
    """`model` as a TOML document, `None` fields left out."""
    out: list[str] = []
    _write_table(model, "", False, out)
    return verify("the lock's TOML", "".join(out), lambda: _tomli_w(model))


def _tomli_w(model: BaseModel) -> str:
    try:
        import tomli_w
    except ImportError:  # a test dependency: the switch needs it
        raise AssertionError("internal error: ORCHC_VERIFY_MIRRORS needs tomli-w (pip install tomli-w)") from None
    return tomli_w.dumps(model.model_dump(mode="json", by_alias=True, exclude_none=True), multiline_strings=False)


# tomli_w's choices, reproduced for the values a lock holds (strings, booleans, numbers,
# lists of them, models and lists of models):
# - a table's own values come first, `key = value`, then its sub-tables, one blank line
#   before each; a sub-table gets a `[name]` header unless it only holds sub-tables;
# - a non-empty list of models is an array of tables (`[[name]]`), unless every model
#   fits on one line as an inline table (`    { k = v },` within 100 characters), when it
#   is a multi-line array of inline tables; any other list is a multi-line array, with
#   one item per line and a trailing comma (`[]` when empty);
# - strings are basic strings (`compiler.lock.toml_strings`).
_INDENT = "    "
_INLINE_WIDTH = 100 - len(_INDENT) - len(",")
_BARE_KEY = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_")


def _write_table(model: BaseModel, name: str, in_array: bool, out: list[str]) -> None:
    """`model` as the table `name` (an entry of the array of tables `name` when `in_array`)."""
    keys, values = _fields(type(model))
    literals: list[str] = []
    tables: list[tuple[str, BaseModel | list[BaseModel], bool]] = []
    for key, value in zip(keys, values(model)):
        kind = type(value)
        if kind is str:  # the common kinds first, by exact type (most values are strings)
            literals.append(f"{key} = {basic_string(value)}\n")
        elif kind is bool:
            literals.append(f"{key} = true\n" if value else f"{key} = false\n")
        elif kind is int:
            literals.append(f"{key} = {value!s}\n")
        elif value is None:
            continue
        elif isinstance(value, BaseModel):
            tables.append((key, value, False))
        elif value and isinstance(value, (list, tuple)) and all(isinstance(item, BaseModel) for item in value):
            inline = _inline_tables(value)
            if inline is None:
                tables.append((key, value, True))
            else:
                literals.append(f"{key} = {inline}\n")
        else:
            literals.append(f"{key} = {_literal(value, 0)}\n")
    written = in_array or bool(name and (literals or not tables))
    if written:
        out.append(f"[[{name}]]\n" if in_array else f"[{name}]\n")
    out += literals
    written = written or bool(literals)
    for key, table, is_array in tables:
        path = f"{name}.{key}" if name else key
        for entry in table if is_array else (table,):
            if written:
                out.append("\n")
            written = True
            _write_table(entry, path, is_array, out)


def _inline_tables(models: list[BaseModel] | tuple[BaseModel, ...]) -> str | None:
    """The multi-line array of `models` as inline tables, None unless each fits on a line."""
    lines = []
    for model in models:
        text = _inline_table(model)
        if len(text) > _INLINE_WIDTH or "\n" in text:
            return None
        lines.append(_INDENT + text)
    return "[\n" + ",\n".join(lines) + ",\n]"


def _inline_table(model: BaseModel) -> str:
    keys, values = _fields(type(model))
    pairs = [f"{key} = {_literal(value, 0)}" for key, value in zip(keys, values(model)) if value is not None]
    return "{ " + ", ".join(pairs) + " }" if pairs else "{}"


def _literal(value: object, depth: int) -> str:
    """A value as TOML; `depth` is how many arrays hold it (their items are indented)."""
    if isinstance(value, str):
        return basic_string(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, (list, tuple)):
        if not value:
            return "[]"
        indent = _INDENT * (depth + 1)
        items = ",\n".join([indent + _literal(item, depth + 1) for item in value])
        return f"[\n{items},\n{_INDENT * depth}]"
    if isinstance(value, BaseModel):
        return _inline_table(value)
    raise TypeError(f"internal error: lockfile: cannot write {type(value).__name__} as TOML")


def _key(name: str) -> str:
    return name if name and _BARE_KEY.issuperset(name) else basic_string(name)


@functools.cache
def _fields(model: type[BaseModel]) -> tuple[tuple[str, ...], Callable[[BaseModel], tuple]]:
    """The TOML keys of a model's fields (aliases, in declaration order) and a function
    giving a model's values in that order."""
    names = tuple(model.model_fields)
    keys = tuple(_key(info.alias or field) for field, info in model.model_fields.items())
    values = operator.attrgetter(*names) if len(names) > 1 else lambda m: (getattr(m, names[0]),)
    return keys, values

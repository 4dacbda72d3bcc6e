"""Does a TOML value fit a flow parameter's annotation? Read statically from the
annotation's canonical form (`model.TypeRef.resolved`), importing nothing.

The answer is True, False, or None when it cannot be told without the project's own
types (a user class, a pydantic model): only a definite False is reported.
"""

from __future__ import annotations

import ast
import datetime
from typing import Any

_SEQUENCES = frozenset({
    "list", "set", "frozenset", "typing.Sequence", "typing.Iterable", "typing.Collection",
    "typing.MutableSequence", "typing.AbstractSet", "collections.abc.Sequence",
    "collections.abc.Iterable", "collections.abc.Collection", "collections.abc.MutableSequence",
    "collections.abc.Set",
})
_MAPPINGS = frozenset({"dict", "typing.Mapping", "typing.MutableMapping", "collections.abc.Mapping",
                       "collections.abc.MutableMapping"})
_ANY = frozenset({"typing.Any", "object"})
_TIMES = {"datetime.datetime": datetime.datetime, "datetime.date": datetime.date, "datetime.time": datetime.time}
#: what pydantic reads from a TOML string (paths, bytes, UUIDs, decimals, enums by value…)
_FROM_STRING = frozenset({"pathlib.Path", "pathlib.PurePath", "pathlib.PosixPath", "pathlib.PurePosixPath",
                          "os.PathLike", "bytes", "uuid.UUID", "decimal.Decimal"})


#: TOML's name of each kind of value it gives (bool before int: a bool is an int to Python)
_TOML_KINDS = ((bool, "a boolean"), (int, "an integer"), (float, "a float"), (str, "a string"),
               (list, "an array"), (dict, "a table"))


def toml_kind(value: Any) -> str:
    """How TOML calls the kind of `value`."""
    return next((name for kind, name in _TOML_KINDS if isinstance(value, kind)), "a date or time")


def fits(value: Any, resolved: str) -> bool | None:
    """Whether `value` (as TOML gave it) is valid for the annotation `resolved`."""
    try:
        node = ast.parse(resolved, mode="eval").body
    except SyntaxError:
        return None
    return _fits(value, node)


def _name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        base = _name(node.value)
        return f"{base}.{node.attr}" if base else None
    return None


def _all(answers: list[bool | None]) -> bool | None:
    if False in answers:
        return False
    return None if None in answers else True


def _fits(value: Any, node: ast.expr) -> bool | None:
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        answers = [_fits(value, node.left), _fits(value, node.right)]
        return True if True in answers else (None if None in answers else False)
    if isinstance(node, ast.Constant):
        return value is None if node.value is None else None
    if isinstance(node, ast.Subscript):
        return _fits_generic(value, _name(node.value), node.slice)
    return _fits_plain(value, _name(node))


def _fits_plain(value: Any, name: str | None) -> bool | None:
    if name is None:
        return None
    if name in _ANY:
        return True
    simple = {"str": str, "bool": bool, "None": type(None)}
    if name in simple:
        return isinstance(value, simple[name])
    if name == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "float":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if name in _SEQUENCES or name == "tuple":
        return isinstance(value, list)
    if name in _MAPPINGS:
        return isinstance(value, dict)
    if name in _TIMES:
        return isinstance(value, (str, _TIMES[name]))
    if name == "datetime.timedelta":
        return isinstance(value, (int, float, str)) and not isinstance(value, bool)
    if name in _FROM_STRING:
        return isinstance(value, str)
    return None  # the project's own type, or one this table does not know


def _fits_generic(value: Any, base: str | None, arguments: ast.expr) -> bool | None:
    args = list(arguments.elts) if isinstance(arguments, ast.Tuple) else [arguments]
    if base in ("typing.Literal", "Literal"):
        return _fits_literal(value, args)
    if base in ("typing.Union", "typing.Optional"):
        answers = [_fits(value, arg) for arg in args] + ([value is None] if base == "typing.Optional" else [])
        return True if True in answers else (None if None in answers else False)
    if base in _SEQUENCES:
        return isinstance(value, list) and _all([_fits(item, args[0]) for item in value])
    if base == "tuple":
        if not isinstance(value, list):
            return False
        if len(args) == 2 and isinstance(args[1], ast.Constant) and args[1].value is Ellipsis:
            return _all([_fits(item, args[0]) for item in value])
        return len(value) == len(args) and _all([_fits(item, arg) for item, arg in zip(value, args)])
    if base in _MAPPINGS and len(args) == 2:
        if not isinstance(value, dict):
            return False
        return _all([_fits(key, args[0]) for key in value] + [_fits(item, args[1]) for item in value.values()])
    return _fits_plain(value, base)


def _fits_literal(value: Any, args: list[ast.expr]) -> bool | None:
    try:
        options = [ast.literal_eval(arg) for arg in args]
    except ValueError:
        return None
    return any(type(option) is type(value) and option == value for option in options)

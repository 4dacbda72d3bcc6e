"""Reading TOML that users (or attackers) control, pyproject.toml and flows.lock: tomli
within a size and a nesting limit, with one error type that carries a line and column."""

from __future__ import annotations

import tomli

#: larger than any real lock (10k operations write about 6 MB) by far
MAX_CHARS = 256 * 1024 * 1024


class TomlError(Exception):
    """TOML that cannot be read: `message` says why, `line`/`column` (1-based) where."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.column = column


def load_toml(text: str) -> dict:
    """The document `text` holds, or TomlError: invalid TOML, more than MAX_CHARS, or
    nested deeper than Python's recursion limit allows tomli to read (a few hundred levels;
    a real lock or pyproject nests three or four)."""
    if len(text) > MAX_CHARS:
        raise TomlError(f"it holds {len(text):,} characters, more than the {MAX_CHARS:,} orchc reads")
    try:
        return tomli.loads(text)
    except tomli.TOMLDecodeError as error:
        raise TomlError(error.msg, getattr(error, "lineno", 1) or 1, getattr(error, "colno", 1) or 1) from None
    except RecursionError:  # tomli recurses once per nested array or table
        raise TomlError("its arrays or tables are nested too deeply") from None


def key_lines(text: str) -> dict[tuple[str, ...], int]:
    """Where each table header and `key = value` of `text` is: key path -> 1-based line.

    Best effort, for diagnostics only: each line is read on its own (a header or a key
    is parsed by tomli, so quoted and dotted keys come out right); keys inside inline
    tables and lines inside multi-line values are not found, and a caller falls back to
    the line of the nearest enclosing key it has.
    """
    found: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if line.startswith("[") and not line.startswith("[["):
            path = _single_path(line)
            if path is not None:
                table = path
                found.setdefault(table, number)
        elif "=" in line and not line.startswith(("#", "[[")):
            path = _single_path(line.split("=", 1)[0] + "= 0")
            if path is not None:
                found.setdefault(table + path, number)
    return found


def _single_path(fragment: str) -> tuple[str, ...] | None:
    """The key path of a one-line TOML fragment holding a single header or key."""
    try:
        data = tomli.loads(fragment)
    except (tomli.TOMLDecodeError, RecursionError):
        return None
    path: list[str] = []
    while isinstance(data, dict) and len(data) == 1:
        key, data = next(iter(data.items()))
        path.append(key)
    return tuple(path) or None

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

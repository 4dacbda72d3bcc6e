"""TOML basic strings exactly as the lock writes them (tomli-w's escaping): the lock
emitter and the incremental patches of lock text share this one encoder."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r'[\x00-\x08\x0a-\x1f\x7f"\\]')
_ESCAPES = {"\b": "\\b", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}


def basic_string(text: str) -> str:
    """`text` as a TOML basic string: `"`, `\\` and control characters (but tab) escaped."""
    if _UNSAFE.search(text) is None:
        return f'"{text}"'
    return '"' + _UNSAFE.sub(_escape, text) + '"'


def _escape(match: re.Match) -> str:
    char = match.group()
    return _ESCAPES.get(char) or f"\\u{ord(char):04x}"

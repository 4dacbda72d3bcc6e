"""The hashes the lock records, in one place: the `sha256:<hex>` form of a text or a file,
and an operation's source hash (its whole lines, from its first decorator's `@` to its
last statement, with newlines normalised). The extractor, the incremental patches, the
ownership checks and the runtime all take them from here; the runtime finds a
function's lines with Python's own parser (`compiler.extract.outline`), without libcst.
"""

from __future__ import annotations

import hashlib


def sha256(data: str | bytes) -> str:
    """The `sha256:<hex>` form the lock records (of a text's UTF-8 bytes)."""
    return "sha256:" + hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def source_hash(function_text: str) -> str:
    """The source hash of a function's whole lines (`\\r\\n` and `\\r` read as `\\n`)."""
    return sha256(function_text.replace("\r\n", "\n").replace("\r", "\n"))


def function_hashes(module_text: str) -> dict[str, str]:
    """Function name -> source hash of each top-level function of a module's text (the
    last definition of a name, as an import binds it). Raises SyntaxError or ValueError
    where Python's parser does."""
    from compiler.extract.outline import outline

    shape = outline(module_text.removeprefix("\ufeff"))
    return {lines.name: source_hash(shape.function_text(lines)) for lines in shape.functions}

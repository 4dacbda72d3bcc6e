"""Incremental builds: the outputs of a clean build, patched for an edit that changed no
operation's interface (the common edit: a function body).

Such an edit moves nothing in the graph. Of everything `orchc build` writes, only the
edited operations' `line`, `column` and `source_hash` in the lock can change, the source
hash where a generated module embeds it (cached operations), and the hashes the lock
records of the modules that changed. So the outputs on disk are patched in place instead
of re-linking the whole project. Every patch must find exactly the text it replaces, or
the caller builds from scratch; the tests compare patched outputs with full builds.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from compiler.lock.hashes import sha256
from compiler.model import OperationSpec, OptionSpans, Span
from compiler.lock.toml_strings import basic_string

_NO_SPANS = OptionSpans()


def interface(operations: Sequence[OperationSpec]) -> list[OperationSpec]:
    """The operations with what a body edit may change blanked (positions, source hash),
    by name: two files' operations link the same way exactly when these are equal."""
    return sorted((_blanked(op) for op in operations), key=lambda op: op.name)


def _blanked(op: OperationSpec) -> OperationSpec:
    nowhere = Span(op.span.path)
    return dataclasses.replace(
        op, span=nowhere, decorator_span=nowhere, name_span=nowhere, option_spans=_NO_SPANS, source_hash="",
        params=tuple(dataclasses.replace(param, span=nowhere) for param in op.params),
    )


def patch(
    lock_text: str, modules: dict[str, str], old: Sequence[OperationSpec], new: Sequence[OperationSpec]
) -> tuple[str, dict[str, str]] | None:
    """The lock text and the texts of the modules that change (path -> text) once the
    operations `old` are replaced by `new`; None when that is more than a patch can do."""
    if interface(old) != interface(new):
        return None
    before = {op.name: op for op in old}
    hashes: dict[str, str] = {}
    for op in new:
        previous = before[op.name]
        if (op.span.line, op.span.column, op.source_hash) == (previous.span.line, previous.span.column, previous.source_hash):
            continue
        lock_text = _patch_operation(lock_text, op, previous)
        if lock_text is None:
            return None
        if op.source_hash != previous.source_hash:
            hashes[previous.source_hash] = op.source_hash
    changed = {}
    for path, text in modules.items():
        patched = text
        for old_hash, new_hash in hashes.items():
            patched = patched.replace(old_hash, new_hash)
        if patched != text:
            changed[path] = patched
            lock_text = _replace_once(
                lock_text, f'\n[[generated]]\npath = {basic_string(path)}\nsha256 = "{sha256(text)}"\n',
                f'\n[[generated]]\npath = {basic_string(path)}\nsha256 = "{sha256(patched)}"\n',
            )
            if lock_text is None:
                return None
    return lock_text, changed


def _patch_operation(lock_text: str, op: OperationSpec, previous: OperationSpec) -> str | None:
    """The lock with one operation's line, column and source hash replaced, each found
    exactly once among its table's own keys (before its sub-tables)."""
    header = f"\n[[operations]]\nname = {basic_string(op.name)}\n"
    start = lock_text.find(header)
    if start < 0 or lock_text.find(header, start + 1) >= 0:
        return None
    end = lock_text.find("\n[", start + len(header))
    end = len(lock_text) if end < 0 else end
    table = lock_text[start:end]
    for key, was, now in (
        ("line", str(previous.span.line), str(op.span.line)),
        ("column", str(previous.span.column), str(op.span.column)),
        ("source_hash", f'"{previous.source_hash}"', f'"{op.source_hash}"'),
    ):
        table = _replace_once(table, f"\n{key} = {was}\n", f"\n{key} = {now}\n")
        if table is None:
            return None
    return lock_text[:start] + table + lock_text[end:]


def _replace_once(text: str | None, old: str, new: str) -> str | None:
    if text is None or text.count(old) != 1:
        return None
    return text.replace(old, new)

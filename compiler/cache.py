"""Caches that make repeated builds and checks cheap: per-file extraction results, black's
output for generated code, and the whole analysis of an unchanged project.

Everything lives in `<project>/.orchc_cache/` (hidden, so discovery skips it; it holds a
`.gitignore` of `*`). Entries are JSON, never pickle, and each is authenticated over its
whole content: the file is an HMAC-SHA256 (keyed with the secret below) of the kind, the
key and the JSON, then the JSON. An entry whose HMAC does not match (forged, edited,
damaged), that cannot be read, does not validate or was written by other code is ignored
(and rewritten), never trusted. A cache only ever saves work: output bytes are the same
with or without it (tests check this).

Keys are sha256 hex digests:
- extraction: fingerprint + path + module + file bytes (one file's operations and diagnostics);
- formatting: fingerprint + the unformatted text (what black makes of it);
- project: fingerprint + config + every file's extraction key (the whole analysis).

Every digest also mixes in a secret kept outside the project (`machine_secret`): a cache
folder committed to a repository or copied from elsewhere (a pull request could plant
entries claiming stale files are fresh) never matches on another machine, so `orchc
check` in CI only trusts what that machine computed itself.

Writes are atomic (`compiler.writer`), so concurrent runs (an editor, a pre-commit hook
and a terminal) at worst do the same work twice; temporaries a killed run left behind
are removed by the next run that lists the folder.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compiler.diagnostics import Diagnostic
from compiler.model import OperationSpec, Options, OptionSpans, ParamSpec, Span, TypeRef
from compiler.writer import read_regular, remove_dead_temporaries, write_atomic

FOLDER = ".orchc_cache"
SCHEMA = 1
#: no entry is larger (the biggest, a 10k-operation project's state, is a few MB)
MAX_ENTRY_BYTES = 256 * 1024 * 1024
_fingerprint: str | None = None
_secret: bytes | None = None


def machine_secret() -> bytes | None:
    """32 random bytes kept in the user's cache folder (made on first use, owner-only);
    None when there is no writable place for it (the cache is then off)."""
    global _secret
    if _secret is None:
        _secret = _read_or_make_secret()
    return _secret


def _read_or_make_secret() -> bytes | None:
    path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "orchc" / "secret"
    for _ in range(2):
        try:
            secret = path.read_bytes()
            if len(secret) == 32:
                return secret
        except OSError:
            pass
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # a concurrent run may win the race: the loop reads what stands
            write_atomic(path, os.urandom(32), mode=0o600)
        except OSError:
            return None
    return None


def _mac(kind: str, key: str, data: bytes) -> bytes:
    """The hex HMAC-SHA256 of an entry: its kind, its key and its JSON bytes."""
    message = kind.encode() + b"\0" + key.encode() + b"\0" + data
    return hmac.new(machine_secret() or b"", message, hashlib.sha256).hexdigest().encode()


def fingerprint() -> str:
    """A digest of orchc's version and of the compiler modules that shape its output, so
    a cache written by any other code (another release, a local edit) never matches."""
    global _fingerprint
    if _fingerprint is None:
        digest = hashlib.sha256(b"orchc-cache" + (machine_secret() or b""))
        folder = Path(__file__).parent
        # every module of the compiler, and its data (the pipeline spec schema)
        for path in sorted([*folder.rglob("*.py"), *folder.rglob("*.json")]):
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes())
        from importlib.metadata import version  # not `import black`: a fast `check` skips it

        digest.update(version("black").encode())  # the formatter's version decides the bytes too
        _fingerprint = digest.hexdigest()
    return _fingerprint


def digest(*parts: str | bytes) -> str:
    """sha256 of the parts (with the fingerprint first), each length-prefixed."""
    hasher = hashlib.sha256(fingerprint().encode())
    for part in parts:
        data = part.encode("utf-8") if isinstance(part, str) else part
        hasher.update(len(data).to_bytes(8, "big") + data)
    return hasher.hexdigest()


class Cache:
    """One project's cache folder; `None` entries are misses. Never raises on bad data."""

    def __init__(self, root: Path) -> None:
        self.folder = root / FOLDER
        self.enabled = os.environ.get("ORCHC_NO_CACHE", "") in ("", "0") and machine_secret() is not None
        #: the kinds whose folder was found to be a real folder, not a link elsewhere
        self._checked: set[str] = set()
        #: the kinds whose folders exist (made by `prepare`)
        self._prepared: set[str] = set()
        #: keys read or written during this run (what `prune` keeps)
        self.used_extractions: set[str] = set()
        self.used_formats: set[str] = set()

    # -- raw entries ------------------------------------------------------------------

    def _path(self, kind: str, key: str) -> Path:
        return self.folder / kind / f"{key}.json"

    def _usable(self, kind: str) -> bool:
        """Whether the cache is on and neither its folder nor the kind's is a link: a
        link committed to a repository must not make orchc read, write or delete
        elsewhere (a link found turns the cache off for the run)."""
        if self.enabled and kind not in self._checked:
            if any(os.path.islink(folder) for folder in (self.folder, self.folder / kind)):
                self.enabled = False
            else:
                self._checked.add(kind)
        return self.enabled

    def get(self, kind: str, key: str) -> Any:
        """The payload stored under (kind, key), or None when absent or not trustworthy."""
        if not self._usable(kind):
            return None
        try:
            mac, _, data = read_regular(self._path(kind, key), MAX_ENTRY_BYTES, follow_links=False).partition(b"\n")
            if not hmac.compare_digest(mac, _mac(kind, key, data)):
                return None  # forged, edited or damaged
            entry = json.loads(data)
        except (OSError, ValueError, RecursionError):
            return None
        if (not isinstance(entry, dict) or entry.get("schema") != SCHEMA or entry.get("kind") != kind
                or entry.get("key") != key or entry.get("fingerprint") != fingerprint()):
            return None
        return entry.get("payload")

    def put(self, kind: str, key: str, payload: Any) -> None:
        """Store atomically; a cache that cannot be written is simply not used."""
        if not self._usable(kind):
            return
        entry = {"schema": SCHEMA, "kind": kind, "key": key, "fingerprint": fingerprint(), "payload": payload}
        try:
            self.prepare(kind)
            data = json.dumps(entry, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            write_atomic(self._path(kind, key), _mac(kind, key, data) + b"\n" + data, mode=0o600)
        except OSError:
            self.enabled = False

    def prepare(self, kind: str) -> None:
        """Create the cache folder (with its .gitignore) and the folder of `kind`; a
        folder that cannot be created disables the cache."""
        if not self._usable(kind):
            return
        if kind in self._prepared:  # once per run, not once per entry written
            return
        try:
            self.folder.mkdir(exist_ok=True)
            ignore = self.folder / ".gitignore"
            if not os.path.lexists(ignore):
                write_atomic(ignore, b"# orchc's cache: safe to delete, never commit\n*\n")
            (self.folder / kind).mkdir(exist_ok=True)
            remove_dead_temporaries(self.folder / kind, orchc_only=True)
            self._prepared.add(kind)
        except OSError:
            self.enabled = False

    def prune(self, kind: str, keep: set[str], slack: int = 64) -> None:
        """Delete entries of `kind` not in `keep` once they outnumber the live ones."""
        folder = self.folder / kind
        if not self._usable(kind) or not folder.is_dir():
            return
        try:
            names = os.listdir(folder)
            remove_dead_temporaries(folder, names, orchc_only=True)
            if len(names) <= 2 * len(keep) + slack:
                return
            for name in names:
                if name.endswith(".json") and name[:-5] not in keep:
                    (folder / name).unlink(missing_ok=True)
        except OSError:
            pass

    # -- typed entries ----------------------------------------------------------------

    def get_extraction(self, key: str) -> tuple[tuple[OperationSpec, ...], tuple[Diagnostic, ...]] | None:
        payload = self.get("extract", key)
        if payload is None:
            return None
        try:
            return decode_extraction(payload)
        except (TypeError, ValueError, KeyError, AttributeError, IndexError, RecursionError):
            return None

    def put_extraction(self, key: str, operations, diagnostics) -> None:
        self.put("extract", key, encode_extraction(operations, diagnostics))

    def memo(self, kind: str, source: str, compute: Callable[[], str]) -> str:
        """`compute()`, remembered under the digest of (kind, source): black's output for
        an unformatted generated text (`codegen.generate` calls this)."""
        key = digest(kind, source)
        self.used_formats.add(key)
        found = self.get("format", key)
        if isinstance(found, str):
            return found
        result = compute()
        self.put("format", key, result)
        return result


# -- the IR as JSON ---------------------------------------------------------------------
#
# Dataclasses become {"@": class name, field: value}, tuples {"(": [items]}. Decoding
# accepts only the classes below and checks each value's type against the class's field
# kinds, so a damaged entry fails (and is ignored) instead of producing odd objects.

_CLASSES = {cls.__name__: cls for cls in (Span, TypeRef, ParamSpec, Options, OptionSpans, OperationSpec, Diagnostic)}


def _encode(value: Any) -> Any:
    cls = type(value)
    if cls.__name__ in _CLASSES and _CLASSES[cls.__name__] is cls:
        return {"@": cls.__name__, **{name: _encode(getattr(value, name)) for name in cls.__slots__}}
    if cls is tuple:
        return {"(": [_encode(item) for item in value]}
    if value is None or cls in (str, int, float, bool):
        return value
    raise TypeError(f"internal error: cache: cannot encode {cls.__name__}")


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "(" in value and len(value) == 1 and isinstance(value["("], list):
            return tuple(_decode(item) for item in value["("])
        cls = _CLASSES[value["@"]]
        names = cls.__slots__
        if set(value) != {"@", *names}:
            raise ValueError("fields do not match")
        return cls(**{name: _decode(value[name]) for name in names})
    if isinstance(value, list):
        raise ValueError("bare list")
    return value


def encode_extraction(operations, diagnostics) -> dict:
    return {"operations": _encode(tuple(operations)), "diagnostics": _encode(tuple(diagnostics))}


def decode_extraction(payload: Any) -> tuple[tuple[OperationSpec, ...], tuple[Diagnostic, ...]]:
    operations = _decode(payload["operations"])
    diagnostics = _decode(payload["diagnostics"])
    if not (isinstance(operations, tuple) and all(isinstance(op, OperationSpec) for op in operations)):
        raise ValueError("not operations")
    if not (isinstance(diagnostics, tuple) and all(isinstance(d, Diagnostic) for d in diagnostics)):
        raise ValueError("not diagnostics")
    for op in operations:
        _check_spans(op.span, op.decorator_span, op.name_span, *(p.span for p in op.params))
        if not all(isinstance(x, str) for x in (op.name, op.module, op.function, op.source_hash)):
            raise ValueError("bad operation")
    for diagnostic in diagnostics:
        _check_spans(diagnostic.span)
        diagnostic.rule  # noqa: B018 -- an unknown code raises KeyError
    return operations, diagnostics


def _check_spans(*spans: Any) -> None:
    for span in spans:
        if not (isinstance(span, Span) and isinstance(span.path, str)
                and all(type(n) is int for n in (span.line, span.column, span.end_line, span.end_column))):
            raise ValueError("bad span")

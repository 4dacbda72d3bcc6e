"""The local engine's result cache: what `cache=True` means there, as under Prefect.

A cached operation's result is stored under a key of its name, its locked source hash,
its `cache_version` and its inputs (their pickle), so an edit to the operation, a new
version or other inputs miss, as does a result older than `cache_expiration_seconds`;
a run after a failure reads the results its cached operations stored and skips them
(resume). The
store is a folder in the project (`[tool.orchc] result_cache`, default
`.orchc_cache/results`, ignored by git), so it survives processes; `--no-cache` reads
nothing from it (and still stores).

Entries are pickles (cloudpickle's, as Prefect's results), so each is authenticated as the compiler's cache entries are: the
file is an HMAC-SHA256, keyed with the per-user secret kept outside the project
(`compiler.cache.machine_secret`), of the key and the pickle, then the pickle. An entry
that does not check out (planted by a pull request, copied from another machine, edited)
is never unpickled: it is a miss. Without a secret (no writable home) nothing is cached.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
import time
from pathlib import Path
from typing import Any

from compiler.lock.lockfile import LockOperation
from compiler.writer import read_regular, write_atomic

DEFAULT_FOLDER = ".orchc_cache/results"
#: no stored result is read beyond this size
MAX_ENTRY_BYTES = 1024 * 1024 * 1024


def _dumps(value: Any) -> bytes:
    """cloudpickle's pickle, as Prefect stores results (a lambda or a local class stores
    under both engines); plain pickle where cloudpickle is not installed."""
    try:
        import cloudpickle
    except ImportError:
        return pickle.dumps(value, protocol=5)
    return cloudpickle.dumps(value, protocol=5)


class CacheError(Exception):
    """A cached operation's inputs or result cannot be stored (they do not pickle)."""


def check_storable(op: LockOperation, value: Any) -> bytes:
    """`value` pickled; CacheError naming the operation when it cannot be."""
    try:
        return _dumps(value)
    except Exception as error:
        raise CacheError(f"`{op.name}` is cached but its result cannot be stored: {error}") from None


class ResultStore:
    """One project's stored results."""

    def __init__(self, root: Path, config: dict[str, Any], read: bool = True) -> None:
        self.folder = root / str(config.get("result_cache") or DEFAULT_FOLDER)
        #: False with `--no-cache`: nothing is read, results are still stored
        self.read = read
        #: the per-user secret, read when a cached operation first needs it: most runs have none
        self._secret: bytes | None = None

    def key(self, op: LockOperation, kwargs: dict[str, Any]) -> str:
        """The entry's name for `op` called with `kwargs`; CacheError when they do not pickle."""
        try:
            inputs = _dumps(sorted(kwargs.items()))
        except Exception as error:
            raise CacheError(f"`{op.name}` is cached but its inputs cannot be stored: {error}") from None
        digest = hashlib.sha256()
        for part in (op.name.encode(), op.source_hash.encode(), repr(op.cache_version).encode(), inputs):
            digest.update(len(part).to_bytes(8, "big") + part)
        return digest.hexdigest()

    def get(self, key: str, op: LockOperation) -> tuple[bool, Any]:
        """(True, the stored result) or (False, None): none stored, or older than the
        operation's `cache_expiration_seconds`."""
        if not self.read or self.secret is None or os.path.islink(self.folder):
            return False, None
        try:
            mac, _, data = read_regular(self.folder / key, MAX_ENTRY_BYTES, follow_links=False).partition(b"\n")
        except OSError:
            return False, None
        if not hmac.compare_digest(mac, self._mac(key, data)):
            return False, None
        try:
            stored_at, value = pickle.loads(data)  # noqa: S301 - authenticated above: written by this user
        except Exception:  # a class gone or renamed since: recompute
            return False, None
        expiry = op.cache_expiration_seconds
        if expiry is not None and time.time() - stored_at > expiry:
            return False, None
        return True, value

    def put(self, key: str, op: LockOperation, value: Any) -> None:
        """Store `value`; CacheError naming the operation when it does not pickle."""
        if self.secret is None or os.path.islink(self.folder):
            return
        data = check_storable(op, (time.time(), value))
        self.folder.mkdir(parents=True, exist_ok=True)
        ignore = self.folder / ".gitignore"
        if not ignore.exists():
            write_atomic(ignore, b"*\n")
        write_atomic(self.folder / key, self._mac(key, data) + b"\n" + data)

    @property
    def secret(self) -> bytes | None:
        if self._secret is None:
            from compiler.cache import machine_secret

            self._secret = machine_secret()
        return self._secret

    def _mac(self, key: str, data: bytes) -> bytes:
        return hmac.new(self.secret or b"", key.encode() + b"\0" + data, hashlib.sha256).hexdigest().encode()

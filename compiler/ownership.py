"""Which files on disk are orchc's: the manifest of generated files (the previous lock's
`[[generated]]`), what `build` may replace or remove, and what it must leave alone.

orchc removes only what it wrote: a file is removed when the previous lock lists it as
generated, it is a regular file (not a link) directly in the `out` folder (no link on the
way), and it still has the recorded hash. A file that
orchc would overwrite must be one it wrote: listed in that manifest, or beginning with
orchc's own generated-file header. Anything else is reported and left alone.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

from compiler.config import Config
from compiler.diagnostics import Diagnostic
from compiler.lock.hashes import sha256
from compiler.model import Span
from compiler.writer import read_bytes

if TYPE_CHECKING:
    from compiler.lock.lockfile import LockFile


def manifest(lock_text: str | None, config: Config) -> dict[str, str]:
    """path -> sha256 of each generated file the lock text records, keeping only paths
    that lie in `out` ({} when there is no readable lock: then nothing is removed)."""
    if not lock_text:
        return {}
    from compiler.lock.lockfile import LockError, loads

    try:
        return manifest_of(loads(lock_text), config)
    except LockError:
        return {}


def manifest_of(lock: LockFile, config: Config) -> dict[str, str]:
    """`manifest` of a lock already parsed."""
    return {entry.path: entry.sha256 for entry in lock.generated if _in_out(entry.path, config)}


def _in_out(path: str, config: Config) -> bool:
    """Whether `path` names a file directly in `out`, as every generated module lies."""
    parts = PurePosixPath(path).parts
    out = PurePosixPath(config.out).parts
    return path.endswith(".py") and len(parts) == len(out) + 1 and parts[:-1] == out and parts[-1] not in ("..", ".")


def owned_file(root: Path, config: Config, path: str) -> bool:
    """Whether `root/path` is a regular file (not a link) whose folder really is `out`
    (no link leads elsewhere): the only kind of file orchc may remove."""
    target = root / path
    try:
        is_file = stat.S_ISREG(os.lstat(target).st_mode)
        return is_file and os.path.realpath(target.parent) == os.path.realpath(root / config.out)
    except (OSError, ValueError):
        return False


def removals(root: Path, config: Config, previous: dict[str, str],
             produced: set[str]) -> tuple[list[str], list[Diagnostic]]:
    """(generated files to remove, OC408 for each one left in place): files of the previous
    build that are no longer produced, and generated-looking files in `out` no lock lists."""
    remove, kept = [], []
    for path in sorted(set(previous) - produced):
        data = read_bytes(root / path) if owned_file(root, config, path) else None
        if data is None:
            continue
        if sha256(data) == previous[path]:
            remove.append(path)
        else:
            kept.append(_kept(path, "it changed since orchc wrote it"))
    for path in _generated_looking(root, config):
        if path not in produced and path not in previous:
            kept.append(_kept(path, "no lock of this project records it as generated"))
    return remove, kept


def _kept(path: str, why: str) -> Diagnostic:
    return Diagnostic("OC408", f"`{path}` is no longer generated but was left in place: {why}", Span(path),
                      "delete it yourself if you no longer need it")


def _generated_looking(root: Path, config: Config) -> list[str]:
    """Files directly in `out` that begin with orchc's generated-module header."""
    from compiler.codegen.modules import HEADER

    folder = root / config.out
    if not folder.is_dir():
        return []
    first_line = HEADER.splitlines()[0].encode()
    found = [f"{config.out}/{path.name}" for path in sorted(folder.glob("*.py"))]
    return [path for path in found
            if owned_file(root, config, path) and (read_bytes(root / path) or b"").startswith(first_line)]


def foreign_files(root: Path, config: Config, outputs: dict[str, str],
                  previous: dict[str, str]) -> list[Diagnostic]:
    """OC110 for each output path holding a file orchc did not write (build would
    overwrite it): not listed in `previous`, and without orchc's header."""
    from compiler.codegen.modules import HEADER as MODULE_HEADER
    from compiler.lock.lockfile import HEADER as LOCK_HEADER

    found = []
    for path, text in sorted(outputs.items()):
        data = read_bytes(root / path)
        if data is None or data == text.encode("utf-8") or path in previous:
            continue
        header = LOCK_HEADER if path == config.lock else MODULE_HEADER
        if not data.startswith(header.splitlines()[0].encode()):
            found.append(Diagnostic(
                "OC110", f"`{path}` exists and was not written by orchc: `orchc build` would overwrite it",
                Span(path), f"move the file away, or change `[tool.orchc] {'lock' if path == config.lock else 'out'}`"))
    return found

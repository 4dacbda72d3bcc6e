"""orchc's file primitives: writing without ever leaving a half-written result (the one
atomic writer: a temporary file beside the target, then `os.replace`), the all-or-nothing
commit of a build's outputs, the removal of temporaries a killed run left behind, and
reading files that may be planted (only regular files, of bounded size).

A commit writes every changed output to a temporary first and renames them into place
only when all were written; when a rename fails, the files already renamed are put
back from hard-link backups, so the previous outputs stay intact either way. The lock
is renamed last: it is the record of what the generated modules are.

Temporaries are named `.NAME.PID.RANDOM.orchc-tmp` (backups `.orchc-bak`), so the next run
can tell a dead run's leftovers from a running one's and remove only those. They are
created exclusively and never through a link (`O_EXCL | O_NOFOLLOW`): a planted file or
link of that name makes the write fail, it is never written through.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import re
import secrets
import shutil
import stat
from collections.abc import Iterable
from pathlib import Path

#: far larger than any hand-written module; a larger "source" is not one
MAX_SOURCE_BYTES = 64 * 1024 * 1024
#: what orchc reads back of its own outputs at most (a 10k-operation lock is about 6 MB)
MAX_OUTPUT_BYTES = 256 * 1024 * 1024
_TEMPORARY = re.compile(r"^\..+\.(\d+)\.[0-9a-f]{8}\.orchc-(?:tmp|bak)$")
_EXCLUSIVE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
#: what earlier orchc releases named their temporaries (`.NAME.RANDOM.tmp`, no process id)
_OLD_TEMPORARY = re.compile(r"^\..+\.tmp$")


class WriteError(Exception):
    """A file orchc could not write: `path` (project-relative) and the OS error's text."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


@functools.cache
def _umask() -> int:
    """The process's umask (read once; `os.umask` can only be read by setting it)."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _mode_for(path: Path) -> int:
    """An existing file keeps its mode; a new one gets what the umask allows."""
    try:
        return path.stat().st_mode & 0o7777
    except OSError:
        return 0o666 & ~_umask()


def _temporary(path: Path, kind: str = "tmp") -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.orchc-{kind}")


def _write_temporary(path: Path, data: bytes, mode: int) -> Path:
    temporary = _temporary(path)
    handle = os.open(temporary, _EXCLUSIVE, 0o600)
    try:
        with os.fdopen(handle, "wb") as stream:
            os.fchmod(stream.fileno(), mode)
            stream.write(data)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return temporary


def write_atomic(path: Path, data: bytes, mode: int | None = None) -> None:
    """Replace `path` with `data` in one step (`mode`: the new file's, default as `_mode_for`).
    Raises OSError; leaves no temporary behind."""
    temporary = _write_temporary(path, data, _mode_for(path) if mode is None else mode)
    try:
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def remove_dead_temporaries(folder: Path, names: Iterable[str] | None = None, *, orchc_only: bool = False) -> None:
    """Delete temporaries and backups in `folder` left by runs that no longer exist
    (`names`: the folder's listing, when the caller has it). In a folder only orchc
    writes (`orchc_only`), earlier releases' temporaries go too."""
    try:
        listing = os.listdir(folder) if names is None else names
    except OSError:
        return
    for name in listing:
        match = _TEMPORARY.match(name)
        dead = not _alive(int(match.group(1))) if match else orchc_only and _OLD_TEMPORARY.match(name) is not None
        if dead:
            with contextlib.suppress(OSError):
                (folder / name).unlink()


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError, OSError):
        return True  # another user's process, or a number we cannot ask about: leave it
    return True


def read_bytes(path: Path) -> bytes | None:
    """The bytes of a regular file (see `read_regular`); None when there is none to read."""
    try:
        return read_regular(path, MAX_OUTPUT_BYTES)
    except OSError:
        return None


def read_text(path: Path) -> str | None:
    """A regular file's UTF-8 text (see `read_bytes`); None when there is none to read."""
    data = read_bytes(path)
    try:
        return None if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def read_regular(path: Path, limit: int, *, follow_links: bool = True) -> bytes:
    """The bytes of a regular file of at most `limit` bytes. Raises OSError otherwise: a
    FIFO or device is never read (no hang on a pipe, no endless read of /dev/zero), and
    with `follow_links=False` neither is a link."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0))
    handle = os.open(path, flags)
    with os.fdopen(handle, "rb") as stream:
        info = os.fstat(stream.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(errno.EINVAL, "not a regular file")
        if info.st_size > limit:
            raise OSError(errno.EFBIG, f"larger than {limit:,} bytes")
        return stream.read()  # sized by fstat; a buffer of `limit` bytes would cost a 64 MiB allocation per file


# -- the commit of a build ----------------------------------------------------------------


def commit(root: Path, outputs: dict[str, str], last: str) -> tuple[str, ...]:
    """Write every output (project-relative path -> text) whose bytes differ, all or
    nothing, `last` renamed last; returns the paths written, sorted. Raises WriteError
    naming the first path that failed, after restoring every file as it was."""
    changed = {path: text.encode("utf-8") for path, text in outputs.items()
               if read_bytes(root / path) != text.encode("utf-8")}
    order = sorted(changed, key=lambda p: (p == last, p))
    for folder in {(root / path).parent for path in outputs}:
        remove_dead_temporaries(folder)
    made_folders: list[Path] = []
    staged: dict[str, tuple[Path, Path | None]] = {}
    try:
        for path in order:
            staged[path] = _stage(root, path, changed[path], made_folders)
        _rename_all(root, order, staged)
    except WriteError:
        _discard(staged.values(), made_folders)
        raise
    for _, backup in staged.values():
        if backup is not None:
            backup.unlink(missing_ok=True)
    return tuple(sorted(order))


def _stage(root: Path, path: str, data: bytes, made_folders: list[Path]) -> tuple[Path, Path | None]:
    """(temporary holding `data`, hard-link backup of the current file or None)."""
    target = root / path
    try:
        _make_folders(target.parent, made_folders)
        temporary = _write_temporary(target, data, _mode_for(target))
    except OSError as error:
        raise WriteError(path, _reason(error)) from None
    try:
        return temporary, _backup(target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        raise WriteError(path, _reason(error)) from None


def _make_folders(folder: Path, made_folders: list[Path]) -> None:
    missing = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    for parent in reversed(missing):
        parent.mkdir()
        made_folders.append(parent)


def _backup(target: Path) -> Path | None:
    """A hard link to the current file (a copy where links are not supported), so a failed
    commit can put it back; None when there is no file."""
    if not target.is_file():  # nothing, or something a rename cannot replace anyway
        return None
    backup = _temporary(target, "bak")
    try:
        os.link(target, backup)
    except OSError:  # no hard links here (or not to this file): a copy serves as well
        with target.open("rb") as source:
            handle = os.open(backup, _EXCLUSIVE, 0o600)
            with os.fdopen(handle, "wb") as copy:
                shutil.copyfileobj(source, copy)
    return backup


def _rename_all(root: Path, order: list[str], staged: dict[str, tuple[Path, Path | None]]) -> None:
    done: list[str] = []
    for path in order:
        temporary, _ = staged[path]
        try:
            os.replace(temporary, root / path)
        except OSError as error:
            _restore(root, done, staged)
            raise WriteError(path, _reason(error)) from None
        done.append(path)


def _restore(root: Path, done: list[str], staged: dict[str, tuple[Path, Path | None]]) -> None:
    """Put back what the renames in `done` replaced (their backups), newest first."""
    for path in reversed(done):
        _, backup = staged[path]
        with contextlib.suppress(OSError):
            if backup is None:
                (root / path).unlink()
            else:
                os.replace(backup, root / path)


def _discard(staged: Iterable[tuple[Path, Path | None]], made_folders: list[Path]) -> None:
    for temporary, backup in staged:
        for leftover in (temporary, backup):
            if leftover is not None:
                leftover.unlink(missing_ok=True)
    for folder in reversed(made_folders):
        with contextlib.suppress(OSError):
            folder.rmdir()  # only when empty: nothing of the user's is in a folder we made


def _reason(error: OSError) -> str:
    return f"{error.strerror or type(error).__name__} (errno {error.errno})" if error.errno else str(error)

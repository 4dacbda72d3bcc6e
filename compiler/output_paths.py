"""Where orchc may write: the `lock` and `out` settings checked against the project, its
configuration and its sources before anything is read or written (OC109).

The rules, for `lock` and `out` alike, after following symbolic links:
1. it lies inside the project and is not the project root;
2. it is not the configuration file (`pyproject.toml`);
3. it is not a `sources` folder, nor inside one, nor around one (the project root as a
   source is the exception: everything is inside it);
4. the lock is not inside `out` (nor `out` itself), is not a folder, and is not a Python
   file; `out` is not an existing file.
"""

from __future__ import annotations

import fnmatch
import glob
import os
from pathlib import Path, PurePosixPath

from compiler.config import Config
from compiler.diagnostics import Diagnostic
from compiler.discover import source_roots

_PYTHON_SUFFIXES = (".py", ".pyi", ".pyw")


_HINTS = {
    "out": "choose a folder of its own inside the project and outside the sources, e.g. `out = \"orchestration\"`",
    "lock": "choose a file of its own inside the project, outside the sources and `out`, e.g. `lock = \"flows.lock\"`",
}


def output_path_problems(root: Path, config: Config) -> tuple[Diagnostic, ...]:
    """OC109 for each way `lock` or `out` could make orchc write where it must not."""
    return tuple(
        Diagnostic("OC109", f"`[tool.orchc] {key} = {value!r}` is not a place orchc may write: {why}",
                   config.key_span(key), _HINTS[key])
        for key, value in (("out", config.out), ("lock", config.lock))
        for why in _why_not(root, config, key, value)
    )


def _why_not(root: Path, config: Config, key: str, value: str) -> list[str]:
    resolved = _inside(root, value)
    if resolved is None:
        return ["it leads outside the project (through a symbolic link)"]
    if resolved in (".", ""):
        return ["it is the project root"]
    reasons = []
    if resolved == _inside(root, config.pyproject):
        reasons.append(f"it is the configuration file `{config.pyproject}`")
    reasons += _source_overlaps(root, config, resolved)
    target = root / resolved
    if key == "lock":
        out = _inside(root, config.out)
        if out is not None and _within(resolved, out):
            reasons.append(f"it lies inside the generated folder `{config.out}`")
        if _is_dir(target):
            reasons.append("it is a folder")
        if resolved.endswith(_PYTHON_SUFFIXES):
            reasons.append("it is a Python file")
    elif os.path.lexists(target) and not _is_dir(target):
        reasons.append("it is a file, not a folder")
    return reasons


def _source_overlaps(root: Path, config: Config, resolved: str) -> list[str]:
    reasons = [f"the sources glob `{entry}` matches it" for entry in config.sources
               if glob.has_magic(entry) and _glob_matches(entry, resolved)]
    for source in source_roots(config):
        folder = _inside(root, source)
        if folder in (None, ".", ""):
            continue  # the project root holds everything; discovery skips `out` inside it
        if resolved == folder:
            reasons.append(f"it is the sources folder `{source}`")
        elif _within(resolved, folder):
            reasons.append(f"it lies inside the sources folder `{source}`")
        elif _within(folder, resolved):
            reasons.append(f"it contains the sources folder `{source}`")
    return reasons


def _inside(root: Path, relative: str) -> str | None:
    """`relative` as a project-relative POSIX path with symbolic links followed (the parts
    that exist), or None when it leads outside the project."""
    try:
        real_root = os.path.realpath(root)
        real = os.path.realpath(os.path.join(real_root, relative))
    except (OSError, ValueError):  # a link loop on the way, a name no file system takes
        return None
    if real != real_root and not real.startswith(real_root.rstrip(os.sep) + os.sep):
        return None
    return PurePosixPath(Path(os.path.relpath(real, real_root))).as_posix()


def _glob_matches(pattern: str, path: str) -> bool:
    """Whether the glob matches `path` or a folder holding it (`op*` matches `ops/gen`)."""
    parts = PurePosixPath(path).parts
    prefixes = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    return any(fnmatch.fnmatchcase(prefix, pattern.rstrip("/")) for prefix in prefixes)


def _is_dir(path: Path) -> bool:
    try:
        return path.is_dir()
    except OSError:  # unreadable on the way: not a folder orchc can use
        return False


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip("/") + "/")

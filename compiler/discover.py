"""Discovery: which Python files of a project orchc analyses, and their module names.

Walks the configured `sources` (folders or globs), pruning the default excludes (hidden
folders, virtualenvs, `__pycache__`, `build`, `dist`, `site-packages`, `node_modules`, the
generated `out` folder) and the configured `exclude` globs. Listing folders is the only
file-system access here; reading the files is left to `compiler.api`.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from compiler.config import Config
from compiler.diagnostics import Diagnostic
from compiler.model import Span
from compiler.naming import python_name

EXCLUDED_DIR_NAMES = frozenset({"__pycache__", "build", "dist", "site-packages", "node_modules"})


@dataclass(frozen=True, slots=True)
class SourcePath:
    """A discovered file: where it is and which module it is."""

    #: project-relative POSIX path
    path: str
    #: dotted module name relative to its source root
    module: str


def module_name(path: str, source_root: str) -> str:
    """`pkg/sub/mod.py` under root `.` is `pkg.sub.mod`; `pkg/__init__.py` is `pkg`."""
    relative = PurePosixPath(path).relative_to(source_root) if source_root != "." else PurePosixPath(path)
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def _matches(path: str, patterns: tuple[str, ...]) -> bool:
    name = path.rsplit("/", 1)[-1]
    return any(
        fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(name, pattern) or path.startswith(pattern.rstrip("/") + "/")
        for pattern in patterns
    )


def _excluded_dir(root: Path, path: str, config: Config) -> bool:
    name = path.rsplit("/", 1)[-1]
    if name.startswith(".") or name in EXCLUDED_DIR_NAMES or path == config.out:
        return True
    if (root / path / "pyvenv.cfg").exists():  # a virtualenv under any name
        return True
    return _matches(path, config.exclude)


def _walk(root: Path, start: str, config: Config) -> list[str]:
    """Every `.py` file under the project-relative folder `start`, pruned."""
    found = []
    for folder, dirs, files in os.walk(root / start):
        rel_folder = Path(folder).relative_to(root).as_posix()
        dirs[:] = [d for d in dirs if not _excluded_dir(root, _join(rel_folder, d), config)]
        found.extend(_join(rel_folder, f) for f in files if f.endswith(".py"))
    return [path for path in found if not _matches(path, config.exclude)]


def _join(folder: str, name: str) -> str:
    return name if folder in ("", ".") else f"{folder}/{name}"


def _glob_root(pattern: str) -> str:
    """The longest folder prefix of a glob without magic characters."""
    parts = []
    for part in PurePosixPath(pattern).parts[:-1]:
        if glob.has_magic(part):
            break
        parts.append(part)
    return "/".join(parts) or "."


def _entry_files(root: Path, entry: str, config: Config) -> tuple[str, list[str]] | str:
    """(source root, files) for one `sources` entry, or why it matches nothing."""
    entry = str(PurePosixPath(entry))
    if not glob.has_magic(entry):
        if (root / entry).is_dir():
            return entry, _walk(root, entry, config)
        if (root / entry).exists():
            return "is a file, not a folder"
        return "matches no folder"
    files: list[str] = []
    for match in sorted(glob.glob(entry, root_dir=root, recursive=True)):
        match = PurePosixPath(match).as_posix()
        if (root / match).is_dir():
            files.extend(_walk(root, match, config))
        elif match.endswith(".py") and not _matches(match, config.exclude):
            files.append(match)
    return (_glob_root(entry), files) if files else "matches no Python file"


def find_sources(root: Path, config: Config) -> tuple[tuple[SourcePath, ...], tuple[Diagnostic, ...]]:
    """The project's Python files, sorted by path; a file claimed by two entries keeps the first."""
    chosen: dict[str, SourcePath] = {}
    diagnostics = []
    for entry in config.sources:
        result = _entry_files(root, entry, config)
        if isinstance(result, str):
            diagnostics.append(Diagnostic(
                "OC104", f"`sources` entry `{entry}` {result}", config.key_span("sources"),
                "list folders or globs in `[tool.orchc] sources` (relative to the project root), e.g. `ops` or "
                "`ops/*.py`"))
            continue
        source_root, files = result
        for path in files:
            if not _under(path, config.out):
                chosen.setdefault(path, SourcePath(path, module_name(path, source_root)))
    return tuple(sorted(chosen.values(), key=lambda s: s.path)), tuple(diagnostics)


#: what a pipeline spec file is named
SPEC_SUFFIXES = (".yaml", ".yml", ".json")


def glob_match(path: str, pattern: str) -> bool:
    """Whether `glob.glob(pattern, recursive=True)` would find the project-relative file
    `path` (for the pure core, which has texts but no files): `*`, `?` and `[...]` stay
    inside a folder, a whole `**` part stands for any number of folders, and a name
    starting with `.` matches only a part that does too. Tested against `glob.glob`."""
    regex = "".join(_glob_part(part, last=index == len(pattern.split("/")) - 1)
                    for index, part in enumerate(pattern.split("/")))
    return re.fullmatch(regex, path) is not None


def _glob_part(part: str, last: bool) -> str:
    if part == "**":
        return "(?:[^/.][^/]*(?:/|$))*" if last else "(?:[^/.][^/]*/)*"
    text = "" if part.startswith(".") else "(?!\\.)"
    index = 0
    while index < len(part):
        char = part[index]
        if char == "*":
            text += "[^/]*"
        elif char == "?":
            text += "[^/]"
        elif char == "[" and part.find("]", index + 2) != -1:  # a class; `]` first is a member
            end = part.find("]", index + 2)
            inner = part[index + 1:end]
            inner = inner.replace("\\", "\\\\").replace("[", "\\[")
            text += "[" + ("^" + inner[1:] if inner.startswith("!") else inner) + "]"
            index = end
        else:
            text += re.escape(char)
        index += 1
    return text + ("" if last else "/")


def is_excluded(path: str, config: Config) -> bool:
    """Whether `[tool.orchc] exclude` leaves the project-relative `path` out."""
    return _matches(path, config.exclude)


def find_specs(root: Path, config: Config) -> tuple[tuple[str, ...], tuple[Diagnostic, ...]]:
    """The pipeline spec files `[tool.orchc] pipelines` matches, sorted, each once."""
    chosen: set[str] = set()
    diagnostics = []
    for entry in config.pipelines:
        found = [PurePosixPath(match).as_posix() for match in glob.glob(entry, root_dir=root, recursive=True)]
        found = [path for path in found if path.endswith(SPEC_SUFFIXES) and (root / path).is_file()
                 and not is_excluded(path, config)]
        if not found:  # a glob may match nothing yet (no JSON specs so far); a named file must exist
            pattern = any(char in entry for char in "*?[")
            diagnostics.append(Diagnostic(
                "OC113" if pattern else "OC104",
                f"`pipelines` entry `{entry}` matches no spec file (`.yaml`, `.yml` or `.json`)",
                config.key_span("pipelines"),
                "nothing to do if no spec of that kind exists yet; otherwise fix the glob (relative to the "
                "project root)" if pattern else
                "name an existing spec file relative to the project root, or a glob such as `pipelines/*.yaml`"))
        chosen.update(found)
    return tuple(sorted(chosen)), tuple(diagnostics)


def module_collisions(paths: tuple[SourcePath, ...], with_operations: set[str]) -> list[Diagnostic]:
    """OC111 for files that Python imports as one module (`ops/a.py` and
    `ops/a/__init__.py`, or names equal in NFKC form), when one of them holds operations:
    only one of them can be imported, so the other's operations would never run."""
    by_module: dict[str, list[SourcePath]] = {}
    for source in paths:
        by_module.setdefault(python_name(source.module), []).append(source)
    found = []
    for sources in by_module.values():
        if len(sources) < 2 or not any(source.path in with_operations for source in sources):
            continue
        first, *others = sources
        for other in others:
            found.append(Diagnostic(
                "OC111", f"`{other.path}` and `{first.path}` are both module `{first.module}` to Python: "
                "only one of them can be imported", Span(other.path),
                "rename one of them (a module and a package of the same name cannot both be imported)"))
    return found


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder + "/")


def module_for(path: str, config: Config) -> str | None:
    """The module of project-relative `path`: named relative to the first source root (in
    configuration order) that holds it, as `find_sources` names it; None under none."""
    for root in source_roots(config):
        if root == "." or path.startswith(root + "/"):
            return module_name(path, root)
    return None


def source_roots(config: Config) -> tuple[str, ...]:
    """The folders module names are relative to, in configuration order (for sys.path)."""
    roots = []
    for entry in config.sources:
        entry = str(PurePosixPath(entry))
        root = _glob_root(entry) if glob.has_magic(entry) else entry  # a folder (a file is OC104)
        if root not in roots:
            roots.append(root)
    return tuple(roots)

"""The registry: from the lockfile to callables.

The runtime never scans user code: it finds `flows.lock`, checks it (`runtime.trust`: it
names only files inside the project, under the module names `orchc build` gives them),
puts the project's source roots on `sys.path`, and imports exactly the operations the lock
names, each from its locked file. Generated modules and the engines look every function
up here, so a function that is not in the reviewed lock can never run.
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Any

from compiler.diagnostics import did_you_mean
from compiler.lock.hashes import function_hashes
from compiler.lock.lockfile import LockError, LockFile, LockFlow, LockOperation, loads
from compiler.toml_read import TomlError, load_toml
from compiler.writer import MAX_SOURCE_BYTES, read_regular
from runtime.errors import OperationLoadError, RuntimeUsageError, StaleLockError, describe_exception
from runtime.trust import (check_generated, check_lock, check_module_file, check_project,
                           check_project_matches_config, path_problem)

DEFAULT_LOCK = "flows.lock"
PYPROJECT = "pyproject.toml"
#: the project a process without a registry loads (`serve` sets it for its runs' processes)
PROJECT_ENV = "ORCHC_PROJECT"


def read_tool_config(folder: Path) -> dict[str, Any] | None:
    """`[tool.orchc]` of `folder/pyproject.toml`; None when there is no such table."""
    path = folder / PYPROJECT
    if not path.is_file():
        return None
    try:
        data = load_toml(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RuntimeUsageError(f"cannot read `{path}`: {error}") from None
    except TomlError as error:  # within size and nesting limits: a hostile file gets one line
        raise RuntimeUsageError(f"{path}:{error.line}: not valid TOML: {error.message}",
                                "fix the TOML syntax") from None
    table = data.get("tool", {}).get("orchc")
    return table if isinstance(table, dict) else None


def _lock_path(root: Path, config: dict[str, Any]) -> Path:
    value = config.get("lock", DEFAULT_LOCK)
    if not isinstance(value, str) or not value:
        raise RuntimeUsageError(
            f"`[tool.orchc] lock` in `{root / PYPROJECT}` must be a path string, not {value!r}",
            f"set `lock = \"{DEFAULT_LOCK}\"` or remove the key",
        )
    problem = path_problem(value)
    if problem:  # the lock decides what is imported: it must be the project's own
        raise RuntimeUsageError(f"`[tool.orchc] lock` `{value}` in `{root / PYPROJECT}` {problem}",
                                "give a path inside the project, such as `flows.lock`")
    return root / value


def find_project(start: Path) -> Path | None:
    """The first folder from `start` upward holding `flows.lock` or a pyproject with `[tool.orchc]`."""
    for folder in (start, *start.parents):
        if (folder / DEFAULT_LOCK).is_file() or read_tool_config(folder) is not None:
            return folder
    return None


def _read_lock(path: Path) -> LockFile:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RuntimeUsageError(
            f"no lockfile at `{path}`", "run `orchc build` in the project first"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise RuntimeUsageError(f"cannot read the lockfile `{path}`: {error}") from None
    try:
        lock = loads(text)
    except LockError as error:
        raise RuntimeUsageError(
            f"{path}:{error.line}: {error.code} {error.message}",
            "regenerate it with `orchc build` (resolve merge conflicts in the source, not the lock)",
        ) from None
    check_lock(lock, path)  # before anything of the project goes on sys.path or is imported
    return lock


def _package_base(out: str, package: str) -> str:
    """The project-relative folder to put on `sys.path` so `package` imports from `out`."""
    out_parts = PurePosixPath(out).parts
    package_parts = tuple(package.split("."))
    matches = out_parts[-len(package_parts):] == package_parts
    base = out_parts[: -len(package_parts)] if matches else out_parts[:-1]
    return PurePosixPath(*base).as_posix()


class Registry:
    """A loaded lockfile and the functions it names."""

    def __init__(self, root: Path, lock: LockFile, config: dict[str, Any] | None = None,
                 lock_path: Path | None = None) -> None:
        #: the project root: the folder holding pyproject's `[tool.orchc]` (or the lock)
        self.root = root
        self.lock = lock
        #: the lock's operations by name (`LockFile.operation` scans the list)
        self.operations: dict[str, LockOperation] = {op.name: op for op in lock.operations}
        #: the `[tool.orchc]` table ({} when the project has none)
        self.config = config or {}
        self.lock_path = lock_path or root / DEFAULT_LOCK
        self._functions: dict[str, Callable] = {}
        self._arguments: dict[str, dict[str, Any]] = {}
        #: loaded by a run that did not come through `python -m runtime` (a worker's or
        #: `serve`'s run of a deployment): its flows are checked when they start
        self.implicit = False
        #: the flows `verify_flow` found current
        self._verified_flows: set[str] = set()
        #: modules whose `__file__` was found to be their locked file
        self._checked_modules: set[str] = set()
        #: flows this process runs only part of (`restrict`), by name
        self._subsets: dict[str, LockFlow] = {}
        check_project(lock.project, self.lock_path)  # `load` checked the rest; this guards sys.path
        self._extend_sys_path()

    @classmethod
    def load(cls, project: Path | None = None) -> Registry:
        """The registry of `project`, or of the project enclosing the current directory."""
        if project is None:
            root = find_project(Path.cwd().resolve())
            if root is None:
                raise RuntimeUsageError(
                    f"no `{DEFAULT_LOCK}` or `{PYPROJECT}` with `[tool.orchc]` in `{Path.cwd()}` or above",
                    "run from inside an orchc project, pass `--project DIR`, or run `orchc build` first",
                )
        else:
            root = Path(project).resolve()
            if not root.is_dir():
                raise RuntimeUsageError(f"project folder `{project}` does not exist")
        table = read_tool_config(root)
        config = table or {}
        lock_path = _lock_path(root, config)
        lock = _read_lock(lock_path)
        if table is not None:  # the reviewed configuration decides which folders go on sys.path
            check_project_matches_config(lock.project, (root / PYPROJECT).read_text(encoding="utf-8"), lock_path)
        return cls(root, lock, config, lock_path)

    # -- functions ------------------------------------------------------------------

    def project_paths(self) -> list[str]:
        """The folders `sys.path` needs for the project: its source roots, the generated
        package's parent, the project folder."""
        project = self.lock.project
        folders = [*project.source_roots, _package_base(project.out, project.package), "."]
        return list(dict.fromkeys(str((self.root / folder).resolve()) for folder in folders))

    def _extend_sys_path(self) -> None:
        paths = self.project_paths()
        for path in reversed(paths):
            if path not in sys.path:
                sys.path.insert(0, path)

    def function(self, op_name: str) -> Callable:
        """The function of operation `op_name`, imported through its module (only ops in the lock)."""
        cached = self._functions.get(op_name)
        if cached is not None:
            return cached
        op = self.operations.get(op_name)
        if op is None:
            raise RuntimeUsageError(
                f"operation `{op_name}` is not in the lockfile `{self.lock_path}`",
                did_you_mean(op_name, self.operations) or "run `orchc build`",
            )
        try:
            module = importlib.import_module(op.module)
        except Exception as error:  # user code: any error while importing it is theirs
            raise OperationLoadError(
                f"cannot import module `{op.module}` of operation `{op_name}`: {describe_exception(error)}",
                f"check that `{op.file}` imports cleanly",
            ) from error
        if op.module not in self._checked_modules:
            check_module_file(module, self.root / op.file, f"operation `{op_name}`")
            self._checked_modules.add(op.module)
        function = getattr(module, op.function, None)
        if not callable(function):
            raise OperationLoadError(
                f"module `{op.module}` has no function `{op.function}` (operation `{op_name}`)",
                "the source changed since the lock was built: run `orchc build`",
            )
        self._functions[op_name] = function
        return function

    # -- flows and staleness --------------------------------------------------------

    def restrict(self, subset: LockFlow) -> None:
        """Run only `subset` of its flow in this process (`runtime.selection`): both
        engines, and a generated flow's `run_operations`, take the flow from `flow()`."""
        self._subsets[subset.name] = subset

    def is_subset(self, flow_name: str) -> bool:
        return flow_name in self._subsets

    def arguments(self, op_name: str) -> dict[str, Any]:
        """A pipeline step's literal arguments (`params`), read once."""
        found = self._arguments.get(op_name)
        if found is None:
            import ast

            op = self.operations[op_name]
            found = self._arguments[op_name] = {a.name: ast.literal_eval(a.value) for a in op.arguments or ()}
        return found

    def members(self, flow: LockFlow) -> tuple[str, ...]:
        """What runs of `flow`, in topological order: the part `restrict` chose, exactly,
        or else its own operations and everything upstream (`LockFile.members`)."""
        if self._subsets.get(flow.name) is flow:
            return tuple(flow.operations)
        return self.lock.members(flow)

    def flow(self, flow_name: str) -> LockFlow:
        """The locked flow `flow_name` (the part of it `restrict` chose); RuntimeUsageError
        (with "did you mean") when unknown."""
        flow = self._subsets.get(flow_name) or self.lock.flow(flow_name)
        if flow is None:
            names = [f.name for f in self.lock.flows]
            raise RuntimeUsageError(
                f"unknown flow `{flow_name}`",
                did_you_mean(flow_name, names) or "list the flows with `python -m runtime --list`",
            )
        return flow

    def stale_operations(self, flow_name: str) -> list[str]:
        """What no longer matches the source among the flow's operations, one line each:
        each operation's function must still be defined in its file with the locked source
        hash (which covers its decorator, so a renamed operation shows as changed). The
        function is found by the name the lock records, so a lock naming something the
        module only imports (`system` of `from os import system`) is refused too."""
        members = [self.operations[name] for name in self.members(self.flow(flow_name))]
        hashes: dict[str, dict[str, str] | None] = {}
        problems = []
        for op in members:
            if op.file not in hashes:
                hashes[op.file] = self._function_hashes(op.file)
            found = hashes[op.file]
            if found is None:
                problems.append(f"`{op.name}`: its file `{op.file}` is missing or unreadable")
            elif op.function not in found:
                problems.append(f"`{op.name}`: function `{op.function}` is no longer defined in `{op.file}`")
            elif found[op.function] != op.source_hash:
                problems.append(f"`{op.name}`: its source changed (`{op.file}:{op.line}`)")
        return problems

    def refuse_stale(self, flow_name: str) -> None:
        """Raise StaleLockError when the flow's operations no longer match their sources."""
        problems = self.stale_operations(flow_name)
        if problems:
            raise StaleLockError(flow_name, problems)

    def verify_flow(self, flow_name: str) -> None:
        """Refuse (StaleLockError, UntrustedLockError) a flow whose operations' sources
        or generated module no longer match the lock; once per flow and process."""
        if flow_name in self._verified_flows:
            return
        self.refuse_stale(flow_name)
        check_generated(self.root, self.lock, self.flow(flow_name), self.lock_path)
        self._verified_flows.add(flow_name)

    def _function_hashes(self, file: str) -> dict[str, str] | None:
        """Function name -> source hash of each top-level function in `file` (the lock's
        own hash format, `compiler.lock.hashes`); None when it cannot be read or parsed."""
        try:  # a regular file only: a pipe or device in its place must not hang or flood us
            text = read_regular(self.root / file, MAX_SOURCE_BYTES).decode("utf-8-sig")
            return function_hashes(text)
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError):
            return None


_current: Registry | None = None
_current_lock = threading.Lock()


def current_registry() -> Registry:
    """The process's registry: the one the CLI set, else loaded from $ORCHC_PROJECT or the
    current directory (the run of a deployment, in a worker's or `serve`'s process)."""
    global _current
    with _current_lock:
        if _current is None:
            project = os.environ.get(PROJECT_ENV)
            _current = Registry.load(Path(project) if project else None)
            _current.implicit = True
        return _current


def set_current_registry(registry: Registry | None) -> None:
    global _current
    with _current_lock:
        _current = registry

"""What the runtime checks before it imports anything of a project.

The lock is the reviewed contract, but it is a file anyone with write access can edit:
a lock saying `module = "os"`, `function = "system"`, or a generated module with code
appended after `orchc build`, must never run. So before any import the runtime checks
that the lock is consistent and names only files inside the project, with the module
names `orchc build` would give them, and that the generated modules it is about to
import are the ones the lock recorded. After an import it checks that the module came
from the locked file (not from a same-named module elsewhere on `sys.path`).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from types import ModuleType

from compiler import naming
from compiler.discover import module_name
from compiler.lock.hashes import sha256
from compiler.lock.lockfile import LockFile, LockFlow, LockOperation, LockProject
from runtime.errors import UntrustedLockError


def path_problem(value: object) -> str | None:
    """Why `value` is not a project-relative POSIX path inside the project, else None."""
    if not isinstance(value, str) or not value:
        return "is not a path"
    if "\\" in value or "\0" in value:
        return "is not a POSIX path"
    # a drive (`C:x`) too: `root / value` would honour it on Windows
    if value.startswith("/") or value[1:2] == ":":
        return "is absolute (it must be relative to the project)"
    if ".." in value.split("/"):
        return "leaves the project (`..`)"
    return None


def _dotted(name: str) -> bool:
    return bool(name) and all(part.isidentifier() for part in name.split("."))


def _under(path: str, folder: str) -> bool:
    return folder == "." or path.startswith(folder.rstrip("/") + "/")


# -- the lock -------------------------------------------------------------------------------


def check_project(project: LockProject, lock_path: Path) -> None:
    """Refuse (UntrustedLockError) a `[project]` whose folders (for `sys.path`) leave the project."""
    problems = list(_project_problems(project))
    if problems:
        raise UntrustedLockError(_refused_lock(lock_path), problems)


def check_project_matches_config(project: LockProject, pyproject_text: str, lock_path: Path) -> None:
    """Refuse a lock whose folders (what goes first on `sys.path`) are not the ones the
    project's `[tool.orchc]` gives: a lock listing an extra source root could put a
    module of the attacker's choosing before the project's own. A configuration with
    findings of its own is left to `orchc check`."""
    from compiler.config import parse_config
    from compiler.core import generated_package
    from compiler.discover import source_roots

    config, findings = parse_config(pyproject_text)
    if findings:
        return
    expected = {"source_roots": list(source_roots(config)), "out": config.out, "package": generated_package(config)}
    problems = [f"`project.{key}` is {getattr(project, key)!r}; `[tool.orchc]` gives {value!r}"
                for key, value in expected.items() if getattr(project, key) != value]
    if problems:
        raise UntrustedLockError(_refused_lock(lock_path), problems)


def check_lock(lock: LockFile, lock_path: Path) -> None:
    """Refuse (UntrustedLockError) a lock that is inconsistent or reaches outside the project."""
    problems = list(_project_problems(lock.project))
    roots = [root for root in lock.project.source_roots if path_problem(root) is None]
    modules: dict[str, list[str]] = {}  # file -> its possible module names (files hold many ops)
    for op in lock.operations:
        problems += _operation_problems(op, roots, modules)
    names = {op.name for op in lock.operations}
    conditions = {(edge.source, edge.target) for edge in lock.edges if edge.reason == "when"}
    for op in lock.operations:
        problems += _branch_problems(op, names, conditions)
    for flow in lock.flows:
        problems += _flow_problems(flow, names, set(lock.members(flow)))
    if problems:
        raise UntrustedLockError(_refused_lock(lock_path), problems)


def _refused_lock(lock_path: Path) -> str:
    return f"refusing the lockfile `{lock_path}`: it is not what `orchc build` writes (nothing was imported)"


def _project_problems(project: LockProject) -> Iterator[str]:
    """`out` and the source roots go on `sys.path`: they must stay inside the project."""
    for field, value in (("out", project.out), *(("source_roots", root) for root in project.source_roots)):
        problem = path_problem(value)
        if problem:
            yield f"`project.{field}` `{value}` {problem}"
    if not _dotted(project.package):
        yield f"`project.package` `{project.package}` is not a dotted Python name"
    elif path_problem(project.out) is None:
        # the package is imported from the folder ending in its parts, which must be `out`
        parts, out_parts = tuple(project.package.split(".")), PurePosixPath(project.out).parts
        if out_parts[-len(parts):] != parts:
            yield f"`project.package` `{project.package}` is not the package of `project.out` `{project.out}`"


def _operation_problems(op: LockOperation, roots: list[str], modules: dict[str, list[str]]) -> Iterator[str]:
    where = f"operation `{op.name}`"
    problem = path_problem(op.file)
    if problem or not op.file.endswith(".py"):
        yield f"{where}: file `{op.file}` {problem or 'is not a `.py` file'}"
        return
    if not _dotted(op.module):
        yield f"{where}: module `{op.module}` is not a dotted Python name"
    if not op.function.isidentifier():
        yield f"{where}: function `{op.function}` is not a Python identifier"
    expected = modules.get(op.file)
    if expected is None:
        expected = modules[op.file] = [module_name(op.file, root) for root in roots if _under(op.file, root)]
    if not expected:
        yield f"{where}: file `{op.file}` is in none of the source roots {roots}"
    elif op.module not in expected:
        yield f"{where}: module `{op.module}` is not the module of its file `{op.file}` (expected `{expected[0]}`)"


def _branch_problems(op: LockOperation, names: set[str], conditions: set[tuple[str, str]]) -> Iterator[str]:
    """A condition is an operation with its `when` edge; a mapped name is a parameter; a
    step's literal argument is a parameter's, and a literal."""
    where = f"operation `{op.name}`"
    condition = op.condition
    if condition is not None and (condition[0] not in names or (condition[0], op.name) not in conditions):
        yield f"{where}: `when` names `{condition[0]}`, which is no operation it has a `when` edge from"
    params = {p.name for p in op.params}
    for name in op.map or ():
        if name not in params:
            yield f"{where}: `map` names `{name}`, which is not one of its parameters"
    for argument in op.arguments or ():
        if argument.name not in params:
            yield f"{where}: argument `{argument.name}` is not one of its parameters"
        elif not _literal(argument.value):
            yield f"{where}: argument `{argument.name}` is not a literal: `{argument.value[:60]}`"


def _literal(text: str) -> bool:
    import ast

    try:
        ast.literal_eval(text)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return False
    return True


def _flow_problems(flow: LockFlow, operations: set[str], members: set[str]) -> Iterator[str]:
    """`members`: the flow's own operations and everything upstream of them."""
    where = f"flow `{flow.name}`"
    for name in flow.operations:
        if name not in operations:
            yield f"{where}: operation `{name}` is not in the lock"
    for name in flow.sinks:
        if name not in members:
            yield f"{where}: sink `{name}` is not one of its operations"
    for param in flow.params:  # parsing a parameter imports its consumers: only reviewed members
        for name in param.consumers:
            if name not in members:
                yield f"{where}: parameter `{param.name}` names `{name}`, which is not one of its operations"
    if not flow.module.isidentifier() or flow.module == "__init__":
        yield f"{where}: generated module `{flow.module}` is not a module name"
    if not flow.function.isidentifier():
        yield f"{where}: generated function `{flow.function}` is not a Python identifier"


# -- generated modules ------------------------------------------------------------------------


def generated_paths(lock: LockFile, flow: LockFlow) -> tuple[str, ...]:
    """The project-relative paths of the generated modules running `flow` imports: the
    package's `__init__.py`, the flow's module, then those holding its operations' tasks."""
    out = PurePosixPath(lock.project.out)
    modules = [flow.module, *sorted({naming.module_name(naming.top_level(op)) for op in lock.members(flow)} - {flow.module})]
    return ((out / "__init__.py").as_posix(), *((out / f"{module}.py").as_posix() for module in modules))


def check_generated(root: Path, lock: LockFile, flow: LockFlow, lock_path: Path) -> None:
    """Refuse (UntrustedLockError) to run `flow` when a generated module it imports is
    missing, unlisted in the lock's `[[generated]]`, or not byte for byte what it records."""
    recorded = {entry.path: entry.sha256 for entry in lock.generated}
    problems = []
    for path in generated_paths(lock, flow):
        try:
            found = sha256((root / path).read_bytes())
        except OSError:
            problems.append(f"generated module `{path}` is missing")
            continue
        if path not in recorded:
            problems.append(f"generated module `{path}` is not listed in the lock's `[[generated]]`")
        elif recorded[path] != found:
            problems.append(f"generated module `{path}` differs from the lock's sha256 (edited after `orchc build`?)")
    if problems:
        raise UntrustedLockError(f"refusing to run flow `{flow.name}`: its generated modules are not the ones "
                                 f"`{lock_path.name}` records (nothing was imported)", problems)


# -- after an import --------------------------------------------------------------------------


def check_module_file(module: ModuleType, expected: Path, what: str) -> None:
    """Refuse a module imported from elsewhere than `expected` (a same-named module earlier
    on `sys.path`, or one imported before the project's folders were put there)."""
    file = getattr(module, "__file__", None)
    if file is None or Path(file).resolve() != expected.resolve():
        raise UntrustedLockError(f"refusing {what}: its module is not the locked file", [
            f"module `{module.__name__}` was imported from `{file or 'no file'}`, not from `{expected}`"])

"""Re-exports: a type imported from the package that re-exports it names the same type.

`from shop import Order`, where `shop/__init__.py` says `from .models import Order`, is
how most code imports a model; annotations resolve it to `shop.Order` while the producer
returns `shop.models.Order`. This pass maps each name a package's `__init__.py` re-exports
to where it is defined (`from .models import Order`, `from .models import Order as O`,
absolute forms, `from .models import *` through the module's literal `__all__`, and
chains of packages re-exporting each other), then rewrites every operation's resolved
annotations to those definitions, before linking.

The `__init__.py` files (and the modules they star-import from) are read with Python's
own parser (`ast`), module level only: nothing is imported or run, and libcst never
sees them for this. Their text is part of the
project's sources, so editing a re-export re-links what depends on it
(`compiler.warm` never patches past an edited `__init__.py`).
"""

from __future__ import annotations

import ast
import dataclasses
import re
from collections.abc import Mapping, Sequence

from compiler.model import OperationSpec, SourceFile, TypeRef

#: a dotted name in a resolved annotation (`list[shop.Order] | None` holds `shop.Order`)
_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+")
INIT = "__init__.py"


def reexports(files: Sequence[SourceFile]) -> dict[str, str]:
    """`package.Name` -> the qualified name it stands for, for every name a package's
    `__init__.py` imports from elsewhere, chains followed."""
    texts = {file.module: file.text for file in files}
    aliases: dict[str, str] = {}
    for file in sorted(files, key=lambda f: f.module):
        # only packages that import from somewhere are parsed (most `__init__.py` are empty)
        if file.path.rsplit("/", 1)[-1] != INIT or "import" not in file.text:
            continue
        tree = _parse(file.text)
        for statement in tree.body if tree is not None else ():
            if isinstance(statement, ast.ImportFrom):
                aliases.update(_from_import(statement, file.module, texts))
    return {name: _follow(name, aliases) for name in aliases}


def _parse(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # the extractor reports it
        return None


def _from_import(statement: ast.ImportFrom, package: str, texts: Mapping[str, str]) -> dict[str, str]:
    source = _absolute(statement.module, statement.level, package)
    if source is None:
        return {}
    found = {}
    for alias in statement.names:
        if alias.name == "*":
            for name in _dunder_all(_parse(texts[source]) if source in texts else None):
                found[f"{package}.{name}"] = f"{source}.{name}"
        else:
            found[f"{package}.{alias.asname or alias.name}"] = f"{source}.{alias.name}"
    return {name: target for name, target in found.items() if name != target}


def _absolute(module: str | None, level: int, package: str) -> str | None:
    """The module `from <level dots><module> import` names inside `package`'s `__init__`."""
    if level == 0:
        return module
    parts = package.split(".")
    if level - 1 >= len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _dunder_all(tree: ast.Module | None) -> list[str]:
    """The literal `__all__` of a module (a list or tuple of strings), else nothing."""
    for statement in tree.body if tree is not None else ():
        if (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                and isinstance(statement.targets[0], ast.Name) and statement.targets[0].id == "__all__"):
            try:
                names = ast.literal_eval(statement.value)
            except ValueError:
                return []
            if isinstance(names, (list, tuple)) and all(isinstance(name, str) for name in names):
                return list(names)
    return []


def _follow(name: str, aliases: Mapping[str, str]) -> str:
    seen = {name}
    while name in aliases and aliases[name] not in seen:  # a cycle of re-exports stops where it loops
        name = aliases[name]
        seen.add(name)
    return name


def canonical(operations: Sequence[OperationSpec], aliases: Mapping[str, str]) -> list[OperationSpec]:
    """The operations with each resolved annotation naming definitions, not re-exports."""
    if not aliases:
        return list(operations)

    def rewrite(ref: TypeRef | None) -> TypeRef | None:
        if ref is None:
            return None
        resolved = _DOTTED.sub(lambda match: aliases.get(match.group(), match.group()), ref.resolved)
        return ref if resolved == ref.resolved else dataclasses.replace(ref, resolved=resolved)

    result = []
    for op in operations:
        params = tuple(dataclasses.replace(p, annotation=rewrite(p.annotation)) if p.annotation else p
                       for p in op.params)
        result.append(dataclasses.replace(op, params=params, returns=rewrite(op.returns)))
    return result

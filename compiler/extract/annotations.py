"""Static name resolution for one module: its import bindings and canonical annotations.

Nothing here imports or runs user code, and nothing walks the whole tree: bindings come
from module-level statements only (including those inside module-level `if`, `try`,
`with`, `for` and `while` blocks, such as `if TYPE_CHECKING:`), which is all extract
needs and costs a few microseconds instead of a metadata pass.

Canonical form of an annotation (`TypeRef.resolved`):

1. A name or dotted name resolves through the module's bindings to a qualified name:
   `from .models import Job` in `pkg.ops` makes `Job` read `pkg.models.Job`,
   `import a.b as m` makes `m.Job` read `a.b.Job`, and a class (or any name) assigned
   at module level reads `<module>.<Name>`. Builtins and unknown names (such as names
   from a star import) stay as written.
2. `typing.List`, `Dict`, `Set`, `FrozenSet`, `Tuple` and `Type` become the builtins
   `list`, `dict`, `set`, `frozenset`, `tuple` and `type`; `typing_extensions.X` reads
   `typing.X`; other typing names stay qualified (`typing.Any`).
3. A string annotation is parsed and resolved the same way; a string that does not
   parse stays as its text (the string's content).
4. A subscript resolves its base and each argument: `dict[str, Job]` reads
   `dict[str, pkg.models.Job]`. `Literal[...]` keeps its arguments as written;
   `Annotated[X, ...]` reads as `X`.
5. `Optional[X]`, `Union[X, None]` and `X | None` all read `X | None`: union members
   are flattened, deduplicated and sorted (`None` last), joined with ` | `.
6. Anything else (a call, a lambda) stays as written.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

import libcst as cst

from compiler.model import SourceFile
from compiler.options import normalise_newlines

#: local name -> qualified name, e.g. {"Job": "pkg.models.Job", "m": "a.b"}
Bindings = dict[str, str]

_CANONICAL = {
    "typing.List": "list",
    "typing.Dict": "dict",
    "typing.Set": "set",
    "typing.FrozenSet": "frozenset",
    "typing.Tuple": "tuple",
    "typing.Type": "type",
}
_OPTIONAL = "typing.Optional"
_UNION = "typing.Union"
_ANNOTATED = "typing.Annotated"
_LITERAL = "typing.Literal"
_NONE = "None"
# Renders any node as written; every node's text is independent of its module.
_RENDERER = cst.Module(body=())


def code(node: cst.CSTNode) -> str:
    """A node's source text, newlines normalised to `\\n`."""
    return normalise_newlines(_RENDERER.code_for_node(node))


# -- bindings -----------------------------------------------------------------------

_BLOCKS = frozenset({cst.If, cst.Try, cst.TryStar, cst.With, cst.For, cst.While})
_BINDING_STATEMENTS = frozenset(
    {cst.Import, cst.ImportFrom, cst.Assign, cst.AnnAssign, *([cst.TypeAlias] if hasattr(cst, "TypeAlias") else [])}
)


def module_bindings(
    module: cst.Module, source: SourceFile, star: Mapping[str, tuple[str, ...]] | None = None
) -> Bindings:
    """Every name bound at module level, mapped to its qualified name.

    `star` maps a module to the names a star import from it binds (orchc knows only its
    own runtime's); names from other star imports stay unknown.
    """
    package = package_of(source)
    bindings: Bindings = {}
    for statement in module_level(module.body):
        kind = type(statement)  # exact type checks: isinstance through ABCMeta is slow
        if kind is cst.FunctionDef or kind is cst.ClassDef:
            bindings[statement.name.value] = f"{source.module}.{statement.name.value}"
        elif kind is cst.SimpleStatementLine or kind is cst.SimpleStatementSuite:
            for small in statement.body:
                if type(small) in _BINDING_STATEMENTS:
                    _bind(small, source.module, package, bindings, star or {})
    return bindings


def package_of(source: SourceFile) -> str:
    """The package relative imports start from: the module itself for `__init__.py`."""
    if source.path == "__init__.py" or source.path.endswith("/__init__.py"):
        return source.module
    return source.module.rpartition(".")[0]


def absolute_module(module: str, level: int, package: str) -> str | None:
    """`from {'.' * level}{module} import ...` as an absolute module, None above the top."""
    if level == 0:
        return module
    parts = package.split(".") if package else []
    keep = len(parts) - (level - 1)
    if keep <= 0 and not (keep == 0 and module):
        return None
    return ".".join([*parts[: max(keep, 0)], *([module] if module else [])])


def module_level(body: Sequence[cst.BaseStatement]) -> Iterator[cst.BaseStatement]:
    """Module-level statements, descending into blocks but not into defs or classes."""
    for statement in body:
        yield statement
        if type(statement) not in _BLOCKS:
            continue
        for suite in _suites(statement):
            if isinstance(suite, cst.IndentedBlock):
                yield from module_level(suite.body)
            else:
                yield suite  # a SimpleStatementSuite: `if X: import y`


def _suites(statement: cst.BaseStatement) -> Iterator[cst.BaseSuite]:
    if isinstance(statement, cst.If):
        yield statement.body
        if statement.orelse is not None:
            yield from (_suites(statement.orelse) if isinstance(statement.orelse, cst.If) else (statement.orelse.body,))
    elif isinstance(statement, (cst.Try, cst.TryStar)):
        yield statement.body
        yield from (handler.body for handler in statement.handlers)
        yield from (part.body for part in (statement.orelse, statement.finalbody) if part is not None)
    elif isinstance(statement, (cst.With, cst.For, cst.While)):
        yield statement.body
        if getattr(statement, "orelse", None) is not None:
            yield statement.orelse.body


def _bind(
    small: cst.BaseSmallStatement,
    module: str,
    package: str,
    bindings: Bindings,
    star: Mapping[str, tuple[str, ...]],
) -> None:
    if isinstance(small, cst.Import):
        for alias in small.names:
            name = dotted(alias.name) or ""
            if alias.asname is not None:
                bindings[_target_name(alias.asname.name)] = name
            else:
                head = name.partition(".")[0]
                bindings[head] = head
    elif isinstance(small, cst.ImportFrom):
        _bind_from(small, package, bindings, star)
    elif isinstance(small, cst.Assign):
        for target in small.targets:
            _bind_target(target.target, module, bindings)
    elif isinstance(small, cst.AnnAssign):
        _bind_target(small.target, module, bindings)
    elif isinstance(small, getattr(cst, "TypeAlias", ())):
        bindings[small.name.value] = f"{module}.{small.name.value}"


def _bind_from(
    node: cst.ImportFrom, package: str, bindings: Bindings, star: Mapping[str, tuple[str, ...]]
) -> None:
    module = (dotted(node.module) or "") if node.module is not None else ""
    base = absolute_module(module, len(node.relative), package)
    if not base:
        return
    if isinstance(node.names, cst.ImportStar):
        for name in star.get(base, ()):
            bindings[name] = f"{base}.{name}"
        return
    for alias in node.names:
        name = dotted(alias.name) or ""
        local = _target_name(alias.asname.name) if alias.asname is not None else name
        bindings[local] = f"{base}.{name}"


def _bind_target(target: cst.BaseExpression, module: str, bindings: Bindings) -> None:
    if isinstance(target, cst.Name):
        bindings[target.value] = f"{module}.{target.value}"
    elif isinstance(target, (cst.Tuple, cst.List)):
        for element in target.elements:
            _bind_target(element.value, module, bindings)


def _target_name(node: cst.BaseExpression) -> str:
    return node.value if isinstance(node, cst.Name) else code(node)


def dotted(node: cst.BaseExpression | None) -> str | None:
    """`a.b.c` for a Name/Attribute chain, None for anything else."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return None if base is None else f"{base}.{node.attr.value}"
    return None


def qualify(name: str, bindings: Bindings) -> str:
    """A dotted name as a canonical qualified name (rules 1 and 2 of the module docstring)."""
    head, dot, rest = name.partition(".")
    qualified = bindings[head] + dot + rest if head in bindings else name
    if qualified.startswith("typing_extensions."):
        qualified = "typing." + qualified.removeprefix("typing_extensions.")
    elif qualified.startswith("builtins."):
        qualified = qualified.removeprefix("builtins.")
    return _CANONICAL.get(qualified, qualified)


# -- annotations --------------------------------------------------------------------


def resolve(annotation: cst.BaseExpression, bindings: Bindings) -> str:
    """The canonical resolved form of an annotation expression (see the module docstring)."""
    return _join(_members(annotation, bindings))


def _join(members: list[str]) -> str:
    unique = sorted(set(members), key=lambda member: (member == _NONE, member))
    return " | ".join(unique)


def _members(node: cst.BaseExpression, bindings: Bindings) -> list[str]:
    """The union members an annotation stands for (one member for a non-union)."""
    if isinstance(node, cst.BinaryOperation) and isinstance(node.operator, cst.BitOr):
        return _members(node.left, bindings) + _members(node.right, bindings)
    if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
        return _string_members(node, bindings)
    if isinstance(node, cst.Subscript):
        return _subscript_members(node, bindings)
    name = dotted(node)
    if name is not None:
        return [qualify(name, bindings)]
    if isinstance(node, cst.Ellipsis):
        return ["..."]
    if isinstance(node, cst.List):
        return ["[" + ", ".join(resolve(element.value, bindings) for element in node.elements) + "]"]
    return [code(node)]


def _string_members(node: cst.SimpleString | cst.ConcatenatedString, bindings: Bindings) -> list[str]:
    value = node.evaluated_value
    if not isinstance(value, str):
        return [code(node)]
    try:
        parsed = cst.parse_expression(value.strip())
    except (cst.ParserSyntaxError, ValueError, RecursionError):
        return [value]
    return _members(parsed, bindings)


def _subscript_members(node: cst.Subscript, bindings: Bindings) -> list[str]:
    base_name = dotted(node.value)
    base = qualify(base_name, bindings) if base_name is not None else resolve(node.value, bindings)
    arguments = [element.slice for element in node.slice]
    values = [arg.value for arg in arguments if isinstance(arg, cst.Index) and arg.star is None]
    if len(values) < len(arguments):  # a slice or `*Ts`: nothing to canonicalise
        return [base + "[" + ", ".join(code(element) for element in node.slice) + "]"]
    if base == _OPTIONAL:
        return [member for value in values for member in _members(value, bindings)] + [_NONE]
    if base == _UNION:
        return [member for value in values for member in _members(value, bindings)]
    if base == _ANNOTATED and values:
        return _members(values[0], bindings)
    if base == _LITERAL:
        return [base + "[" + ", ".join(code(value) for value in values) + "]"]
    return [base + "[" + ", ".join(resolve(value, bindings) for value in values) + "]"]

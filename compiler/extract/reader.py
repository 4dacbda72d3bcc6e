"""Extraction: one source file in, its `@operation` functions out (libcst; never imports code).

`extract` works in these steps:

1. A file whose text lacks the word `operation` has no operations: it is not parsed.
2. Python's own parser outlines the file (`compiler.extract.outline`): a syntax error is one
   OC201 diagnostic, placed and worded by Python. The outline gives each top-level
   function's whole lines (its source hash covers them) and a reduced text: the file
   with the bodies of defs and classes dropped. libcst parses the reduced text,
   which holds everything extraction reads at a fraction of the tokens.
3. The module-level imports are read (`compiler.extract.annotations.module_bindings`) to learn
   which local names stand for `runtime.operation` (`OPERATION`), however imported.
   Without such a name there is nothing more to do.
4. Each module-level `def` decorated with it is read: the decorator's literal arguments
   (checked), the parameters, the return annotation and the docstring. One render of
   the function gives every node's place in it (`Rendered`); the outline says on which
   line it starts. No metadata pass runs over the whole module.
5. Every other use (a method, a nested function, a lambda, a call form) is an OC207.
   To avoid a walk over the whole tree, the uses are first counted by a regular
   expression over the text; only when the text holds more of them than the imports
   and step 4 account for are the remaining statements walked (comments and strings
   may make the count too high, which costs a walk, never a wrong result). The walk
   needs what the reduction dropped, so then libcst parses the whole file after all.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Callable, Sequence
from typing import NamedTuple

import libcst as cst

from compiler.extract.annotations import (
    Bindings,
    code,
    dotted,
    module_bindings,
    module_level,
    normalise_newlines,
    qualify,
    resolve,
)
from compiler.diagnostics import Diagnostic, did_you_mean, sorted_diagnostics
from compiler.model import (
    BINDABLE_KINDS,
    OperationSpec,
    Options,
    OptionSpans,
    ParamSpec,
    SourceFile,
    Span,
    TypeRef,
)
from compiler.lock.hashes import source_hash
from compiler.naming import name_problem, python_name
from compiler.options import CONVERTERS, INVALID, KEYWORDS, REQUIREMENTS
from compiler.extract.outline import Outline, outline
from compiler.extract.positions import Rendered, line_breaks

#: the qualified name of the marker users import (`from runtime import operation`)
OPERATION = "runtime.operation"
_PACKAGE, _, _ATTRIBUTE = OPERATION.rpartition(".")
# The marker is also reachable through the module that defines it.
_OPERATION_NAMES = frozenset({OPERATION, f"{OPERATION}.{_ATTRIBUTE}"})
# `from runtime import *` binds the marker (it is in `runtime.__all__`).
_STAR = {_PACKAGE: (_ATTRIBUTE,)}

_LITERAL_HINT = "write the value literally; orchc reads decorator arguments without running code"
_NAME_HINT = "use dot-separated Python identifiers that are not keywords, e.g. `scraping.stepstone.fetch`"
_DECORATOR_HINT = "use the decorator form `@operation(...)` on a module-level function"
_INVALID = INVALID


def extract(source: SourceFile) -> tuple[tuple[OperationSpec, ...], tuple[Diagnostic, ...]]:
    """The operations defined in one file (sorted by line) and the problems found there."""
    if "operation" not in source.text:
        return (), ()
    try:
        shape = outline(source.text.removeprefix("\ufeff"))
    except SyntaxError as error:
        return (), (_python_syntax_error(source, error),)
    except (ValueError, RecursionError, MemoryError) as error:  # a NUL byte, absurd nesting
        return (), (_oc201(source, str(error) or type(error).__name__, 1, 1),)
    try:
        reduced = cst.parse_module(shape.reduced)
    except cst.ParserSyntaxError:
        reduced = None  # a form the reduction does not keep valid: parse the whole file
    if reduced is not None:
        found = _Extractor(source, reduced, shape, whole=False).run()
        if found is not None:
            return found
    try:
        module = cst.parse_module(source.text)
    except cst.ParserSyntaxError as error:
        return (), (_oc201(source, error.message.rpartition(": ")[2] or error.message,
                           error.editor_line, error.editor_column),)
    found = _Extractor(source, module, shape, whole=True).run()
    assert found is not None
    return found


def canonical_repr(value: object) -> str:
    """`repr()` of a literal value, with set elements sorted so it never depends on hashing."""
    if isinstance(value, (set, frozenset)):
        items = sorted(canonical_repr(item) for item in value)
        inner = "{" + ", ".join(items) + "}" if items else ""
        if isinstance(value, set):
            return inner or "set()"
        return f"frozenset({inner})"
    if isinstance(value, (list, tuple)):
        items = [canonical_repr(item) for item in value]
        if isinstance(value, list):
            return "[" + ", ".join(items) + "]"
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{canonical_repr(k)}: {canonical_repr(v)}" for k, v in value.items()) + "}"
    return repr(value)


def _python_syntax_error(source: SourceFile, error: SyntaxError) -> Diagnostic:
    return _oc201(source, error.msg, error.lineno or 1, max(error.offset or 1, 1))


def _oc201(source: SourceFile, message: str, line: int, column: int) -> Diagnostic:
    return Diagnostic(
        "OC201",
        f"syntax error: {_short(message, 120)}",
        Span(source.path, line, column),
        "fix the syntax; orchc analyses the other files meanwhile",
    )


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Operand(NamedTuple):
    """A top-level function carrying the marker, rendered, with its whole text."""

    index: int
    funcdef: cst.FunctionDef
    decorators: list[cst.Decorator]
    rendered: Rendered
    #: its whole lines in the file (what the source hash covers)
    text: str
    #: uses of the marker in its text, and in its marker decorators alone
    uses: int
    own: int


class _Extractor:
    """Reads one parsed module; `run` returns what `extract` returns.

    `module` is the whole file (`whole`) or the outline's reduced text, which keeps
    everything extraction reads in place; `run` on the reduced module returns None when
    the marker is used somewhere the reduction dropped (a method, a nested function...).
    """

    def __init__(self, source: SourceFile, module: cst.Module, shape: Outline, whole: bool) -> None:
        self.source = source
        self.module = module
        self.shape = shape
        self.whole = whole
        # libcst drops a byte-order mark, and so do editors' columns.
        self.text = shape.text
        self.bindings: Bindings = module_bindings(module, source, _STAR)
        self.references = _reference_pattern(self.bindings)
        self.diagnostics: list[Diagnostic] = []

    def run(self) -> tuple[tuple[OperationSpec, ...], tuple[Diagnostic, ...]] | None:
        if self.references is None:
            return (), ()
        operands = self._operands()
        unaccounted = len(self.references.findall(self.text)) - self._uses_in_imports()
        unaccounted -= sum(operand.uses for operand in operands)
        if not self.whole and (unaccounted > 0 or any(operand.uses > operand.own for operand in operands)):
            return None
        operations: list[OperationSpec] = []
        for operand in operands:
            operation = self._operation(operand)
            if operation is not None:
                operations.append(operation)
        if unaccounted > 0:
            handled = {operand.index for operand in operands}
            for index, statement in enumerate(self.module.body):
                if index not in handled:
                    self._scan(index, statement)
        operations.sort(key=lambda operation: (operation.span.line, operation.name))
        return tuple(operations), sorted_diagnostics(self.diagnostics)

    def is_operation(self, expression: cst.BaseExpression) -> bool:
        """Whether `expression` (`operation`, `rt.operation(...)`, ...) is the marker."""
        name = dotted(expression.func if isinstance(expression, cst.Call) else expression)
        return name is not None and qualify(name, self.bindings) in _OPERATION_NAMES

    def report(self, code_: str, message: str, span: Span, hint: str) -> None:
        self.diagnostics.append(Diagnostic(code_, message, span, hint))

    # -- locating ------------------------------------------------------------------

    def _operands(self) -> list[_Operand]:
        """The top-level functions decorated with the marker, each rendered (from its
        first decorator, placed by the outline) and counted."""
        operands = []
        outlined = iter(self.shape.functions)
        references = self.references
        assert references is not None
        for index, statement in enumerate(self.module.body):
            if not isinstance(statement, cst.FunctionDef):
                continue
            lines = next(outlined)
            if lines.name != python_name(statement.name.value):
                raise AssertionError(f"internal error: outline has `{lines.name}` where libcst has `{statement.name.value}`")
            decorators = [d for d in statement.decorators if self.is_operation(d.decorator)]
            if not decorators:
                continue
            rendered = Rendered(self.source.path, self.module, statement.with_changes(leading_lines=()))
            rendered.first_line = lines.first
            text = self.shape.function_text(lines)
            own = sum(len(references.findall(rendered.code(d))) for d in decorators)
            operands.append(_Operand(index, statement, decorators, rendered, text, len(references.findall(text)), own))
        return operands

    def _first_line(self, index: int, rendered: str) -> int:
        """The line where top-level statement `index` (rendered without its leading
        lines) starts: found by its unique text, else by rendering what precedes it."""
        start = self.text.find(rendered)
        if start < 0 or self.text.find(rendered, start + 1) >= 0:
            start = self._rendered_offset(index)
        return line_breaks(self.text, start) + 1

    def _rendered_offset(self, index: int) -> int:
        render = self.module.code_for_node
        statement = self.module.body[index]
        before = sum(len(render(line)) for line in self.module.header)
        before += sum(len(render(previous)) for previous in self.module.body[:index])
        return before + len(render(statement)) - len(render(statement.with_changes(leading_lines=())))

    def _render(self, index: int, statement: cst.BaseStatement) -> Rendered:
        rendered = Rendered(self.source.path, self.module, statement.with_changes(leading_lines=()))
        rendered.first_line = self._first_line(index, rendered.text)
        return rendered

    # -- one operation ---------------------------------------------------------------

    def _operation(self, operand: _Operand) -> OperationSpec | None:
        """Read one top-level decorated function (in the whole module, also report the
        marker's other uses inside it)."""
        funcdef, rendered = operand.funcdef, operand.rendered
        for extra in operand.decorators[1:]:
            self.report(
                "OC207",
                f"`{funcdef.name.value}` has more than one `@{_written(extra.decorator)}`",
                rendered.span(extra),
                "keep a single `@operation(...)` decorator",
            )
        if operand.uses > operand.own:
            self._scan_nodes(funcdef.body, rendered, [("def", funcdef.name.value)])
        return _OperationReader(self, funcdef, rendered, operand.text).read(operand.decorators[0])

    # -- other uses ------------------------------------------------------------------

    def _uses_in_imports(self) -> int:
        """How many matches of the use pattern module-level imports hold (`import
        runtime.operation` reads like `runtime.operation`), counted without rendering."""
        modules = _marker_modules(self.bindings)
        count = 0
        for statement in module_level(self.module.body) if modules else ():
            if not isinstance(statement, (cst.SimpleStatementLine, cst.SimpleStatementSuite)):
                continue
            for small in statement.body:
                if isinstance(small, cst.Import):
                    paths = [dotted(alias.name) or "" for alias in small.names]
                elif isinstance(small, cst.ImportFrom) and not small.relative and small.module is not None:
                    paths = [dotted(small.module) or ""]
                else:
                    continue
                count += sum(path.split(".")[:2] == [module, _ATTRIBUTE] for path in paths for module in modules)
        return count

    def _scan(self, index: int, statement: cst.BaseStatement) -> None:
        """Report the marker's uses inside top-level statement `index` (not an operation)."""
        finder = _Uses(self.is_operation, [])
        statement.visit(finder)
        if finder.found:
            self._report_uses(finder, self._render(index, statement))

    def _scan_nodes(self, root: cst.CSTNode, where: Rendered, enclosing: list) -> None:
        finder = _Uses(self.is_operation, enclosing)
        root.visit(finder)
        self._report_uses(finder, where)

    def _report_uses(self, finder: _Uses, where: Rendered) -> None:
        for node, message, hint in finder.found:
            self.report("OC207", message, where.span(node), hint)


def _reference_pattern(bindings: Bindings) -> re.Pattern[str] | None:
    """A pattern matching every written use of the marker, None when nothing binds it.

    A use is `name(` or `@name` for a name bound to the marker, or `alias.operation` for
    an alias of its module (backslash continuations count as whitespace). Each
    alternative starts with the literal name so the search runs at `str.find` speed.
    Not counted: a bare decorator written with a space after the `@` (`@ operation`).
    """
    names = sorted(local for local, qualified in bindings.items() if qualified in _OPERATION_NAMES)
    modules = _marker_modules(bindings)
    if not names and not modules:
        return None
    parts = []
    for name in map(re.escape, names):
        parts.append(rf"{name}(?:(?<![\w.]{name})(?=[\s\\]*\()|\b(?<=@{name}))")
    for name in map(re.escape, modules):
        parts.append(rf"{name}(?<![\w.]{name})(?=[\s\\]*\.[\s\\]*{_ATTRIBUTE}\b)")
    return re.compile("|".join(parts))


def _marker_modules(bindings: Bindings) -> list[str]:
    """The local names bound to the module defining the marker (`import runtime as rt`), sorted."""
    return sorted(local for local, qualified in bindings.items() if f"{qualified}.{_ATTRIBUTE}" in _OPERATION_NAMES)


def _written(expression: cst.BaseExpression) -> str:
    """The marker as the user spelled it: `operation`, `op`, `rt.operation`."""
    target = expression.func if isinstance(expression, cst.Call) else expression
    return dotted(target) or "operation"


class _Uses(cst.CSTVisitor):
    """Collects uses of the marker that are not on a module-level function (OC207)."""

    def __init__(self, is_operation: Callable[[cst.BaseExpression], bool], enclosing: list) -> None:
        super().__init__()
        self.is_operation = is_operation
        #: ("def" | "class", name) for each definition around the current node
        self.enclosing: list[tuple[str, str]] = enclosing
        #: (node, message, hint)
        self.found: list[tuple[cst.CSTNode, str, str]] = []
        self._reported: set[int] = set()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self._decorated(node, "def")
        self.enclosing.append(("def", node.name.value))

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self.enclosing.pop()

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self._decorated(node, "class")
        self.enclosing.append(("class", node.name.value))

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self.enclosing.pop()

    def visit_Call(self, node: cst.Call) -> None:
        if id(node) in self._reported:
            return
        if isinstance(node.func, cst.Call) and self.is_operation(node.func):
            self._reported.add(id(node.func))
            self.found.append((node, *_applied(node, _written(node.func))))
        elif self.is_operation(node.func):
            message = f"`{_written(node)}(...)` is used outside a decorator"
            self.found.append((node, message, _DECORATOR_HINT))

    def _decorated(self, node: cst.FunctionDef | cst.ClassDef, kind: str) -> None:
        for decorator in node.decorators:
            if self.is_operation(decorator.decorator):
                self._reported.add(id(decorator.decorator))
                message, hint = _misplaced(node.name.value, kind, self.enclosing, _written(decorator.decorator))
                self.found.append((decorator, message, hint))


def _applied(call: cst.Call, written: str) -> tuple[str, str]:
    """Message and hint for the call form `operation(...)(target)`."""
    target = call.args[0].value if call.args else None
    if isinstance(target, cst.Lambda):
        return (
            f"`{written}(...)` is applied to a lambda; only module-level functions are operations",
            "define the function with `def` at module level and put `@operation(...)` above it",
        )
    what = f"`{_short(code(target))}`" if target is not None else "nothing"
    return f"`{written}(...)` is called on {what} instead of decorating a function", _DECORATOR_HINT


def _misplaced(name: str, kind: str, enclosing: Sequence[tuple[str, str]], written: str) -> tuple[str, str]:
    """Message and hint for `@operation` on something other than a module-level function."""
    if kind == "class":
        return (
            f"`@{written}` decorates class `{name}`; only module-level functions are operations",
            "put `@operation(...)` on a module-level `def` instead",
        )
    if enclosing and enclosing[-1][0] == "class":
        owner = enclosing[-1][1]
        return (
            f"`@{written}` decorates `{owner}.{name}`, a method; only module-level functions are operations",
            f"move `{name}` out of class `{owner}` to module level as a plain function",
        )
    if enclosing:
        return (
            f"`@{written}` decorates `{name}`, nested inside `{enclosing[-1][1]}`; only module-level functions are operations",
            f"move `{name}` to module level",
        )
    return (
        f"`@{written}` decorates `{name}` inside a block (`if`, `try`, `with`, ...); only top-level functions are operations",
        f"define `{name}` at the top level of the module, outside any block",
    )


class _OperationReader:
    """Reads one top-level `@operation` function: decorator arguments, parameters, text."""

    def __init__(self, extractor: _Extractor, funcdef: cst.FunctionDef, where: Rendered, text: str) -> None:
        self.extractor = extractor
        self.funcdef = funcdef
        self.function = python_name(funcdef.name.value)
        self.where = where
        #: the function's whole lines in the file
        self.text = text
        self.report = extractor.report

    def read(self, decorator: cst.Decorator) -> OperationSpec | None:
        params = self._params()
        call = decorator.decorator
        written = _written(call)
        if not isinstance(call, cst.Call):
            self._missing_name(decorator, written)
            return None
        given, spans, seen = self._arguments(call, written)
        values = self._validated(given)
        if "name" not in seen:
            self._missing_name(decorator, written)
        name = values.pop("name", None)
        if name is not None and (problem := name_problem(name)) is not None:
            self.report("OC203", f"invalid operation name: {problem}", spans["name"], _NAME_HINT)
            name = None
        self._check_inputs(values, given, params)
        self._check_map(values, given, params)
        self._check_executor(values, given)
        if name is None:
            return None
        return OperationSpec(
            name=name,
            module=self.extractor.source.module,
            function=self.function,
            span=self.where.keyword_span("async" if self.funcdef.asynchronous else "def"),
            decorator_span=self.where.span(decorator),
            name_span=spans["name"],
            is_async=self.funcdef.asynchronous is not None,
            params=params,
            returns=self._type(self.funcdef.returns),
            docstring=_docstring(self.funcdef),
            options=Options(**values),
            option_spans=self._option_spans(spans, given, values),
            source_hash=source_hash(self.text),
        )

    def _missing_name(self, decorator: cst.Decorator, written: str) -> None:
        self.report(
            "OC208",
            f"`@{written}` on `{self.function}` has no `name`",
            self.where.span(decorator),
            f'give the operation a name: `@{written}(name="group.{self.function}")`',
        )

    # -- decorator arguments ---------------------------------------------------------

    def _arguments(self, call: cst.Call, written: str) -> tuple[dict, dict[str, Span], set[str]]:
        """The literal values given (keyword -> (value, node)), every value's span, and
        every keyword given; reports OC202 and OC204."""
        given: dict[str, tuple[object, cst.BaseExpression]] = {}
        spans: dict[str, Span] = {}
        positional = 0
        for arg in call.args:
            key = self._keyword(arg, written, positional)
            if arg.keyword is None and not arg.star:
                positional += 1
            if key is None:
                continue
            if key in spans:
                self.report("OC204", f"`{key}` is given twice", self.where.span(arg), f"keep one `{key}`")
                continue
            spans[key] = self.where.span(arg.value)
            value = self._literal(arg.value)
            if value is _INVALID:
                self.report(
                    "OC202",
                    f"`{key}` is not a literal: `{_short(self._code(arg.value))}`",
                    spans[key],
                    _LITERAL_HINT,
                )
            else:
                given[key] = (value, arg.value)
        return given, spans, set(spans)

    def _keyword(self, arg: cst.Arg, written: str, positional: int) -> str | None:
        """The argument's keyword (`name` for the first positional one), None after
        reporting an argument that cannot be read."""
        if arg.star:
            self.report(
                "OC202",
                f"`{arg.star}{_short(self._code(arg.value))}` unpacks arguments orchc cannot read",
                self.where.span(arg),
                "write each argument literally as `keyword=value`; orchc reads decorator arguments without running code",
            )
            return None
        if arg.keyword is None:
            if positional == 0:
                return "name"
            self.report(
                "OC204",
                f"`@{written}` takes only `name` positionally, got `{_short(self._code(arg.value))}`",
                self.where.span(arg.value),
                "pass the other options by keyword, e.g. `retries=3`",
            )
            return None
        key = arg.keyword.value
        if key in KEYWORDS:
            return key
        hint = did_you_mean(key, KEYWORDS) or "the arguments are " + ", ".join(f"`{k}`" for k in KEYWORDS)
        self.report("OC204", f"`@{written}` has no argument `{key}`", self.where.span(arg.keyword), hint)
        return None

    def _code(self, node: cst.CSTNode) -> str:
        return normalise_newlines(self.where.code(node))

    def _literal(self, node: cst.BaseExpression) -> object:
        return _literal_value(self.where.code(node))

    def _validated(self, given: dict[str, tuple[object, cst.BaseExpression]]) -> dict[str, object]:
        """The arguments converted to `Options` fields; reports OC205 for bad values."""
        values: dict[str, object] = {}
        for key, (value, node) in given.items():
            converted = CONVERTERS[key](value)
            if converted is _INVALID:
                self.report(
                    "OC205",
                    f"`{key}` must be {REQUIREMENTS[key]}, got `{_short(canonical_repr(value))}`",
                    self.where.span(node),
                    f"write `{key}` as {REQUIREMENTS[key]}",
                )
            else:
                values[key] = converted
        return values

    def _check_inputs(self, values: dict[str, object], given: dict, params: tuple[ParamSpec, ...]) -> None:
        """OC209 for each `inputs` key that is not a parameter; that entry is dropped."""
        names = [param.name for param in params]
        node = given["inputs"][1] if "inputs" in values else None
        values["inputs"] = tuple(item for item in values.get("inputs", ()) if item[0] in names)
        for element in getattr(node, "elements", ()):
            parameter = self._literal(element.key)
            if parameter not in names:
                hint = did_you_mean(str(parameter), names) or (
                    "`inputs` keys must be parameters of `" + self.function + "`: " + ", ".join(f"`{n}`" for n in names)
                    if names
                    else f"`{self.function}` takes no parameters; remove `inputs`"
                )
                self.report(
                    "OC209",
                    f"`inputs` names `{parameter}`, which is not a parameter of `{self.function}`",
                    self.where.span(element.key),
                    hint,
                )

    def _check_map(self, values: dict[str, object], given: dict, params: tuple[ParamSpec, ...]) -> None:
        """OC210 for each `map` entry that is not a parameter the flow can pass by name, or has a default;
        `map` is dropped then, since mapping over the rest would change the function's meaning."""
        if "map" not in values:
            return
        names = [param.name for param in params if param.kind in BINDABLE_KINDS]
        defaults = {param.name for param in params if param.default is not None}
        node = given["map"][1]
        entries = [element.value for element in node.elements] if isinstance(node, (cst.List, cst.Tuple)) else [node]
        for entry in entries:
            parameter = self._literal(entry)
            if parameter in defaults:
                self.report("OC210", f"`map` names `{parameter}`, which has a default: a mapped parameter takes "
                            "the list bound to it", self.where.span(entry), f"remove the default of `{parameter}`")
            elif parameter not in names:
                hint = did_you_mean(str(parameter), names) or (
                    "`map` names parameters of `" + self.function + "`: " + ", ".join(f"`{n}`" for n in names)
                    if names else f"`{self.function}` takes no parameter to map over; remove `map`")
                self.report("OC210", f"`map` names `{parameter}`, which is not a parameter of `{self.function}`",
                            self.where.span(entry), hint)
            else:
                continue
            values.pop("map", None)

    def _check_executor(self, values: dict[str, object], given: dict) -> None:
        if values.get("executor") == "process" and self.funcdef.asynchronous is not None:
            del values["executor"]
            self.report(
                "OC205",
                f'`executor="process"` on async function `{self.function}`',
                self.where.span(given["executor"][1]),
                'remove `executor` (async functions run on the event loop); the process executor is for sync CPU-bound work',
            )

    def _option_spans(self, spans: dict[str, Span], given: dict, values: dict[str, object]) -> OptionSpans:
        depends_on: list[tuple[str, Span]] = []
        if "depends_on" in values:
            node = given["depends_on"][1]
            entries = [element.value for element in node.elements] if isinstance(node, (cst.List, cst.Tuple)) else [node]
            for entry_node in entries:
                depends_on.append((str(self._literal(entry_node)), self.where.span(entry_node)))
        inputs: list[tuple[str, Span, Span]] = []
        kept = dict(values.get("inputs", ()))
        if kept:
            for element in given["inputs"][1].elements:
                key = str(self._literal(element.key))
                if key in kept:
                    inputs.append((key, self.where.span(element.key), self.where.span(element.value)))
        return OptionSpans(keywords=tuple(spans.items()), depends_on=tuple(depends_on), inputs=tuple(inputs))

    # -- the function ----------------------------------------------------------------

    def _params(self) -> tuple[ParamSpec, ...]:
        params = self.funcdef.params
        star = params.star_arg if isinstance(params.star_arg, cst.Param) else None
        groups: tuple[tuple[Sequence[cst.Param], str], ...] = (
            (params.posonly_params, "positional_only"),
            (params.params, "positional_or_keyword"),
            ((star,) if star is not None else (), "var_positional"),
            (params.kwonly_params, "keyword_only"),
            ((params.star_kwarg,) if params.star_kwarg is not None else (), "var_keyword"),
        )
        return tuple(self._param(param, kind) for members, kind in groups for param in members)

    def _param(self, param: cst.Param, kind: str) -> ParamSpec:
        default = self._code(param.default) if param.default is not None else None
        literal = _literal_value(default) if default is not None else _INVALID
        if kind not in BINDABLE_KINDS:
            self._unbindable(param, kind)
        return ParamSpec(
            name=python_name(param.name.value),
            annotation=self._type(param.annotation),
            default=default,
            default_literal=None if literal is _INVALID else canonical_repr(literal),
            kind=kind,
            span=self.where.span(param.name),
        )

    def _unbindable(self, param: cst.Param, kind: str) -> None:
        name = param.name.value
        if kind == "positional_only":
            message = f"parameter `{name}` of `{self.function}` is positional-only; a flow passes parameters by name"
            hint = f"remove the `/` from the parameter list of `{self.function}`"
        else:
            written = ("*" if kind == "var_positional" else "**") + name
            message = f"`{written}` of `{self.function}` cannot be bound by a flow"
            hint = f"replace `{written}` with named parameters (keyword-only parameters after `*` are fine)"
        self.report("OC206", message, self.where.span(param), hint)

    def _type(self, annotation: cst.Annotation | None) -> TypeRef | None:
        if annotation is None:
            return None
        return TypeRef(self._code(annotation.annotation), resolve(annotation.annotation, self.extractor.bindings))


# The literals written most (names, tags, small numbers) are read without a parse:
# `ast.literal_eval` parses its argument, a compile per decorator argument and default.
_PLAIN_STRING = re.compile(r"""(?:"[^"\\\r\n]*"|'[^'\\\r\n]*')\Z""")
_DECIMAL = re.compile(r"(?:0|[1-9][0-9]*)\Z")
_CONSTANTS = {"True": True, "False": False, "None": None}


def _literal_value(source: str) -> object:
    """The value of a literal expression's source, `_INVALID` when it is not a literal."""
    if _PLAIN_STRING.match(source):  # no prefix, no escape, no line break: the text is the value
        return source[1:-1]
    if _DECIMAL.match(source):
        return int(source)
    if source in _CONSTANTS:
        return _CONSTANTS[source]
    try:
        with warnings.catch_warnings():  # `"\d"` and the like: the user's concern, not a build's
            warnings.simplefilter("ignore")
            # Parenthesised so implicit string concatenation may span lines.
            return ast.literal_eval("(" + source + "\n)")
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _INVALID


def _docstring(funcdef: cst.FunctionDef) -> str | None:
    docstring = funcdef.get_docstring(clean=True)
    return None if docstring is None else normalise_newlines(docstring)


# -- option values -------------------------------------------------------------------



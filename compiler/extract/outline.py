"""The outline of a module from Python's own parser: where each top-level `def` lies, and
the reduced text that is all libcst has to parse.

Extraction reads module-level imports and assignments, the names of top-level defs and
classes, and the decorators, signatures and docstrings of top-level functions. It never
reads the statements inside a def or class body, yet in a typical module those bodies
are most of the tokens, and libcst's parser costs about seven times Python's. So the
C parser (`ast`) outlines the module first, and the reduced text drops each top-level
def's body but for its docstring (or one `pass` at the body's indentation), and reduces
every other def and class to `def NAME(): pass` / `class NAME: pass`. The lines a
function keeps are contiguous and unchanged, so a position inside a function's header is
its position in the file once the function's first line (from the outline) is known.

A top-level function's text (for its source hash) is its whole lines in the real text:
from the line of its first decorator's `@` to the last line of its last statement.
"""

from __future__ import annotations

import ast
import itertools
import re
import warnings
from dataclasses import dataclass

_LINE_BREAK = re.compile(r"\r\n?|\n")
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef)
_BODY_TYPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


@dataclass(frozen=True, slots=True)
class FunctionLines:
    """A top-level function's first line (its first decorator's `@`, else `def`) and last."""

    name: str
    first: int
    last: int


@dataclass(frozen=True, slots=True)
class Outline:
    #: the text with each top-level def's and class's body dropped (see above)
    reduced: str
    #: every top-level function (`def` and `async def`), in source order
    functions: tuple[FunctionLines, ...]
    #: offset of each line's start in the text, plus the text's length
    line_starts: tuple[int, ...]
    text: str

    def function_text(self, lines: FunctionLines) -> str:
        """The function's whole lines, without the final line break."""
        text = self.text[self.line_starts[lines.first - 1] : self.line_starts[lines.last]]
        return text.removesuffix("\n").removesuffix("\r")


def outline(text: str) -> Outline:
    """The outline of a module's text (without a byte-order mark). Raises SyntaxError (or
    ValueError for a NUL byte) where Python's parser does."""
    with warnings.catch_warnings():
        # invalid escapes, `is` with a literal...: the user's concern, not a build's
        warnings.simplefilter("ignore")
        tree = ast.parse(text)
    breaks = [match.end() for match in _LINE_BREAK.finditer(text)]
    line_starts = (0, *breaks, *(() if breaks and breaks[-1] == len(text) else (len(text),)))
    lines = [text[start:end] for start, end in itertools.pairwise(line_starts)]
    functions = []
    for statement in tree.body:
        if not isinstance(statement, _BODY_TYPES):
            continue
        first = _first_line(statement, lines)
        if isinstance(statement, _DEFS):
            functions.append(FunctionLines(statement.name, first, statement.end_lineno or 0))
        if _may_be_marked(statement, first, lines):
            _drop_body(statement, lines)
        else:
            _stub(statement, first, lines)
    return Outline("".join(lines), tuple(functions), line_starts, text)


def _may_be_marked(statement: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, first: int, lines: list[str]) -> bool:
    """Whether the word `operation` is written anywhere from the statement's first
    decorator to its `def` or `class` line (only a def so marked is read beyond its name)."""
    return isinstance(statement, _DEFS) and any("operation" in line for line in lines[first - 1 : statement.lineno])


def _stub(statement: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, first: int, lines: list[str]) -> None:
    """Reduce the statement to `def NAME(): pass` or `class NAME: pass`: all that
    extraction reads of it is the name it binds."""
    keyword = "class" if isinstance(statement, ast.ClassDef) else "def"
    signature = "" if keyword == "class" else "()"
    lines[first - 1] = f"{keyword} {statement.name}{signature}: pass{_line_break(lines[first - 1]) or chr(10)}"
    for number in range(first + 1, (statement.end_lineno or first) + 1):
        lines[number - 1] = ""


def _first_line(statement: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, lines: list[str]) -> int:
    """The line of the first decorator's `@` (it starts its line, after indentation; a
    backslash may put the decorator's expression on a later line), else of the keyword."""
    if not statement.decorator_list:
        return statement.lineno
    line = statement.decorator_list[0].lineno
    while line > 1 and not lines[line - 1].lstrip(" \t\f").startswith("@"):
        line -= 1
    return line


def _drop_body(statement: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, lines: list[str]) -> None:
    """Drop the body's lines, keeping a leading docstring or else one `pass`; a body
    that shares a line with its header or its docstring stays as it is."""
    first, last = statement.body[0], statement.end_lineno or 0
    start = _first_line(first, lines) if isinstance(first, _BODY_TYPES) else first.lineno
    first_text = lines[start - 1]
    indent = first_text[: len(first_text) - len(first_text.lstrip(" \t\f"))]
    if start == first.lineno and first.col_offset != len(indent):  # `def f(): return 1`
        return
    if _is_docstring(first):
        keep = first.end_lineno or first.lineno
        if len(statement.body) > 1 and statement.body[1].lineno <= keep:  # `"""doc"""; x = 1`
            return
    else:
        keep = start
        lines[keep - 1] = indent + "pass" + _line_break(first_text)
    for number in range(keep + 1, last + 1):
        lines[number - 1] = ""


def _is_docstring(statement: ast.stmt) -> bool:
    return (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
            and isinstance(statement.value.value, str))


def _line_break(line: str) -> str:
    return line[len(line.rstrip("\r\n")):]

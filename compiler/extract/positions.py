"""Positions without a metadata pass: render one statement with libcst's own code
generator, noting which tokens each node produced, and turn token offsets into exact
1-based lines and columns (in characters) of the file.

`PositionProvider` through `MetadataWrapper` would give the same spans at the cost of a
copy of the whole tree and a line/column update per token; this costs little more than
rendering the statement (for an operation, the outline's reduced one: decorators,
signature and docstring), and only the statement's first line must be known.
"""

from __future__ import annotations

import bisect
import itertools
import re

import libcst as cst
from libcst._nodes.internal import CodegenState

from compiler.model import Span

_NEWLINE = re.compile(r"\r\n?|\n")


def line_breaks(text: str, end: int) -> int:
    """How many line breaks (`\\n`, `\\r\\n` or a lone `\\r`) `text[:end]` holds."""
    return text.count("\n", 0, end) + text.count("\r", 0, end) - text.count("\r\n", 0, end)


class _OffsetState(CodegenState):
    """libcst's plain code generator, also noting which tokens each node produced.

    It records what `PositionProvider` would (a node's syntactic range where libcst
    marks one, else the range of all its tokens) as token indices, which costs little
    more than rendering; `PositionProvider` through `MetadataWrapper` costs a tree copy
    and a line/column update per token.
    """

    def __init__(self, module: cst.Module) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        #: id(node) -> (first token, end token) of all its tokens
        self.tokens_range: dict[int, tuple[int, int]] = {}
        #: id(node) -> (first token, end token) of its syntactic part (from `def`, not `@`)
        self.syntactic: dict[int, tuple[int, int]] = {}
        self._starts: list[int] = []

    def before_codegen(self, node: cst.CSTNode) -> None:
        self._starts.append(len(self.tokens))

    def after_codegen(self, node: cst.CSTNode) -> None:
        self.tokens_range[id(node)] = (self._starts.pop(), len(self.tokens))

    def record_syntactic_position(
        self, node: cst.CSTNode, *, start_node: cst.CSTNode | None = None, end_node: cst.CSTNode | None = None
    ) -> _Syntactic:
        return _Syntactic(self, node, start_node, end_node)

    def range(self, node: cst.CSTNode) -> tuple[int, int]:
        return self.syntactic.get(id(node)) or self.tokens_range[id(node)]


class _Syntactic:
    """The context `record_syntactic_position` returns: a plain class, as libcst calls it
    for most nodes and a generator-based context manager costs several times more."""

    __slots__ = ("state", "node", "start_node", "end_node", "start")

    def __init__(
        self, state: _OffsetState, node: cst.CSTNode, start_node: cst.CSTNode | None, end_node: cst.CSTNode | None
    ) -> None:
        self.state, self.node, self.start_node, self.end_node = state, node, start_node, end_node

    def __enter__(self) -> None:
        self.start = len(self.state.tokens)

    def __exit__(self, *exc_info: object) -> None:
        state = self.state
        start = self.start if self.start_node is None else state.range(self.start_node)[0]
        end = len(state.tokens) if self.end_node is None else state.range(self.end_node)[1]
        state.syntactic[id(self.node)] = (start, end)


class Rendered:
    """One top-level statement rendered exactly as in the file, with exact spans."""

    def __init__(self, path: str, module: cst.Module, statement: cst.BaseStatement) -> None:
        state = _OffsetState(module)
        statement._codegen(state)
        self.path = path
        #: the statement (without its leading blank and comment lines) as written
        self.text = "".join(state.tokens)
        self.statement = statement
        self._state = state
        self._offsets = [0, *itertools.accumulate(map(len, state.tokens))]
        self._line_starts = [0, *(match.end() for match in _NEWLINE.finditer(self.text))]
        #: the file line of the statement's first line; set once found
        self.first_line = 1

    def code(self, node: cst.CSTNode) -> str:
        """A node's text as written (what `Module.code_for_node` returns)."""
        start, end = self._state.tokens_range[id(node)]
        return self.text[self._offsets[start] : self._offsets[end]]

    def span(self, node: cst.CSTNode) -> Span:
        start, end = self._state.range(node)
        return Span(self.path, *self._position(self._offsets[start]), *self._position(self._offsets[end]))

    def keyword_span(self, keyword: str) -> Span:
        """The span of the keyword (`def`, `async`) that starts the statement."""
        start = self._offsets[self._state.range(self.statement)[0]]
        return Span(self.path, *self._position(start), *self._position(start + len(keyword)))

    def _position(self, offset: int) -> tuple[int, int]:
        """(1-based file line, 1-based column in characters) of an offset in the text."""
        index = bisect.bisect_right(self._line_starts, offset) - 1
        return self.first_line + index, offset - self._line_starts[index] + 1

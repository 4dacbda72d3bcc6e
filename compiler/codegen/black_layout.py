"""A mirror of black, for the few shapes generated code has: black formats ~2,600 lines/s,
so formatting every generated line with it would cost more than parsing the whole project.

Generated statements have few shapes, and for those shapes black's layout is simple:
`_layout` reproduces it exactly and gives up (None) on anything else, whose piece then
goes through black itself. Tests compare both on every generated module, and
`ORCHC_VERIFY_MIRRORS=1` (`compiler.mirrors`) makes every layout be compared with
`black.format_str` as it runs.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable

import black

from compiler.mirrors import verify

#: pinned so the same lock gives the same bytes whatever black's defaults become
BLACK_MODE = black.Mode(
    target_versions={black.TargetVersion.PY310},
    line_length=88,
    string_normalization=True,
    magic_trailing_comma=True,
    preview=False,
)
#: (kind, source, compute) -> compute(), possibly remembered by the caller's cache
Memo = Callable[[str, str, Callable[[], str]], str]


def format_with_black(source: str) -> str:
    return black.format_str(source, mode=BLACK_MODE)


class Piece:
    """One top-level statement of a generated module: its text for black (one line per
    logical line) and what its black layout is made of, laid out only when the module's
    formatted text is not already remembered."""

    __slots__ = ("calls", "raw", "simple")

    def __init__(self) -> None:
        self.raw: list[str] = []
        #: per raw line, the arguments of `_layout` for a call too long for one line, else None
        self.calls: list[tuple | None] = []
        #: False once a string needs black (see `_string`)
        self.simple = True

    def line(self, text: str) -> None:
        self.raw.append(text)
        self.calls.append(None)

    def call(self, indent: str, head: str, args: list[str], tail: str, collection: bool = False) -> None:
        """`head` + comma-separated `args` + `tail` (head ends with a bracket, tail starts
        with the matching one); `collection` for a display such as a dict."""
        text = indent + head + ", ".join(args) + tail
        self.raw.append(text)
        # a call that fits is its own layout (rule 1 of `_layout`): keep only what may split
        self.calls.append((indent, head, args, tail, collection) if len(text) > LINE_LENGTH else None)

    def text(self, memo: Memo) -> str:
        raw = "\n".join(self.raw) + "\n"
        lines = self._lines(memo) if self.simple and raw.isascii() else None
        if lines is not None:
            return "\n".join(lines) + "\n"
        return memo("piece", raw, lambda: format_with_black(raw))

    def _lines(self, memo: Memo) -> list[str] | None:
        """black's layout of every line, None when one has no known shape. A statement of
        a function body with no known shape (a long name in a flow) is formatted by black
        alone, with the others of the piece, instead of the whole piece: black's layout of
        a simple statement does not depend on its neighbours."""
        lines: list[str | None] = []
        statements: list[tuple[int, str]] = []  # (position in `lines`, raw statement)
        for text, call in zip(self.raw, self.calls):
            if call is None:
                laid = [text] if len(text) <= LINE_LENGTH else None
            else:
                laid = _layout(*call)
            if laid is None:
                if not _BODY_STATEMENT.match(text):
                    return None
                statements.append((len(lines), text))
                lines.append(None)
                continue
            lines += laid
        if statements:
            formatted = _format_statements([text for _, text in statements], memo)
            for (position, _), laid in zip(statements, formatted, strict=True):
                lines[position] = "\n".join(laid)
        return lines


#: a raw line that is a whole simple statement of a function body (one level deep)
_BODY_STATEMENT = re.compile(r"    (?! )(?!(?:def|async|class|if|for|while|with|try|@)\b)")
#: what separates statements in one black call (`_format_statements`): black keeps it as is
_SEPARATOR = "    pass"


def _format_statements(statements: list[str], memo: Memo) -> list[list[str]]:
    """black's lines of each statement of a function body, from one black call."""
    source = "def _():\n" + f"\n{_SEPARATOR}\n".join(statements) + "\n"
    text = memo("statements", source, lambda: format_with_black(source))
    body = text.split("\n")[1:-1]  # the `def` line, and the text's final newline
    groups: list[list[str]] = [[]]
    for line in body:
        if line == _SEPARATOR:
            groups.append([])
        else:
            groups[-1].append(line)
    if len(groups) != len(statements):
        raise AssertionError("internal error: black changed the statements it laid out")
    return groups


LINE_LENGTH = BLACK_MODE.line_length
_DEF = re.compile(r"(async )?def ")
_BRACKETS = frozenset("([{")
_STRING = re.compile(r'"[^"\n]*"')


class Display(str):
    """An argument `key=[a, b]` (or a bare `[a, b]`) that black may explode in place."""

    def __new__(cls, head: str, items: list[str], tail: str) -> Display:
        text = super().__new__(cls, head + ", ".join(items) + tail)
        text.parts = (head, items, tail)
        return text


def _layout(indent: str, head: str, args: list[str], tail: str, collection: bool) -> list[str] | None:
    """black's layout of a bracketed call, signature or display, None when unsure.

    1. It fits on one line: one line.
    2. Otherwise the brackets split: for a call or signature, the arguments on one line of
       their own when they fit; a display (and anything longer) one argument per line
       with a trailing comma.
    3. An argument line that is still too long stays so unless it holds brackets: a list
       display (`Display`) explodes the same way, anything else is None.
    A lone argument goes to a line of its own when it holds no brackets and that line
    fits; any other lone argument, and an overlong first line, are None: black treats
    them specially, except an assignment's (`name = call(`), which black wraps in
    parentheses when all the lines that makes fit (`_parenthesized`).
    """
    one = indent + head + ", ".join(args) + tail
    if len(one) <= LINE_LENGTH:
        return [one]
    if len(indent + head) > LINE_LENGTH and (assignment := _ASSIGNMENT.match(head)):
        return _parenthesized(indent, assignment, args, tail, collection)
    if not args or len(indent + head) > LINE_LENGTH or len(indent + tail) > LINE_LENGTH:
        return None
    inner = indent + "    "
    if len(args) == 1:  # black moves a lone argument without brackets to a line of its own
        # ...and a def's lone parameter gets a trailing comma there
        body = inner + args[0] + ("," if _DEF.match(head) else "")
        plain = _BRACKETS.isdisjoint(_STRING.sub('""', args[0]))
        return [indent + head, body, indent + tail] if plain and not collection and len(body) <= LINE_LENGTH else None
    if not collection:
        body = inner + ", ".join(args)
        if len(body) <= LINE_LENGTH:
            return [indent + head, body, indent + tail]
    lines = [indent + head]
    for arg in args:
        line = inner + arg + ","
        if len(line) > LINE_LENGTH:
            if isinstance(arg, Display):
                nested = _layout(inner, arg.parts[0], arg.parts[1], arg.parts[2] + ",", True)
                if nested is None:
                    return None
                lines.extend(nested)
                continue
            if not _BRACKETS.isdisjoint(_STRING.sub('""', arg)):
                return None
        lines.append(line)
    lines.append(indent + tail)
    return lines


#: `name = rest`: an assignment whose right-hand side black may wrap in parentheses
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z_0-9]*) = (?=[A-Za-z_])(.*)")


def _parenthesized(indent: str, assignment: re.Match, args: list[str], tail: str,
                   collection: bool) -> list[str] | None:
    """`name = (` / the call one level deeper / `)`: black's second opinion when the first
    line of the plain split (`name = call(`) is too long, taken only when every line of
    it fits; otherwise black keeps the overlong line, which is None here."""
    target, head = assignment.groups()
    inner = _layout(indent + "    ", head, args, tail, collection)
    if inner is None or any(len(line) > LINE_LENGTH for line in inner):
        return None
    return [f"{indent}{target} = (", *inner, indent + ")"]


def raw_text(pieces: list[Piece]) -> str:
    return "\n\n".join("\n".join(piece.raw) + "\n" for piece in pieces)


def layout_module(pieces: list[Piece], raw: str, memo: Memo) -> str:
    """The module black would make of `raw`: each piece laid out (or formatted by black
    alone, which gives the same lines), top-level pieces two blank lines apart."""
    text = "\n\n".join(piece.text(memo) for piece in pieces)
    return verify("black's layout", text, lambda: format_with_black(raw))


def string_literal(value: str, piece: Piece) -> str:
    """A string literal as black writes it: `repr()` in double quotes when the text has
    none (black keeps `repr()`'s `\\n` and `\\t` escapes); anything less plain goes
    through black (the piece is marked)."""
    if value.isascii() and '"' not in value and "\\" not in value and _PLAIN_TEXT.issuperset(value):
        text = repr(value)
        return f'"{text[1:-1]}"' if text[0] == "'" else text
    piece.simple = False
    return repr(value)


_PLAIN_TEXT = frozenset(chr(code) for code in range(32, 127)) | {"\n", "\t"}
#: literals black leaves alone (it drops the `+` of `1e+16`, so that one is not)
_PLAIN_LITERAL = re.compile(r"-?[0-9]+(\.[0-9]+)?(e-?[0-9]+)?|True|False|None")


def code_literal(source: str, piece: Piece) -> str:
    """A literal's canonical source (from `_literal` or `_number`) in black's form."""
    if _PLAIN_LITERAL.fullmatch(source):
        return source
    try:
        value = ast.literal_eval(source)
    except (ValueError, SyntaxError):
        value = None
    if isinstance(value, str) and repr(value) == source:
        return string_literal(value, piece)
    piece.simple = False
    return source

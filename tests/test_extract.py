"""The extraction pass: one file in, `@operation` functions and diagnostics out."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from libcst.metadata import MetadataWrapper, PositionProvider

from compiler.extract.reader import OPERATION, canonical_repr, extract
from compiler.model import OperationSpec, SourceFile, Span

PATH = "pkg/ops.py"


def run(text: str, path: str = PATH, module: str = "pkg.ops"):
    return extract(SourceFile(path, module, textwrap.dedent(text)))


def operations(text: str, **kwargs) -> tuple[OperationSpec, ...]:
    return run(text, **kwargs)[0]


def only(text: str, **kwargs) -> OperationSpec:
    found, diagnostics = run(text, **kwargs)
    assert [d.code for d in diagnostics] == []
    assert len(found) == 1
    return found[0]


def codes(text: str) -> list[str]:
    return [d.code for d in run(text)[1]]


def where(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """(line, column), both 1-based, of the nth occurrence of `needle` in `text`."""
    offset = -1
    for _ in range(nth + 1):
        offset = text.index(needle, offset + 1)
    before = text[:offset].replace("\r\n", "\n")
    return before.count("\n") + 1, offset - max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset))


def at(span: Span) -> tuple[int, int]:
    return span.line, span.column


# -- prefilter and syntax errors ------------------------------------------------------


def test_a_file_without_the_word_is_not_parsed():
    assert extract(SourceFile(PATH, "pkg.ops", "def broken(:\n")) == ((), ())


def test_syntax_error_is_one_diagnostic_at_its_place():
    found, diagnostics = run("from runtime import operation\nx = (\n    1 +\n")
    assert found == ()
    [diagnostic] = diagnostics
    assert diagnostic.code == "OC201"
    assert at(diagnostic.span) == (2, 5)
    assert diagnostic.message.startswith("syntax error: ")
    assert "orchc analyses the other files" in diagnostic.hint


def test_syntax_error_column_counts_characters():
    [diagnostic] = run("# operation\ns = 'éé' é\n")[1]
    assert diagnostic.code == "OC201"
    assert at(diagnostic.span) == (2, 10)


def test_a_file_that_never_imports_the_marker_has_nothing():
    assert run("def operation(): pass\n@operation\ndef f(): pass\n") == ((), ())


# -- recognising the marker -------------------------------------------------------------


@pytest.mark.parametrize(
    "imports, decorator",
    [
        ("from runtime import operation", "operation"),
        ("from runtime import operation as op", "op"),
        ("import runtime", "runtime.operation"),
        ("import runtime as rt", "rt.operation"),
        ("from runtime.operation import operation", "operation"),
        ("import runtime.operation", "runtime.operation"),
        ("import runtime.operation as rto", "rto.operation"),
        ("from runtime import *", "operation"),
        ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from runtime import operation", "operation"),
        ("try:\n    from runtime import operation as op\nexcept ImportError:\n    raise", "op"),
    ],
)
def test_every_import_form_is_recognised(imports, decorator):
    operation = only(f'{imports}\n\n@{decorator}(name="a.b")\ndef f(x: int) -> int:\n    return x\n')
    assert (operation.name, operation.function, operation.module) == ("a.b", "f", "pkg.ops")
    assert OPERATION == "runtime.operation"


@pytest.mark.parametrize(
    "text",
    [
        'from mylib import operation\n@operation(name="a")\ndef f(): ...\n',
        'import runtime as rt\n@operation(name="a")\ndef f(): ...\n',
        'from runtime import operation\ndef operation(**kw): ...\n@operation(name="a")\ndef f(): ...\n',
        'import mylib as runtime\n@runtime.operation(name="a")\ndef f(): ...\n',
        'from runtime import operation_info\n@operation_info(name="a")\ndef f(): ...\n',
    ],
)
def test_look_alikes_are_not_operations(text):
    assert run(text) == ((), ())


def test_words_in_comments_and_strings_are_harmless():
    found, diagnostics = run(
        '''
        """Call operation(name=...) on a function; @operation(name="x") is the form."""
        from runtime import operation

        # operation(name="nothing") here
        TEXT = "@operation(name='z')"

        @operation(name="a.b")
        def f():
            """Mentions operation(x) too."""
        '''
    )
    assert [op.name for op in found] == ["a.b"]
    assert diagnostics == ()


def test_operations_come_sorted_by_line_with_their_function_facts():
    found = operations(
        """
        from runtime import operation

        @operation(name="z.last")
        async def first(): ...

        def helper(): ...

        @operation(name="a.second")
        def second(): ...
        """
    )
    assert [(op.name, op.function, op.is_async) for op in found] == [
        ("z.last", "first", True),
        ("a.second", "second", False),
    ]


# -- spans --------------------------------------------------------------------------------

MULTILINE = '''"""Ünïcödé docstring: 日本語."""
from runtime import operation  # the marker

GREETING = "héllo wörld ✓"  # non-ASCII before the function


# a leading comment, not part of the function
@operation(
    # the name comes first
    "scrape.fetch",
    retries=3,  # three tries
    depends_on=["b.one",
                "a.two"],
    inputs={"kw": "scrape.make"},
)
async def fetch(kw: str, *, limit: int = 10) -> list[str]:
    return [kw] * limit
'''


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
def test_spans_are_exact_in_a_multiline_decorator(newline):
    text = MULTILINE.replace("\n", newline)
    [op], diagnostics = extract(SourceFile(PATH, "pkg.ops", text))
    assert diagnostics == ()
    assert at(op.decorator_span) == where(text, "@operation")
    assert (op.decorator_span.end_line, op.decorator_span.end_column) == (15, 2)
    assert at(op.span) == where(text, "async def")
    assert (op.span.end_line, op.span.end_column) == (16, 6)
    assert at(op.name_span) == where(text, '"scrape.fetch"')
    assert (op.name_span.end_line, op.name_span.end_column) == (10, 19)
    assert at(op.option_spans.of("retries")) == where(text, "3,")
    assert at(op.option_spans.of("name")) == where(text, '"scrape.fetch"')
    assert [(target, at(span)) for target, span in op.option_spans.depends_on] == [
        ("b.one", where(text, '"b.one"')),
        ("a.two", where(text, '"a.two"')),
    ]
    [(param, key_span, value_span)] = op.option_spans.inputs
    assert (param, at(key_span), at(value_span)) == ("kw", where(text, '"kw"'), where(text, '"scrape.make"'))
    assert [(p.name, at(p.span)) for p in op.params] == [
        ("kw", where(text, "kw:")),
        ("limit", where(text, "limit")),
    ]
    assert all(span.path == PATH for span in (op.span, op.decorator_span, op.name_span))


def test_columns_count_characters_not_bytes():
    text = 'from runtime import operation\n@operation(description="€€€ ü", name="x.y")\ndef f(é: int, ß: str): ...\n'
    op = only(text)
    assert at(op.name_span) == (2, 38)
    assert [(p.name, at(p.span)) for p in op.params] == [("é", (3, 7)), ("ß", (3, 15))]


def test_a_byte_order_mark_does_not_shift_anything():
    op = only('\ufefffrom runtime import operation\n@operation(name="a")\ndef f(x): ...\n')
    assert (at(op.decorator_span), at(op.span), at(op.params[0].span)) == ((2, 1), (3, 1), (3, 7))


def test_identical_function_text_elsewhere_does_not_confuse_positions():
    body = '@operation(name="a")\ndef f(x): ...\n'
    text = f"from runtime import operation\nEXAMPLE = '''\n{body}'''\n\n{body}"
    op = only(text)
    assert at(op.decorator_span) == (7, 1)
    assert at(op.params[0].span) == (8, 7)


def test_tabs_and_backslash_continuations():
    text = (
        "from runtime import operation\n"
        "if True:\n\tX = 1\n"
        "@operation(name='a', \\\n    retries=2)\n"
        "def f(x,\n\t\ty=3):\n\tif x:\n\t\treturn y\n"
    )
    op = only(text)
    assert at(op.option_spans.of("retries")) == (5, 13)
    assert [at(p.span) for p in op.params] == [(6, 7), (7, 3)]


ORACLE_SOURCES = [
    MULTILINE,
    MULTILINE.replace("\n", "\r\n"),
    "from runtime import operation as op\n\n\n\n@op(name='x',   tags=('b',\n 'a'))\n@other\ndef g(a,\n      b: 'Job'  =  (1,\n  2), *, c=None\n      ): pass\n",
    "import runtime\nclass A:\n    pass\n@runtime.operation(\n  name=('p.'\n  'q'),\n)\ndef h(\n    z: \"\"\"dict[str,\n int]\"\"\"  ,\n): ...\n",
]


@pytest.mark.parametrize("text", ORACLE_SOURCES)
def test_spans_match_libcst_position_provider(text):
    """The cheap position technique agrees with libcst's own PositionProvider."""
    [op], _ = extract(SourceFile(PATH, "pkg.ops", text))
    wrapper = MetadataWrapper(cst.parse_module(text))
    positions = wrapper.resolve(PositionProvider)
    funcdef = next(s for s in wrapper.module.body if isinstance(s, cst.FunctionDef) and s.name.value == op.function)

    def oracle(node: cst.CSTNode) -> tuple[int, int, int, int]:
        r = positions[node]
        return r.start.line, r.start.column + 1, r.end.line, r.end.column + 1

    def mine(span: Span) -> tuple[int, int, int, int]:
        return span.line, span.column, span.end_line, span.end_column

    decorator = funcdef.decorators[0]
    assert mine(op.decorator_span) == oracle(decorator)
    assert at(op.span) == oracle(funcdef)[:2]
    params = [*funcdef.params.params, *funcdef.params.kwonly_params]
    assert [mine(p.span) for p in op.params] == [oracle(p.name) for p in params]
    name_arg = decorator.decorator.args[0]
    assert mine(op.name_span) == oracle(name_arg.value)
    for arg, (keyword, span) in zip(decorator.decorator.args, op.option_spans.keywords):
        assert mine(span) == oracle(arg.value), keyword


# -- diagnostics ----------------------------------------------------------------------------


def test_non_literal_argument():
    text = 'from runtime import operation\nRETRIES = 3\n@operation(name="a", retries=RETRIES)\ndef f(): ...\n'
    [op], [diagnostic] = run(text)
    assert diagnostic.code == "OC202"
    assert at(diagnostic.span) == where(text, "RETRIES)")
    assert diagnostic.message == "`retries` is not a literal: `RETRIES`"
    assert "write the value literally" in diagnostic.hint
    assert op.options.retries == 0  # the bad option stays at its default


def test_non_literal_name_drops_the_operation_without_a_missing_name():
    found, diagnostics = run('from runtime import operation\nN = "a"\n@operation(name=N)\ndef f(): ...\n')
    assert found == ()
    assert [d.code for d in diagnostics] == ["OC202"]


def test_unpacked_arguments_are_non_literal():
    assert codes('from runtime import operation\n@operation("a", **OPTIONS)\ndef f(): ...\n') == ["OC202"]


@pytest.mark.parametrize("name", ["", "a..b", "a.class", "1a", "a.b-c", " a"])
def test_invalid_name(name):
    text = f'from runtime import operation\n@operation(name={name!r})\ndef f(): ...\n'
    found, [diagnostic] = run(text)
    assert found == ()
    assert diagnostic.code == "OC203"
    assert at(diagnostic.span) == (2, 17)
    assert "e.g. `scraping.stepstone.fetch`" in diagnostic.hint


def test_unknown_keyword_suggests_the_close_one():
    text = 'from runtime import operation\n@operation(name="a", retry=3)\ndef f(): ...\n'
    [op], [diagnostic] = run(text)
    assert (diagnostic.code, at(diagnostic.span)) == ("OC204", where(text, "retry="))
    assert diagnostic.hint == "did you mean `retries`?"
    assert op.name == "a"


@pytest.mark.parametrize(
    "arguments",
    ['"a", "b"', '"a", name="b"', 'name="a", name="b"', 'name="a", zzz=1'],
)
def test_unknown_arguments(arguments):
    assert codes(f"from runtime import operation\n@operation({arguments})\ndef f(x): ...\n") == ["OC204"]


@pytest.mark.parametrize(
    "option",
    [
        "retries=-1",
        "retries=True",
        "retries=1.5",
        "retry_delay_seconds=-1",
        "retry_delay_seconds=[1, -2]",
        "retry_delay_seconds='1'",
        "timeout_seconds=0",
        "timeout_seconds=False",
        "tags='abc'",
        "tags=[1]",
        "cache='yes'",
        "cache=None",
        "persist_result=1",
        "executor='dask'",
        "description=3",
        "depends_on=3",
        "depends_on=['a', 2]",
        "inputs={'x': 1}",
        "inputs=['x']",
    ],
)
def test_invalid_option_values(option):
    text = f'from runtime import operation\n@operation(name="a.b", {option})\ndef f(x): ...\n'
    [op], [diagnostic] = run(text)
    assert diagnostic.code == "OC205"
    assert at(diagnostic.span) == where(text, option.partition("=")[2])
    keyword = option.partition("=")[0]
    assert f"`{keyword}` must be" in diagnostic.message
    assert op.options == type(op.options)()  # left at its default


def test_invalid_name_type():
    found, diagnostics = run('from runtime import operation\n@operation(name=3)\ndef f(): ...\n')
    assert found == () and [d.code for d in diagnostics] == ["OC205"]


def test_process_executor_on_async_function():
    text = 'from runtime import operation\n@operation(name="a", executor="process")\nasync def f(): ...\n'
    [op], [diagnostic] = run(text)
    assert (diagnostic.code, at(diagnostic.span)) == ("OC205", where(text, '"process"'))
    assert "sync CPU-bound" in diagnostic.hint
    assert op.options.executor == "thread"
    assert only(text.replace("async def", "def")).options.executor == "process"


def test_unbindable_parameters():
    text = 'from runtime import operation\n@operation(name="a")\ndef f(a, /, b, *args, c, **kwargs): ...\n'
    [op], diagnostics = run(text)
    assert [(d.code, at(d.span)) for d in diagnostics] == [
        ("OC206", where(text, "a,")),
        ("OC206", where(text, "*args")),
        ("OC206", where(text, "**kwargs")),
    ]
    assert "remove the `/`" in diagnostics[0].hint
    assert "named parameters" in diagnostics[1].hint
    assert [(p.name, p.kind) for p in op.params] == [
        ("a", "positional_only"),
        ("b", "positional_or_keyword"),
        ("args", "var_positional"),
        ("c", "keyword_only"),
        ("kwargs", "var_keyword"),
    ]


def test_keyword_only_parameters_are_fine():
    op = only('from runtime import operation\n@operation(name="a")\ndef f(a, *, b=1): ...\n')
    assert [p.kind for p in op.params] == ["positional_or_keyword", "keyword_only"]


UNSUPPORTED = {
    "lambda": ('g = operation(name="x")(lambda: 1)\n', 'operation(name="x")(lambda', "with `def`"),
    "call form": ('def f(): ...\nf2 = operation(name="x")(f)\n', 'operation(name="x")(f)', "decorator form"),
    "nested": ('def outer():\n    @operation(name="x")\n    def inner(): ...\n', "@operation", "module level"),
    "method": ('class C:\n    @operation(name="x")\n    def m(self): ...\n', "@operation", "out of class `C`"),
    "class": ('@operation(name="x")\nclass C: ...\n', "@operation", "module-level `def`"),
    "block": ('if True:\n    @operation(name="x")\n    def f(): ...\n', "@operation", "outside any block"),
    "unapplied": ('deco = operation(name="x")\n', 'operation(name="x")', "decorator form"),
    "bare nested": ('def outer():\n    @operation\n    def inner(): ...\n', "@operation", "module level"),
}


@pytest.mark.parametrize("case", sorted(UNSUPPORTED))
def test_unsupported_definitions(case):
    body, needle, hint = UNSUPPORTED[case]
    text = "from runtime import operation\n" + body
    found, [diagnostic] = run(text)
    assert found == ()
    assert (diagnostic.code, at(diagnostic.span)) == ("OC207", where(text, needle))
    assert hint in diagnostic.hint


def test_unsupported_use_inside_an_operation_body():
    text = (
        "from runtime import operation as op\n"
        '@op(name="a")\n'
        "def f():\n"
        '    @op(name="b")\n'
        "    def inner(): ...\n"
        '    return op(name="c")(lambda: 2)\n'
    )
    [op], diagnostics = run(text)
    assert op.name == "a"
    assert [(d.code, at(d.span)) for d in diagnostics] == [
        ("OC207", where(text, "@op", 1)),
        ("OC207", where(text, 'op(name="c")')),
    ]


def test_two_markers_on_one_function():
    text = 'from runtime import operation\n@operation(name="a")\n@operation(name="b")\ndef f(): ...\n'
    [op], [diagnostic] = run(text)
    assert (op.name, diagnostic.code, at(diagnostic.span)) == ("a", "OC207", (3, 1))


@pytest.mark.parametrize("decorator", ["@operation", "@operation()", "@operation(retries=2)"])
def test_missing_name(decorator):
    text = f"from runtime import operation\n{decorator}\ndef f(): ...\n"
    found, [diagnostic] = run(text)
    assert found == ()
    assert (diagnostic.code, at(diagnostic.span)) == ("OC208", (2, 1))
    assert 'name="group.f"' in diagnostic.hint


def test_inputs_naming_an_unknown_parameter():
    text = 'from runtime import operation\n@operation(name="a", inputs={"jobz": "b", "n": "c"})\ndef f(jobs, n): ...\n'
    [op], [diagnostic] = run(text)
    assert (diagnostic.code, at(diagnostic.span)) == ("OC209", where(text, '"jobz"'))
    assert diagnostic.hint == "did you mean `jobs`?"
    assert "`jobz`" in diagnostic.message
    assert op.options.inputs == (("n", "c"),)
    assert [entry[0] for entry in op.option_spans.inputs] == ["n"]


def test_every_diagnostic_has_a_hint_and_backticked_names():
    text = (
        "from runtime import operation\n"
        '@operation(name="a", retries=X, retyr=1, tags=[1], inputs={"q": "z"})\n'
        "def f(*args): ...\n"
        "@operation\ndef g(): ...\n"
        'h = operation(name="h")(lambda: 0)\n'
    )
    diagnostics = run(text)[1]
    assert sorted({d.code for d in diagnostics}) == ["OC202", "OC204", "OC205", "OC206", "OC207", "OC208", "OC209"]
    assert all(d.hint and "`" in d.message for d in diagnostics)
    assert list(diagnostics) == sorted(diagnostics, key=lambda d: d.sort_key())


# -- options, parameters, docstring, hash ---------------------------------------------------


def test_options_are_normalised():
    op = only(
        """
        from runtime import operation

        @operation(
            "a.b",
            depends_on="z.y",
            retries=2,
            retry_delay_seconds=[1, 2.5],
            timeout_seconds=30,
            tags={"b", "a", "b"},
            cache=True,
            persist_result=False,
            executor="process",
            description="Does things.",
            inputs={"y": "p.q", "x": "p.r"},
        )
        def f(x, y): ...
        """
    )
    options = op.options
    assert options.depends_on == ("z.y",)
    assert (options.retries, options.retry_delay_seconds, options.timeout_seconds) == (2, (1, 2.5), 30)
    assert (options.tags, options.cache, options.persist_result) == (("a", "b"), True, False)
    assert (options.executor, options.description) == ("process", "Does things.")
    assert options.inputs == (("x", "p.r"), ("y", "p.q"))
    assert [key for key, _ in op.option_spans.keywords] == [
        "name", "depends_on", "retries", "retry_delay_seconds", "timeout_seconds", "tags",
        "cache", "persist_result", "executor", "description", "inputs",
    ]  # fmt: skip
    assert [target for target, _ in op.option_spans.depends_on] == ["z.y"]


def test_depends_on_list_is_sorted_and_deduplicated():
    op = only('from runtime import operation\n@operation(name="a", depends_on=("c", "b", "c"))\ndef f(): ...\n')
    assert op.options.depends_on == ("b", "c")
    assert [target for target, _ in op.option_spans.depends_on] == ["c", "b", "c"]


def test_implicitly_concatenated_strings_across_lines_are_literals():
    op = only('from runtime import operation\n@operation(\n    name="a"\n    ".b",\n    description="x"\n    "y",\n)\ndef f(): ...\n')
    assert (op.name, op.options.description) == ("a.b", "xy")


def test_defaults_and_literal_defaults():
    op = only(
        """
        from runtime import operation
        LIMIT = 3

        @operation(name="a")
        def f(a, b=1, c="x", d=None, e=LIMIT, g=(1,), h={"b", "a"}, i=-2.5, j=[1, {"k": (2, 3)}]): ...
        """
    )
    assert [(p.name, p.default, p.default_literal) for p in op.params] == [
        ("a", None, None),
        ("b", "1", "1"),
        ("c", '"x"', "'x'"),
        ("d", "None", "None"),
        ("e", "LIMIT", None),
        ("g", "(1,)", "(1,)"),
        ("h", '{"b", "a"}', "{'a', 'b'}"),
        ("i", "-2.5", "-2.5"),
        ("j", '[1, {"k": (2, 3)}]', "[1, {'k': (2, 3)}]"),
    ]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.tuples(inner) | st.frozensets(st.integers(), max_size=3).map(set),
                    max_leaves=8))  # fmt: skip
@settings(max_examples=60, deadline=None)
def test_canonical_repr_round_trips_and_never_depends_on_set_order(value):
    import ast

    text = canonical_repr(value)
    assert ast.literal_eval(text) == value
    assert canonical_repr(ast.literal_eval(text)) == text


def test_docstring_is_cleaned():
    op = only(
        '''
        from runtime import operation

        @operation(name="a")
        def f():
            """Summary line.

                Indented detail.
            More.
            """
        '''
    )
    assert op.docstring == "Summary line.\n\n    Indented detail.\nMore."
    assert only('from runtime import operation\n@operation(name="a")\ndef f(): pass\n').docstring is None


def test_return_annotation_and_params_without_annotation():
    op = only('from runtime import operation\n@operation(name="a")\ndef f(x) -> "Job":\n    ...\n')
    assert op.params[0].annotation is None
    assert (op.returns.text, op.returns.resolved) == ('"Job"', "Job")
    assert only('from runtime import operation\n@operation(name="a")\ndef f(): ...\n').returns is None


HASHED = '''from runtime import operation

# a comment above
@operation(name="a")
def f(x):
    """Doc."""
    return x + 1
'''


def source_hash(text: str) -> str:
    return extract(SourceFile(PATH, "pkg.ops", text))[0][0].source_hash


def test_source_hash_is_stable_under_crlf_and_leading_comments():
    digest = source_hash(HASHED)
    assert digest.startswith("sha256:") and len(digest) == len("sha256:") + 64
    assert source_hash(HASHED.replace("\n", "\r\n")) == digest
    assert source_hash(HASHED.replace("# a comment above", "# another comment\n\n")) == digest
    assert source_hash("import os\n" + HASHED) == digest


def test_source_hash_covers_the_functions_whole_lines():
    """From the line of the first decorator's `@` to the last line of the last statement
    (its line break and comment lines after it are not the function's)."""
    import hashlib

    start = MULTILINE.index("@operation(")
    end = MULTILINE.index("] * limit") + len("] * limit")
    assert source_hash(MULTILINE) == "sha256:" + hashlib.sha256(MULTILINE[start:end].encode()).hexdigest()
    assert source_hash(MULTILINE + "    # a comment after the body\n\nX = 1\n") == source_hash(MULTILINE)
    assert source_hash(MULTILINE.replace("* limit", "* limit  # trailing")) != source_hash(MULTILINE)


@pytest.mark.parametrize(
    "old, new",
    [("x + 1", "x + 2"), ('name="a"', 'name="a", retries=1'), ('"""Doc."""', '"""Other."""')],
)
def test_source_hash_changes_with_the_function(old, new):
    assert source_hash(HASHED.replace(old, new)) != source_hash(HASHED)


# -- annotation resolution ---------------------------------------------------------------------

IMPORTS = """\
from __future__ import annotations
import typing
import typing as t
from typing import Annotated, Any, Callable, Dict, List, Literal, Optional, Tuple, Type, Union
from collections.abc import Iterable
from .models import Job
from ..shared import Base as SharedBase
from . import sibling
import a.b as m
import a.b
from unknown import *
"""


@pytest.mark.parametrize(
    "annotation, resolved",
    [
        ("str", "str"),
        ("None", "None"),
        ("Job", "pkg.sub.models.Job"),
        ("SharedBase", "pkg.shared.Base"),
        ("sibling.Thing", "pkg.sub.sibling.Thing"),
        ("m.Job", "a.b.Job"),
        ("a.b.Job", "a.b.Job"),
        ("Local", "pkg.sub.ops.Local"),
        ("Alias", "pkg.sub.ops.Alias"),
        ("Mystery", "Mystery"),
        ('"Job"', "pkg.sub.models.Job"),
        ('"list[Job]"', "list[pkg.sub.models.Job]"),
        ('"list[Job"', "list[Job"),
        ("List[Job]", "list[pkg.sub.models.Job]"),
        ("typing.List[int]", "list[int]"),
        ("t.Dict[str, Job]", "dict[str, pkg.sub.models.Job]"),
        ("Tuple[int, ...]", "tuple[int, ...]"),
        ("Type[Job]", "type[pkg.sub.models.Job]"),
        ("dict[str, list[Job]]", "dict[str, list[pkg.sub.models.Job]]"),
        ("Optional[Job]", "pkg.sub.models.Job | None"),
        ("Union[Job, None]", "pkg.sub.models.Job | None"),
        ("Job | None", "pkg.sub.models.Job | None"),
        ("None | Job", "pkg.sub.models.Job | None"),
        ("Union[str, int, str]", "int | str"),
        ("Optional[Union[str, Job]]", "pkg.sub.models.Job | str | None"),
        ("int | Optional[str] | None", "int | str | None"),
        ('Optional["Job"]', "pkg.sub.models.Job | None"),
        ("list[Optional[Job]]", "list[pkg.sub.models.Job | None]"),
        ("Annotated[Job, 'meta']", "pkg.sub.models.Job"),
        ("Any", "typing.Any"),
        ("t.Any", "typing.Any"),
        ("Callable[[int, Job], str]", "typing.Callable[[int, pkg.sub.models.Job], str]"),
        ("Iterable[Job]", "collections.abc.Iterable[pkg.sub.models.Job]"),
        ("Literal['a', 'b']", "typing.Literal['a', 'b']"),
    ],
)
def test_annotations_resolve_to_canonical_qualified_names(annotation, resolved):
    text = IMPORTS + f"class Local: ...\nAlias = list\n@operation(name='a')\ndef f(x: {annotation}): ...\n"
    text = text.replace("from __future__ import annotations\n", "from __future__ import annotations\nfrom runtime import operation\n")
    op = only(text, path="src/pkg/sub/ops.py", module="pkg.sub.ops")
    assert op.params[0].annotation.text == annotation
    assert op.params[0].annotation.resolved == resolved


@pytest.mark.parametrize(
    "path, module, expected",
    [
        ("pkg/ops.py", "pkg.ops", "pkg.models.Job"),
        ("pkg/__init__.py", "pkg", "pkg.models.Job"),
        ("pkg/sub/__init__.py", "pkg.sub", "pkg.sub.models.Job"),
        ("ops.py", "ops", "models.Job"),
    ],
)
def test_relative_imports_start_from_the_package(path, module, expected):
    text = "from runtime import operation\nfrom .models import Job\n@operation(name='a')\ndef f() -> Job: ...\n"
    assert only(text, path=path, module=module).returns.resolved == expected


def test_parent_relative_import_from_a_package_init():
    text = "from runtime import operation\nfrom ..models import Job\n@operation(name='a')\ndef f() -> Job: ...\n"
    assert only(text, path="pkg/sub/__init__.py", module="pkg.sub").returns.resolved == "pkg.models.Job"


def test_imports_inside_type_checking_blocks_resolve():
    text = (
        "from typing import TYPE_CHECKING\nfrom runtime import operation\n"
        "if TYPE_CHECKING:\n    from pkg.models import Job\n"
        "@operation(name='a')\ndef f(x: 'Job') -> 'list[Job]': ...\n"
    )
    op = only(text)
    assert (op.params[0].annotation.resolved, op.returns.resolved) == ("pkg.models.Job", "list[pkg.models.Job]")


# -- the outline: libcst parses a reduced text; results equal those of the whole file ------

_PIECES = [
    '@operation(name="g.doc{i}", retries=2)\ndef doc{i}(a: int, b: "Job" = 3) -> int:\n    """Doc {i}."""\n    x = a + b\n    return x\n',
    '@operation(name="g.bare{i}")\nasync def bare{i}(x: list[int] = [1, 2]) -> None:\n    for y in x:\n        print(y)\n',
    '@operation(name="g.line{i}")\ndef line{i}(a: int) -> int: return a\n',
    '@operation(name="g.semi{i}")\ndef semi{i}():\n    """Doc."""; x = (1,\n        2)\n    return x\n',
    '@operation(name="g.slash{i}")\ndef slash{i}(a): \\\n    return a\n',
    '@operation(name="g.tail{i}")\ndef tail{i}():\n    return 1\n    # an indented comment after the body\n',
    '@operation(name="g.nested{i}")\ndef nested{i}():\n    @operation(name="g.inner{i}")\n    def inner():\n        pass\n    return inner\n',
    '@operation(\n    # a comment\n    "g.multi{i}",\n    tags=["a",\n          "b"],\n)\ndef multi{i}(a: Optional[Job] = None, *, k: int = 1):\n    """Multi\n\n    line.\n    """\n    return a\n',
    'class Holder{i}:\n    """A class."""\n\n    @operation(name="g.method{i}")\n    def method(self):\n        pass\n',
    '@dataclasses.dataclass(frozen=True)\nclass Job{i}:\n    rows: list[int]\n    name: str = "operation"\n',
    'class One{i}: pass\n',
    '@functools.cache\ndef helper{i}(x):\n    return operation\n',
    'TEMPLATE{i} = """\n@operation(name="not.real{i}")\ndef fake(): pass\n"""\n',
    'if TYPE_CHECKING:\n    from pkg.models import Job\nelse:\n    Job = object\n',
    'x{i} = 1; y{i} = operation(name="g.call{i}")\n',
    '# @operation(name="g.commented{i}")\n',
    '@operation(name="g.dup")\ndef dup():\n    return {i}\n',
    '@operation(name="g.syntax{i}")\ndef syntax{i}():\n    return (\n',
]


def _whole(source: SourceFile):
    """What extraction finds when libcst parses the whole file (the slow path)."""
    from compiler.extract.reader import _Extractor
    from compiler.extract.outline import outline

    shape = outline(source.text.removeprefix("\ufeff"))
    return _Extractor(source, cst.parse_module(source.text), shape, whole=True).run()


@settings(max_examples=150, deadline=None)
@given(st.lists(st.sampled_from(range(len(_PIECES) - 1)), max_size=8), st.sampled_from(["\n", "\r\n"]),
       st.booleans())
def test_the_reduced_parse_finds_what_the_whole_parse_finds(pieces, newline, bom):
    header = "import dataclasses, functools\nfrom typing import Optional\nfrom runtime import operation\n\n"
    text = header + "\n\n".join(_PIECES[p].format(i=i) for i, p in enumerate(pieces))
    text = ("\ufeff" if bom else "") + text.replace("\n", newline)
    source = SourceFile(PATH, "pkg.ops", text)
    assert extract(source) == _whole(source)
    from compiler.extract.outline import outline

    cst.parse_module(outline(text.removeprefix("\ufeff")).reduced)  # the fast path was open to it


def test_the_outline_keeps_headers_and_docstrings_and_drops_bodies():
    from compiler.extract.outline import outline

    text = "".join(piece.format(i=i) for i, piece in enumerate(_PIECES[:-1]))
    reduced = outline(text).reduced
    assert "x = a + b" not in reduced and "for y in x" not in reduced and "rows: list[int]" not in reduced
    assert "class Job9: pass\n" in reduced and "def helper11(): pass\n" in reduced
    for kept in ('@operation(name="g.doc0", retries=2)\ndef doc0(a: int, b: "Job" = 3) -> int:\n    """Doc 0."""\n',
                 "def line2(a: int) -> int: return a\n", _PIECES[7].format(i=7).split("    return a")[0]):
        assert kept in reduced
    cst.parse_module(reduced)


def test_a_syntax_error_is_placed_by_pythons_parser():
    source = SourceFile(PATH, "pkg.ops", "from runtime import operation\n\n" + _PIECES[-1].format(i=0))
    [], [diagnostic] = extract(source)
    assert diagnostic.code == "OC201" and (diagnostic.span.line, diagnostic.span.column) == (5, 12)


@settings(max_examples=400, deadline=None)
@given(st.one_of(
    st.text(alphabet="ab\"'\\\n\r 0123_xN-+.éTrueFalsNoe", max_size=8),
    st.builds(repr, st.one_of(st.text(max_size=6), st.integers(), st.booleans(), st.none())),
))
def test_reading_a_literal_without_a_parse_agrees_with_pythons_parser(source):
    import ast

    from compiler.extract.reader import _INVALID, _literal_value

    try:
        expected = ast.literal_eval("(" + source + "\n)")
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        expected = _INVALID
    found = _literal_value(source)
    assert found == expected and type(found) is type(expected)

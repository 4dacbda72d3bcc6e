"""Golden cases: each folder under tests/cases/ is a tiny project plus `expect.txt`, a
hand-written list of claims about its analysis. One claim per line:

    edge SOURCE -> TARGET.PARAM (REASON)        a data edge
    edge SOURCE -> TARGET (depends_on)          an ordering edge
    flow NAME: OP, OP, ...                      a flow's members in topological order
    sinks NAME: OP, ...                         a flow's sinks
    param FLOW NAME required|optional[=DEFAULT] a flow parameter
    diag PATH:LINE:COL CODE                     a diagnostic (location and code)
    diag-text PATH:LINE:COL CODE substring      …whose message contains the substring

For every claim kind present in a case, the analysis must produce exactly those claims
(no more, no fewer); kinds absent from the file are not compared.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from compiler.api import analyse

CASES = Path(__file__).parent / "cases"


def _claims(analysis) -> dict[str, set[str]]:
    claims: dict[str, set[str]] = {"edge": set(), "flow": set(), "sinks": set(), "param": set(), "diag": set()}
    graph = analysis.graph
    if graph is not None:
        for e in graph.edges:
            target = e.target if e.param is None else f"{e.target}.{e.param}"
            claims["edge"].add(f"{e.source} -> {target} ({e.reason})")
        for flow in graph.flows:
            claims["flow"].add(f"{flow.name}: {', '.join(flow.operations)}")
            claims["sinks"].add(f"{flow.name}: {', '.join(flow.sinks)}")
            for p in flow.params:
                state = "required" if p.required else f"optional={p.default}"
                claims["param"].add(f"{flow.name} {p.name} {state}")
    for d in analysis.diagnostics:
        claims["diag"].add(f"{d.span.path}:{d.span.line}:{d.span.column} {d.code}")
    return claims


def _expected(case: Path) -> tuple[dict[str, set[str]], list[tuple[str, str]]]:
    expected: dict[str, set[str]] = {}
    texts = []
    for raw in (case / "expect.txt").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kind, _, rest = line.partition(" ")
        if kind == "diag-text":
            where, code, substring = rest.split(" ", 2)
            expected.setdefault("diag", set()).add(f"{where} {code}")
            texts.append((f"{where} {code}", substring))
        else:
            expected.setdefault(kind, set()).add(rest)
    return expected, texts


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_case(case: str, tmp_path: Path) -> None:
    project = tmp_path / case
    shutil.copytree(CASES / case / "project", project)
    analysis = analyse(project)
    actual = _claims(analysis)
    expected, texts = _expected(CASES / case)
    for kind, claims in expected.items():
        assert actual[kind] == claims, f"{kind} claims differ"
    messages = {f"{d.span.path}:{d.span.line}:{d.span.column} {d.code}": d.message for d in analysis.diagnostics}
    for where, substring in texts:
        assert substring in messages[where], f"{where}: {messages[where]!r} lacks {substring!r}"
    for d in analysis.diagnostics:
        assert d.hint, f"{d.code} has no hint"

"""`orchc graph --format mermaid|dot|json` and `orchc explain`: golden output on a project
using every edge reason (inputs, name, type, depends_on on a group), a structural check of
the Mermaid and DOT text (balanced blocks, declared nodes, escaped labels) including names
with quotes and brackets, and Graphviz itself when it is installed.

`ORCHC_UPDATE_GOLDEN=1 pytest` rewrites the golden files (read the diff before committing).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pydot
import pytest

from tests.goldens import assert_golden
from compiler.commands.explain import explanation
from compiler.reports.export import dot_id, graph_dot, graph_mermaid, mermaid_label
from compiler.model import Edge, Flow, Graph, OperationSpec, Options, OptionSpans, Span

GOLDEN = Path(__file__).parent / "golden" / "graph"


def orchc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "ORCHC_OUTPUT_FORMAT")}
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, capture_output=True, text=True,
                          env=environment, timeout=120)


def golden(name: str, actual: str) -> None:
    assert_golden(GOLDEN / name, actual)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("graph") / "shop"
    shutil.copytree(GOLDEN / "project", target)
    return target


# -- structural checks -------------------------------------------------------------------------

_LABEL = r'"[^"\n]*"'
_MERMAID = {
    "node": re.compile(rf"(op\d+)\[{_LABEL}\]"),
    "subgraph": re.compile(rf"subgraph (grp\d+)\[{_LABEL}\]"),
    "end": re.compile(r"end"),
    "edge": re.compile(rf"(op\d+) (-->|==>|-\.->)\|{_LABEL}\| (op\d+)"),
    "linkStyle": re.compile(r"linkStyle (\d+(?:,\d+)*) [\w:#.,-]+"),
    "classDef": re.compile(r"classDef (\w+) [\w:#.,-]+"),
    "class": re.compile(r"class (op\d+(?:,op\d+)*) (\w+)"),
}


def check_mermaid(text: str) -> dict[str, list[str]]:
    """Parse a flowchart as orchc writes it; fail on any line of another form, an unbalanced
    `subgraph`/`end`, an edge to an undeclared node, or a link style past the last edge."""
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "flowchart LR"
    depth, nodes, edges, styles = 0, [], [], []
    for line in lines[1:]:
        kind, match = next(((k, p.fullmatch(line.strip())) for k, p in _MERMAID.items() if p.fullmatch(line.strip())),
                           (None, None))
        assert kind is not None, f"unexpected Mermaid line: {line!r}"
        if kind == "subgraph":
            depth += 1
        elif kind == "end":
            depth -= 1
            assert depth >= 0, "`end` without `subgraph`"
        elif kind == "node":
            assert match.group(1) not in nodes
            nodes.append(match.group(1))
        elif kind == "edge":
            assert match.group(1) in nodes and match.group(3) in nodes
            edges.append(line.strip())
        elif kind == "linkStyle":
            styles += [int(i) for i in match.group(1).split(",")]
    assert depth == 0, "unbalanced subgraph/end"
    assert all(i < len(edges) for i in styles)
    return {"nodes": nodes, "edges": edges}


def check_dot(text: str) -> None:
    """Braces balance outside quoted strings, and every quoted string ends."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            in_string = escaped or char != '"'
            escaped = not escaped and char == "\\"
        elif char == '"':
            in_string = True
        elif char in "{}":
            depth += 1 if char == "{" else -1
            assert depth >= 0
    assert depth == 0 and not in_string
    assert text.startswith("digraph orchc {")


# -- golden ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("flow", "fmt", "name"), [
    (None, "mermaid", "all.mmd"), ("shop.ingest", "mermaid", "shop.ingest.mmd"),
    (None, "dot", "all.dot"), ("shop.ingest", "dot", "shop.ingest.dot"),
])
def test_graph_golden(project: Path, flow: str | None, fmt: str, name: str) -> None:
    result = orchc("graph", *([flow] if flow else []), "--format", fmt, cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    golden(name, result.stdout)
    if fmt == "mermaid":
        parsed = check_mermaid(result.stdout)
        assert len(parsed["nodes"]) == (5 if flow is None else 3)
    else:
        check_dot(result.stdout)


def test_every_edge_reason_is_drawn_differently(project: Path) -> None:
    text = orchc("graph", "--format", "mermaid", cwd=project).stdout
    assert '==>|"refunds"|' in text  # inputs: thick
    assert '-.->|"after"|' in text  # depends_on: dotted
    assert "linkStyle 4 stroke:#1f6feb" in text  # the one type edge: orders
    dot = orchc("graph", "--format", "dot", cwd=project).stdout
    assert 'label="refunds", tooltip="inputs", color="#8250df", penwidth=2' in dot
    assert 'tooltip="depends_on", style=dashed' in dot


def test_json_format_is_unchanged(project: Path) -> None:
    document = json.loads(orchc("graph", "--format", "json", cwd=project).stdout)
    assert document["schema"] == 1
    assert set(document) == {"schema", "operations", "edges", "flows"}
    assert {"from": "shop.ingest.refunds", "to": "shop.summarise", "param": "refunds", "reason": "inputs"} \
        in document["edges"]


def test_a_dot_parser_accepts_the_dot(project: Path) -> None:
    text = orchc("graph", "--format", "dot", cwd=project).stdout
    graphs = pydot.graph_from_dot_data(text)
    assert graphs is not None and len(graphs) == 1
    names = {node.get_name().strip('"') for g in [graphs[0], *_subgraphs(graphs[0])] for node in g.get_nodes()}
    edges = {(e.get_source().strip('"'), e.get_destination().strip('"')) for e in graphs[0].get_edges()}
    assert {"shop.publish", "shop.summarise", "shop.ingest.refunds"} <= names
    assert ("shop.ingest.refunds", "shop.summarise") in edges


def _subgraphs(graph) -> list:
    found = []
    for sub in graph.get_subgraphs():
        found += [sub, *_subgraphs(sub)]
    return found


def test_explain_golden(project: Path) -> None:
    for name in ("shop.publish", "shop.ingest.refunds", "shop.summarise"):
        result = orchc("explain", name, cwd=project)
        assert result.returncode == 0, result.stdout
        golden(f"explain-{name}.txt", result.stdout)


def test_explain_names_each_rule_and_location(project: Path) -> None:
    text = orchc("explain", "shop.summarise", cwd=project).stdout
    assert "orders: Orders <- shop.ingest.orders (rule: type; defined at shop/ops.py:12:1)" in text
    assert "refunds: list[int] <- shop.ingest.refunds (rule: explicit `inputs=`; defined at shop/ops.py:17:1)" in text
    facts = json.loads(orchc("explain", "shop.publish", "--format", "json", cwd=project).stdout)
    assert [a["via_group"] for a in facts["after"]] == ["shop.ingest", "shop.ingest"]
    assert facts["inputs"][1] == {"parameter": "channel", "annotation": "str", "producer": None,
                                  "rule": "flow parameter", "required": False, "default": '"#sales"'}
    assert facts["flows"] == ["shop"]


def test_explain_unknown_operation_suggests(project: Path) -> None:
    result = orchc("explain", "shop.publsh", cwd=project)
    assert result.returncode == 2
    assert "OC105" in result.stdout and "did you mean `shop.publish`?" in result.stdout
    group = orchc("explain", "shop.ingest", cwd=project)
    assert "is a group" in group.stdout


# -- escaping names with quotes and brackets ------------------------------------------------------


def _op(name: str) -> OperationSpec:
    span = Span("weird.py", 1, 1)
    return OperationSpec(name=name, module="weird", function="f", span=span, decorator_span=span, name_span=span,
                         is_async=False, params=(), returns=None, docstring=None, options=Options(),
                         option_spans=OptionSpans(), source_hash="sha256:0")


def _weird_graph() -> Graph:
    names = ['g"x.a[1]', 'g"x.b<c> & #d', "end", 'flat"]{}\\']
    edges = (Edge(names[0], names[1], 'p"|]', "name"), Edge(names[2], names[1], None, "depends_on"),
             Edge(names[3], names[2], "x\ny", "inputs"))
    return Graph(operations=tuple(_op(n) for n in sorted(names)), edges=edges,
                 flows=(Flow('g"x', tuple(names[:2]), (), (names[1],)),), groups=('g"x',))


def test_mermaid_escapes_quotes_brackets_and_entities() -> None:
    assert mermaid_label('a"b[c]<d>&#e') == '"a#quot;b[c]#lt;d#gt;#amp;#35;e"'
    text = graph_mermaid(_weird_graph())
    parsed = check_mermaid(text)
    assert len(parsed["nodes"]) == 4 and len(parsed["edges"]) == 3
    assert 'subgraph grp0["g#quot;x"]' in text
    assert '|"p#quot;|]"|' in text and '|"x y"|' in text


def test_dot_escapes_quotes_backslashes_and_newlines() -> None:
    assert dot_id('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    text = graph_dot(_weird_graph())
    check_dot(text)
    assert '"flat\\"]{}\\\\"' in text


def test_explain_data_for_a_hand_made_graph() -> None:
    facts = explanation(_weird_graph(), 'g"x.b<c> & #d')
    assert [i for i in facts["downstream"]] == []
    assert [a["operation"] for a in facts["after"]] == ["end"]

"""`orchc build` / `orchc check` end to end: never importing user code, determinism,
atomic writes, nothing written on error, and the staleness account of `check`."""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
from pathlib import Path
from unittest import mock

import networkx as nx
import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import api, core
from compiler.extract.reader import extract
from compiler.link.linker import link
from compiler.lock.lockfile import (
    HEADER,
    build_lock,
    LockEdge,
    LockFile,
    LockFlow,
    LockFlowParam,
    LockGenerated,
    LockOperation,
    LockParam,
    LockProject,
    dumps,
    loads,
)
from compiler.model import Edge, OperationSpec, Options, OptionSpans, SourceFile, Span

CASES = Path(__file__).parent / "cases"
ORCHC = [sys.executable, "-m", "compiler"]


def orchc(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*ORCHC, *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120)


def copy_case(name: str, tmp_path: Path) -> Path:
    target = tmp_path / name
    shutil.copytree(CASES / name / "project", target)
    return target


# -- the compiler never imports or executes user code -------------------------------------

TRAP = '''\
import pathlib
pathlib.Path(__file__).with_name("IMPORTED").write_text("user code ran")
raise SystemExit("orchc imported user code")
from runtime import operation


@operation(name="trap.run")
def run(x: int) -> int:
    return x
'''


def test_build_check_graph_never_import_user_code(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "trap.py").write_text(TRAP)
    for command in (["build"], ["check"], ["graph", "--format", "json"]):
        result = orchc(*command, cwd=tmp_path)
        assert result.returncode == 0, result.stdout + result.stderr
    assert not (tmp_path / "IMPORTED").exists()
    assert "trap.run" in (tmp_path / "flows.lock").read_text()
    assert "trap" not in sys.modules


# -- determinism ---------------------------------------------------------------------------


def _extracted(project: Path, source_root: str) -> list:
    operations = []
    for path in sorted((project / source_root).rglob("*.py")):
        relative = path.relative_to(project).as_posix()
        module = path.relative_to(project / source_root).as_posix()[:-3].replace("/", ".").removesuffix(".__init__")
        operations.extend(extract(SourceFile(relative, module, path.read_text()))[0])
    return operations


@settings(max_examples=25, deadline=None)
@given(st.randoms(use_true_random=False))
def test_lock_bytes_ignore_discovery_and_operation_order(rng: random.Random) -> None:
    project = CASES / "scopes" / "project"
    with mock.patch.dict(os.environ, {"ORCHC_NO_CACHE": "1"}):  # read the case in place, write nothing there
        analysis = api.analyse(project)
    operations = _extracted(project, "app")
    rng.shuffle(operations)
    graph, diagnostics = link(operations, analysis.config.all_opaque_types, frozenset({"models", "a", "z"}))
    assert not diagnostics
    shuffled = core.lock_and_modules(graph, analysis.config)[0]
    assert dumps(shuffled) == analysis.lock_text


def test_same_bytes_under_different_hash_seeds(tmp_path: Path) -> None:
    outputs = []
    for seed in ("0", "1", "12345"):
        project = copy_case("scraping_seed", tmp_path / seed)
        env = {**os.environ, "PYTHONHASHSEED": seed}
        assert orchc("build", cwd=project, env=env).returncode == 0
        files = sorted(p for p in project.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        outputs.append({p.relative_to(project).as_posix(): p.read_bytes() for p in files})
    assert outputs[0] == outputs[1] == outputs[2]


def test_build_twice_leaves_files_untouched(tmp_path: Path) -> None:
    project = copy_case("scraping_seed", tmp_path)
    assert api.build(project).written
    lock = project / "flows.lock"
    before = lock.stat().st_mtime_ns
    os.utime(lock, ns=(before - 10_000_000_000, before - 10_000_000_000))
    again = api.build(project)
    assert again.written == ()
    assert lock.stat().st_mtime_ns == before - 10_000_000_000


def test_lock_reads_back_equal(tmp_path: Path) -> None:
    project = copy_case("scraping_seed", tmp_path)
    analysis = api.analyse(project)
    assert loads(analysis.lock_text) == analysis.lock


def test_lock_lookups_by_name_follow_copies_and_ignore_equality(tmp_path: Path) -> None:
    lock = api.analyse(copy_case("scraping_seed", tmp_path)).lock
    first, flow = lock.operations[0], lock.flows[0]
    assert lock.operation(first.name) is first and lock.flow(flow.name) is flow
    assert lock.operation("no.such") is None and lock.flow("no.such") is None
    assert lock == loads(dumps(lock)) and dumps(lock) == dumps(loads(dumps(lock)))  # the index is not data
    renamed = first.model_copy(update={"name": "renamed"})
    copy = lock.model_copy(update={"operations": [renamed, *lock.operations[1:]]})
    assert copy.operation("renamed") is renamed and copy.operation(first.name) is None
    assert lock.operation(first.name) is first


# -- the lock's text: tomli_w's output, written directly ----------------------------------

_HOSTILE = st.sampled_from(['a"b', "\\", "\n", "\r\n", "\t", "\x00", "\x1f", "\x7f", "\b\f", "é✓𝔘", "\u2028",
                            "'''", '"""', "", " ", "#", "[x]", "a = b", "x" * 90])
_TEXT = st.one_of(_HOSTILE, st.text(max_size=8), st.lists(_HOSTILE, max_size=3).map("".join))
_MAYBE_TEXT = st.none() | _TEXT
_NUMBER = st.integers(min_value=-(2**70), max_value=2**70) | st.floats()
_PARAM = st.builds(LockParam, name=_TEXT, annotation=_MAYBE_TEXT, type=_MAYBE_TEXT, default=_MAYBE_TEXT,
                   default_literal=_MAYBE_TEXT)
_OPERATION = st.builds(
    LockOperation, name=_TEXT, module=_TEXT, function=_TEXT, file=_TEXT, line=st.integers(0, 10**6),
    column=st.integers(0, 10**6), is_async=st.booleans(), source_hash=_TEXT, description=_MAYBE_TEXT,
    returns=_MAYBE_TEXT, returns_type=_MAYBE_TEXT, retries=st.integers(0, 9),
    retry_delay_seconds=_NUMBER | st.lists(_NUMBER, max_size=3), timeout_seconds=st.none() | _NUMBER,
    tags=st.lists(_TEXT, max_size=3), cache=st.booleans(), persist_result=st.none() | st.booleans(),
    executor=st.sampled_from(["thread", "process"]), params=st.lists(_PARAM, max_size=3))
_EDGE = st.builds(LockEdge, source=_TEXT, target=_TEXT, param=_MAYBE_TEXT,
                  reason=st.sampled_from(["inputs", "name", "type", "depends_on"]), via_group=_MAYBE_TEXT)
_FLOW_PARAM = st.builds(LockFlowParam, name=_TEXT, annotation=_MAYBE_TEXT, type=_MAYBE_TEXT, required=st.booleans(),
                        default=_MAYBE_TEXT, default_literal=_MAYBE_TEXT, consumers=st.lists(_TEXT, max_size=2))
_FLOW = st.builds(LockFlow, name=_TEXT, module=_TEXT, function=_TEXT, operations=st.lists(_TEXT, max_size=3),
                  sinks=st.lists(_TEXT, max_size=2), params=st.lists(_FLOW_PARAM, max_size=2))
_LOCK = st.builds(
    LockFile, schema=st.integers(0, 9),
    project=st.builds(LockProject, out=_TEXT, package=_TEXT, source_roots=st.lists(_TEXT, max_size=2)),
    operations=st.lists(_OPERATION, max_size=3), edges=st.lists(_EDGE, max_size=3), flows=st.lists(_FLOW, max_size=2),
    generated=st.lists(st.builds(LockGenerated, path=_TEXT, sha256=_TEXT), max_size=2))


def _tomli_w_text(lock: LockFile) -> str:
    """The lock's text as the reference writer makes it."""
    data = lock.model_dump(mode="json", by_alias=True, exclude_none=True)
    return HEADER + "\n" + tomli_w.dumps(data, multiline_strings=False)


@settings(max_examples=300, deadline=None)
@given(_LOCK)
def test_lock_text_is_tomli_w_text(lock: LockFile) -> None:
    assert dumps(lock) == _tomli_w_text(lock)


@pytest.mark.parametrize("width", range(90, 104))
def test_lock_text_keeps_tables_inline_up_to_tomli_w_width(width: int) -> None:
    """An array of tables is written inline exactly while each entry fits in 100 columns."""
    short = LockEdge(source="a", target="b", reason="name")
    line = '    { source = "a", target = "b", reason = "name" },'
    edge = short.model_copy(update={"source": "a" * (1 + width - len(line))})
    lock = LockFile(project=LockProject(out="o", package="p", source_roots=["."]), edges=[short, edge])
    text = dumps(lock)
    assert text == _tomli_w_text(lock)
    assert ("[[edges]]" in text) == (width > 100)


def test_a_projects_lock_text_is_tomli_w_text(tmp_path: Path) -> None:
    lock = api.analyse(copy_case("scraping_seed", tmp_path)).lock
    assert dumps(lock) == _tomli_w_text(lock)


# -- flows: one topological sort serves every flow -------------------------------------------

_NAMES = ("a.x", "a.y", "a.b.x", "a.b.z", "c", "d.e.f", "d.g", "h")


def _operation(name: str, depends_on: tuple[str, ...]) -> OperationSpec:
    span = Span("ops.py", 1, 1)
    return OperationSpec(name=name, module="ops", function=name.replace(".", "_"), span=span, decorator_span=span,
                         name_span=span, is_async=False, params=(), returns=None, docstring=None,
                         options=Options(depends_on=depends_on), option_spans=OptionSpans(), source_hash="sha256:0")


@settings(max_examples=200, deadline=None)
@given(st.permutations(_NAMES), st.sets(st.tuples(st.integers(0, 7), st.integers(0, 7))))
def test_flows_follow_networkx_order_of_their_subgraph(rank: list[str], pairs: set[tuple[int, int]]) -> None:
    """Each flow holds its group and everything upstream, in `lexicographical_topological_sort`
    order of that subgraph (edges only run forward in `rank`, so the graph is acyclic)."""
    upstream = {name: tuple(sorted({rank[i] for i, j in pairs if rank[j] == name and i < j})) for name in rank}
    graph, diagnostics = link([_operation(name, upstream[name]) for name in rank])
    assert not diagnostics
    reference = nx.DiGraph([(e.source, e.target) for e in graph.edges])
    reference.add_nodes_from(_NAMES)
    for flow in graph.flows:
        core = {n for n in _NAMES if n == flow.name or n.startswith(flow.name + ".")}
        members = core.union(*(nx.ancestors(reference, n) for n in core))
        assert flow.operations == tuple(nx.lexicographical_topological_sort(reference.subgraph(members)))
        # sinks: the members whose result no member takes (these edges are all `depends_on`)
        takes = {(e.source, e.target) for e in graph.edges if e.param is not None}
        assert flow.sinks == tuple(sorted(n for n in members if not any((n, m) in takes for m in members)))
    # the lock lists each operation once, in its own group's flow, and derives the rest
    lock = build_lock(graph, LockProject(out="o", package="p", source_roots=["."]),
                      {flow.name: ("m", "f") for flow in graph.flows})
    listed = [name for flow in lock.flows for name in flow.operations]
    assert sorted(listed) == sorted(_NAMES)
    for flow, locked in zip(graph.flows, lock.flows, strict=True):
        assert all(n == flow.name or n.rpartition(".")[0] == flow.name for n in locked.operations)
        assert lock.members(locked) == flow.operations


def test_a_cycle_is_reported_and_leaves_no_flows() -> None:
    graph, diagnostics = link([_operation("a.x", ("a.y",)), _operation("a.y", ("a.x",)), _operation("b", ())])
    assert [d.code for d in diagnostics] == ["OC306"] and graph.flows == ()
    assert set(graph.edges) == {Edge("a.y", "a.x", None, "depends_on"), Edge("a.x", "a.y", None, "depends_on")}


# -- nothing written on error --------------------------------------------------------------


def test_error_keeps_previous_outputs_byte_for_byte(tmp_path: Path) -> None:
    project = copy_case("scraping_seed", tmp_path)
    api.build(project)
    snapshot = {p: p.read_bytes() for p in project.rglob("*") if p.is_file()}
    (project / "scraping" / "broken.py").write_text(
        "from runtime import operation\n\n@operation(name='scraping.bad', retries=N)\ndef bad(:\n")
    result = orchc("build", cwd=project)
    assert result.returncode == 1
    assert "OC201" in result.stdout
    after = {p: p.read_bytes() for p in project.rglob("*") if p.is_file() and p.name != "broken.py"}
    assert after == snapshot
    assert not [p for p in project.rglob("*.tmp")]


def test_syntax_error_does_not_hide_other_files_findings(tmp_path: Path) -> None:
    project = copy_case("scraping_seed", tmp_path)
    # Files that never mention `operation` are not parsed at all (they cannot hold one).
    (project / "scraping" / "broken.py").write_text("from runtime import operation\ndef broken(:\n")
    (project / "scraping" / "more.py").write_text(
        "from runtime import operation\n\n@operation(name='scraping.more', retries=RETRIES)\ndef more():\n    pass\n")
    codes = [d.code for d in api.analyse(project).diagnostics]
    assert codes == ["OC201", "OC202"]


# -- check -----------------------------------------------------------------------------------


def test_check_fresh_then_stale_with_an_account(tmp_path: Path) -> None:
    project = copy_case("scraping_seed", tmp_path)
    assert orchc("check", cwd=project).returncode == 2  # no lock yet
    assert orchc("build", cwd=project).returncode == 0
    fresh = orchc("check", cwd=project)
    assert fresh.returncode == 0, fresh.stdout
    ops = project / "scraping" / "ops.py"
    ops.write_text(ops.read_text().replace("retries=3", "retries=5").replace(
        "def rank(jobs: list[Job], top: int = 10)", "def rank(jobs: list[Job], top: int = 20)"))
    stale = orchc("check", cwd=project)
    assert stale.returncode == 1
    assert "update `scraping.stepstone.fetch`: retries 3 -> 5" in stale.stdout
    assert "flows.lock" in stale.stdout and "OC405" in stale.stdout
    assert "OC406" in stale.stdout  # the generated module changed too


def test_check_reports_hand_edited_generated_module(tmp_path: Path) -> None:
    project = copy_case("scraping_seed", tmp_path)
    api.build(project)
    module = next((project / "orchestration").glob("scraping.py"))
    module.write_text(module.read_text() + "\n# a local tweak\n")
    result = orchc("check", cwd=project)
    assert result.returncode == 1
    assert "edited by hand" in result.stdout


def test_check_lock_problems_exit_2(tmp_path: Path) -> None:
    project = copy_case("scraping_seed", tmp_path)
    api.build(project)
    lock = project / "flows.lock"
    text = lock.read_text()
    lock.write_text(text.replace("schema = 2", "<<<<<<< HEAD\nschema = 2\n=======\nschema = 2\n>>>>>>> other", 1))
    conflict = orchc("check", cwd=project)
    assert (conflict.returncode, "OC403") == (2, conflict.stdout.split()[1])
    lock.write_text(text.replace("schema = 2", "schema = 99", 1))
    newer = orchc("check", cwd=project)
    assert newer.returncode == 2 and "OC404" in newer.stdout and "upgrade orchc" in newer.stdout
    lock.write_text(text.splitlines(keepends=True)[0] + "this is = = not toml")
    corrupt = orchc("check", cwd=project)
    assert corrupt.returncode == 2 and "OC402" in corrupt.stdout
    assert orchc("build", cwd=project).returncode == 0  # build repairs a corrupt lock of its own
    assert orchc("check", cwd=project).returncode == 0


def test_config_errors_exit_2_naming_the_key(tmp_path: Path) -> None:
    project = copy_case("scraping_seed", tmp_path)
    (project / "pyproject.toml").write_text('[tool.orchc]\nsourcez = ["."]\nout = 3\n')
    result = orchc("build", cwd=project)
    assert result.returncode == 2
    assert "pyproject.toml:2:1: OC102" in result.stdout and "did you mean `sources`?" in result.stdout
    assert "pyproject.toml:3:1: OC103" in result.stdout and "`out`" in result.stdout
    assert not (project / "flows.lock").exists()


def test_build_refuses_to_downgrade_a_newer_lock(tmp_path: Path) -> None:
    project = copy_case("scraping_seed", tmp_path)
    api.build(project)
    lock = project / "flows.lock"
    newer = lock.read_text().replace("schema = 2", "schema = 7", 1)
    lock.write_text(newer)
    result = orchc("build", cwd=project)
    assert result.returncode == 2 and "flows.lock:4:1: OC404" in result.stdout and "upgrade orchc" in result.stdout
    assert lock.read_text() == newer

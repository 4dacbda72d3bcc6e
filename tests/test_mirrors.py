"""orchc's mirrors of libraries, each against its library: the topological sort against
networkx on random graphs, and all of them (with black's layout and the lock's TOML) at
run time through the one switch, `ORCHC_VERIFY_MIRRORS=1`, building the examples."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import mirrors
from compiler.link.toposort import lexicographic_order

ROOT = Path(__file__).resolve().parents[1]


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 12).flatmap(lambda n: st.tuples(
    st.just([f"n{i:02d}" for i in range(n)]),
    st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))))
def test_the_topological_sort_is_networkx_s(graph: tuple[list[str], list[tuple[int, int]]]) -> None:
    nodes, pairs = graph
    edges = [(nodes[a], nodes[b]) for a, b in pairs if a != b]
    reference = nx.DiGraph()
    reference.add_nodes_from(nodes)
    reference.add_edges_from(edges)
    try:
        expected = list(nx.lexicographical_topological_sort(reference))
    except nx.NetworkXUnfeasible:
        expected = None
    assert lexicographic_order(nodes, edges) == expected


def test_the_switch_turns_a_difference_into_an_internal_error(monkeypatch: pytest.MonkeyPatch) -> None:
    assert mirrors.verify("a mirror", "same", lambda: "other") == "same"  # off: not even compared
    monkeypatch.setenv(mirrors.ENVIRONMENT, "1")
    assert mirrors.verify("a mirror", "same\n", lambda: "same\n") == "same\n"
    with pytest.raises(AssertionError, match="a mirror differs from the library's:\nline 2: got 'b', the library gives 'c'"):
        mirrors.verify("a mirror", "a\nb\n", lambda: "a\nc\n")


def test_the_examples_build_with_every_mirror_checked(tmp_path: Path) -> None:
    project = tmp_path / "repo"
    project.mkdir()
    shutil.copy(ROOT / "pyproject.toml", project)
    shutil.copytree(ROOT / "examples", project / "examples")
    env = {**os.environ, mirrors.ENVIRONMENT: "1", "ORCHC_NO_CACHE": "1"}
    built = subprocess.run([sys.executable, "-m", "compiler", "build"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr
    assert (project / "flows.lock").read_bytes() == (ROOT / "flows.lock").read_bytes()


@pytest.mark.parametrize("shape", ["nested", "cross_module"])
def test_long_names_build_with_every_mirror_checked(tmp_path: Path, shape: str) -> None:
    """Groups nested 10 deep make long task and variable names (statements black lays out
    alone); random cross-module inputs make long flows: both as black writes them."""
    from bench import bench_shapes

    project = getattr(bench_shapes, shape)(tmp_path / shape, 200)
    env = {**os.environ, mirrors.ENVIRONMENT: "1", "ORCHC_NO_CACHE": "1"}
    built = subprocess.run([sys.executable, "-m", "compiler", "build"], cwd=project, env=env,
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stdout + built.stderr

"""Subset runs (`--select`, `--exclude`, an operation named as the flow) on both engines,
every sink's result, `orchc affected`, and the rewiring `orchc build` reports.

Projects are built with the real compiler; the operations append their names to a file,
so each run shows exactly which operations ran.
"""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path

import pytest

from compiler import cli as orchc_cli
from runtime import cli
from tests.projects import build_project
from tests.runtime_helpers import isolated_imports  # noqa: F401 - fixture (sys.path restored)

pytestmark = pytest.mark.usefixtures("isolated_imports")  # the projects' folders leave sys.path after each test

SOURCE = '''
    import os
    from runtime import operation

    def _ran(name):
        with open(os.environ["ORCHC_TEST_RAN"], "a") as log:
            log.write(name + "\\n")

    @operation(name="p.load")
    def load(n: int = 3) -> list[int]:
        _ran("p.load")
        return list(range(n))

    @operation(name="p.double")
    def double(load: list[int]) -> list[int]:
        _ran("p.double")
        return [2 * x for x in load]

    @operation(name="p.total")
    def total(double: list[int]) -> int:
        _ran("p.total")
        return sum(double)

    @operation(name="p.side")
    def side(load: list[int], label: str) -> str:
        _ran("p.side")
        return f"{label}:{len(load)}"

    @operation(name="p.cleanup", depends_on=["p.total"])
    def cleanup() -> None:
        _ran("p.cleanup")
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    build_project(tmp_path, "subset", SOURCE)
    monkeypatch.setenv("ORCHC_TEST_RAN", str(tmp_path / "ran.txt"))
    return tmp_path


def run(project: Path, capsys, *argv: str) -> tuple[int, object, str]:
    """`python -m runtime ARGV`: exit status, the printed result, stderr; the log of what
    ran is read and cleared."""
    (project / "ran.txt").write_text("")
    status = cli.main([*argv, "--project", str(project), "-q"])
    out, err = capsys.readouterr()
    return status, json.loads(out) if status == 0 else None, err


def ran(project: Path) -> list[str]:
    return sorted((project / "ran.txt").read_text().split())




def test_a_flow_returns_every_sink_even_one_followed_only_by_depends_on(project, capsys, engine):
    status, result, _ = run(project, capsys, "p", "--param", "label=x", "--engine", engine)
    assert status == 0
    assert result == {"p.cleanup": None, "p.side": "x:3", "p.total": 6}  # total is not hidden by cleanup
    assert ran(project) == ["p.cleanup", "p.double", "p.load", "p.side", "p.total"]


def test_select_with_upstream_runs_exactly_those_operations(project, capsys, engine):
    status, result, _ = run(project, capsys, "p", "--select", "+p.total", "--engine", engine)
    assert status == 0, _
    assert result == 6  # the subset's single sink; `label` (only p.side takes it) is not required
    assert ran(project) == ["p.double", "p.load", "p.total"]


def test_an_operation_named_as_the_flow_runs_with_everything_upstream(project, capsys, engine):
    status, result, _ = run(project, capsys, "p.double", "--engine", engine)
    assert status == 0, _
    assert result == [0, 2, 4]
    assert ran(project) == ["p.double", "p.load"]


def test_downstream_selection_and_exclude(project, capsys):
    status, result, _ = run(project, capsys, "p", "--select", "p.load+", "--exclude", "p.side", "--engine", "local")
    assert status == 0, _
    assert result == {"p.cleanup": None, "p.total": 6}
    assert ran(project) == ["p.cleanup", "p.double", "p.load", "p.total"]
    # leaving out what cleanup only waits for (depends_on): cleanup runs without waiting
    status, result, _ = run(project, capsys, "p", "--select", "p.load+", "--exclude", "p.side",
                            "--exclude", "p.total", "--engine", "local")
    assert status == 0, _
    assert result == {"p.cleanup": None, "p.double": [0, 2, 4]}
    assert ran(project) == ["p.cleanup", "p.double", "p.load"]


@pytest.mark.parametrize("argv, message", [
    (["p", "--select", "p.total"], "`p.total` takes the result of `p.double`"),
    (["p", "--select", "p.nope"], "`p.nope` is no operation or group of flow `p`"),
    (["p", "--select", "p.load", "--exclude", "p"], "the selection runs no operation of flow `p`"),
    (["p", "--select", "+"], "bad selector `+`"),
])
def test_bad_selections_are_refused_before_anything_runs(project, capsys, argv, message):
    status, _, err = run(project, capsys, *argv, "--engine", "local")
    assert status == 2
    assert message in err
    assert ran(project) == []


def test_affected_lists_changed_downstream_and_flows(project, capsys):
    from compiler.api import build

    shutil.copy(project / "flows.lock", project / "before.lock")
    ops = next((project / "src").glob("subset_*/ops.py"))
    ops.write_text(ops.read_text().replace("return [2 * x for x in load]", "return [3 * x for x in load]"))
    build(project)
    assert orchc_cli.main(["affected", str(project / "before.lock"), "--project", str(project),
                           "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"changed": ["p.double"], "downstream": ["p.cleanup", "p.total"], "flows": ["p"], "removed": []}
    assert orchc_cli.main(["affected", str(project / "flows.lock"), "--project", str(project)]) == 0
    assert capsys.readouterr().out == "nothing changed: no flow needs to run\n"


def test_build_reports_rewiring_in_text_and_json(tmp_path, capsys):
    """A renamed parameter becomes a new required flow parameter, and a new step of the
    same type in a nearer scope takes over a binding: both documented rules, both said."""
    package = tmp_path / "src" / "rewire"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    ops = package / "ops.py"
    ops.write_text(textwrap.dedent('''
        from runtime import operation

        class Batch: ...

        @operation(name="ingest.combine")
        def combine() -> Batch:
            return Batch()

        @operation(name="transform.features")
        def features(batch: Batch, feats: int = 1) -> int:
            return 1
    '''))
    (tmp_path / "pyproject.toml").write_text('[tool.orchc]\nsources = ["src"]\nout = "gen_rewire"\n')
    assert orchc_cli.main(["build", str(tmp_path)]) == 0
    assert "rewired" not in capsys.readouterr().out  # a first build rewires nothing
    ops.write_text(ops.read_text().replace("feats: int = 1", "feets: list[float]") + textwrap.dedent('''
        @operation(name="transform.dedupe")
        def dedupe(combine: Batch) -> Batch:
            return combine
    '''))
    shutil.copy(tmp_path / "flows.lock", tmp_path / "before.lock")
    assert orchc_cli.main(["build", str(tmp_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[:4] == [
        "rewired since the previous lockfile:",
        "  rebind transform.features.batch: ingest.combine -> transform.dedupe (type)",
        "  new required flow parameter feets: list[float] in transform",
        "  flow parameter feats gone from transform",
    ]
    shutil.copy(tmp_path / "before.lock", tmp_path / "flows.lock")
    assert orchc_cli.main(["build", str(tmp_path), "--output-format", "json"]) == 0
    changes = json.loads(capsys.readouterr().out)["changes"]
    assert [change["text"] for change in changes][0] == (
        "rebind transform.features.batch: ingest.combine -> transform.dedupe (type)")

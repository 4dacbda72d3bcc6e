"""`python -m runtime`: parameters, engines, exit codes and messages, `--list`, stale locks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import types
from pathlib import Path

import pytest

import runtime
from runtime import cli
from runtime.registry import Registry
from tests.runtime_helpers import (  # noqa: F401 - fixtures
    SKIP_STALE_CHECK, isolated_imports, make_project, no_stale_check,
)

pytestmark = pytest.mark.usefixtures("isolated_imports")

SOURCE = '''
    from dataclasses import dataclass
    from datetime import date
    from runtime import operation

    @dataclass
    class Summary:
        keywords: str
        count: int
        since: date | None

    @operation(name="jobs.fetch")
    def fetch(keywords: str, pages: list[int], limit: int = 10, remote: bool = False) -> list[str]:
        return [f"{keywords}-{page}" for page in pages][:limit] + (["remote"] if remote else [])

    @operation(name="jobs.summarise")
    async def summarise(fetch: list[str], keywords: str, since: date | None = None) -> Summary:
        return Summary(keywords, len(fetch), since)

    @operation(name="stats.size")
    def size(fetch: list[str]) -> int:
        return len(fetch)

    @operation(name="stats.first")
    async def first(fetch: list[str]) -> str | None:
        return fetch[0] if fetch else None

    @operation(name="jobs.broken")
    def broken(keywords: str) -> None:
        raise RuntimeError(f"cannot reach the board for {keywords}")
'''
OPS = {"jobs.fetch": "fetch", "jobs.summarise": "summarise", "jobs.broken": "broken",
       "stats.size": "size", "stats.first": "first"}
EDGES = [("jobs.fetch", "jobs.summarise", "fetch"), ("jobs.fetch", "stats.size", "fetch"),
         ("jobs.fetch", "stats.first", "fetch")]
FLOWS = ["jobs", "jobs.summarise", "jobs.broken", "stats"]


@pytest.fixture
def checked_project(tmp_path, monkeypatch):
    """The project with the real stale check (compiler.extract.reader)."""
    made = make_project(tmp_path, SOURCE, OPS, EDGES, FLOWS)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ORCHC_ENGINE", raising=False)
    return made


@pytest.fixture
def project(checked_project, no_stale_check):
    return checked_project


def main(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


# -- running --------------------------------------------------------------------------------


def test_runs_a_flow_and_prints_json(project, capsys):
    code, out, err = main(capsys, "jobs.summarise", "--engine", "local", "--param", "keywords=data eng",
                          "--param", "pages=[1, 2, 3]", "--param", "limit=2", "--param", "since=2024-05-01")
    assert code == 0, err
    assert json.loads(out) == {"keywords": "data eng", "count": 2, "since": "2024-05-01"}
    assert "`jobs.fetch` completed" in err  # logs go to stderr


def test_params_file_with_param_override(project, capsys, tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"keywords": "ml", "pages": [1], "remote": True}))
    code, out, err = main(capsys, "jobs.summarise", "--engine", "local", "--params-file", str(tmp_path / "p.json"),
                          "--param", "keywords=rust")
    assert code == 0, err
    assert json.loads(out)["keywords"] == "rust" and json.loads(out)["count"] == 2


def test_several_sinks_print_a_mapping(project, capsys):
    code, out, err = main(capsys, "stats", "--engine", "local", "-q",
                          "--param", "keywords=x", "--param", "pages=[4, 5]")
    assert code == 0 and err == ""
    assert json.loads(out) == {"stats.first": "x-4", "stats.size": 2}


def test_failed_flow_exits_1_naming_the_operation(project, capsys):
    code, out, err = main(capsys, "jobs.broken", "--engine", "local", "--param", "keywords=ml")
    assert code == 1
    assert out == ""
    assert "`jobs.broken` failed: RuntimeError: cannot reach the board for ml" in err
    assert "Traceback" not in err


# -- usage errors ---------------------------------------------------------------------------


@pytest.mark.parametrize(("argv", "expected"), [
    (["jobs.sumarise"], ["unknown flow `jobs.sumarise`", "did you mean `jobs.summarise`?"]),
    (["jobs.summarise"], ["missing required parameter(s)", "`keywords` (str)", "`pages` (list[int])"]),
    (["jobs.summarise", "--param", "keywords=x", "--param", "pages=[1, \"two\"]"],
     ["parameter `pages` expects `list[int]`", "valid integer"]),
    (["jobs.summarise", "--param", "keywords=x", "--param", "pages=[1]", "--param", "limit=many"],
     ["parameter `limit` expects `int`", "'many'"]),
    (["jobs.summarise", "--param", "keyword=x", "--param", "pages=[1]"],
     ["unknown parameter(s) `keyword`", "takes: `keywords`, `limit`, `pages`, `remote`, `since`"]),
    (["jobs.summarise", "--param", "keywords"], ["`--param keywords` is not of the form NAME=VALUE"]),
    (["jobs.summarise", "--params-file", "nope.json"], ["params file `nope.json` does not exist"]),
])
def test_usage_errors_exit_2_with_a_message(project, capsys, argv, expected):
    code, out, err = main(capsys, *argv, "--engine", "local")
    assert code == 2
    assert out == ""
    for text in expected:
        assert text in err
    assert "Traceback" not in err


def test_params_file_values_are_validated(project, capsys, tmp_path):
    (tmp_path / "p.json").write_text(json.dumps({"keywords": "ml", "pages": "all"}))
    code, _, err = main(capsys, "jobs.summarise", "--engine", "local", "--params-file", "p.json")
    assert code == 2 and "parameter `pages` expects `list[int]`, got '\"all\"'" in err


def test_no_flow_and_no_list_is_a_usage_error(project, capsys):
    with pytest.raises(SystemExit) as exit_:
        cli.main([])
    assert exit_.value.code == 2
    assert "give a FLOW to run, or --list" in capsys.readouterr().err


def test_no_project_found(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = main(capsys, "--list")
    assert code == 2 and "no `flows.lock`" in err and "orchc build" in err


def test_corrupt_lock_is_a_usage_error(project, capsys):
    (project.root / "flows.lock").write_text("<<<<<<< HEAD\nschema = 1\n", encoding="utf-8")
    code, _, err = main(capsys, "--list")
    assert code == 2 and "OC403" in err and "merge-conflict" in err


# -- engines --------------------------------------------------------------------------------


@pytest.fixture
def fake_prefect_engine(monkeypatch):
    calls = []

    def run_flow(registry, flow_name, params):
        calls.append((flow_name, params))
        return {"engine": "prefect"}

    _install_prefect_engine(monkeypatch, run_flow)
    return calls


def _install_prefect_engine(monkeypatch, run_flow):
    """Stand in for the real engine, also when an earlier test imported it."""
    fake = types.SimpleNamespace(run_flow=run_flow)
    monkeypatch.setitem(sys.modules, "runtime.prefect_engine", fake)
    monkeypatch.setattr(runtime, "prefect_engine", fake, raising=False)


def test_prefect_is_the_default_engine(project, capsys, fake_prefect_engine):
    code, out, _ = main(capsys, "jobs.broken", "--param", "keywords=ml")
    assert code == 0 and json.loads(out) == {"engine": "prefect"}
    assert fake_prefect_engine == [("jobs.broken", {"keywords": "ml"})]


def test_engine_from_env_then_pyproject(project, capsys, fake_prefect_engine, monkeypatch):
    (project.root / "pyproject.toml").write_text('[tool.orchc]\nengine = "local"\n')
    assert main(capsys, "jobs.broken", "--param", "keywords=ml")[0] == 1  # local: the op fails
    monkeypatch.setenv("ORCHC_ENGINE", "prefect")
    assert main(capsys, "jobs.broken", "--param", "keywords=ml")[0] == 0
    monkeypatch.setenv("ORCHC_ENGINE", "dask")
    code, _, err = main(capsys, "jobs.broken", "--param", "keywords=ml")
    assert code == 2 and "$ORCHC_ENGINE is 'dask', not an engine" in err


def test_prefect_engine_without_generated_modules(project, capsys, monkeypatch):
    def run_flow(registry, flow_name, params):
        raise ModuleNotFoundError("No module named 'orchestration'", name="orchestration")

    _install_prefect_engine(monkeypatch, run_flow)
    code, _, err = main(capsys, "jobs.broken", "--param", "keywords=ml")
    assert code == 1 and "the generated module `orchestration` is missing" in err and "orchc build" in err


# -- stale locks ----------------------------------------------------------------------------


def test_stale_lock_is_refused(project, capsys, monkeypatch):
    monkeypatch.setattr(Registry, "stale_operations",
                        lambda self, flow: ["`jobs.fetch`: its source changed (`x.py:12`)"])
    code, out, err = main(capsys, "jobs.summarise", "--engine", "local", "--param", "keywords=x")
    assert code == 1 and out == ""
    assert "the lockfile no longer matches the source: run `orchc build`" in err
    assert "`jobs.fetch`: its source changed" in err


def test_stale_lock_detected_from_source(checked_project, capsys):
    project = checked_project
    text = project.source.read_text()
    project.source.write_text(text.replace("[:limit]", "[: limit + 1]"))
    code, _, err = main(capsys, "jobs.summarise", "--engine", "local", "--param", "keywords=x", "--param", "pages=[]")
    assert code == 1
    assert "`jobs.fetch`: its source changed" in err
    assert "jobs.broken" not in err  # only the flow's own members are checked
    project.source.unlink()
    code, _, err = main(capsys, "jobs.summarise", "--engine", "local")
    assert code == 1 and "is missing" in err


def test_fresh_lock_has_no_stale_operations(checked_project):
    assert checked_project.registry.stale_operations("jobs") == []


# -- --list ---------------------------------------------------------------------------------


def test_list_shows_flows_params_and_operations(project, capsys):
    code, out, _ = main(capsys, "--list")
    assert code == 0
    assert textwrap.dedent("""\
        jobs.summarise  (2 operation(s); returns `jobs.summarise`)
          parameters:
            keywords: str  (required)
            limit: int = 10
            pages: list[int]  (required)
            remote: bool = False
            since: date | None = None
          operations:
            jobs.fetch  (upstream)
            jobs.summarise
        """) in out
    assert out.startswith("jobs  (3 operation(s); returns `jobs.broken`, `jobs.summarise`)")


# -- as a real command ----------------------------------------------------------------------


def test_module_entry_point_runs_without_prefect(project):
    script = textwrap.dedent("""
        import sys
        {patch}
        from runtime.cli import main
        code = main(["jobs.summarise", "--engine", "local", "--param", "keywords=k", "--param", "pages=[1]"])
        assert not any(m == "prefect" or m.startswith("prefect.") for m in sys.modules), "prefect imported"
        sys.exit(code)
    """).format(patch=SKIP_STALE_CHECK)
    done = subprocess.run([sys.executable, "-c", script], cwd=project.root, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"keywords": "k", "count": 1, "since": None}


def test_python_dash_m_runtime_list(project):
    done = subprocess.run([sys.executable, "-m", "runtime", "--list", "--project", str(project.root)],
                          capture_output=True, text=True, timeout=60, cwd=project.root.parent)
    assert done.returncode == 0, done.stderr
    assert "jobs.broken  (1 operation(s)" in done.stdout


STUCK = """
    import threading
    from runtime import operation

    @operation(name="stuck", timeout_seconds=0.2)
    def stuck() -> None:
        threading.Event().wait(600)  # never returns in time; its thread cannot be killed
"""


def test_timed_out_sync_operation_does_not_hang_the_command(tmp_path):
    project = make_project(tmp_path, STUCK, {"stuck": ("stuck", {"timeout_seconds": 0.2})}, [], ["stuck"])
    script = f"import sys\n{SKIP_STALE_CHECK}\nfrom runtime.cli import main\n" \
             "sys.exit(main(['stuck', '--engine', 'local']))\n"
    done = subprocess.run([sys.executable, "-c", script], cwd=project.root, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert "`stuck` failed: TimeoutError: `stuck` did not finish within 0.2s" in done.stderr
    assert "exiting without waiting" in done.stderr


def _command(*argv: str, cwd, **env: str) -> subprocess.CompletedProcess:
    """`python -m runtime ARGV` in a process of its own."""
    environ = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **env}
    return subprocess.run([sys.executable, "-m", "runtime", *argv], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=environ)


@pytest.mark.parametrize(("option", "where", "expected"), [
    ("--summary", "folder", "--summary `{path}` is a folder, not a file"),
    ("--summary", "file/summary.json", "--summary `{path}` is under `{root}/file`, which is a file"),
    ("--artifacts-dir", "file", "--artifacts-dir `{path}` is a file, not a folder"),
    ("--artifacts-dir", "file/artifacts", "--artifacts-dir `{path}` is under `{root}/file`, which is a file"),
])
def test_an_unwritable_output_is_refused_before_the_flow_runs(checked_project, tmp_path, option, where, expected):
    (tmp_path / "folder").mkdir()
    (tmp_path / "file").write_text("")
    path = tmp_path / where
    done = _command("stats", "--engine", "local", "--param", "keywords=x", "--param", "pages=[1]",
                    option, str(path), "--project", str(checked_project.root), cwd=tmp_path)
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.startswith("error: " + expected.format(path=path, root=tmp_path)), done.stderr
    assert "hint: give a" in done.stderr and "Traceback" not in done.stderr
    assert "`jobs.fetch` completed" not in done.stderr  # refused before anything ran


def test_a_summary_in_a_folder_yet_to_be_made_is_accepted(checked_project, tmp_path):
    path = tmp_path / "new" / "summary.json"
    done = _command("stats", "--engine", "local", "--param", "keywords=x", "--param", "pages=[1]",
                    "--summary", str(path), "--project", str(checked_project.root), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"stats.first": "x-1", "stats.size": 1}
    assert json.loads(path.read_text())["state"] == "Completed"


_REPO = str(Path(__file__).resolve().parents[1])


@pytest.mark.parametrize("command", [
    ["status", "00000000-0000-0000-0000-000000000000"],
    ["status", "00000000-0000-0000-0000-000000000000", "--wait", "--timeout", "3"],
    ["deploy", "--project", _REPO],
    ["serve", "kg-nightly", "--project", _REPO],
])
def test_an_unreachable_api_is_an_environment_failure(tmp_path, command):
    """As when a flow runs against it: one message and a hint, exit 2, no traceback."""
    done = _command(*command, cwd=tmp_path, PREFECT_API_URL="http://127.0.0.1:1/api",
                    PREFECT_HOME=str(tmp_path / "home"))
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: cannot reach the Prefect API at http://127.0.0.1:1/api ("), done.stderr
    assert "hint: check PREFECT_API_URL" in done.stderr and "Traceback" not in done.stderr

"""The README cannot rot: every `$ command` in its console blocks is run here (or, for the
test command itself, by .ci/run), and the Prefect-UI recipe it describes is exercised
against a real `prefect server start`."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from compiler.diagnostics import RULES
from tests.prefect_server import free_port, prefect_server

REPO = Path(__file__).resolve().parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
#: the production recipe: a server, a worker and the commands in order, run by its own test
PRODUCTION = README[README.index("## Running in production"):README.index("## Scaling out")]
#: the scaling-out recipe: a Dask scheduler and workers, then flows on them, run by its own test
SCALING = README[README.index("## Scaling out"):README.index("## Configuration")]
BIN = Path(sys.executable).parent
# The test command would run this suite inside itself; .ci/run runs exactly it.
RUN_BY_CI = {"bash scripts/test.sh"}
RUN_BY_DEMO_TEST = {"bash scripts/demo.sh"}


def readme_commands(text: str = README) -> list[str]:
    commands = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                commands.append(line[2:].split("  #", 1)[0].strip())
    return commands


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING"}


def test_readme_has_the_two_commands_first() -> None:
    assert readme_commands()[:2] == ["bash scripts/demo.sh", "bash scripts/test.sh"]
    ci = (REPO / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


@pytest.mark.parametrize("command", [c for c in readme_commands(README.replace(PRODUCTION, "").replace(SCALING, ""))
                                     if c not in RUN_BY_CI | RUN_BY_DEMO_TEST])
def test_readme_command_runs(command: str) -> None:
    result = subprocess.run(command, shell=True, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    assert result.stdout.strip(), f"{command} printed nothing"


def test_readme_lists_every_diagnostic_code() -> None:
    for rule in RULES:
        assert f"| {rule.code} |" in README, f"{rule.code} is missing from the README's diagnostics table"


def _tracked_copy(target: Path) -> Path:
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO,
                           capture_output=True, text=True, check=True).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


def test_demo_script_on_a_clean_copy(tmp_path: Path) -> None:
    """A newcomer's first command: fresh virtualenv, install, build, run on embedded Prefect."""
    clone = _tracked_copy(tmp_path / "orchc")
    env = {key: value for key, value in _env().items() if not key.startswith(("PREFECT_API", "VIRTUAL_ENV"))}
    env["PREFECT_HOME"] = str(tmp_path / "prefect-home")
    result = subprocess.run(["bash", "scripts/demo.sh"], cwd=clone, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    report = json.loads(result.stdout[result.stdout.index("{"):])
    assert report["jobs"], report


def test_runs_appear_in_a_configured_prefect_server(tmp_path: Path) -> None:
    """The README's recipe: `prefect server start`, then PREFECT_API_URL=… python -m runtime …"""
    assert "prefect server start" in README and "PREFECT_API_URL=http://127.0.0.1:4200/api" in README
    with prefect_server(tmp_path / "home", _env()) as env:
        url = env["PREFECT_API_URL"]
        result = subprocess.run([sys.executable, "-m", "runtime", "scraping", "--param", "keywords=python"],
                                cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        request = urllib.request.Request(f"{url}/flow_runs/filter", data=b"{}", method="POST",
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            runs = json.load(response)
        assert [run["state_type"] for run in runs] == ["COMPLETED"]


def test_the_production_recipe_runs(tmp_path: Path) -> None:
    """The README's "Running in production", command by command, on a copy of this
    repository: a real server (the first command), a real worker, deploy, submit, status."""
    commands = readme_commands(PRODUCTION)
    assert commands[:2] == ["prefect server start", "export PREFECT_API_URL=http://127.0.0.1:4200/api"]
    clone = _tracked_copy(tmp_path / "orchc")  # the runs write their databases into the project
    env = {**_env(), "PREFECT_WORKER_QUERY_SECONDS": "1"}
    with prefect_server(tmp_path / "home", env) as env:
        worker, run_id = None, None
        try:
            for command in commands[2:]:
                if command.startswith("prefect worker start"):
                    worker = subprocess.Popen(command, shell=True, cwd=clone, env=env, stdout=subprocess.DEVNULL,
                                              stderr=subprocess.DEVNULL, start_new_session=True)
                    continue
                command = command.replace("RUN_ID", run_id or "RUN_ID")
                result = subprocess.run(command, shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=300)
                assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
                if " submit " in command:
                    run_id = result.stdout.strip()
                elif " deploy" in command:
                    assert "2 deployment(s): 2 created" in result.stdout, result.stdout
                elif " status " in command:
                    assert ": Completed" in result.stdout and "kg.stats" in result.stdout, result.stdout
            assert worker is not None and run_id is not None
        finally:
            if worker is not None:
                os.killpg(worker.pid, signal.SIGTERM)
                worker.wait(timeout=30)


def test_the_scaling_recipe_runs(tmp_path: Path) -> None:
    """The README's "Scaling out", command by command, on a copy of this repository: a
    `dask scheduler` (on a free port instead of 8786) and a `dask worker` started in the
    project folder, then the flow on them, on a cluster of its own, and on Ray."""
    commands = readme_commands(SCALING)
    assert commands[0] == "pip install 'orchc[dask]'"  # the test environment has both extras
    clone = _tracked_copy(tmp_path / "orchc")
    port = str(free_port())
    env = {**_env(), "PREFECT_HOME": str(tmp_path / "home"), "RAY_USAGE_STATS_ENABLED": "0"}
    env = {key: value for key, value in env.items() if not key.startswith(("PREFECT_API", "ORCHC_"))}
    background = []
    try:
        for command in commands[1:]:
            command = command.replace("8786", port)
            if command.startswith("dask "):
                background.append(subprocess.Popen(command, shell=True, cwd=clone, env=env, stdout=subprocess.DEVNULL,
                                                   stderr=subprocess.DEVNULL, start_new_session=True))
                time.sleep(3)  # the scheduler listens, the worker connects
                continue
            result = subprocess.run(command, shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=600)
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr[-3000:]}"
            assert json.loads(result.stdout)["tickets.store"]["stored"] == 8, result.stdout  # the tickets flow's summary
        assert len(background) == 2
    finally:
        for process in background:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def test_the_readme_snapshot_test_works_on_a_users_project(tmp_path: Path) -> None:
    """The README's syrupy test, copied into a user's project: it records, passes, then
    fails once an operation's options change."""
    block = re.search(r"```python\n(# tests/test_flows_snapshot\.py\n.*?)```", README, flags=re.S).group(1)
    project = tmp_path / "project"
    shutil.copytree(REPO / "tests" / "cases" / "scraping_seed" / "project", project)
    (project / "tests").mkdir()
    (project / "tests" / "test_flows_snapshot.py").write_text(block)

    def pytest_run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args], cwd=project,
                              env={**_env(), "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)

    assert pytest_run("--snapshot-update").returncode == 0
    assert pytest_run().returncode == 0
    ops = project / "scraping" / "ops.py"
    ops.write_text(ops.read_text().replace("retries=3", "retries=4", 1))
    changed = pytest_run()
    assert changed.returncode == 1 and "1 failed" in changed.stdout and "snapshot" in changed.stdout, changed.stdout

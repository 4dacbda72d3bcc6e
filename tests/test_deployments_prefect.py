"""Declared deployments in operation, on a real `prefect server start` (free loopback port,
its own PREFECT_HOME) and a real `prefect worker start`, both stopped by their process
group: deploy → submit → the worker runs it → `status --wait`; a second deploy changes
nothing; `serve` runs a schedule until interrupted; Prefect's own listing shows them."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prefect_server import BIN, prefect_server

# one server and worker for the module: its tests run in order on one test worker
pytestmark = pytest.mark.xdist_group("prefect-deployments")

OPS = '''\
from runtime import operation


@operation(name="etl.load", retries=1)
def load(source: str, limit: int = 3) -> list[int]:
    return [len(source)] * limit


@operation(name="etl.total")
def total(load: list[int]) -> int:
    return sum(load)
'''
PYPROJECT = '''\
[tool.orchc]
sources = ["src"]
out = "orchestration"

[tool.orchc.deployments.manual]
flow = "etl"
parameters = { source = "abc" }
tags = ["test"]
description = "queued by hand"

[tool.orchc.deployments.quick]
flow = "etl"
parameters = { source = "q", limit = 2 }
schedule = { interval = 3 }

[tool.orchc.deployments.on-ray]
flow = "etl"
parameters = { source = "r" }
task_runner = "ray"
'''


def _write_project(root: Path) -> Path:
    (root / "src" / "etl").mkdir(parents=True)
    (root / "src" / "etl" / "__init__.py").write_text("")
    (root / "src" / "etl" / "ops.py").write_text(OPS)
    (root / "pyproject.toml").write_text(PYPROJECT)
    built = subprocess.run([sys.executable, "-m", "compiler", "build"], cwd=root, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    return root


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1", "PREFECT_WORKER_QUERY_SECONDS": "1",
           "PREFECT_RUNNER_POLL_FREQUENCY": "1"}
    env.pop("ORCHC_PROJECT", None)
    with prefect_server(tmp_path_factory.mktemp("prefect-home"), env) as server_env:
        yield server_env


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _write_project(tmp_path_factory.mktemp("deploy-project"))


def _runtime(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "runtime", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)


async def _deployment(env: dict[str, str], name: str):
    from prefect.client.orchestration import PrefectClient

    async with PrefectClient(env["PREFECT_API_URL"]) as client:
        return await client.read_deployment_by_name(name)


@pytest.fixture(scope="module")
def deployed(server: dict[str, str], project: Path) -> subprocess.CompletedProcess:
    done = _runtime(["deploy", "manual"], server, project)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def worker(server: dict[str, str], project: Path, deployed) -> Iterator[subprocess.Popen]:
    log = open(project / "worker.log", "w")
    process = subprocess.Popen([str(BIN / "prefect"), "worker", "start", "--pool", "orchc"], cwd=project, env=server,
                               stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_deploy_creates_the_pool_and_the_deployment_then_changes_nothing(server, project, deployed) -> None:
    assert "created work pool `orchc` (process)" in deployed.stdout
    assert "created deployment `etl/manual`" in deployed.stdout
    first = asyncio.run(_deployment(server, "etl/manual"))
    assert first.entrypoint == "orchestration.etl.etl" and first.work_pool_name == "orchc"
    assert first.parameters == {"source": "abc"} and first.tags == ["test"] and first.description == "queued by hand"
    again = _runtime(["deploy", "manual"], server, project)
    assert again.returncode == 0, again.stderr
    assert "unchanged deployment `etl/manual`" in again.stdout and "nothing changed" in again.stdout
    assert "created" not in again.stdout and "updated" not in again.stdout
    second = asyncio.run(_deployment(server, "etl/manual"))
    assert (second.id, second.updated) == (first.id, first.updated)
    assert first.job_variables == {}


def test_a_deployment_s_task_runner_reaches_its_runs_environment(server, project, deployed) -> None:
    done = _runtime(["deploy", "on-ray"], server, project)
    assert done.returncode == 0, done.stderr
    deployment = asyncio.run(_deployment(server, "etl/on-ray"))
    assert deployment.job_variables == {"env": {"ORCHC_TASK_RUNNER": "ray"}}


def test_a_submitted_run_is_run_by_the_worker_and_reported(server, project, worker) -> None:
    submitted = _runtime(["submit", "manual", "--param", "limit=4", "--json"], server, project)
    assert submitted.returncode == 0, submitted.stderr
    run = json.loads(submitted.stdout)
    assert run["deployment"] == "etl/manual" and run["state"] in ("Scheduled", "Pending")
    assert run["parameters"] == {"source": "abc", "limit": 4}
    elsewhere = project.parent  # status needs no project; with one it lists every operation
    waited = _runtime(["status", run["id"], "--wait", "--timeout", "150", "--json"], server, project)
    assert waited.returncode == 0, waited.stdout + waited.stderr + (project / "worker.log").read_text()
    status = json.loads(waited.stdout)
    assert status["state"] == "Completed" and status["deployment"] == "etl/manual"
    assert [op["operation"] for op in status["operations"]] == ["etl.load", "etl.total"]
    for op in status["operations"]:
        assert op["state"] == "Completed" and op["attempts"] == 1 and op["duration_s"] >= 0
    text = _runtime(["status", run["id"]], server, elsewhere)
    assert text.returncode == 0 and ": Completed" in text.stdout and "etl.total" in text.stdout


def test_a_deployed_run_refuses_to_start_when_the_source_changed(server, project, worker) -> None:
    ops = project / "src" / "etl" / "ops.py"
    original = ops.read_text()
    ops.write_text(original.replace("return sum(load)", "return sum(load) + 1"))
    try:
        submitted = _runtime(["submit", "manual", "--json"], server, project)
        assert submitted.returncode == 0, submitted.stderr
        run_id = json.loads(submitted.stdout)["id"]
        waited = _runtime(["status", run_id, "--wait", "--timeout", "150", "--json"], server, project)
    finally:
        ops.write_text(original)
    assert waited.returncode == 1, waited.stdout + waited.stderr
    status = json.loads(waited.stdout)
    assert status["state"] == "Failed" and "no longer matches the source" in status["message"], status
    assert [op["state"] for op in status["operations"]] == ["NotStarted", "NotStarted"]


def test_prefect_s_own_listing_shows_the_deployment(server, deployed) -> None:
    done = subprocess.run([str(BIN / "prefect"), "deployment", "ls"], env=server, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "etl/manual" in done.stdout


async def _completed_runs(env: dict[str, str], deployment_id: uuid.UUID) -> int:
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.filters import (DeploymentFilter, DeploymentFilterId, FlowRunFilter,
                                                FlowRunFilterState, FlowRunFilterStateType)
    from prefect.client.schemas.objects import StateType

    async with PrefectClient(env["PREFECT_API_URL"]) as client:
        runs = await client.read_flow_runs(
            deployment_filter=DeploymentFilter(id=DeploymentFilterId(any_=[deployment_id])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(type=FlowRunFilterStateType(any_=[StateType.COMPLETED]))))
    return len(runs)


def test_serve_runs_a_schedule_from_any_folder_until_interrupted(server, project, tmp_path) -> None:
    log = open(tmp_path / "serve.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "runtime", "serve", "quick", "--project", str(project)],
                               cwd=tmp_path, env=server, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, completed = time.monotonic() + 300, 0
        while time.monotonic() < deadline and completed < 2:
            time.sleep(2)
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                deployment = asyncio.run(_deployment(server, "etl/quick"))
            except Exception:  # not registered yet
                continue
            completed = asyncio.run(_completed_runs(server, deployment.id))
        assert completed >= 2, (tmp_path / "serve.log").read_text()
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(timeout=60) == 0, (tmp_path / "serve.log").read_text()
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()
    assert "stopped serving 1 deployment(s)" in (tmp_path / "serve.log").read_text()


def test_deploy_refuses_a_project_whose_lock_is_stale(server, tmp_path) -> None:
    stale = _write_project(tmp_path / "stale")
    ops = stale / "src" / "etl" / "ops.py"
    ops.write_text(ops.read_text().replace("return sum(load)", "return sum(load) + 1"))
    done = _runtime(["deploy"], server, stale)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "`orchc check` fails" in done.stderr and "etl.total" in done.stderr and "run `orchc build`" in done.stderr
    ops.write_text(OPS)  # the source as built, but a schedule changed since
    (stale / "pyproject.toml").write_text(PYPROJECT.replace("interval = 3", "interval = 4"))
    done = _runtime(["deploy", "quick"], server, stale)
    assert done.returncode == 1 and "deployment `quick`: schedule every 3 s -> every 4 s" in done.stderr


def test_the_commands_explain_their_mistakes(server, project) -> None:
    unknown = _runtime(["submit", "manul"], server, project)
    assert unknown.returncode == 2 and "unknown deployment `manul`" in unknown.stderr and "did you mean `manual`?" in unknown.stderr
    no_run = _runtime(["status", str(uuid.uuid4())], server, project)
    assert no_run.returncode == 2 and "no flow run" in no_run.stderr
    not_an_id = _runtime(["status", "nope"], server, project)
    assert not_an_id.returncode == 2 and "not a flow-run id" in not_an_id.stderr
    no_api = {key: value for key, value in server.items() if key != "PREFECT_API_URL"}
    offline = _runtime(["deploy"], no_api, project)
    assert offline.returncode == 2 and "PREFECT_API_URL is not set" in offline.stderr and "prefect server start" in offline.stderr
    for done in (unknown, no_run, not_an_id, offline):
        assert "Traceback" not in done.stderr

"""Distributed task runners on real clusters: a `distributed.LocalCluster` of processes, an
external `dask scheduler` with two `dask worker` processes on loopback, the local cluster
the runner starts itself, and a local Ray instance. Flows run through `python -m runtime`
on Prefect's temporary server: operations run in the workers (other pids than the
runner's), a failing operation fails the flow naming it, a retry succeeds on a worker, the
result comes back intact, and the workers never start a Prefect server of their own."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.prefect_server import BIN, free_port, prefect_server

pytestmark = pytest.mark.xdist_group("clusters")  # the clusters are shared by the module's tests

OPS = '''\
import os

from runtime import operation


@operation(name="cpu.where")
def where() -> int:
    return os.getpid()


@operation(name="cpu.proc", executor="process")
def proc() -> int:
    return os.getpid()


@operation(name="cpu.flaky", retries=2, retry_delay_seconds=0)
def flaky(marker: str) -> int:
    if not os.path.exists(marker):  # the first attempt fails, the retry succeeds
        open(marker, "w").close()
        raise RuntimeError("the first attempt fails")
    return os.getpid()


@operation(name="cpu.result")
def result(where: int, proc: int, flaky: int) -> dict:
    return {"pids": [where, proc, flaky, os.getpid()], "nested": {"values": [1, 2.5, "x", None, True]}}


@operation(name="bad.boom")
def boom() -> int:
    raise ValueError("boom on a worker")


@operation(name="slow.sleep", timeout_seconds=1)
def sleep() -> int:
    import time

    time.sleep(3)
    return 1
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("distributed")
    (root / "src" / "cpu").mkdir(parents=True)
    (root / "src" / "cpu" / "__init__.py").write_text("")
    (root / "src" / "cpu" / "ops.py").write_text(OPS)
    (root / "pyproject.toml").write_text('[tool.orchc]\nsources = ["src"]\nout = "orchestration"\ntask_runner = "dask"\n')
    built = subprocess.run([sys.executable, "-m", "compiler", "build"], cwd=root, capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout + built.stderr
    return root


def _env(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PREFECT_API", "ORCHC_"))}
    return {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            "PREFECT_LOGGING_LEVEL": "WARNING", "RAY_USAGE_STATS_ENABLED": "0"}


class Run:
    """One `python -m runtime` run: its process id, exit status and output."""

    def __init__(self, project: Path, home: Path, flow: str, *options: str, marker: Path | None = None,
                 env: dict[str, str] | None = None) -> None:
        args = [sys.executable, "-m", "runtime", flow, *options]
        if marker is not None:
            args += ["--param", f"marker={marker}"]
        process = subprocess.Popen(args, cwd=project, env={**_env(home), **(env or {})}, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        self.stdout, self.stderr = process.communicate(timeout=600)
        self.pid, self.returncode = process.pid, process.returncode

    @property
    def result(self) -> dict:
        assert self.returncode == 0, self.stderr[-4000:]
        return json.loads(self.stdout)


def _check_success(run: Run, marker: Path, worker_pids: set[int] | None) -> None:
    result = run.result
    assert result["nested"] == {"values": [1, 2.5, "x", None, True]}
    pids = set(result["pids"])
    assert run.pid not in pids  # every operation ran in another process
    if worker_pids is not None:
        assert pids <= worker_pids, (pids, worker_pids)  # executor="process" too: in the worker itself
    assert marker.exists()  # the first attempt of `cpu.flaky` ran, failed, and the retry succeeded


def _check_failure(run: Run) -> None:
    assert run.returncode == 1, run.stdout + run.stderr[-4000:]
    assert "error: flow `bad` failed" in run.stderr
    assert "`bad.boom` failed: ValueError: boom on a worker" in run.stderr


def _worker_pids(address: str) -> set[int]:
    from distributed import Client

    with Client(address, timeout=60) as client:
        return set(client.run(os.getpid).values())


@pytest.fixture(scope="module")
def local_cluster() -> Iterator[str]:
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=":0") as cluster:
        yield cluster.scheduler_address


@pytest.fixture(scope="module")
def external_cluster(project: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """`dask scheduler` and two `dask worker` processes started in the project folder."""
    logs = tmp_path_factory.mktemp("dask-logs")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = _env(tmp_path_factory.mktemp("worker-home"))
    commands = [[str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"]]
    commands += [[str(BIN / "dask"), "worker", address, "--host", "127.0.0.1", "--nthreads", "1",
                  "--dashboard-address", ":0", "--name", f"worker-{n}"] for n in (1, 2)]
    processes = []
    try:
        for number, command in enumerate(commands):
            log = open(logs / f"{number}.log", "w")
            processes.append(subprocess.Popen(command, cwd=project, env=env, stdout=log, stderr=subprocess.STDOUT,
                                              start_new_session=True))
            if number == 0:
                time.sleep(2)
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address, logs
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def test_on_a_local_cluster_of_processes(project: Path, local_cluster: str, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    run = Run(project, tmp_path / "home", "cpu", "--dask-address", local_cluster, marker=marker)
    _check_success(run, marker, _worker_pids(local_cluster))
    _check_failure(Run(project, tmp_path / "home", "bad", "--dask-address", local_cluster))


def test_on_an_external_scheduler_with_workers_started_in_the_project(project: Path, external_cluster, tmp_path: Path) -> None:
    address, logs = external_cluster
    marker = tmp_path / "marker"
    run = Run(project, tmp_path / "home", "cpu", marker=marker, env={"ORCHC_DASK_ADDRESS": address})
    _check_success(run, marker, _worker_pids(address))
    _check_failure(Run(project, tmp_path / "home", "bad", "--dask-address", address))
    worker_logs = "".join((logs / f"{n}.log").read_text() for n in (1, 2))
    assert "temporary server" not in worker_logs  # they used the runner's API, not servers of their own


def test_a_timeout_fails_an_operation_on_a_worker(project: Path, local_cluster: str, tmp_path: Path) -> None:
    run = Run(project, tmp_path / "home", "slow", "--dask-address", local_cluster)
    assert run.returncode == 1, run.stderr[-3000:]
    assert "`slow.sleep` failed: TimeoutError: `slow.sleep` did not finish within 1s" in run.stderr


def test_the_run_summary_counts_attempts_made_on_workers(project: Path, local_cluster: str, tmp_path: Path) -> None:
    """On a real server (the artifact outlives the run): the retry made on a worker shows."""
    import httpx

    env = {"PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING", "PATH": os.environ["PATH"]}
    with prefect_server(tmp_path / "server-home", env) as server:
        marker = tmp_path / "marker"
        run = Run(project, tmp_path / "home", "cpu", "--dask-address", local_cluster, marker=marker,
                  env={"PREFECT_API_URL": server["PREFECT_API_URL"]})
        _check_success(run, marker, _worker_pids(local_cluster))
        query = {"artifacts": {"key": {"any_": ["orchc-cpu"]}}, "sort": "CREATED_DESC", "limit": 1}
        response = httpx.post(f"{server['PREFECT_API_URL']}/artifacts/filter", json=query, timeout=30)
        rows = {row["operation"]: row for row in json.loads(response.json()[0]["data"])}
    assert rows["cpu.flaky"]["attempts"] == 2 and rows["cpu.flaky"]["retries"] == 1
    assert {row["state"] for row in rows.values()} == {"Completed"}, rows
    assert all(row["attempts"] == 1 and row["duration_s"] is not None for name, row in rows.items()
               if name != "cpu.flaky"), json.dumps(rows)


def test_without_an_address_the_runner_starts_a_local_cluster(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _check_success(Run(project, tmp_path / "home", "cpu", marker=marker), marker, None)


def test_on_a_local_ray_instance(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    run = Run(project, tmp_path / "home", "cpu", "--task-runner", "ray", marker=marker)
    _check_success(run, marker, None)
    _check_failure(Run(project, tmp_path / "home", "bad", "--task-runner", "ray"))

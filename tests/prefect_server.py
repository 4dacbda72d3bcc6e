"""A real `prefect server start` for the tests that need one outside Prefect's temporary
server: on a free loopback port, with its own PREFECT_HOME, stopped by its process group."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

BIN = Path(sys.executable).parent


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def prefect_server(home: Path, env: dict[str, str]) -> Iterator[dict[str, str]]:
    """`env` plus PREFECT_HOME and PREFECT_API_URL of a healthy server, for its lifetime."""
    port = free_port()
    env = {**env, "PREFECT_HOME": str(home), "PREFECT_SERVER_API_PORT": str(port),
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    server_env = {key: value for key, value in env.items() if key != "PREFECT_API_URL"}
    process = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                               env=server_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    try:
        _wait_healthy(env["PREFECT_API_URL"], process)
        yield env
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def _wait_healthy(url: str, process: subprocess.Popen, seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert process.poll() is None, "prefect server exited early"
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise AssertionError("prefect server did not become healthy")


def newest_artifact(key: str) -> dict:
    """The newest artifact under `key` on the API in use (`PREFECT_API_URL`), as the REST
    endpoint returns it (`type`, `data`...).

    (Prefect 3.8.8's `Artifact.get` and `read_artifacts` send `null` filters the server
    rejects with 422, and explicit empty run filters join the artifacts away, so this asks
    the REST endpoint directly.)
    """
    import httpx
    from prefect.settings import PREFECT_API_URL

    query = {"artifacts": {"key": {"any_": [key]}}, "sort": "CREATED_DESC", "limit": 1}
    response = httpx.post(f"{PREFECT_API_URL.value()}/artifacts/filter", json=query, timeout=30)
    response.raise_for_status()
    artifacts = response.json()
    assert artifacts, f"no artifact {key!r}"
    return artifacts[0]


def newest_task_runs(flow_name: str, expected: set[str] = frozenset(), seconds: float = 60) -> dict[str, dict]:
    """The task runs of flow `flow_name`'s newest run on the API in use, by name, each as
    the REST endpoint returns it (`state` with its `type`, `name` and `message`). The server
    records task runs from events, a moment after they happen: this waits (up to
    `seconds`) until the `expected` names are there and every state is final."""
    import httpx
    from prefect.settings import PREFECT_API_URL

    api = PREFECT_API_URL.value()
    query = {"flows": {"name": {"any_": [flow_name]}}, "sort": "START_TIME_DESC", "limit": 1}
    flow_runs = httpx.post(f"{api}/flow_runs/filter", json=query, timeout=30).json()
    assert flow_runs, f"no run of flow {flow_name!r}"
    query = {"flow_runs": {"id": {"any_": [flow_runs[0]["id"]]}}}
    deadline = time.monotonic() + seconds
    while True:
        task_runs = httpx.post(f"{api}/task_runs/filter", json=query, timeout=30).json()
        runs = {task_run["name"]: task_run for task_run in task_runs}
        final = all(run["state"] and run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
                    for run in runs.values())
        if (final and expected <= runs.keys()) or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)

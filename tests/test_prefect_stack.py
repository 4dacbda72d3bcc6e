"""The Prefect stack orchc's dependency bounds resolve to works as a server: its scheduler
creates the runs of a scheduled deployment, and Prefect's own CLI listings answer. Some
resolutions break both (SQLAlchemy 2.1 breaks the scheduler's bulk insert; FastAPI 0.150+
with pydantic 2.14 turns every listing into a 422), so resolver drift must fail here, not
at a user's. A real `prefect server start` on a free loopback port, stopped by its pid."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A Prefect server whose scheduler looks for work every second; yields its env."""
    port = _free_port()
    env = {**os.environ, "PREFECT_HOME": str(tmp_path_factory.mktemp("prefect-home")),
           "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",
           "PREFECT_API_URL": f"http://127.0.0.1:{port}/api"}
    process = subprocess.Popen([str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1", "--port", str(port)],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
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


async def _scheduled_runs(api_url: str) -> int:
    """Create a deployment scheduled every 10 s, then count the runs the scheduler makes."""
    from prefect.client.orchestration import PrefectClient
    from prefect.client.schemas.actions import DeploymentScheduleCreate
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterId
    from prefect.client.schemas.schedules import IntervalSchedule

    async with PrefectClient(api_url) as client:
        flow_id = await client.create_flow_from_name("stack-check")
        schedule = DeploymentScheduleCreate(schedule=IntervalSchedule(interval=timedelta(seconds=10)))
        deployment = await client.create_deployment(flow_id, "every-ten-seconds", schedules=[schedule])
        only_this = DeploymentFilter(id=DeploymentFilterId(any_=[deployment]))
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            runs = await client.read_flow_runs(deployment_filter=only_this)
            if len(runs) >= 2:
                return len(runs)
            await asyncio.sleep(1)
        return len(await client.read_flow_runs(deployment_filter=only_this))


def test_the_scheduler_creates_the_runs_of_a_scheduled_deployment(server: dict[str, str]) -> None:
    assert asyncio.run(_scheduled_runs(server["PREFECT_API_URL"])) >= 2


@pytest.mark.parametrize("listing", [["deployment", "ls"], ["flow", "ls"], ["flow-run", "ls"], ["work-pool", "ls"]])
def test_prefect_s_own_listings_answer(server: dict[str, str], listing: list[str]) -> None:
    done = subprocess.run([str(BIN / "prefect"), *listing], env=server, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "422" not in done.stdout + done.stderr

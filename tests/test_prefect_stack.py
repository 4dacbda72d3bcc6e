"""The Prefect stack orchc's dependency bounds resolve to works as a server: its scheduler
creates the runs of a scheduled deployment, and Prefect's own CLI listings answer. Some
resolutions break them (under prefect 3.8.8, SQLAlchemy 2.1 broke the scheduler's bulk
insert; FastAPI 0.151+ with pydantic 2.14 turns every listing into a 422), so resolver
drift must fail here, not at a user's. A real `prefect server start` on a free loopback port, stopped by its pid."""

from __future__ import annotations

import asyncio
import os
import subprocess
import time
from datetime import timedelta

import pytest

from tests.prefect_server import BIN, prefect_server

pytestmark = pytest.mark.xdist_group("prefect-stack")  # one server for the module


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    """A Prefect server whose scheduler looks for work every second; yields its env."""
    env = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
           "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1"}
    with prefect_server(tmp_path_factory.mktemp("prefect-home"), env) as server_env:
        yield server_env


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

"""Shared fixtures. The Prefect server is started once per session, and only for the
tests that ask for it (starting one takes 10-15 s)."""

from __future__ import annotations

import os

import pytest

# Set before Prefect is imported anywhere: no network here, and no per-task INFO lines.
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


@pytest.fixture(scope="session")
def prefect_server():
    """A temporary Prefect server (SQLite in a temp folder) shared by the whole session."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


@pytest.fixture(params=["local", "prefect"])
def engine(request):
    """Each engine's name, for tests that run both; the Prefect one on the session's server."""
    if request.param == "prefect":
        request.getfixturevalue("prefect_server")
    return request.param

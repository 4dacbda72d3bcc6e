"""Timeouts that interrupt, on both engines: a timed `executor="process"` operation's own
process is killed at the deadline, and a timed thread operation fails at its deadline
while the flow moves on (its call is abandoned), with no Prefect warning about threads.

No timing is asserted: the spinning process writes its pid, which must be gone once the
run is over; the thread operation would sleep for ten minutes, which the test would not
survive if the run waited for it.
"""

from __future__ import annotations

import os
import sys

import pytest

from runtime import cli
from tests.projects import build_project
from tests.runtime_helpers import isolated_imports  # noqa: F401 - fixture (sys.path restored)

pytestmark = pytest.mark.usefixtures("isolated_imports")  # the projects' folders leave sys.path after each test

SOURCE = '''
    import os, time
    from pathlib import Path
    from runtime import operation

    @operation(name="d.spin", executor="process", timeout_seconds=2)
    def spin() -> int:
        Path(os.environ["ORCHC_TEST_PID"]).write_text(str(os.getpid()))
        while True:
            pass

    @operation(name="d.nap", timeout_seconds=1)
    def nap() -> int:
        time.sleep(600)
        return 1

    @operation(name="d.fine")
    def fine() -> int:
        return 7
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    build_project(tmp_path, "deadline", SOURCE)
    monkeypatch.setenv("ORCHC_TEST_PID", str(tmp_path / "spin.pid"))
    return tmp_path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_a_spinning_process_operation_is_killed_at_its_deadline(project, capsys, engine):
    status = cli.main(["d.spin", "--engine", engine, "--project", str(project), "-q"])
    err = capsys.readouterr().err
    assert status == 1
    assert "`d.spin` did not finish within 2s" in err
    assert not _alive(int((project / "spin.pid").read_text()))


def test_a_sleeping_thread_operation_fails_at_its_deadline_and_the_flow_moves_on(project, engine):
    """In a process of its own: the local engine leaves with `os._exit` while an abandoned
    call still holds a worker thread, which would end the test session too."""
    import subprocess

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    if engine == "prefect":
        from prefect.settings import PREFECT_API_URL

        env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    done = subprocess.run([sys.executable, "-m", "runtime", "d", "--exclude", "d.spin", "--engine", engine,
                           "--project", str(project)], capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 1, done.stderr[-3000:]
    assert "`d.nap` did not finish within 1s" in done.stderr
    assert "d.fine" not in done.stderr.split("failed:")[-1]  # the independent operation completed
    assert "worker thread" not in done.stderr  # Prefect's warning about sync timeouts


def test_the_generated_sync_tasks_leave_the_timeout_to_the_runtime(project):
    text = next(project.glob("gen_*/d.py")).read_text()
    assert '@runtime.task_body("d.spin", executor="process", timeout=2)' in text
    assert '@runtime.task_body("d.nap", timeout=1)' in text
    assert "timeout_seconds" not in text

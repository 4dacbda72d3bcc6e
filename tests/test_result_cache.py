"""`cache=True` means the same in both engines: a run after a failure takes the cached
operation's stored result instead of calling it again (resume), across processes;
`--no-cache` computes it again. A counter file counts the real calls."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.projects import build_project

SOURCE = '''
    import os
    from runtime import operation

    @operation(name="r.expensive", cache=True)
    def expensive(n: int = 2) -> int:
        with open(os.environ["ORCHC_TEST_CALLS"], "a") as calls:
            calls.write("x")
        return n * 10

    @operation(name="r.flaky")
    def flaky(expensive: int) -> int:
        if os.path.exists(os.environ["ORCHC_TEST_FAIL"]):
            raise RuntimeError("the downstream step is broken")
        return expensive + 1

    @operation(name="u.unstorable", cache=True)
    def unstorable() -> object:
        import threading
        return threading.Lock()

    @operation(name="l.local_function", cache=True)
    def local_function() -> object:
        return lambda: 1  # cloudpickle stores it, as Prefect's results do
'''


@pytest.fixture
def project(tmp_path):
    return build_project(tmp_path, "cached", SOURCE)[0]


def _runner(project: Path, engine: str):
    env = {**os.environ, "PREFECT_TASKS_REFRESH_CACHE": "false",  # whatever an earlier test left
           "PYTHONPATH": os.pathsep.join(sys.path), "ORCHC_TEST_CALLS": str(project / "calls"),
           "ORCHC_TEST_FAIL": str(project / "fail"), "PREFECT_LOCAL_STORAGE_PATH": str(project / "prefect-results")}
    if engine == "prefect":
        from prefect.settings import PREFECT_API_URL

        env["PREFECT_API_URL"] = PREFECT_API_URL.value()

    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "runtime", *argv, "--engine", engine, "--project", str(project)],
                              capture_output=True, text=True, timeout=600, env=env)

    return run


def _calls(project: Path) -> int:
    path = project / "calls"
    return len(path.read_text()) if path.exists() else 0


def test_resume_after_a_failure_takes_the_cached_result(project, engine):
    run = _runner(project, engine)
    (project / "fail").write_text("")
    failed = run("r")
    assert failed.returncode == 1 and "the downstream step is broken" in failed.stderr
    assert _calls(project) == 1
    (project / "fail").unlink()
    resumed = run("r")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert json.loads(resumed.stdout) == 21
    assert _calls(project) == 1  # the fix did not redo the expensive step
    again = run("r", "--no-cache")
    assert again.returncode == 0 and json.loads(again.stdout) == 21
    assert _calls(project) == 2  # --no-cache computed it again
    changed = run("r", "--param", "n=3")
    assert json.loads(changed.stdout) == 31 and _calls(project) == 3  # other inputs miss


def test_the_local_store_is_ignored_by_git(project):
    run = _runner(project, "local")
    assert run("r").returncode == 0
    assert (project / ".orchc_cache" / "results" / ".gitignore").read_text() == "*\n"


def test_a_result_that_cannot_be_stored_fails_naming_the_operation(project, engine):
    run = _runner(project, engine)
    refused = run("u")
    assert refused.returncode == 1
    assert "`u.unstorable` failed: " in refused.stderr
    assert "`u.unstorable` is cached but its result cannot be stored" in refused.stderr
    assert run("l").returncode == 0


def test_a_planted_entry_is_never_unpickled(project):
    """Entries are authenticated with the per-user secret: one copied or committed into
    the project (any bytes, a malicious pickle) is a miss, and the operation runs."""
    run = _runner(project, "local")
    assert run("r").returncode == 0 and _calls(project) == 1
    folder = project / ".orchc_cache" / "results"
    for entry in folder.iterdir():
        if entry.name != ".gitignore":
            mac, _, data = entry.read_bytes().partition(b"\n")
            entry.write_bytes(mac + b"\n" + data.replace(b"\x14", b"\x1e"))  # 20 -> 30
    resumed = run("r")
    assert json.loads(resumed.stdout) == 21 and _calls(project) == 2


def test_cache_version_and_expiration_are_part_of_the_meaning(project, engine):
    """A new `cache_version` misses what earlier runs stored (as any edit of the decorator
    does: it is part of the source hash); a result older than `cache_expiration_seconds`
    is computed again."""
    import time

    from compiler.api import build

    ops = next((project / "src").glob("cached_*/ops.py"))
    run = _runner(project, engine)
    assert run("r").returncode == 0 and _calls(project) == 1
    ops.write_text(ops.read_text().replace('@operation(name="r.expensive", cache=True)',
                                           '@operation(name="r.expensive", cache=True, cache_version=2)'))
    build(project)
    assert run("r").returncode == 0 and _calls(project) == 2  # the new version missed
    assert run("r").returncode == 0 and _calls(project) == 2  # and then hit
    ops.write_text(ops.read_text().replace("cache_version=2)", "cache_version=2, cache_expiration_seconds=0.5)"))
    build(project)
    assert run("r").returncode == 0 and _calls(project) == 3
    time.sleep(0.6)  # not a timing assertion: only past the expiration
    assert run("r").returncode == 0 and _calls(project) == 4  # the stored result had expired

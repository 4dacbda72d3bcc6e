"""The Prefect engine end to end: generated modules run on a real (shared) Prefect server.

Concurrency is proven without timing: sibling operations meet at a barrier (threads) or a
rendezvous (async) that only opens when all of them are running at once.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from compiler.codegen.modules import generate
from compiler.lock.lockfile import LockFile, dumps
from runtime.errors import FlowFailed
from tests.lockkit import edge, flow_param, lock, op, param
from tests.prefect_server import newest_artifact

pytestmark = pytest.mark.usefixtures("prefect_server")

RENDEZVOUS = '''
import asyncio, threading, time
_arrived = 0
_arrived_lock = threading.Lock()

async def rendezvous(n):
    """Return once `n` callers are inside at the same time (fail after 60 s)."""
    global _arrived
    with _arrived_lock:
        _arrived += 1
    deadline = time.monotonic() + 60
    while _arrived < n:
        if time.monotonic() > deadline:
            raise TimeoutError("the async siblings did not run concurrently")
        await asyncio.sleep(0.01)
'''


def _project(tmp_path: Path, source: str, make_lock) -> tuple[Path, LockFile]:
    """Write a user module, its lock and the generated package; names are unique per test
    because Python caches imported modules for the whole session."""
    stem = "".join(c if c.isalnum() else "_" for c in tmp_path.name)
    module, package = f"ops_{stem}", f"gen_{stem}"
    (tmp_path / f"{module}.py").write_text(textwrap.dedent(source))
    the_lock = make_lock(module, package)
    (tmp_path / "flows.lock").write_text(dumps(the_lock))
    for generated in generate(the_lock):
        path = tmp_path / generated.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(generated.text)
    return tmp_path, the_lock


def _run(root: Path, flow: str, params: dict | None = None):
    from runtime.prefect_engine import run_flow
    from runtime.registry import Registry

    return run_flow(Registry.load(root), flow, params or {})


def _artifact_rows(key: str) -> list[dict]:
    """The rows of the newest table artifact under `key`, read back through the Prefect API."""
    artifact = newest_artifact(key)
    assert artifact["type"] == "table", f"no table artifact {key!r}"
    return json.loads(artifact["data"])


def test_results_process_executor_and_artifact(tmp_path):
    source = """
        import os
        def load(day, scale=len("ab")): return [day] * scale
        async def double(rows): return rows + rows
        def count(rows): return len(rows)
        def pid(): return os.getpid()
    """

    def make(module, package):
        ops = [
            op("shop.load", (param("day", "str"), param("scale", "int", 'len("ab")')), module=module, function="load"),
            op("shop.double", (param("rows"),), module=module, function="double", is_async=True),
            op("shop.count", (param("rows"),), module=module, function="count"),
            op("shop.pid", module=module, function="pid", executor="process"),
        ]
        edges = [edge("shop.load", "shop.double", "rows"), edge("shop.double", "shop.count", "rows")]
        params = [flow_param("day", ["shop.load"], "str"), flow_param("scale", ["shop.load"], "int", False, 'len("ab")')]
        members = ["shop.load", "shop.pid", "shop.double", "shop.count"]
        return lock(ops, edges, [{"name": "shop", "operations": members, "sinks": ["shop.count", "shop.pid"],
                                  "params": params}], out=package, package=package)

    root, _ = _project(tmp_path, source, make)
    result = _run(root, "shop", {"day": "mon"})
    assert result["shop.count"] == 4  # the non-literal default `len("ab")` applied
    assert result["shop.pid"] != os.getpid()  # executor="process" ran in another process
    assert _run(root, "shop", {"day": "tue", "scale": 1})["shop.count"] == 2
    rows = _artifact_rows("orchc-shop")
    assert sorted(row["operation"] for row in rows) == ["shop.count", "shop.double", "shop.load", "shop.pid"]
    assert {row["state"] for row in rows} == {"Completed"}
    assert all(row["attempts"] == 1 and row["duration_s"] is not None for row in rows)


def test_siblings_run_concurrently(tmp_path):
    source = RENDEZVOUS + """
import threading
barrier = threading.Barrier(3, timeout=60)
fast_done = threading.Event()

def sync_sibling(): barrier.wait(); return "s"
async def async_sibling(): await rendezvous(3); return "a"
def join(a, b, c, d, e, f): return a + b + c + d + e + f

def slow():
    # waits for the end of the fast chain: a slow branch that delayed it would never finish
    if not fast_done.wait(60): raise TimeoutError("the fast branch was delayed by the slow one")
    return "slow"
def fast1(): return 1
def fast2(x): fast_done.set(); return x + 1
"""

    def make(module, package):
        ops = [op(f"par.s{i}", module=module, function="sync_sibling") for i in range(3)]
        ops += [op(f"par.a{i}", module=module, function="async_sibling", is_async=True) for i in range(3)]
        ops.append(op("par.join", tuple(param(p) for p in "abcdef"), module=module, function="join"))
        ops += [op("race.slow", module=module, function="slow"), op("race.fast1", module=module, function="fast1"),
                op("race.fast2", (param("x"),), module=module, function="fast2")]
        sources = [f"par.s{i}" for i in range(3)] + [f"par.a{i}" for i in range(3)]
        edges = [edge(s, "par.join", p) for s, p in zip(sources, "abcdef")] + [edge("race.fast1", "race.fast2", "x")]
        flows = [{"name": "par", "operations": [*sorted(sources), "par.join"], "sinks": ["par.join"]},
                 {"name": "race", "operations": ["race.fast1", "race.fast2", "race.slow"],
                  "sinks": ["race.fast2", "race.slow"]}]
        return lock(ops, edges, flows, out=package, package=package)

    root, _ = _project(tmp_path, source, make)
    assert _run(root, "par") == "sssaaa"
    assert _run(root, "race") == {"race.fast2": 2, "race.slow": "slow"}


def test_retries_timeout_and_failure_isolation(tmp_path):
    source = f"""
        import asyncio
        from pathlib import Path
        calls = []
        def flaky():
            calls.append(1)
            if len(calls) < 3: raise RuntimeError("not yet")
            return len(calls)
        async def hangs(): await asyncio.sleep(30)
        def boom(): raise ValueError("kaboom")
        def after(x): return x
        def independent(): Path({str(tmp_path / "independent.txt")!r}).write_text("done"); return "ok"
    """

    def make(module, package):
        ops = [
            op("job.flaky", module=module, function="flaky", retries=2),
            op("job.hangs", module=module, function="hangs", is_async=True, timeout_seconds=0.5),
            op("job.boom", module=module, function="boom"),
            op("job.after", (param("x"),), module=module, function="after"),
            op("job.independent", module=module, function="independent"),
        ]
        members = ["job.boom", "job.flaky", "job.hangs", "job.after", "job.independent"]
        edges = [edge("job.boom", "job.after", "x")]
        return lock(ops, edges, [{"name": "job", "operations": members,
                                  "sinks": ["job.after", "job.flaky", "job.independent"]}],
                    out=package, package=package)

    root, _ = _project(tmp_path, source, make)
    with pytest.raises(FlowFailed) as caught:
        _run(root, "job")
    error = caught.value
    assert sorted(error.failures) == ["job.boom", "job.hangs"]
    assert error.failures["job.boom"] == "ValueError: kaboom"
    assert "job.boom" in str(error) and "job.hangs" in str(error)
    assert error.skipped == ["job.after"]
    assert (tmp_path / "independent.txt").read_text() == "done"
    rows = {row["operation"]: row for row in _artifact_rows("orchc-job")}
    assert rows["job.flaky"]["state"] == "Completed" and rows["job.flaky"]["attempts"] == 3
    assert rows["job.hangs"]["state"] == "TimedOut"
    assert rows["job.after"]["state"] == "Skipped"


def test_a_deployment_run_validates_its_json_parameters_against_the_real_annotations(tmp_path):
    """A run that did not come through `python -m runtime` (a worker's: values arrive as
    JSON) converts and checks its parameters against the operations' annotations; the
    generated flows leave Prefect's own validation off (it knows builtin annotations only)."""
    import subprocess
    import sys

    from compiler.api import build

    (tmp_path / "src" / "deploy_vals").mkdir(parents=True)
    (tmp_path / "src" / "deploy_vals" / "__init__.py").write_text("")
    (tmp_path / "src" / "deploy_vals" / "ops.py").write_text(textwrap.dedent('''
        import datetime
        from runtime import operation

        @operation(name="vals.show")
        def show(day: datetime.date, labels: set[str], count: int) -> str:
            return f"{day.isoformat()} {sorted(labels)} {count + 1}"
    '''))
    (tmp_path / "pyproject.toml").write_text('[tool.orchc]\nsources = ["src"]\nout = "gen_vals"\n')
    assert "gen_vals/vals.py" in build(tmp_path).written
    assert "validate_parameters=False" in (tmp_path / "gen_vals" / "vals.py").read_text()
    code = textwrap.dedent('''
        import asyncio, json, sys
        from gen_vals.vals import vals
        try:
            print(json.dumps(asyncio.run(vals(**json.loads(sys.argv[1])))))
        except Exception as error:
            print("ERROR", error)
    ''')
    env = {**os.environ, "ORCHC_PROJECT": str(tmp_path), "PYTHONPATH": str(tmp_path)}

    def run(values: dict) -> str:
        done = subprocess.run([sys.executable, "-c", code, json.dumps(values)], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        output = done.stdout.strip()
        return output[output.index("ERROR"):] if "ERROR" in output else output.splitlines()[-1]

    assert run({"day": "2026-12-02", "labels": ["b", "a", "b"], "count": 1}) == '"2026-12-02 [\'a\', \'b\'] 2"'
    refused = run({"day": "2026-12-02", "labels": [], "count": "many"})
    assert refused.startswith("ERROR flow `vals`: bad parameters"), refused
    assert "`count` expects `int`" in refused

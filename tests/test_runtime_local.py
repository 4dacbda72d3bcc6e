"""The local engine: concurrency, arguments, retries, timeouts, failure isolation, results.

Concurrency is proven by rendezvous, never by timing: sibling operations meet at a
barrier that only opens when all of them are running at once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from runtime.errors import FlowFailed, RuntimeUsageError
from runtime.local import RunReport, _delay, run_flow_sync
from tests.runtime_helpers import isolated_imports, make_project  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("isolated_imports")
REPO = Path(__file__).resolve().parents[1]


def run(project, flow, params=None):
    report = RunReport(flow)
    return run_flow_sync(project.registry, flow, params or {}, report), report


# -- concurrency ----------------------------------------------------------------------------

SYNC_SIBLINGS = """
    import threading
    from runtime import operation

    BARRIER = threading.Barrier(3, timeout=10)

    def meet(value):
        BARRIER.wait()  # raises BrokenBarrierError unless all three run at once
        return value

    @operation(name="g.a")
    def a() -> int:
        return meet(1)

    @operation(name="g.b")
    def b() -> int:
        return meet(2)

    @operation(name="g.c")
    def c() -> int:
        return meet(3)

    @operation(name="g.total")
    def total(a: int, b: int, c: int) -> int:
        return a + b + c
"""


def test_sync_siblings_run_concurrently_in_threads(tmp_path):
    ops = {"g.a": "a", "g.b": "b", "g.c": "c", "g.total": "total"}
    edges = [("g.a", "g.total", "a"), ("g.b", "g.total", "b"), ("g.c", "g.total", "c")]
    project = make_project(tmp_path, SYNC_SIBLINGS, ops, edges, ["g"])
    result, report = run(project, "g")
    assert result == 6
    assert report.names("completed") == project.registry.lock.flow("g").operations


def test_sync_siblings_stay_concurrent_on_later_runs(tmp_path):
    """Quick sync calls move to the loop's thread on later runs; calls that take time (a
    barrier waits for all three) keep running at once in threads, run after run."""
    ops = {"g.a": "a", "g.b": "b", "g.c": "c", "g.total": "total"}
    edges = [("g.a", "g.total", "a"), ("g.b", "g.total", "b"), ("g.c", "g.total", "c")]
    project = make_project(tmp_path, SYNC_SIBLINGS, ops, edges, ["g"])
    for _ in range(3):
        result, report = run(project, "g")
        assert result == 6 and report.names("completed") == project.registry.lock.flow("g").operations


NESTED_LOOP = """
    import asyncio
    import threading
    from runtime import operation

    async def fetch(value):
        await asyncio.sleep(0)
        return value

    @operation(name="n.head")
    def head() -> int:
        return asyncio.run(fetch(1))  # sync code running its own event loop

    @operation(name="n.left")
    def left(head: int) -> int:
        return asyncio.run(fetch(head + 1))

    @operation(name="n.right")
    def right(head: int) -> int:
        return head + 2

    @operation(name="n.join")
    def join(left: int, right: int) -> int:
        return asyncio.run(fetch(left + right))
"""


def test_sync_operations_may_run_their_own_event_loop_on_every_run(tmp_path):
    ops = {"n.head": "head", "n.left": "left", "n.right": "right", "n.join": "join"}
    edges = [("n.head", "n.left", "head"), ("n.head", "n.right", "head"), ("n.left", "n.join", "left"),
             ("n.right", "n.join", "right")]
    project = make_project(tmp_path, NESTED_LOOP, ops, edges, ["n"])
    for _ in range(3):  # the first run uses threads for the siblings, later ones the loop's thread
        result, report = run(project, "n")
        assert result == 5, report.failures


def test_thread_pool_is_sized_to_the_flow_not_asyncio_default(tmp_path):
    width = 12  # more than asyncio's default executor offers on a small machine
    source = "import threading\nfrom runtime import operation\n"
    source += f"BARRIER = threading.Barrier({width}, timeout=10)\n"
    for i in range(width):
        source += f"@operation(name='w.op{i}')\ndef op{i}() -> int:\n    BARRIER.wait()\n    return {i}\n"
    project = make_project(tmp_path, source, {f"w.op{i}": f"op{i}" for i in range(width)}, [], ["w"])
    result, _ = run(project, "w")
    assert result == {f"w.op{i}": i for i in range(width)}


ASYNC_SIBLINGS = """
    import asyncio
    from runtime import operation

    ARRIVED = []
    ALL_HERE = asyncio.Event()

    async def meet(value):
        ARRIVED.append(value)
        if len(ARRIVED) == 2:
            ALL_HERE.set()
        await asyncio.wait_for(ALL_HERE.wait(), 10)
        return value

    @operation(name="g.left")
    async def left() -> str:
        return await meet("L")

    @operation(name="g.right")
    async def right() -> str:
        return await meet("R")

    @operation(name="g.join")
    async def join(left: str, right: str) -> str:
        return left + right
"""


def test_async_siblings_run_concurrently(tmp_path):
    ops = {"g.left": "left", "g.right": "right", "g.join": "join"}
    edges = [("g.left", "g.join", "left"), ("g.right", "g.join", "right")]
    project = make_project(tmp_path, ASYNC_SIBLINGS, ops, edges, ["g"])
    assert run(project, "g")[0] == "LR"


BRANCHES = """
    import asyncio
    import threading
    from runtime import operation

    RELEASE_SLOW = threading.Event()
    FAST_DONE = threading.Event()

    @operation(name="g.slow.fetch")
    def slow_fetch() -> str:
        assert RELEASE_SLOW.wait(20), "the test never released the slow branch"
        return "slow"

    @operation(name="g.slow.finish")
    def slow_finish(fetch: str) -> str:
        return fetch + "!"

    @operation(name="g.fast.fetch")
    async def fast_fetch() -> str:
        await asyncio.sleep(0)
        return "fast"

    @operation(name="g.fast.finish")
    def fast_finish(fetch: str) -> str:
        FAST_DONE.set()
        return fetch + "!"
"""


def test_slow_branch_does_not_delay_an_independent_fast_one(tmp_path):
    ops = {"g.slow.fetch": "slow_fetch", "g.slow.finish": "slow_finish",
           "g.fast.fetch": "fast_fetch", "g.fast.finish": "fast_finish"}
    edges = [("g.slow.fetch", "g.slow.finish", "fetch"), ("g.fast.fetch", "g.fast.finish", "fetch")]
    project = make_project(tmp_path, BRANCHES, ops, edges, ["g"])
    module = project.module
    report = RunReport("g")
    outcome = {}
    runner = threading.Thread(target=lambda: outcome.update(
        result=run_flow_sync(project.registry, "g", {}, report)))
    runner.start()
    try:
        assert module.FAST_DONE.wait(10), "the fast branch waited for the slow one"
        assert report.operations["g.fast.finish"].state in ("running", "completed")
        assert report.operations["g.slow.fetch"].state == "running"
        assert report.operations["g.slow.finish"].state == "pending"
    finally:
        module.RELEASE_SLOW.set()
        runner.join(20)
    assert outcome["result"] == {"g.fast.finish": "fast!", "g.slow.finish": "slow!"}


# -- arguments, results, sync and async ---------------------------------------------------

MIXED = """
    import asyncio
    from runtime import operation

    @operation(name="m.load")
    async def load(source: str, limit: int = 3) -> list[int]:
        await asyncio.sleep(0)
        return list(range(limit))

    @operation(name="m.scale")
    def scale(load: list[int], factor: int) -> list[int]:
        return [x * factor for x in load]

    @operation(name="m.report")
    async def report(scale: list[int], source: str) -> str:
        return f"{source}: {sum(scale)}"

    @operation(name="m.audit")
    def audit(scale: list[int]) -> int:
        return len(scale)
"""
MIXED_OPS = {"m.load": "load", "m.scale": "scale", "m.report": "report", "m.audit": "audit"}
MIXED_EDGES = [("m.load", "m.scale", "load"), ("m.scale", "m.report", "scale"), ("m.scale", "m.audit", "scale")]


def test_mixed_sync_async_chain_with_flow_params_and_several_sinks(tmp_path):
    project = make_project(tmp_path, MIXED, MIXED_OPS, MIXED_EDGES, ["m", "m.report"])
    result, report = run(project, "m", {"source": "db", "factor": 10})
    # `limit` not given and not required: load's own default (3) applies
    assert result == {"m.audit": 3, "m.report": "db: 30"}
    assert all(r.attempts == 1 and r.state == "completed" for r in report.operations.values())


def test_single_sink_returns_its_value_and_flow_params_reach_every_consumer(tmp_path):
    project = make_project(tmp_path, MIXED, MIXED_OPS, MIXED_EDGES, ["m.report"])
    flow = project.registry.lock.flow("m.report")
    assert {p.name: p.required for p in flow.params} == {"factor": True, "limit": False, "source": True}
    result, _ = run(project, "m.report", {"source": "api", "factor": 2, "limit": 5})
    assert result == "api: 20"


def test_unknown_and_missing_params_are_usage_errors(tmp_path):
    project = make_project(tmp_path, MIXED, MIXED_OPS, MIXED_EDGES, ["m"])
    with pytest.raises(RuntimeUsageError) as error:
        run(project, "m", {"sauce": "x"})
    assert "`sauce`" in error.value.message and "`factor`" in error.value.message
    assert "`source`" in error.value.message
    with pytest.raises(RuntimeUsageError, match="unknown flow `mm`"):
        run(project, "mm")


DEPENDS_ON = """
    from runtime import operation

    EVENTS = []

    @operation(name="d.setup")
    def setup() -> None:
        EVENTS.append("setup")

    @operation(name="d.work", depends_on="d.setup")
    def work() -> str:
        EVENTS.append("work")
        return "done"
"""


def test_depends_on_orders_without_passing_data(tmp_path):
    project = make_project(tmp_path, DEPENDS_ON, {"d.setup": "setup", "d.work": "work"},
                           [("d.setup", "d.work", None)], ["d"])
    assert run(project, "d")[0] == "done"
    assert project.module.EVENTS == ["setup", "work"]


# -- retries, timeouts, failures ----------------------------------------------------------

FLAKY = """
    from runtime import operation

    CALLS = []

    @operation(name="r.flaky", retries=2, retry_delay_seconds=[0, 0.01])
    def flaky() -> str:
        CALLS.append(1)
        if len(CALLS) < 3:
            raise ConnectionError(f"attempt {len(CALLS)}")
        return "ok"

    @operation(name="r.hopeless", retries=1)
    async def hopeless() -> str:
        raise ValueError("never works")
"""


def test_retries_until_success_and_records_attempts(tmp_path):
    project = make_project(tmp_path, FLAKY, {
        "r.flaky": ("flaky", {"retries": 2, "retry_delay_seconds": [0, 0.01]}),
        "r.hopeless": ("hopeless", {"retries": 1})}, [], ["r.flaky", "r.hopeless"])
    result, report = run(project, "r.flaky")
    assert result == "ok"
    assert report.operations["r.flaky"].attempts == 3
    assert report.operations["r.flaky"].state == "completed"
    with pytest.raises(FlowFailed) as failed:
        run(project, "r.hopeless")
    assert failed.value.failures == {"r.hopeless": "ValueError: never works"}
    assert failed.value.report.operations["r.hopeless"].attempts == 2


@pytest.mark.parametrize(("delays", "expected"), [
    (5, [5, 5, 5]), ([1, 2], [1, 2, 2]), ([], [0, 0, 0]), (0.5, [0.5, 0.5, 0.5])])
def test_retry_delay_per_retry_with_the_last_repeated(delays, expected):
    from compiler.lock.lockfile import LockOperation
    op = LockOperation(name="x", module="m", function="f", file="m.py", line=1, column=1,
                       is_async=False, source_hash="h", retry_delay_seconds=delays)
    assert [_delay(op, retry) for retry in range(3)] == expected


TIMEOUTS = """
    import asyncio
    import threading
    from runtime import operation

    RELEASE = threading.Event()

    @operation(name="t.stuck_sync")
    def stuck_sync() -> str:
        RELEASE.wait(20)
        return "late"

    @operation(name="t.stuck_async")
    async def stuck_async() -> str:
        await asyncio.sleep(20)
        return "late"

    @operation(name="t.quick")
    def quick() -> str:
        return "quick"
"""


def test_timeouts_fail_sync_and_async_operations(tmp_path):
    project = make_project(tmp_path, TIMEOUTS, {
        "t.stuck_sync": ("stuck_sync", {"timeout_seconds": 0.2}),
        "t.stuck_async": ("stuck_async", {"timeout_seconds": 0.2}),
        "t.quick": "quick"}, [], ["t"])
    try:
        with pytest.raises(FlowFailed) as failed:
            run(project, "t")
    finally:
        project.module.RELEASE.set()  # free the abandoned worker thread
    failures = failed.value.failures
    assert set(failures) == {"t.stuck_sync", "t.stuck_async"}
    assert all(error.startswith("TimeoutError: ") and "0.2s" in error for error in failures.values())
    report = failed.value.report
    assert report.operations["t.quick"].state == "completed"
    assert report.abandoned == 1  # the sync call could not be stopped


ISOLATION = """
    from runtime import operation

    @operation(name="f.extract")
    def extract() -> int:
        raise ValueError("bad row 7")

    @operation(name="f.transform")
    def transform(extract: int) -> int:
        raise AssertionError("must not run")

    @operation(name="f.publish", depends_on="f.transform")
    def publish() -> None:
        raise AssertionError("must not run")

    @operation(name="f.side")
    async def side() -> str:
        return "fine"
"""


def test_failure_skips_downstream_and_independent_branches_finish(tmp_path):
    project = make_project(tmp_path, ISOLATION, {
        "f.extract": "extract", "f.transform": "transform", "f.publish": "publish", "f.side": "side"},
        [("f.extract", "f.transform", "extract"), ("f.transform", "f.publish", None)], ["f"])
    with pytest.raises(FlowFailed) as failed:
        run(project, "f")
    error = failed.value
    assert error.failures == {"f.extract": "ValueError: bad row 7"}
    assert sorted(error.skipped) == ["f.publish", "f.transform"]
    assert error.report.operations["f.side"].state == "completed"
    assert "`f.extract` failed: ValueError: bad row 7" in str(error)
    assert error.exit_code == 1


# -- process executor ---------------------------------------------------------------------

PROCESSES = """
    import os
    from runtime import operation

    @operation(name="p.crunch", executor="process")
    def crunch(n: int) -> dict:
        return {"pid": os.getpid(), "sum": sum(i * i for i in range(n))}

    @operation(name="p.local")
    def local() -> int:
        return os.getpid()
"""


def test_process_executor_runs_in_another_process(tmp_path):
    project = make_project(tmp_path, PROCESSES, {
        "p.crunch": ("crunch", {"executor": "process"}), "p.local": "local"}, [], ["p"])
    result, _ = run(project, "p", {"n": 1000})
    assert result["p.crunch"]["sum"] == sum(i * i for i in range(1000))
    assert result["p.crunch"]["pid"] != os.getpid()
    assert result["p.local"] == os.getpid()


# -- no Prefect -----------------------------------------------------------------------------


def test_local_engine_never_imports_prefect(tmp_path):
    project = make_project(tmp_path, MIXED, MIXED_OPS, MIXED_EDGES, ["m"])
    script = textwrap.dedent(f"""
        import sys
        from pathlib import Path
        from runtime.local import run_flow_sync
        from runtime.registry import Registry
        result = run_flow_sync(Registry.load(Path({str(project.root)!r})), "m", {{"source": "x", "factor": 1}})
        assert result == {{"m.audit": 3, "m.report": "x: 3"}}, result
        leaked = sorted(m for m in sys.modules if m == "prefect" or m.startswith("prefect."))
        print("LEAKED" if leaked else "CLEAN", leaked[:3])
    """)
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("CLEAN"), done.stdout

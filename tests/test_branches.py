"""Conditions (`when`), skips and fan-out (`map`) mean the same in both engines: what
runs, what is passed, what each run reports, and, under Prefect, the final state of every
task run (a skip is a task run that ended `Skipped`, never one left pending)."""

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

    @operation(name="h.hosts")
    def hosts(names: str = "a,b,c") -> list[str]:
        return [name for name in names.split(",") if name]

    @operation(name="h.check", map="host", inputs={"host": "h.hosts"}, retries=1)
    def check(host: str, down: str = "", flaky: str = "") -> bool:
        """Whether `host` is up; a host in `flaky` fails its first probe."""
        marker = os.path.join(os.environ["ORCHC_TEST_DIR"], "probed-" + host)
        if host in flaky.split(",") and not os.path.exists(marker):
            open(marker, "w").close()
            raise ConnectionError(host + " timed out")
        return host not in down.split(",")

    @operation(name="h.any_down")
    def any_down(check: list[bool]) -> bool:
        return not all(check)

    @operation(name="h.restart", when="h.any_down")
    def restart(hosts: list[str], check: list[bool]) -> list[str]:
        return [host for host, up in zip(hosts, check) if not up]

    @operation(name="h.verify")
    def verify(restart: list[str] | None) -> str:
        return "nothing to restart" if restart is None else "restarted " + ",".join(restart)

    @operation(name="h.strict")
    def strict(restart: list[str]) -> int:
        return len(restart)

    @operation(name="h.cleanup", depends_on="h.restart")
    def cleanup() -> str:
        return "cleaned"

    @operation(name="h.calm", when="not h.any_down")
    def calm() -> str:
        return "all up"

    @operation(name="z.pairs", map=["a", "b"])
    def pairs(a: int, b: int) -> int:
        return a * b

    @operation(name="z.double", map="pairs")
    def double(pairs: int) -> int:
        return pairs * 2

    @operation(name="f.boom")
    def boom() -> int:
        raise RuntimeError("boom")

    @operation(name="f.after")
    def after(boom: int) -> int:
        return boom

    @operation(name="f.later", depends_on="f.after")
    def later() -> int:
        return 1

    @operation(name="m.word")
    def word(kind: str = "str") -> list[str]:
        return {"str": "abc", "tuple": ("a", "b")}[kind]  # not the list its annotation promises

    @operation(name="m.each", map="word")
    def each(word: str) -> str:
        return word

    @operation(name="r.bad", map="host", inputs={"host": "h.hosts"}, retries=1)
    def bad(host: str) -> str:
        raise ValueError("bad " + host)

    @operation(name="g.flag")
    def flag() -> bool:
        return False

    @operation(name="g.maybe", when="g.flag")
    def maybe() -> bool:
        return True

    @operation(name="g.on_maybe", when="g.maybe")
    def on_maybe() -> str:
        return "ran"
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return build_project(tmp_path_factory.mktemp("branches"), "branches", SOURCE)[0]


def _run(project: Path, engine: str, *argv: str) -> tuple[subprocess.CompletedProcess, dict]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "ORCHC_TEST_DIR": str(project)}
    if engine == "prefect":
        from prefect.settings import PREFECT_API_URL

        env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    summary = project / f"summary-{engine}.json"
    summary.unlink(missing_ok=True)
    result = subprocess.run([sys.executable, "-m", "runtime", *argv, "--engine", engine, "--project", str(project),
                             "--summary", str(summary)], capture_output=True, text=True, timeout=600, env=env)
    rows = {row["operation"]: row for row in json.loads(summary.read_text())["operations"]} if summary.exists() else {}
    return result, rows


def _task_runs(engine: str, flow: str, expected: set[str] = frozenset()) -> dict[str, dict]:
    """Under Prefect, the newest run's task runs (with the `expected` names): every one in a final state."""
    if engine != "prefect":
        return {}
    from tests.prefect_server import newest_task_runs

    runs = newest_task_runs(flow, expected)
    states = {name: (run["state"]["type"], run["state"]["name"]) for name, run in runs.items()}
    assert all(kind in ("COMPLETED", "FAILED", "CRASHED") for kind, _ in states.values()), states
    return runs


def _status(project: Path, run_id: str) -> dict[str, dict]:
    """`python -m runtime status RUN_ID --json`'s rows, by operation."""
    from prefect.settings import PREFECT_API_URL

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PREFECT_API_URL": PREFECT_API_URL.value()}
    shown = subprocess.run([sys.executable, "-m", "runtime", "status", run_id, "--json", "--project", str(project)],
                           capture_output=True, text=True, timeout=120, env=env)
    assert shown.returncode == 0, shown.stderr
    return {row["operation"]: row for row in json.loads(shown.stdout)["operations"]}


def test_all_up_skips_the_restart_and_verify_runs_with_none(project, engine):
    result, rows = _run(project, engine, "h")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {"h.calm": "all up", "h.cleanup": "cleaned", "h.strict": None,
                                         "h.verify": "nothing to restart"}
    assert rows["h.restart"]["state"] == "Skipped"
    assert rows["h.restart"]["reason"] == "its condition `h.any_down` is false"
    # a consumer whose parameter does not admit None is skipped too; `depends_on` runs
    assert rows["h.strict"]["state"] == "Skipped" and "`h.restart` was skipped" in rows["h.strict"]["reason"]
    assert rows["h.cleanup"]["state"] == rows["h.verify"]["state"] == "Completed"
    assert rows["h.check"]["attempts"] == 3  # one call per host
    runs = _task_runs(engine, "h", {"h.check[0]", "h.check[1]", "h.check[2]", "h.restart"})
    if runs:
        assert {"h.check[0]", "h.check[1]", "h.check[2]"} <= set(runs)
        assert runs["h.restart"]["state"]["name"] == "Skipped"
        assert "condition `h.any_down` is false" in runs["h.restart"]["state"]["message"]
        # `status` shows the skip with its reason, and each element of the mapped operation
        status = _status(project, runs["h.restart"]["flow_run_id"])
        assert status["h.restart"]["state"] == "Skipped" and "condition `h.any_down` is false" in status["h.restart"]["reason"]
        assert {"h.check[0]", "h.check[1]", "h.check[2]"} <= status.keys() and "h.check" not in status


def test_one_host_down_runs_the_restart(project, engine):
    result, rows = _run(project, engine, "h", "--param", "down=b")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == {"h.calm": None, "h.cleanup": "cleaned", "h.strict": 1,
                                         "h.verify": "restarted b"}
    assert rows["h.restart"]["state"] == "Completed"
    assert rows["h.calm"]["state"] == "Skipped" and rows["h.calm"]["reason"] == "its condition `not h.any_down` is false"


def test_an_empty_list_maps_to_an_empty_list_without_a_call(project, engine):
    result, rows = _run(project, engine, "h", "--param", "names=")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)["h.verify"] == "nothing to restart"
    assert rows["h.check"]["state"] == "Completed" and rows["h.check"]["attempts"] == 0
    if engine == "prefect":
        assert not any(name.startswith("h.check") for name in _task_runs(engine, "h", {"h.verify"}))


def test_a_failing_element_is_retried_alone(project, engine):
    marker = project / "probed-b"
    marker.unlink(missing_ok=True)
    result, rows = _run(project, engine, "h", "--param", "flaky=b")
    assert result.returncode == 0, result.stderr[-3000:]
    assert rows["h.check"]["attempts"] == 4 and rows["h.check"]["retries"] == 1
    runs = _task_runs(engine, "h", {"h.check[0]", "h.check[1]"})
    if runs:
        assert runs["h.check[1]"]["run_count"] == 2 and runs["h.check[0]"]["run_count"] == 1


def test_zipped_maps_and_a_map_over_a_mapped_result(project, engine):
    result, rows = _run(project, engine, "z", "--param", "a=[1, 2]", "--param", "b=[3, 4]")
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout) == [6, 16]
    assert rows["z.pairs"]["attempts"] == rows["z.double"]["attempts"] == 2
    runs = _task_runs(engine, "z", {"z.pairs[0]", "z.pairs[1]", "z.double[0]", "z.double[1]"})
    if runs:
        assert {"z.pairs[0]", "z.pairs[1]", "z.double[0]", "z.double[1]"} == set(runs)


def test_the_temporary_server_records_every_task_run_before_it_stops(project, tmp_path):
    """Without PREFECT_API_URL a run's own temporary server stops with the process. It
    records task runs from events, a moment after they end; stopped before, it lost the
    last ones (about one run in two of this flow left `h.calm` Running), with "Error
    flushing events" tracebacks, and `status` would have shown them unfinished."""
    import sqlite3

    env = {key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")}
    env.update(PYTHONPATH=os.pathsep.join(sys.path), PREFECT_HOME=str(tmp_path / "home"), ORCHC_TEST_DIR=str(project))
    result = subprocess.run([sys.executable, "-m", "runtime", "h", "--project", str(project)],
                            capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr and "Error flushing" not in result.stderr, result.stderr[-3000:]
    with sqlite3.connect(tmp_path / "home" / "prefect.db") as db:
        states = dict(db.execute("SELECT name, state_name FROM task_run").fetchall())
    completed = ["h.hosts", "h.check[0]", "h.check[1]", "h.check[2]", "h.any_down", "h.calm", "h.cleanup", "h.verify"]
    assert states == {**dict.fromkeys(completed, "Completed"), "h.restart": "Skipped", "h.strict": "Skipped"}, states


def test_unequal_zipped_lengths_fail_the_operation_naming_it(project, engine):
    result, rows = _run(project, engine, "z", "--param", "a=[1, 2]", "--param", "b=[3]")
    assert result.returncode == 1
    assert "`z.pairs` maps over elements of unequal lengths: `a` has 2, `b` has 1" in result.stderr
    assert rows["z.pairs"]["state"] == "Failed"
    assert rows["z.double"]["state"] == "Skipped" and rows["z.double"]["reason"] == "upstream `z.pairs` did not complete"
    assert "attempt(s)" not in result.stderr  # no element was called
    _task_runs(engine, "z")


@pytest.mark.parametrize("kind", ["str", "tuple"])
def test_a_mapped_value_that_is_not_a_list_fails_the_operation(project, engine, kind):
    """"abc" would map over its characters, a tuple as if it were the promised list."""
    result, rows = _run(project, engine, "m", "--param", f"kind={kind}")
    assert result.returncode == 1, result.stderr[-3000:]
    assert f"`m.each` maps over `word`, which is {kind}, not a list" in result.stderr
    assert rows["m.each"]["state"] == "Failed" and rows["m.each"]["attempts"] == 0
    runs = _task_runs(engine, "m", {"m.each"})
    if runs:
        assert not any(name.startswith("m.each[") for name in runs)


def test_a_failed_mapped_operation_names_each_failed_element_with_its_attempts(project, engine):
    result, rows = _run(project, engine, "r", "--param", "names=a,b")
    assert result.returncode == 1, result.stderr[-3000:]
    assert "flow `r` failed: 1 operation(s) failed" in result.stderr
    assert "`r.bad[0]` failed: ValueError: bad a" in result.stderr
    assert "`r.bad[1]` failed: ValueError: bad b" in result.stderr
    if engine == "local":  # the engine's own log line: each element was called twice, not 4 times
        assert "`r.bad[1]` failed after 2 attempt(s): ValueError: bad b" in result.stderr
    assert "after 4 attempt(s)" not in result.stderr
    assert rows["r.bad"]["state"] == "Failed" and rows["r.bad"]["attempts"] == 4  # the summary sums them


def test_a_skipped_condition_skips_as_skipped_not_as_false(project, engine):
    result, rows = _run(project, engine, "g")
    assert result.returncode == 0, result.stderr[-3000:]
    assert rows["g.maybe"]["reason"] == "its condition `g.flag` is false"
    assert rows["g.on_maybe"]["reason"] == "its condition `g.maybe` was skipped"
    runs = _task_runs(engine, "g", {"g.on_maybe"})
    if runs:
        assert runs["g.on_maybe"]["state"]["message"] == "skipped: its condition `g.maybe` was skipped"


def test_status_agrees_with_the_summary(project, prefect_server):
    """A skip made no attempt, an empty map (which has no task run) completed, and the
    reasons read the same."""
    result, rows = _run(project, "prefect", "h", "--param", "names=")
    assert result.returncode == 0, result.stderr[-3000:]
    flow_run = _task_runs("prefect", "h", {"h.verify", "h.restart"})["h.verify"]["flow_run_id"]
    status = _status(project, flow_run)
    names, fields = ("h.hosts", "h.check", "h.restart", "h.strict", "h.verify"), ("state", "attempts", "reason")
    shown = {name: {key: status[name][key] for key in fields} for name in names}
    assert shown == {name: {key: rows[name][key] for key in fields} for name in names}
    assert rows["h.check"] == {**rows["h.check"], "state": "Completed", "attempts": 0}


def test_downstream_of_a_failure_ends_skipped_not_pending(project, engine):
    """The UI's "pending for ever" of a failed run's downstream: every task run ends."""
    result, rows = _run(project, engine, "f")
    assert result.returncode == 1 and "boom" in result.stderr
    assert rows["f.after"] == {**rows["f.after"], "state": "Skipped", "reason": "upstream `f.boom` did not complete"}
    assert rows["f.later"]["state"] == "Skipped" and rows["f.later"]["reason"] == "upstream `f.after` did not complete"
    runs = _task_runs(engine, "f", {"f.boom", "f.after", "f.later"})
    if runs:
        seen = {name: run["state"]["name"] for name, run in runs.items()}
        assert {"f.after", "f.later"} <= seen.keys(), (seen, result.stderr[-5000:])
        assert runs["f.after"]["state"]["name"] == runs["f.later"]["state"]["name"] == "Skipped"
        assert "upstream `f.boom` did not complete" in runs["f.after"]["state"]["message"]
        status = _status(project, runs["f.after"]["flow_run_id"])
        assert [status[name]["state"] for name in ("f.boom", "f.after", "f.later")] == ["Failed", "Skipped", "Skipped"]


# -- what the compiler proves and records ----------------------------------------------------


def test_the_lock_records_conditions_and_lifted_types(project):
    from compiler.lock.lockfile import loads

    lock = loads((project / "flows.lock").read_text())
    check, restart, pairs = lock.operation("h.check"), lock.operation("h.restart"), lock.operation("z.pairs")
    assert (check.map, check.returns, restart.when, lock.operation("h.calm").when) == (
        ["host"], "list[bool]", "h.any_down", "not h.any_down")
    assert [(p.name, p.type) for p in pairs.params] == [("a", "list[int]"), ("b", "list[int]")]
    assert {(e.source, e.target) for e in lock.edges if e.reason == "when"} == {
        ("h.any_down", "h.restart"), ("h.any_down", "h.calm"), ("g.flag", "g.maybe"), ("g.maybe", "g.on_maybe")}
    assert all(e.param is None for e in lock.edges if e.reason == "when")
    z = lock.flow("z")
    assert [(p.name, p.annotation) for p in z.params] == [("a", "list[int]"), ("b", "list[int]")]
    assert "h.any_down" not in lock.flow("h").sinks  # its result is taken, as the condition


def test_a_mapped_flow_parameter_is_validated_as_a_list(project):
    result, _ = _run(project, "local", "z", "--param", "a=[1, \"x\"]", "--param", "b=[1, 2]")
    assert result.returncode == 2 and "parameter `a` expects `list[int]`" in result.stderr


def test_graphs_and_explain_show_conditions_and_mapped_operations(project):
    from compiler.api import analyse
    from compiler.commands.explain import explanation, render_explanation
    from compiler.reports.export import graph_dot, graph_json, graph_mermaid

    graph = analyse(project).graph
    mermaid = graph_mermaid(graph)
    assert '[["check (map: host)"]]' in mermaid and '-.->|"when"|' in mermaid and '-.->|"when not"|' in mermaid
    dot = graph_dot(graph)
    assert '"h.check" [label="check (map: host)", tooltip="h.check", peripheries=2];' in dot
    assert '"h.any_down" -> "h.calm" [label="when not", tooltip="when"' in dot
    operations = {op["name"]: op for op in json.loads(graph_json(graph))["operations"]}
    assert operations["z.pairs"]["map"] == ["a", "b"] and operations["h.calm"]["when"] == "not h.any_down"
    assert "when" not in operations["h.hosts"] and "map" not in operations["h.hosts"]
    text = render_explanation(explanation(graph, "h.calm"))
    assert "runs when: h.any_down returns something falsy (`not`)" in text
    assert "h.calm (its condition, `when`)" in render_explanation(explanation(graph, "h.any_down"))


def test_check_fails_when_a_condition_changes_until_rebuilt(tmp_path):
    root, stem = build_project(tmp_path, "gate", SOURCE)
    source = root / "src" / f"gate_{stem}" / "ops.py"
    source.write_text(source.read_text().replace('when="h.any_down"', 'when="not h.any_down"'))

    def orchc(command: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "compiler", command], cwd=root, capture_output=True, text=True)

    stale = orchc("check")
    assert stale.returncode == 1 and "update `h.restart`: when 'h.any_down' -> 'not h.any_down'" in stale.stdout
    assert orchc("build").returncode == 0 and orchc("check").returncode == 0


def test_a_hand_edited_condition_is_refused_before_anything_is_imported(tmp_path):
    root, _ = build_project(tmp_path, "edited", SOURCE)
    lock = root / "flows.lock"
    lock.write_text(lock.read_text().replace('when = "h.any_down"', 'when = "h.nothing"', 1))
    result, _ = _run(root, "local", "h")
    assert result.returncode == 1, result.stderr
    assert "`when` names `h.nothing`, which is no operation it has a `when` edge from" in result.stderr
    assert "refusing the lockfile" in result.stderr and not (root / "probed-a").exists()


def test_a_selection_without_its_condition_is_refused(project):
    result, _ = _run(project, "local", "h", "--select", "h.calm")
    assert result.returncode == 2 and "`h.calm` runs when `h.any_down` says so" in result.stderr
    result, _ = _run(project, "local", "h", "--select", "+h.calm")
    assert result.returncode == 0 and json.loads(result.stdout) == "all up"

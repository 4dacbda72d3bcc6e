"""The repository's own orchc project: `examples/`, locked by the root `flows.lock`.

Each example runs on the local engine (in process) with its real outputs checked (rows in
SQLite, files written), then once on the Prefect engine, which must give the same result.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import tomli

from runtime.local import run_flow_sync
from runtime.registry import Registry, set_current_registry

ROOT = Path(__file__).resolve().parent.parent
#: the top-level packages the examples (and their generated flows) import as
PACKAGES = ("scraping", "kg", "tickets", "orchestration")


def _forget_example_modules() -> None:
    """Other tests import projects with the same package names (`scraping`,
    `orchestration`) from temporary folders; never let one shadow the other."""
    for name in list(sys.modules):
        if name.split(".")[0] in PACKAGES:
            del sys.modules[name]


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))
    _forget_example_modules()
    yield Registry.load(ROOT)
    set_current_registry(None)
    _forget_example_modules()


def _rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as connection:
        return connection.execute(sql).fetchall()


def _run_prefect(registry: Registry, flow: str, params: dict):
    from runtime.prefect_engine import run_flow

    return run_flow(registry, flow, params)


# -- the project itself -------------------------------------------------------------------


def test_root_lock_and_generated_modules_are_fresh():
    done = subprocess.run([sys.executable, "-m", "compiler", "check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr


def test_every_inference_rule_is_showcased():
    lock = tomli.loads((ROOT / "flows.lock").read_text(encoding="utf-8"))
    edges = {(e["source"], e["target"], e.get("param")): e["reason"] for e in lock["edges"]}
    # name, through a subgroup standing for its single sink
    assert edges[("scraping.stepstone.fetch", "scraping.merge", "stepstone")] == "name"
    assert edges[("kg.ingest.summary", "kg.stats", "ingest")] == "name"
    # name, an operation of an enclosing group
    assert edges[("kg.backend", "kg.ingest.subgraph", "backend")] == "name"
    # type (pydantic models)
    assert edges[("scraping.merge", "scraping.dedupe", "pool")] == "type"
    assert edges[("tickets.fetch", "tickets.classify", "inbox")] == "type"
    # explicit inputs= and depends_on (on an operation and on a whole group)
    assert edges[("tickets.route", "tickets.store", "batch")] == "inputs"
    assert edges[("tickets.migrate", "tickets.store", None)] == "depends_on"
    assert {s for (s, t, p), r in edges.items() if t == "kg.export" and r == "depends_on"} == {
        "kg.ingest.subgraph", "kg.ingest.subgraphs", "kg.ingest.summary"}
    # map: `kg.ingest.subgraph` runs once per name; its result, a list, binds by name
    assert edges[("kg.ingest.subgraphs", "kg.ingest.subgraph", "name")] == "inputs"
    assert edges[("kg.ingest.subgraph", "kg.ingest.summary", "subgraph")] == "name"
    # when: `ops.restart` runs only when `ops.any_down` says so
    assert edges[("ops.any_down", "ops.restart", None)] == "when"
    flows = {f["name"]: f for f in lock["flows"]}
    params = {p["name"]: p for p in flows["scraping"]["params"]}
    assert params["keywords"]["required"] and not params["top"]["required"]
    assert [p["name"] for p in flows["tickets"]["params"]] == ["db_path", "mailbox"]


def test_options_reach_the_lock():
    lock = tomli.loads((ROOT / "flows.lock").read_text(encoding="utf-8"))
    ops = {op["name"]: op for op in lock["operations"]}
    assert ops["kg.backend"]["persist_result"] is False
    assert (ops["kg.schema"]["retries"], ops["kg.ingest.subgraph"]["retries"]) == (2, 3)
    assert ops["kg.ingest.subgraph"]["map"] == ["name"] and ops["ops.restart"]["when"] == "ops.any_down"
    assert ops["tickets.classify"]["executor"] == "process"
    retries = {name: (op["retries"], op["retry_delay_seconds"]) for name, op in ops.items() if name.startswith("tickets.")}
    assert retries == {"tickets.fetch": (3, [1, 2, 4]), "tickets.classify": (1, 0), "tickets.route": (0, 0),
                       "tickets.migrate": (2, 1), "tickets.store": (5, 0.5)}
    assert ops["scraping.stepstone.fetch"]["is_async"] and not ops["scraping.linkedin.fetch"]["is_async"]


def test_operations_stay_plain_functions():
    sys.path.insert(0, str(ROOT / "examples"))
    try:
        _forget_example_modules()
        from scraping.models import Job, LinkedinJobs, StepstoneJobs
        from scraping.ops import merge

        job = Job(title="t", company="c", location="l", url="u", source="s")
        assert merge(StepstoneJobs(jobs=[job]), LinkedinJobs(jobs=[])).jobs == [job]
    finally:
        sys.path.remove(str(ROOT / "examples"))
        _forget_example_modules()


# -- scraping -------------------------------------------------------------------------------


def _scraping_params(tmp_path: Path) -> dict:
    return {"keywords": "python,sql", "report_path": str(tmp_path / "out" / "jobs.md")}


def test_scraping_local(registry, tmp_path):
    report = run_flow_sync(registry, "scraping", _scraping_params(tmp_path))
    # 4 + 1 Stepstone, 2 + 1 LinkedIn postings match; two are cross-posted duplicates
    assert (report.fetched, report.duplicates) == (8, 2)
    assert report.jobs[0] == "Data Engineer @ Rheinwerk Analytics"  # matches both keywords
    table = (tmp_path / "out" / "jobs.md").read_text().splitlines()
    assert table[0] == "# Jobs for python, sql"
    assert len([line for line in table if line.startswith("| ") and line[2].isdigit()]) == 5
    assert "stepstone" in table[4] and "https://example.com/" in table[4]


def test_scraping_subgroup_runs_alone(registry):
    jobs = run_flow_sync(registry, "scraping.linkedin", {"keywords": "swift"})
    assert [job.company for job in jobs.jobs] == ["Appwerft"]


def test_scraping_cli_local(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "runtime", "scraping", "--param", "keywords=python", "--engine", "local",
         "--project", str(ROOT)], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["report_file"] == "jobs_report.md"
    assert (tmp_path / "jobs_report.md").is_file()  # the default path is relative to the cwd


def test_scraping_prefect_matches_local(registry, tmp_path, prefect_server):
    local = run_flow_sync(registry, "scraping", _scraping_params(tmp_path / "local"))
    remote = _run_prefect(registry, "scraping", _scraping_params(tmp_path / "prefect"))
    assert remote == local
    assert (tmp_path / "prefect" / "out" / "jobs.md").read_text() == (tmp_path / "local" / "out" / "jobs.md").read_text()


# -- kg ---------------------------------------------------------------------------------------


def _kg_params(folder: Path) -> dict:
    return {"db_path": str(folder / "kg.sqlite"), "html_path": str(folder / "kg.html")}


def _check_kg_outputs(folder: Path) -> None:
    db = folder / "kg.sqlite"
    assert _rows(db, "SELECT label, COUNT(*) FROM nodes GROUP BY label ORDER BY label") == [("Person", 5), ("Project", 3)]
    assert ("person:grace", "LEADS", "project:hermes") in _rows(db, "SELECT source, type, target FROM edges")
    assert _rows(db, "SELECT COUNT(*) FROM edges WHERE target = 'project:atlas'") == [(0,)]  # dangling: skipped
    page = (folder / "kg.html").read_text()
    assert "<svg" in page and "Barbara Liskov" in page and "8 nodes, 9 edges" in page


def test_kg_local(registry, tmp_path):
    stats = run_flow_sync(registry, "kg", _kg_params(tmp_path))
    _check_kg_outputs(tmp_path)
    assert stats.nodes_by_label == {"Person": 5, "Project": 3}
    assert sum(stats.edges_by_type.values()) == 9
    assert [(d.document, d.people, d.projects, d.links) for d in stats.documents] == [
        ("doc-apollo", 3, 1, 4), ("doc-hermes", 2, 1, 3), ("doc-minerva", 1, 1, 2)]
    assert stats.warnings == [
        "doc-apollo: person `alan` has no email",
        "doc-minerva: project `minerva` is proposed, not active",
        "doc-minerva: skipped link minerva -DEPENDS_ON-> atlas (unknown endpoint)",
    ]
    assert stats.html_file == "kg.html"
    # ingestion is idempotent: a second run into the same database changes nothing
    assert run_flow_sync(registry, "kg", _kg_params(tmp_path)) == stats
    _check_kg_outputs(tmp_path)


def test_kg_ingest_group_runs_without_export(registry, tmp_path):
    summary = run_flow_sync(registry, "kg.ingest", _kg_params(tmp_path))
    assert [s.subgraph for s in summary.subgraphs] == ["people", "projects", "links"]
    assert _rows(tmp_path / "kg.sqlite", "SELECT COUNT(*) FROM nodes") == [(8,)]
    assert not (tmp_path / "kg.html").exists()


def test_kg_rejects_an_unknown_dataset(registry, tmp_path):
    from runtime.errors import FlowFailed

    with pytest.raises(FlowFailed, match="unknown dataset 'nope'"):
        run_flow_sync(registry, "kg", {**_kg_params(tmp_path), "dataset": "nope"})
    assert not (tmp_path / "kg.sqlite").exists()


def test_kg_prefect_matches_local(registry, tmp_path, prefect_server):
    local = run_flow_sync(registry, "kg", _kg_params(tmp_path / "local"))
    remote = _run_prefect(registry, "kg", _kg_params(tmp_path / "prefect"))
    assert remote == local
    _check_kg_outputs(tmp_path / "prefect")


# -- tickets ----------------------------------------------------------------------------------

EXPECTED_TICKETS = [
    ("T-1001", "billing", "finance", "p2"),
    ("T-1002", "bug", "engineering", "p3"),
    ("T-1003", "bug", "engineering", "p1"),
    ("T-1004", "account", "support", "p3"),
    ("T-1005", "feature", "product", "p3"),
    ("T-1006", "billing", "finance", "p2"),
    ("T-1007", "account", "support", "p2"),
    ("T-1008", "feature", "product", "p3"),
]


def _tickets_in(db: Path) -> list[tuple]:
    return _rows(db, "SELECT id, category, queue, priority FROM tickets ORDER BY id")


def test_tickets_local(registry, tmp_path):
    db = tmp_path / "tickets.sqlite"
    result = run_flow_sync(registry, "tickets", {"db_path": str(db)})
    # two sinks: `tickets.migrate` is followed only through `depends_on`
    assert set(result) == {"tickets.migrate", "tickets.store"} and result["tickets.migrate"] is None
    report = result["tickets.store"]
    assert _tickets_in(db) == EXPECTED_TICKETS
    assert (report.stored, report.total_in_db) == (8, 8)
    assert report.by_priority == {"p1": 1, "p2": 3, "p3": 4}
    # storing is an upsert: a re-run stores the batch again without duplicating it
    assert run_flow_sync(registry, "tickets", {"db_path": str(db)})["tickets.store"] == report
    assert _tickets_in(db) == EXPECTED_TICKETS


def test_tickets_prefect_matches_local(registry, tmp_path, prefect_server):
    local = run_flow_sync(registry, "tickets", {"db_path": str(tmp_path / "local.sqlite")})
    remote = _run_prefect(registry, "tickets", {"db_path": str(tmp_path / "prefect.sqlite")})
    assert remote == local
    assert _tickets_in(tmp_path / "prefect.sqlite") == EXPECTED_TICKETS

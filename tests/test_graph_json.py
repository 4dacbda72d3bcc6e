"""`orchc graph --format json` is a contract other tools read: schema, field names, order."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

CASE = Path(__file__).parent / "cases" / "scraping_seed" / "project"

EXPECTED = {
    "schema": 1,
    "operations": [
        {"name": "scraping.linkedin.fetch", "module": "scraping.ops", "function": "fetch_linkedin",
         "file": "scraping/ops.py", "line": 14, "is_async": False},
        {"name": "scraping.merge", "module": "scraping.ops", "function": "merge",
         "file": "scraping/ops.py", "line": 19, "is_async": False},
        {"name": "scraping.rank", "module": "scraping.ops", "function": "rank",
         "file": "scraping/ops.py", "line": 24, "is_async": False},
        {"name": "scraping.report", "module": "scraping.ops", "function": "report",
         "file": "scraping/ops.py", "line": 29, "is_async": False},
        {"name": "scraping.stepstone.fetch", "module": "scraping.ops", "function": "fetch_stepstone",
         "file": "scraping/ops.py", "line": 9, "is_async": True},
    ],
    # sorted by (to, param, from)
    "edges": [
        {"from": "scraping.linkedin.fetch", "to": "scraping.merge", "param": "linkedin", "reason": "name"},
        {"from": "scraping.stepstone.fetch", "to": "scraping.merge", "param": "stepstone", "reason": "name"},
        {"from": "scraping.merge", "to": "scraping.rank", "param": "jobs", "reason": "type"},
        {"from": "scraping.rank", "to": "scraping.report", "param": "ranked", "reason": "type"},
    ],
    "flows": [
        {"name": "scraping",
         "operations": ["scraping.linkedin.fetch", "scraping.stepstone.fetch", "scraping.merge",
                        "scraping.rank", "scraping.report"],
         "parameters": [
             {"name": "keywords", "annotation": "str", "required": True},
             {"name": "title", "annotation": "str", "required": False},
             {"name": "top", "annotation": "int", "required": False},
         ]},
        {"name": "scraping.linkedin", "operations": ["scraping.linkedin.fetch"],
         "parameters": [{"name": "keywords", "annotation": "str", "required": True}]},
        {"name": "scraping.stepstone", "operations": ["scraping.stepstone.fetch"],
         "parameters": [{"name": "keywords", "annotation": "str", "required": True}]},
    ],
}


def graph(*args: str) -> subprocess.CompletedProcess:
    # the case is read in place: no cache may be written into the repository
    return subprocess.run([sys.executable, "-m", "compiler", "graph", *args, "--project", str(CASE)],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "ORCHC_NO_CACHE": "1"})


def test_graph_json_contract() -> None:
    result = graph("--format", "json")
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == EXPECTED


def test_graph_json_restricted_to_one_flow() -> None:
    document = json.loads(graph("scraping.stepstone", "--format", "json").stdout)
    assert [op["name"] for op in document["operations"]] == ["scraping.stepstone.fetch"]
    assert document["edges"] == [] and [f["name"] for f in document["flows"]] == ["scraping.stepstone"]


def test_graph_of_an_invalid_project_exits_1_with_diagnostics(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "ops.py").write_text(
        "from runtime import operation\n\n@operation(name='a.x', depends_on='a.nope')\ndef x():\n    pass\n")
    result = subprocess.run([sys.executable, "-m", "compiler", "graph", "--format", "json", "--project", str(tmp_path)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 1
    assert "ops.py:3:35: OC302" in result.stdout

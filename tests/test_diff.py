"""`orchc diff BASE [HEAD]`: golden Markdown and json covering every change class (body,
signature, wiring, policy; operations and edges added / removed / re-bound; flow
parameters), with `git:REF` read from a temporary git repository, plus unit cases built
from hand-made locks.

`ORCHC_UPDATE_GOLDEN=1 pytest` rewrites the golden files (read the diff before committing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.goldens import assert_golden
from compiler.lock.diff import edge_delta
from compiler.commands.review import review, review_markdown
from tests import lockkit

GOLDEN = Path(__file__).parent / "golden" / "diff"
SEED = Path(__file__).parent / "cases" / "scraping_seed" / "project"
GIT_ENV = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}

AUDIT = '''

@operation(name="scraping.audit")
def audit(report: str) -> None:
    print(report)
'''
DEDUPE = '''

@operation(name="scraping.dedupe")
def dedupe(merge: list[Job]) -> list[Job]:
    return list(dict.fromkeys(merge))
'''
#: one edit per change class: (before, after) in scraping/ops.py
EDITS = [
    ("    return LinkedinJobs()", "    return LinkedinJobs(source='linkedin')"),          # body
    ('retries=3, retry_delay_seconds=10)', 'retries=4, retry_delay_seconds=10, tags=["io"])'),  # policy
    ('def report(ranked: Optional[Ranked], title: str = "Jobs")',
     'def report(ranked: Optional[Ranked], title: str = "Jobs", footer: str = "")'),         # signature
    ('@operation(name="scraping.rank")', '@operation(name="scraping.rank", inputs={"jobs": "scraping.dedupe"})'),
]


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "ORCHC_OUTPUT_FORMAT")} | GIT_ENV
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, env=environment, timeout=120)


def orchc(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return run(sys.executable, "-m", "compiler", *args, cwd=cwd)


def golden(name: str, actual: str) -> None:
    assert_golden(GOLDEN / name, actual)


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A git repository whose HEAD~1 holds the base project and HEAD the edited one; the
    working tree's lock is HEAD's."""
    root = tmp_path_factory.mktemp("diff") / "repo"
    shutil.copytree(SEED, root)
    ops = root / "scraping" / "ops.py"
    ops.write_text(ops.read_text() + AUDIT)
    assert orchc("build", cwd=root).returncode == 0
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"], ["git", "commit", "-qm", "base"]):
        assert run(*command, cwd=root).returncode == 0
    text = ops.read_text().replace(AUDIT, DEDUPE)
    for before, after in EDITS:
        assert before in text
        text = text.replace(before, after)
    ops.write_text(text)
    built = orchc("build", cwd=root)
    assert built.returncode == 0, built.stdout
    assert run("git", "commit", "-qam", "head", cwd=root).returncode == 0
    return root


def test_markdown_golden_from_git_ref_to_working_tree(repo: Path) -> None:
    result = orchc("diff", "git:HEAD~1", cwd=repo)
    assert result.returncode == 0, result.stdout + result.stderr
    golden("review.md", result.stdout)


def test_json_golden_has_the_same_data(repo: Path) -> None:
    result = orchc("diff", "git:HEAD~1", "git:HEAD", "--format", "json", cwd=repo)
    assert result.returncode == 0, result.stdout
    golden("review.json", result.stdout)
    data = json.loads(result.stdout)
    classes = {op["name"]: op["classes"] for op in data["operations"]["changed"]}
    assert classes == {
        "scraping.linkedin.fetch": ["body"],
        "scraping.report": ["signature"],
        "scraping.rank": ["wiring"],
        "scraping.stepstone.fetch": ["policy"],
    }


def test_lock_paths_and_git_refs_agree(repo: Path, tmp_path: Path) -> None:
    base = tmp_path / "base.lock"
    base.write_text(run("git", "show", "HEAD~1:flows.lock", cwd=repo).stdout)
    by_path = orchc("diff", str(base), "flows.lock", cwd=repo).stdout
    by_ref = orchc("diff", "git:HEAD~1", "git:HEAD", cwd=repo).stdout
    assert by_path.replace(str(base), "git:HEAD~1").replace("`flows.lock`", "`git:HEAD`") == by_ref


def test_no_change(repo: Path) -> None:
    result = orchc("diff", "git:HEAD", cwd=repo)
    assert result.returncode == 0
    assert "No changes to operations, edges, flows or deployments." in result.stdout
    assert "```mermaid" not in result.stdout


def test_unknown_ref_and_corrupt_lock_are_reported(repo: Path, tmp_path: Path) -> None:
    unknown = orchc("diff", "git:no-such-branch", cwd=repo)
    assert unknown.returncode == 2 and "OC105" in unknown.stdout and "no-such-branch" in unknown.stdout
    option = orchc("diff", "git:--output=x", cwd=repo)
    assert option.returncode == 2 and not (repo / "x").exists()
    corrupt = tmp_path / "bad.lock"
    corrupt.write_text("<<<<<<< ours\n")
    result = orchc("diff", str(corrupt), cwd=repo)
    assert result.returncode == 2 and "OC403" in result.stdout


def test_diff_never_imports_user_code(repo: Path, tmp_path: Path) -> None:
    trap = repo / "scraping" / "__init__.py"
    original = trap.read_text()
    trap.write_text("raise SystemExit('imported')\n")
    try:
        assert orchc("diff", "git:HEAD~1", cwd=repo).returncode == 0
    finally:
        trap.write_text(original)


# -- unit cases on hand-made locks ------------------------------------------------------------


def test_reason_change_on_the_same_edge_is_a_rebinding() -> None:
    old = lockkit.sample_lock()
    edges = [e.model_copy(update={"reason": "type"}) if e.param == "orders" and e.target == "etl.transform" else e
             for e in old.edges]
    new = old.model_copy(update={"edges": edges})
    delta = edge_delta(old, new)
    assert (delta.added, delta.removed, delta.rebound) == ((), (), ())
    assert [(a.reason, b.reason) for a, b in delta.updated] == [("name", "type")]
    markdown = review_markdown(review(old, new, "a", "b"))
    assert "- `etl.transform.orders`: `etl.extract.orders` (name) → `etl.extract.orders` (type)" in markdown
    assert "| `etl.transform` | **wiring** |" in markdown


def test_location_class_and_table_cells_escape_pipes() -> None:
    old = lockkit.sample_lock()
    ops = [op.model_copy(update={"line": 40, "returns": "int | None"}) if op.name == "etl.load" else op
           for op in old.operations]
    new = old.model_copy(update={"operations": ops})
    data = review(old, new, "a", "b")
    assert data["operations"]["changed"] == [{
        "name": "etl.load", "classes": ["signature", "location"],
        "details": ["returns None -> 'int | None'", "line 1 -> 40"],
    }]
    assert "'int \\| None'" in review_markdown(data)


def test_depends_on_edges_and_removed_flows() -> None:
    old = lockkit.sample_lock()
    new = old.model_copy(update={
        "edges": [e for e in old.edges if e.reason != "depends_on"],
        "flows": [f for f in old.flows if f.name != "ping"],
    })
    data = review(old, new, "a", "b")
    assert data["edges"]["removed"] == [{"source": "common", "target": "etl.load", "param": None,
                                         "reason": "depends_on", "via_group": None}]
    assert "remove flow `ping`" in data["flows"]
    assert "- `common` → `etl.load` (depends_on)" in review_markdown(data)

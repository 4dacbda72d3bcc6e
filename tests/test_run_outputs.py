"""What a run leaves to see, on both engines: `--summary` files of one schema, operations'
log lines through `runtime.get_logger()`, and their artifacts (`runtime.publish_*`):
Prefect artifacts under Prefect, files in the run's folder on the local engine."""

from __future__ import annotations

import json
import textwrap
import uuid

import jsonschema
import pytest

from runtime import cli
from runtime.summary import SCHEMA_FILE
from tests.projects import build_project
from tests.runtime_helpers import isolated_imports  # noqa: F401 - fixture (sys.path restored)

pytestmark = pytest.mark.usefixtures("isolated_imports")  # the projects' folders leave sys.path after each test

SOURCE = '''
    import asyncio
    import runtime
    from runtime import operation

    @operation(name="o.count", cache=True)
    def count(n: int = 3) -> int:
        "{token}"  # a new source hash each session: Prefect's stored results outlive a session
        runtime.get_logger().info("counting to %d", n)
        runtime.publish_table("{key}-table", [{{"n": i}} for i in range(n)])
        return n

    @operation(name="o.report")
    async def report(count: int) -> str:
        runtime.get_logger().info("reporting %d", count)
        runtime.publish_markdown("{key}-report", f"# {{count}} counted")
        runtime.publish_link("{key}-link", "https://example.org/report")
        return "done"

    @operation(name="o.fails", depends_on=["o.count"])
    def fails() -> None:
        raise RuntimeError("no luck")
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    key = "".join(c if c.isalnum() else "-" for c in tmp_path.name.lower()).strip("-")
    source = textwrap.dedent(SOURCE).replace("{key}", key).replace("{token}", uuid.uuid4().hex)
    build_project(tmp_path, "outputs", source.replace("{{", "{").replace("}}", "}"))
    # `--no-cache` sets it in os.environ for the rest of the process: set through
    # monkeypatch first, so that it is removed again after the test
    monkeypatch.setenv("PREFECT_TASKS_REFRESH_CACHE", "false")
    return tmp_path, key


def _summary(path) -> dict:
    data = json.loads(path.read_text())
    jsonschema.validate(data, json.loads(SCHEMA_FILE.read_text()))
    return data


def test_summaries_of_both_engines_have_one_schema(project, engine, capsys):
    root, _ = project
    path = root / "summary.json"
    args = ["--engine", engine, "--project", str(root), "-q", "--summary", str(path)]
    assert cli.main(["o", "--exclude", "o.fails", *args]) == 0
    first = _summary(path)
    assert (first["flow"], first["engine"], first["state"]) == ("o", engine, "Completed")
    assert [(r["operation"], r["state"], r["attempts"], r["cached"]) for r in first["operations"]] == [
        ("o.count", "Completed", 1, False), ("o.report", "Completed", 1, False)]
    assert cli.main(["o", "--exclude", "o.fails", *args]) == 0
    assert _summary(path)["operations"][0]["state"] == "Cached"  # stored by the first run
    assert _summary(path)["operations"][0]["cached"] is True
    assert cli.main(["o", *args]) == 1  # a failed run writes its summary too
    failed = _summary(path)
    assert failed["state"] == "Failed"
    assert {r["operation"]: r["state"] for r in failed["operations"]}["o.fails"] == "Failed"
    capsys.readouterr()


def test_local_operations_log_with_their_name_and_publish_files(project, capsys):
    root, key = project
    folder = root / "artifacts"
    assert cli.main(["o", "--exclude", "o.fails", "--engine", "local", "--no-cache", "--project", str(root),
                     "--artifacts-dir", str(folder)]) == 0
    err = capsys.readouterr().err  # the runtime's log lines go to stderr
    assert "INFO [o.count] counting to 3" in err
    assert "INFO [o.report] reporting 3" in err
    assert json.loads((folder / f"{key}-table.json").read_text()) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert (folder / f"{key}-report.md").read_text() == "# 3 counted"
    assert (folder / f"{key}-link.url").read_text() == "https://example.org/report\n"
    capsys.readouterr()


def test_prefect_operations_publish_prefect_artifacts(project, capsys, prefect_server):
    from tests.prefect_server import newest_artifact

    root, key = project
    assert cli.main(["o", "--exclude", "o.fails", "--engine", "prefect", "--no-cache", "--project", str(root),
                     "-q"]) == 0
    assert json.loads(newest_artifact(f"{key}-table")["data"]) == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert newest_artifact(f"{key}-report")["data"] == "# 3 counted"
    assert newest_artifact(f"{key}-link")["data"] == "[https://example.org/report](https://example.org/report)"
    capsys.readouterr()


def test_a_bad_artifact_key_is_refused_with_the_rule():
    import runtime

    with pytest.raises(ValueError, match="lowercase letters, digits and dashes"):
        runtime.publish_markdown("Daily Report", "x")


def test_prefect_task_runs_are_named_by_their_operation(project, capsys, prefect_server):
    """`o.count`, not Prefect's default `o.count-a1b` with a random suffix."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import TaskRunFilter, TaskRunFilterName

    root, _ = project
    assert cli.main(["o", "--exclude", "o.fails", "--engine", "prefect", "--no-cache", "--project", str(root),
                     "-q"]) == 0
    capsys.readouterr()

    async def names() -> list[str]:
        """The names, once the server has recorded both runs (it records them from events,
        a moment after the flow ends)."""
        async with get_client() as client:
            for _ in range(300):
                runs = await client.read_task_runs(task_run_filter=TaskRunFilter(
                    name=TaskRunFilterName(any_=["o.count", "o.report"])))
                if len({run.name for run in runs}) == 2:
                    break
                await asyncio.sleep(0.1)
            return sorted({run.name for run in runs})

    assert asyncio.run(names()) == ["o.count", "o.report"]

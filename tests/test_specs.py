"""Pipelines as data: spec files compile into the same lock, generated flows and engines
as `@operation` code, with the option precedence the README states, and `orchc validate`
proves a candidate spec against the project without writing anything."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from compiler.lock.lockfile import loads

SOURCE = '''
    from runtime import operation


    class Page:
        def __init__(self, text):
            self.text = text


    @operation(name="docs.fetch", retries=4, tags=["io"])
    def fetch(source: str = "wiki") -> list[str]:
        return [source + "-a", source + "-b", source + "-c"]


    @operation(name="docs.take")
    def take(items: list[str], limit: int = 10, prefix: str = "") -> list[str]:
        return [prefix + item for item in items[:limit]]


    @operation(name="docs.render")
    def render(picked: list[str]) -> Page:
        return Page(", ".join(picked))


    @operation(name="report.publish", inputs={"page": "nightly.render"})
    def publish(page: Page) -> str:
        """A code operation taking a pipeline step's result."""
        return "published: " + page.text
'''

PIPELINE = '''
    pipeline: nightly
    description: Fetch, take two, render.
    defaults: {retries: 3}
    steps:
      - id: fetch
        use: docs.fetch
        params: {source: blog}
      - id: take
        use: docs.take
        inputs: {items: fetch}
        params: {limit: 2, prefix: "#"}
        retries: 0
      - id: render
        use: docs.render
        inputs: {picked: take}
'''


def _project(root: Path, pipeline: str = PIPELINE, defaults: str = "retries = 2\nretry_delay_seconds = 30\n",
             source: str = SOURCE) -> Path:
    stem = "".join(c if c.isalnum() else "_" for c in root.name)
    package = root / "src" / f"specs_{stem}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "ops.py").write_text(textwrap.dedent(source))
    (root / "pipelines").mkdir()
    (root / "pipelines" / "nightly.yaml").write_text(textwrap.dedent(pipeline))
    (root / "pyproject.toml").write_text(
        f'[tool.orchc]\nsources = ["src"]\nout = "gen_{stem}"\npipelines = ["pipelines/*.yaml"]\n\n'
        f"[tool.orchc.defaults]\n{defaults}")
    return root


def _orchc(root: Path, *argv: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compiler", *argv], cwd=root, capture_output=True, text=True,
                          input=stdin, timeout=300)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    root = _project(tmp_path_factory.mktemp("specs"))
    done = _orchc(root, "build")
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def test_steps_are_operations_of_the_lock_with_the_stated_precedence(built):
    lock = loads((built / "flows.lock").read_text())
    fetch, take, render = (lock.operation(f"nightly.{step}") for step in ("fetch", "take", "render"))
    code = lock.operation("docs.fetch")
    # the used operation's function: module, function, file and source hash
    assert (fetch.module, fetch.function, fetch.file, fetch.source_hash, fetch.uses) == (
        code.module, code.function, code.file, code.source_hash, "docs.fetch")
    # the step's own, then the pipeline's defaults, then the used operation's, then the project's
    assert (take.retries, fetch.retries, render.retries, code.retries, lock.operation("docs.take").retries) == (0, 3, 3, 4, 2)
    assert (fetch.retry_delay_seconds, fetch.tags) == (30, ["io"])
    # literal arguments: neither bound nor flow parameters
    assert [(a.name, a.value) for a in take.arguments] == [("limit", "2"), ("prefix", "'#'")]
    assert {(e.source, e.target, e.param, e.reason) for e in lock.edges if e.target.startswith("nightly.")} == {
        ("nightly.fetch", "nightly.take", "items", "inputs"), ("nightly.take", "nightly.render", "picked", "inputs")}
    assert lock.flow("nightly").params == []
    # a code operation takes a step's result like any operation's
    assert any(e.source == "nightly.render" and e.target == "report.publish" for e in lock.edges)


def test_explain_shows_a_steps_literal_arguments_as_such(built):
    shown = _orchc(built, "explain", "nightly.take")
    assert shown.returncode == 0, shown.stderr
    assert "  limit: int = 2 (the step's `params`)\n" in shown.stdout
    assert "  items: list[str] <- nightly.fetch (rule: explicit `inputs=`" in shown.stdout
    assert "flow parameter" not in shown.stdout


def test_the_generated_task_of_a_step_leaves_its_literals_to_the_runtime(built):
    module = next((built).glob("gen_*/nightly.py")).read_text()
    assert '@runtime.task_body("nightly.take")\ndef nightly__take_task(items): ...' in module
    assert 'name="nightly.fetch"' in module and "retries=3" in module
    assert '    name="nightly",\n    description="Fetch, take two, render.",\n' in module  # the pipeline's


def test_both_engines_run_a_spec_pipeline(built, engine):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    if engine == "prefect":
        from prefect.settings import PREFECT_API_URL

        env["PREFECT_API_URL"] = PREFECT_API_URL.value()
    done = subprocess.run([sys.executable, "-m", "runtime", "report", "--engine", engine, "--project", str(built)],
                          capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    assert json.loads(done.stdout) == "published: #blog-a, #blog-b"
    if engine == "prefect":
        from tests.prefect_server import newest_task_runs

        runs = newest_task_runs("report", {"nightly.fetch", "nightly.take", "nightly.render", "report.publish"})
        assert {"nightly.fetch", "nightly.take", "nightly.render", "report.publish"} <= set(runs)


def test_check_fails_when_a_spec_changes_until_rebuilt(tmp_path):
    root = _project(tmp_path)
    assert _orchc(root, "build").returncode == 0 and _orchc(root, "check").returncode == 0
    spec = root / "pipelines" / "nightly.yaml"
    spec.write_text(spec.read_text().replace("retries: 0", "retries: 1").replace("take two", "take a few"))
    stale = _orchc(root, "check")
    assert stale.returncode == 1 and "update `nightly.take`: retries 0 -> 1" in stale.stdout
    # at the step's place in the spec, where the change was made
    assert "pipelines/nightly.yaml:9:9: OC405 [error] `flows.lock` is stale: update `nightly.take`" in stale.stdout
    assert "flow `nightly`: description 'Fetch, take two, render.' -> 'Fetch, take a few, render.'" in stale.stdout
    assert _orchc(root, "build").returncode == 0 and _orchc(root, "check").returncode == 0


def test_a_glob_matching_no_spec_yet_is_a_warning_a_missing_file_an_error(tmp_path):
    root = _project(tmp_path)
    config = root / "pyproject.toml"
    config.write_text(config.read_text().replace('pipelines = ["pipelines/*.yaml"]',
                                                 'pipelines = ["pipelines/*.yaml", "pipelines/*.json"]'))
    built = _orchc(root, "build")
    assert built.returncode == 0 and "OC113 [warning] `pipelines` entry `pipelines/*.json` matches no spec" in built.stdout
    config.write_text(config.read_text().replace('"pipelines/*.json"', '"pipelines/nightly.json"'))
    refused = _orchc(root, "build")
    assert refused.returncode == 2 and "OC104 [error] `pipelines` entry `pipelines/nightly.json`" in refused.stdout


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_validate_proves_a_candidate_and_writes_nothing(tmp_path):
    root = _project(tmp_path)
    good = _orchc(root, "validate", "pipelines/nightly.yaml")
    assert good.returncode == 0, good.stdout
    assert not (root / ".orchc_cache").exists() and not (root / "flows.lock").exists()  # nothing written
    candidate = root / "candidate.yaml"
    candidate.write_text(textwrap.dedent(PIPELINE).replace("inputs: {picked: take}", "inputs: {picked: tkae}")
                         .replace("pipeline: nightly", "pipeline: candidate"))
    check_json = json.loads(_orchc(root, "check", "--output-format", "json").stdout)  # check writes its cache
    before = _tree(root)
    bad = _orchc(root, "validate", "candidate.yaml")
    assert bad.returncode == 1
    assert "candidate.yaml:16:22: OC604" in bad.stdout and "did you mean `take`?" in bad.stdout
    as_json = _orchc(root, "validate", "candidate.yaml", "--format", "json")
    document = json.loads(as_json.stdout)
    assert as_json.returncode == 1 and set(document) == set(check_json)
    assert [d["code"] for d in document["diagnostics"]] == ["OC604"]
    assert _tree(root) == before  # nothing written: no lock, no generated module, no cache


def test_validate_reads_a_json_spec_from_standard_input(tmp_path):
    root = _project(tmp_path)
    agent = {"pipeline": "agent", "steps": [
        {"id": "fetch", "use": "docs.fetch"},
        {"id": "take", "use": "docs.take", "inputs": {"items": "fetch"}, "params": {"limit": "two"}}]}
    refused = _orchc(root, "validate", "-", stdin=json.dumps(agent, indent=1))
    assert refused.returncode == 1 and "<stdin>:" in refused.stdout and "OC606" in refused.stdout
    agent["steps"][1]["params"]["limit"] = 2
    assert _orchc(root, "validate", "-", stdin=json.dumps(agent)).returncode == 0


def test_a_new_version_of_a_project_spec_is_validated_in_its_place(tmp_path):
    from compiler.api import validate_spec

    root = _project(tmp_path)
    new_version = (root / "pipelines" / "nightly.yaml").read_text().replace("limit: 2", "limit: 3")
    twice = _orchc(root, "validate", "-", stdin=new_version)  # unnamed, it is a second pipeline `nightly`
    assert twice.returncode == 1 and "`orchc validate - --as pipelines/nightly.yaml`" in twice.stdout
    assert _orchc(root, "validate", "-", "--as", "pipelines/nightly.yaml", stdin=new_version).returncode == 0
    assert validate_spec(new_version, str(root / "pipelines" / "nightly.yaml"), project=root) == ()
    assert validate_spec(new_version, "pipelines/nightly.yaml", project=root) == ()


def test_a_spec_that_is_not_utf8_is_a_diagnostic(tmp_path):
    root = _project(tmp_path)
    (root / "latin1.yaml").write_bytes("pipeline: caf\xe9\n".encode("latin-1"))
    done = _orchc(root, "validate", "latin1.yaml")
    assert done.returncode == 1 and "latin1.yaml:1:1: OC601 [error] the spec is not UTF-8 text" in done.stdout


def test_validate_spec_in_memory_for_an_agent_loop(tmp_path):
    from compiler.api import validate_spec
    from compiler.diagnostics import has_errors

    root = _project(tmp_path)
    found = validate_spec("pipeline: agent\nsteps:\n  - id: one\n    use: docs.fetsh\n", project=root)
    assert [(d.code, d.span.path, d.span.line, d.span.column) for d in found] == [("OC603", "<stdin>", 4, 10)]
    assert "did you mean `docs.fetch`?" in found[0].hint
    assert not has_errors(validate_spec("pipeline: agent\nsteps:\n  - id: one\n    use: docs.fetch\n", project=root))


def test_the_project_defaults_fill_what_code_operations_leave_out(tmp_path):
    root = _project(tmp_path, defaults='retries = 1\nexecutor = "process"\ntags = ["x"]\n')
    assert _orchc(root, "build").returncode == 0
    lock = loads((root / "flows.lock").read_text())
    fetch, take = lock.operation("docs.fetch"), lock.operation("docs.take")
    assert (fetch.retries, fetch.tags, take.retries, take.tags, take.executor) == (4, ["io"], 1, ["x"], "process")
    bad = _project(tmp_path / "bad", defaults="retrys = 1\n")
    refused = _orchc(bad, "build")
    assert refused.returncode == 2 and "OC102" in refused.stdout and "did you mean `retries`?" in refused.stdout


def test_a_step_that_makes_a_binding_ambiguous_is_shown_at_its_place_in_the_spec(tmp_path):
    from compiler.api import analyse

    root = _project(tmp_path, source=SOURCE.replace('inputs={"page": "nightly.render"}', ""))
    found = [d for d in analyse(root).diagnostics if d.code == "OC304"]
    assert len(found) == 1 and "`docs.render` and operation `nightly.render`" in found[0].message
    assert ("pipelines/nightly.yaml", 14, 9) in {(span.path, span.line, span.column) for span, _ in found[0].related}


def test_a_spec_reusing_operations_of_its_own_group_leaves_their_consumers_bound(tmp_path):
    """A step is known by its path, not by the function it uses: `docs.count(take)` keeps
    binding to `docs.take` by name when the pipeline `docs.nightly` reuses `docs.take`."""
    from compiler.api import analyse

    source = (SOURCE + '''

    @operation(name="docs.count")
    def count(take: list[str]) -> int:
        return len(take)
    ''').replace('"nightly.render"', '"docs.nightly.render"')
    root = _project(tmp_path, pipeline=PIPELINE.replace("pipeline: nightly", "pipeline: docs.nightly"), source=source)
    analysis = analyse(root)
    assert [d for d in analysis.diagnostics if d.severity == "error"] == []
    edges = {(e.source, e.target, e.param, e.reason) for e in analysis.lock.edges}
    assert ("docs.take", "docs.count", "take", "name") in edges
    assert ("docs.nightly.take", "docs.nightly.render", "picked", "inputs") in edges


def test_the_spec_schema_is_valid_and_the_examples_follow_it():
    import jsonschema
    import yaml

    from compiler.specs.schema import SCHEMA_FILE

    schema = json.loads(SCHEMA_FILE.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    examples = Path(__file__).parent.parent / "examples" / "pipelines"
    specs = sorted(examples.glob("*.yaml")) + sorted(examples.glob("*.json"))
    assert len(specs) == 2
    for spec in specs:
        jsonschema.validate(yaml.safe_load(spec.read_text()), schema)


@pytest.mark.parametrize("text, message", [
    ("pipeline: p\nsteps: " + "[" * 40 + "]" * 40 + "\n", "nests deeper than 16 levels"),
    ("pipeline: p\ndescription: " + "x" * 300_000 + "\nsteps: []\n", "larger than 256 KiB"),
    ("pipeline: p\nsteps:\n  - &a {id: one, use: docs.fetch}\n  - *a\n", "uses an alias (`*a`)"),
    ("pipeline: !!python/name:os.system p\nsteps: []\n", "uses the tag `tag:yaml.org,2002:python/name:os.system`"),
    ("pipeline: p\n---\npipeline: q\n", "holds several documents"),
])
def test_unsafe_or_oversized_specs_are_refused_before_anything_is_built(tmp_path, text, message):
    from compiler.api import validate_spec

    found = validate_spec(text, "candidate.yaml", project=_project(tmp_path))
    assert [d.code for d in found] == ["OC601"] and message in found[0].message


def test_a_hand_edited_step_argument_is_refused_before_anything_is_imported(built, tmp_path):
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(built, root)
    lock = root / "flows.lock"
    lock.write_text(lock.read_text().replace('value = "2"', 'value = "__import__(\'os\').getcwd()"', 1))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    done = subprocess.run([sys.executable, "-m", "runtime", "nightly", "--engine", "local", "--project", str(root)],
                          capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 1 and "argument `limit` is not a literal" in done.stderr
    assert "Traceback" not in done.stderr


GLOB_FILES = ["p/a.yaml", "p/b.json", "p/sub/c.yaml", "p/sub/deep/d.yaml", "p/.hidden.yaml", "p/.h/e.yaml",
              "q.yaml", "p/[x].yaml", "p/x.yml", "p/a1.yaml"]


@pytest.mark.parametrize("pattern", ["p/*.yaml", "p/**/*.yaml", "p/**", "**/*.yaml", "*.yaml", "p/?.yaml",
                                     "p/a[0-9].yaml", "p/[!a]*.yaml", "p/sub/*", "p/.*", "p/**/.*", "p/[[]x].yaml", "**"])
def test_the_pure_core_finds_the_spec_files_glob_finds(tmp_path, pattern):
    """`analyse_sources` has texts, not files: its matcher must find what `orchc build`'s
    `glob.glob` finds on disk."""
    import glob

    from compiler.discover import glob_match

    for name in GLOB_FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("")
    on_disk = {m for m in glob.glob(pattern, root_dir=tmp_path, recursive=True) if (tmp_path / m).is_file()}
    assert {name for name in GLOB_FILES if glob_match(name, pattern)} == on_disk


@pytest.mark.parametrize("text, code, message", [
    ("retries: !!int abc", "OC601", "invalid literal for int()"),
    ("retries: " + "9" * 5000, "OC601", "cannot be read"),
    ("map: [host, host]", "OC602", "is not a parameter name, or a list of distinct parameter names"),
    ("map: host\n    params: {host: abc}", "OC606", "is not a list to map over"),
    ("params: {source: .inf}", "OC606", "cannot be written as a Python literal"),
    ("retries: 99999999999999999999999", "OC602", "of at most 64 bits"),  # the lock's TOML could not hold it
    ("timeout_seconds: .inf", "OC602", "a finite number"),
])
def test_bad_values_in_a_step_are_diagnostics_not_tracebacks(tmp_path, text, code, message):
    from compiler.api import validate_spec

    source = SOURCE.replace('def fetch(source: str = "wiki")', 'def fetch(host: str, source: str = "wiki")')
    spec = f"pipeline: agent\nsteps:\n  - id: one\n    use: docs.fetch\n    {text}\n"
    found = [d for d in validate_spec(spec, "candidate.yaml", project=_project(tmp_path, source=source))
             if d.severity == "error"]
    assert [d.code for d in found] == [code] and message in found[0].message, found


@pytest.mark.parametrize("params, fits", [
    ("{items: [a, b], limit: 2}", True),
    ("{items: [1, 2]}", False),
    ("{items: [a, [b]]}", False),
    ("{items: a}", False),
])
def test_a_steps_literal_is_checked_element_by_element(tmp_path, params, fits):
    from compiler.api import validate_spec

    spec = f"pipeline: agent\nsteps:\n  - id: one\n    use: docs.take\n    params: {params}\n"
    found = [d for d in validate_spec(spec, "candidate.yaml", project=_project(tmp_path)) if d.severity == "error"]
    assert [d.code for d in found] == ([] if fits else ["OC606"]), found
    assert fits or "does not fit `list[str]`" in found[0].message


def test_the_literal_check_reads_generic_annotations(tmp_path):
    from compiler.specs.steps import _fits_type

    assert _fits_type({"a": 1}, "dict[str, int] | None") and not _fits_type({"a": "x"}, "dict[str, int] | None")
    assert _fits_type([1, "b"], "tuple[int, str]") and not _fits_type([1, 2], "tuple[int, str]")
    assert _fits_type([1, 2, 3], "tuple[int, ...]") and not _fits_type([1, "b"], "tuple[int, ...]")
    assert _fits_type([[True]], "list[list[bool]]") and not _fits_type([[1]], "list[list[bool]]")
    assert _fits_type(["x"], "list[shop.Order]")  # a type orchc cannot check from a literal passes


def test_a_step_running_an_async_function_in_a_process_is_refused(tmp_path):
    from compiler.api import validate_spec

    source = SOURCE + "\n\n    @operation(name=\"docs.wait\")\n    async def wait() -> int:\n        return 1\n"
    spec = "pipeline: agent\ndefaults: {executor: process}\nsteps:\n  - id: one\n    use: docs.wait\n"
    root = _project(tmp_path, source=source)
    assert validate_spec(spec, "candidate.yaml", project=root) == ()  # a default is for the sync steps
    found = validate_spec(spec + "    executor: process\n", "candidate.yaml", project=root)
    assert [(d.code, d.span.line) for d in found] == [("OC602", 6)] and "is async" in found[0].message


def test_json_specs_read_json_values_even_where_yaml_would_not(tmp_path):
    from compiler.api import validate_spec

    root = _project(tmp_path)
    spec = '{\n\t"pipeline": "agent",\n\t"steps": [{"id": "one", "use": "docs.fetch", "timeout_seconds": 1e3}]\n}'
    assert validate_spec(spec, "candidate.json", project=root) == ()
    spec = spec.replace("1e3", "-1e3").replace("\t", "  ")
    found = validate_spec(spec, "candidate.json", project=root)
    assert [(d.code, d.span.line) for d in found] == [("OC602", 3)]


def test_a_mapped_parameter_with_a_default_is_refused(tmp_path):
    from compiler.api import analyse

    source = SOURCE.replace('@operation(name="docs.take")', '@operation(name="docs.take", map="prefix")')
    found = [d for d in analyse(_project(tmp_path, source=source)).diagnostics if d.code == "OC210"]
    assert len(found) == 1 and "which has a default" in found[0].message


def test_a_cached_steps_literal_arguments_are_part_of_its_key(tmp_path, engine):
    """Two runs of a cached step whose `params` changed between them compute again."""
    source = SOURCE.replace('"nightly.render"', '"docs.render"') + '''

    @operation(name="docs.echo", cache=True)
    def echo(word: str) -> str:
        return "echo:" + word
'''
    pipeline = "pipeline: say\nsteps:\n  - id: it\n    use: docs.echo\n    params: {word: first}\n"
    root = _project(tmp_path, pipeline=pipeline, source=source)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "PREFECT_TASKS_REFRESH_CACHE": "false",
           "PREFECT_LOCAL_STORAGE_PATH": str(root / "prefect-results")}
    if engine == "prefect":
        from prefect.settings import PREFECT_API_URL

        env["PREFECT_API_URL"] = PREFECT_API_URL.value()

    def run() -> str:
        assert _orchc(root, "build").returncode == 0
        done = subprocess.run([sys.executable, "-m", "runtime", "say", "--engine", engine, "--project", str(root)],
                              capture_output=True, text=True, timeout=600, env=env)
        assert done.returncode == 0, done.stderr[-3000:]
        return json.loads(done.stdout)

    assert run() == "echo:first"
    spec = root / "pipelines" / "nightly.yaml"
    spec.write_text(spec.read_text().replace("first", "second"))
    assert run() == "echo:second"

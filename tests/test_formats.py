"""`--output-format text|json|github|sarif` and `check --diff`: golden reports of a project
with several diagnostics, GitHub's escaping rules, SARIF validated against the official
2.1.0 schema, and every kind of diagnostic (config, parse, lock, usage) honouring the format.

Golden files live in tests/golden/formats/; `ORCHC_UPDATE_GOLDEN=1 pytest` rewrites them
(then read the diff before committing).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.goldens import assert_golden
from compiler import __version__
from compiler.diagnostics import RULES, Diagnostic
from compiler.model import Span
from compiler.reports.render import Report, escape_data, escape_property, github_annotation, render

GOLDEN = Path(__file__).parent / "golden" / "formats"
SARIF_SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"  # vendored: see data/README.md
FORMATS = {"text": "txt", "json": "json", "github": "github.txt", "sarif": "sarif"}
SEED = Path(__file__).parent / "cases" / "scraping_seed" / "project"


def orchc(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("CI", "ORCHC_OUTPUT_FORMAT")} | env
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=cwd, capture_output=True, text=True,
                          env=environment, timeout=120)


def golden(name: str, actual: str) -> None:
    assert_golden(GOLDEN / name, actual.replace(__version__, "VERSION"))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    target = tmp_path / "shop"
    shutil.copytree(GOLDEN / "project", target)
    return target


@pytest.fixture(scope="module")
def sarif_schema() -> dict:
    return json.loads(SARIF_SCHEMA.read_text(encoding="utf-8"))


# -- golden reports ------------------------------------------------------------------------


def _without_catalogue(sarif_text: str) -> str:
    """The SARIF document with the rule catalogue cut to its first rule, so a new rule in
    compiler.diagnostics does not churn the golden file (the catalogue is checked apart)."""
    document = json.loads(sarif_text)
    driver = document["runs"][0]["tool"]["driver"]
    assert [rule["id"] for rule in driver["rules"]] == [rule.code for rule in RULES]
    driver["rules"] = [driver["rules"][0], "... one rule per code of compiler.diagnostics.RULES"]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


@pytest.mark.parametrize("output_format", FORMATS)
def test_check_report_golden(project: Path, output_format: str) -> None:
    result = orchc("check", "--output-format", output_format, cwd=project)
    assert result.returncode == 1, result.stderr
    output = _without_catalogue(result.stdout) if output_format == "sarif" else result.stdout
    golden(f"check.{FORMATS[output_format]}", output)


@pytest.mark.parametrize("output_format", FORMATS)
def test_environment_variable_sets_the_format(project: Path, output_format: str) -> None:
    by_option = orchc("build", "--output-format", output_format, cwd=project)
    by_env = orchc("build", cwd=project, ORCHC_OUTPUT_FORMAT=output_format)
    assert by_env.stdout == by_option.stdout
    assert by_env.returncode == by_option.returncode == 1


def test_option_beats_environment(project: Path) -> None:
    result = orchc("check", "--output-format", "text", cwd=project, ORCHC_OUTPUT_FORMAT="json")
    assert result.stdout.startswith("shop/broken.py:5:12: OC201 [error] ")


def test_text_lines_have_location_code_and_indented_hint(project: Path) -> None:
    lines = orchc("check", cwd=project).stdout.splitlines()
    assert lines[0].startswith("shop/broken.py:5:12: OC201 [error] syntax error")
    assert lines[1].startswith("    hint: ")
    assert lines[-1] == "found 6 errors"


def test_json_has_every_diagnostic_field(project: Path) -> None:
    document = json.loads(orchc("check", "--output-format", "json", cwd=project).stdout)
    assert document["schema"] == "orchc-report/1"
    fields = {"code", "severity", "message", "hint", "path", "line", "column", "end_line", "end_column"}
    assert all(fields <= set(d) for d in document["diagnostics"])
    assert [d["code"] for d in document["diagnostics"]] == ["OC201", "OC301", "OC202", "OC301", "OC302", "OC303"]


# -- SARIF -----------------------------------------------------------------------------------


def test_sarif_validates_against_the_official_schema(project: Path, sarif_schema: dict) -> None:
    document = json.loads(orchc("check", "--output-format", "sarif", cwd=project).stdout)
    jsonschema.validate(document, sarif_schema)
    run = document["runs"][0]
    driver = run["tool"]["driver"]
    assert {"name", "version", "informationUri", "rules"} <= set(driver)
    assert all(rule["help"]["text"] for rule in driver["rules"])
    assert len({rule["id"] for rule in driver["rules"]}) == len(driver["rules"])
    for result in run["results"]:
        assert driver["rules"][result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["level"] in ("error", "warning") and result["message"]["text"]
        assert result["partialFingerprints"]
        uri = result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
        assert not uri.startswith("/") and ":" not in uri


def test_sarif_and_github_paths_are_repository_relative(tmp_path: Path, sarif_schema: dict) -> None:
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    project = tmp_path / "repo" / "services" / "shop"
    shutil.copytree(GOLDEN / "project", project)
    sarif = json.loads(orchc("check", "--output-format", "sarif", cwd=project).stdout)
    jsonschema.validate(sarif, sarif_schema)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in sarif["runs"][0]["results"]}
    assert uris == {"services/shop/shop/broken.py", "services/shop/shop/ops.py"}
    github = orchc("check", "--output-format", "github", cwd=project).stdout
    assert "::error file=services/shop/shop/broken.py,line=5,col=12,title=OC201::" in github
    text = orchc("check", cwd=project).stdout
    assert text.startswith("shop/broken.py:5:12:")  # text stays project-relative


def test_fingerprints_ignore_line_moves(project: Path) -> None:
    def fingerprints() -> set[str]:
        sarif = json.loads(orchc("check", "--output-format", "sarif", cwd=project).stdout)
        return {next(iter(r["partialFingerprints"].values())) for r in sarif["runs"][0]["results"]
                if r["ruleId"] == "OC303"}

    before = fingerprints()
    ops = project / "shop" / "ops.py"
    ops.write_text("# a comment that moves everything down\n\n" + ops.read_text())
    assert fingerprints() == before


def test_fresh_project_gives_valid_empty_sarif(tmp_path: Path, sarif_schema: dict) -> None:
    project = tmp_path / "seed"
    shutil.copytree(SEED, project)
    assert orchc("build", cwd=project).returncode == 0
    result = orchc("check", "--output-format", "sarif", cwd=project)
    assert result.returncode == 0
    document = json.loads(result.stdout)
    jsonschema.validate(document, sarif_schema)
    assert document["runs"][0]["results"] == []


# -- GitHub escaping ------------------------------------------------------------------------


def test_github_escapes_data_and_properties() -> None:
    assert escape_data("100% done\r\nnext: a, b") == "100%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"


def test_github_annotation_with_percent_newline_colon_and_comma() -> None:
    span = Span("dir,1/we:ird%.py", 3, 7, 3, 12)
    diagnostic = Diagnostic("OC202", "`retries` is 50%: not\na literal, see `x`", span, "write 1, 2: or 3")
    assert github_annotation(diagnostic, "sub:dir/") == (
        "::error file=sub%3Adir/dir%2C1/we%3Aird%25.py,line=3,col=7,endLine=3,endColumn=12,title=OC202::"
        "`retries` is 50%25: not%0Aa literal, see `x`%0Ahint: write 1, 2: or 3"
    )


def test_github_warning_and_project_level_diagnostics() -> None:
    warning = Diagnostic("OC107", "no `@operation` functions were found", Span("pyproject.toml"), "")
    assert github_annotation(warning) == "::warning file=pyproject.toml,line=1,col=1,title=OC107::" \
                                         "no `@operation` functions were found"
    usage = Diagnostic("OC105", "no flow named `x`", Span("."), "")
    assert github_annotation(usage) == "::error title=OC105::no flow named `x`"


def test_github_report_cannot_be_hijacked_by_user_text() -> None:
    """A message line that looks like a workflow command stays inert in the text report."""
    evil = Diagnostic("OC201", "syntax error\n::add-mask::secret", Span("a.py", 1, 1), "")
    output = render(Report("check", (evil,), 1, "found 1 error"), "github")
    lines = output.splitlines()
    assert lines[0] == "::error file=a.py,line=1,col=1,title=OC201::syntax error%0A::add-mask::secret"
    start = lines.index(next(line for line in lines if line.startswith("::stop-commands::")))
    token = lines[start].removeprefix("::stop-commands::")
    assert token and token not in "\n".join(lines[start + 1:-2])
    assert lines.index("::add-mask::secret") > start and lines[-2] == f"::{token}::"


# -- every kind of diagnostic honours the format ------------------------------------------------


def test_config_error_in_every_format(tmp_path: Path, sarif_schema: dict) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.orchc]\nsourcez = ["."]\n')
    for output_format in FORMATS:
        result = orchc("build", "--output-format", output_format, cwd=tmp_path)
        assert result.returncode == 2
        assert "OC102" in result.stdout
    sarif = json.loads(orchc("check", "--output-format", "sarif", cwd=tmp_path).stdout)
    jsonschema.validate(sarif, sarif_schema)
    assert sarif["runs"][0]["invocations"][0]["exitCode"] == 2


def test_lock_errors_in_json(tmp_path: Path) -> None:
    project = tmp_path / "seed"
    shutil.copytree(SEED, project)
    orchc("build", cwd=project)
    (project / "flows.lock").write_text("<<<<<<< HEAD\nschema = 1\n=======\n>>>>>>> x\n")
    document = json.loads(orchc("check", "--output-format", "json", cwd=project).stdout)
    assert [(d["code"], d["path"], d["line"]) for d in document["diagnostics"]] == [("OC403", "flows.lock", 1)]
    assert document["exit_status"] == 2


@pytest.mark.parametrize("argv", [["graph", "nowhere"], ["explain", "no.such"], ["graph", "--format", "png"],
                                  ["check", "--bogus"], ["diff", "missing.lock"]])
def test_usage_errors_in_json(tmp_path: Path, argv: list[str]) -> None:
    project = tmp_path / "seed"
    shutil.copytree(SEED, project)
    orchc("build", cwd=project)
    result = orchc(*argv, cwd=project, ORCHC_OUTPUT_FORMAT="json")
    assert result.returncode == 2, result.stdout + result.stderr
    assert [d["code"] for d in json.loads(result.stdout)["diagnostics"]] == ["OC105"]


def test_bad_environment_value_is_a_usage_error(project: Path) -> None:
    result = orchc("check", cwd=project, ORCHC_OUTPUT_FORMAT="yaml")
    assert result.returncode == 2
    assert result.stdout.startswith("orchc: OC105 [error] $ORCHC_OUTPUT_FORMAT is `yaml`")  # no file position


# -- check --diff -------------------------------------------------------------------------------


@pytest.fixture
def stale(tmp_path: Path) -> Path:
    project = tmp_path / "seed"
    shutil.copytree(SEED, project)
    assert orchc("build", cwd=project).returncode == 0
    ops = project / "scraping" / "ops.py"
    ops.write_text(ops.read_text().replace("retries=3", "retries=2")
                   + '\n\n@operation(name="scraping.count")\ndef count(merge: list[Job]) -> int:\n'
                   '    return len(merge)\n')
    return project


def test_check_diff_golden_and_the_diffs_apply(stale: Path) -> None:
    """The account above the diffs is golden; the diffs themselves (which follow codegen's
    output) are checked by applying them: the project is then fresh."""
    result = orchc("check", "--diff", cwd=stale)
    assert result.returncode == 1
    account, _, rest = result.stdout.partition("\n--- a/")
    patch, _, last = ("--- a/" + rest).rstrip("\n").rpartition("\n\n")
    golden("check-diff.txt", account + "\n[diffs]\n\n" + last + "\n")
    applied = subprocess.run(["git", "apply", "-"], input=patch + "\n", cwd=stale, capture_output=True, text=True)
    assert applied.returncode == 0, applied.stderr
    assert orchc("check", cwd=stale).returncode == 0


def test_check_diff_is_on_when_ci_is_set(stale: Path) -> None:
    assert "--- a/flows.lock" in orchc("check", cwd=stale, CI="true").stdout
    assert "--- a/flows.lock" not in orchc("check", cwd=stale).stdout
    assert "--- a/flows.lock" not in orchc("check", "--no-diff", cwd=stale, CI="true").stdout
    assert "--- a/flows.lock" not in orchc("check", cwd=stale, CI="false").stdout


def test_check_diff_summary_is_above_the_diffs(stale: Path) -> None:
    out = orchc("check", "--diff", cwd=stale).stdout
    assert out.index("  add operation `scraping.count`") < out.index("--- a/flows.lock")
    assert out.index("  update `scraping.stepstone.fetch`: retries 3 -> 2") < out.index("--- a/flows.lock")
    assert out.index("--- a/orchestration/scraping.py") > out.index("--- a/flows.lock")
    assert out.rstrip("\n").splitlines()[-1].startswith("found ")


def test_check_diff_in_json_and_github(stale: Path) -> None:
    document = json.loads(orchc("check", "--diff", "--output-format", "json", cwd=stale).stdout)
    assert [d["path"] for d in document["diffs"]] == ["flows.lock", "orchestration/scraping.py"]
    assert {"kind": "add", "subject": "scraping.count", "text": "add operation `scraping.count`"} in document["changes"]
    github = orchc("check", "--diff", "--output-format", "github", cwd=stale).stdout
    assert "::group::unified diffs of the stale files" in github and "::endgroup::" in github


def test_check_diff_for_missing_and_extra_files(tmp_path: Path) -> None:
    project = tmp_path / "seed"
    shutil.copytree(SEED, project)
    extra = project / "scraping" / "extra.py"
    extra.write_text('from runtime import operation\n\n\n@operation(name="extra.step")\ndef step() -> int:\n    return 1\n')
    orchc("build", cwd=project)
    (project / "orchestration" / "scraping.py").unlink()
    (project / "orchestration" / "copied.py").write_text("# @generated by orchc\nx = 1\n")  # no lock lists it
    missing = orchc("check", "--diff", cwd=project).stdout
    assert "--- /dev/null\n+++ b/orchestration/scraping.py\n" in missing
    assert "changes from the lockfile" not in missing  # the lock itself is fresh
    assert "copied.py" not in missing  # not orchc's: build would neither write nor remove it
    extra.unlink()  # the group `extra` is gone: build would remove the module the lock lists for it
    gone = orchc("check", "--diff", cwd=project).stdout
    assert "--- a/orchestration/extra.py\n+++ /dev/null\n" in gone and "copied.py" not in gone


def test_check_diff_without_a_lock_prints_no_diff(tmp_path: Path) -> None:
    project = tmp_path / "seed"
    shutil.copytree(SEED, project)
    result = orchc("check", "--diff", cwd=project)
    assert result.returncode == 2
    assert result.stdout.startswith("flows.lock:1:1: OC401") and "+++" not in result.stdout

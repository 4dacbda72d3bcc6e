"""Declared deployments, statically: each problem of a `[tool.orchc.deployments.NAME]`
table is a coded diagnostic at its pyproject line, valid ones are recorded in the lock,
`orchc check` gates them and `orchc diff` shows them. No Prefect server is involved
(`tests/test_deployments_prefect.py` deploys and runs them)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

import compiler
from compiler.config import parse_config
from compiler.deployments.values import fits
from compiler.lock.lockfile import loads

OPS = '''\
from typing import Literal

from runtime import operation


@operation(name="etl.load")
def load(source: str, limit: int = 10, mode: Literal['fast', 'full'] = "fast") -> list[int]:
    return list(range(limit))


@operation(name="etl.total")
def total(load: list[int], weights: dict[str, float] | None = None) -> int:
    return sum(load)
'''
HEAD = '[tool.orchc]\nsources = ["src"]\nout = "orchestration"\n'
TEXTS = {"src/etl/__init__.py": "", "src/etl/ops.py": OPS}


def _analyse(pyproject: str):
    config, problems = parse_config(pyproject)
    assert not problems, problems
    return compiler.analyse_sources(TEXTS, config)


def _line_of(text: str, fragment: str) -> int:
    """The 1-based line of the first line holding `fragment` (read from the input, not the output)."""
    return next(number for number, line in enumerate(text.splitlines(), 1) if fragment in line)


def test_a_valid_deployment_is_recorded_in_the_lock() -> None:
    pyproject = HEAD + '''
[tool.orchc.deployments.nightly]
flow = "etl"
parameters = { source = "data/", limit = 5, weights = { a = 1, b = 0.5 } }
schedule = { cron = "0 2 * * *", timezone = "Europe/Berlin" }
work_pool = "default-pool"
work_queue = "low"
tags = ["nightly", "etl", "nightly"]
description = "the nightly load"
concurrency_limit = 1
paused = true
'''
    outcome = _analyse(pyproject)
    assert outcome.ok and not outcome.diagnostics
    (deployment,) = loads(outcome.lock_text).deployments
    assert deployment.name == "nightly" and deployment.flow == "etl"
    assert json.loads(deployment.parameters) == {"source": "data/", "limit": 5, "weights": {"a": 1, "b": 0.5}}
    assert (deployment.schedule.cron, deployment.schedule.timezone) == ("0 2 * * *", "Europe/Berlin")
    assert (deployment.work_pool, deployment.work_queue) == ("default-pool", "low")
    assert deployment.tags == ["etl", "nightly"]
    assert (deployment.description, deployment.concurrency_limit, deployment.paused) == ("the nightly load", 1, True)


def test_defaults_and_the_other_schedule_kinds() -> None:
    pyproject = HEAD + '''
[tool.orchc.deployments.often]
flow = "etl"
parameters = { source = "x" }
schedule = { interval = 2.5 }

[tool.orchc.deployments.hourly]
flow = "etl"
parameters = { source = "x" }
schedule = { rrule = "FREQ=HOURLY;BYMINUTE=5" }

[tool.orchc.deployments.manual]
flow = "etl"
parameters = { source = "x" }
'''
    lock = loads(_analyse(pyproject).lock_text)
    by_name = {d.name: d for d in lock.deployments}
    assert [d.name for d in lock.deployments] == ["hourly", "manual", "often"]
    assert by_name["often"].schedule.interval == 2.5 and by_name["hourly"].schedule.rrule == "FREQ=HOURLY;BYMINUTE=5"
    manual = by_name["manual"]
    assert manual.schedule is None and (manual.work_pool, manual.work_queue) == ("orchc", "default")
    assert (manual.tags, manual.description, manual.concurrency_limit, manual.paused) == ([], None, None, False)


def test_a_lock_without_deployments_still_reads() -> None:
    lock = loads(_analyse(HEAD).lock_text)
    assert lock.deployments is None and lock.deployment("x") is None and "deployments" not in _analyse(HEAD).lock_text


BAD = HEAD + '''
[tool.orchc.deployments.typo]
flow = "etl"
parameters = { source = "x" }
schedul = { cron = "0 2 * * *" }

[tool.orchc.deployments.noflow]
parameters = { source = "x" }

[tool.orchc.deployments.wrongflow]
flow = "elt"

[tool.orchc.deployments.settings]
flow = "etl"
parameters = { source = "x" }
work_pool = ""
tags = "nightly"
concurrency_limit = 0
paused = "no"

[tool.orchc.deployments.params]
flow = "etl"

[tool.orchc.deployments.params.parameters]
sorce = "x"
limit = "5"
mode = "slow"
weights = { a = "heavy" }

[tool.orchc.deployments.cron]
flow = "etl"
parameters = { source = "x" }
schedule = { cron = "61 * * * *" }

[tool.orchc.deployments.zone]
flow = "etl"
parameters = { source = "x" }
schedule = { cron = "0 2 * * *", timezone = "Mars/Olympus" }

[tool.orchc.deployments.interval]
flow = "etl"
parameters = { source = "x" }
schedule = { interval = -5 }

[tool.orchc.deployments.two]
flow = "etl"
parameters = { source = "x" }
schedule = { interval = 5, cron = "0 2 * * *" }

[tool.orchc.deployments."a/b"]
flow = "etl"
parameters = { source = "x" }
'''


@pytest.mark.parametrize(("code", "fragment", "message", "hint"), [
    ("OC501", "schedul = ", "unknown key `schedul`", "did you mean `schedule`?"),
    ("OC503", "[tool.orchc.deployments.noflow]", "names no `flow`", "`etl`"),
    ("OC503", 'flow = "elt"', "'elt' is not a flow", "did you mean `etl`?"),
    ("OC502", 'work_pool = ""', "`work_pool` must be", "set `work_pool`"),
    ("OC502", 'tags = "nightly"', "`tags` must be", "set `tags`"),
    ("OC502", "concurrency_limit = 0", "`concurrency_limit` must be", "1 or more"),
    ("OC502", 'paused = "no"', "`paused` must be", "`true` or `false`"),
    ("OC504", 'sorce = "x"', "has no parameter `sorce`", "did you mean `source`?"),
    ("OC505", 'limit = "5"', "`limit` is `int`, got a string", "type `int`"),
    ("OC505", 'mode = "slow"', "`mode` is `Literal['fast', 'full']`", "type"),
    ("OC505", 'weights = { a = "heavy" }', "`weights` is `dict[str, float] | None`, got a table", "type"),
    ("OC506", "[tool.orchc.deployments.params.parameters]", "requires `source`", "set `source`"),
    ("OC507", 'cron = "61 * * * *"', "Invalid cron string", "five fields"),
    ("OC507", 'timezone = "Mars/Olympus"', "Invalid timezone", "IANA"),
    ("OC507", "interval = -5", "positive number of seconds", "interval = 300"),
    ("OC507", 'schedule = { interval = 5, cron = "0 2 * * *" }', "exactly one of", "another deployment"),
    ("OC502", '[tool.orchc.deployments."a/b"]', "not usable", "rename"),
])
def test_each_problem_is_a_coded_diagnostic_at_its_line(code: str, fragment: str, message: str, hint: str) -> None:
    outcome = _analyse(BAD)
    assert not outcome.ok
    line = _line_of(BAD, fragment)
    found = [d for d in outcome.diagnostics if d.code == code and d.span.line == line]
    assert found, [(d.code, d.span.line, d.message) for d in outcome.diagnostics]
    assert found[0].span.path == "pyproject.toml"
    assert message in found[0].message and hint in found[0].hint


def test_deployments_that_are_not_tables_are_refused() -> None:
    _, problems = parse_config(HEAD + "deployments = 3\n")
    assert [d.code for d in problems] == ["OC103"]
    text = HEAD + "\n[tool.orchc.deployments]\nnightly = 3\n"
    config, problems = parse_config(text)
    assert not problems
    outcome = compiler.analyse_sources(TEXTS, config)
    assert [d.code for d in outcome.diagnostics] == ["OC502"]
    assert outcome.diagnostics[0].span.line == _line_of(text, "nightly = 3")


@settings(max_examples=15, deadline=None)
@given(st.permutations(["a", "b", "c", "d"]), st.permutations(["flow", "parameters", "schedule", "tags"]))
def test_the_lock_does_not_depend_on_the_order_of_declarations(names: list[str], keys: list[str]) -> None:
    values = {"flow": '"etl"', "parameters": '{ source = "s", limit = 3 }', "schedule": "{ interval = 60 }",
              "tags": '["x", "a"]'}
    text = HEAD + "".join(f"\n[tool.orchc.deployments.{name}]\n" + "".join(f"{key} = {values[key]}\n" for key in keys)
                          for name in names)
    reference = HEAD + "".join(f"\n[tool.orchc.deployments.{name}]\n" + "".join(f"{key} = {values[key]}\n" for key in sorted(keys))
                               for name in sorted(names))
    assert _analyse(text).lock_text == _analyse(reference).lock_text


# -- the static value check, against pydantic ------------------------------------------------

TYPES = {"int": int, "float": float, "str": str, "bool": bool, "list[int]": list[int], "list[str]": list[str],
         "dict[str, int]": dict[str, int], "str | None": str | None, "tuple[int, str]": tuple[int, str],
         "list[float] | None": list[float] | None}
TOML_VALUES = st.recursive(
    st.one_of(st.integers(-5, 5), st.floats(allow_nan=False, allow_infinity=False, width=32), st.booleans(),
              st.text(max_size=3)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=2), inner, max_size=2)),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(TYPES)), TOML_VALUES)
def test_the_static_check_agrees_with_pydantic(annotation: str, value: object) -> None:
    """What `fits` accepts pydantic accepts; what it refuses, pydantic in strict mode refuses."""
    answer = fits(value, annotation)
    adapter = TypeAdapter(TYPES[annotation])
    if answer is True:
        adapter.validate_python(value)
    elif answer is False:
        with pytest.raises(ValidationError):
            adapter.validate_python(value, strict=True)


def test_project_types_are_left_to_the_run() -> None:
    assert fits({"a": 1}, "pkg.models.Config") is None and fits([1], "pkg.Box[int]") is None
    assert fits("x", "pathlib.Path") is True and fits(3, "pathlib.Path") is False


# -- the gate and the diff, through the CLI --------------------------------------------------


def _orchc(project: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "compiler", *args], cwd=project, capture_output=True, text=True, timeout=120)


def test_check_gates_a_changed_schedule_and_diff_shows_it(tmp_path: Path) -> None:
    for path, text in TEXTS.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
    declared = '\n[tool.orchc.deployments.nightly]\nflow = "etl"\nparameters = { source = "x" }\nschedule = { cron = "0 2 * * *" }\n'
    (tmp_path / "pyproject.toml").write_text(HEAD + declared)
    assert _orchc(tmp_path, "build").returncode == 0
    assert _orchc(tmp_path, "check").returncode == 0
    before = (tmp_path / "flows.lock").read_text()
    (tmp_path / "before.lock").write_text(before)
    (tmp_path / "pyproject.toml").write_text(HEAD + declared.replace("0 2 * * *", "30 3 * * *"))
    check = _orchc(tmp_path, "check")
    assert check.returncode == 1
    line = _line_of(HEAD + declared, "[tool.orchc.deployments.nightly]")
    assert f"pyproject.toml:{line}:1: OC405" in check.stdout
    assert "deployment `nightly`: schedule cron '0 2 * * *' -> cron '30 3 * * *'" in check.stdout
    assert (tmp_path / "flows.lock").read_text() == before  # check writes nothing
    assert _orchc(tmp_path, "build").returncode == 0
    diff = _orchc(tmp_path, "diff", "before.lock")
    assert diff.returncode == 0, diff.stderr
    assert "### Deployments" in diff.stdout and "schedule cron '0 2 * * *' -> cron '30 3 * * *'" in diff.stdout
    rebuilt = (tmp_path / "flows.lock").read_text()
    assert "30 3 * * *" in rebuilt
    (tmp_path / "pyproject.toml").write_text(HEAD + declared.replace('"etl"', '"elt"'))
    refused = _orchc(tmp_path, "build")
    assert refused.returncode == 1 and "OC503" in refused.stdout and "Traceback" not in refused.stdout + refused.stderr
    assert (tmp_path / "flows.lock").read_text() == rebuilt  # nothing half-written

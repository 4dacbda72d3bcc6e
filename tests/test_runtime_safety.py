"""The runtime does not trust the lock or the generated modules: each attack found so far,
on a project built by `orchc build` then tampered with, run through `python -m runtime`.

Every attack would leave a marker file if its code ran; each test asserts the refusal
(exit status, one message, no traceback) and that the marker is absent.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from compiler import api
from runtime import cli
from runtime.trust import path_problem
from tests.prefect_server import free_port

SOURCE = '''
    from runtime import operation

    @operation(name="g.one")
    def one(command: str) -> str:
        return command

    @operation(name="g.two")
    def two(one: str) -> int:
        return len(one)
'''


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project built by `orchc build`: package `ops_<id>` (unique: Python caches modules
    per process) holding flow `g`, generated modules in `gen_<id>`."""
    tag = uuid.uuid4().hex[:8]
    root = tmp_path / "proj"
    package = root / f"ops_{tag}"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(textwrap.dedent(SOURCE))
    (root / "pyproject.toml").write_text(f'[tool.orchc]\nsources = ["."]\nout = "gen_{tag}"\n')
    assert "flows.lock" in api.build(root).written
    return root


def package_of(root: Path) -> str:
    return next(path.name for path in root.iterdir() if path.name.startswith("ops_"))


def out_of(root: Path) -> str:
    return next(path.name for path in root.iterdir() if path.name.startswith("gen_"))


def replace_in(path: Path, old: str, new: str) -> None:
    """Edit `path` as an attacker would: the first `old` becomes `new`."""
    text = path.read_text()
    assert old in text, f"{old!r} not in {path.name}"
    path.write_text(text.replace(old, new, 1))


def run(root: Path, *args: str, env: dict[str, str | None] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess:
    """`python -m runtime ARGS --project ROOT`, from outside the project (so the project
    is not on `sys.path` before the runtime starts); Prefect's state in a temporary home.
    `env` adds variables, or removes those given as None."""
    environ = {**os.environ, "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "PREFECT_LOGGING_LEVEL": "WARNING",
               "PREFECT_HOME": str(root.parent / "prefect-home"), "ORCHC_ENGINE": None, **(env or {})}
    environ = {name: value for name, value in environ.items() if value is not None}
    return subprocess.run([sys.executable, "-m", "runtime", *args, "--project", str(root)], cwd=root.parent,
                          env=environ, capture_output=True, text=True, timeout=timeout)


def marker_command(root: Path) -> tuple[Path, str]:
    marker = root.parent / "MARKER"
    return marker, f"touch {marker}"


def assert_refused(done: subprocess.CompletedProcess, code: int, *expected: str) -> None:
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: "), done.stderr
    for text in expected:
        assert text in done.stderr, done.stderr


# -- the lock -------------------------------------------------------------------------------


def test_the_untampered_project_runs(project):
    done = run(project, "g", "--engine", "local", "--param", "command=echo hi")
    assert done.returncode == 0 and done.stdout.strip() == "7", done.stderr


def test_lock_naming_os_system_is_refused_before_any_import(project):
    package = package_of(project)
    replace_in(project / "flows.lock", f'module = "{package}.a"', 'module = "os"')
    replace_in(project / "flows.lock", 'function = "one"', 'function = "system"')
    marker, command = marker_command(project)
    done = run(project, "g", "--engine", "local", "--param", f"command={command}")
    assert_refused(done, 1, f"operation `g.one`: module `os` is not the module of its file `{package}/a.py` "
                            f"(expected `{package}.a`)", "orchc build")
    assert not marker.exists()


def test_lock_calling_a_name_the_module_imports_is_refused(project):
    """The module is right, but `function` names what the module imported (`os.system`)."""
    package = package_of(project)
    with (project / package / "a.py").open("a") as source:
        source.write("\nfrom os import system\n")
    replace_in(project / "flows.lock", 'function = "one"', 'function = "system"')
    marker, command = marker_command(project)
    done = run(project, "g", "--engine", "local", "--param", f"command={command}")
    assert_refused(done, 1, "`g.one`: function `system` is no longer defined in")
    assert not marker.exists()


@pytest.mark.parametrize("file", ["/tmp/evil.py", "../evil.py", "ops\\..\\..\\evil.py", "evil.txt"])
def test_operation_file_outside_the_project_is_refused(project, file):
    package = package_of(project)
    replace_in(project / "flows.lock", f'file = "{package}/a.py"', f"file = '{file}'")
    done = run(project, "g", "--engine", "local", "--param", "command=x")
    assert_refused(done, 1, f"operation `g.one`: file `{file}`")


@pytest.mark.parametrize("root", ["/tmp/x", "../x"])
def test_source_roots_outside_the_project_are_refused_and_kept_off_sys_path(project, root, monkeypatch, capsys):
    replace_in(project / "flows.lock", 'source_roots = [\n    ".",\n]', f'source_roots = [\n    "{root}",\n    ".",\n]')
    monkeypatch.setattr(sys, "path", list(sys.path))
    assert cli.main(["g", "--engine", "local", "--param", "command=x", "--project", str(project)]) == 1
    assert f"`project.source_roots` `{root}`" in capsys.readouterr().err
    assert not any(path.endswith("/x") for path in sys.path)


def test_out_outside_the_project_is_refused(project):
    out = out_of(project)
    replace_in(project / "flows.lock", f'out = "{out}"', f'out = "../{out}"')
    assert_refused(run(project, "--list"), 1, f"`project.out` `../{out}` leaves the project")


def test_lock_path_outside_the_project_is_refused(project):
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write('lock = "../elsewhere/flows.lock"\n')
    assert_refused(run(project, "--list"), 2, "`[tool.orchc] lock` `../elsewhere/flows.lock`", "leaves the project")


def test_flow_listing_an_unknown_operation_is_refused(project):
    replace_in(project / "flows.lock", '    "g.two",\n]\nsinks', '    "g.two",\n    "g.nowhere",\n]\nsinks')
    done = run(project, "g", "--engine", "local", "--param", "command=x")
    assert_refused(done, 1, "flow `g`: operation `g.nowhere` is not in the lock")
    assert "KeyError" not in done.stderr


def test_deeply_nested_lock_is_one_line(project):
    (project / "flows.lock").write_text("schema = 1\nx = " + "[" * 5000 + "]" * 5000 + "\n")
    done = run(project, "g", "--engine", "local")
    assert_refused(done, 2, "nested too deeply")
    assert len(done.stderr.splitlines()) == 2  # the message and its hint


def test_deeply_nested_pyproject_is_one_line(project):
    with (project / "pyproject.toml").open("a") as pyproject:
        pyproject.write("x = " + "[" * 5000 + "]" * 5000 + "\n")
    done = run(project, "--list")
    assert_refused(done, 2, "pyproject.toml", "nested too deeply")
    assert len(done.stderr.splitlines()) == 2


def test_module_imported_from_elsewhere_is_refused(tmp_path):
    """A project module named like one the runtime imported already (`json`) would be
    that module, not the project's file: refused after the import."""
    root = tmp_path / "proj"
    root.mkdir()
    (root / "json.py").write_text(textwrap.dedent('''
        from runtime import operation

        @operation(name="dumps")
        def dumps() -> str:
            return "the project's"
    '''))
    (root / "pyproject.toml").write_text('[tool.orchc]\nsources = ["."]\n')
    assert "flows.lock" in api.build(root).written
    done = run(root, "dumps", "--engine", "local")
    assert_refused(done, 1, "refusing operation `dumps`: its module is not the locked file",
                   f"not from `{root / 'json.py'}`")


@pytest.mark.parametrize("value, problem", [
    ("ops/a.py", None), (".", None), ("/etc/x", "absolute"), ("C:/x", "absolute"), ("C:x", "absolute"),
    ("a/../../b", "leaves the project"), ("a\\b", "not a POSIX path"), ("", "not a path"),
])
def test_path_problem(value, problem):
    found = path_problem(value)
    assert (found is None) if problem is None else (problem in found)


# -- generated modules (prefect engine) -------------------------------------------------------


#: if anything got past the check, Prefect would fail fast instead of starting a server
NO_SERVER = {"PREFECT_CLIENT_MAX_RETRIES": "0"}


def test_code_appended_to_a_generated_module_never_runs(project):
    marker, _ = marker_command(project)
    with (project / out_of(project) / "g.py").open("a") as module:
        module.write(f"\nopen({str(marker)!r}, 'w').close()\n")
    env = {**NO_SERVER, "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}
    done = run(project, "g", "--engine", "prefect", "--param", "command=x", env=env)
    assert_refused(done, 1, f"generated module `{out_of(project)}/g.py` differs from the lock's sha256")
    assert not marker.exists()


def test_generated_module_missing_from_the_lock_is_refused(project):
    out = out_of(project)
    text = (project / "flows.lock").read_text()
    start = text.index(f'[[generated]]\npath = "{out}/__init__.py"')
    (project / "flows.lock").write_text(text[:start] + text[text.index("[[generated]]", start + 1):])
    env = {**NO_SERVER, "PREFECT_API_URL": f"http://127.0.0.1:{free_port()}/api"}
    done = run(project, "g", "--engine", "prefect", "--param", "command=x", env=env)
    assert_refused(done, 1, f"generated module `{out}/__init__.py` is not listed in the lock's `[[generated]]`")


# -- environment failures ---------------------------------------------------------------------


def test_unreachable_prefect_api_is_an_environment_failure(project):
    url = f"http://127.0.0.1:{free_port()}/api"
    done = run(project, "g", "--engine", "prefect", "--param", "command=x",
               env={**NO_SERVER, "PREFECT_API_URL": url}, timeout=60)
    assert_refused(done, 2, f"cannot reach the Prefect API at {url}", "prefect server start", "--engine local")


def test_temporary_server_not_starting_in_time_is_an_environment_failure(project):
    env = {**NO_SERVER, "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "0", "PREFECT_API_URL": None}
    done = run(project, "g", "--engine", "prefect", "--param", "command=x", env=env, timeout=60)
    assert_refused(done, 2, "Prefect's temporary server did not start in time",
                   "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "--engine local")


# -- what a review of the first version found ---------------------------------------------------


def test_a_flow_parameter_naming_an_operation_outside_the_flow_is_refused(project):
    """Parsing a parameter imports its consumers: a consumer outside the flow's members
    (whose source hash is never checked) must be refused before that import."""
    scripts = project / "scripts"
    scripts.mkdir()
    marker, command = marker_command(project)
    (scripts / "reset_db.py").write_text(f"import os\nos.system({command!r})\n\ndef x(command: str) -> str:\n    return ''\n")
    lock = project / "flows.lock"
    replace_in(lock, "consumers = [\n", 'consumers = [\n    "x",\n')
    done = run(project, "g", "--engine", "local", "--param", "command=hi")
    assert_refused(done, 1, "parameter `command` names `x`, which is not one of its operations")
    assert not marker.exists()


def test_a_source_root_the_configuration_does_not_give_is_refused(project):
    """An extra source root listed first would put an attacker's `a.py` before the project's."""
    package = package_of(project)
    shadow = project / "shadow" / package
    shadow.mkdir(parents=True)
    marker, command = marker_command(project)
    (shadow / "__init__.py").write_text(f"import os\nos.system({command!r})\n")
    replace_in(project / "flows.lock", 'source_roots = [\n    ".",\n]', 'source_roots = [\n    "shadow",\n    ".",\n]')
    done = run(project, "g", "--engine", "local", "--param", "command=hi")
    assert_refused(done, 1, "`project.source_roots`", "`[tool.orchc]` gives")
    assert not marker.exists()

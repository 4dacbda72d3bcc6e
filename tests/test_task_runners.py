"""The task runner, statically and at the edges: `[tool.orchc] task_runner` and a
deployment's `task_runner` are recorded in the lock and generated into the flows, a change
is what `orchc check` reports, and a runner whose extra is missing fails in one line.
(The runners themselves run on real clusters in `tests/test_distributed.py`.)"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import compiler
from compiler.config import parse_config
from compiler.lock.lockfile import loads

OPS = 'from runtime import operation\n\n\n@operation(name="etl.load")\ndef load() -> int:\n    return 1\n'
HEAD = '[tool.orchc]\nsources = ["src"]\nout = "orchestration"\n'
TEXTS = {"src/etl/__init__.py": "", "src/etl/ops.py": OPS}


def _outcome(pyproject: str):
    config, problems = parse_config(pyproject)
    assert not problems
    return compiler.analyse_sources(TEXTS, config)


def test_the_runner_is_locked_and_generated() -> None:
    threads, dask = _outcome(HEAD), _outcome(HEAD + 'task_runner = "dask"\n')
    assert loads(threads.lock_text).project.task_runner is None and "task_runner" not in threads.lock_text
    assert loads(dask.lock_text).project.task_runner == "dask"
    (thread_module,) = [m.text for m in threads.modules if m.path.endswith("etl.py")]
    (dask_module,) = [m.text for m in dask.modules if m.path.endswith("etl.py")]
    assert 'task_runner=runtime.task_runner("thread", max_workers=1)' in thread_module
    assert 'task_runner=runtime.task_runner("dask", max_workers=1)' in dask_module


def test_a_deployment_may_choose_its_runner() -> None:
    declared = '\n[tool.orchc.deployments.big]\nflow = "etl"\ntask_runner = "ray"\n'
    (deployment,) = loads(_outcome(HEAD + declared).lock_text).deployments
    assert deployment.task_runner == "ray"
    wrong = _outcome(HEAD + declared.replace('"ray"', '"spark"'))
    assert [d.code for d in wrong.diagnostics] == ["OC502"] and "`task_runner` must be one of" in wrong.diagnostics[0].message


def _run(args: list[str], cwd: Path, prelude: str = "") -> subprocess.CompletedProcess:
    code = f"{prelude}\nfrom runtime.cli import main\nraise SystemExit(main({args!r}))"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=300)


def _project(root: Path, runner: str) -> Path:
    (root / "src" / "etl").mkdir(parents=True)
    for path, text in TEXTS.items():
        (root / path).write_text(text)
    (root / "pyproject.toml").write_text(HEAD + f'task_runner = "{runner}"\n')
    done = subprocess.run([sys.executable, "-m", "compiler", "build"], cwd=root, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout
    return root


def test_check_reports_a_changed_runner(tmp_path: Path) -> None:
    project = _project(tmp_path, "dask")
    (project / "pyproject.toml").write_text(HEAD + 'task_runner = "ray"\n')
    done = subprocess.run([sys.executable, "-m", "compiler", "check"], cwd=project, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "task runner `dask` -> `ray`" in done.stdout


#: an interpreter on which `prefect_dask` is not installed: importing it fails
_WITHOUT_DASK = '''
import sys
class _Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("prefect_dask", "distributed"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
sys.meta_path.insert(0, _Missing())
'''


def test_a_missing_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    project = _project(tmp_path, "dask")
    done = _run(["etl"], project, _WITHOUT_DASK)
    assert done.returncode == 2, done.stderr
    assert "error: the `dask` task runner needs the `dask` extra (`prefect_dask` is not installed)" in done.stderr
    assert "hint: pip install 'orchc[dask]'" in done.stderr and "Traceback" not in done.stderr


def test_runner_options_need_the_prefect_engine(tmp_path: Path) -> None:
    project = _project(tmp_path, "dask")
    local = _run(["etl", "--engine", "local"], project)
    assert local.returncode == 0 and local.stdout.strip() == "1"  # the local engine ignores the lock's runner
    refused = _run(["etl", "--engine", "local", "--task-runner", "ray"], project)
    assert refused.returncode == 2 and "need the prefect engine" in refused.stderr


def test_ray_needs_only_the_ray_extra(tmp_path: Path) -> None:
    code = _WITHOUT_DASK + "import runtime.ray_support\nprint('imported')"
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.strip() == "imported", done.stderr[-2000:]

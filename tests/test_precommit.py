"""The pre-commit hooks, run for real: `pre-commit try-repo` installs orchc from a copy of
this repository into its own virtualenv and runs `orchc-build` / `orchc-check` on a
temporary user project. The first install downloads orchc's dependencies (with
pre-commit-uv, a test dependency, about 30 s instead of 4 minutes)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SEED = Path(__file__).parent / "cases" / "scraping_seed" / "project"
PRE_COMMIT = [sys.executable, "-m", "pre_commit"]
HOOK_FILES = ("pyproject.toml", "README.md", ".pre-commit-hooks.yaml", "compiler", "runtime")



def _env(home: Path) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("GIT_", "PRE_COMMIT", "VIRTUAL_ENV"))}
    return keep | {
        "PRE_COMMIT_HOME": str(home), "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com",
    }


def _git(*args: str, cwd: Path, env: dict[str, str]) -> None:
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, timeout=60)


def _copy_hooks_repo(target: Path) -> None:
    target.mkdir()
    for name in HOOK_FILES:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, target / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        elif source.is_file():
            shutil.copy2(source, target / name)
    (target / "README.md").touch()  # pyproject.toml names it as the readme


@pytest.fixture(scope="module")
def repos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, str]]:
    base = tmp_path_factory.mktemp("precommit")
    env = _env(base / "home")
    hooks, user = base / "hooks", base / "user"
    _copy_hooks_repo(hooks)
    shutil.copytree(SEED, user)
    for repo in (hooks, user):
        _git("init", "-q", cwd=repo, env=env)
        _git("add", "-A", cwd=repo, env=env)
        _git("commit", "-qm", "initial", cwd=repo, env=env)
    return hooks, user, env


def try_repo(repos: tuple[Path, Path, dict[str, str]], hook: str, *args: str) -> subprocess.CompletedProcess:
    hooks, user, env = repos
    return subprocess.run([*PRE_COMMIT, "try-repo", str(hooks), hook, *args], cwd=user, env=env,
                          capture_output=True, text=True, timeout=900)


def test_hook_definitions() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"orchc-check", "orchc-build"}
    for hook in hooks.values():
        assert hook["pass_filenames"] is False and hook["require_serial"] is True
        assert hook["language"] == "python"
    files = re.compile(hooks["orchc-check"]["files"])
    assert all(files.search(p) for p in ("a/b.py", "pyproject.toml", "sub/pyproject.toml", "flows.lock"))
    assert not any(files.search(p) for p in ("README.md", "notes.txt", "myflows.lock", "x.pyc"))


def test_build_then_check_then_stale(repos: tuple[Path, Path, dict[str, str]]) -> None:
    hooks, user, env = repos
    first = try_repo(repos, "orchc-build", "--all-files")
    assert first.returncode == 0, first.stdout + first.stderr  # new files are not "modified" to pre-commit
    assert (user / "flows.lock").is_file() and (user / "orchestration" / "scraping.py").is_file()
    _git("add", "-A", cwd=user, env=env)
    _git("commit", "-qm", "lock", cwd=user, env=env)
    fresh = try_repo(repos, "orchc-check", "--all-files")
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "Passed" in fresh.stdout

    ops = user / "scraping" / "ops.py"
    ops.write_text(ops.read_text().replace("retries=3", "retries=4"))
    _git("add", "-A", cwd=user, env=env)
    stale = try_repo(repos, "orchc-check")
    assert stale.returncode == 1, stale.stdout + stale.stderr
    assert "OC405" in stale.stdout and "retries 3 -> 4" in stale.stdout

    rebuilt = try_repo(repos, "orchc-build")
    assert rebuilt.returncode == 1  # pre-commit fails a hook that changed tracked files ...
    assert "files were modified by this hook" in rebuilt.stdout
    _git("add", "-A", cwd=user, env=env)  # ... and once they are staged, the check passes
    assert try_repo(repos, "orchc-check").returncode == 0
    _git("commit", "-qm", "retries", cwd=user, env=env)


def test_check_skips_when_no_relevant_file_changed(repos: tuple[Path, Path, dict[str, str]]) -> None:
    hooks, user, env = repos
    (user / "notes.txt").write_text("not python\n")
    _git("add", "notes.txt", cwd=user, env=env)
    skipped = try_repo(repos, "orchc-check")
    assert skipped.returncode == 0
    assert "Skipped" in skipped.stdout

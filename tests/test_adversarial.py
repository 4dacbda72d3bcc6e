"""Attacks on orchc, as data: each folder under tests/adversarial/ once destroyed a user's
files, ran unreviewed code or ended in a traceback; now each is refused with a code and
leaves every file as it was, or succeeds touching only orchc's own outputs (see the
folder's README for the `case.toml` keys)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomli

CASES = Path(__file__).parent / "adversarial"
BASE = CASES / "_base"
_DEFAULT_CONFIG = ['sources = ["ops"]']


def _names() -> list[str]:
    return sorted(p.name for p in CASES.iterdir() if p.is_dir() and not p.name.startswith("_"))


def lay_out(case: Path, project: Path) -> dict:
    """Copy the base project and the case's files into `project`; return the case's spec."""
    spec = tomli.loads((case / "case.toml").read_text(encoding="utf-8"))
    shutil.copytree(BASE, project)
    if (case / "project").is_dir():
        shutil.copytree(case / "project", project, dirs_exist_ok=True)
    if not (case / "project" / "pyproject.toml").is_file():
        table = "\n".join(spec.get("config", _DEFAULT_CONFIG))
        (project / "pyproject.toml").write_text(f'[project]\nname = "victim"\nversion = "0"\n\n[tool.orchc]\n{table}\n')
    for link, target in spec.get("symlinks", {}).items():
        (project / link).symlink_to(target)
    return spec


def snapshot(project: Path) -> dict[str, bytes | str]:
    """Every entry under `project` but orchc's cache: path -> bytes (a link: its target)."""
    found: dict[str, bytes | str] = {}
    for folder, dirs, files in os.walk(project):
        dirs[:] = [d for d in dirs if d != ".orchc_cache" and not (Path(folder) / d).is_symlink()]
        for name in [*files, *(d for d in os.listdir(folder) if (Path(folder) / d).is_symlink() and d not in files)]:
            path = Path(folder) / name
            relative = path.relative_to(project).as_posix()
            found[relative] = f"-> {os.readlink(path)}" if path.is_symlink() else path.read_bytes()
    return found


def orchc(command: str, project: Path, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "compiler", command], cwd=project, env=env,
                          capture_output=True, text=True, timeout=300)


def outputs_of(project: Path, lock: str = "flows.lock") -> set[str]:
    """The lock and the generated files it records."""
    data = tomli.loads((project / lock).read_text(encoding="utf-8"))
    return {lock, *(entry["path"] for entry in data.get("generated", []))}


@pytest.mark.parametrize("name", _names())
def test_attack_is_refused_or_harmless(name: str, tmp_path: Path) -> None:
    project = tmp_path / "project"
    spec = lay_out(CASES / name, project)
    before = snapshot(project)
    result = orchc(spec.get("command", "build"), project, tmp_path / "home")
    printed = result.stdout + result.stderr
    assert result.returncode == spec["exit"], printed
    assert "Traceback" not in printed and "OC901" not in printed, printed
    for code in spec.get("codes", []):
        assert f" {code} " in result.stdout, f"{code} not reported:\n{printed}"
    after = snapshot(project)
    if spec["changes"] == "none":
        assert after == before
    else:
        kept = {path: data for path, data in before.items() if path not in outputs_of(project)}
        assert {path: after.get(path) for path in kept} == kept
    for path in spec.get("absent", []):
        assert not (project / path).exists()

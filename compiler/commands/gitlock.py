"""Git, read-only: where a project sits in its repository, and a lockfile as committed at a
ref (`orchc diff git:main`). Runs `git` itself; never checks anything out or writes."""

from __future__ import annotations

import subprocess
from pathlib import Path

from compiler.diagnostics import UsageError

GIT_PREFIX = "git:"


def repository_prefix(root: Path) -> str:
    """The project folder relative to the repository holding it, as `sub/dir/` (`""` when
    the project is the repository, or in no repository). Found without running git."""
    root = root.resolve()
    for folder in (root, *root.parents):
        if (folder / ".git").exists():
            relative = root.relative_to(folder).as_posix()
            return "" if relative == "." else relative + "/"
    return ""


def read_committed(root: Path, ref: str, relative: str) -> str:
    """The text of project-relative file `relative` as committed at `ref`.

    Raises UsageError when git is missing, `ref` is unknown, or the file is not in it.
    """
    if not ref or ref.startswith("-"):
        raise UsageError(f"`{GIT_PREFIX}{ref}` is not a git ref", "write `git:REF`, e.g. `git:origin/main`")
    try:
        done = subprocess.run(["git", "show", f"{ref}:./{relative}"], cwd=root, capture_output=True, timeout=60)
    except FileNotFoundError:
        raise UsageError("`git` is not installed", "install git, or pass lockfile paths instead of `git:REF`") from None
    if done.returncode != 0:
        reason = done.stderr.decode("utf-8", "replace").strip().splitlines()
        raise UsageError(f"cannot read `{relative}` at `{ref}`: {reason[-1] if reason else 'git failed'}",
                         "check the ref (`git log --oneline`) and that the lockfile was committed there")
    return done.stdout.decode("utf-8")

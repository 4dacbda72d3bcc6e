"""orchc writes only its own outputs, all or nothing: forged cache entries, a full disk, an
immutable file, a killed run's temporaries, file modes, the manifest that decides what is
removed, and a property over `lock`/`out`/`sources` settings. Each test runs the real
command line (or the writer) on a real file system."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from compiler.writer import WriteError, commit
from tests.test_adversarial import BASE, orchc, outputs_of, snapshot

NEW_OPERATION = '\n\n@operation(name="g.extra")\ndef extra(total: int) -> int:\n    return total + 1\n'


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The adversarial base project, built once."""
    root = tmp_path / "project"
    shutil.copytree(BASE, root)
    assert orchc("build", root, tmp_path / "home").returncode == 0
    return root


def build(root: Path, extra_env: dict[str, str] | None = None, **kwargs) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CACHE_HOME": str(root.parent / "home"), **(extra_env or {})}
    return subprocess.run([sys.executable, "-m", "compiler", "build"], cwd=root, env=env,
                          capture_output=True, text=True, timeout=300, **kwargs)


def add_operation(root: Path) -> None:
    with (root / "ops" / "a.py").open("a") as stream:
        stream.write(NEW_OPERATION)


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.rglob("*") if p.name.endswith((".orchc-tmp", ".orchc-bak", ".tmp")))


# -- the cache never changes what orchc writes -------------------------------------------


def test_a_forged_format_entry_never_reaches_a_generated_module(project: Path) -> None:
    """The attack: edit black's cached output to `import os; os.system(...)`, keeping the
    entry's name (and, since it has one now, its HMAC); build and check must ignore it."""
    expected = {path: (project / path).read_bytes() for path in outputs_of(project)}
    entries = sorted((project / ".orchc_cache" / "format").glob("*.json"))
    assert entries
    for entry in entries:
        mac, _, data = entry.read_bytes().partition(b"\n")
        record = json.loads(data)
        record["payload"] = "import os; os.system('touch PWNED')\n" + record["payload"]
        entry.write_bytes(mac + b"\n" + json.dumps(record).encode())
    shutil.rmtree(project / "orchestration")
    (project / "flows.lock").unlink()
    assert build(project).returncode == 0
    assert {path: (project / path).read_bytes() for path in expected} == expected
    assert orchc("check", project, project.parent / "home").returncode == 0
    assert not (project / "PWNED").exists()


# -- all or nothing ---------------------------------------------------------------------------


def _limit_file_size(limit: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_full_disk_leaves_the_previous_outputs(project: Path) -> None:
    before = snapshot(project)
    add_operation(project)
    before["ops/a.py"] = (project / "ops" / "a.py").read_bytes()
    lock_size = (project / "flows.lock").stat().st_size
    # every file the build writes grows past this; Python ignores SIGXFSZ, so a write fails with EFBIG
    done = build(project, {"ORCHC_NO_CACHE": "1"}, preexec_fn=_limit_file_size(lock_size // 2))
    assert done.returncode == 2, done.stdout + done.stderr
    assert " OC407 " in done.stdout and "Traceback" not in done.stdout + done.stderr
    assert "nothing was changed" in done.stdout
    assert snapshot(project) == before
    assert leftovers(project) == []


@contextlib.contextmanager
def _unreplaceable(path: Path) -> Iterator[None]:
    """Make `path` a file no rename can replace: immutable (`chattr +i`, as root), or where
    that is not permitted (an unprivileged CI runner), a folder with a file in it."""
    chattr = shutil.which("chattr")
    if chattr and subprocess.run([chattr, "+i", str(path)], capture_output=True).returncode == 0:
        try:
            yield
        finally:
            subprocess.run([chattr, "-i", str(path)], check=True)
        return
    saved = path.read_bytes()
    path.unlink()
    path.mkdir()
    (path / "keep").write_text("x")
    try:
        yield
    finally:
        shutil.rmtree(path)
        path.write_bytes(saved)


def test_an_unreplaceable_generated_module_leaves_every_output_as_it_was(project: Path) -> None:
    """The rename onto the module fails after the package `__init__` may have been
    replaced: the commit puts back what it replaced, and the lock is never touched."""
    module = project / "orchestration" / "g.py"
    add_operation(project)
    with _unreplaceable(module):
        before = snapshot(project)
        done = build(project)
        assert snapshot(project) == before
    assert done.returncode == 2, done.stdout + done.stderr
    assert " OC407 " in done.stdout and "orchestration/g.py" in done.stdout
    assert leftovers(project) == []
    assert build(project).returncode == 0  # and once the file can be replaced, the build goes through


def test_the_commit_puts_back_what_it_replaced_when_a_later_rename_fails(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("old a")
    (tmp_path / "b.py").mkdir()  # a folder with content: no rename can replace it
    (tmp_path / "b.py" / "keep").write_text("x")
    with pytest.raises(WriteError) as error:
        commit(tmp_path, {"a.py": "new a", "b.py": "new b", "c.lock": "lock"}, last="c.lock")
    assert error.value.path == "b.py"
    assert (tmp_path / "a.py").read_text() == "old a"
    assert not (tmp_path / "c.lock").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.py", "b.py"]


def test_a_commit_into_new_folders_that_fails_removes_them(tmp_path: Path) -> None:
    with pytest.raises(WriteError):
        commit(tmp_path, {"new/deeper/m.py": "m", "x" * 300: "too long"}, last="lock")
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def _dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def test_a_killed_runs_temporaries_are_removed_by_the_next_run(project: Path) -> None:
    dead, alive = _dead_pid(), os.getpid()
    planted = {
        project / f".flows.lock.{dead}.0123abcd.orchc-tmp": False,
        project / "orchestration" / f".g.py.{dead}.0123abcd.orchc-bak": False,
        project / ".orchc_cache" / "extract" / ".e3b0c442.tmp": False,  # an earlier release's name
        project / ".orchc_cache" / "format" / f".abc.json.{dead}.0123abcd.orchc-tmp": False,
        project / f".flows.lock.{alive}.0123abcd.orchc-tmp": True,  # a run still going: left alone
        project / "notes.tmp": True,  # not a temporary of orchc's
    }
    for path in planted:
        path.write_text("half-written")
    add_operation(project)
    assert build(project).returncode == 0
    assert {path: path.exists() for path in planted} == planted


# -- modes ---------------------------------------------------------------------------------------


def test_new_files_follow_the_umask_and_existing_ones_keep_their_mode(project: Path) -> None:
    shutil.rmtree(project / "orchestration")
    (project / "flows.lock").chmod(0o604)
    add_operation(project)
    assert build(project, preexec_fn=lambda: os.umask(0o027)).returncode == 0
    assert (project / "flows.lock").stat().st_mode & 0o777 == 0o604
    assert (project / "orchestration" / "g.py").stat().st_mode & 0o777 == 0o640
    assert build(project, preexec_fn=lambda: os.umask(0o022)).returncode == 0  # unchanged bytes: untouched
    assert (project / "orchestration" / "g.py").stat().st_mode & 0o777 == 0o640


# -- the manifest decides what is removed -------------------------------------------------------


def _with_second_group(project: Path) -> Path:
    second = project / "ops" / "second.py"
    second.write_text('from runtime import operation\n\n\n@operation(name="h.one")\ndef one() -> int:\n    return 1\n')
    assert build(project).returncode == 0
    assert (project / "orchestration" / "h.py").is_file()
    return second


def test_a_module_no_longer_generated_is_removed_when_unchanged(project: Path) -> None:
    _with_second_group(project).unlink()
    done = build(project)
    assert done.returncode == 0 and "orchestration/h.py (removed)" in done.stdout
    assert not (project / "orchestration" / "h.py").exists()


def test_a_module_no_longer_generated_but_edited_is_kept_with_a_warning(project: Path) -> None:
    _with_second_group(project).unlink()
    module = project / "orchestration" / "h.py"
    module.write_text(module.read_text() + "# my own notes\n")
    done = build(project)
    assert done.returncode == 0 and " OC408 " in done.stdout and "orchestration/h.py" in done.stdout
    assert module.read_text().endswith("# my own notes\n")


def test_a_tampered_manifest_cannot_remove_files_outside_out(project: Path) -> None:
    """A lock whose `[[generated]]` lists a user file, with its exact hash, removes nothing."""
    victim = project / "ops" / "a.py"
    from compiler.lock.hashes import sha256

    lock = project / "flows.lock"
    lock.write_text(lock.read_text() + f'\n[[generated]]\npath = "ops/a.py"\nsha256 = "{sha256(victim.read_bytes())}"\n'
                    f'\n[[generated]]\npath = "orchestration/../ops/a.py"\nsha256 = "{sha256(victim.read_bytes())}"\n')
    assert build(project).returncode == 0
    assert victim.is_file()


# -- any `lock`/`out`/`sources`: a clean build, or a refusal that changed nothing -------------------


_PATHS = st.sampled_from([
    ".", "./", "..", "../x", "/tmp", "/etc/passwd", "ops", "ops/", "ops/a.py", "ops/gen", "ops/sub/deeper",
    "pyproject.toml", "flows.lock", "orchestration", "orchestration/__init__.py", "orchestration/x.lock",
    "gen", "gen/", "a/b/c", "out.lock", "notes.txt", "link", "link/inside", "ops/../ops", "ops/./gen",
])


def _table(lock: str | None, out: str | None, sources: list[str] | None) -> str:
    lines = [f"{key} = {json.dumps(value)}" for key, value in (("lock", lock), ("out", out), ("sources", sources))
             if value is not None]
    return "\n".join(lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lock=st.none() | _PATHS, out=st.none() | _PATHS, sources=st.none() | st.lists(_PATHS, min_size=1, max_size=3))
@example(lock=None, out=".", sources=None)
@example(lock="ops/a.py", out=None, sources=["ops"])
@example(lock=None, out="link/inside", sources=["ops"])
def test_any_output_settings_build_cleanly_or_change_nothing(tmp_path_factory, lock, out, sources) -> None:
    root = tmp_path_factory.mktemp("settings") / "project"
    shutil.copytree(BASE, root)
    (root / "notes.txt").write_text("user notes\n")
    (root / "link").symlink_to(tmp_path_factory.mktemp("elsewhere"))  # a folder outside the project
    (root / "pyproject.toml").write_text(f'[project]\nname = "p"\nversion = "0"\n\n[tool.orchc]\n{_table(lock, out, sources)}\n')
    outside = {p: p.read_bytes() for p in (root / "link").resolve().rglob("*") if p.is_file()}
    before = snapshot(root)
    done = build(root)
    printed = done.stdout + done.stderr
    assert "Traceback" not in printed and "OC901" not in printed, printed
    after = snapshot(root)
    if done.returncode == 0 and "built" in done.stdout:
        produced = outputs_of(root, lock.rstrip("/") if lock else "flows.lock")
        assert {p: after.get(p) for p in before if p not in produced} == {p: d for p, d in before.items() if p not in produced}
    else:
        assert done.returncode in (1, 2) and " OC" in done.stdout, printed
        assert after == before
    assert {p: p.read_bytes() for p in (root / "link").resolve().rglob("*") if p.is_file()} == outside


# -- links and special files planted in the project ------------------------------------------


def test_a_link_inside_out_cannot_lead_removal_elsewhere(project: Path, tmp_path: Path) -> None:
    """`out/ext -> elsewhere` plus a manifest entry for `out/ext/keep.py` with its exact hash."""
    from compiler.lock.hashes import sha256

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "keep.py").write_text("precious\n")
    (project / "orchestration" / "ext").symlink_to(elsewhere)
    lock = project / "flows.lock"
    lock.write_text(lock.read_text() + f'\n[[generated]]\npath = "orchestration/ext/keep.py"\n'
                    f'sha256 = "{sha256((elsewhere / "keep.py").read_bytes())}"\n')
    assert "no longer produced" not in orchc("check", project, tmp_path / "home").stdout
    assert build(project).returncode == 0
    assert (elsewhere / "keep.py").read_text() == "precious\n"


def test_a_planted_temporary_is_never_written_through(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Even with the temporary's name guessed (here: forced), a link there is not followed."""
    from compiler import writer

    victim = tmp_path / "victim.txt"
    victim.write_text("mine")
    victim.chmod(0o600)
    monkeypatch.setattr(writer.secrets, "token_hex", lambda _: "deadbeef")
    (tmp_path / f".flows.lock.{os.getpid()}.deadbeef.orchc-tmp").symlink_to(victim)
    with pytest.raises(OSError):
        writer.write_atomic(tmp_path / "flows.lock", b"lock")
    assert victim.read_text() == "mine" and victim.stat().st_mode & 0o777 == 0o600


def test_a_linked_cache_folder_turns_the_cache_off(project: Path, tmp_path: Path) -> None:
    """A committed `.orchc_cache/format -> elsewhere` must not make `check` write or prune there."""
    elsewhere = tmp_path / "jsons"
    elsewhere.mkdir()
    for index in range(100):
        (elsewhere / f"d{index}.json").write_text("{}")
    shutil.rmtree(project / ".orchc_cache" / "format")
    (project / ".orchc_cache" / "format").symlink_to(elsewhere)
    (project / ".orchc_cache" / "project").rename(tmp_path / "gone")  # so check must analyse
    assert orchc("check", project, tmp_path / "home").returncode == 0
    assert sorted(p.name for p in elsewhere.iterdir()) == sorted(f"d{index}.json" for index in range(100))


def test_a_pipe_as_a_source_is_reported_not_read(project: Path) -> None:
    os.mkfifo(project / "ops" / "pipe.py")
    done = build(project)
    assert done.returncode == 1 and " OC112 " in done.stdout and "ops/pipe.py" in done.stdout

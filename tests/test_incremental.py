"""Incremental builds: after an edit that changes no operation's interface, `orchc build`
patches the latest clean build's outputs (`compiler.lock.patch`). Whatever the edits,
the bytes on disk are always those of a build from scratch."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import api
from compiler.extract.reader import extract
from compiler.lock.patch import patch
from compiler.model import SourceFile

OPS = '''from runtime import operation


@operation(name="pipe.load", cache=True)
def load(limit: int = 3) -> list[int]:
    """Load rows."""
    return list(range(limit))


@operation(name="pipe.total", retries=2)
def total(load: list[int]) -> int:
    return sum(load)
'''

MORE = '''from runtime import operation


@operation(name="pipe.report.show", cache=True)
async def show(total: int, title: str = "sum") -> str:
    return f"{title}: {total}"
'''

FILES = {
    "pyproject.toml": '[project]\nname = "t"\nversion = "0"\n\n[tool.orchc]\nsources = ["src"]\nout = "orchestration"\n',
    "src/pipe/__init__.py": "",
    "src/pipe/ops.py": OPS,
    "src/pipe/more.py": MORE,
    "src/pipe/helpers.py": "def helper():\n    return 1\n",
}

# (path, old, new): `new` replaces the first `old`; an empty `old` creates or removes files
EDITS = [
    ("src/pipe/ops.py", "    return list(range(limit))", "    rows = list(range(limit))\n\n    return rows"),
    ("src/pipe/ops.py", "    return sum(load)", "    return sum(load)  # the total"),
    ("src/pipe/ops.py", '@operation(name="pipe.total"', '# a comment between functions\n@operation(name="pipe.total"'),
    ("src/pipe/ops.py", "from runtime import operation\n", "from runtime import operation\nimport os\n"),
    ("src/pipe/more.py", 'return f"{title}: {total}"', 'return f"{title} = {total}"'),
    ("src/pipe/ops.py", "Load rows.", "Load the rows."),  # the description: an interface change
    ("src/pipe/ops.py", "limit: int = 3", "limit: int = 4"),  # a flow parameter's default
    ("src/pipe/more.py", 'title: str = "sum"', 'title: str = "sum", *, unit: str = ""'),  # a new parameter
    ("src/pipe/helpers.py", "return 1", "return 2"),
    ("src/pipe/extra.py", "", "X = 1\n"),
    ("src/pipe/extra.py", "", 'from runtime import operation\n\n\n@operation(name="pipe.extra")\ndef extra(total: int) -> int:\n    return total\n'),
    ("src/pipe/helpers.py", "", None),
    ("src/pipe/ops.py", "    return sum(load)", "    return sum(load"),  # a syntax error: the build fails
]


def _write(project: Path) -> None:
    for relative, text in FILES.items():
        (project / relative).parent.mkdir(parents=True, exist_ok=True)
        (project / relative).write_text(text, encoding="utf-8")


def _edit(project: Path, path: str, old: str, new: str | None) -> None:
    target = project / path
    if new is None:
        target.unlink(missing_ok=True)
    elif not old:
        target.write_text(new, encoding="utf-8")
    elif target.is_file():
        target.write_text(target.read_text(encoding="utf-8").replace(old, new, 1), encoding="utf-8")


def _outputs(project: Path) -> dict[str, bytes]:
    files = [project / "flows.lock", *sorted((project / "orchestration").rglob("*.py"))]
    return {p.relative_to(project).as_posix(): p.read_bytes() for p in files if p.is_file()}


def _from_scratch(project: Path, scratch: Path, monkeypatch) -> tuple[bool, dict[str, bytes]]:
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(project / "src", scratch / "src", ignore=shutil.ignore_patterns("orchestration"))
    shutil.copy(project / "pyproject.toml", scratch / "pyproject.toml")
    monkeypatch.setenv("ORCHC_NO_CACHE", "1")
    try:
        result = api.build(scratch)
    finally:
        monkeypatch.delenv("ORCHC_NO_CACHE")
    return result.analysis.ok and not result.diagnostics, _outputs(scratch)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(range(len(EDITS))), min_size=1, max_size=5))
def test_builds_after_edits_write_the_bytes_of_a_build_from_scratch(tmp_path: Path, monkeypatch, edits):
    monkeypatch.delenv("ORCHC_NO_CACHE", raising=False)
    project, scratch = tmp_path / "project", tmp_path / "scratch"
    shutil.rmtree(project, ignore_errors=True)
    _write(project)
    assert api.build(project).analysis.ok
    for index in edits:
        _edit(project, *EDITS[index])
        result = api.build(project)
        clean, expected = _from_scratch(project, scratch, monkeypatch)
        assert (result.analysis.ok and not result.diagnostics) == clean
        if clean:
            assert _outputs(project) == expected
            assert api.check(project)[1] == ()


def _specs(text: str, path: str = "src/pipe/ops.py"):
    operations, diagnostics = extract(SourceFile(path, "pipe.ops", text))
    assert diagnostics == ()
    return operations


def test_a_body_edit_is_patched_into_the_outputs_of_a_full_build(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("ORCHC_NO_CACHE", "1")
    project = tmp_path / "project"
    _write(project)
    api.build(project)
    before = _outputs(project)
    edited = OPS.replace("    return list(range(limit))", "    rows = list(range(limit))\n\n    return rows")
    (project / "src/pipe/ops.py").write_text(edited, encoding="utf-8")
    api.build(project)
    after = _outputs(project)

    lock = before.pop("flows.lock").decode()
    modules = {path: text.decode() for path, text in before.items()}
    patched = patch(lock, modules, _specs(OPS), _specs(edited))
    assert patched is not None
    lock_text, changed = patched
    assert lock_text == after["flows.lock"].decode()
    # the cached operation's hash is in its generated module: that module, and only it, changes
    assert {path: text.encode() for path, text in changed.items()} == {
        path: text for path, text in after.items() if path != "flows.lock" and before[path] != text
    }
    assert changed


@pytest.mark.parametrize("old, new", [("Load rows.", "Load the rows."), ("retries=2", "retries=3"),
                                      ("def total(load", "def total_(load")])
def test_an_interface_edit_is_not_patched(old, new):
    assert patch("", {}, _specs(OPS), _specs(OPS.replace(old, new))) is None

"""The registry: finding the lock, sys.path, importing only locked operations, staleness."""

from __future__ import annotations

import sys

import pytest

from runtime import registry as registry_module
from runtime.errors import OperationLoadError, RuntimeUsageError
from runtime.registry import Registry, current_registry, set_current_registry
from tests.runtime_helpers import isolated_imports, make_project  # noqa: F401 - fixture

pytestmark = pytest.mark.usefixtures("isolated_imports")

SOURCE = """
    from runtime import operation

    @operation(name="g.one")
    def one() -> int:
        return 1

    @operation(name="g.two")
    def two(one: int) -> int:
        return one + 1

    @operation(name="other")
    def other() -> int:
        return 0
"""
OPS = {"g.one": "one", "g.two": "two", "other": "other"}


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path, SOURCE, OPS, [("g.one", "g.two", "one")], ["g", "other"])


def test_function_imports_only_locked_operations(project):
    function = project.registry.function("g.two")
    assert function(1) == 2
    assert function is project.module.two  # the function itself, nothing wrapped
    with pytest.raises(RuntimeUsageError, match="operation `g.tow` is not in the lockfile") as error:
        project.registry.function("g.tow")
    assert error.value.hint == "did you mean `g.two`?"


def test_unimportable_module_is_a_clear_error(project):
    project.source.write_text("raise ImportError('no such thing')\n")
    with pytest.raises(OperationLoadError, match="cannot import module `userops_.*` of operation `g.one`: "
                                                 "ImportError: no such thing"):
        project.registry.function("g.one")


def test_load_searches_upward_and_honours_the_configured_lock_path(project, monkeypatch):
    nested = project.root / "a" / "b"
    nested.mkdir(parents=True)
    monkeypatch.chdir(nested)
    assert Registry.load().root == project.root
    (project.root / "build").mkdir()
    (project.root / "flows.lock").rename(project.root / "build" / "flows.lock")
    (project.root / "pyproject.toml").write_text('[tool.orchc]\nlock = "build/flows.lock"\nengine = "local"\n')
    loaded = Registry.load()
    assert loaded.lock_path == project.root / "build" / "flows.lock"
    assert loaded.config["engine"] == "local"
    assert str(project.root) in sys.path


def test_load_without_a_project_is_a_usage_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(RuntimeUsageError) as error:
        Registry.load()
    assert error.value.exit_code == 2 and "orchc build" in error.value.hint
    (tmp_path / "pyproject.toml").write_text("[tool.orchc]\n")
    with pytest.raises(RuntimeUsageError, match="no lockfile at"):
        Registry.load()


def test_generated_package_folder_goes_on_sys_path(project):
    lock = project.registry.lock
    nested = lock.model_copy(update={"project": lock.project.model_copy(
        update={"out": "gen/src/pipelines/flows", "package": "pipelines.flows", "source_roots": ["src"]})})
    Registry(project.root, nested)
    assert str(project.root / "gen" / "src") in sys.path
    assert str(project.root / "src") in sys.path


def test_current_registry_is_settable_and_lazy(project, monkeypatch):
    monkeypatch.setattr(registry_module, "_current", None)
    monkeypatch.chdir(project.root)
    assert current_registry().root == project.root
    set_current_registry(project.registry)
    assert current_registry() is project.registry


# -- staleness --------------------------------------------------------------------------------


def test_stale_operations_compares_member_hashes(project):
    assert project.registry.stale_operations("g") == []
    text = project.source.read_text()
    edited = text.replace("return one + 1", "return one + 2").replace('name="g.one"', 'name="g.uno"')
    project.source.write_text(edited)
    assert project.registry.stale_operations("g") == [
        f"`g.one`: its source changed (`{project.source.name}:5`)",  # its decorator names another operation
        f"`g.two`: its source changed (`{project.source.name}:9`)",
    ]
    project.source.write_text(edited.replace("def one(", "def uno("))
    assert project.registry.stale_operations("g")[0] == f"`g.one`: function `one` is no longer defined in `{project.source.name}`"
    assert project.registry.stale_operations("other") == []  # only the flow's members count
    project.source.unlink()
    assert project.registry.stale_operations("other") == [f"`other`: its file `{project.source.name}` is missing or unreadable"]

"""The contracts between the compiler and the runtime, checked rather than hoped for:
generated code uses only the runtime names it is allowed (`runtime.GENERATED_CODE_NAMES`),
and the extractor reads exactly the arguments `runtime.operation` takes."""

from __future__ import annotations

import ast
import inspect
import shutil
from pathlib import Path

import pytest

import runtime
from compiler import api
from compiler.extract.reader import KEYWORDS

ROOT = Path(__file__).resolve().parents[1]
CASES = Path(__file__).parent / "cases"


def _runtime_names(text: str) -> set[str]:
    """Every `X` a module uses as `runtime.X` (through any alias), and every name it
    imports `from runtime`."""
    tree = ast.parse(text)
    aliases = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.Import)
               for alias in node.names if alias.name == "runtime"}
    used = {node.attr for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases}
    imported = {alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "runtime"
                for alias in node.names}
    return used | imported


#: what the examples and cases lack: a cached operation and a default that is not a literal
EVERY_FEATURE = '''
from runtime import operation

LIMIT = 3


@operation(name="every.load", cache=True)
def load(limit: int = LIMIT) -> list[int]:
    return list(range(limit))
'''


def _generated_modules(tmp_path: Path) -> dict[str, str]:
    """The generated modules of the examples, of every golden case that builds, and of a
    project using what those do not."""
    modules = {path.relative_to(ROOT).as_posix(): path.read_text() for path in (ROOT / "orchestration").glob("*.py")}
    (tmp_path / "every").mkdir()
    (tmp_path / "every" / "ops.py").write_text(EVERY_FEATURE)
    modules.update({f"every/{m.path}": m.text for m in api.analyse(tmp_path / "every").modules})
    for case in sorted(CASES.iterdir()):
        project = tmp_path / case.name
        shutil.copytree(case / "project", project)
        analysis = api.analyse(project)
        modules.update({f"{case.name}/{m.path}": m.text for m in analysis.modules})
    return modules


def test_generated_code_uses_only_the_runtime_contract(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ORCHC_NO_CACHE", "1")
    modules = _generated_modules(tmp_path)
    assert len(modules) > 5
    allowed = set(runtime.GENERATED_CODE_NAMES)
    used = {path: _runtime_names(text) for path, text in modules.items()}
    assert {path: names - allowed for path, names in used.items() if names - allowed} == {}
    assert set().union(*used.values()) == allowed  # the contract names no more than is used


def test_the_contract_names_exist_in_the_runtime() -> None:
    assert set(runtime.GENERATED_CODE_NAMES) <= set(runtime.__all__)
    assert all(hasattr(runtime, name) for name in runtime.__all__)


def test_the_extractor_reads_exactly_the_arguments_operation_takes() -> None:
    assert KEYWORDS == tuple(inspect.signature(runtime.operation).parameters)


def test_the_compiler_modules_import_each_other_without_a_cycle() -> None:
    """Every import of a compiler module, at module level or inside a function, is an
    edge; the modules form a DAG (packages' `__init__` files import nothing)."""
    import networkx as nx

    modules = {".".join(path.relative_to(ROOT).with_suffix("").parts): path for path in (ROOT / "compiler").rglob("*.py")}
    graph = nx.DiGraph()
    for name, path in modules.items():
        if name.endswith("__init__"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            graph.add_edges_from((name, target) for target in targets if target in modules and target != name)
    assert graph.number_of_edges() > 40
    assert list(nx.simple_cycles(graph)) == []


def test_the_runtime_computes_the_lock_s_source_hashes_without_libcst() -> None:
    """The runtime checks source hashes with `compiler.lock.hashes` (Python's parser), and gets
    the extractor's bytes for every operation of the examples, loading no libcst."""
    import subprocess
    import sys

    probe = (
        "import sys\nfrom runtime.registry import Registry\n"
        f"registry = Registry.load({str(ROOT)!r})\n"
        "print(sorted(p for flow in registry.lock.flows for p in registry.stale_operations(flow.name)),"
        " 'libcst' in sys.modules, len(registry.lock.operations))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["[]", "False", "33"]

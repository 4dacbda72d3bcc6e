"""Tiny orchc projects for the runtime tests, locked without the compiler.

`make_project` writes one user module and a `flows.lock` built from `compiler.lock.lockfile`
models (through `tests.lockkit`): operations are read from the module with `ast`, edges
are given by the test, and each flow's members, order, sinks and parameters are derived
from those edges the way the linker would. Source hashes come from `compiler.extract.reader`;
the generated modules come from `compiler.codegen.modules` and are recorded in the lock, as
`orchc build` does (the runtime refuses generated modules the lock does not vouch for).
"""

from __future__ import annotations

import ast
import importlib
import sys
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from compiler.codegen.modules import generate
from compiler.extract.reader import extract
from compiler.link.toposort import lexicographic_order
from compiler.lock.hashes import sha256
from compiler.lock.lockfile import (
    LockEdge, LockFile, LockFlow, LockFlowParam, LockGenerated, LockOperation, LockParam, LockProject, dumps,
)
from compiler.model import SourceFile
from runtime.registry import Registry
from tests import lockkit


@dataclass
class Project:
    root: Path
    module_name: str
    registry: Registry

    @property
    def module(self) -> ModuleType:
        return importlib.import_module(self.module_name)

    @property
    def source(self) -> Path:
        return self.root / f"{self.module_name}.py"


@pytest.fixture
def isolated_imports(monkeypatch):
    """Undo the registry's sys.path changes and forget user modules after the test."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("userops_"):
            del sys.modules[name]


#: a line that makes a subprocess treat every lock as fresh
SKIP_STALE_CHECK = "from runtime.registry import Registry; Registry.stale_operations = lambda self, flow: []"


@pytest.fixture
def no_stale_check(monkeypatch):
    """Treat every lock as fresh: tests of running stay independent of the extractor."""
    monkeypatch.setattr(Registry, "stale_operations", lambda self, flow: [])


def _functions(tree: ast.Module) -> dict[str, ast.FunctionDef | ast.AsyncFunctionDef]:
    return {node.name: node for node in tree.body if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def _params(node: ast.FunctionDef | ast.AsyncFunctionDef, text: str) -> list[LockParam]:
    args = [*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs]
    positional = [*node.args.posonlyargs, *node.args.args]
    defaults = dict(zip([a.arg for a in positional][len(positional) - len(node.args.defaults):], node.args.defaults))
    defaults.update({a.arg: d for a, d in zip(node.args.kwonlyargs, node.args.kw_defaults) if d is not None})
    params = []
    for arg in args:
        default = defaults.get(arg.arg)
        annotation = ast.get_source_segment(text, arg.annotation) if arg.annotation else None
        params.append(lockkit.param(arg.arg, annotation,
                                    ast.get_source_segment(text, default) if default is not None else None,
                                    repr(ast.literal_eval(default)) if default is not None else None))
    return params


def _source_hashes(file: str, module: str, text: str) -> dict[str, str]:
    ops, _ = extract(SourceFile(path=file, module=module, text=text))
    return {op.name: op.source_hash for op in ops}


def _operation(name: str, function: str, node, text: str, module: str,
               hashes: dict[str, str], options: dict) -> LockOperation:
    return lockkit.op(name, _params(node, text), module=module, function=function,
                      is_async=isinstance(node, ast.AsyncFunctionDef), line=node.lineno, column=node.col_offset + 1,
                      source_hash=hashes.get(name, "sha256:placeholder"), **options)


def _flow(name: str, operations: dict[str, LockOperation], edges: list[LockEdge]) -> LockFlow:
    """The flow of group (or operation) `name`: its members plus their upstream."""
    under = [op for op in operations if op == name or op.startswith(name + ".")]
    members, todo = set(under), list(under)
    while todo:
        target = todo.pop()
        for edge in edges:
            if edge.target == target and edge.source not in members:
                members.add(edge.source)
                todo.append(edge.source)
    # topological, ties broken by name, as `orchc build` orders a flow
    order = lexicographic_order(sorted(members), [(e.source, e.target) for e in edges
                                                  if e.source in members and e.target in members])
    sinks = sorted(op for op in under if not any(e.source == op and e.target in under for e in edges))
    own = [op for op in order if op == name or op.rpartition(".")[0] == name]  # the rest is derived
    return LockFlow(name=name, module="orchestration", function=name.replace(".", "__"),
                    operations=own, sinks=sinks, params=_flow_params(order, operations, edges))


def _flow_params(order: list[str], operations: dict[str, LockOperation], edges: list[LockEdge]) -> list[LockFlowParam]:
    bound = {(e.target, e.param) for e in edges if e.param}
    found: dict[str, tuple[LockParam, list[str], bool]] = {}
    for name in sorted(order):
        for param in operations[name].params:
            if (name, param.name) in bound:
                continue
            first, consumers, required = found.get(param.name, (param, [], False))
            found[param.name] = (first, [*consumers, name], required or param.default is None)
    return [lockkit.flow_param(n, consumers, p.type, req, None if req else p.default, None if req else p.default_literal)
            for n, (p, consumers, req) in sorted(found.items())]


def write_generated(root: Path, lock: LockFile) -> LockFile:
    """Write the generated modules of `lock` under `root`; the lock recording their hashes."""
    modules = generate(lock)
    for module in modules:
        path = root / module.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(module.text.encode("utf-8"))
    return lock.model_copy(update={"generated": [LockGenerated(path=m.path, sha256=sha256(m.text)) for m in modules]})


def make_project(root: Path, source: str, operations: dict[str, str | tuple[str, dict]],
                 edges: list[tuple[str, str, str | None]] = (), flows: list[str] = (),
                 pyproject: str | None = None) -> Project:
    """Write a module and its lock; return the project with its registry loaded.

    `operations` maps each operation name to its function name, or to (function, options)
    with LockOperation fields such as `retries` or `executor`. `edges` are
    (source, target, param or None for depends_on); `flows` the group names to lock.
    """
    module = f"userops_{uuid.uuid4().hex[:10]}"
    file = f"{module}.py"
    text = textwrap.dedent(source)
    (root / file).write_text(text, encoding="utf-8")
    nodes = _functions(ast.parse(text))
    hashes = _source_hashes(file, module, text)
    locked = {}
    for name, spec in sorted(operations.items()):
        function, options = (spec, {}) if isinstance(spec, str) else spec
        locked[name] = _operation(name, function, nodes[function], text, module, hashes, options)
    lock_edges = [lockkit.edge(s, t, p) for s, t, p in edges]
    lock = LockFile(
        project=LockProject(out="orchestration", package="orchestration", source_roots=["."]),
        operations=list(locked.values()), edges=lock_edges,
        flows=[_flow(name, locked, lock_edges) for name in sorted(flows)])
    (root / "flows.lock").write_text(dumps(write_generated(root, lock)), encoding="utf-8")
    if pyproject is not None:
        (root / "pyproject.toml").write_text(textwrap.dedent(pyproject), encoding="utf-8")
    return Project(root, module, Registry.load(root))

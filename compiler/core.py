"""The pure analysis core: a configuration and source texts in; the graph, the lock, the
generated modules and every diagnostic out. No paths on disk, no cache, no file system,
no collector tuning: `compiler.api` loads the project and writes the outputs around it,
and users call `analyse_sources` from their own tests (snapshot tests of their flows).

The passes (libcst, networkx, black, pydantic) are imported where they are used, so a
`check` that answers from the cache never loads them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import TYPE_CHECKING

from compiler import naming
from compiler.config import Config
from compiler.diagnostics import Diagnostic, has_errors, sorted_diagnostics
from compiler.discover import SourcePath, module_collisions, module_for, source_roots
from compiler.lock.hashes import sha256
from compiler.model import OperationSpec, SourceFile, Span

if TYPE_CHECKING:
    from compiler.codegen.modules import GeneratedModule
    from compiler.lock.lockfile import LockFile
    from compiler.model import Deployment, Graph

#: every file's operations and diagnostics, in the order of the files given
ExtractAll = Callable[[Sequence[SourceFile | Diagnostic]], tuple[list[OperationSpec], list[Diagnostic]]]
#: (kind, source, compute) -> compute(), possibly remembered (codegen's formatting)
Memo = Callable[[str, str, Callable[[], str]], str]


@dataclass(frozen=True)
class Outcome:
    """What an analysis found: `lock`, `lock_text` and `modules` are set only without errors."""

    diagnostics: tuple[Diagnostic, ...]
    graph: Graph | None = None
    lock: LockFile | None = None
    lock_text: str | None = None
    modules: tuple[GeneratedModule, ...] = ()

    @property
    def ok(self) -> bool:
        return self.lock is not None


def analyse_sources(texts: Mapping[str, str], config: Config = Config()) -> Outcome:
    """Analyse source texts as `orchc build` would, writing nothing.

    `texts` maps project-relative POSIX paths to their text; each file's module is named
    relative to the first `sources` root of `config` holding it, and a file a `pipelines`
    glob finds, with a spec suffix and not excluded, is a pipeline spec (other files are
    ignored). `compiler.config.parse_config(pyproject_text)` reads a configuration.
    """
    from compiler.discover import SPEC_SUFFIXES, glob_match, is_excluded

    paths = [SourcePath(path, module) for path in sorted(texts)
             if path.endswith(".py") and (module := module_for(path, config)) is not None]
    files = [SourceFile(source.path, source.module, texts[source.path]) for source in paths]
    specs = [(path, texts[path]) for path in sorted(texts) if path.endswith(SPEC_SUFFIXES)
             and any(glob_match(path, pattern) for pattern in config.pipelines)
             and not is_excluded(path, config)]
    return analyse_files(config, files, paths, specs=specs)


def _extract_each(files: Sequence[SourceFile | Diagnostic]) -> tuple[list[OperationSpec], list[Diagnostic]]:
    from compiler.extract.reader import extract

    operations: list[OperationSpec] = []
    diagnostics: list[Diagnostic] = []
    for file in files:
        if isinstance(file, Diagnostic):
            diagnostics.append(file)
            continue
        found, problems = extract(file)
        operations += found
        diagnostics += problems
    return operations, diagnostics


def analyse_files(config: Config, files: Sequence[SourceFile | Diagnostic], paths: Sequence[SourcePath], *,
                  prior: Iterable[Diagnostic] = (), extract_all: ExtractAll = _extract_each,
                  memo: Memo | None = None, specs: Sequence[tuple[str, str] | Diagnostic] = ()) -> Outcome:
    """The passes over files already read (a Diagnostic stands for one that could not
    be); `prior` are earlier findings (configuration, discovery) that count as errors too.

    1. Extract every file (`extract_all`: the caller's cached or parallel extraction), and
       resolve annotations through packages' re-exports (`compiler.link.reexports`); give
       every operation the project's `[tool.orchc.defaults]` it does not set; compile the
       pipeline `specs` ((path, text) of each, `compiler.specs`) into their steps.
    2. Link the operations into a graph; report unimportable modules, files that are one
       module, and a project without operations.
    3. Without errors, build the lock and generate the modules from it (`memo`: the
       caller's cache of formatted code), recording their hashes in the lock.
    """
    from compiler.link.linker import link
    from compiler.link.reexports import canonical, reexports
    from compiler.lock.lockfile import dumps

    operations, extract_diagnostics = extract_all(files)
    operations = canonical(operations, reexports([f for f in files if not isinstance(f, Diagnostic)]))
    spec_diagnostics: list[Diagnostic] = []
    descriptions: dict[str, str] = {}
    if config.defaults:
        from compiler.options import with_options

        operations = [with_options(op, config.defaults) for op in operations]
    if specs:
        from compiler.specs.steps import compile_pipelines

        steps, descriptions, spec_diagnostics = compile_pipelines(specs, operations, config.defaults)
        operations = [*operations, *steps]
    packages = frozenset(source.module.split(".", 1)[0] for source in paths)
    graph, link_diagnostics = link(operations, config.all_opaque_types, packages)
    deployments, deployment_diagnostics = _deployments(config, graph, link_diagnostics)
    diagnostics = sorted_diagnostics([
        *prior, *extract_diagnostics, *spec_diagnostics, *_unimportable(operations),
        *module_collisions(tuple(paths), {op.span.path for op in operations}),
        *link_diagnostics, *_empty(operations, config), *deployment_diagnostics,
    ])
    if has_errors(diagnostics):
        return Outcome(diagnostics, graph)
    lock, modules = lock_and_modules(graph, config, memo, deployments, descriptions)
    return Outcome(diagnostics, graph, lock, dumps(lock), modules)


def _deployments(config: Config, graph: Graph,
                 link_diagnostics: Iterable[Diagnostic]) -> tuple[tuple[Deployment, ...], tuple[Diagnostic, ...]]:
    """The declared deployments checked against the flows (once the flows are known)."""
    if not config.deployments or has_errors(link_diagnostics):
        return (), ()
    from compiler.deployments.validate import check_deployments

    return check_deployments(config.deployments, graph.flows)


def _unimportable(operations: list[OperationSpec]) -> list[Diagnostic]:
    return [
        Diagnostic("OC108", f"module `{op.module}` of operation `{op.name}` is not importable "
                   "(each part of its path must be a Python identifier)", op.span,
                   "rename the file or folder, or change `[tool.orchc] sources` so the module path is valid")
        for op in operations if naming.name_problem(op.module) is not None or naming.python_name(op.module) != op.module
    ]


def _empty(operations: list[OperationSpec], config: Config) -> list[Diagnostic]:
    if operations:
        return []
    return [Diagnostic("OC107", "no `@operation` functions were found", Span(config.pyproject, config.table_line),
                       "decorate functions with `@operation(name=...)` from `runtime`, or check `[tool.orchc] sources`")]


def generated_package(config: Config) -> str:
    """The importable name of the `out` folder: relative to the source root holding it."""
    out = PurePosixPath(config.out)
    for source_root in sorted(source_roots(config), key=len, reverse=True):
        if source_root == "." or config.out.startswith(source_root + "/"):
            relative = out if source_root == "." else out.relative_to(source_root)
            return ".".join(relative.parts)
    return ".".join(out.parts)


def lock_and_modules(graph: Graph, config: Config, memo: Memo | None = None, deployments: tuple[Deployment, ...] = (),
                     descriptions: dict[str, str] | None = None) -> tuple[LockFile, tuple[GeneratedModule, ...]]:
    """Build the lock, generate modules from it, then record their hashes in the lock;
    `descriptions` are flows' (pipelines'), by flow."""
    from compiler.codegen.modules import generate
    from compiler.lock.lockfile import LockGenerated, LockProject, build_lock

    project = LockProject(out=config.out, package=generated_package(config), source_roots=list(source_roots(config)),
                          task_runner=None if config.task_runner == "thread" else config.task_runner)
    entries = naming.flow_entries([flow.name for flow in graph.flows])
    lock = build_lock(graph, project, entries, deployments, descriptions or {})
    modules = generate(lock, memo)
    hashes = [LockGenerated(path=m.path, sha256=sha256(m.text)) for m in sorted(modules, key=lambda m: m.path)]
    return lock.model_copy(update={"generated": hashes}), modules

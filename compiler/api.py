"""The compiler's API: analyse, build and check a project folder. The thin shell around
the pure core (`compiler.core`): `compiler.project` loads the project, `compiler.warm`
answers from earlier work, and here `build` writes (through `compiler.ownership` and
`compiler.writer`: only orchc's own files, all or nothing, only when the bytes differ,
nothing on any error) and `check` compares with what is on disk, writing nothing.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from compiler import project, warm
from compiler.cache import Cache
from compiler.config import Config
from compiler.core import analyse_files
from compiler.diagnostics import Diagnostic, has_errors, sorted_diagnostics
from compiler.lock.hashes import sha256 as _sha256
from compiler.model import OperationSpec, Span
from compiler.ownership import foreign_files, manifest, manifest_of, owned_file, removals
from compiler.project import find_root, load_config
from compiler.writer import WriteError, commit, read_bytes, read_text

__all__ = ["Analysis", "BuildResult", "analyse", "build", "check", "find_root", "load_config", "outputs_on_disk"]

# The passes (libcst, networkx, black, pydantic) are imported where they are used: a
# `check` of an unchanged project answers from the cache without loading any of them.
if TYPE_CHECKING:
    from compiler.codegen.modules import GeneratedModule
    from compiler.lock.diff import Change
    from compiler.lock.lockfile import LockFile
    from compiler.model import Graph

@dataclass(frozen=True)
class Analysis:
    """Everything `orchc build` would write, computed in memory."""

    root: Path
    config: Config
    diagnostics: tuple[Diagnostic, ...]
    graph: Graph | None = None
    lock: LockFile | None = None
    lock_text: str | None = None
    modules: tuple[GeneratedModule, ...] = ()
    #: (operations, flows) of a project `check` found unchanged without analysing it
    cached_counts: tuple[int, int] | None = None

    @property
    def ok(self) -> bool:
        return not has_errors(self.diagnostics) and (self.lock is not None or self.cached_counts is not None)

    @property
    def counts(self) -> tuple[int, int]:
        """How many operations and flows the project has."""
        if self.lock is not None:
            return len(self.lock.operations), len(self.lock.flows)
        return self.cached_counts or (0, 0)


@dataclass(frozen=True)
class BuildResult:
    analysis: Analysis
    #: project-relative paths written (changed bytes), sorted
    written: tuple[str, ...] = ()
    #: project-relative paths removed (generated modules no longer produced), sorted
    removed: tuple[str, ...] = ()
    diagnostics: tuple[Diagnostic, ...] = field(default=())
    #: how the build rewired what the previous lock had (`compiler.lock.diff.rewiring`)
    rewiring: tuple[Change, ...] = ()


# -- analysis ---------------------------------------------------------------------------


def analyse(path: str | os.PathLike | None = None) -> Analysis:
    """Run every pass in memory; `lock`/`modules` are set only when there is no error."""
    root = find_root(path)
    config, config_diagnostics = load_config(root)
    return _analyse(root, config, config_diagnostics)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector: the passes build millions of objects that live
    until the process ends (and hold no cycles to collect), and with it on, each of its
    full collections walks them all again: a third of link, lock and codegen on 10k ops."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _analyse(root: Path, config: Config, config_diagnostics: tuple[Diagnostic, ...],
             sources: project.Sources | None = None, cache: Cache | None = None) -> Analysis:
    """`analyse` once the configuration is loaded; `sources` and `cache` when the caller
    (`check`) has already read the sources and opened the cache."""
    with _collector_paused():
        return _analyse_now(root, config, config_diagnostics, sources, cache)


def _analyse_now(root: Path, config: Config, config_diagnostics: tuple[Diagnostic, ...],
                 sources: project.Sources | None, cache: Cache | None) -> Analysis:
    """The pure core (`compiler.core`) over the project's files, with the cache's
    extraction and formatting, remembering a clean analysis for the next run."""
    if has_errors(config_diagnostics):
        return Analysis(root, config, sorted_diagnostics(config_diagnostics))
    sources = sources if sources is not None else project.find_and_read(root, config)
    cache = cache if cache is not None else Cache(root)
    extracted: list[OperationSpec] = []

    def extract_all(reads):
        found = project.extract_all(reads, sources.keys, cache)
        extracted.extend(found[0])
        return found

    outcome = analyse_files(config, sources.reads, sources.paths, prior=(*config_diagnostics, *sources.diagnostics),
                            extract_all=extract_all, memo=cache.memo, specs=sources.specs)
    cache.prune("extract", cache.used_extractions)
    analysis = Analysis(root, config, outcome.diagnostics, outcome.graph, outcome.lock, outcome.lock_text,
                        outcome.modules)
    if outcome.ok:
        cache.prune("format", cache.used_formats)
    if outcome.ok and not outcome.diagnostics:
        outputs = {config.lock: _sha256(analysis.lock_text), **{m.path: _sha256(m.text) for m in outcome.modules}}
        per_file = Counter(op.span.path for op in extracted)
        files = {read.path: [key, per_file[read.path]] for read, key in zip(sources.reads, sources.keys)}
        warm.remember(cache, sources.key, warm.State(repr(config), sources.packages, files, outputs, list(analysis.counts)))
    return analysis


# -- build ------------------------------------------------------------------------------


def _read_lock(root: Path, config: Config) -> str | Diagnostic | None:
    """The lockfile's text; None when there is none, OC402 when it is not UTF-8."""
    data = read_bytes(root / config.lock)  # a regular file of bounded size only
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        from compiler.lock.lockfile import LOCK_HINTS

        return Diagnostic("OC402", str(error), Span(config.lock), LOCK_HINTS["OC402"])


_SCHEMA_LINE = re.compile(r"^schema = (\d+)$", re.MULTILINE)


def _newer_schema(lock_text: str | None, config: Config) -> Diagnostic | None:
    """OC404 when the lock on disk (its text) was written by a newer orchc (build must not
    downgrade it). Only its `schema` line is read: whatever else it holds is about to be replaced."""
    from compiler.lock.lockfile import LOCK_HINTS, SCHEMA_VERSION

    match = _SCHEMA_LINE.search(lock_text or "")
    if match is None or int(match.group(1)) <= SCHEMA_VERSION:
        return None
    return Diagnostic("OC404", f"the lockfile uses schema {match.group(1)}; this orchc reads schema "
                      f"{SCHEMA_VERSION} and older", Span(config.lock, match.string.count("\n", 0, match.start()) + 1),
                      LOCK_HINTS["OC404"])


def _no_longer_produced(root: Path, lock_text: str | None, analysis: Analysis) -> list[str]:
    """Generated files the lock on disk lists that `build` would no longer produce (and
    would remove), where they still exist."""
    produced = {m.path for m in analysis.modules}
    listed = manifest(lock_text, analysis.config)
    return [path for path in sorted(listed) if path not in produced and owned_file(root, analysis.config, path)]


def outputs_on_disk(analysis: Analysis) -> dict[str, str | None]:
    """What is on disk at each path `build` would write, plus generated files it would remove:
    path -> text (None when absent or unreadable). Empty when the lock was never built."""
    root, config = analysis.root, analysis.config
    lock_text = read_text(root / config.lock)
    if not analysis.ok or lock_text is None:
        return {}
    expected = {config.lock, *(m.path for m in analysis.modules)}
    paths = sorted(expected | set(_no_longer_produced(root, lock_text, analysis)))
    return {path: read_text(root / path) for path in paths}


def build(path: str | os.PathLike | None = None) -> BuildResult:
    """Analyse and write the lock and generated modules; write nothing on any error.

    After an edit that changes no operation's interface, the outputs of the latest clean
    build are patched instead (`compiler.lock.patch`): the same bytes, without a link.
    """
    root = find_root(path)
    config, problems = load_config(root)
    sources = cache = None
    if not problems:
        sources, cache = project.find_and_read(root, config), Cache(root)
        patched = warm.patched(root, config, sources, cache)
        if patched is not None:
            try:
                written = commit(root, patched.changed, last=config.lock)
            except WriteError as error:  # nothing changed on disk: nothing to remember
                failure = (_write_failed(error),)
                return BuildResult(Analysis(root, config, failure), diagnostics=failure)
            return BuildResult(_adopted(root, config, sources, cache, patched), written)
    analysis = _analyse(root, config, problems, sources, cache)
    if not analysis.ok:
        return BuildResult(analysis, diagnostics=analysis.diagnostics)
    return _write_outputs(analysis)


def _adopted(root: Path, config: Config, sources: project.Sources, cache: Cache, patched: warm.Patched) -> Analysis:
    """The Analysis of patched outputs now on disk (remembered as the latest clean one)."""
    return Analysis(root, config, (), cached_counts=warm.adopt(sources, cache, patched))


def _write_outputs(analysis: Analysis) -> BuildResult:
    """Write a clean analysis's lock and modules, all or nothing, then remove the files
    of the previous build that are no longer produced (see `compiler.ownership`)."""
    root, config = analysis.root, analysis.config
    previous_text = read_text(root / config.lock)
    newer = _newer_schema(previous_text, config)
    outputs = {m.path: m.text for m in analysis.modules}
    outputs[config.lock] = analysis.lock_text
    # an unchanged lock lists exactly what is produced: no need to read it again
    previous = ({g.path: g.sha256 for g in analysis.lock.generated} if previous_text == analysis.lock_text
                else manifest(previous_text, config))
    refusals = [newer] if newer is not None else foreign_files(root, config, outputs, previous)
    if refusals:
        return BuildResult(analysis, diagnostics=sorted_diagnostics([*analysis.diagnostics, *refusals]))
    try:
        written = commit(root, outputs, last=config.lock)
    except WriteError as error:
        return BuildResult(analysis, diagnostics=sorted_diagnostics([*analysis.diagnostics, _write_failed(error)]))
    remove, kept = removals(root, config, previous, set(outputs))
    failed = [(path, error) for path in remove if (error := _unlink(root / path)) is not None]
    kept += [Diagnostic("OC408", f"`{path}` is no longer generated but could not be removed: {error}", Span(path),
                        "delete it yourself if you no longer need it") for path, error in failed]
    removed = tuple(path for path in remove if path not in dict(failed))
    return BuildResult(analysis, written, removed, sorted_diagnostics([*analysis.diagnostics, *kept]),
                       _rewiring(previous_text, analysis))


def _rewiring(previous_text: str | None, analysis: Analysis) -> tuple[Change, ...]:
    """How this build rewired the previous lock's operations and flows (none without one,
    or when it does not parse: then there is nothing to compare)."""
    if previous_text is None or previous_text == analysis.lock_text or analysis.lock is None:
        return ()
    from compiler.lock.diff import rewiring
    from compiler.lock.lockfile import parse_lock

    previous = parse_lock(previous_text, analysis.config.lock)
    return () if isinstance(previous, Diagnostic) else tuple(rewiring(previous, analysis.lock))


def _unlink(path: Path) -> str | None:
    """Remove `path`; the OS error's text when that fails."""
    try:
        path.unlink()
    except OSError as error:
        return error.strerror or str(error)
    return None


def _write_failed(error: WriteError) -> Diagnostic:
    return Diagnostic("OC407", f"cannot write `{error.path}`: {error.reason}; nothing was changed", Span(error.path),
                      "make the folder writable and free some space (or lift `chattr +i`), then run `orchc build` again")


# -- check ------------------------------------------------------------------------------


def check(path: str | os.PathLike | None = None) -> tuple[Analysis, tuple[Diagnostic, ...]]:
    """Compare what `build` would write with what is on disk; never writes.

    An unchanged project (the same config and sources as a clean analysis remembered in
    the cache, and that analysis's outputs on disk byte for byte) is fresh without
    running a pass.
    """
    root = find_root(path)
    config, problems = load_config(root)
    sources = cache = None
    if not problems:
        sources, cache = project.find_and_read(root, config), Cache(root)
        counts = warm.unchanged(root, config, sources, cache)
        if counts is not None:
            return Analysis(root, config, (), cached_counts=counts), ()
        patched = warm.patched(root, config, sources, cache)
        if patched is not None and not patched.changed:  # e.g. a comment between functions
            return _adopted(root, config, sources, cache, patched), ()
    analysis = _analyse(root, config, problems, sources, cache)
    if not analysis.ok:
        return analysis, analysis.diagnostics
    disk_text = _read_lock(root, config)
    if disk_text is None:
        from compiler.lock.lockfile import LOCK_HINTS

        missing = Diagnostic("OC401", f"the lockfile `{config.lock}` does not exist", Span(config.lock), LOCK_HINTS["OC401"])
        return analysis, sorted_diagnostics([*analysis.diagnostics, missing])
    if isinstance(disk_text, Diagnostic):
        return analysis, sorted_diagnostics([*analysis.diagnostics, disk_text])
    # the common case, an unchanged lock, needs no parse
    from compiler.lock.lockfile import parse_lock

    on_disk = analysis.lock if disk_text == analysis.lock_text else parse_lock(disk_text, config.lock)
    if isinstance(on_disk, Diagnostic):
        return analysis, sorted_diagnostics([*analysis.diagnostics, on_disk])
    findings = [*_lock_findings(analysis, disk_text, on_disk), *_module_findings(analysis, on_disk)]
    return analysis, sorted_diagnostics([*analysis.diagnostics, *findings])


def _lock_findings(analysis: Analysis, disk_text: str, on_disk: LockFile) -> list[Diagnostic]:
    config = analysis.config
    if disk_text == analysis.lock_text:
        return []
    from compiler.lock.diff import lock_changes

    hint = "run `orchc build` and commit the result"
    changes = lock_changes(on_disk, analysis.lock)
    if not changes:
        return [Diagnostic("OC405", f"`{config.lock}` differs from what `orchc build` writes (edited by hand?)",
                           Span(config.lock), hint)]
    spans = {op.name: op.declared for op in analysis.graph.operations}  # a step's: its place in the spec
    declared = {decl.name: decl.span() for decl in config.deployments}
    return [
        Diagnostic("OC405", f"`{config.lock}` is stale: {change.text}",
                   (declared if change.kind == "deployment" else spans).get(change.subject, Span(config.lock)), hint)
        for change in changes
    ]


def _module_findings(analysis: Analysis, on_disk: LockFile) -> list[Diagnostic]:
    root, hint = analysis.root, "run `orchc build`; never edit generated modules by hand"
    recorded = {g.path: g.sha256 for g in on_disk.generated}
    findings = []
    for module in analysis.modules:
        text = read_text(root / module.path)
        if text is None:
            findings.append(Diagnostic("OC406", f"generated module `{module.path}` is missing", Span(module.path), hint))
            continue
        if text == module.text:
            continue
        edited = recorded.get(module.path) not in (None, _sha256(text))
        what = "was edited by hand" if edited else "is stale"
        findings.append(Diagnostic("OC406", f"generated module `{module.path}` {what}", Span(module.path), hint))
    produced = {m.path for m in analysis.modules}
    for extra in sorted(set(manifest_of(on_disk, analysis.config)) - produced):
        if not owned_file(root, analysis.config, extra):
            continue
        findings.append(Diagnostic("OC406", f"generated module `{extra}` is no longer produced by any flow",
                                   Span(extra), "run `orchc build` to remove it"))
    return findings


def _project_relative(path: Path, root: Path) -> str:
    """A spec's path as the project names its specs: an absolute path inside the project
    becomes relative to it; a relative one already is."""
    if path.is_absolute() and path.resolve().is_relative_to(root.resolve()):
        return path.resolve().relative_to(root.resolve()).as_posix()
    return path.as_posix()


def validate_spec(text: str, path: str | None = None, project: str | os.PathLike | None = None) -> tuple[Diagnostic, ...]:
    """Validate a candidate pipeline spec against the project as it is now, in memory:
    every diagnostic the project would have with it (none that is an error: it would
    compile). Writes nothing, not even the cache. `path` (relative to the project, or
    absolute) names the candidate: it replaces the spec of that path, if the project has
    one; None stands
    for standard input (`<stdin>`, JSON when it starts with `{`). For an agent that writes
    pipelines in a loop: `orchc validate FILE|-` is this on the command line.
    """
    from compiler.project import find_and_read
    from compiler.specs.steps import STDIN

    root = find_root(project)
    config, problems = load_config(root)
    if has_errors(problems):
        return tuple(problems)
    sources = find_and_read(root, config)
    name = STDIN if path is None else _project_relative(Path(path), root)
    specs = [spec for spec in sources.specs if isinstance(spec, Diagnostic) or spec[0] != name]
    # discovery's own findings, but a `pipelines` glob matching nothing yet is no problem here
    found = [d for d in sources.diagnostics if not d.message.startswith("`pipelines` entry")]
    outcome = analyse_files(config, sources.reads, sources.paths, prior=(*problems, *found),
                            specs=[*specs, (name, text)])
    return outcome.diagnostics

"""The compiler's API and its only file I/O: find the project, read sources, run the passes,
and write (build) or compare (check) the lockfile and generated modules.

Every write is atomic (a temporary file in the same folder, then `os.replace`) and happens
only when the bytes differ; nothing is written when any error was found.
"""

from __future__ import annotations

import contextlib
import functools
import gc
import multiprocessing
import os
import re
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from compiler.cache import Cache
from compiler.cache import digest as cache_digest
from compiler.config import Config, parse_config
from compiler.diagnostics import Diagnostic, UsageError, has_errors, sorted_diagnostics
from compiler.core import analyse_files
from compiler.discover import SourcePath, find_sources
from compiler.incremental import sha256 as _sha256
from compiler.model import OperationSpec, SourceFile, Span
from compiler.output_paths import output_path_problems
from compiler.ownership import foreign_files, manifest, manifest_of, owned_file, removals
from compiler.writer import MAX_SOURCE_BYTES, WriteError, commit, read_bytes, read_regular

# The passes (libcst, networkx, black, pydantic) are imported where they are used: a
# `check` of an unchanged project answers from the cache without loading any of them.
if TYPE_CHECKING:
    from compiler.codegen import GeneratedModule
    from compiler.lockfile import LockFile
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


# -- finding and reading ----------------------------------------------------------------


def find_root(path: str | os.PathLike | None = None) -> Path:
    """PATH itself when it holds a pyproject.toml, else the nearest such folder above it
    (or above the current folder); PATH itself when there is none."""
    start = Path(path) if path is not None else Path.cwd()
    if not start.exists():
        raise UsageError(f"`{path}` does not exist", "pass an existing project folder")
    start = start.resolve()
    if start.is_file():
        start = start.parent
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def load_config(root: Path) -> tuple[Config, tuple[Diagnostic, ...]]:
    """The project's configuration, with its findings: its own (OC101-OC103), then where
    its `lock` and `out` would make orchc write (OC109), before anything else is read."""
    pyproject = root / "pyproject.toml"
    try:
        text = pyproject.read_text(encoding="utf-8") if pyproject.is_file() else None
    except (OSError, UnicodeDecodeError) as error:
        return Config(), (Diagnostic("OC101", f"cannot read `pyproject.toml`: {error}", Span("pyproject.toml"),
                                     "save it as UTF-8 text orchc can read"),)
    config, problems = parse_config(text)
    if has_errors(problems):
        return config, problems
    return config, (*problems, *output_path_problems(root, config))


def _read_source(root: Path, source: SourcePath) -> SourceFile | Diagnostic:
    try:
        data = read_regular(root / source.path, MAX_SOURCE_BYTES)
    except OSError as error:  # a link loop, a dangling link, a pipe or device, no permission
        return Diagnostic("OC112", f"cannot read `{source.path}`: {error.strerror or error}", Span(source.path),
                          "make it a readable source file (or fix the link), or exclude it with `[tool.orchc] exclude`")
    try:
        return SourceFile(source.path, source.module, data.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        return Diagnostic("OC106", f"cannot read `{source.path}` as UTF-8: {error}", Span(source.path),
                          "save the file as UTF-8, or exclude it with `[tool.orchc] exclude`")


#: below this many files to parse, a process pool costs more than it saves (measured:
#: forking two workers and shipping results back is ~40 ms; a file parses in ~12 ms)
PARALLEL_THRESHOLD = 24


def worker_count() -> int:
    """`ORCHC_WORKERS` when set (1 forces one process), else the number of CPUs."""
    value = os.environ.get("ORCHC_WORKERS", "").strip()
    if value.isdigit() and int(value) > 0:
        return int(value)
    return os.cpu_count() or 1


class _Sources(NamedTuple):
    """A project's source files, found and read once per run (`check` hands what it read
    for the project cache to the analysis instead of reading every file again)."""

    paths: tuple[SourcePath, ...]
    #: discovery's findings (OC104)
    diagnostics: tuple[Diagnostic, ...]
    #: each file's text, or why it cannot be read (OC106), in path order
    reads: list[SourceFile | Diagnostic]
    #: each file's extraction cache key (a digest of its path, module and text; None when
    #: it can't be read), computed once: the per-file and project caches both use it
    keys: list[str | None]
    #: the project-level cache key; None when discovery failed or a file can't be read
    key: str | None

    @property
    def packages(self) -> list[str]:
        """The top-level packages of the sources, sorted (they decide which types bind
        nominally)."""
        return sorted({source.module.split(".", 1)[0] for source in self.paths})


def _find_and_read(root: Path, config: Config) -> _Sources:
    paths, diagnostics = find_sources(root, config)
    reads = [_read_source(root, source) for source in paths]
    keys = [None if isinstance(read, Diagnostic) else cache_digest("extract", read.path, read.module, read.text)
            for read in reads]
    project = None if diagnostics or None in keys else cache_digest("project", repr(config), *keys)
    return _Sources(paths, diagnostics, reads, keys, project)


def _extract_all(reads: list[SourceFile | Diagnostic], keys: list[str | None],
                 cache: Cache) -> tuple[list[OperationSpec], list[Diagnostic]]:
    """Every file's operations and diagnostics, in path order (`keys`: their cache keys).

    1. A file whose extraction is cached under the digest of its bytes (and path, module
       and orchc's own code) is not parsed again.
    2. Files that cannot hold an operation (no word `operation`) need no parse at all.
    3. The rest are extracted here, or across processes when there are more than
       `PARALLEL_THRESHOLD` of them; results are merged in path order either way, so
       the output is the same bytes.
    """
    results: dict[int, tuple] = {}
    todo: list[tuple[int, str, SourceFile]] = []
    for index, (read, key) in enumerate(zip(reads, keys)):
        if isinstance(read, Diagnostic) or key is None:
            results[index] = ((), (read,))
            continue
        if "operation" not in read.text:  # what `extract` says of it, without loading libcst
            results[index] = ((), ())
            continue
        found = cache.get_extraction(key)
        if found is None:
            todo.append((index, key, read))
        else:
            results[index] = found
        cache.used_extractions.add(key)
    if todo:
        cache.prepare("extract")  # here, not in each worker at once
    for (index, _, _), found in zip(todo, _extract_many([(key, read) for _, key, read in todo], cache)):
        results[index] = found
    operations: list[OperationSpec] = []
    diagnostics: list[Diagnostic] = []
    for index in range(len(reads)):
        found, problems = results[index]
        operations.extend(found)
        diagnostics.extend(problems)
    return operations, diagnostics


def _extract_and_remember(cache: Cache, item: tuple[str, SourceFile]) -> tuple:
    """Extract one file and cache the result under its key (in the worker that extracted
    it: encoding and writing entries is work to share too)."""
    from compiler.extract import extract

    key, file = item
    found = extract(file)
    if not has_errors(found[1]):  # a file with errors is being edited: parse it again
        cache.put_extraction(key, *found)
    return found


def _extract_many(items: list[tuple[str, SourceFile]], cache: Cache) -> list[tuple]:
    """`_extract_and_remember` of each (key, file), across processes when worth it."""
    work = functools.partial(_extract_and_remember, cache)
    workers = min(worker_count(), len(items))
    if workers < 2 or len(items) <= PARALLEL_THRESHOLD:
        return [work(item) for item in items]
    # biggest first, so no worker is left with a long file at the end
    order = sorted(range(len(items)), key=lambda i: -len(items[i][1].text))
    # fork is the cheapest start (the parent has libcst loaded), but only safe without threads
    fork = threading.active_count() == 1 and "fork" in multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if fork else "spawn")
    with ProcessPoolExecutor(workers, mp_context=context) as pool:
        found = list(pool.map(work, [items[i] for i in order], chunksize=max(1, len(items) // (workers * 8))))
    results: list = [None] * len(items)
    for index, result in zip(order, found):
        results[index] = result
    return results


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
             sources: _Sources | None = None, cache: Cache | None = None) -> Analysis:
    """`analyse` once the configuration is loaded; `sources` and `cache` when the caller
    (`check`) has already read the sources and opened the cache."""
    with _collector_paused():
        return _analyse_now(root, config, config_diagnostics, sources, cache)


def _analyse_now(root: Path, config: Config, config_diagnostics: tuple[Diagnostic, ...],
                 sources: _Sources | None, cache: Cache | None) -> Analysis:
    """The pure core (`compiler.core`) over the project's files, with the cache's
    extraction and formatting, remembering a clean analysis for the next run."""
    if has_errors(config_diagnostics):
        return Analysis(root, config, sorted_diagnostics(config_diagnostics))
    sources = sources if sources is not None else _find_and_read(root, config)
    cache = cache if cache is not None else Cache(root)
    extracted: list[OperationSpec] = []

    def extract_all(reads):
        found = _extract_all(reads, sources.keys, cache)
        extracted.extend(found[0])
        return found

    outcome = analyse_files(config, sources.reads, sources.paths, prior=(*config_diagnostics, *sources.diagnostics),
                            extract_all=extract_all, memo=cache.memo)
    cache.prune("extract", cache.used_extractions)
    analysis = Analysis(root, config, outcome.diagnostics, outcome.graph, outcome.lock, outcome.lock_text,
                        outcome.modules)
    if outcome.ok:
        cache.prune("format", cache.used_formats)
    if outcome.ok and not outcome.diagnostics:
        outputs = {config.lock: _sha256(analysis.lock_text), **{m.path: _sha256(m.text) for m in outcome.modules}}
        per_file = Counter(op.span.path for op in extracted)
        files = {read.path: [key, per_file[read.path]] for read, key in zip(sources.reads, sources.keys)}
        _remember(cache, sources.key, _State(repr(config), sources.packages, files, outputs, list(analysis.counts)))
    return analysis


# -- the project-level cache: an unchanged project needs no analysis to be checked ---------


class _State(NamedTuple):
    """What the cache remembers of the latest clean analysis: enough to patch its outputs
    after an edit that changes no operation's interface (`compiler.incremental`)."""

    config: str
    #: the top-level packages of the sources (they decide which types bind nominally)
    packages: list[str]
    #: path -> [extraction cache key, how many operations the file held]
    files: dict[str, list]
    #: path -> sha256 of each file build wrote (the lock and the generated modules)
    outputs: dict[str, str]
    #: [operations, flows]
    counts: list[int]


def _remember(cache: Cache, key: str | None, state: _State) -> None:
    if key is None:
        return
    cache.put("project", key, {"outputs": state.outputs, "counts": state.counts})
    cache.prune("project", {key}, slack=8)
    cache.put("state", "latest", state._asdict())


def _latest(cache: Cache, config: Config) -> _State | None:
    entry = cache.get("state", "latest")
    try:
        state = _State(**entry)
    except TypeError:
        return None
    shapes = (
        state.config == repr(config) and isinstance(state.packages, list),
        isinstance(state.files, dict) and isinstance(state.outputs, dict) and config.lock in state.outputs,
        all(isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) and type(v[1]) is int for v in state.files.values()),
        all(isinstance(k, str) and isinstance(v, str) for k, v in state.outputs.items()),
        isinstance(state.counts, list) and len(state.counts) == 2 and all(type(c) is int for c in state.counts),
    )
    return state if all(shapes) else None


class _Patched(NamedTuple):
    """Outputs patched from the latest clean analysis (`compiler.incremental`)."""

    state: _State
    #: path -> new text, for each output that changed (the lock included)
    changed: dict[str, str]


def _patched(root: Path, config: Config, sources: _Sources, cache: Cache) -> _Patched | None:
    """The latest clean analysis's outputs, patched for what changed in the sources since;
    None when that takes more than a patch (the caller analyses from scratch)."""
    state = _latest(cache, config) if sources.key is not None else None
    if state is None or sources.packages != state.packages:
        return None
    reads: list[SourceFile] = sources.reads  # type: ignore[assignment]  # sources.key: all were read
    edited = [(read, key) for read, key in zip(reads, sources.keys) if state.files.get(read.path, [None])[0] != key]
    gone = set(state.files) - {read.path for read in reads}
    before = _remembered_operations(cache, state, [*(read.path for read, _ in edited), *gone])
    if before is None:
        return None
    after, problems = _extract_all([read for read, _ in edited], [key for _, key in edited], cache)
    outputs = {path: _read_text(root / path) for path in state.outputs}
    if problems or any(text is None or _sha256(text) != state.outputs[path] for path, text in outputs.items()):
        return None
    from compiler.incremental import patch

    lock_text = outputs.pop(config.lock)
    found = patch(lock_text, outputs, before, after)  # type: ignore[arg-type]
    if found is None:
        return None
    new_lock, modules = found
    changed = {**modules, **({config.lock: new_lock} if new_lock != lock_text else {})}
    files = {**{path: v for path, v in state.files.items() if path not in gone},
             **{read.path: [key, sum(op.span.path == read.path for op in after)] for read, key in edited}}
    hashes = {**state.outputs, **{path: _sha256(text) for path, text in changed.items()}}
    return _Patched(state._replace(files=files, outputs=hashes), changed)


def _adopt(root: Path, config: Config, sources: _Sources, cache: Cache, patched: _Patched) -> Analysis:
    """Remember patched outputs (now on disk) as the latest clean analysis's, and say so."""
    _remember(cache, sources.key, patched.state)
    operations, flows = patched.state.counts
    return Analysis(root, config, (), cached_counts=(operations, flows))


def _remembered_operations(cache: Cache, state: _State, paths: list[str]) -> list[OperationSpec] | None:
    """The operations the latest clean analysis found in these files (None when the
    extraction cache no longer holds one of them)."""
    operations: list[OperationSpec] = []
    for path in paths:
        key, count = state.files.get(path, ["", 0])
        if count == 0:
            continue
        found = cache.get_extraction(key)
        if found is None:
            return None
        operations.extend(found[0])
    return operations


def _unchanged(root: Path, config: Config, sources: _Sources, cache: Cache) -> Analysis | None:
    """An Analysis for a project whose sources, config and outputs on disk are exactly
    those of a clean analysis remembered in the cache; None when anything differs."""
    entry = cache.get("project", sources.key) if sources.key else None
    if not isinstance(entry, dict):
        return None
    outputs, counts = entry.get("outputs"), entry.get("counts")
    if not (isinstance(outputs, dict) and isinstance(counts, list) and len(counts) == 2
            and all(isinstance(c, int) for c in counts) and config.lock in outputs):
        return None
    for relative, expected in outputs.items():
        if not isinstance(relative, str) or _file_sha256(root / relative) != expected:
            return None
    return Analysis(root, config, (), cached_counts=(counts[0], counts[1]))


def _file_sha256(path: Path) -> str | None:
    try:
        return _sha256(path.read_bytes())
    except OSError:
        return None


# -- build ------------------------------------------------------------------------------


def _read_lock(root: Path, config: Config) -> str | Diagnostic | None:
    """The lockfile's text; None when there is none, OC402 when it is not UTF-8."""
    path = root / config.lock
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        return Diagnostic("OC402", str(error), Span(config.lock), _LOCK_HINTS["OC402"])


def parse_lock(text: str, path: str) -> LockFile | Diagnostic:
    """A lock from its text, or the diagnostic saying why it can't be read (`path` is
    where the text came from: a project-relative file or a `git:REF`)."""
    from compiler.lockfile import LockError, loads

    try:
        return loads(text)
    except LockError as error:
        return Diagnostic(error.code, error.message, Span(path, error.line), _LOCK_HINTS[error.code])


_LOCK_HINTS = {
    "OC401": "run `orchc build` to create it, and commit it",
    "OC402": "regenerate it with `orchc build`",
    "OC403": "don't merge the lockfile by hand: regenerate it with `orchc build` after merging the source",
    "OC404": "upgrade orchc to the version that wrote it (`pip install -U orchc`)",
}


_SCHEMA_LINE = re.compile(r"^schema = (\d+)$", re.MULTILINE)


def _newer_schema(lock_text: str | None, config: Config) -> Diagnostic | None:
    """OC404 when the lock on disk (its text) was written by a newer orchc (build must not
    downgrade it). Only its `schema` line is read: whatever else it holds is about to be replaced."""
    from compiler.lockfile import SCHEMA_VERSION

    match = _SCHEMA_LINE.search(lock_text or "")
    if match is None or int(match.group(1)) <= SCHEMA_VERSION:
        return None
    return Diagnostic("OC404", f"the lockfile uses schema {match.group(1)}; this orchc reads schema "
                      f"{SCHEMA_VERSION} and older", Span(config.lock, match.string.count("\n", 0, match.start()) + 1),
                      _LOCK_HINTS["OC404"])


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
    lock_text = _read_text(root / config.lock)
    if not analysis.ok or lock_text is None:
        return {}
    expected = {config.lock, *(m.path for m in analysis.modules)}
    paths = sorted(expected | set(_no_longer_produced(root, lock_text, analysis)))
    return {path: _read_text(root / path) for path in paths}


def _read_text(path: Path) -> str | None:
    """A regular file's text; None when there is none (a pipe or device is never read)."""
    data = read_bytes(path)
    try:
        return None if data is None else data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def build(path: str | os.PathLike | None = None) -> BuildResult:
    """Analyse and write the lock and generated modules; write nothing on any error.

    After an edit that changes no operation's interface, the outputs of the latest clean
    build are patched instead (`compiler.incremental`): the same bytes, without a link.
    """
    root = find_root(path)
    config, problems = load_config(root)
    sources = cache = None
    if not problems:
        sources, cache = _find_and_read(root, config), Cache(root)
        patched = _patched(root, config, sources, cache)
        if patched is not None:
            try:
                written = commit(root, patched.changed, last=config.lock)
            except WriteError as error:
                return BuildResult(_adopt(root, config, sources, cache, patched), diagnostics=(_write_failed(error),))
            return BuildResult(_adopt(root, config, sources, cache, patched), written)
    analysis = _analyse(root, config, problems, sources, cache)
    if not analysis.ok:
        return BuildResult(analysis, diagnostics=analysis.diagnostics)
    return _write_outputs(analysis)


def _write_outputs(analysis: Analysis) -> BuildResult:
    """Write a clean analysis's lock and modules, all or nothing, then remove the files
    of the previous build that are no longer produced (see `compiler.ownership`)."""
    root, config = analysis.root, analysis.config
    previous_text = _read_text(root / config.lock)
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
    return BuildResult(analysis, written, removed, sorted_diagnostics([*analysis.diagnostics, *kept]))


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
        sources, cache = _find_and_read(root, config), Cache(root)
        unchanged = _unchanged(root, config, sources, cache)
        if unchanged is not None:
            return unchanged, ()
        patched = _patched(root, config, sources, cache)
        if patched is not None and not patched.changed:  # e.g. a comment between functions
            return _adopt(root, config, sources, cache, patched), ()
    analysis = _analyse(root, config, problems, sources, cache)
    if not analysis.ok:
        return analysis, analysis.diagnostics
    disk_text = _read_lock(root, config)
    if disk_text is None:
        missing = Diagnostic("OC401", f"the lockfile `{config.lock}` does not exist", Span(config.lock), _LOCK_HINTS["OC401"])
        return analysis, sorted_diagnostics([*analysis.diagnostics, missing])
    if isinstance(disk_text, Diagnostic):
        return analysis, sorted_diagnostics([*analysis.diagnostics, disk_text])
    # the common case, an unchanged lock, needs no parse
    on_disk = analysis.lock if disk_text == analysis.lock_text else parse_lock(disk_text, config.lock)
    if isinstance(on_disk, Diagnostic):
        return analysis, sorted_diagnostics([*analysis.diagnostics, on_disk])
    findings = [*_lock_findings(analysis, disk_text, on_disk), *_module_findings(analysis, on_disk)]
    return analysis, sorted_diagnostics([*analysis.diagnostics, *findings])


def _lock_findings(analysis: Analysis, disk_text: str, on_disk: LockFile) -> list[Diagnostic]:
    config = analysis.config
    if disk_text == analysis.lock_text:
        return []
    from compiler.lockdiff import lock_changes

    hint = "run `orchc build` and commit the result"
    changes = lock_changes(on_disk, analysis.lock)
    if not changes:
        return [Diagnostic("OC405", f"`{config.lock}` differs from what `orchc build` writes (edited by hand?)",
                           Span(config.lock), hint)]
    spans = {op.name: op.span for op in analysis.graph.operations}
    return [
        Diagnostic("OC405", f"`{config.lock}` is stale: {change.text}", spans.get(change.subject, Span(config.lock)), hint)
        for change in changes
    ]


def _module_findings(analysis: Analysis, on_disk: LockFile) -> list[Diagnostic]:
    root, hint = analysis.root, "run `orchc build`; never edit generated modules by hand"
    recorded = {g.path: g.sha256 for g in on_disk.generated}
    findings = []
    for module in analysis.modules:
        text = _read_text(root / module.path)
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

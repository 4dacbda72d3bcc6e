"""Loading a project: its root, its configuration (with where its outputs may go), its
source files read once per run, and their extraction, cached and across processes when
that pays. Everything here reads; nothing writes but the extraction cache.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import NamedTuple

from compiler.cache import Cache
from compiler.cache import digest as cache_digest
from compiler.config import Config, parse_config
from compiler.diagnostics import Diagnostic, UsageError, has_errors
from compiler.discover import SourcePath, find_sources, find_specs
from compiler.model import OperationSpec, SourceFile, Span
from compiler.output_paths import output_path_problems
from compiler.pools import process_pool
from compiler.writer import MAX_SOURCE_BYTES, read_regular


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


class Sources(NamedTuple):
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
    #: each pipeline spec file's (path, text), or why it can't be read, in path order
    specs: tuple[tuple[str, str] | Diagnostic, ...] = ()

    @property
    def packages(self) -> list[str]:
        """The top-level packages of the sources, sorted (they decide which types bind
        nominally)."""
        return sorted({source.module.split(".", 1)[0] for source in self.paths})


def find_and_read(root: Path, config: Config) -> Sources:
    paths, diagnostics = find_sources(root, config)
    reads = [_read_source(root, source) for source in paths]
    keys = [None if isinstance(read, Diagnostic) else cache_digest("extract", read.path, read.module, read.text)
            for read in reads]
    spec_paths, spec_diagnostics = find_specs(root, config)
    specs = tuple(read_spec_file(root, path) for path in spec_paths)
    spec_keys = [repr(spec) for spec in specs if not isinstance(spec, Diagnostic)]
    unreadable = len(spec_keys) < len(specs)
    diagnostics += spec_diagnostics
    project = None if diagnostics or None in keys or unreadable else cache_digest("project", repr(config), *keys, *spec_keys)
    return Sources(paths, diagnostics, reads, keys, project, specs)


def read_spec_file(root: Path, path: str) -> tuple[str, str] | Diagnostic:
    """A pipeline spec's (path, text), or why it can't be read."""
    from compiler.specs.tree import MAX_BYTES

    try:
        data = read_regular(root / path, MAX_BYTES + 1)
        return path, data.decode("utf-8-sig")
    except OSError as error:
        return Diagnostic("OC112", f"cannot read `{path}`: {error.strerror or error}", Span(path),
                          "make it a readable file, or change `[tool.orchc] pipelines`")
    except UnicodeDecodeError as error:
        return Diagnostic("OC106", f"cannot read `{path}` as UTF-8: {error}", Span(path), "save the file as UTF-8")


def extract_all(reads: list[SourceFile | Diagnostic], keys: list[str | None],
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
    from compiler.extract.reader import extract

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
    with process_pool(workers, batch=True) as pool:  # forked when it can be: the parent has libcst loaded
        found = list(pool.map(work, [items[i] for i in order], chunksize=max(1, len(items) // (workers * 8))))
    results: list = [None] * len(items)
    for index, result in zip(order, found):
        results[index] = result
    return results

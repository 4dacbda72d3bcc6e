"""Warm reuse of earlier work: the outputs of the latest clean analysis, remembered in the
cache, answer `check` for an unchanged project without running a pass, and are patched
(`compiler.lock.patch`) after an edit that changes no operation's interface.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from compiler.cache import Cache
from compiler.config import Config
from compiler.lock.hashes import sha256 as _sha256
from compiler.model import OperationSpec, SourceFile
from compiler.project import Sources, extract_all
from compiler.writer import read_bytes, read_text


class State(NamedTuple):
    """What the cache remembers of the latest clean analysis: enough to patch its outputs
    after an edit that changes no operation's interface (`compiler.lock.patch`)."""

    config: str
    #: the top-level packages of the sources (they decide which types bind nominally)
    packages: list[str]
    #: path -> [extraction cache key, how many operations the file held]
    files: dict[str, list]
    #: path -> sha256 of each file build wrote (the lock and the generated modules)
    outputs: dict[str, str]
    #: [operations, flows]
    counts: list[int]


def remember(cache: Cache, key: str | None, state: State) -> None:
    if key is None:
        return
    cache.put("project", key, {"outputs": state.outputs, "counts": state.counts})
    cache.prune("project", {key}, slack=8)
    cache.put("state", "latest", state._asdict())


def latest(cache: Cache, config: Config) -> State | None:
    entry = cache.get("state", "latest")
    try:
        state = State(**entry)
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


class Patched(NamedTuple):
    """Outputs patched from the latest clean analysis (`compiler.lock.patch`)."""

    state: State
    #: path -> new text, for each output that changed (the lock included)
    changed: dict[str, str]


def patched(root: Path, config: Config, sources: Sources, cache: Cache) -> Patched | None:
    """The latest clean analysis's outputs, patched for what changed in the sources since;
    None when that takes more than a patch (the caller analyses from scratch)."""
    if config.pipelines or config.defaults:
        return None  # steps share their functions' source hashes, defaults fill options: link again
    state = latest(cache, config) if sources.key is not None else None
    if state is None or sources.packages != state.packages:
        return None
    reads: list[SourceFile] = sources.reads  # type: ignore[assignment]  # sources.key: all were read
    edited = [(read, key) for read, key in zip(reads, sources.keys) if state.files.get(read.path, [None])[0] != key]
    gone = set(state.files) - {read.path for read in reads}
    if any(_is_package_init(path) for path in [*(read.path for read, _ in edited), *gone]):
        return None  # a package's re-exports may change what annotations mean: link again
    before = _remembered_operations(cache, state, [*(read.path for read, _ in edited), *gone])
    if before is None:
        return None
    after, problems = extract_all([read for read, _ in edited], [key for _, key in edited], cache)
    outputs = {path: read_text(root / path) for path in state.outputs}
    if problems or any(text is None or _sha256(text) != state.outputs[path] for path, text in outputs.items()):
        return None
    from compiler.lock.patch import patch

    lock_text = outputs.pop(config.lock)
    found = patch(lock_text, outputs, before, after)  # type: ignore[arg-type]
    if found is None:
        return None
    new_lock, modules = found
    changed = {**modules, **({config.lock: new_lock} if new_lock != lock_text else {})}
    files = {**{path: v for path, v in state.files.items() if path not in gone},
             **{read.path: [key, sum(op.span.path == read.path for op in after)] for read, key in edited}}
    hashes = {**state.outputs, **{path: _sha256(text) for path, text in changed.items()}}
    return Patched(state._replace(files=files, outputs=hashes), changed)


def _is_package_init(path: str) -> bool:
    from compiler.link.reexports import INIT

    return path.rsplit("/", 1)[-1] == INIT


def adopt(sources: Sources, cache: Cache, patched: Patched) -> tuple[int, int]:
    """Remember patched outputs (now on disk) as the latest clean analysis's; how many
    operations and flows the project has."""
    remember(cache, sources.key, patched.state)
    operations, flows = patched.state.counts
    return operations, flows


def _remembered_operations(cache: Cache, state: State, paths: list[str]) -> list[OperationSpec] | None:
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


def unchanged(root: Path, config: Config, sources: Sources, cache: Cache) -> tuple[int, int] | None:
    """How many operations and flows a project has whose sources, config and outputs on
    disk are exactly those of a clean analysis remembered in the cache; None when
    anything differs."""
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
    return counts[0], counts[1]


def _file_sha256(path: Path) -> str | None:
    data = read_bytes(path)
    return None if data is None else _sha256(data)

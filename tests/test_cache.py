"""The extraction and formatting caches and parallel extraction: they only ever save work.

A changed file is extracted again; a corrupt, foreign or planted cache entry is ignored
(and never executed: entries are JSON); output bytes are the same with a cold cache, a warm
one, no cache and in parallel; `orchc check` never writes outputs. The fast black layout of
generated code equals black's own output."""

from __future__ import annotations

import concurrent.futures
import hashlib
import hmac
import json
import keyword
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.corpus import generate as generate_corpus
from compiler import api, cache, project
from compiler.codegen import black_layout
from compiler.codegen import modules as codegen

CASES = Path(__file__).parent / "cases"


def _outputs(project: Path) -> dict[str, bytes]:
    files = [project / "flows.lock", *sorted((project / "orchestration").rglob("*.py"))]
    return {p.relative_to(project).as_posix(): p.read_bytes() for p in files if p.is_file()}


@pytest.fixture()
def corpus(tmp_path: Path) -> Path:
    generate_corpus(tmp_path / "corpus", files=12, ops_per_file=4, files_per_package=6)
    return tmp_path / "corpus"


def _build(project: Path, monkeypatch, **env: str) -> dict[str, bytes]:
    for key in ("ORCHC_NO_CACHE", "ORCHC_WORKERS"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    result = api.build(project)
    assert result.analysis.ok, result.diagnostics
    return _outputs(project)


def test_same_bytes_without_cache_cold_and_warm(corpus: Path, monkeypatch) -> None:
    plain = _build(corpus, monkeypatch, ORCHC_NO_CACHE="1")
    assert not (corpus / ".orchc_cache").exists()
    shutil.rmtree(corpus / "orchestration")
    (corpus / "flows.lock").unlink()
    assert _build(corpus, monkeypatch) == plain  # cold cache, filled now
    assert (corpus / ".orchc_cache" / ".gitignore").read_text().splitlines()[-1] == "*"
    assert list((corpus / ".orchc_cache" / "extract").glob("*.json"))
    assert _build(corpus, monkeypatch) == plain  # warm


def test_parallel_extraction_gives_the_serial_bytes(corpus: Path, monkeypatch) -> None:
    serial = _build(corpus, monkeypatch, ORCHC_NO_CACHE="1", ORCHC_WORKERS="1")
    monkeypatch.setattr(project, "PARALLEL_THRESHOLD", 0)
    calls = []
    real = concurrent.futures.ProcessPoolExecutor
    monkeypatch.setattr(concurrent.futures, "ProcessPoolExecutor", lambda *a, **k: calls.append(a) or real(*a, **k))
    assert _build(corpus, monkeypatch, ORCHC_NO_CACHE="1", ORCHC_WORKERS="2") == serial
    assert calls, "the pool was not used"


def test_changed_file_is_extracted_again(corpus: Path, monkeypatch) -> None:
    _build(corpus, monkeypatch)
    module = corpus / "src" / "pkg00" / "mod001.py"
    module.write_text(module.read_text().replace("keeps at most", "keeps (edited) at most", 1))
    assert api.build(corpus).analysis.ok
    assert "keeps (edited) at most" in (corpus / "flows.lock").read_text()
    monkeypatch.setenv("ORCHC_NO_CACHE", "1")
    assert api.analyse(corpus).lock_text == (corpus / "flows.lock").read_text()


def _entry(path: Path) -> dict:
    """A cache entry's JSON: the file is the entry's HMAC (hex), a newline, then the JSON."""
    return json.loads(path.read_bytes().partition(b"\n")[2])


def _sign(entry: dict, secret: bytes) -> bytes:
    """An entry file as orchc writes it, signed with `secret` (the format, implemented
    here from its description: HMAC-SHA256 of kind, NUL, key, NUL, the JSON bytes)."""
    data = json.dumps(entry).encode()
    message = entry["kind"].encode() + b"\0" + entry["key"].encode() + b"\0" + data
    return hmac.new(secret, message, hashlib.sha256).hexdigest().encode() + b"\n" + data


@pytest.mark.parametrize("damage", ["garbage", "unsigned", "schema", "fingerprint", "key", "payload", "span", "code"])
def test_bad_entries_are_ignored_and_rebuilt(corpus: Path, monkeypatch, damage: str) -> None:
    """Each damaged entry is signed with this machine's secret, so each of the checks
    behind the HMAC is tried (`unsigned`: an edit that keeps the old HMAC)."""
    expected = _build(corpus, monkeypatch)
    entries = sorted((corpus / ".orchc_cache" / "extract").glob("*.json"))
    for path in entries:
        entry = _entry(path)
        operations = entry["payload"]["operations"]["("]
        if damage == "garbage":
            path.write_bytes(b"\x80not json{")
            continue
        if damage == "unsigned":
            operations.append(dict(operations[0], name="planted.op"))
            path.write_bytes(path.read_bytes().partition(b"\n")[0] + b"\n" + json.dumps(entry).encode())
            continue
        if damage in ("schema", "fingerprint", "key"):
            entry[damage] = "other"
        elif damage == "payload":
            operations.append({"@": "os.system", "command": "echo planted"})
        elif damage == "span":
            operations[0]["span"]["line"] = "1"
        elif damage == "code":
            entry["payload"]["diagnostics"] = {"(": [{"@": "Diagnostic", "code": "OC999", "message": "", "hint": "",
                                                      "related": {"(": []}, "span": operations[0]["span"]}]}
        path.write_bytes(_sign(entry, cache.machine_secret()))
    # a planted entry with the right key but invented operations is the only thing a
    # cache could smuggle in; everything malformed above must be rebuilt from source
    shutil.rmtree(corpus / "orchestration")
    assert _build(corpus, monkeypatch) == expected
    assert all(_entry(p)["schema"] == cache.SCHEMA for p in entries)


def test_check_writes_no_outputs(corpus: Path, monkeypatch) -> None:
    _build(corpus, monkeypatch)
    (corpus / "src" / "pkg00" / "mod000.py").write_text(
        (corpus / "src" / "pkg00" / "mod000.py").read_text().replace("keeps at most", "keeps (edited) at most", 1))
    before = _outputs(corpus)
    _, diagnostics = api.check(corpus)
    assert any(d.code == "OC405" for d in diagnostics)
    assert _outputs(corpus) == before


def test_fast_layout_matches_black_on_the_corpus(corpus: Path, monkeypatch) -> None:
    monkeypatch.setenv("ORCHC_NO_CACHE", "1")
    analysis = api.analyse(corpus)
    for module in analysis.modules:
        assert black_layout.format_with_black(module.text) == module.text
    monkeypatch.setenv("ORCHC_VERIFY_MIRRORS", "1")  # raises when a mirror differs from its library
    assert api.analyse(corpus).modules == analysis.modules


# names orchc accepts: identifiers that are not keywords (`as`, `if` are rejected as OC203)
_names = st.from_regex(r"[a-z][a-z0-9_]{0,30}", fullmatch=True).filter(lambda name: not keyword.iskeyword(name))
_texts = st.text(st.characters(min_codepoint=9, max_codepoint=0x17F), max_size=120)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    group=_names, names=st.lists(_names, min_size=1, max_size=4, unique=True), description=_texts,
    tags=st.lists(_texts, max_size=3), retries=st.integers(0, 3), delay=st.one_of(st.integers(0, 9), st.lists(st.integers(0, 9), max_size=3)),
    default=st.one_of(st.none(), st.integers(), st.floats(allow_nan=False), _texts, st.lists(st.integers(), max_size=2)),
)
def test_fast_layout_matches_black(group, names, description, tags, retries, delay, default) -> None:
    from compiler.lock.lockfile import LockEdge, LockFile, LockFlow, LockFlowParam, LockOperation, LockParam, LockProject

    if group in names:
        return
    ops = [
        LockOperation(name=f"{group}.{name}", module="m", function=name, file="m.py", line=1, column=1, is_async=i % 2 == 0,
                      source_hash="sha256:" + "0" * 64, description=description or None, tags=sorted(set(tags)),
                      retries=retries, retry_delay_seconds=delay, cache=i == 1,
                      params=[LockParam(name=f"p_{k}_{name}") for k in range(i + 1)])
        for i, name in enumerate(names)
    ]
    edges = [LockEdge(source=a.name, target=b.name, param=b.params[0].name, reason="inputs") for a, b in zip(ops, ops[1:])]
    flow_params = [LockFlowParam(name=op.params[-1].name, required=default is None,
                                 default=None if default is None else repr(default),
                                 default_literal=None if default is None else repr(default), consumers=[op.name])
                   for op in ops if len(op.params) > 1]
    lock = LockFile(project=LockProject(out="out", package="out", source_roots=["."]), operations=ops, edges=edges,
                    flows=[LockFlow(name=group, module=group, function=group, operations=[o.name for o in ops],
                                    sinks=[ops[-1].name], params=flow_params)])
    plan = codegen._Plan(lock)
    for module in sorted(plan.modules):
        raw = codegen._ModuleWriter(plan, module).text()
        pieces = codegen._ModuleWriter(plan, module).pieces()
        assert black_layout.layout_module(pieces, raw, codegen._no_memo) == codegen._format(raw)


# -- the project-level cache: an unchanged project is checked without running a pass --------

CASE = Path(__file__).parent / "cases" / "scraping_seed" / "project"
_PROBE = (
    "import sys\nfrom compiler.api import check\n"
    "analysis, diagnostics = check(sys.argv[1])\n"
    "heavy = sorted(m for m in ('libcst', 'black', 'networkx', 'pydantic') if m in sys.modules)\n"
    "print(analysis.ok, [d.code for d in diagnostics], heavy)\n"
)


def _probe(project: Path, secret_home: Path) -> str:
    env = {**os.environ, "XDG_CACHE_HOME": str(secret_home)}
    env.pop("ORCHC_NO_CACHE", None)
    done = subprocess.run([sys.executable, "-c", _PROBE, str(project)], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _built_case(tmp_path: Path, secret_home: Path) -> Path:
    project = tmp_path / "project"
    shutil.copytree(CASE, project)
    env = {**os.environ, "XDG_CACHE_HOME": str(secret_home)}
    subprocess.run([sys.executable, "-m", "compiler", "build"], cwd=project, env=env, check=True, capture_output=True)
    return project


def test_unchanged_project_is_checked_without_any_pass(tmp_path: Path) -> None:
    project = _built_case(tmp_path, tmp_path / "machine")
    assert _probe(project, tmp_path / "machine") == "True [] []"
    module = project / "orchestration" / "scraping.py"
    module.write_text(module.read_text() + "# edited\n")
    assert _probe(project, tmp_path / "machine").startswith("True ['OC406'] ['black'")


def test_a_cache_from_another_machine_is_never_trusted(tmp_path: Path) -> None:
    """A forged entry saying stale outputs are fresh, planted with another machine's
    secret (e.g. committed in a pull request), must not turn a stale lock green."""
    attacker, ci = tmp_path / "attacker", tmp_path / "ci"
    project = _built_case(tmp_path, attacker)
    stale_lock = (project / "flows.lock").read_bytes()
    ops = project / "scraping" / "ops.py"
    ops.write_text(ops.read_text().replace("retries=3", "retries=4"))
    env = {**os.environ, "XDG_CACHE_HOME": str(attacker)}
    subprocess.run([sys.executable, "-m", "compiler", "build"], cwd=project, env=env, check=True, capture_output=True)
    fresh_lock = "sha256:" + hashlib.sha256((project / "flows.lock").read_bytes()).hexdigest()
    entries = [p for p in (project / ".orchc_cache" / "project").glob("*.json")
               if _entry(p)["payload"]["outputs"]["flows.lock"] == fresh_lock]
    assert len(entries) == 1  # the entry for the current source
    forged = _entry(entries[0])
    forged["payload"]["outputs"]["flows.lock"] = "sha256:" + hashlib.sha256(stale_lock).hexdigest()
    (project / "flows.lock").write_bytes(stale_lock)
    unsigned = entries[0].read_bytes().partition(b"\n")[0] + b"\n" + json.dumps(forged).encode()
    entries[0].write_bytes(unsigned)
    assert _probe(project, attacker).startswith("True ['OC405'")  # an edit without the secret is refused
    entries[0].write_bytes(_sign(forged, (attacker / "orchc" / "secret").read_bytes()))
    assert _probe(project, attacker).startswith("True")  # the forging machine is fooled by its own secret…
    verdict = _probe(project, ci)  # …but another machine analyses for itself
    assert verdict.startswith("True ['OC405'") and "libcst" in verdict

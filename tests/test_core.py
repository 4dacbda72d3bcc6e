"""The pure core: source texts and a configuration in, the same lock and modules `orchc
build` writes out, touching no file."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

import compiler
from compiler.config import parse_config

ROOT = Path(__file__).resolve().parents[1]


def _example_texts() -> dict[str, str]:
    return {path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted([*(ROOT / "examples").rglob("*.py"), *(ROOT / "examples" / "pipelines").glob("*.*")])}


CONFIG = parse_config((ROOT / "pyproject.toml").read_text(encoding="utf-8"))[0]


def test_the_core_gives_the_committed_lock_and_modules(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may be written here (or anywhere)
    outcome = compiler.analyse_sources(_example_texts(), CONFIG)
    assert outcome.ok and not outcome.diagnostics
    assert outcome.lock_text == (ROOT / "flows.lock").read_text(encoding="utf-8")
    assert {m.path: m.text for m in outcome.modules} == {
        path.relative_to(ROOT).as_posix(): path.read_text(encoding="utf-8")
        for path in (ROOT / "orchestration").glob("*.py")}
    assert os.listdir(tmp_path) == []


@settings(max_examples=10, deadline=None)
@given(st.permutations(sorted(_example_texts())))
def test_the_order_of_the_texts_does_not_matter(order: list[str]) -> None:
    texts = _example_texts()
    assert compiler.analyse_sources({path: texts[path] for path in order}, CONFIG).lock_text == \
        (ROOT / "flows.lock").read_text(encoding="utf-8")


def test_findings_come_back_as_data() -> None:
    outcome = compiler.analyse_sources({"ops.py": "from runtime import operation\n\n@operation(name='a')\n"
                                                  "def a(x): ...\n\n@operation(name='a')\ndef b(): ...\n"})
    assert not outcome.ok and {d.code for d in outcome.diagnostics} == {"OC301"}

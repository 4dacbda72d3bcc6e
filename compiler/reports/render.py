"""Rendering a command's report for people and tools, in every `--output-format`:

- text: `path:line:col: CODE [severity] message`, an indented `hint:` line, then a one-line
  summary (what `orchc` prints by default);
- json: one document holding every field of every diagnostic;
- github: GitHub Actions workflow commands (`::error file=…,line=…::message`), then the
  whole text report, since GitHub shows only a few annotations per step;
- sarif: SARIF 2.1.0 for code scanning (see `compiler.reports.sarif`).

Renderers are pure: a `Report` in, text out. Paths in text and json are project-relative;
github and sarif prefix them with the project's folder inside its repository.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from compiler.diagnostics import Diagnostic
from compiler.reports.report import FileDiff, Report

if TYPE_CHECKING:  # lockdiff pulls in pydantic: keep it off a fast `check`'s import path
    from compiler.lock.diff import Change

__all__ = ["OUTPUT_FORMATS", "OUTPUT_FORMAT_ENV", "FileDiff", "Report", "render", "summary"]

OUTPUT_FORMATS = ("text", "json", "github", "sarif")
#: the environment variable that sets `--output-format` when the option is not given
OUTPUT_FORMAT_ENV = "ORCHC_OUTPUT_FORMAT"
#: the `schema` of the json report; bumped when a field changes meaning or goes away
REPORT_SCHEMA = "orchc-report/1"


def render(report: Report, output_format: str) -> str:
    """The report in `output_format` (one of OUTPUT_FORMATS), ending with a newline."""
    if output_format == "sarif":
        from compiler.reports.sarif import render_sarif

        return render_sarif(report)
    return {"text": render_report_text, "json": render_json, "github": render_github}[output_format](report)


# -- text -------------------------------------------------------------------------------


def render_text(diagnostics: Sequence[Diagnostic]) -> str:
    """One block per diagnostic: the location line, its hint, then related places."""
    blocks = []
    for d in diagnostics:
        span = d.span
        # "." is no file (the command line, the project as a whole): no position to show
        where = "orchc" if span.path == "." else f"{span.path}:{span.line}:{span.column}"
        lines = [f"{where}: {d.code} [{d.severity}] {d.message}"]
        if d.hint:
            lines.append(f"    hint: {d.hint}")
        lines += [f"    note: {r.path}:{r.line}:{r.column}: {text}" for r, text in d.related]
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


def render_changes(changes: Sequence[Change], command: str = "check") -> str:
    """The semantic summary above the diffs (`check`), or the rewiring a build made: one
    line per change."""
    title = ("rewired since the previous lockfile:" if command == "build"
             else "changes from the lockfile on disk to what `orchc build` writes:")
    return "\n".join([title, *(f"  {change.text}" for change in changes)])


def _text_sections(report: Report) -> list[str]:
    sections = [render_text(report.diagnostics)] if report.diagnostics else []
    if report.changes:
        sections.append(render_changes(report.changes, report.command))
    return sections


def _diff_text(report: Report) -> str:
    return "".join(d.diff for d in report.diffs).rstrip("\n")


def render_report_text(report: Report) -> str:
    """Diagnostics, the semantic changes and the diffs (a blank line between them), then
    the summary line."""
    sections = _text_sections(report)
    if report.diffs:
        sections.append(_diff_text(report))
    separator = "\n\n" if report.changes or report.diffs else "\n"
    return separator.join(filter(None, ["\n\n".join(sections), report.summary])) + "\n"


def summary(diagnostics: Sequence[Diagnostic]) -> str:
    errors = sum(d.severity == "error" for d in diagnostics)
    warnings = len(diagnostics) - errors
    if not diagnostics:
        return "no problems found"
    parts = [f"{errors} error{'s' * (errors != 1)}"] if errors else []
    if warnings:
        parts.append(f"{warnings} warning{'s' * (warnings != 1)}")
    return "found " + " and ".join(parts)


# -- json -------------------------------------------------------------------------------


def diagnostic_json(d: Diagnostic) -> dict[str, Any]:
    span = d.span
    return {
        "code": d.code, "slug": d.rule.slug, "severity": d.severity, "message": d.message, "hint": d.hint,
        "path": span.path, "line": span.line, "column": span.column,
        "end_line": span.end_line, "end_column": span.end_column,
        "related": [{"path": r.path, "line": r.line, "column": r.column, "message": text} for r, text in d.related],
    }


def render_json(report: Report) -> str:
    errors = sum(d.severity == "error" for d in report.diagnostics)
    document = {
        "schema": REPORT_SCHEMA,
        "command": report.command,
        "exit_status": report.status,
        "summary": report.summary,
        "counts": {"error": errors, "warning": len(report.diagnostics) - errors},
        "diagnostics": [diagnostic_json(d) for d in report.diagnostics],
        **dict(sorted(report.details)),
    }
    if report.changes or report.diffs:
        document["changes"] = [{"kind": c.kind, "subject": c.subject, "text": c.text} for c in report.changes]
        document["diffs"] = [{"path": d.path, "diff": d.diff} for d in report.diffs]
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


# -- github -----------------------------------------------------------------------------


def escape_data(text: str) -> str:
    """GitHub's escaping of a workflow command's message."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """GitHub's escaping of a workflow command's property value (`file=`, `title=`)."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def github_annotation(d: Diagnostic, prefix: str = "") -> str:
    """`::error file=…,line=…,col=…,title=CODE::message` (the hint on a second line)."""
    span = d.span
    properties = []
    if span.path != ".":
        properties += [("file", prefix + span.path), ("line", span.line), ("col", span.column)]
        if span.end_line:
            properties += [("endLine", span.end_line), ("endColumn", span.end_column or span.column)]
    properties.append(("title", d.code))
    rendered = ",".join(f"{key}={escape_property(str(value))}" for key, value in properties)
    message = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    return f"::{d.severity} {rendered}::{escape_data(message)}"


def _verbatim(text: str) -> list[str]:
    """`text` with workflow commands off, so no line of user text is read as a command.
    The token is derived from the text itself, so the text cannot contain it."""
    token = "orchc-" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
    return [f"::stop-commands::{token}", text, f"::{token}::"]


def render_github(report: Report) -> str:
    lines = [github_annotation(d, report.prefix) for d in report.diagnostics]
    sections = _text_sections(report)
    if sections:
        lines += _verbatim("\n\n".join(sections))
    if report.diffs:
        lines += ["::group::unified diffs of the stale files", *_verbatim(_diff_text(report)), "::endgroup::"]
    lines.append(report.summary)
    return "\n".join(lines) + "\n"

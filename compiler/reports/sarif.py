"""SARIF 2.1.0 output, in the subset GitHub code scanning accepts.

One run; `tool.driver` lists every rule of the catalogue (so `ruleIndex` is stable across
runs); each result has a repository-relative location and a `partialFingerprints` entry
that ignores line numbers, so an alert survives code moving above it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from compiler import __version__
from compiler.diagnostics import RULES, Diagnostic, Rule
from compiler.model import Span
from compiler.reports.report import Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_VERSION = "2.1.0"
INFORMATION_URI = "https://github.com/orchc/orchc"
#: the key of our fingerprint in `partialFingerprints`; bump the version if its recipe changes
FINGERPRINT_KEY = "orchcDiagnostic/v1"
_RULE_INDEX = {rule.code: index for index, rule in enumerate(RULES)}


def _rule(rule: Rule) -> dict[str, Any]:
    help_text = f"{rule.summary} The message of each result ends with a hint on how to fix it."
    return {
        "id": rule.code,
        "name": "".join(part.capitalize() for part in rule.slug.split("-")),
        "shortDescription": {"text": rule.summary},
        "fullDescription": {"text": rule.summary},
        "help": {"text": help_text, "markdown": f"**{rule.code} {rule.slug}**: {help_text}"},
        "defaultConfiguration": {"level": rule.severity},
        "properties": {"tags": ["orchc", rule.slug]},
    }


def _location(span: Span, prefix: str, message: str | None = None) -> dict[str, Any]:
    """A physical location; diagnostics about the whole project point at its pyproject.toml."""
    path = "pyproject.toml" if span.path == "." else span.path
    region: dict[str, Any] = {"startLine": span.line, "startColumn": span.column}
    if span.end_line:
        region |= {"endLine": span.end_line, "endColumn": span.end_column or span.column + 1}
    location: dict[str, Any] = {"physicalLocation": {
        "artifactLocation": {"uri": prefix + path, "uriBaseId": "%SRCROOT%"}, "region": region}}
    if message is not None:
        location["message"] = {"text": message}
    return location


def fingerprint(d: Diagnostic, prefix: str) -> str:
    """Stable across line moves: the code, the file and the message (not the position)."""
    key = "\0".join((d.code, prefix + d.span.path, d.message))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _result(d: Diagnostic, prefix: str) -> dict[str, Any]:
    text = d.message + (f"\nhint: {d.hint}" if d.hint else "")
    result = {
        "ruleId": d.code,
        "ruleIndex": _RULE_INDEX[d.code],
        "level": d.severity,
        "message": {"text": text},
        "locations": [_location(d.span, prefix)],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(d, prefix)},
    }
    if d.related:
        result["relatedLocations"] = [
            {"id": index, **_location(span, prefix, note)} for index, (span, note) in enumerate(d.related, 1)
        ]
    return result


def sarif_document(report: Report) -> dict[str, Any]:
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {
                "name": "orchc", "version": __version__, "semanticVersion": __version__,
                "informationUri": INFORMATION_URI, "rules": [_rule(rule) for rule in RULES],
            }},
            "originalUriBaseIds": {"%SRCROOT%": {"description": {"text": "the repository root"}}},
            "columnKind": "unicodeCodePoints",
            "invocations": [{"executionSuccessful": report.status < 2, "exitCode": report.status}],
            "results": [_result(d, report.prefix) for d in report.diagnostics],
        }],
    }


def render_sarif(report: Report) -> str:
    return json.dumps(sarif_document(report), indent=2, ensure_ascii=False) + "\n"

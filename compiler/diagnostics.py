"""Diagnostics: the catalogue of every finding orchc can report, and the `Diagnostic` value.

Codes are grouped by the pass that reports them (the hundreds digit) and never change
meaning once released: OC1xx configuration and discovery, OC2xx extraction (one file),
OC3xx linking (the whole graph), OC4xx the lockfile and `orchc check`, OC5xx declared
deployments, OC6xx pipeline spec files, OC9xx orchc's own bugs.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from compiler.model import Span

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Rule:
    """One catalogue entry."""

    code: str
    slug: str
    severity: Severity
    #: one sentence for documentation and SARIF's rule help
    summary: str
    #: exit status when this is the worst finding: 1 user error in the graph, 2 usage/config
    exit_status: int = 1


RULES: tuple[Rule, ...] = (
    # -- configuration and discovery (exit 2: usage) --
    Rule("OC101", "invalid-pyproject", "error", "pyproject.toml is not valid TOML.", 2),
    Rule("OC102", "unknown-config-key", "error", "`[tool.orchc]` has a key orchc does not know.", 2),
    Rule("OC103", "invalid-config-value", "error", "A `[tool.orchc]` value has the wrong type or form.", 2),
    Rule("OC104", "source-not-found", "error", "A `sources` entry matches no file or folder.", 2),
    Rule("OC105", "usage-error", "error", "The command line names a path, flow or operation that does not exist.", 2),
    Rule("OC106", "unreadable-source", "error", "A source file cannot be read as UTF-8 text."),
    Rule("OC107", "no-operations", "warning", "The project has no `@operation` functions."),
    Rule("OC108", "unimportable-module", "error", "A file with operations has a module path that Python cannot import."),
    Rule("OC109", "invalid-output-path", "error", "`lock` or `out` would make orchc write outside its own outputs: the project root, the configuration, a sources folder, a folder as the lock.", 2),
    Rule("OC110", "output-not-ours", "error", "A file orchc did not write stands where `orchc build` would write an output.", 2),
    Rule("OC111", "module-collision", "error", "Two source files are the same module to Python (`a.py` and `a/__init__.py`)."),
    Rule("OC112", "unreadable-file", "error", "A source file cannot be read at all (a link loop, a dangling link, no permission)."),
    Rule("OC113", "spec-glob-matches-nothing", "warning", "A `pipelines` glob matches no spec file."),
    # -- extraction: one file --
    Rule("OC201", "syntax-error", "error", "A source file does not parse."),
    Rule("OC202", "non-literal-argument", "error", "An `@operation` argument is not a literal."),
    Rule("OC203", "invalid-name", "error", "An operation name is empty, has an empty segment, or a segment that is not an identifier or is a keyword."),
    Rule("OC204", "unknown-argument", "error", "`@operation` got an argument it does not take."),
    Rule("OC205", "invalid-option", "error", "An `@operation` option has the wrong type or value."),
    Rule("OC206", "unbindable-parameter", "error", "An operation has `*args`, `**kwargs` or positional-only parameters, which a flow cannot bind."),
    Rule("OC207", "unsupported-definition", "error", "`@operation` decorates a lambda, a nested function or a method; only module-level functions are operations."),
    Rule("OC208", "missing-name", "error", "`@operation` has no `name=`."),
    Rule("OC209", "unknown-input-parameter", "error", "`inputs=` names a parameter the function does not have."),
    Rule("OC210", "unknown-map-parameter", "error", "`map=` names a parameter the function does not have (or one a flow cannot pass by name)."),
    # -- linking: the whole graph --
    Rule("OC301", "duplicate-operation", "error", "Two operations have the same name."),
    Rule("OC302", "unknown-dependency", "error", "A `depends_on` target is neither an operation nor a group."),
    Rule("OC303", "unknown-input-target", "error", "An `inputs=` target is neither an operation nor a group."),
    Rule("OC304", "ambiguous-binding", "error", "A parameter matches several producers at the same level."),
    Rule("OC305", "group-without-single-sink", "error", "A parameter binds to a group that has no single sink."),
    Rule("OC306", "cycle", "error", "The dependencies form a cycle."),
    Rule("OC307", "conflicting-parameter-type", "error", "Members of one flow share a parameter name with different annotations."),
    Rule("OC308", "conflicting-parameter-default", "error", "Members of one flow share a parameter name with different defaults."),
    Rule("OC309", "name-is-group", "error", "An operation's name is also the name of a group."),
    Rule("OC310", "self-dependency", "error", "An operation lists itself in `depends_on`, `inputs` or `when`."),
    Rule("OC311", "shadowed-function", "error", "Two operations are functions of the same name in one module, so one replaces the other at import."),
    Rule("OC312", "nfkc-equal-names", "error", "Two names differ in spelling but are the same name to Python, which normalises identifiers (NFKC)."),
    Rule("OC313", "mapped-input-not-a-list", "error", "A mapped parameter is bound to a producer whose return annotation is not a list of the parameter's type."),
    Rule("OC314", "unknown-condition", "error", "A `when=` target is not an operation."),
    Rule("OC315", "condition-not-bool", "warning", "A `when=` target's return annotation is not `bool`: its result is tested for truth."),
    Rule("OC316", "near-miss-binding", "warning", "A required flow parameter's name is close to an operation or group it could bind to: most likely a binding that missed."),
    # -- the lockfile and the gate --
    Rule("OC401", "lock-missing", "error", "The lockfile does not exist.", 2),
    Rule("OC402", "lock-corrupt", "error", "The lockfile is not a valid orchc lockfile.", 2),
    Rule("OC403", "lock-merge-conflict", "error", "The lockfile contains merge-conflict markers.", 2),
    Rule("OC404", "lock-newer-schema", "error", "The lockfile was written by a newer orchc.", 2),
    Rule("OC405", "lock-stale", "error", "The lockfile does not match the source."),
    Rule("OC406", "generated-stale", "error", "A generated module is stale, missing, extra or edited by hand."),
    Rule("OC407", "write-failed", "error", "An output could not be written (permissions, a full disk, an immutable file, a name too long); nothing was changed.", 2),
    Rule("OC408", "generated-file-kept", "warning", "A file that looks generated was not removed because it changed since orchc wrote it, or no lock records it."),
    # -- declared deployments: checked against the flows --
    Rule("OC501", "unknown-deployment-key", "error", "A `[tool.orchc.deployments.NAME]` table has a key orchc does not know."),
    Rule("OC502", "invalid-deployment-setting", "error", "A deployment's name or setting has the wrong type or value (work pool, queue, tags, description, concurrency limit, paused, parameters table)."),
    Rule("OC503", "unknown-deployment-flow", "error", "A deployment names no `flow`, or a flow the project does not have."),
    Rule("OC504", "unknown-deployment-parameter", "error", "A deployment sets a parameter its flow does not take."),
    Rule("OC505", "deployment-parameter-type", "error", "A deployment's parameter value does not fit the flow parameter's annotation."),
    Rule("OC506", "deployment-parameter-missing", "error", "A deployment leaves a required flow parameter unset."),
    Rule("OC507", "invalid-schedule", "error", "A deployment's schedule is invalid: not exactly one of cron, interval, rrule; a bad cron or rrule; an interval that is not a positive number of seconds; an unknown timezone."),
    # -- pipeline spec files --
    Rule("OC601", "invalid-spec", "error", "A pipeline spec is not valid YAML or JSON, is not safe to read (a tag, an alias), or is too large or too deep."),
    Rule("OC602", "invalid-spec-shape", "error", "A pipeline spec has an unknown key or a value of the wrong type or form (its JSON Schema)."),
    Rule("OC603", "unknown-step-implementation", "error", "A step's `use` is not an operation."),
    Rule("OC604", "unknown-step-reference", "error", "A step's `inputs`, `depends_on` or `when` names no step of its pipeline, operation or group."),
    Rule("OC605", "unknown-step-parameter", "error", "A step's `params`, `inputs` or `map` names a parameter its function does not have (or binds one twice)."),
    Rule("OC606", "step-argument-type", "error", "A step's literal argument does not fit the parameter's annotation."),
    Rule("OC607", "duplicate-step", "error", "Two steps of one pipeline have the same id."),
    Rule("OC608", "pipeline-name-collision", "error", "A pipeline has the name of an operation or of another pipeline."),
    # -- orchc's own bugs --
    Rule("OC901", "internal-error", "error", "orchc failed: this is a bug in orchc, please report it.", 2),
)

RULES_BY_CODE: dict[str, Rule] = {rule.code: rule for rule in RULES}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding: what is wrong, where, and how to fix it."""

    code: str
    message: str
    span: Span
    #: how to fix it, one sentence; "" when nothing useful can be said
    hint: str = ""
    #: further places that explain the finding (the other duplicate, each edge of a cycle)
    related: tuple[tuple[Span, str], ...] = ()

    @property
    def rule(self) -> Rule:
        return RULES_BY_CODE[self.code]

    @property
    def severity(self) -> Severity:
        return self.rule.severity

    def sort_key(self) -> tuple[str, int, int, str, str]:
        return (self.span.path, self.span.line, self.span.column, self.code, self.message)


def sorted_diagnostics(diagnostics: Iterable[Diagnostic]) -> tuple[Diagnostic, ...]:
    """Sort by (path, line, column, code) and drop exact duplicates."""
    return tuple(sorted(set(diagnostics), key=Diagnostic.sort_key))


def has_errors(diagnostics: Iterable[Diagnostic]) -> bool:
    return any(d.severity == "error" for d in diagnostics)


def exit_status(diagnostics: Iterable[Diagnostic]) -> int:
    """0 without errors; otherwise the highest exit status among the errors' rules."""
    return max((d.rule.exit_status for d in diagnostics if d.severity == "error"), default=0)


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """A ` did you mean `x`?` suffix, or "" when nothing is close."""
    close = difflib.get_close_matches(word, sorted(set(candidates)), n=1, cutoff=0.6)
    return f"did you mean `{close[0]}`?" if close else ""


class UsageError(Exception):
    """The command line names something that does not exist (reported as OC105, exit 2)."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

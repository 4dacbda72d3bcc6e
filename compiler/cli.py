"""The `orchc` command line: argv in, API call, rendered report out, exit status back.

Exit status: 0 success; 1 the project has errors (or `check` found it stale); 2 usage or
configuration problems, an unreadable lock, and orchc's own internal errors. Every
diagnostic, including those about the command line itself, is printed in the
`--output-format` (or `$ORCHC_OUTPUT_FORMAT`) asked for.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from compiler import __version__
from compiler.diagnostics import Diagnostic, UsageError, did_you_mean, exit_status
from compiler.model import Span
from compiler.reports.render import OUTPUT_FORMAT_ENV, OUTPUT_FORMATS, FileDiff, Report, render, summary

_PATH_HELP = "the project (default: the nearest folder with pyproject.toml)"


class _Parser(argparse.ArgumentParser):
    """Command-line mistakes become OC105 diagnostics, rendered like every other."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}", f"run `{self.prog} --help` for usage")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="orchc", description="Static-analysis flow compiler for Prefect 3: infers the DAG from "
        "`@operation` functions without importing them, locks it, and gates CI on it.")
    parser.add_argument("--version", action="version", version=f"orchc {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--output-format", choices=OUTPUT_FORMATS, default=None,
                        help=f"how diagnostics are printed (default: ${OUTPUT_FORMAT_ENV} or text)")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    build = commands.add_parser("build", parents=[common],
                                help="analyse the project and write flows.lock and the generated modules")
    build.add_argument("path", nargs="?", help=_PATH_HELP)
    check = commands.add_parser("check", parents=[common],
                                help="fail when flows.lock or a generated module is stale, or the graph is invalid")
    check.add_argument("path", nargs="?", help=_PATH_HELP)
    check.add_argument("--diff", action=argparse.BooleanOptionalAction, default=None,
                       help="print what changed and unified diffs of the stale files (default: on when $CI is set)")
    graph = commands.add_parser("graph", parents=[common], help="print the dependency graph (mermaid, dot or json)")
    graph.add_argument("flow", nargs="?", help="only this flow (a group or a flat operation)")
    graph.add_argument("--format", choices=("json", "mermaid", "dot"), default="json")
    graph.add_argument("--project", help=_PATH_HELP)
    validate = commands.add_parser("validate", parents=[common],
                                   help="check a candidate pipeline spec against the project as it is now, writing nothing")
    validate.add_argument("spec", metavar="FILE|-", help="the spec (YAML or JSON); `-` reads it from standard input")
    validate.add_argument("--as", dest="as_path", metavar="PATH",
                          help="with `-`: the project's spec file the candidate stands for (it replaces that one)")
    validate.add_argument("--format", choices=("text", "json"), default=None,
                          help="text, or JSON as `orchc check --output-format json` prints it")
    validate.add_argument("--project", help=_PATH_HELP)
    explain = commands.add_parser("explain", parents=[common],
                                  help="say where an operation is, why each input is bound, and what runs around it")
    explain.add_argument("operation", help="the operation's full dotted name")
    explain.add_argument("--format", choices=("text", "json"), default="text")
    explain.add_argument("--project", help=_PATH_HELP)
    for command, formats, what in (
        ("diff", ("markdown", "json"), "summarise how the locked graph changed, as Markdown for a pull request"),
        ("affected", ("text", "json"), "list the operations a change touches, downstream of them, and their flows"),
    ):  # both compare two locks
        two_locks = commands.add_parser(command, parents=[common], help=what)
        two_locks.add_argument("base", help="a lockfile, or `git:REF` for the project's lockfile as committed at REF")
        two_locks.add_argument("head", nargs="?", help="a lockfile or `git:REF` (default: the working tree's lockfile)")
        two_locks.add_argument("--format", choices=formats, default=formats[0])
        two_locks.add_argument("--project", help=_PATH_HELP)
    return parser


def _requested_format(argv: Sequence[str]) -> str:
    """The output format, read before parsing so that parse errors honour it too."""
    chosen = os.environ.get(OUTPUT_FORMAT_ENV) or "text"
    for index, arg in enumerate(argv):
        if arg == "--output-format" and index + 1 < len(argv):
            chosen = argv[index + 1]
        elif arg.startswith("--output-format="):
            chosen = arg.partition("=")[2]
    return chosen if chosen in OUTPUT_FORMATS else "text"


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    output_format = _requested_format(argv)
    command = next((arg for arg in argv if not arg.startswith("-")), "orchc")
    try:
        env_format = os.environ.get(OUTPUT_FORMAT_ENV)
        if env_format and env_format not in OUTPUT_FORMATS:
            raise UsageError(f"${OUTPUT_FORMAT_ENV} is `{env_format}`, not one of {', '.join(OUTPUT_FORMATS)}",
                             f"set it to one of {', '.join(OUTPUT_FORMATS)}, or unset it")
        args = _parser().parse_args(argv)
        args.output_format = args.output_format or output_format
        return _COMMANDS[args.command](args)
    except SystemExit as exit_:  # --help, --version
        return int(exit_.code or 0)
    except UsageError as error:
        diagnostic = Diagnostic("OC105", error.message, Span("."), error.hint)
        return _emit(Report(command, (diagnostic,), 2, summary([diagnostic])), output_format)
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # our own bug: say so, keep the traceback for the report
        print("".join(traceback.format_exception(error)).rstrip(), file=sys.stderr)
        diagnostic = Diagnostic("OC901", f"internal error: {type(error).__name__}: {error}", Span("."),
                                "this is a bug in orchc; please report it with the traceback above")
        return _emit(Report(command, (diagnostic,), 2, summary([diagnostic])), output_format)


def _emit(report: Report, output_format: str) -> int:
    sys.stdout.write(render(report, output_format))
    return report.status


def _prefix(root: Path | None) -> str:
    from compiler.commands.gitlock import repository_prefix

    return repository_prefix(root) if root is not None else ""


def _report(args: argparse.Namespace, diagnostics: Sequence[Diagnostic], success: str = "", *,
            root: Path | None = None, changes: Sequence[Any] = (), diffs: Sequence[FileDiff] = (),
            details: Sequence[tuple[str, Any]] = ()) -> int:
    status = exit_status(diagnostics)
    line = summary(diagnostics) if status or not success else success
    report = Report(args.command, tuple(diagnostics), status, line, _prefix(root), tuple(changes), tuple(diffs),
                    tuple(details))
    return _emit(report, args.output_format)


# -- build and check --------------------------------------------------------------------


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _build(args: argparse.Namespace) -> int:
    from compiler.api import build

    result = build(args.path)
    root = result.analysis.root
    if exit_status(result.diagnostics):
        return _report(args, result.diagnostics, root=root)
    operations, flows = result.analysis.counts
    changed = [*result.written, *(f"{p} (removed)" for p in result.removed)]
    detail = ("wrote " + ", ".join(changed)) if changed else "everything was already up to date"
    return _report(args, result.diagnostics, f"built {_count(operations, 'operation')} and {_count(flows, 'flow')}: {detail}",
                   root=root, changes=result.rewiring,
                   details=[("written", list(result.written)), ("removed", list(result.removed))])


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def _check(args: argparse.Namespace) -> int:
    from compiler.api import check

    analysis, diagnostics = check(args.path)
    changes, diffs = (), ()
    if exit_status(diagnostics) and (args.diff if args.diff is not None else _ci()):
        from compiler.api import outputs_on_disk
        from compiler.commands.checkdiff import stale_changes, stale_diffs

        on_disk = outputs_on_disk(analysis)
        changes, diffs = stale_changes(analysis, on_disk), stale_diffs(analysis, on_disk)
    success = ""
    if analysis.ok:
        operations, flows = analysis.counts
        success = f"{analysis.config.lock} is up to date ({_count(operations, 'operation')}, {_count(flows, 'flow')})"
    return _report(args, diagnostics, success, root=analysis.root, changes=changes, diffs=diffs)


def _validate(args: argparse.Namespace) -> int:
    """`orchc validate FILE|-`: exit 0 when the project would compile with the spec."""
    from compiler.api import validate_spec
    from compiler.project import find_root

    if args.format is not None:
        args.output_format = args.format
    root = find_root(args.project)
    if args.spec == "-":
        text, path = sys.stdin.read(), args.as_path
    else:
        if args.as_path is not None:
            raise UsageError("`--as` names the file a candidate on standard input stands for",
                             "use it with `-`, or give the file itself")
        path = args.spec
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as error:
            return _report(args, (Diagnostic("OC601", f"the spec is not UTF-8 text ({error.reason} at byte "
                                              f"{error.start})", Span(path), "save the spec as UTF-8"),), "", root=root)
        except OSError as error:
            raise UsageError(f"cannot read `{args.spec}`: {error}", "give the path of a YAML or JSON spec, or `-`") from None
    inside = path is not None and Path(path).resolve().is_relative_to(root.resolve())
    diagnostics = validate_spec(text, str(Path(path).resolve()) if inside else path, root)
    return _report(args, diagnostics, f"the spec compiles with the project ({path or '<stdin>'})", root=root)


# -- graph and explain ------------------------------------------------------------------


def _analysed_graph(args: argparse.Namespace):
    """The project's graph, or an exit status after reporting why there is none."""
    from compiler.api import analyse

    analysis = analyse(args.project)
    if exit_status(analysis.diagnostics) or analysis.graph is None:
        return None, _report(args, analysis.diagnostics, root=analysis.root)
    return analysis.graph, 0


def _graph(args: argparse.Namespace) -> int:
    from compiler.reports.export import graph_dot, graph_json, graph_mermaid, restrict

    graph, status = _analysed_graph(args)
    if graph is None:
        return status
    names = [flow.name for flow in graph.flows]
    if args.flow is not None and args.flow not in names:
        hint = did_you_mean(args.flow, names) or "run `orchc graph` to see every flow"
        raise UsageError(f"no flow named `{args.flow}`", hint)
    render_graph = {"json": graph_json, "mermaid": graph_mermaid, "dot": graph_dot}[args.format]
    sys.stdout.write(render_graph(restrict(graph, args.flow)))
    return 0


def _explain(args: argparse.Namespace) -> int:
    from compiler.commands.explain import explain_json, explanation, render_explanation

    graph, status = _analysed_graph(args)
    if graph is None:
        return status
    facts = explanation(graph, args.operation)
    sys.stdout.write(explain_json(facts) if args.format == "json" else render_explanation(facts))
    return 0


# -- diff -------------------------------------------------------------------------------

def _read_lock_arg(spec: str, root: Path, lock_path: str, label: str):
    """The lock named by a `diff` argument (a path, or `git:REF`), or a Diagnostic."""
    from compiler.lock.lockfile import parse_lock
    from compiler.commands.gitlock import GIT_PREFIX, read_committed

    if spec.startswith(GIT_PREFIX):
        text = read_committed(root, spec[len(GIT_PREFIX):], lock_path)
    else:
        path = Path(spec)
        if not path.is_file():
            raise UsageError(f"lockfile `{label}` does not exist", "pass a lockfile path or `git:REF`")
        text = path.read_text(encoding="utf-8", errors="replace")
    return parse_lock(text, label)


def _two_locks(args: argparse.Namespace) -> tuple[Any, Any, str] | int:
    """The `base` and `head` locks of `diff` and `affected`, and how to name the head;
    the exit status once a problem is reported."""
    from compiler.api import find_root, load_config

    root = find_root(args.project)
    config, problems = load_config(root)
    if exit_status(problems):
        return _report(args, problems, root=root)
    specs = [(args.base, args.base), (args.head, args.head) if args.head else (str(root / config.lock), config.lock)]
    base, head = (_read_lock_arg(spec, root, config.lock, label) for spec, label in specs)
    failures = [lock for lock in (base, head) if isinstance(lock, Diagnostic)]
    if failures:
        return _report(args, failures, root=root)
    return base, head, args.head or f"{config.lock} (working tree)"


def _diff(args: argparse.Namespace) -> int:
    from compiler.commands.review import review, review_json, review_markdown

    found = _two_locks(args)
    if isinstance(found, int):
        return found
    base, head, head_label = found
    data = review(base, head, args.base, head_label)
    sys.stdout.write(review_json(data) if args.format == "json" else review_markdown(data))
    return 0


def _affected(args: argparse.Namespace) -> int:
    from compiler.commands.affected import affected, affected_json, affected_text

    found = _two_locks(args)
    if isinstance(found, int):
        return found
    data = affected(*found[:2])
    sys.stdout.write(affected_json(data) if args.format == "json" else affected_text(data))
    return 0


_COMMANDS = {"build": _build, "check": _check, "graph": _graph, "explain": _explain, "diff": _diff,
             "affected": _affected, "validate": _validate}

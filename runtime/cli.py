"""`python -m runtime`: run a locked flow and print its result as JSON.

    python -m runtime FLOW [--param NAME=VALUE]... [--params-file F.json]
                           [--engine prefect|local] [--project DIR]
    python -m runtime --list

The result goes to stdout as JSON, logs and errors to stderr. Exit codes: 0 success,
1 the flow failed (or the lock is stale or does not match the project and its generated
modules, or an operation cannot be imported), 2 usage or environment (no Prefect API).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from compiler.lock.lockfile import LockFlow, LockFlowParam
from runtime.errors import OrchcRuntimeError, RuntimeUsageError, StaleLockError
from runtime.params import parse_params
from runtime.registry import Registry, set_current_registry
from runtime.trust import check_generated

ENGINES = ("prefect", "local")
ENGINE_ENV = "ORCHC_ENGINE"
PROG = "python -m runtime"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Run an orchc flow from the lockfile.")
    parser.add_argument("flow", nargs="?", metavar="FLOW", help="the flow (a group or operation name)")
    parser.add_argument("--list", action="store_true", help="list the flows, their parameters and operations")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a flow parameter (plain text for str, JSON for other types); repeatable")
    parser.add_argument("--params-file", type=Path, metavar="F.json",
                        help="a JSON object of parameter values (--param overrides it)")
    parser.add_argument("--engine", choices=ENGINES,
                        help=f"default: ${ENGINE_ENV}, else [tool.orchc] engine, else prefect")
    parser.add_argument("--project", type=Path, metavar="DIR",
                        help="the project folder (default: found from the current folder upward)")
    parser.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.list and not args.flow:
        parser.error("give a FLOW to run, or --list")
    _configure_logging(args.quiet)
    if args.quiet:  # read by Prefect when the prefect engine imports it
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    try:
        return _dispatch(args)
    except OrchcRuntimeError as error:
        _print_error(error)
        return _exit(error.exit_code, getattr(error, "report", None))
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except Exception:  # our own bug: label it and keep the traceback for the report
        print(f"{PROG}: internal error (please report it):\n{traceback.format_exc()}", file=sys.stderr)
        return 2


def _configure_logging(quiet: bool) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("orchc")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def _print_error(error: OrchcRuntimeError) -> None:
    print(f"error: {error.message}", file=sys.stderr)
    if error.hint:
        print(f"  hint: {error.hint}", file=sys.stderr)


def _dispatch(args: argparse.Namespace) -> int:
    registry = Registry.load(args.project)
    set_current_registry(registry)
    if args.list:
        print(render_list(registry))
        return 0
    flow = registry.flow(args.flow)
    engine = choose_engine(args.engine, registry)
    refuse_stale(registry, flow.name)
    if engine == "prefect":
        # before any import (the parameters' types import the operations) and before
        # Prefect: a tampered generated module never runs, and refusing needs no server
        check_generated(registry.root, registry.lock, flow, registry.lock_path)
    params = parse_params(registry, flow, args.param, args.params_file)
    report = _new_report(engine, flow.name)
    result = run(engine, registry, flow.name, params, report)
    sys.stdout.write(to_json(result, indent=2, serialize_unknown=True).decode() + "\n")
    return _exit(0, report)


def choose_engine(option: str | None, registry: Registry) -> str:
    """--engine, else $ORCHC_ENGINE, else `[tool.orchc] engine`, else prefect."""
    if option:
        return option
    for source, value in ((f"${ENGINE_ENV}", os.environ.get(ENGINE_ENV)),
                          ("`[tool.orchc] engine`", registry.config.get("engine"))):
        if value:
            if value not in ENGINES:
                raise RuntimeUsageError(f"{source} is {value!r}, not an engine",
                                        "use one of " + ", ".join(f"`{e}`" for e in ENGINES))
            return value
    return "prefect"


def refuse_stale(registry: Registry, flow_name: str) -> None:
    problems = registry.stale_operations(flow_name)
    if problems:
        raise StaleLockError(flow_name, problems)


def _new_report(engine: str, flow_name: str) -> Any:
    if engine != "local":
        return None
    from runtime.local import RunReport

    return RunReport(flow_name)


def run(engine: str, registry: Registry, flow_name: str, params: dict[str, Any], report: Any = None) -> Any:
    """Run the flow on `engine`; both engines raise FlowFailed when an operation fails.

    The caller has checked the flow's sources (`refuse_stale`) and, for Prefect, its
    generated modules (`runtime.trust.check_generated`).
    """
    if engine == "local":
        from runtime.local import run_flow_sync

        return run_flow_sync(registry, flow_name, params, report)
    try:
        from runtime import prefect_engine  # lazy: importing Prefect costs about a second
    except ImportError as error:
        raise RuntimeUsageError(f"the prefect engine is unavailable: {error}",
                                "install prefect, or run with `--engine local`") from None
    try:
        return prefect_engine.run_flow(registry, flow_name, params)
    except ModuleNotFoundError as error:
        package = registry.lock.project.package
        if error.name not in (package, f"{package}.{registry.flow(flow_name).module}"):
            raise
        raise OrchcRuntimeError(f"the generated module `{error.name}` is missing",
                                "run `orchc build` to generate the Prefect modules") from None


def _exit(code: int, report: Any) -> int:
    """`code`, or leave at once when timed-out calls still occupy worker threads.

    Interpreter shutdown joins every pool thread, so a sync operation that timed out and
    never returns would hang the command after the flow has finished.
    """
    if getattr(report, "abandoned", 0):
        print(f"{PROG}: {report.abandoned} timed-out call(s) still running; exiting without waiting",
              file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


# -- --list -------------------------------------------------------------------------------


def render_list(registry: Registry) -> str:
    flows = registry.lock.flows
    if not flows:
        return f"no flows in `{registry.lock_path.name}`"
    return "\n\n".join(_render_flow(flow) for flow in flows)


def _render_flow(flow: LockFlow) -> str:
    returns = ", ".join(f"`{sink}`" for sink in flow.sinks)
    lines = [f"{flow.name}  ({len(flow.operations)} operation(s); returns {returns})"]
    lines.append("  parameters:" if flow.params else "  parameters: none")
    lines += [f"    {_render_param(param)}" for param in flow.params]
    lines.append("  operations:")
    lines += [f"    {name}" for name in flow.operations]
    return "\n".join(lines)


def _render_param(param: LockFlowParam) -> str:
    text = param.name + (f": {param.annotation}" if param.annotation else "")
    if param.required:
        return text + "  (required)"
    default = param.default_literal if param.default_literal is not None else param.default
    return f"{text} = {default}"

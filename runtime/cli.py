"""`python -m runtime`: run a locked flow and print its result as JSON; put the declared
deployments into operation.

    python -m runtime [run] FLOW [--param NAME=VALUE]... [--params-file F.json]
                                 [--engine prefect|local] [--project DIR]
    python -m runtime --list
    python -m runtime deploy [NAME...]        register deployments on PREFECT_API_URL
    python -m runtime serve [NAME...]         serve them from this process on their schedules
    python -m runtime submit NAME [--param NAME=VALUE]... [--json]   queue a run
    python -m runtime status RUN_ID [--wait] [--json]                a run's state

Results go to stdout, logs and errors to stderr. Exit codes: 0 success, 1 the flow failed
(or the lock is stale or does not match the project and its generated modules, or an
operation cannot be imported; for `status --wait`, the run did not complete), 2 usage or
environment (no Prefect API).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from compiler import naming
from compiler.lock.lockfile import LockFlow, LockFlowParam
from runtime.errors import FlowFailed, OrchcRuntimeError, RuntimeUsageError
from runtime.params import parse_params
from runtime.registry import Registry, set_current_registry
from runtime.task_runners import DASK_ADDRESS_ENV, RAY_ADDRESS_ENV, RUNNER_ENV, RUNNERS
from runtime.trust import check_generated

ENGINES = ("prefect", "local")
ENGINE_ENV = "ORCHC_ENGINE"
PROG = "python -m runtime"
#: the first argument that names a command rather than a flow (`run FLOW` runs a flow of any name)
COMMANDS = ("run", "deploy", "serve", "submit", "status")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Run an orchc flow from the lockfile.",
        epilog="other commands: deploy, serve, submit, status (`python -m runtime COMMAND --help`); "
               "`run FLOW` runs a flow whatever its name")
    parser.add_argument("flow", nargs="?", metavar="FLOW",
                        help="the flow (a group or flat operation name); an operation inside a group "
                             "runs with everything upstream of it")
    parser.add_argument("--list", action="store_true", help="list the flows, their parameters and operations")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a flow parameter (plain text for str, JSON for other types); repeatable")
    parser.add_argument("--params-file", type=Path, metavar="F.json",
                        help="a JSON object of parameter values (--param overrides it)")
    parser.add_argument("--select", action="append", default=[], metavar="SEL",
                        help="run only these operations: NAME (an operation or group), +NAME (and "
                             "everything upstream), NAME+ (and everything downstream); repeatable")
    parser.add_argument("--exclude", action="append", default=[], metavar="SEL",
                        help="leave these operations out (the same forms as --select); repeatable")
    parser.add_argument("--no-cache", action="store_true",
                        help="read no stored result of a `cache=True` operation (the results are still stored)")
    parser.add_argument("--summary", type=Path, metavar="FILE.json",
                        help="write each operation's state, attempts, duration and cache hit (both engines alike)")
    parser.add_argument("--artifacts-dir", type=Path, metavar="DIR",
                        help="local engine: where operations' publish_* files go "
                             "(default: .orchc_cache/artifacts/FLOW-TIME in the project)")
    parser.add_argument("--engine", choices=ENGINES,
                        help=f"default: ${ENGINE_ENV}, else [tool.orchc] engine, else prefect")
    parser.add_argument("--task-runner", choices=RUNNERS,
                        help="the Prefect task runner for this run (default: the lock's, `[tool.orchc] task_runner`)")
    parser.add_argument("--dask-address", metavar="tcp://HOST:PORT",
                        help=f"the Dask scheduler to run on (default: ${DASK_ADDRESS_ENV}, else a local cluster)")
    parser.add_argument("--ray-address", metavar="ADDRESS",
                        help=f"the Ray cluster to run on (default: ${RAY_ADDRESS_ENV}, else a local one)")
    _project_option(parser)
    return parser


def _project_option(parser: argparse.ArgumentParser) -> None:
    """`--project` and `-q`, which every command takes."""
    parser.add_argument("--project", type=Path, metavar="DIR",
                        help="the project folder (default: found from the current folder upward)")
    parser.add_argument("-q", "--quiet", action="store_true", help="log only warnings and errors")


def build_command_parser() -> argparse.ArgumentParser:
    """The parser of `deploy`, `serve`, `submit` and `status` (and `run FLOW`)."""
    parser = argparse.ArgumentParser(prog=PROG, description="Put an orchc project's deployments into operation.")
    commands = parser.add_subparsers(dest="command", required=True)
    deploy = commands.add_parser("deploy", help="register deployments on the server at PREFECT_API_URL")
    deploy.add_argument("names", nargs="*", metavar="NAME", help="declared deployments (default: all)")
    deploy.add_argument("--working-dir", metavar="DIR",
                        help="the project folder on the workers' machines (default: this project's folder)")
    _project_option(deploy)
    serve = commands.add_parser("serve", help="serve deployments from this process on their schedules")
    serve.add_argument("names", nargs="*", metavar="NAME", help="declared deployments (default: all)")
    _project_option(serve)
    submit = commands.add_parser("submit", help="queue a run of a deployment without waiting")
    submit.add_argument("name", metavar="NAME", help="a declared deployment")
    submit.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a parameter (plain text for str, JSON for other types); repeatable")
    submit.add_argument("--params-file", type=Path, metavar="F.json", help="a JSON object of parameter values")
    submit.add_argument("--json", action="store_true", help="print the run as a JSON object")
    _project_option(submit)
    status = commands.add_parser("status", help="a run's state and each operation's")
    status.add_argument("run_id", metavar="RUN_ID", help="the flow-run id `submit` printed")
    status.add_argument("--wait", action="store_true", help="wait for a final state; exit 0 when Completed, 1 otherwise")
    status.add_argument("--timeout", type=float, metavar="SECONDS", help="with --wait: stop waiting after this long")
    status.add_argument("--json", action="store_true", help="print the status as a JSON object")
    _project_option(status)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in COMMANDS[1:]:
        args = build_command_parser().parse_args(argv)
        handler = _COMMAND_HANDLERS[args.command]
    else:
        parser = build_parser()
        args = parser.parse_args(argv[1:] if argv[:1] == ["run"] else argv)
        if not args.list and not args.flow:
            parser.error("give a FLOW to run, or --list")
        handler = _dispatch
    _configure_logging(args.quiet)
    if args.quiet:  # read by Prefect when the prefect engine imports it
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    try:
        return handler(args)
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
    flow = flow_to_run(registry, args.flow, args.select, args.exclude)
    engine = choose_engine(args.engine, registry)
    registry.refuse_stale(flow.name)
    if engine == "prefect":
        # before any import (the parameters' types import the operations) and before
        # Prefect: a tampered generated module never runs, and refusing needs no server
        check_generated(registry.root, registry.lock, flow, registry.lock_path)
    params = parse_params(registry, flow, args.param, args.params_file)
    _choose_task_runner(args, engine)
    # refused now, not once the flow has run in vain (and its result is lost)
    _refuse_unwritable(args.summary, "--summary", folder=False)
    if engine == "local":  # the only engine that writes it
        _refuse_unwritable(args.artifacts_dir, "--artifacts-dir", folder=True)
    report = _new_report(engine, flow.name)
    if args.no_cache:  # Prefect's setting, read when it is imported: compute again, store anew
        os.environ["PREFECT_TASKS_REFRESH_CACHE"] = "true"
    start = time.perf_counter()
    try:
        result = run(engine, registry, flow.name, params, report, read_cache=not args.no_cache,
                     artifacts=args.artifacts_dir)
    except FlowFailed:
        _write_summary(args.summary, flow.name, engine, report, True, time.perf_counter() - start)
        raise
    sys.stdout.write(to_json(result, indent=2, serialize_unknown=True).decode() + "\n")
    _write_summary(args.summary, flow.name, engine, report, False, time.perf_counter() - start)
    return _exit(0, report)


def _refuse_unwritable(path: Path | None, option: str, folder: bool) -> None:
    """RuntimeUsageError when the run could not write `path` (a `folder`, else a file):
    a folder where a file goes or the reverse, a file among its parents, no write access."""
    if path is None:
        return
    wanted = "a folder" if folder else "a file"
    if path.exists():
        if path.is_dir() != folder:
            raise RuntimeUsageError(f"{option} `{path}` is {'a file' if folder else 'a folder'}, not {wanted}",
                                    f"give {wanted} path for {option}")
        existing = path
    else:  # the nearest parent that exists, where the missing folders are made
        existing = next(parent for parent in path.absolute().parents if parent.exists())
        if not existing.is_dir():
            raise RuntimeUsageError(f"{option} `{path}` is under `{existing}`, which is a file",
                                    f"give {wanted} path for {option}")
    if not os.access(existing, os.W_OK):
        raise RuntimeUsageError(f"{option} `{path}`: `{existing}` is not writable",
                                f"give {wanted} path you may write for {option}")


def _write_summary(path: Path | None, flow: str, engine: str, report: Any, failed: bool, seconds: float) -> None:
    if path is None:
        return
    from runtime import summary

    if engine == "local":
        rows = summary.local_rows(report)
    else:
        from runtime.prefect_flows import last_rows as rows
    summary.write(path, summary.document(flow, engine, failed, seconds, rows))


def flow_to_run(registry: Registry, name: str, selects: list[str], excludes: list[str]) -> LockFlow:
    """The flow `name` names, cut to the selection (`runtime.selection`); an operation
    inside a group named as the flow runs in its group's flow with everything upstream."""
    from runtime.selection import operation_flow, select

    flow = registry.lock.flow(name)
    if flow is None and name in registry.operations:
        flow = operation_flow(registry.lock, name)
        selects = [f"+{name}", *selects]
    if flow is None:
        flow = registry.flow(name)  # the unknown-flow refusal, with "did you mean"
    if selects or excludes:
        registry.restrict(select(registry.lock, flow, selects, excludes))
    return registry.flow(flow.name)


def _choose_task_runner(args: argparse.Namespace, engine: str) -> None:
    """Hand --task-runner and the cluster addresses to the generated flow (`runtime.task_runners`)."""
    for value, variable in ((args.task_runner, RUNNER_ENV), (args.dask_address, DASK_ADDRESS_ENV),
                            (args.ray_address, RAY_ADDRESS_ENV)):
        if value:
            if engine != "prefect":
                raise RuntimeUsageError("--task-runner, --dask-address and --ray-address need the prefect engine",
                                        "drop them, or run with `--engine prefect`")
            os.environ[variable] = value


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


def _new_report(engine: str, flow_name: str) -> Any:
    if engine != "local":
        return None
    from runtime.local import RunReport

    return RunReport(flow_name)


def run(engine: str, registry: Registry, flow_name: str, params: dict[str, Any], report: Any = None,
        read_cache: bool = True, artifacts: Path | None = None) -> Any:
    """Run the flow on `engine`; both engines raise FlowFailed when an operation fails.

    The caller has checked the flow's sources (`Registry.refuse_stale`) and, for Prefect, its
    generated modules (`runtime.trust.check_generated`).
    """
    if engine == "local":
        from runtime.local import run_flow_sync

        return run_flow_sync(registry, flow_name, params, report, read_cache, artifacts)
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


# -- deployments and runs -------------------------------------------------------------------


def _deploy(args: argparse.Namespace) -> int:
    from runtime.deployments import deploy

    for line in deploy(Registry.load(args.project), args.names, args.working_dir):
        print(line)
    return 0


def _serve(args: argparse.Namespace) -> int:
    from runtime.deployments import serve

    for line in serve(Registry.load(args.project), args.names):
        print(line, file=sys.stderr)
    return 0


def _submit(args: argparse.Namespace) -> int:
    from runtime.runs import submit

    registry = Registry.load(args.project)
    set_current_registry(registry)
    run = submit(registry, args.name, args.param, args.params_file)
    if args.json:
        print(to_json(run, indent=2).decode())
    else:
        print(run["id"])
        print(f"queued run `{run['name']}` of `{run['deployment']}` ({run['state']}); "
              f"follow it with `{PROG} status {run['id']} --wait`", file=sys.stderr)
    return 0


def _status(args: argparse.Namespace) -> int:
    from runtime.registry import find_project
    from runtime.runs import render_status, status

    registry = None  # optional: the project's lock names the operations that never started
    if args.project is not None or find_project(Path.cwd().resolve()) is not None:
        registry = Registry.load(args.project)
    data = status(args.run_id, args.wait, args.timeout, registry)
    print(to_json(data, indent=2).decode() if args.json else render_status(data))
    if args.wait:
        return 0 if data["state"] == "Completed" else 1
    return 0


_COMMAND_HANDLERS = {"deploy": _deploy, "serve": _serve, "submit": _submit, "status": _status}


# -- --list -------------------------------------------------------------------------------


def render_list(registry: Registry) -> str:
    flows = registry.lock.flows
    if not flows:
        return f"no flows in `{registry.lock_path.name}`"
    return "\n\n".join(_render_flow(flow, registry.lock.members(flow)) for flow in flows)


def _render_flow(flow: LockFlow, members: tuple[str, ...]) -> str:
    """`members`: what runs, the flow's own operations and everything upstream of them."""
    returns = ", ".join(f"`{sink}`" for sink in flow.sinks)
    lines = [f"{flow.name}  ({len(members)} operation(s); returns {returns})"]
    lines.append("  parameters:" if flow.params else "  parameters: none")
    lines += [f"    {_render_param(param)}" for param in flow.params]
    lines.append("  operations:")
    lines += [f"    {name}" if name == flow.name or naming.in_scope(name, flow.name)
              else f"    {name}  (upstream)" for name in members]
    return "\n".join(lines)


def _render_param(param: LockFlowParam) -> str:
    text = param.name + (f": {param.annotation}" if param.annotation else "")
    if param.required:
        return text + "  (required)"
    default = param.default_literal if param.default_literal is not None else param.default
    return f"{text} = {default}"

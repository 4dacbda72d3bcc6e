"""Codegen: generated modules compile, are black-stable and deterministic, change locally,
and stay exactly the expected statements whatever text the lock holds."""

from __future__ import annotations

import ast
import difflib
import json
import os

import black
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler.codegen.black_layout import BLACK_MODE
from compiler.codegen.modules import HEADER, flow_entries, flow_entry, generate
from tests.lockkit import edge, flow_param, lock, op, param, sample_lock


def _modules(the_lock):
    return {module.path: module.text for module in generate(the_lock)}


def test_paths_header_compile_and_black_stable():
    modules = _modules(sample_lock())
    assert list(modules) == ["gen/__init__.py", "gen/common.py", "gen/etl.py", "gen/ping.py"]
    for path, text in modules.items():
        assert text.startswith(HEADER)
        compile(text, path, "exec")
        assert black.format_str(text, mode=BLACK_MODE) == text


def test_deterministic():
    assert generate(sample_lock()) == generate(sample_lock())


def test_generated_modules_snapshot(snapshot):
    assert _modules(sample_lock()) == snapshot


def test_tasks_reach_user_code_only_through_the_runtime():
    text = _modules(sample_lock())["gen/etl.py"]
    imports = [node for node in ast.parse(text).body if isinstance(node, (ast.Import, ast.ImportFrom))]
    modules = sorted((node.module or "") if isinstance(node, ast.ImportFrom) else node.names[0].name
                     for node in imports)
    assert modules == ["prefect", "prefect.cache_policies", "runtime"]  # never another generated module
    assert "userops" not in text


def test_flow_shape():
    text = _modules(sample_lock())["gen/etl.py"]
    assert "common__setup_task" not in text  # a cross-group task is defined, and listed, in its own module only
    assert text.count("def etl__extract__orders_task(") == 1
    assert '    "etl.extract.orders": etl__extract__orders_task,\n' in text  # the module's task table
    assert "async def etl(*, day: str, db=runtime.UNSET, limit: int = 10):" in text
    assert 'task_runner=runtime.task_runner("thread", max_workers=6)' in text
    assert 'return await runtime.run_operations("etl", {"day": day, "db": db, "limit": limit})' in text
    assert 'executor="process"' in text
    assert 'runtime.cache_policy(\n        "etl.transform"' in text
    assert "async def etl__transform_task(orders, users)" in text
    assert "TASKS = {\"common.setup\": common__setup_task}" in _modules(sample_lock())["gen/common.py"]


def test_generated_code_is_linear_in_members():
    """A flow's body does not list its members: nesting groups adds a flow of a few lines each."""
    ops = [op(f"g.{'.'.join(f's{d}' for d in range(depth))}.op".replace("..", ".")) for depth in range(1, 9)]
    groups = sorted({o.name.rsplit(".", 1)[0] for o in ops})
    flows = [{"name": g, "operations": [o.name for o in ops if o.name.startswith(g + ".")],
              "sinks": [o.name for o in ops if o.name.startswith(g + ".")][-1:]} for g in groups]
    text = _modules(lock(ops, [], flows))["gen/g.py"]
    assert text.count("run_operations(") == len(flows)
    for flow in flows:
        body = text.split(f"name={flow['name']!r}".replace("'", '"'), 1)[1].split("\n\n\n", 1)[0]
        assert body.count("\n") <= 6, body


def _changed_lines(before: str, after: str) -> list[str]:
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
    return [line for line in diff if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_one_operation_change_touches_only_its_lines():
    before = sample_lock()
    ops = [o.model_copy(update={"retries": 3}) if o.name == "etl.extract.users" else o for o in before.operations]
    after = before.model_copy(update={"operations": ops})
    old, new = _modules(before), _modules(after)
    assert [path for path in old if old[path] != new[path]] == ["gen/etl.py"]
    assert _changed_lines(old["gen/etl.py"], new["gen/etl.py"]) == ["-    retries=2,", "+    retries=3,"]


def test_flow_entries_resolve_identifier_collisions():
    entries = flow_entries(["a.b__c", "a.b.c", "flat"])
    assert entries["a.b.c"] == ("a", "a__b__c")
    assert entries["a.b__c"] == ("a", "a__b__c_2")
    assert flow_entry("scraping.stepstone") == ("scraping", "scraping__stepstone")


def test_flows_named_like_imports_alias_the_imports():
    ops = [op("prefect.a"), op("prefect.b.c")]
    flows = [{"name": "prefect", "operations": ["prefect.a", "prefect.b.c"], "sinks": ["prefect.a", "prefect.b.c"]},
             {"name": "prefect.b", "operations": ["prefect.b.c"], "sinks": ["prefect.b.c"]}]
    text = _modules(lock(ops, [], flows))["gen/prefect.py"]
    compile(text, "prefect.py", "exec")
    assert "import prefect as prefect_\n" in text
    assert "@prefect_.flow(" in text and "async def prefect(" in text


def test_names_that_shadow_imports_and_each_other_still_compile():
    ops = [
        op("runtime", (param("runtime"), param("prefect"), param("wait_for"))),
        op("runtime.x", (param("runtime_task"),)),
        op("runtime_task", is_async=True),
    ]
    edges = [edge("runtime_task", "runtime.x", "runtime_task")]
    flows = [
        {"name": "runtime", "operations": ["runtime"], "sinks": ["runtime"],
         "params": [flow_param(n, ["runtime"]) for n in ("runtime", "prefect", "wait_for")]},
        {"name": "runtime_task", "operations": ["runtime_task"], "sinks": ["runtime_task"]},
    ]
    for path, text in _modules(lock(ops, edges, flows)).items():
        tree = ast.parse(text)
        compile(tree, path, "exec")
    text = _modules(lock(ops, edges, flows))["gen/runtime.py"]
    # the parameters shadow the imports inside the flow's body, so the imports are aliased
    assert 'await runtime_.run_operations(\n        "runtime", {"runtime": runtime, "prefect": prefect, "wait_for": wait_for}' in text


# -- hostile text ---------------------------------------------------------------------

_HOSTILE = st.sampled_from(['a"b\n{x}\\', "'''", '"""', "\\", "{}", "{0}", "\x00", "é✓𝔘", "\r\n", "#", "): pass"])
_TEXT = st.one_of(_HOSTILE, st.text(max_size=20), st.lists(_HOSTILE, max_size=4).map("".join))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(description=_TEXT, tags=st.lists(_TEXT, max_size=3), default=_TEXT, annotation=_TEXT, raw_default=_TEXT)
def test_hostile_text_cannot_inject_code(description, tags, default, annotation, raw_default):
    ops = [
        op("h.a", (param("x", annotation, repr(default), repr(default)), param("y", annotation, raw_default, raw_default)),
           description=description, tags=sorted(tags)),
        op("h.b", (param("a"),), is_async=True, description=description),
    ]
    params = [flow_param("x", ["h.a"], annotation, False, repr(default), repr(default)),
              flow_param("y", ["h.a"], annotation, False, raw_default, raw_default)]
    the_lock = lock(ops, [edge("h.a", "h.b", "a")],
                    [{"name": "h", "operations": ["h.a", "h.b"], "sinks": ["h.b"], "params": params}])
    text = _modules(the_lock)["gen/h.py"]
    tree = ast.parse(text)
    kinds = [type(node).__name__ for node in tree.body]
    assert kinds == ["Import", "ImportFrom", "Import", "FunctionDef", "AsyncFunctionDef", "Assign", "AsyncFunctionDef"]
    task_a, task_b, table, flow = tree.body[3:]
    assert ast.unparse(table) == "TASKS = {'h.a': h__a_task, 'h.b': h__b_task}"
    for task in (task_a, task_b):
        assert [ast.dump(s) for s in task.body] == [ast.dump(ast.Expr(ast.Constant(Ellipsis)))]
        assert len(task.decorator_list) == 2
    assert ast.unparse(flow.body) == "return await runtime.run_operations('h', {'x': x, 'y': y})"
    assert [arg.arg for arg in flow.args.kwonlyargs] == ["x", "y"]
    first_task = tree.body[3].decorator_list[0]
    keywords = {kw.arg: kw.value for kw in first_task.keywords}
    if description:
        assert ast.literal_eval(keywords["description"]) == description
    if tags:
        assert ast.literal_eval(keywords["tags"]) == sorted(tags)
    x_default = flow.args.kw_defaults[0]
    assert ast.literal_eval(x_default) == default  # a literal default survives exactly


def test_groups_that_use_each_other_s_operations_import_and_run(tmp_path):
    """Flow `a` runs `b.y`, flow `b` runs `a.x`: each module's flows find the other's tasks
    through its task table when they run. The modules import in any order, and the flow
    runs under Prefect."""
    import subprocess
    import sys

    (tmp_path / "src" / "ab").mkdir(parents=True)
    (tmp_path / "src" / "ab" / "__init__.py").write_text("")
    (tmp_path / "src" / "ab" / "a.py").write_text(
        'from runtime import operation\n\n\n@operation(name="a.x")\ndef x() -> int:\n    return 1\n\n\n'
        '@operation(name="a.z", inputs={"y": "b.y"})\ndef z(y: int) -> int:\n    return y * 10\n')
    (tmp_path / "src" / "ab" / "b.py").write_text(
        'from runtime import operation\n\n\n@operation(name="b.y", inputs={"x": "a.x"})\ndef y(x: int) -> int:\n'
        '    return x + 1\n')
    (tmp_path / "pyproject.toml").write_text('[tool.orchc]\nsources = ["src"]\nout = "orchestration"\n')
    env = {**os.environ, "ORCHC_VERIFY_MIRRORS": "1"}
    built = subprocess.run([sys.executable, "-m", "compiler", "build"], cwd=tmp_path, env=env,
                           capture_output=True, text=True, timeout=120)
    assert built.returncode == 0, built.stdout
    for first, second in (("a", "b"), ("b", "a")):
        code = f"import orchestration.{first}, orchestration.{second}"
        imported = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert imported.returncode == 0, imported.stderr
    ran = subprocess.run([sys.executable, "-m", "runtime", "a", "-q"], cwd=tmp_path, capture_output=True, text=True,
                         timeout=300, env={key: value for key, value in os.environ.items() if not key.startswith("PREFECT_API")})
    assert ran.returncode == 0, ran.stderr[-3000:]
    assert json.loads(ran.stdout) == 20  # a.z, the one member whose result no member takes

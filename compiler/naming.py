"""Names: operation-name validity, groups and scopes, and the Python identifiers orchc generates.

Shared by link (scopes), lockfile (entry points) and codegen (identifiers), so the rule
that turns `scraping.stepstone.fetch` into an identifier lives in one place.
"""

from __future__ import annotations

import keyword
import re
import unicodedata

ROOT = ""
# Artifact keys allow only these characters in Prefect 3.
_ARTIFACT_KEY_UNSAFE = re.compile(r"[^a-z0-9-]+")


def name_problem(name: str) -> str | None:
    """Why `name` is not a valid operation name, or None when it is."""
    if not name:
        return "the name is empty"
    for segment in name.split("."):
        if not segment:
            return f"`{name}` has an empty segment"
        if not segment.isidentifier():
            return f"segment `{segment}` of `{name}` is not a Python identifier"
        if keyword.iskeyword(segment):
            return f"segment `{segment}` of `{name}` is a Python keyword"
    return None


def python_name(identifier: str) -> str:
    """The identifier as Python reads it: the parser normalises identifiers to NFKC, so
    `def ｆｏｏ` defines `foo` (and `ｆｏｏ` and `foo` are one name in a module)."""
    return identifier if identifier.isascii() else unicodedata.normalize("NFKC", identifier)


def parent(name: str) -> str:
    """The group holding `name`: `a.b` for `a.b.c`, the root for a flat name."""
    return name.rpartition(".")[0]


def ancestors(name: str) -> tuple[str, ...]:
    """Every group enclosing `name`, innermost first, ending with the root."""
    groups = []
    current = parent(name)
    while current:
        groups.append(current)
        current = parent(current)
    return (*groups, ROOT)


def groups_of(operation_names: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Every non-root group implied by the operation names, sorted."""
    return tuple(sorted({g for name in operation_names for g in ancestors(name) if g}))


def in_scope(name: str, scope: str) -> bool:
    """Whether `name` (an operation or a group) lies inside the subtree of `scope`."""
    return scope == ROOT or name.startswith(scope + ".")


def relative(name: str, scope: str) -> str:
    """`name` relative to `scope`, dots as underscores (`stepstone_fetch` in `scraping`)."""
    rest = name if scope == ROOT else name[len(scope) + 1 :]
    return rest.replace(".", "_")


def top_level(name: str) -> str:
    return name.split(".", 1)[0]


def identifier(name: str) -> str:
    """A Python identifier for a dotted name: dots become double underscores.

    Double underscores keep `a.b_c` and `a_b.c` apart (`a__b_c` vs `a_b__c`); a leading
    underscore is added when the result would be a keyword or a dunder-like name.
    """
    ident = name.replace(".", "__")
    if keyword.iskeyword(ident) or ident.startswith("__"):
        ident = "_" + ident
    return ident


def module_name(top_level_group: str) -> str:
    """The generated module (file stem) holding the flows under a top-level name."""
    return identifier(top_level_group)


def element_name(op: str, index: int) -> str:
    """The name of element `index` of mapped operation `op`: its task run's, its failure's."""
    return f"{op}[{index}]"


def element_operation(name: str) -> str:
    """`ops.check` for an element `ops.check[3]`, the name itself otherwise."""
    return name.split("[", 1)[0]


def artifact_key(flow_name: str) -> str:
    """A Prefect artifact key for a flow: lowercase, `[a-z0-9-]` only."""
    key = _ARTIFACT_KEY_UNSAFE.sub("-", flow_name.lower()).strip("-")
    return f"orchc-{key or 'flow'}"


#: the name of each generated module's table of its tasks by operation name, which the
#: runtime reads (no flow function takes it: `flow_entries`)
TASK_TABLE = "TASKS"


def flow_entries(flow_names: list[str] | tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """flow name -> (generated module, function), unique within each module.

    Names are sorted first, so a later colliding identifier (`a.b_c` after `a_b.c` can't
    collide, but `x.a__b` vs `x.a.b` can) deterministically gets a numeric suffix.
    """
    entries: dict[str, tuple[str, str]] = {}
    taken: set[tuple[str, str]] = set()
    for name in sorted(flow_names):
        module, function = module_name(top_level(name)), identifier(name)
        candidate, suffix = function, 2
        while (module, candidate) in taken or candidate == TASK_TABLE:
            candidate, suffix = f"{function}_{suffix}", suffix + 1
        taken.add((module, candidate))
        entries[name] = (module, candidate)
    return entries

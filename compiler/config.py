"""Configuration: `[tool.orchc]` in pyproject.toml parsed into a `Config`, with diagnostics
for unknown keys and wrong types."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from compiler.diagnostics import Diagnostic, did_you_mean
from compiler.model import Span
from compiler.toml_read import TomlError, load_toml
from compiler.toml_read import key_lines as toml_key_lines

#: the containers data libraries use for everything: never bound by type alone
DEFAULT_OPAQUE_TYPES = (
    "numpy.ndarray",
    "pandas.DataFrame",
    "pandas.Series",
    "polars.DataFrame",
    "polars.LazyFrame",
    "pyarrow.Table",
)
ENGINES = ("prefect", "local")
TASK_RUNNERS = ("thread", "dask", "ray")


@dataclass(frozen=True, slots=True)
class DeploymentDecl:
    """One `[tool.orchc.deployments.NAME]` table as written; `compiler.deployments`
    validates it against the flows."""

    name: str
    #: what TOML gave for it, a table when well formed (not hashed: it holds dicts and lists)
    table: Any = field(hash=False)
    pyproject: str = "pyproject.toml"
    #: (key path inside the table, 1-based line), the table's own line under `()`
    lines: tuple[tuple[tuple[str, ...], int], ...] = field(default=(), compare=False, repr=False)

    def span(self, *path: str) -> Span:
        """Where `path` (a key, or a key inside a key) is set: its line, else the nearest
        enclosing key's, else the table's."""
        lines = dict(self.lines)
        for end in range(len(path), -1, -1):
            if path[:end] in lines:
                return Span(self.pyproject, lines[path[:end]], 1)
        return Span(self.pyproject, 1, 1)


@dataclass(frozen=True, slots=True)
class Config:
    """The project's orchc settings; paths are project-relative POSIX strings."""

    #: folders or globs to analyse
    sources: tuple[str, ...] = (".",)
    #: globs (project-relative) of files and folders to skip, on top of the defaults
    exclude: tuple[str, ...] = ()
    #: the folder of generated modules (a Python package)
    out: str = "orchestration"
    #: the lockfile
    lock: str = "flows.lock"
    #: extra opaque types (qualified names), added to DEFAULT_OPAQUE_TYPES
    opaque_types: tuple[str, ...] = ()
    #: the runtime's default engine
    engine: str = "prefect"
    #: the Prefect task runner the generated flows use
    task_runner: str = "thread"
    #: where the local engine stores cached operations' results (`runtime.result_cache`)
    result_cache: str = ".orchc_cache/results"
    #: the declared deployments, sorted by name
    deployments: tuple[DeploymentDecl, ...] = ()
    #: globs (project-relative) of pipeline spec files, YAML or JSON (`compiler.specs`)
    pipelines: tuple[str, ...] = ()
    #: `[tool.orchc.defaults]`: (option, value) for every operation that does not set it,
    #: sorted by option (`compiler.options.DEFAULTABLE`)
    defaults: tuple[tuple[str, Any], ...] = ()
    #: where the table was read from, for diagnostics
    pyproject: str = "pyproject.toml"
    #: 1-based line of `[tool.orchc]` in pyproject.toml (1 when absent)
    table_line: int = field(default=1, compare=False)
    #: (key, 1-based line) of each key set in `[tool.orchc]`, for diagnostics
    key_lines: tuple[tuple[str, int], ...] = field(default=(), compare=False, repr=False)

    def key_span(self, key: str) -> Span:
        """Where `key` is set in the configuration (the table's line when it is not)."""
        return Span(self.pyproject, dict(self.key_lines).get(key, self.table_line), 1)

    @property
    def all_opaque_types(self) -> frozenset[str]:
        return frozenset(DEFAULT_OPAQUE_TYPES) | frozenset(self.opaque_types)


def _string_list(value: Any) -> tuple[str, ...] | None:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return tuple(value)
    return None


def _relative_path(value: Any) -> str | None:
    """A project-relative POSIX path, normalised (`./out/` -> `out`); None if absolute,
    escaping, or not a name a file system takes (control characters, a part over 255 bytes)."""
    if not isinstance(value, str) or not value.strip() or any(ord(char) < 32 or char == "\x7f" for char in value):
        return None
    path = PurePosixPath(value.replace("\\", "/"))
    if path.is_absolute() or ".." in path.parts or any(len(part.encode("utf-8", "surrogatepass")) > 255 for part in path.parts):
        return None
    return str(path)


def _relative_paths(value: Any) -> tuple[str, ...] | None:
    """A string or list of project-relative paths or globs; None if any is absolute or escaping."""
    paths = _string_list(value)
    if paths is None or any(_relative_path(path) is None for path in paths):
        return None
    return paths


def _choice(options: tuple[str, ...]):
    return lambda value: value if value in options else None


def _deployments(value: Any) -> dict[str, Any] | None:
    """The `deployments` table; each entry is checked by `compiler.deployments`."""
    return value if isinstance(value, dict) else None


# key -> (converter returning None on a bad value, what the value must be)
_KEYS = {
    "sources": (_relative_paths, "a string or a list of strings (folders or globs inside the project)"),
    "exclude": (_string_list, "a string or a list of strings (globs)"),
    "out": (_relative_path, "a project-relative folder such as `orchestration`"),
    "lock": (_relative_path, "a project-relative file path such as `flows.lock`"),
    "opaque_types": (_string_list, "a list of qualified type names such as `mylib.Frame`"),
    "engine": (_choice(ENGINES), "one of " + ", ".join(f"`{e}`" for e in ENGINES)),
    "task_runner": (_choice(TASK_RUNNERS), "one of " + ", ".join(f"`{r}`" for r in TASK_RUNNERS)),
    "result_cache": (_relative_path, "a project-relative folder such as `.orchc_cache/results`"),
    "deployments": (_deployments, "a table of deployments, one `[tool.orchc.deployments.NAME]` table each"),
    "pipelines": (_relative_paths, "a string or a list of globs of pipeline spec files (YAML or JSON) inside the project"),
    "defaults": (_deployments, "a table of `@operation` options, `[tool.orchc.defaults]`"),
}


def _table_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip().replace(" ", "") == "[tool.orchc]":
            return number
    return 1


def _key_line(text: str, table_line: int, key: str) -> int:
    """The line where `key` is set inside `[tool.orchc]`, or the table's line."""
    lines = text.splitlines()
    for number in range(table_line, len(lines)):
        stripped = lines[number].strip()
        if stripped.startswith("["):
            break
        if stripped.split("=", 1)[0].strip().strip('"\'') == key:
            return number + 1
    return table_line


def parse_config(text: str | None, path: str = "pyproject.toml") -> tuple[Config, tuple[Diagnostic, ...]]:
    """Read `[tool.orchc]` from pyproject text (None: no pyproject, all defaults)."""
    if text is None:
        return Config(pyproject=path), ()
    try:
        data = load_toml(text)
    except TomlError as error:
        span = Span(path, error.line, error.column)
        return Config(pyproject=path), (
            Diagnostic("OC101", f"`{path}` is not valid TOML: {error.message}", span, "fix the TOML syntax"),)
    table = data.get("tool", {}).get("orchc", {})
    line = _table_line(text)
    span = Span(path, line, 1)
    if not isinstance(table, dict):
        return Config(pyproject=path), (Diagnostic("OC103", "`tool.orchc` must be a table", span, "write it as `[tool.orchc]`"),)
    values: dict[str, Any] = {}
    diagnostics = []
    key_lines = tuple((key, _key_line(text, line, key)) for key in sorted(table))
    for key, key_line in key_lines:
        span = Span(path, key_line, 1)
        if key not in _KEYS:
            hint = did_you_mean(key, _KEYS) or "known keys: " + ", ".join(f"`{k}`" for k in _KEYS)
            diagnostics.append(Diagnostic("OC102", f"unknown key `{key}` in `[tool.orchc]`", span, hint))
            continue
        convert, expected = _KEYS[key]
        value = convert(table[key])
        if value is None:
            diagnostics.append(Diagnostic(
                "OC103", f"`[tool.orchc]` key `{key}` must be {expected}, got {table[key]!r}", span,
                f"set `{key}` to {expected}"))
        else:
            values[key] = value
    if "deployments" in values:
        values["deployments"] = _deployment_decls(values["deployments"], text, path, dict(key_lines)["deployments"])
    if "defaults" in values:
        values["defaults"], found = _defaults(values["defaults"], text, path, dict(key_lines)["defaults"])
        diagnostics += found
    return Config(pyproject=path, table_line=line, key_lines=key_lines, **values), tuple(diagnostics)


def _defaults(table: dict[str, Any], text: str, path: str, line: int) -> tuple[tuple[tuple[str, Any], ...], list[Diagnostic]]:
    """`[tool.orchc.defaults]`: each option checked as `@operation` checks it."""
    from compiler.options import CONVERTERS, DEFAULTABLE, INVALID, REQUIREMENTS

    positions = toml_key_lines(text)
    values, diagnostics = [], []
    for key in sorted(table):
        span = Span(path, positions.get(("tool", "orchc", "defaults", key), line), 1)
        if key not in DEFAULTABLE:
            hint = did_you_mean(key, DEFAULTABLE) or "the options with defaults: " + ", ".join(f"`{k}`" for k in DEFAULTABLE)
            diagnostics.append(Diagnostic("OC102", f"unknown key `{key}` in `[tool.orchc.defaults]`", span, hint))
            continue
        value = CONVERTERS[key](table[key])
        if value is INVALID:
            diagnostics.append(Diagnostic("OC103", f"`[tool.orchc.defaults]` key `{key}` must be {REQUIREMENTS[key]}, "
                                          f"got {table[key]!r}", span, f"set `{key}` to {REQUIREMENTS[key]}"))
        else:
            values.append((key, value))
    return tuple(values), diagnostics


def _deployment_decls(tables: dict[str, Any], text: str, path: str, line: int) -> tuple[DeploymentDecl, ...]:
    """Each deployment with the lines of its keys (`line`, of `deployments`, when unknown)."""
    prefix = ("tool", "orchc", "deployments")
    positions = toml_key_lines(text)
    decls = []
    for name in sorted(tables):
        own = prefix + (name,)
        lines = {(): positions.get(own, positions.get(prefix, line))}
        lines.update((key[len(own):], number) for key, number in positions.items() if key[:len(own)] == own)
        decls.append(DeploymentDecl(name, tables[name], path, tuple(sorted(lines.items()))))
    return tuple(decls)

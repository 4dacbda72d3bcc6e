"""orchc's compiler: reads `@operation` functions without importing them, infers their
dependency graph, and writes `flows.lock` plus Prefect modules.

The public API: `analyse_sources(texts, config)` (`compiler.core`), the pure analysis of
source texts, and `compiler.api` (`analyse`, `build`, `check` of a project folder);
`compiler.cli` is the command line. The passes are packages (`extract`, `link`, `lock`,
`codegen`), with `reports` and `commands` beside them; ARCHITECTURE.md says who owns what.
This package imports nothing heavy, so the runtime can use `compiler.lock.lockfile`.
"""

__version__ = "0.1.0"


def __getattr__(name: str):
    """`compiler.analyse_sources` and `compiler.Outcome`, loaded on first use."""
    if name in ("analyse_sources", "Outcome"):
        from compiler import core

        return getattr(core, name)
    raise AttributeError(f"module 'compiler' has no attribute {name!r}")

"""orchc's compiler: reads `@operation` functions without importing them, infers their
dependency graph, and writes `flows.lock` plus Prefect modules.

The passes live one per module (`discover`, `extract`, `link`, `lockfile`, `codegen`);
`compiler.api` is the only place that reads and writes files, `compiler.cli` the command
line. This package imports nothing heavy so the runtime can use `compiler.lockfile`.
"""

__version__ = "0.1.0"

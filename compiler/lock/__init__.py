"""The lock, `flows.lock`: `lockfile` (its pydantic model, building it from a graph, its
text and reading it back, with the hints of a lock that cannot be read), `toml_writer` (a
mirror of tomli-w) and `toml_strings`, `hashes` (the hash formats it records), `patch`
(the outputs of a clean build patched after an edit that changes no interface) and
`diff` (the semantic changes between two locks). It may import `compiler.model`,
`compiler.diagnostics`, `compiler.toml_read` and `compiler.mirrors`. This `__init__` imports
nothing, so `compiler.lock.hashes` costs no pydantic.
"""

"""Pipelines as data: spec files (YAML or JSON) that compose operations into pipelines,
compiled into the same operations as `@operation` code. `tree` reads a spec safely into
values with positions, `schema` checks its shape (`pipeline.schema.json`, the file
editors use too), `steps` turns each step into an operation. It may import
`compiler.model`, `compiler.diagnostics`, `compiler.naming` and `compiler.options`.
"""

"""Linking, the whole graph: `linker` (the pass: all operations in, the dependency graph
out), `bind` (the inference rules), `dynamic` (conditions and fan-out: `when`, `map`),
`flows` (groups as runnable flows) and `toposort` (a mirror of networkx's lexicographic topological sort). It may import `compiler.model`,
`compiler.diagnostics` and `compiler.naming`.
"""

"""Extraction, one file at a time: `reader` (the pass: one source file in, its `@operation`
functions out, with libcst), `outline` (Python's parser finds what libcst must read),
`positions` (exact spans without a metadata pass) and `annotations` (a module's import
bindings and canonical annotations). It may import `compiler.model`, `compiler.diagnostics`,
`compiler.naming` and `compiler.lock.hashes`; never another pass.
"""

"""Code generation: `modules` (the pass: the lock in, black-formatted Prefect modules out; it
owns the generated-file header) and `black_layout` (a mirror of black for the shapes
generated code has). It may import `compiler.lock`, `compiler.naming`, `compiler.mirrors`
and the runtime's contract (`runtime.GENERATED_CODE_NAMES`).
"""

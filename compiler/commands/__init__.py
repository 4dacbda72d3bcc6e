"""The commands beyond build and check: `explain` (`orchc explain`), `review` (`orchc diff`),
`checkdiff` (`orchc check --diff`) and `gitlock` (a lock as committed at a git ref). They
may import the passes, `compiler.api` and `compiler.reports`.
"""

"""`python -m compiler`: the `orchc` command line (see compiler.cli)."""

from compiler.cli import main

raise SystemExit(main())

"""`python -m runtime`: see runtime.cli."""

from runtime.cli import main

if __name__ == "__main__":  # guarded: process-pool workers re-import this module
    raise SystemExit(main())

"""orchc's benchmarks: see bench/README.md."""

"""Run every benchmark and print their result lines.

`python -m bench.run_all --smoke` runs each at a tiny size (well under two minutes in
all, Prefect's server start included) so the scripts cannot rot; it exits non-zero only
when a script crashes, never because a target was missed. Without `--smoke` it runs the
full sizes of bench/RESULTS.md (tens of minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from bench.common import ENV, REPO, machine

SCRIPTS = ("bench_build", "bench_sparse", "bench_incremental", "bench_heavy", "bench_local", "bench_prefect",
           "bench_dask", "bench_hamilton", "bench_shapes")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--only", nargs="*", default=None, help="run these scripts only")
    parser.add_argument("--workdir", default=None)
    args = parser.parse_args(argv)
    print(f"# {machine()}", flush=True)
    failed = []
    for script in args.only or SCRIPTS:
        command = [sys.executable, "-m", f"bench.{script}", *(["--smoke"] if args.smoke else [])]
        if args.workdir:
            command += ["--workdir", args.workdir]
        start = time.perf_counter()
        done = subprocess.run(command, cwd=REPO, env=ENV, capture_output=True, text=True)
        sys.stdout.write(done.stdout)
        if done.returncode != 0:
            failed.append(script)
            sys.stdout.write(f"{script}: CRASHED (exit {done.returncode})\n{done.stderr[-4000:]}\n")
        print(f"# {script} took {time.perf_counter() - start:.1f}s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

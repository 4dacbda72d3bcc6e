#!/usr/bin/env bash
# Install orchc with its test extras into .venv (created if missing) and run the test suite.
# This is the README's test command; .ci/run calls it on a clean checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_LOGGING_LEVEL=WARNING
# In parallel: one worker per core plus one, since several tests mostly wait on subprocesses
# (pip installs, Prefect servers); each worker starts at most one Prefect server.
workers=${ORCHC_TEST_WORKERS:-$(( $(nproc 2>/dev/null || echo 2) + 1 ))}
# loadgroup: the tests of one real Prefect server and worker (xdist_group) share one test worker
exec .venv/bin/python -m pytest -n "$workers" --dist loadgroup "$@"

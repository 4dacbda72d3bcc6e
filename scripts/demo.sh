#!/usr/bin/env bash
# Install orchc into .venv, build the example project and run the scraping flow on Prefect's
# embedded temporary server (no PREFECT_API_URL needed). This is the README's demo command.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
export PREFECT_SERVER_ANALYTICS_ENABLED=false PREFECT_LOGGING_LEVEL=WARNING
.venv/bin/orchc build
.venv/bin/orchc check
exec .venv/bin/python -m runtime scraping --param keywords=python "$@"

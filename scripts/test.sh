#!/usr/bin/env bash
# Run the test suite in .venv (set up by scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest "$@"

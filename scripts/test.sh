#!/usr/bin/env bash
# Run the linter and the test suite in .venv (set up by scripts/setup.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -m ruff check --quiet . || { echo "ruff check failed (see above); fix or run .venv/bin/python -m ruff check --fix ." >&2; exit 1; }
exec .venv/bin/python -m pytest "$@"

#!/usr/bin/env bash
# Create .venv at the repo root with Python 3.12 and install radprm editable with the test, PHI guard
# (phi, phi-ner) and Ray extras (so CI runs the `--engine ray` tests).
# Idempotent: re-running only re-installs when pyproject.toml or the extras installed here changed.
set -euo pipefail
cd "$(dirname "$0")/.."
find_python() {
  # a pyenv shim answers `command -v` even when no 3.12 is selected: check it really runs
  if python3.12 -c 'import sys' >/dev/null 2>&1; then command -v python3.12; return; fi
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.12(\.|$)' | sort -V -r); do
      p="$(PYENV_VERSION=$v pyenv which python3.12 2>/dev/null || true)"
      [ -x "$p" ] && { echo "$p"; return; }
    done
  fi
  for p in /root/.pyenv/versions/3.12*/bin/python3.12 /usr/bin/python3.12 /usr/local/bin/python3.12; do
    [ -x "$p" ] && { echo "$p"; return; }
  done
  echo "error: Python 3.12 not found (install it, e.g. 'pyenv install 3.12')" >&2; exit 1
}
PY="$(find_python)"
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys; assert sys.version_info[:2]==(3,12)' 2>/dev/null; then
  rm -rf .venv
  "$PY" -m venv .venv
fi
stamp=.venv/.radprm-installed
EXTRAS="test,phi,phi-ner,ray"
hash="$( (cat pyproject.toml; echo "extras: $EXTRAS") | sha256sum | cut -c1-16)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$hash" ]; then
  echo "installing radprm into .venv (editable, extras $EXTRAS)"
  # pip and the build backend are chatty even with -q (setuptools prints an "Editable installation"
  # notice for our package-dir layout): keep their output for when something fails.
  log="$(mktemp)"
  if ! { .venv/bin/python -m pip install -q --upgrade pip \
         && .venv/bin/python -m pip install -q -e ".[$EXTRAS]"; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    echo "error: pip install failed (its output is above)" >&2; exit 1
  fi
  rm -f "$log"
  echo "$hash" > "$stamp"
fi
# torch + TRL for `radprm train prm` / `eval prm` live in their own Python 3.11 venv (the CPU torch wheel is
# 3.11-only), cached in ~/.cache/radprm/train-venv: built once, a no-op afterwards. RADPRM_SKIP_TRAIN_ENV=1 skips it;
# a failed build is a warning (the PRM tests then skip, except in CI where RADPRM_REQUIRE_TRAIN=1).
if [ "${RADPRM_SKIP_TRAIN_ENV:-0}" != 1 ]; then
  bash training/build_env.sh || echo "warning: train venv not built (run: bash training/build_env.sh)" >&2
fi
echo "radprm ready: $(.venv/bin/radprm --version 2>/dev/null || echo .venv/bin/radprm)"

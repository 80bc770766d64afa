#!/usr/bin/env bash
# Build (once) the Python 3.11 venv that runs PRM training and scoring (`radprm train prm`, `radprm eval prm`).
# torch's only CPU build here is a Python 3.11 wheel (on 3.12 pip would pull the CUDA wheels), so
# torch + TRL live in their own venv and the 3.12 toolkit drives them as a subprocess
# (radprm/training/worker.py). Idempotent: a stamp file records the finished build (training/venv_lib.sh).
# Usage: bash training/build_env.sh   (honours RADPRM_CACHE, default ~/.cache/radprm; RADPRM_TRAIN_BASE_PYTHON)
set -euo pipefail
# shellcheck source=venv_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/venv_lib.sh"

CACHE="${RADPRM_CACHE:-$HOME/.cache/radprm}"
VENV="$CACHE/train-venv"
# Pinned: PRMTrainer lives in trl.experimental.prm up to TRL 1.13; the worker was verified with these.
TORCH_VERSION="2.13.0"
TRL_VERSION="1.13.0"   # the last TRL with trl.experimental.prm (1.14 removed PRMTrainer)
TRANSFORMERS_VERSION="5.19.0"
WANT="torch==$TORCH_VERSION trl==$TRL_VERSION transformers==$TRANSFORMERS_VERSION datasets accelerate"

# One build at a time (several worktrees share the cache): a second caller waits, then finds it built.
venv_begin train "$VENV" "$WANT" "${RADPRM_TRAIN_BASE_PYTHON:-python3.11}" \
  "the CPU torch wheel needs Python 3.11" "$CACHE/.train-venv.lock"

PIP+=(-q)
"${PIP[@]}" "${FIND_LINKS[@]}" "torch==$TORCH_VERSION"
"${PIP[@]}" "${FIND_LINKS[@]}" "torch==$TORCH_VERSION" "trl==$TRL_VERSION" \
  "transformers==$TRANSFORMERS_VERSION" datasets accelerate
venv_drop_torch_extras "$VENV"
"$VENV/bin/python" -c 'import torch, trl.experimental.prm' >&2

venv_done train "$VENV" "$WANT"

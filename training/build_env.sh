#!/usr/bin/env bash
# Build (once) the Python 3.11 venv that runs PRM training and scoring (`radprm train prm`, `radprm eval prm`).
# torch's only CPU build here is a Python 3.11 wheel (on 3.12 pip would pull the CUDA wheels), so
# torch + TRL live in their own venv and the 3.12 toolkit drives them as a subprocess
# (radprm/training/worker.py). Idempotent: a stamp file records the finished build.
# Usage: bash training/build_env.sh   (honours RADPRM_CACHE, default ~/.cache/radprm; RADPRM_TRAIN_BASE_PYTHON)
set -euo pipefail

CACHE="${RADPRM_CACHE:-$HOME/.cache/radprm}"
VENV="$CACHE/train-venv"
STAMP="$VENV/.radprm-built"
# Pinned: PRMTrainer lives in trl.experimental.prm up to TRL 1.13; the worker was verified with these.
TORCH_VERSION="2.13.0"
TRL_VERSION="1.13.0"   # the last TRL with trl.experimental.prm (1.14 removed PRMTrainer)
TRANSFORMERS_VERSION="5.19.0"
WANT="torch==$TORCH_VERSION trl==$TRL_VERSION transformers==$TRANSFORMERS_VERSION datasets accelerate"

ready() { [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$VENV/bin/python" ]]; }
if ready; then
  echo "train venv ready: $VENV" >&2
  exit 0
fi
# One build at a time (several worktrees share the cache): a second caller waits, then finds it built.
mkdir -p "$CACHE"
exec 9>"$CACHE/.train-venv.lock"
flock 9
if ready; then
  echo "train venv ready: $VENV" >&2
  exit 0
fi

PY="${RADPRM_TRAIN_BASE_PYTHON:-python3.11}"
command -v "$PY" >/dev/null || { echo "Error: $PY not found (the CPU torch wheel needs Python 3.11)" >&2; exit 1; }

mkdir -p "$CACHE"
if [[ -d "$VENV" && ! -f "$STAMP" ]]; then
  echo "removing incomplete venv $VENV" >&2
  rm -rf "$VENV"
fi
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"

PIP=("$VENV/bin/pip" install --disable-pip-version-check --progress-bar off -q)
FIND_LINKS=()
[[ -d /opt/wheels ]] && FIND_LINKS=(--find-links /opt/wheels)
"${PIP[@]}" "${FIND_LINKS[@]}" "torch==$TORCH_VERSION"
"${PIP[@]}" "${FIND_LINKS[@]}" "torch==$TORCH_VERSION" "trl==$TRL_VERSION" \
  "transformers==$TRANSFORMERS_VERSION" datasets accelerate
# trl may pull optional vision packages built against another torch: they break transformers' import.
"$VENV/bin/pip" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
"$VENV/bin/python" -c 'import torch, trl.experimental.prm' >&2

echo "$WANT" > "$STAMP"
echo "train venv ready: $VENV" >&2

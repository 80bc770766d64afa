#!/usr/bin/env bash
# Mine the same IU dev reports with each served model, same settings (issue 14 model comparison).
#
#   bash bench/run_models.sh OUT MODEL=BASE_URL [MODEL=BASE_URL ...]
#
# One `radprm mine` per model, one after the other, with the demo's settings (image style, tasks
# single,multi_label,binary, 1 question per report, 256 tokens per call) on the first 50
# reports of the IU dev labels file that are not in the natural-chain evaluation set
# (bench_models.py --write-exclude; `--limit` counts rows before the exclusion, so $LIMIT = 76 rows
# of the IU CSV hold those 50). Each run folder gets bench.json: exit code, last error line, wall
# seconds, load average (min / max, sampled every 10 s) and the server's own token and request counters
# (vLLM /metrics before and after; exact when nothing else uses that server). Compare with
# `.venv/bin/python bench/bench_models.py OUT/MODEL ...`.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:?usage: run_models.sh OUT MODEL=BASE_URL ...}"; shift
SHARED="${SHARED:-../shared}"
LIMIT="${LIMIT:-76}"
CONCURRENCY="${CONCURRENCY:-16}"
mkdir -p "$OUT"
.venv/bin/python bench/bench_models.py --write-exclude "$OUT/exclude.txt" >/dev/null

counters() {  # counters BASE_URL -> JSON of the vLLM prometheus counters we use
  curl -fsS -m 10 "${1%/v1}/metrics" | .venv/bin/python -c '
import json, re, sys
out = {}
for line in sys.stdin:
    m = re.match(r"vllm:(prompt_tokens_total|generation_tokens_total|request_success_total)\{([^}]*)\} ([0-9.e+]+)", line)
    if m:
        reason = re.search(r"finished_reason=\"(\w+)\"", m.group(2))
        key = m.group(1) + (":" + reason.group(1) if reason else "")
        out[key] = out.get(key, 0) + float(m.group(3))
print(json.dumps(out))'
}

for spec in "$@"; do
  model="${spec%%=*}"; url="${spec#*=}"
  run="$OUT/$model"
  rm -rf "$run"; mkdir -p "$run"
  before="$(counters "$url")"
  (while sleep 10; do cut -d' ' -f1 /proc/loadavg; done) > "$run/load.txt" &
  sampler=$!
  start=$(date +%s.%N)
  .venv/bin/radprm mine "$SHARED/data/iu-xray/indiana_reports.csv" \
      --projections "$SHARED/data/iu-xray/indiana_projections.csv" --run-dir "$run" --limit "$LIMIT" \
      --style image --exclude-reports "$OUT/exclude.txt" --tasks single,multi_label,binary \
      --questions-per-report 1 --max-tokens 256 --concurrency "$CONCURRENCY" --timeout 300 \
      --model "$model" --base-url "$url" 2> >(tee "$run/stderr.log" >&2)
  rc=$?
  end=$(date +%s.%N)
  kill "$sampler" 2>/dev/null; wait "$sampler" 2>/dev/null
  after="$(counters "$url")"
  .venv/bin/python - "$run/bench.json" "$model" "$url" "$rc" "$start" "$end" "$before" "$after" "$run/load.txt" \
      "$run/stderr.log" <<'PY'
import json, sys
path, model, url, rc, start, end, before, after, load, err = sys.argv[1:]
before, after = json.loads(before), json.loads(after)
loads = [float(x) for x in open(load).read().split()] or [0.0]
errors = [ln.strip() for ln in open(err) if ln.startswith("Error")]
json.dump({"model": model, "base_url": url, "exit_code": int(rc), "error": errors[-1] if errors else None,
           "wall_s": round(float(end) - float(start), 1), "load_min": min(loads), "load_max": max(loads),
           "server": {k: after[k] - before.get(k, 0) for k in after}}, open(path, "w"), indent=2)
PY
  echo "run_models: $model exit $rc -> $run/bench.json" >&2
done

#!/usr/bin/env bash
# The main job on real IU X-ray reports from ../shared, end to end:
#   findings for every report (+ dev-set label scores) -> local vLLM server -> mine 20 reports
#   (plan -> analysis -> refine, every step validated) -> shards -> verify -> QA -> TRL export
#   -> rollout step labels for a few items -> TRL export with report and rollout labels fused (--labels agree).
# Output in $DEMO_DIR (default runs/demo), recreated on each run.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
IU="$SHARED/data/iu-xray/indiana_reports.csv"
PROJ="$SHARED/data/iu-xray/indiana_projections.csv"
GOLD="$SHARED/data/labels/openi_chestxray14_dev.csv"
# reports the natural-chains evaluation uses: kept out of the demo's mining (read by path, never copied)
EVAL_IDS="$SHARED/data/natural-chains/chains.jsonl"
EXCLUDE=(); [ -f "$EVAL_IDS" ] && EXCLUDE=(--exclude-reports "$EVAL_IDS")
[ -f "$IU" ] || { echo "error: $IU not found (the demo reads the IU X-ray reports from ../shared)" >&2; exit 1; }
OUT="${DEMO_DIR:-runs/demo}"
N="${DEMO_REPORTS:-20}"
R=.venv/bin/radprm
rm -rf "$OUT"; mkdir -p "$OUT"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

step "1/8 findings: medspaCy extraction over all IU reports"
$R findings "$IU" --projections "$PROJ" --labelset chestxray14 \
  --out "$OUT/findings.csv" --details "$OUT/mentions.parquet" --summary
step "    dev-set scores against the ChestX-ray14 gold labels"
$R eval labels "$OUT/findings.csv" "$GOLD" 

step "2/8 local vLLM server (first run builds it under ~/.cache/radprm: a few minutes)"
bash serving/serve.sh start

step "3/8 mine $N IU reports: image-style chains (the report is hidden ground truth), every step validated"
$R mine "$IU" --projections "$PROJ" --run-dir "$OUT/mine" --limit "$N" --style image "${EXCLUDE[@]}" \
  --tasks single,multi_label,binary --questions-per-report 1 --max-tokens 256 --concurrency 8 --timeout 300

step "4/8 verify shards against their manifest"
$R verify "$OUT/mine/shards"

step "5/8 QA: DuckDB checks + Great Expectations (report in $OUT/mine/shards/qa/)"
$R qa "$OUT/mine/shards" -q
$R sql "$OUT/mine/shards" "SELECT verdict, count(*) AS steps, round(avg(CASE WHEN label THEN 1 ELSE 0 END), 2) AS good FROM steps GROUP BY 1 ORDER BY 2 DESC"
$R sql "$OUT/mine/shards" "SELECT style, split, count(*) AS items, sum(len(image_paths) > 0) AS with_images FROM items GROUP BY ALL ORDER BY 1, 2"
.venv/bin/python - "$OUT/mine/shards/qa/qa.json" <<'PY'
import json, sys
checks = {c["check"]: c for c in json.load(open(sys.argv[1]))["checks"]}
for row in checks["report_mentions"]["rows"]:
    print(f"report_mentions: style {row[0]}: {row[4]} of {row[3]} steps cite the report ({row[2]} of {row[1]} chains)")
PY

step "6/8 export for PRM training (TRL stepwise supervision)"
TOK="${RADPRM_CACHE:-$HOME/.cache/radprm}/models/smollm2-135m-instruct"
TOKOPT=(); [ -d "$TOK" ] && TOKOPT=(--tokenizer "$TOK")
# image-style chains citing the report are left out (cites_report); a toy model may leave none
if ! $R export trl "$OUT/mine/shards" --out "$OUT/prm_trl.jsonl" --max-length 1024 "${TOKOPT[@]}"; then
  echo "no TRL rows: every image-style chain cited the report (see $OUT/prm_trl.jsonl.quarantine.jsonl);" \
       "the local 135M model often disobeys the image-style prompt, a real model does not"
fi

ROLLOUT_N="${DEMO_ROLLOUT_N:-2}"
step "7/8 rollout step labels: $ROLLOUT_N continuations per step prefix, without the report (Math-Shepherd / OmegaPRM)"
$R label rollouts "$OUT/mine/shards" --run-dir "$OUT/rollouts" --n "$ROLLOUT_N" --max-items "${DEMO_ROLLOUT_ITEMS:-4}" \
  --search binary --max-tokens 96 --concurrency 4 --timeout 600
$R verify "$OUT/rollouts/shards"
$R sql "$OUT/rollouts/shards" "SELECT label AS report_label, mc_label AS rollout_label, count(*) AS steps FROM steps GROUP BY 1, 2 ORDER BY 1, 2"

step "8/8 export with fused labels: --labels agree keeps a step's label where validator and rollouts agree"
$R export trl "$OUT/rollouts/shards" --out "$OUT/prm_trl_agree.jsonl" --labels agree --masked keep --soft \
  --max-length 1024 "${TOKOPT[@]}"

echo
echo "demo done: $OUT (findings.csv, mentions.parquet, mine/shards, prm_trl.jsonl, rollouts/shards, prm_trl_agree.jsonl);"
echo "stop the server with: make serve-stop"

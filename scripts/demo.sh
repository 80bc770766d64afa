#!/usr/bin/env bash
# The main job on real IU X-ray reports from ../shared.
set -euo pipefail
cd "$(dirname "$0")/.."
SHARED="${SHARED:-../shared}"
IU="$SHARED/data/iu-xray/indiana_reports.csv"
[ -f "$IU" ] || { echo "error: $IU not found (the demo reads the IU X-ray reports from ../shared)" >&2; exit 1; }
OUT="${DEMO_DIR:-runs/demo}"
mkdir -p "$OUT"
.venv/bin/radprm findings "$IU" --projections "$SHARED/data/iu-xray/indiana_projections.csv" \
  --labelset chestxray14 --out "$OUT/findings.csv" --details "$OUT/mentions.parquet" --summary

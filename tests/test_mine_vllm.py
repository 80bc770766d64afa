"""Integration: mine real IU reports against the local vLLM server (SmolLM2-135M) end to end."""

from __future__ import annotations

import json

import pytest

from radprm.miners.job import mine
from radprm.quarantine import read_quarantine
from radprm.shards.reader import read_items

N_REPORTS = 4


@pytest.mark.vllm
@pytest.mark.shared
@pytest.mark.timeout(900)
def test_mine_iu_reports_against_real_vllm(vllm_base_url, iu_reports, tmp_path):
    summary = mine(iu_reports, run_dir=tmp_path / "run", base_url=vllm_base_url, model="smollm2",
                   tasks=["single", "binary"], questions_per_report=1, limit=N_REPORTS, max_tokens=256,
                   concurrency=4, timeout=300, seed=0)
    items = list(read_items(summary.shards_dir))
    mined_quarantine = [q for q in read_quarantine(summary.quarantine_path) if q.stage == "mine"] \
        if summary.quarantine_path.exists() else []
    # every planned item ends written or quarantined with a reason; at least one real chain made it
    assert summary.items_planned == N_REPORTS
    assert len(items) + len(mined_quarantine) == N_REPORTS
    assert summary.items_pending == 0
    assert items, f"no chain survived: {summary.quarantined}"
    for q in mined_quarantine:
        assert q.reason_code in {"truncated", "malformed_json", "schema_violation", "empty_chain", "timeout",
                                 "cites_report"}  # an image-style chain still citing the report after its re-ask
    for item in items:
        assert item.steps and all(0.0 <= s.score <= 1.0 for s in item.steps)
        assert set(item.model_answer) <= set(item.options)
        # a disputed answer (doubtful extractor key) gets no reward: a reviewer decides
        assert item.answer_reward in (0.0, 1.0) or (item.answer_disputed and item.answer_reward is None)
        assert item.model == "smollm2" and [p.name for p in item.prompts] == ["plan", "analysis", "refine"]
        assert item.style == "image" and [p.version for p in item.prompts] == [3, 3, 4]  # refine@v4: reask reminder
        assert item.split in ("train", "validation", "test") and item.answer_key_source == "extractor"
        assert json.loads(item.sampling)["max_tokens"] == 256
    assert summary.metrics.completion_tokens > 0 and summary.metrics.requests >= 3 * len(items)
    # a resume sends nothing: every answer is in the cache or the item is final
    again = mine(iu_reports, run_dir=tmp_path / "run", base_url=vllm_base_url, model="smollm2",
                 tasks=["single", "binary"], questions_per_report=1, limit=N_REPORTS, max_tokens=256,
                 concurrency=4, timeout=300, seed=0, resume=True)
    assert again.metrics.requests == 0 and again.items_written == len(items)

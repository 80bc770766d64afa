"""kill -9 of the `radprm mine --engine ray` driver mid-run, then `--resume`: 0 duplicates, every report in
an item or a quarantine row, no answered request sent again. The driver starts its own local Ray."""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter

import pytest
from fakes.openai_server import FakeOpenAIServer
from kill_support import kill_9_when, ledger_written
from ray_support import write_reports
from test_mine_kill_resume import body_key  # same --seed 3

from radprm.miners.cache import RequestCache
from radprm.prompts.registry import PromptRegistry
from radprm.quarantine import read_quarantine
from radprm.readers import read_reports
from radprm.shards.reader import read_items

pytest.importorskip("ray", reason="the Ray engine tests need `pip install 'radprm[ray]'` (make setup does)")
RADPRM = os.path.join(os.path.dirname(sys.executable), "radprm")


def args(reports, server_url: str, run_dir) -> list[str]:
    return [RADPRM, "mine", str(reports), "--run-dir", str(run_dir), "--engine", "ray", "--base-url", server_url,
            "--model", "smollm2", "--tasks", "single,binary", "--questions-per-report", "2", "--seed", "3",
            "--concurrency", "2", "--shard-rows", "3", "--commit-every", "0", "--max-tokens", "200"]


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_kill_9_ray_driver_then_resume_writes_every_item_once(tmp_path):
    reports = write_reports(tmp_path / "reports.csv", n=50)
    run_dir = tmp_path / "run"
    with FakeOpenAIServer(latency=0.15) as server:
        url = server.base_url
        proc = subprocess.Popen(args(reports, url, run_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)
        # the driver only: its local Ray must clean up after it
        kill_9_when(proc, lambda: ledger_written(run_dir), 4, timeout=300, poll=0.1,
                    what="the ray job never committed a shard")
        written_at_kill = ledger_written(run_dir)
        before = list(server.requests)
        # what the cache holds when the resume starts: a Ray worker the kill orphaned may still commit an answer
        # after this, and the resumed run cannot have known it
        labels = {t.id: t.label for t in PromptRegistry().latest()}
        with RequestCache(run_dir / "cache.sqlite") as cache:
            answered = {k for k in (body_key(b, labels) for b in before) if k in cache}

        server.latency = 0.0
        resumed = subprocess.run([*args(reports, url, run_dir), "--resume"], capture_output=True, text=True,
                                 timeout=400)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        after = server.requests[len(before):]

    items = list(read_items(run_dir / "shards"))
    ids = [i.item_id for i in items]
    assert len(ids) == len(set(ids)), "duplicate items after resume"
    counts = Counter(ids)
    assert not [i for i, n in counts.items() if n > 1]
    assert 4 <= written_at_kill < len(ids), "killed too late to test anything"
    assert f"{len(ids)} written of {len(ids)} planned" in resumed.stdout
    # every report is in an item or a quarantine row
    quarantined = read_quarantine(run_dir / "quarantine" / "quarantine.jsonl")
    covered = {i.report_id for i in items} | {q.record_id for q in quarantined}
    all_ids = {r.report_id for r in read_reports(reports)} | {"r007"}
    assert all_ids <= covered
    assert [(q.stage, q.reason_code) for q in quarantined] == [("read", "empty_text")]
    # no request answered (cached) before the resume was sent again
    assert answered
    assert [b for b in after if body_key(b, labels) in answered] == []

"""kill -9 in the middle of `radprm mine`, then `--resume`: every item exactly once, no answered request
sent again."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kill_support import kill_9_when, ledger_written

from radprm.miners.cache import RequestCache, request_key
from radprm.miners.client import SamplingParams
from radprm.miners.questions import build_questions
from radprm.prompts.registry import PromptRegistry
from radprm.quarantine import read_quarantine
from radprm.readers import read_reports
from radprm.shards.reader import read_items

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"
RADPRM = Path(sys.executable).parent / "radprm"
SEED = 3


def args(server, run_dir: Path) -> list[str]:
    return [str(RADPRM), "mine", str(FIXTURE), "--run-dir", str(run_dir), "--base-url", server.base_url,
            "--model", "smollm2", "--tasks", "single,binary", "--questions-per-report", "2", "--rollouts", "2",
            "--seed", str(SEED), "--concurrency", "2", "--shard-rows", "3", "--max-tokens", "200"]


def body_key(body: dict, labels: dict[str, str]) -> str:
    """The request-cache key the job used for a request the fake server received."""
    schema = body["response_format"]["json_schema"]
    sampling = SamplingParams(temperature=body["temperature"], top_p=body["top_p"], max_tokens=body["max_tokens"],
                              seed=body["seed"])
    extra = {"prompt": labels[schema["name"]], "rollout": body["seed"] - SEED}
    return request_key("smollm2", body["messages"], schema["schema"], sampling, extra)


def expected_item_count() -> int:
    from radprm.validators.findings import FindingsExtractor, report_labels

    ex = FindingsExtractor()
    total = 0
    for report in read_reports(FIXTURE):
        findings = ex.extract_report(report)
        qs = build_questions(report, findings, report_labels(findings, labelset="chexpert"),
                             tasks=["single", "binary"], per_report=2, seed=SEED)
        total += 2 * len(qs)  # two rollouts
    return total


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_mine_kill_9_then_resume_writes_every_item_once(fake_openai_server, tmp_path):
    server = fake_openai_server
    server.latency = 0.25  # slow enough to kill mid-run
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(args(server, run_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kill_9_when(proc, lambda: ledger_written(run_dir), 2)
    assert proc.returncode == -signal.SIGKILL
    # Only this job's requests: on a shared machine a stray client can reach a reused port.
    def ours(bodies):
        return [b for b in bodies if (b.get("response_format") or {}).get("json_schema", {}).get("name") in labels]

    labels = {t.id: t.label for t in PromptRegistry().latest()}
    n_before = len(server.requests)
    before = ours(server.requests[:n_before])
    written_at_kill = ledger_written(run_dir)
    expected = expected_item_count()
    assert 2 <= written_at_kill < expected, "killed too late to test anything"

    with RequestCache(run_dir / "cache.sqlite") as cache:
        answered = {k for k in (body_key(b, labels) for b in before) if k in cache}
    assert answered

    server.latency = 0.0
    resumed = subprocess.run([*args(server, run_dir), "--resume"], capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    after = ours(server.requests[n_before:])
    again = [b for b in after if body_key(b, labels) in answered]
    assert again == [], f"{len(again)} requests answered before the kill were sent again"

    ids = [i.item_id for i in read_items(run_dir / "shards")]
    assert len(ids) == len(set(ids)) == expected
    assert f"{expected} written of {expected} planned" in resumed.stdout
    quarantined = read_quarantine(run_dir / "quarantine" / "quarantine.jsonl")
    assert [(q.stage, q.reason_code) for q in quarantined] == [("read", "empty_text")]

"""kill -9 in the middle of `radprm label rollouts`, then `--resume`: every item exactly once, no answered
rollout request sent again."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from kill_support import kill_9_when, ledger_written
from test_label_rollouts import single_item, write_shards

from radprm.miners.cache import RequestCache, request_key
from radprm.miners.client import SamplingParams
from radprm.prompts.registry import PromptRegistry
from radprm.shards.reader import read_items
from radprm.shards.verify import verify

RADPRM = Path(sys.executable).parent / "radprm"
N_ITEMS = 10


def args(server, src: Path, run_dir: Path) -> list[str]:
    return [str(RADPRM), "label", "rollouts", str(src), "--run-dir", str(run_dir), "--base-url", server.base_url,
            "--model", "smollm2", "--n", "2", "--concurrency", "1", "--shard-rows", "2", "--commit-every", "0"]


def body_key(body: dict, label: str) -> str:
    """The request-cache key the job used for a rollout request the fake server received."""
    schema = body["response_format"]["json_schema"]
    sampling = SamplingParams(temperature=body["temperature"], top_p=body["top_p"], max_tokens=body["max_tokens"],
                              seed=body["seed"])
    return request_key("smollm2", body["messages"], schema["schema"], sampling, {"prompt": label, "n": body["n"]})


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_label_rollouts_kill_9_then_resume_writes_every_item_once(fake_openai_server, tmp_path):
    server = fake_openai_server
    server.latency = 0.2  # slow enough to kill mid-run
    src = write_shards(tmp_path / "in", [single_item(i, 3) for i in range(N_ITEMS)])
    run_dir = tmp_path / "run"
    proc = subprocess.Popen(args(server, src, run_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    kill_9_when(proc, lambda: ledger_written(run_dir), 2)
    assert proc.returncode == -signal.SIGKILL
    label = PromptRegistry().get("rollout").label

    def ours(bodies):
        return [b for b in bodies if (b.get("response_format") or {}).get("json_schema", {}).get("name") == "rollout"]

    n_before = len(server.requests)
    before = ours(server.requests[:n_before])
    written_at_kill = ledger_written(run_dir)
    assert 2 <= written_at_kill < N_ITEMS, "killed too late to test anything"
    with RequestCache(run_dir / "cache.sqlite") as cache:
        answered = {k for k in (body_key(b, label) for b in before) if k in cache}
    assert answered

    server.latency = 0.0
    resumed = subprocess.run([*args(server, src, run_dir), "--resume"], capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    again = [b for b in ours(server.requests[n_before:]) if body_key(b, label) in answered]
    assert again == [], f"{len(again)} rollout requests answered before the kill were sent again"

    items = list(read_items(run_dir / "shards"))
    ids = [i.item_id for i in items]
    assert len(ids) == len(set(ids)) == N_ITEMS
    assert all(s.mc_rollouts == 2 for i in items for s in i.steps)
    assert f"{N_ITEMS} written" in resumed.stdout
    assert verify(run_dir / "shards").ok

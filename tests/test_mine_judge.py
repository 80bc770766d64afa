"""`radprm mine --judge`: the judge runs after step validation in the mining job (fake server), and a smoke
test of `radprm validate --judge` against the real local vLLM server."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.openai_server import reply

from radprm.errors import InputError
from radprm.miners.job import mine
from radprm.prompts.registry import load_prompt
from radprm.shards.reader import read_items
from radprm.tables import read_table
from radprm.validators.batch import validate_file
from radprm.validators.judge import JUDGE_FIELDS, SIDECAR, SUMMARY_FILE, read_sidecar

FIXTURES = Path(__file__).resolve().parent / "fixtures"
REPORTS = FIXTURES / "reports_mine_small.csv"


def judge_says_bad(body: dict):
    if body["response_format"]["json_schema"]["name"] != "judge":
        return None
    return reply({"label": "bad", "reason": "finding_not_in_report", "evidence": ""})


def run(server, run_dir, parts, **kw):
    extractor, validator = parts
    return mine(REPORTS, run_dir=run_dir, base_url=server.base_url, model="smollm2", tasks=["single"],
                questions_per_report=1, max_tokens=200, concurrency=4, max_retries=1, timeout=5.0,
                extractor=extractor, validator=validator, **kw)


def test_mine_judge_all_fuses_labels_and_records_provenance(fake_openai_server, tmp_path, parts):
    fake_openai_server.rule = judge_says_bad
    summary = run(fake_openai_server, tmp_path / "run", parts, judge="all", judge_policy="judge-first")
    items = list(read_items(summary.shards_dir))
    assert items
    judge = load_prompt("judge")
    for item in items:
        assert all(not s.label for s in item.steps) and item.first_bad_step == 0
        assert [p.name for p in item.prompts][-1] == "judge" and item.prompts[-1].sha == judge.sha
    rows = read_sidecar(tmp_path / "run" / SIDECAR)
    assert len(rows) == sum(len(i.steps) for i in items)
    assert {r["judge_label"] for r in rows} == {"bad"} and {r["judge_model"] for r in rows} == {"smollm2"}
    assert {r["judge_prompt_sha256"] for r in rows} == {judge.sha}
    assert set(rows[0]) == {"item_id", "step_index", "label", "verdict", *(f.name for f in JUDGE_FIELDS)}
    stats = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
    assert stats["answered"] == len(rows) and stats["policy"] == "judge-first"
    job = json.loads((tmp_path / "run" / "job.json").read_text())
    assert job["identity"]["judge"] == "all" and any(p.startswith("judge@v1:") for p in job["identity"]["prompts"])


def test_mine_judge_resume_asks_nothing_again(fake_openai_server, tmp_path, parts):
    fake_openai_server.rule = judge_says_bad
    first = run(fake_openai_server, tmp_path / "run", parts, judge="undecided")
    sent = fake_openai_server.chat_count
    again = run(fake_openai_server, tmp_path / "run", parts, judge="undecided", resume=True)
    assert fake_openai_server.chat_count == sent and again.items_written == first.items_written


def test_mine_judge_options_are_checked(fake_openai_server, tmp_path, parts):
    with pytest.raises(InputError, match="judge"):
        run(fake_openai_server, tmp_path / "a", parts, judge="some")
    with pytest.raises(InputError, match="--judge-policy needs --judge"):
        run(fake_openai_server, tmp_path / "b", parts, judge_policy="judge-first")


def test_mine_judge_option_change_refuses_resume(fake_openai_server, tmp_path, parts):
    run(fake_openai_server, tmp_path / "run", parts)
    with pytest.raises(InputError, match="--judge"):
        run(fake_openai_server, tmp_path / "run", parts, judge="all", resume=True)


# --- smoke test against the real local vLLM server ------------------------------------------------------

SMOKE_CHAINS = [
    {"chain_id": "smoke1", "report_id": "153", "question": "Is there a pleural effusion?", "answer": ["yes"],
     "steps": ["Let us look at the pleural spaces.", "There is a small left pleural effusion."]},
]


@pytest.mark.vllm
@pytest.mark.timeout(900)
def test_validate_judge_against_real_vllm(vllm_base_url, tmp_path, monkeypatch, capsys):
    import csv

    monkeypatch.setenv("RADPRM_CACHE", str(tmp_path / "cache-home"))
    reports = tmp_path / "reports.csv"
    with reports.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["report_id", "findings", "impression"])
        w.writerow(["153", "Cardiac silhouette is normal size. There is a small right pleural effusion.",
                    "Right pleural effusion."])
    chains = tmp_path / "chains.jsonl"
    chains.write_text("".join(json.dumps(c) + "\n" for c in SMOKE_CHAINS))
    out = tmp_path / "steps.parquet"
    summary = validate_file(chains, reports, out, judge="all", base_url=vllm_base_url, model="smollm2",
                            concurrency=2)
    rows = list(read_table(out))
    with capsys.disabled():
        print("\n" + summary.render())
        for r in rows:
            print({k: r[k] for k in ("step", "label", "verdict", "rules_label", "judge_label", "judge_reason",
                                     "judge_evidence", "judge_error")})
    assert len(rows) == 2
    sha = load_prompt("judge").sha
    for r in rows:
        assert r["judge_model"] == "smollm2" and r["judge_prompt_sha256"] == sha
        # SmolLM2-135M proves the plumbing, not the judgement: an answer or a recorded failure
        assert r["judge_label"] in ("good", "bad") or r["judge_error"]
    assert summary.judge.asked == 2
    assert summary.judge.metrics.requests >= 1

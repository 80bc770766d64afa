"""`radprm mine --cites-report`: an image-style chain whose steps cite the report is asked once more (new
seed and cache key, the prompt's `reask` reminder) and, if it still cites it, quarantined as `cites_report`
at the mining stage; `keep` writes it; report-style chains are never checked. Fake server: the failure paths
(a model that keeps citing, one that obeys the reminder) cannot be produced on demand by the real model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from fakes.openai_server import default_content, reply
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError, PromptError
from radprm.miners.chains import ATTEMPT_SEED_STRIDE, ChainMiner
from radprm.miners.config import MineConfig
from radprm.miners.job import mine
from radprm.miners.ledger import Ledger
from radprm.miners.styles import report_mentions
from radprm.prompts.registry import PromptRegistry, default_prompts_dir
from radprm.quarantine import read_quarantine
from radprm.shards.reader import read_items

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"
# Reports (m4 and m6 of the fixture) whose chains the fake model writes citing the report.
CITED = ("mildly enlarged", "Right lower lobe consolidation")
CITING_STEPS = ["The report states the heart is enlarged.", "Effusion is not mentioned, so it is absent."]
CLEAN_STEPS = ["The heart is enlarged on the frontal view.", "No pleural effusion is seen."]
SEED = 0


@pytest.fixture(scope="module")
def parts():
    from radprm.validators.findings import FindingsExtractor
    from radprm.validators.steps import StepValidator

    extractor = FindingsExtractor()
    return extractor, StepValidator(extractor=extractor)


def run(server, run_dir, parts, **kw):
    extractor, validator = parts
    options = dict(tasks=["single", "binary"], questions_per_report=2, max_tokens=200, concurrency=2,
                   max_retries=0, timeout=5.0, seed=SEED)
    options.update(kw)
    return mine(FIXTURE, run_dir=run_dir, base_url=server.base_url, model="smollm2", extractor=extractor,
                validator=validator, **options)


def reminder(name: str = "refine") -> str:
    """The start of the `reask` reminder of the image-style prompt `name` (what a re-ask adds)."""
    return PromptRegistry().for_style(name, "image").reask.strip()[:40]


def is_reask(body) -> bool:
    return reminder("refine") in body["messages"][-1]["content"] or reminder("staged") in body["messages"][-1][
        "content"]


def final_call(body) -> str | None:
    name = ((body.get("response_format") or {}).get("json_schema") or {}).get("name")
    return name if name in ("refine", "staged") else None


def citing(*, until_reask: bool = False):
    """Fake-model rule: the final call about a CITED report answers with steps citing the report (clean
    once the reminder is in the prompt when `until_reask`)."""
    def rule(body):
        name = final_call(body)
        if name is None or not any(c in body["messages"][-1]["content"] for c in CITED):
            return None
        content = json.loads(default_content(body))
        texts = CLEAN_STEPS if until_reask and is_reask(body) else CITING_STEPS
        if name == "staged":
            content["steps"] = [{**content["steps"][0], "text": t} for t in texts]
        else:
            content["steps"] = texts
        return reply(content)
    return rule


def finals(server) -> tuple[int, int]:
    """(final calls, re-asks among them) the fake server received."""
    bodies = [b for b in server.requests if final_call(b)]
    return len(bodies), sum(is_reask(b) for b in bodies)


def cited_items(run_dir: Path) -> set[str]:
    return {r.item_id for r in read_quarantine(run_dir / "quarantine" / "quarantine.jsonl")
            if r.reason_code == "cites_report"}


@pytest.mark.parametrize("mode", ["reasoner", "staged"])
def test_citing_chain_is_reasked_once_then_quarantined(fake_openai_server, tmp_path, parts, mode):
    server = fake_openai_server
    server.rule = citing()
    run_dir = tmp_path / "run"
    summary = run(server, run_dir, parts, mode=mode)
    records = [r for r in read_quarantine(summary.quarantine_path) if r.reason_code == "cites_report"]
    assert len(records) == 4  # m4 and m6, two questions each
    for r in records:  # filled as every mine-stage quarantine row
        assert r.stage == "mine" and r.field == "steps" and r.report_id in ("m4", "m6")
        assert r.item_id == r.chain_id == r.record_id and r.item_id.startswith("c1:")
        assert "after a re-ask" in r.detail and "the_report" in r.detail and r.payload
    n_final, n_reask = finals(server)
    assert n_reask == 4 and n_final == summary.items_written + 8  # each cited chain: first call + one re-ask
    items = list(read_items(run_dir / "shards"))
    assert items and not {i.item_id for i in items} & {r.item_id for r in records}
    assert not [s.text for i in items for s in i.steps if report_mentions(s.text)]  # QA report_mentions: 0
    assert summary.quarantined["mine/cites_report"] == 4
    assert summary.cites_report == {"policy": "quarantine", "reasked_this_session": 4, "fixed": 0,
                                    "quarantined": 4, "kept": 0, "reask_failed": 0}
    assert "4 re-asked (4 this session), 0 fixed by the re-ask, 4 quarantined" in summary.render()
    result = CliRunner().invoke(app, ["status", str(run_dir)])
    assert result.exit_code == 0, result.output
    assert "4 re-asked, 0 fixed by the re-ask, 4 quarantined (cites_report)" in result.output
    assert "mine/cites_report" in result.output and "--reasons cites_report" in result.output

    # resume: the quarantined items are final, nothing is asked or written again
    before = server.chat_count
    again = run(server, run_dir, parts, mode=mode, resume=True)
    assert server.chat_count == before and again.items_this_session == 0
    assert again.quarantined["mine/cites_report"] == 4


def test_chain_fixed_by_the_reask_is_written_once(fake_openai_server, tmp_path, parts):
    server = fake_openai_server
    server.rule = citing(until_reask=True)
    run_dir = tmp_path / "run"
    summary = run(server, run_dir, parts)
    assert "mine/cites_report" not in summary.quarantined
    assert summary.cites_report["fixed"] == summary.cites_report["reasked_this_session"] == 4
    items = list(read_items(run_dir / "shards"))
    ids = [i.item_id for i in items]
    assert len(ids) == len(set(ids)) == summary.items_written
    fixed = [i for i in items if i.report_id in ("m4", "m6")]
    assert len(fixed) == 4 and all([s.text for s in i.steps] == CLEAN_STEPS for i in fixed)
    # the row records the seed of the attempt whose steps it holds
    assert {i.seed for i in fixed} == {SEED + i.rollout + ATTEMPT_SEED_STRIDE for i in fixed}
    assert all(i.seed == SEED + i.rollout for i in items if i.report_id not in ("m4", "m6"))
    with Ledger(run_dir / "ledger.sqlite") as led:
        assert led.citation_counts()["fixed"] == 4

    # resume after that: nothing duplicated, nothing asked
    before = server.chat_count
    again = run(server, run_dir, parts, resume=True)
    assert server.chat_count == before and again.items_this_session == 0
    assert [i.item_id for i in read_items(run_dir / "shards")] == ids


def test_keep_writes_citing_chains_and_counts_them(fake_openai_server, tmp_path, parts):
    server = fake_openai_server
    server.rule = citing()
    run_dir = tmp_path / "run"
    summary = run(server, run_dir, parts, cites_report="keep")
    assert finals(server)[1] == 0 and "mine/cites_report" not in summary.quarantined
    kept = [i for i in read_items(run_dir / "shards") if i.report_id in ("m4", "m6")]
    assert len(kept) == 4 and all([s.text for s in i.steps] == CITING_STEPS for i in kept)
    assert summary.cites_report["kept"] == 4 and summary.cites_report["reasked_this_session"] == 0
    assert json.loads((run_dir / "job.json").read_text())["identity"]["cites_report"] == "keep"


def test_redrive_asks_cites_report_items_as_a_new_attempt(fake_openai_server, tmp_path, parts):
    server = fake_openai_server
    server.rule = citing()
    run_dir = tmp_path / "run"
    first = run(server, run_dir, parts)
    quarantined = cited_items(run_dir)
    assert len(quarantined) == 4
    written_before = {i.item_id for i in read_items(run_dir / "shards")}

    server.rule = citing(until_reask=True)  # a model that now obeys the reminder
    again = run(server, run_dir, parts, resume=True, retry_quarantined=True, reasons="cites_report")
    assert again.redrive["selected"] == again.redrive["resolved"] == 4
    ids = [i.item_id for i in read_items(run_dir / "shards")]
    assert len(ids) == len(set(ids)) and set(ids) == written_before | quarantined
    assert again.items_written == first.items_written + 4 and "mine/cites_report" not in again.quarantined
    # a new attempt: whole chains asked again under new keys (the cache would repeat the citing answer)
    assert again.metrics.requests == 4 * 4 and again.metrics.cache_hits == 0  # plan, analysis, refine, re-ask
    records = [r for r in read_quarantine(again.quarantine_path) if r.reason_code == "cites_report"]
    assert all(r.resolution == "written" for r in records)
    assert again.cites_report["fixed"] == 4 and again.cites_report["quarantined"] == 0
    result = CliRunner().invoke(app, ["status", str(run_dir)])
    assert "re-drive #1" in result.output and "4 selected, 4 resolved, 0 still open" in result.output


def test_report_style_chains_are_never_checked(fake_openai_server, tmp_path, parts):
    server = fake_openai_server
    server.rule = citing()
    summary = run(server, tmp_path / "run", parts, style="report")
    assert finals(server)[1] == 0 and summary.cites_report is None
    assert "mine/cites_report" not in summary.quarantined
    assert sum(i.report_id in ("m4", "m6") for i in read_items(tmp_path / "run" / "shards")) == 4


def test_bad_cites_report_value_and_prompt_without_reminder(tmp_path):
    with pytest.raises(InputError) as err:
        MineConfig.from_options(cites_report="drop", base_url="http://127.0.0.1:1/v1", model="m")
    assert err.value.field == "cites_report" and "quarantine, keep" in str(err.value)
    prompts = tmp_path / "prompts"
    shutil.copytree(default_prompts_dir(), prompts, ignore=shutil.ignore_patterns("v4.yaml", "__*"))
    with pytest.raises(PromptError) as err:
        ChainMiner(None, PromptRegistry(prompts))  # refine@v3: image style without a reask reminder
    assert err.value.field == "reask" and "--cites-report keep" in str(err.value)
    assert ChainMiner(None, PromptRegistry(prompts), cites_report="keep").cites_report == "keep"

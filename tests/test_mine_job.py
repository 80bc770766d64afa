"""The mining job end to end against the fake OpenAI-compatible server: accounting, quarantine,
resume without duplicates, option checks, prompt-change invalidation, staged mode, rollouts."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from pathlib import Path

import pytest
from fakes.openai_server import malformed, schema_violation, sleep, status, truncated

from radprm.errors import InputError, ModelError
from radprm.miners.cache import RequestCache
from radprm.miners.job import CHAINS_PER_SLOT, JOB_FILE, SUMMARY_FILE, mine
from radprm.miners.ledger import Ledger
from radprm.miners.questions import build_questions
from radprm.prompts.registry import PromptRegistry
from radprm.quarantine import read_quarantine
from radprm.readers import read_reports
from radprm.shards.reader import read_items

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"
PACKAGED_PROMPTS = Path(__file__).resolve().parents[1] / "prompts"
TASKS = ["single", "binary"]


def run(server, run_dir, parts, **kw):
    extractor, validator = parts
    options = dict(tasks=TASKS, questions_per_report=2, max_tokens=200, concurrency=4, max_retries=1, timeout=5.0)
    options.update(kw)
    return mine(kw.pop("reports", FIXTURE), run_dir=run_dir, base_url=server.base_url, model="smollm2",
                extractor=extractor, validator=validator, **{k: v for k, v in options.items() if k != "reports"})


def expected_questions(parts, tasks=TASKS, per_report=2, seed=0):
    """Questions per report id, built independently of the job from the same findings."""
    from radprm.validators.findings import report_labels

    extractor, _ = parts
    out = {}
    for report in read_reports(FIXTURE):
        findings = extractor.extract_report(report)
        out[report.report_id] = build_questions(report, findings, report_labels(findings, labelset="chexpert"),
                                                tasks=tasks, per_report=per_report, seed=seed)
    return out


def user_text(body: dict) -> str:
    return body["messages"][-1]["content"]


def schema_name(body: dict) -> str:
    return body["response_format"]["json_schema"]["name"]


def test_mine_writes_one_item_per_question_and_rollout(fake_openai_server, tmp_path, parts):
    summary = run(fake_openai_server, tmp_path / "run", parts)
    questions = expected_questions(parts)
    items = list(read_items(summary.shards_dir))
    assert len(items) == sum(len(q) for q in questions.values()) == summary.items_written
    assert len({i.item_id for i in items}) == len(items)
    assert fake_openai_server.chat_count == 3 * len(items)  # plan, analysis, refine
    by_q = {(q.report_id, q.question): q for qs in questions.values() for q in qs}
    refs = [PromptRegistry(PACKAGED_PROMPTS).get(n).ref for n in ("plan", "analysis", "refine")]
    for item in items:
        q = by_q[(item.report_id, item.question)]
        assert item.answer == q.answer and item.options == q.options and item.task == q.task
        assert set(item.model_answer) <= set(item.options)
        assert item.steps and all(
            s.verdict in {"supported", "contradicted", "unsupported", "neutral", "unsure"} for s in item.steps
        )
        assert item.plan
        assert item.prompts == refs
        assert item.model == "smollm2" and item.server_host == f"127.0.0.1:{fake_openai_server.port}"
        assert json.loads(item.sampling) == {"temperature": 0.7, "top_p": 0.95, "max_tokens": 200, "seed": 0}
        assert item.seed == 0 and item.rollout == 0 and item.run_id == summary.run_id
        assert item.rules_version and item.radprm_version
        assert item.report_text.startswith("FINDINGS:")
    # the empty report is quarantined by the reader, once, with its row
    (q,) = read_quarantine(summary.quarantine_path)
    assert (q.stage, q.reason_code, q.source_row) == ("read", "empty_text", 7)
    saved = json.loads((tmp_path / "run" / SUMMARY_FILE).read_text())
    assert saved["items_written"] == len(items) and saved["quarantined"] == {"read/empty_text": 1}
    assert saved["client"]["requests"] == fake_openai_server.chat_count
    assert {"p50", "p90", "p99"} <= set(saved["client"]["request_latency_s"])


def test_mine_failures_are_quarantined_with_their_reason(fake_openai_server, tmp_path, parts):
    failing = {
        "Stable cardiomegaly": status(500),
        "mild pulmonary edema": truncated(),
        "No focal consolidation": malformed("not json at all"),
        "Right lower lobe consolidation": schema_violation(),
    }
    transient_once = {"The lungs are clear": [status(429, retry_after=0), sleep(10)]}

    def rule(body):
        text = user_text(body)
        for needle, action in failing.items():
            if needle in text and schema_name(body) == "analysis":
                return action
        for needle, actions in transient_once.items():
            if needle in text and actions:
                return actions.pop(0)
        return None

    fake_openai_server.rule = rule
    summary = run(fake_openai_server, tmp_path / "run", parts, timeout=2.0)
    questions = expected_questions(parts)
    expected = sum(len(q) for q in questions.values())
    items = list(read_items(summary.shards_dir))
    records = read_quarantine(summary.quarantine_path)
    mined = [r for r in records if r.stage == "mine"]
    assert len(items) + len(mined) == expected == summary.items_planned
    assert summary.items_pending == 0
    reports = {r.report_id: r for r in read_reports(FIXTURE)}
    reason_by_report = {}
    for r in mined:
        rid = next(k for k, rep in reports.items() if rep.source_row == r.source_row)
        reason_by_report.setdefault(rid, set()).add(r.reason_code)
        assert r.record_id.startswith("c1:") and "analysis@v3" in r.detail  # image style by default
    assert reason_by_report == {"m2": {"http_5xx"}, "m4": {"truncated"}, "m5": {"malformed_json"},
                                "m6": {"schema_violation"}}
    assert all(r.payload == "not json at all" for r in mined if r.reason_code == "malformed_json")
    assert {i.report_id for i in items} == {"m1", "m3"}  # m3 survived a 429 and a timeout
    assert summary.metrics.retries["rate_limited"] == 1 and summary.metrics.retries["timeout"] >= 1
    assert summary.quarantined == {"mine/http_5xx": 2, "mine/truncated": 2, "mine/malformed_json": 2,
                                   "mine/schema_violation": 2, "read/empty_text": 1}


def test_mine_resume_does_not_duplicate_rows(fake_openai_server, tmp_path, parts):
    first = run(fake_openai_server, tmp_path / "run", parts)
    sent = fake_openai_server.chat_count
    again = run(fake_openai_server, tmp_path / "run", parts, resume=True)
    assert fake_openai_server.chat_count == sent  # nothing asked again
    ids = [i.item_id for i in read_items(again.shards_dir)]
    assert len(ids) == len(set(ids)) == first.items_written == again.items_written
    assert again.items_this_session == 0
    assert len(read_quarantine(again.quarantine_path)) == 1  # the reader's record is not repeated


class Crash(BaseException):
    """Stands for a process dying mid-run (not an Exception: nothing may catch it)."""


class CrashingValidator:
    def __init__(self, inner, after: int):
        self.inner, self.after, self.calls = inner, after, 0

    def __getattr__(self, name):  # rules_version and the rest come from the real validator
        return getattr(self.inner, name)

    def validate(self, *args, **kw):
        self.calls += 1
        if self.calls > self.after:
            raise Crash()
        return self.inner.validate(*args, **kw)


def test_mine_resume_rebuilds_uncommitted_items_from_cache(fake_openai_server, tmp_path, parts):
    extractor, validator = parts
    with pytest.raises(Crash):
        run(fake_openai_server, tmp_path / "run", (extractor, CrashingValidator(validator, 4)), concurrency=1)
    with Ledger(tmp_path / "run" / "ledger.sqlite") as led:
        counts = led.counts()
    assert counts["written"] == 0 and counts["answered"] >= 4  # answered, but the shard never committed
    before = list(fake_openai_server.requests)
    summary = run(fake_openai_server, tmp_path / "run", parts, resume=True)
    assert summary.rebuilt_from_cache >= 4
    after = fake_openai_server.requests[len(before):]
    answered_before = {json.dumps(b, sort_keys=True) for b in before}
    # at most the requests of the other chains in flight when the validator crashed (sent, never answered
    # to the job: CHAINS_PER_SLOT chains share the one slot) are sent again; every answered one is rebuilt
    again = [b for b in after if json.dumps(b, sort_keys=True) in answered_before]
    assert len(again) <= CHAINS_PER_SLOT - 1
    ids = [i.item_id for i in read_items(summary.shards_dir)]
    assert len(ids) == len(set(ids)) == sum(len(q) for q in expected_questions(parts).values())


@pytest.mark.parametrize(("option", "value", "flag"), [("temperature", 0.2, "--temperature"),
                                                       ("questions_per_report", 3, "--questions-per-report"),
                                                       ("tasks", ["binary"], "--tasks")])
def test_mine_resume_with_different_options_names_the_option(fake_openai_server, tmp_path, parts, option, value, flag):
    run(fake_openai_server, tmp_path / "run", parts, limit=2)
    with pytest.raises(InputError) as err:
        run(fake_openai_server, tmp_path / "run", parts, limit=2, resume=True, **{option: value})
    assert err.value.field == option
    assert flag in str(err.value) and JOB_FILE in str(err.value)


def test_mine_resume_with_an_edited_prompt_is_an_error(fake_openai_server, tmp_path, parts):
    prompts = tmp_path / "prompts"
    shutil.copytree(PACKAGED_PROMPTS, prompts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    run(fake_openai_server, tmp_path / "run", parts, limit=1, prompts_dir=prompts)
    path = prompts / "plan" / "v3.yaml"  # the image-style plan the job uses
    path.write_text(path.read_text() + "# edited\n")
    with pytest.raises(InputError, match="prompt files changed since the job started") as err:
        run(fake_openai_server, tmp_path / "run", parts, limit=1, prompts_dir=prompts, resume=True)
    assert err.value.field == "prompts"


def test_mine_resume_with_another_abstention_table_is_an_error(fake_openai_server, tmp_path, parts):
    """The abstention table decides labels like the step rules: a resumed job must keep it."""
    from radprm.validators.steps import StepValidator

    extractor, validator = parts
    assert validator.abstention is not None  # the packaged table
    run(fake_openai_server, tmp_path / "run", parts, limit=1)
    without = StepValidator(extractor=extractor, abstention="none")
    with pytest.raises(InputError, match=r"step rule files \(or the abstention table\) changed") as err:
        run(fake_openai_server, tmp_path / "run", (extractor, without), limit=1, resume=True)
    assert err.value.field == "step_rules_version"


def test_mine_abstention_beside_a_given_validator_is_an_error(fake_openai_server, tmp_path, parts):
    """As `validate_file`: a table given beside a ready validator would be silently ignored; refuse it."""
    with pytest.raises(InputError, match="give the abstention table to the StepValidator") as err:
        run(fake_openai_server, tmp_path / "run", parts, limit=1, abstention="none")
    assert err.value.field == "abstention"
    assert not (tmp_path / "run").exists()  # refused before the job folder is made


def test_mine_run_dir_rules(fake_openai_server, tmp_path, parts):
    with pytest.raises(InputError, match="nothing to resume"):
        run(fake_openai_server, tmp_path / "run", parts, limit=1, resume=True)
    run(fake_openai_server, tmp_path / "run", parts, limit=1)
    with pytest.raises(InputError, match="already holds a job") as err:
        run(fake_openai_server, tmp_path / "run", parts, limit=1)
    assert "--resume" in str(err.value)


def test_mine_all_requests_failing_stops_with_sample_reason(fake_openai_server, tmp_path, parts):
    fake_openai_server.rule = lambda body: status(503)
    with pytest.raises(ModelError, match="http_5xx") as err:
        run(fake_openai_server, tmp_path / "run", parts, max_retries=0)
    assert "plan@v3" in str(err.value) and "--resume" in str(err.value)
    with Ledger(tmp_path / "run" / "ledger.sqlite") as led:
        assert led.counts()["quarantined"] == 0  # nothing poisoned: a resume retries them
    # once the server is healthy again the job resumes and completes
    fake_openai_server.rule = None
    summary = run(fake_openai_server, tmp_path / "run", parts, max_retries=0, resume=True)
    assert summary.items_written == sum(len(q) for q in expected_questions(parts).values())


def test_mine_unreachable_server_fails_fast(tmp_path, parts):
    class Dead:
        base_url = "http://127.0.0.1:9/v1"

    with pytest.raises(ModelError, match="cannot reach the model server"):
        run(Dead, tmp_path / "run", parts, max_retries=0)
    assert not (tmp_path / "run").exists()  # no job state: the same command works once the server is up


def test_mine_model_not_served_names_served_models(fake_openai_server, tmp_path, parts):
    extractor, validator = parts
    with pytest.raises(ModelError, match="not served") as err:
        mine(FIXTURE, run_dir=tmp_path / "run", base_url=fake_openai_server.base_url, model="gpt-9",
             extractor=extractor, validator=validator)
    assert "smollm2" in str(err.value)


def test_prompt_change_reissues_only_requests_using_it(fake_openai_server, tmp_path, parts):
    prompts = tmp_path / "prompts"
    shutil.copytree(PACKAGED_PROMPTS, prompts, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    cache = tmp_path / "shared-cache.sqlite"
    first = run(fake_openai_server, tmp_path / "a", parts, prompts_dir=prompts, cache=cache)
    assert Counter(schema_name(b) for b in fake_openai_server.requests) == {
        "plan": first.items_written, "analysis": first.items_written, "refine": first.items_written}
    refine = prompts / "refine" / "v4.yaml"  # the image-style refine the job uses
    refine.write_text(refine.read_text().replace("drop redundant steps", "remove repeated steps"))
    fake_openai_server.reset()
    second = run(fake_openai_server, tmp_path / "b", parts, prompts_dir=prompts, cache=cache)
    assert Counter(schema_name(b) for b in fake_openai_server.requests) == {"refine": second.items_written}
    assert second.items_written == first.items_written
    old = {i.item_id for i in read_items(first.shards_dir)}
    new = list(read_items(second.shards_dir))
    assert not old & {i.item_id for i in new}  # the prompt sha is part of the chain id
    assert {p.name: p.sha for p in new[0].prompts}["refine"] == PromptRegistry(prompts).get("refine").sha
    with RequestCache(cache) as c:
        assert len(c) == 4 * first.items_written


def test_mine_staged_mode_tags_steps_with_stages(fake_openai_server, tmp_path, parts):
    stages = ["view", "findings", "diagnosis"]
    fake_openai_server.responder = lambda body: json.dumps({
        "steps": [{"stage": s, "text": f"The {s} step: the heart is enlarged."} for s in stages],
        "answer": [body["response_format"]["json_schema"]["schema"]["properties"]["answer"]["items"]["enum"][0]],
    })
    summary = run(fake_openai_server, tmp_path / "run", parts, mode="staged", limit=3)
    items = list(read_items(summary.shards_dir))
    assert items and fake_openai_server.chat_count == len(items)
    assert {schema_name(b) for b in fake_openai_server.requests} == {"staged"}
    for item in items:
        assert item.stage == "view>findings>diagnosis"
        assert [s.text.split(":")[0] for s in item.steps] == ["View", "Findings", "Diagnosis"]
        assert [p.name for p in item.prompts] == ["staged"] and item.plan is None


def test_mine_rollouts_sample_with_distinct_seeds(fake_openai_server, tmp_path, parts):
    summary = run(fake_openai_server, tmp_path / "run", parts, limit=2, rollouts=2, seed=10)
    items = list(read_items(summary.shards_dir))
    per_q = Counter((i.report_id, i.question) for i in items)
    assert set(per_q.values()) == {2}
    assert {i.rollout: i.seed for i in items} == {0: 10, 1: 11}
    assert {b["seed"] for b in fake_openai_server.requests} == {10, 11}


def test_mine_report_without_questions_is_quarantined(fake_openai_server, tmp_path, parts):
    summary = run(fake_openai_server, tmp_path / "run", parts, tasks=["temporal"])
    items = list(read_items(summary.shards_dir))
    assert {i.report_id for i in items} == {"m2"}  # the only report comparing with a prior
    assert all(i.task == "temporal" for i in items)
    no_q = [r for r in read_quarantine(summary.quarantine_path) if r.reason_code == "no_questions"]
    assert sorted(r.record_id for r in no_q) == ["m1", "m3", "m4", "m5", "m6"]
    assert all(r.stage == "questions" and r.payload.startswith("FINDINGS:") for r in no_q)


class PickyValidator:
    """Raises on chains of one report; validates the others."""

    def __init__(self, inner, report_id: str, exc: Exception):
        self.inner, self.report_id, self.exc = inner, report_id, exc

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def validate(self, chain, report, findings=None):
        if report.report_id == self.report_id:
            raise self.exc
        return self.inner.validate(chain, report, findings)


def test_mine_validator_bug_on_one_chain_is_quarantined(fake_openai_server, tmp_path, parts):
    extractor, validator = parts
    picky = PickyValidator(validator, "m3", ValueError("odd step text"))
    summary = run(fake_openai_server, tmp_path / "run", (extractor, picky))
    bad = [q for q in read_quarantine(summary.quarantine_path) if q.reason_code == "validator_error"]
    assert len(bad) == 2 and all("ValueError: odd step text" in q.detail for q in bad)
    assert summary.items_written + 2 == summary.items_planned
    assert "m3" not in {i.report_id for i in read_items(summary.shards_dir)}


def test_mine_rule_file_error_stops_the_job_without_quarantine(fake_openai_server, tmp_path, parts):
    from radprm.errors import RuleFileError

    extractor, validator = parts
    broken = PickyValidator(validator, "m1", RuleFileError("bad rule", path="step_rules.json", field="x"))
    with pytest.raises(RuleFileError, match="bad rule"):
        run(fake_openai_server, tmp_path / "run", (extractor, broken), concurrency=1)
    with Ledger(tmp_path / "run" / "ledger.sqlite") as led:
        assert led.counts()["quarantined"] == 0 and led.counts()["answered"] >= 1
    sent = fake_openai_server.chat_count
    summary = run(fake_openai_server, tmp_path / "run", parts, concurrency=1, resume=True)
    assert summary.rebuilt_from_cache >= 1 and fake_openai_server.chat_count > sent
    assert summary.items_written == summary.items_planned


def test_resolve_server_from_arguments_env_or_serve_state(tmp_path, monkeypatch):
    from radprm.miners.job import resolve_server

    monkeypatch.setenv("RADPRM_CACHE", str(tmp_path))
    monkeypatch.delenv("RADPRM_BASE_URL", raising=False)
    monkeypatch.delenv("RADPRM_MODEL", raising=False)
    with pytest.raises(ModelError, match="no model server given") as err:
        resolve_server(None, None)
    assert "make serve" in str(err.value)
    (tmp_path / "serve").mkdir()
    (tmp_path / "serve" / "server.json").write_text(json.dumps({"base_url": "http://h:1/v1", "model": "smollm2"}))
    assert resolve_server(None, None) == ("http://h:1/v1", "smollm2")
    monkeypatch.setenv("RADPRM_BASE_URL", "http://env:2/v1")
    assert resolve_server(None, "m") == ("http://env:2/v1", "m")
    assert resolve_server("http://arg:3/v1", None) == ("http://arg:3/v1", "smollm2")


def test_mine_stop_after_items_then_resume_writes_the_rest_once(fake_openai_server, tmp_path, parts):
    total = sum(len(q) for q in expected_questions(parts).values())
    assert total > 2
    first = run(fake_openai_server, tmp_path / "run", parts, stop_after_items=2, concurrency=4)
    assert first.items_written == first.items_this_session == 2
    assert len(list(read_items(first.shards_dir))) == 2
    rest = run(fake_openai_server, tmp_path / "run", parts, resume=True)  # operational: may differ on resume
    ids = [i.item_id for i in read_items(rest.shards_dir)]
    assert len(ids) == len(set(ids)) == rest.items_written == total
    assert rest.items_pending == 0


def test_mine_unknown_or_bad_option_names_it(fake_openai_server, tmp_path, parts):
    with pytest.raises(InputError, match="unknown mining option 'stop_after'") as err:
        run(fake_openai_server, tmp_path / "run", parts, stop_after=2)
    assert err.value.field == "stop_after"
    with pytest.raises(InputError) as err:
        run(fake_openai_server, tmp_path / "run", parts, stop_after_items=0)
    assert err.value.field == "stop_after_items" and "greater than or equal to 1" in str(err.value)
    assert not (tmp_path / "run").exists()  # option errors come before any job state

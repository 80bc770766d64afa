"""The optional LLM judge (`radprm.validators.judge`) against the fake OpenAI-compatible server: which steps
are asked, the provenance columns, caching, retries, failed answers, the fusion policies, rules-vs-judge
kappa, the connect check and the missing-server error (API and CLI alike)."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from fakes.openai_server import malformed, reply, status
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError, ModelError, RunError
from radprm.prompts.registry import load_prompt
from radprm.quarantine import read_quarantine
from radprm.review.agreement import cohen_kappa
from radprm.schemas.llm import JUDGE_REASONS, JudgeResponse
from radprm.schemas.records import StepResult
from radprm.tables import read_table
from radprm.validators import prm_reader
from radprm.validators.abstention import LOW_PRECISION
from radprm.validators.batch import CHAIN_SCHEMA, STEP_SCHEMA, validate_file
from radprm.validators.doubt import DOUBTED, SUSPECTED
from radprm.validators.judge import (
    JUDGE_FIELDS,
    POLICIES,
    SCOPES,
    JudgeAnswer,
    StepJudge,
    fuse,
    step_schema,
)
from radprm.validators.reasons import REASONS

FIXTURES = Path(__file__).resolve().parent / "fixtures"
CHAINS = FIXTURES / "chains_iu_small.jsonl"
runner = CliRunner()

# Real IU X-ray reports (uids 1, 153, 389), the ones chains_iu_small.jsonl refers to.
REPORTS = [
    ("1", "The cardiac silhouette and mediastinum size are within normal limits. There is no pulmonary edema. "
          "There is no focal consolidation. There are no XXXX of a pleural effusion. There is no evidence of "
          "pneumothorax.", "Normal chest x-XXXX."),
    ("153", "There is a right IJ central venous catheter with tip overlying the inferior SVC. Cardiac silhouette is "
            "normal size. Normal mediastinal contour and pulmonary vasculature. There is a small right pleural "
            "effusion. Otherwise, lungs are without focal airspace disease.", "XXXX XXXX right pleural effusion."),
    ("389", "Cardiac and mediastinal contours are unremarkable. Pulmonary vascularity is within normal limits. No "
            "focal air space opacities, pleural effusion, or pneumothorax. There is a stable calcified granuloma in "
            "the right lower lobe. A hiatal hernia is present that is unchanged from the prior study.",
     "1. Clear lungs. 2. Stable hiatal hernia."),
]


@pytest.fixture(autouse=True)
def no_ambient_server(tmp_path, monkeypatch):
    """Keep tests away from the user's `make serve` state, env defaults and ~/.cache judge cache."""
    monkeypatch.setenv("RADPRM_CACHE", str(tmp_path / "radprm-cache"))
    monkeypatch.delenv("RADPRM_BASE_URL", raising=False)
    monkeypatch.delenv("RADPRM_MODEL", raising=False)


@pytest.fixture
def reports_csv(tmp_path):
    import csv

    path = tmp_path / "reports.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["report_id", "findings", "impression"])
        w.writerows(REPORTS)
    return path


@pytest.fixture(scope="module")
def validator():
    from radprm.validators.steps import StepValidator

    return StepValidator()


@pytest.fixture
def rules(tmp_path, reports_csv, validator):
    """The rule decisions (no judge), by (chain_id, step_index)."""
    out = tmp_path / "rules.jsonl"
    validate_file(CHAINS, reports_csv, out, validator=validator)
    return {(r["chain_id"], r["step_index"]): r for r in read_table(out)}


def step_of(body: dict) -> str:
    return body["messages"][-1]["content"].split("Step to judge:\n", 1)[1].split("\n\n", 1)[0].strip()


def judge_with(labels: dict[str, str], default: str = "good"):
    """A fake-server rule answering judge requests: label by step text, a reason and a report quote."""

    def rule(body: dict):
        if body["response_format"]["json_schema"]["name"] != "judge":
            return None
        label = labels.get(step_of(body), default)
        reason = "none" if label == "good" else "laterality_conflict"
        return reply({"label": label, "reason": reason, "evidence": "There is a small right pleural effusion."})

    return rule


def run_judge(server, tmp_path, reports_csv, validator, name="steps.jsonl", **kw):
    out = tmp_path / name
    summary = validate_file(CHAINS, reports_csv, out, chains_out=tmp_path / f"chains-{name}", validator=validator,
                            base_url=server.base_url, model="smollm2", **{"judge": "undecided", **kw})
    rows = {(r["chain_id"], r["step_index"]): r for r in read_table(out)}
    return summary, rows


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


# --- schema and prompt ---------------------------------------------------------------------------------


def test_judge_reasons_are_the_validator_codes_plus_none():
    # every code but the validator's own abstention notes
    own = {LOW_PRECISION, SUSPECTED, DOUBTED, prm_reader.SUSPECTS, prm_reader.DOUBTS, prm_reader.SETTLED}
    assert set(JUDGE_REASONS) == (set(REASONS) - own) | {"none"}
    schema = JudgeResponse.model_json_schema()
    assert schema["properties"]["label"]["enum"] == ["good", "bad"]
    assert schema["properties"]["evidence"]["maxLength"] <= 200


def test_judge_prompt_renders_report_question_previous_steps_and_step():
    tpl = load_prompt("judge")
    assert tpl.response_model is JudgeResponse
    text = tpl.render(report="R.", question="Q?", previous="1. A.", step="B.")[-1]["content"]
    assert "R." in text and "Q?" in text and "1. A." in text and "B." in text
    assert "does not mention is normal" in text


# --- which steps, columns, provenance ----------------------------------------------------------------


def test_judge_undecided_asks_only_unsure_and_neutral_steps(fake_openai_server, tmp_path, reports_csv, validator,
                                                             rules):
    fake_openai_server.rule = judge_with({})
    summary, rows = run_judge(fake_openai_server, tmp_path, reports_csv, validator)
    undecided = {k for k, r in rules.items() if r["verdict"] in ("unsure", "neutral")}
    assert undecided, "the fixture should have glue steps"
    assert fake_openai_server.chat_count == len(undecided)
    sha = load_prompt("judge").sha
    for key, row in rows.items():
        assert list(row)[-len(JUDGE_FIELDS):] == [f.name for f in JUDGE_FIELDS]
        if key in undecided:
            assert row["judge_label"] == "good" and row["judge_reason"] == "none"
            assert row["judge_model"] == "smollm2" and row["judge_prompt_sha256"] == sha
            assert row["rules_label"] == rules[key]["label"] and row["rules_verdict"] == rules[key]["verdict"]
        else:
            assert row["judge_label"] is None and row["judge_model"] is None
            assert row["label"] == rules[key]["label"] and row["verdict"] == rules[key]["verdict"]
    assert summary.judge.asked == len(undecided) and summary.judge.answered == len(undecided)
    assert "judge: smollm2 at " + fake_openai_server.base_url in summary.render()


def test_judge_all_asks_every_step_and_reports_kappa(fake_openai_server, tmp_path, reports_csv, validator, rules):
    # the judge calls two steps bad: one the rules call bad too, one they call good
    bad_for_both = next(k for k, r in rules.items() if not r["label"] and r["verdict"] != "unsure")
    good_for_rules = next(k for k, r in rules.items() if r["label"])
    step_text = {k: r["step"] for k, r in rules.items()}
    fake_openai_server.rule = judge_with({step_text[bad_for_both]: "bad", step_text[good_for_rules]: "bad"})
    summary, rows = run_judge(fake_openai_server, tmp_path, reports_csv, validator, judge="all")
    assert fake_openai_server.chat_count == len(rules)
    assert all(r["judge_label"] in ("good", "bad") for r in rows.values())
    judge_bad = {k for k, r in rows.items() if r["judge_label"] == "bad"}
    assert judge_bad == {bad_for_both, good_for_rules}
    # kappa by hand over the steps the rules did not abstain on
    decided = {k: r for k, r in rules.items() if r["verdict"] != "unsure"}
    both_bad = sum(1 for k, r in decided.items() if not r["label"] and k in judge_bad)
    rb_jg = sum(1 for k, r in decided.items() if not r["label"] and k not in judge_bad)
    rg_jb = sum(1 for k, r in decided.items() if r["label"] and k in judge_bad)
    both_good = sum(1 for k, r in decided.items() if r["label"] and k not in judge_bad)
    ag = summary.judge.agreement
    assert (ag.both_bad, ag.rules_bad_judge_good, ag.rules_good_judge_bad, ag.both_good) == (
        both_bad, rb_jg, rg_jb, both_good)
    assert ag.kappa == pytest.approx(cohen_kappa(both_bad, rb_jg, rg_jb, both_good))
    assert ag.rules_unsure == len(rules) - len(decided)
    assert "agreement rules vs judge" in summary.render() and "kappa=" in summary.render()


def test_judge_step_table_parquet_keeps_step_columns_then_judge_columns(fake_openai_server, tmp_path, reports_csv,
                                                                        validator):
    import pyarrow.parquet as pq

    fake_openai_server.rule = judge_with({})
    run_judge(fake_openai_server, tmp_path, reports_csv, validator, name="steps.parquet")
    schema = pq.read_schema(tmp_path / "steps.parquet")
    assert schema.names == STEP_SCHEMA.names + [f.name for f in JUDGE_FIELDS]
    assert schema.metadata[b"radprm.schema"] == b"step_result"
    assert step_schema(STEP_SCHEMA).names == schema.names


# --- cache and retries -----------------------------------------------------------------------------------


def test_judge_second_run_makes_no_requests(fake_openai_server, tmp_path, reports_csv, validator):
    fake_openai_server.rule = judge_with({})
    _, first = run_judge(fake_openai_server, tmp_path, reports_csv, validator, name="a.jsonl", judge="all")
    sent = fake_openai_server.chat_count
    assert sent > 0
    summary, second = run_judge(fake_openai_server, tmp_path, reports_csv, validator, name="b.jsonl", judge="all")
    assert fake_openai_server.chat_count == sent
    assert second == first
    assert summary.judge.metrics.requests == 0 and summary.judge.metrics.cache_hits == sent


def test_judge_retries_server_errors(fake_openai_server, tmp_path, reports_csv, validator, rules):
    fake_openai_server.enqueue(status(500), status(503))
    summary, rows = run_judge(fake_openai_server, tmp_path, reports_csv, validator)
    undecided = [k for k, r in rules.items() if r["verdict"] in ("unsure", "neutral")]
    assert fake_openai_server.chat_count == len(undecided) + 2
    assert summary.judge.answered == len(undecided) and not summary.judge.failed
    assert summary.judge.metrics.retries["http_5xx"] == 2


# --- failed answers: the rule decision stays, the failure is quarantined ---------------------------------


def test_judge_malformed_json_keeps_rule_label_and_quarantines(fake_openai_server, tmp_path, reports_csv, validator,
                                                              rules):
    target = next(k for k, r in rules.items() if r["verdict"] in ("unsure", "neutral"))
    text = rules[target]["step"]

    def rule(body):
        return malformed('{"label": "go') if step_of(body) == text else judge_with({})(body)

    fake_openai_server.rule = rule
    summary, rows = run_judge(fake_openai_server, tmp_path, reports_csv, validator, judge_policy="judge-first")
    row = rows[target]
    assert row["judge_error"] == "malformed_json" and row["judge_label"] is None
    assert row["label"] == rules[target]["label"] and row["verdict"] == rules[target]["verdict"]
    q = [r for r in read_quarantine(tmp_path / "steps.jsonl.quarantine.jsonl") if r.stage == "judge"]
    assert [r.reason_code for r in q] == ["judge_malformed_json"]
    assert q[0].record_id == f"{target[0]}#{target[1]}" and q[0].payload == '{"label": "go'
    assert summary.judge.failed == {"malformed_json": 1}
    # --strict turns the failure into an error, after the tables are written
    fake_openai_server.reset()
    fake_openai_server.rule = rule
    with pytest.raises(RunError):
        run_judge(fake_openai_server, tmp_path, reports_csv, validator, name="strict.jsonl", strict=True,
                  judge_policy="judge-first")
    assert (tmp_path / "strict.jsonl").exists()


# --- fusion policies ---------------------------------------------------------------------------------------


def _step(label: bool, verdict: str) -> StepResult:
    score = {"supported": 1.0, "neutral": 0.6, "unsure": 0.5, "unsupported": 0.2, "contradicted": 0.0}[verdict]
    return StepResult(chain_id="c", step_index=0, step="s", label=label, verdict=verdict, reasons=[], score=score)


GOOD = JudgeAnswer(label="good", reason="none", evidence="")
BAD = JudgeAnswer(label="bad", reason="negation_conflict", evidence="")
FAILED = JudgeAnswer(error="malformed_json")

# (rule label, rule verdict, judge answer) -> {policy: (label, verdict)}
FUSION_CASES = [
    ((True, "supported", BAD), {"rules-first": (True, "supported"), "judge-first": (False, "contradicted"),
                                "both-must-agree": (False, "unsure")}),
    ((False, "contradicted", GOOD), {"rules-first": (False, "contradicted"), "judge-first": (True, "supported"),
                                     "both-must-agree": (False, "unsure")}),
    ((False, "contradicted", BAD), {"rules-first": (False, "contradicted"), "judge-first": (False, "contradicted"),
                                    "both-must-agree": (False, "contradicted")}),
    ((True, "neutral", BAD), {"rules-first": (False, "contradicted"), "judge-first": (False, "contradicted"),
                              "both-must-agree": (False, "unsure")}),
    ((True, "neutral", GOOD), {"rules-first": (True, "neutral"), "judge-first": (True, "neutral"),
                               "both-must-agree": (True, "neutral")}),
    ((False, "unsure", GOOD), {"rules-first": (True, "supported"), "judge-first": (True, "supported"),
                               "both-must-agree": (False, "unsure")}),
    ((False, "unsure", BAD), {"rules-first": (False, "contradicted"), "judge-first": (False, "contradicted"),
                              "both-must-agree": (False, "unsure")}),
    ((True, "supported", FAILED), {p: (True, "supported") for p in POLICIES}),
    ((False, "unsure", None), {p: (False, "unsure") for p in POLICIES}),
]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize(("case", "expected"), FUSION_CASES)
def test_judge_fusion_policy(policy, case, expected):
    label, verdict, answer = case
    fused = fuse(_step(label, verdict), answer, policy)
    assert (fused.label, fused.verdict) == expected[policy]
    assert fused.score == _step(fused.label, fused.verdict).score


def test_judge_fused_reasons_describe_the_fused_label():
    # a rule fault overruled by the judge is not left on a good step; a judge fault is added to a bad one
    rule = _step(False, "unsure").model_copy(update={"reasons": ["negation_conflict", "redundant"]})
    good = fuse(rule, GOOD, "rules-first")
    assert good.label and good.reasons == ["redundant"]
    bad = fuse(_step(True, "neutral").model_copy(update={"reasons": ["no_clinical_claim"]}), BAD, "judge-first")
    assert not bad.label and bad.reasons == ["no_clinical_claim", "negation_conflict"]


def test_judge_bad_without_fault_reason_is_unsupported():
    answer = JudgeAnswer(label="bad", reason="none", evidence="")
    assert fuse(_step(True, "supported"), answer, "judge-first").verdict == "unsupported"


def test_judge_first_changes_labels_and_first_bad_step(fake_openai_server, tmp_path, reports_csv, validator, rules):
    # judge-first with a judge that calls everything bad: every answered step is bad, chains start bad
    fake_openai_server.rule = judge_with({}, default="bad")
    summary, rows = run_judge(fake_openai_server, tmp_path, reports_csv, validator, judge="all",
                              judge_policy="judge-first")
    assert all(r["label"] is False for r in rows.values())
    assert all(r["rules_label"] == rules[k]["label"] for k, r in rows.items())
    chains = list(read_table(tmp_path / "chains-steps.jsonl", schema=CHAIN_SCHEMA))
    assert chains and all(c["first_bad_step"] == 0 for c in chains)
    assert summary.judge.good == 0


def test_judge_both_must_agree_marks_disagreements_unsure(fake_openai_server, tmp_path, reports_csv, validator,
                                                          rules):
    fake_openai_server.rule = judge_with({}, default="bad")
    _, rows = run_judge(fake_openai_server, tmp_path, reports_csv, validator, judge="all",
                        judge_policy="both-must-agree")
    for key, row in rows.items():
        if rules[key]["label"]:
            assert (row["label"], row["verdict"]) == (False, "unsure")
        else:
            assert (row["label"], row["verdict"]) == (False, rules[key]["verdict"])


# --- option errors, dead and missing servers (API and CLI) ---------------------------------------------


def test_judge_unknown_scope_and_policy_are_input_errors():
    with pytest.raises(InputError, match="judge scope"):
        StepJudge("some", base_url="http://127.0.0.1:9/v1", model="m")
    with pytest.raises(InputError, match="judge policy"):
        StepJudge("all", policy="vote", base_url="http://127.0.0.1:9/v1", model="m")
    assert SCOPES == ("undecided", "all")


def test_judge_policy_without_judge_is_an_error(tmp_path, reports_csv, validator):
    with pytest.raises(InputError, match="--judge-policy needs --judge"):
        validate_file(CHAINS, reports_csv, tmp_path / "s.jsonl", validator=validator, judge_policy="judge-first")


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def test_judge_down_server_fails_fast_naming_the_url(tmp_path, reports_csv, validator):
    url = _dead_url()
    t0 = time.perf_counter()
    with pytest.raises(ModelError) as err:
        validate_file(CHAINS, reports_csv, tmp_path / "s.jsonl", validator=validator, judge="all", base_url=url,
                      model="smollm2")
    assert time.perf_counter() - t0 < 10
    assert url in str(err.value) and "after 1 attempts" in str(err.value)
    assert not (tmp_path / "s.jsonl").exists()


def test_cli_judge_down_server_fails_fast_naming_the_url(tmp_path, reports_csv):
    url = _dead_url()
    result = invoke("validate", CHAINS, "--reports", reports_csv, "--out", tmp_path / "s.jsonl", "--judge", "all",
                    "--base-url", url, "--model", "smollm2")
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and url in errors[0]


def test_judge_without_base_url_says_pass_base_url_or_make_serve(tmp_path, reports_csv, validator):
    with pytest.raises(ModelError) as err:
        validate_file(CHAINS, reports_csv, tmp_path / "s.jsonl", validator=validator, judge="undecided")
    assert "--base-url" in str(err.value) and "make serve" in str(err.value)


def test_cli_judge_without_base_url_says_pass_base_url_or_make_serve(tmp_path, reports_csv):
    result = invoke("validate", CHAINS, "--reports", reports_csv, "--out", tmp_path / "s.jsonl", "--judge",
                    "undecided")
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and result.output.startswith("Error:")
    assert "--base-url" in result.output and "make serve" in result.output


def test_judge_uses_the_make_serve_server_when_no_base_url(fake_openai_server, tmp_path, reports_csv, validator,
                                                            monkeypatch):
    state = tmp_path / "radprm-cache" / "serve"
    state.mkdir(parents=True)
    (state / "server.json").write_text(json.dumps({"base_url": fake_openai_server.base_url, "model": "smollm2"}))
    fake_openai_server.rule = judge_with({})
    summary = validate_file(CHAINS, reports_csv, tmp_path / "s.jsonl", validator=validator, judge="undecided")
    assert summary.judge.base_url == fake_openai_server.base_url
    assert fake_openai_server.base_url in summary.render()


def test_cli_validate_judge_matches_api(fake_openai_server, tmp_path, reports_csv, validator):
    fake_openai_server.rule = judge_with({}, default="bad")
    result = invoke("validate", CHAINS, "--reports", reports_csv, "--out", tmp_path / "cli.jsonl", "--judge", "all",
                    "--judge-policy", "both-must-agree", "--base-url", fake_openai_server.base_url, "--model",
                    "smollm2", "--concurrency", "2")
    assert result.exit_code == 0, result.output
    assert "agreement rules vs judge" in result.output
    _, api_rows = run_judge(fake_openai_server, tmp_path, reports_csv, validator, name="api.jsonl", judge="all",
                            judge_policy="both-must-agree")
    cli_rows = {(r["chain_id"], r["step_index"]): r for r in read_table(tmp_path / "cli.jsonl")}
    assert cli_rows == api_rows


def test_judge_budget_is_announced_before_the_first_request(fake_openai_server, tmp_path, reports_csv, validator,
                                                            rules):
    from radprm.validators.judge import JUDGE_SAMPLING

    seen = []
    validate_file(CHAINS, reports_csv, tmp_path / "steps.jsonl", validator=validator, judge="all",
                  base_url=fake_openai_server.base_url, model="smollm2",
                  announce=lambda line: seen.append((line, fake_openai_server.chat_count)))
    assert len(seen) == 1 and seen[0][1] == 0  # printed before the judge's first request
    line = seen[0][0]
    steps = len(rules)  # judge "all": one request per step, as many as were asked
    assert fake_openai_server.chat_count == steps
    assert f"steps {steps}, scope all -> at most {steps} requests" in line
    assert f"at most {steps * JUDGE_SAMPLING.max_tokens} completion tokens" in line

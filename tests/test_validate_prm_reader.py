"""A trained PRM read as a second reader of the rules' step labels (`radprm validate --prm`).

The fusion is checked branch by branch on hand-made steps; the real run trains a tiny PRM with TRL in the
train venv (seconds) and checks that every written row is the rules' row fused with the PRM's own score, that
the chain table follows the fused labels, and that the CLI and the API fail the same way, before anything is
written, on a missing checkpoint or a bad policy. All reports and chains here are made up.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError
from radprm.schemas.records import StepResult
from radprm.tables import read_table
from radprm.validators.batch import validate_file
from radprm.validators.prm_reader import (
    DOUBTS,
    POLICY_FILE,
    SETTLED,
    SUSPECTS,
    PrmPolicy,
    fit_policy,
    fuse_prm,
)
from radprm.validators.scoring import first_bad_step
from radprm.validators.steps import VERDICT_SCORE

runner = CliRunner()
POLICY = PrmPolicy(flag_at=0.8, settle_bad_at=0.9, settle_good_at=0.1, keep_at=0.05, overrule_at=0.01)


def step(label: bool, verdict: str, reasons: list[str], score: float = 0.5) -> StepResult:
    return StepResult(chain_id="c", step_index=0, step="s", label=label, verdict=verdict, reasons=reasons, score=score)


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --- the fusion, branch by branch -------------------------------------------------------------------
@pytest.mark.parametrize(("before", "p_bad", "label", "verdict", "added", "dropped"), [
    # rules good, PRM confident it is bad: unsure, the PRM's lean
    (step(True, "supported", []), 0.85, False, "unsure", SUSPECTS, None),
    (step(True, "neutral", ["no_clinical_claim"]), 0.8, False, "unsure", SUSPECTS, None),
    # an unsure step settled bad takes the verdict of its fault code, or `unsupported` without one
    (step(False, "unsure", ["negation_conflict", "model_doubts_fault"]), 0.95, False, "contradicted", SETTLED, None),
    (step(False, "unsure", ["model_suspects_fault"]), 0.9, False, "unsupported", SETTLED, None),
    # an unsure step without a fault of the rules is settled good
    (step(False, "unsure", ["model_suspects_fault"]), 0.02, True, "supported", SETTLED, None),
    (step(False, "unsure", ["no_clinical_claim", "model_suspects_fault"]), 0.1, True, "neutral", SETTLED, None),
    # ... and one with a rules fault only under overrule_at (off by default), its fault codes dropped
    (step(False, "unsure", ["negation_conflict", "model_doubts_fault"]), 0.01, True, "supported", SETTLED,
     "negation_conflict"),
    # rules bad, PRM confident it is good: unsure
    (step(False, "contradicted", ["laterality_conflict"]), 0.01, False, "unsure", DOUBTS, None),
])
def test_fuse_prm_changes_a_step_only_where_the_prm_is_confident(before, p_bad, label, verdict, added, dropped):
    after = fuse_prm(before, p_bad, POLICY)
    assert (after.label, after.verdict) == (label, verdict)
    assert added in after.reasons and (dropped is None or dropped not in after.reasons)
    assert after.score == VERDICT_SCORE[verdict]


@pytest.mark.parametrize(("before", "p_bad"), [
    (step(True, "supported", []), 0.79),  # below flag_at
    (step(False, "unsure", ["model_doubts_fault"]), 0.5),  # between the settle thresholds
    (step(False, "unsure", ["negation_conflict", "model_doubts_fault"]), 0.05),  # a rules fault: overrule_at only
    (step(False, "contradicted", ["laterality_conflict"]), 0.05),  # keep_at is strict
    (step(False, "contradicted", ["laterality_conflict"]), 0.99),  # the PRM agrees
    (step(True, "supported", []), None),  # a step the token budget cut
])
def test_fuse_prm_leaves_the_step_as_it_was(before, p_bad):
    assert fuse_prm(before, p_bad, POLICY) is before


def test_policy_is_checked_and_read_from_the_checkpoint(tmp_path):
    assert PrmPolicy.for_checkpoint(tmp_path) == PrmPolicy()
    (tmp_path / POLICY_FILE).write_text(json.dumps({"flag_at": 0.7}))
    assert PrmPolicy.for_checkpoint(tmp_path).flag_at == 0.7
    (tmp_path / POLICY_FILE).write_text(json.dumps({"flag_at": 0.7, "flagat": 0.1}))
    with pytest.raises(InputError, match="unknown PRM policy key"):
        PrmPolicy.for_checkpoint(tmp_path)
    with pytest.raises(InputError, match="flag_at must be a number in"):
        PrmPolicy(flag_at=1.5)


# --- a real run: tiny PRM trained with TRL, then read by `radprm validate --prm` ---------------------
REPORTS = [
    {"report_id": "r1", "text": "FINDINGS: The lungs are clear. No pleural effusion. Heart size is normal."},
    {"report_id": "r2", "text": "FINDINGS: Small left pleural effusion. No pneumothorax. Mild cardiomegaly."},
]
CHAINS = [
    {"chain_id": "a", "report_id": "r1", "question": "Is there pleural effusion?", "options": ["yes", "no"],
     "steps": ["I'll check the pleura first.", "There is no pleural effusion.", "The heart is enlarged.",
               "Answer: no."]},
    {"chain_id": "b", "report_id": "r2", "question": "Is there pleural effusion?", "options": ["yes", "no"],
     "steps": ["There is a small right pleural effusion.", "No pneumothorax is seen.", "Answer: yes."]},
    {"chain_id": "c", "report_id": "r2", "question": "Is the heart enlarged?", "options": ["yes", "no"],
     "steps": ["The heart is mildly enlarged.", "Answer: yes."]},
]


@pytest.fixture(scope="module")
def tiny_prm(tmp_path_factory, train_py):
    tmp = tmp_path_factory.mktemp("prm")
    rows = [{"prompt": f"Report:\nFINDINGS: {'No' if i % 2 else 'Small'} pleural effusion.\n\nQuestion: Effusion?",
             "completions": ["Look at the pleura.", "There is a pleural effusion." if i % 3 else "No effusion."],
             "labels": [True, i % 2 == 0], "item_id": f"t{i}"} for i in range(16)]
    data = write_jsonl(tmp / "train.jsonl", rows)
    ckpt = tmp / "ckpt"
    result = runner.invoke(app, ["train", "prm", str(data), "--out", str(ckpt), "--steps", "4", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    return ckpt


def made_up(tmp_path):
    return write_jsonl(tmp_path / "chains.jsonl", CHAINS), write_jsonl(tmp_path / "reports.jsonl", REPORTS)


@pytest.mark.parametrize("policy", [
    {"flag_at": 0.0, "settle_bad_at": 1.0, "settle_good_at": 0.0, "keep_at": 0.0},  # every good step flagged
    {"flag_at": 1.0, "settle_bad_at": 0.0, "settle_good_at": 0.0, "keep_at": 1.0},  # every decided bad doubted
])
def test_validate_with_prm_writes_the_rules_rows_fused_with_the_prm_scores(tmp_path, tiny_prm, policy):
    chains, reports = made_up(tmp_path)
    base = tmp_path / "base.parquet"
    validate_file(chains, reports, base, id_col="report_id", text_col="text")
    (tiny_prm / POLICY_FILE).write_text(json.dumps(policy))
    out, chains_out = tmp_path / "prm.parquet", tmp_path / "prm_chains.parquet"
    result = runner.invoke(app, ["validate", str(chains), "--reports", str(reports), "--out", str(out),
                                 "--chains-out", str(chains_out), "--prm", str(tiny_prm),
                                 "--id-col", "report_id", "--text-col", "text"])
    assert result.exit_code == 0, result.output
    assert "PRM reader" in result.output and "9/9 steps scored" in result.output
    rules = {(r["chain_id"], r["step_index"]): r for r in read_table(base)}
    fused = list(read_table(out))
    assert len(fused) == len(rules) == 9
    changed = 0
    for row in fused:
        assert 0.0 <= row["prm_p_bad"] <= 1.0
        before = StepResult.model_validate({k: v for k, v in rules[(row["chain_id"], row["step_index"])].items()})
        expect = fuse_prm(before, row["prm_p_bad"], PrmPolicy(**policy))
        assert (row["label"], row["verdict"], list(row["reasons"])) == (expect.label, expect.verdict, expect.reasons)
        changed += expect is not before
    assert changed > 0  # each policy changes some of the rules' rows
    bad = sum(not row["label"] for row in fused)  # the summary counts the written (fused) rows
    assert f"labels: good={len(fused) - bad} bad={bad}" in result.output
    by_chain = {}
    for row in fused:
        by_chain.setdefault(row["chain_id"], []).append(StepResult.model_validate(
            {k: v for k, v in row.items() if k != "prm_p_bad"}))
    for chain in read_table(chains_out):
        assert chain["first_bad_step"] == first_bad_step(by_chain[chain["chain_id"]])


def test_a_missing_checkpoint_or_bad_policy_fails_before_anything_is_written(tmp_path):
    chains, reports = made_up(tmp_path)
    out = tmp_path / "steps.parquet"
    args = ["validate", str(chains), "--reports", str(reports), "--out", str(out), "--id-col", "report_id",
            "--text-col", "text", "--prm"]
    result = runner.invoke(app, [*args, str(tmp_path / "nope")])
    assert result.exit_code == 1 and "PRM checkpoint not found" in result.output and not out.exists()
    with pytest.raises(InputError, match="PRM checkpoint not found"):
        validate_file(chains, reports, out, prm=tmp_path / "nope", id_col="report_id", text_col="text")
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"architectures": ["LlamaForTokenClassification"], "num_labels": 2}))
    (ckpt / POLICY_FILE).write_text(json.dumps({"flag": 0.5}))
    result = runner.invoke(app, [*args, str(ckpt)])
    assert result.exit_code == 1 and "unknown PRM policy key(s): flag" in result.output and not out.exists()
    (ckpt / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"]}))
    result = runner.invoke(app, [*args, str(ckpt)])
    assert result.exit_code == 1 and "not a token-classification model" in result.output and not out.exists()


# --- choosing the policy on dev sets (`radprm eval prm-policy`) -------------------------------------
def dev_set(tmp_path):
    """Rules rows and PRM scores of a made-up dev set: the PRM is sure of the two bad steps the rules missed."""
    rows, scores = [], []
    cases = [  # (rules label, verdict, reasons, truly bad, P(bad))
        *[(True, "supported", [], False, 0.1)] * 8,
        (True, "supported", [], True, 0.95), (True, "neutral", ["no_clinical_claim"], True, 0.92),
        (False, "contradicted", ["negation_conflict"], True, 0.9),
        (False, "unsure", ["model_doubts_fault"], False, 0.5),
    ]
    for i, (label, verdict, reasons, bad, p_bad) in enumerate(cases):
        rows.append({"chain_id": "d", "step_index": i, "step": f"s{i}", "label": label, "verdict": verdict,
                     "reasons": reasons, "evidence": [], "score": 0.5})
        scores.append({"chain_id": "d", "step_index": i, "p_good": 1.0 - p_bad, "gold": not bad})
    return write_jsonl(tmp_path / "pred.jsonl", rows), write_jsonl(tmp_path / "scores.jsonl", scores)


def test_prm_policy_takes_the_most_recall_within_the_constraints_and_writes_a_policy_file(tmp_path):
    pred, scores = dev_set(tmp_path)
    out = tmp_path / "ckpt" / POLICY_FILE
    out.parent.mkdir()
    result = runner.invoke(app, ["eval", "prm-policy", "--pred", str(pred), "--scores", str(scores), "--out", str(out),
                                 "--min-coverage", "0.5", "--json"])
    assert result.exit_code == 0, result.output
    fit = json.loads(result.output)
    assert fit["base"]["hits"] == 1 and fit["chosen"]["hits"] == 3  # both missed bad steps caught
    assert fit["chosen"]["false_flag_steps"] == 1  # only the unsure good step, as before
    assert 0.1 < fit["policy"]["flag_at"] <= 0.92
    policy = PrmPolicy.for_checkpoint(out.parent)  # the provenance key is not a threshold
    assert policy.flag_at == fit["policy"]["flag_at"] and "fitted" in json.loads(out.read_text())


def test_prm_policy_changes_nothing_when_no_candidate_meets_the_constraints(tmp_path):
    pred, scores = dev_set(tmp_path)
    fit = fit_policy([(pred, scores)], min_coverage=1.0)  # the P(bad) 0.5 unsure step is never settled
    assert fit.feasible == 0 and fit.chosen == fit.base
    result = runner.invoke(app, ["eval", "prm-policy", "--pred", str(pred), "--scores", str(scores),
                                 "--pred", str(pred)])
    assert result.exit_code == 1 and "give them in pairs" in result.output


def test_prm_policy_tries_overruling_rules_faults_only_when_allowed(tmp_path):
    pred, scores = dev_set(tmp_path)
    rows = [json.loads(line) for line in scores.read_text().splitlines()]
    rows[-1]["p_good"] = 0.99  # the unsure good step the rules found a fault in: the PRM is sure it is good
    preds = [json.loads(line) for line in pred.read_text().splitlines()]
    preds[-1]["reasons"] = ["negation_conflict", "model_doubts_fault"]
    write_jsonl(pred, preds)
    write_jsonl(scores, rows)
    safe = fit_policy([(pred, scores)], min_coverage=0.5)
    assert safe.policy.overrule_at == 0.0 and safe.chosen["false_flag_steps"] == 1
    bold = fit_policy([(pred, scores)], min_coverage=0.5, allow_overrule=True)
    assert bold.policy.overrule_at > 0.0 and bold.chosen["false_flag_steps"] == 0
    assert bold.chosen["hits"] == safe.chosen["hits"] == 3


def test_prm_reader_then_judge_keeps_both_stages_columns(tmp_path, tiny_prm, fake_openai_server):
    from fakes.openai_server import reply

    def judge_good(body):
        if body["response_format"]["json_schema"]["name"] != "judge":
            return None
        return reply({"label": "good", "reason": "none", "evidence": "The lungs are clear."})

    fake_openai_server.rule = judge_good
    (tiny_prm / POLICY_FILE).write_text(json.dumps({"flag_at": 0.0}))  # every rules-good step: unsure
    chains, reports = made_up(tmp_path)
    out = tmp_path / "steps.parquet"
    summary = validate_file(chains, reports, out, prm=tiny_prm, judge="undecided", base_url=fake_openai_server.base_url,
                            model="smollm2", id_col="report_id", text_col="text")
    rows = list(read_table(out))
    assert len(rows) == 9 and all(0.0 <= r["prm_p_bad"] <= 1.0 for r in rows)
    # the judge saw the PRM's fused labels: every step the PRM made unsure was asked, and the judge said good
    asked = [r for r in rows if r["judge_label"] is not None]
    assert all(r["label"] for r in asked) and 0 < summary.prm.changed["suspects"] <= len(asked)


def test_prm_policy_bad_input_is_a_one_line_error(tmp_path):
    pred, scores = dev_set(tmp_path)
    with pytest.raises(InputError, match="file not found"):
        fit_policy([(pred, tmp_path / "missing.jsonl")])
    not_scores = write_jsonl(tmp_path / "not_scores.jsonl", [{"chain_id": "d", "step_index": 0, "p_good": 0.5}])
    with pytest.raises(InputError, match="not a `radprm eval prm --scores-out` row"):
        fit_policy([(pred, not_scores)])
    other = write_jsonl(tmp_path / "other.jsonl", [{"chain_id": "x", "step_index": 0, "p_good": 0.5, "gold": True}])
    with pytest.raises(InputError, match="no scored step with gold has a rules row"):
        fit_policy([(pred, other)])
    result = runner.invoke(app, ["eval", "prm-policy", "--pred", str(scores), "--scores", str(scores)])
    assert result.exit_code == 1 and "not a `radprm validate` step row" in result.output

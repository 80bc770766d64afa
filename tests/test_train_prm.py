"""PRM training and evaluation: metrics (AUROC, first-error F1), label tables, checkpoint checks, and a real
TRL PRMTrainer run (tiny model from scratch, a few steps, in the train venv) scored by `radprm eval prm`.

The real-run tests need the train venv (`bash training/build_env.sh`); they skip without it, except under
RADPRM_REQUIRE_TRAIN=1 (CI), where they fail. All reports and chains here are made up.
"""

from __future__ import annotations

import itertools
import json
import os
import random

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError
from radprm.evaluation.prm import ChainScores, auroc, score_chains
from radprm.training import api
from radprm.training.api import check_checkpoint, step_labels, trl_from_chains

runner = CliRunner()


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# --- metrics ---------------------------------------------------------------------------------------
def brute_auroc(scores, pos):
    pairs = [(p, n) for p, n in itertools.product(
        [s for s, y in zip(scores, pos, strict=True) if y], [s for s, y in zip(scores, pos, strict=True) if not y])]
    return sum(1.0 if p > n else 0.5 if p == n else 0.0 for p, n in pairs) / len(pairs)


def test_auroc_matches_pairwise_definition_with_ties():
    rng = random.Random(3)
    for _ in range(20):
        n = rng.randint(2, 30)
        scores = [rng.choice([0.1, 0.2, 0.5, 0.7, 0.9]) for _ in range(n)]
        pos = [rng.random() < 0.4 for _ in range(n)]
        if all(pos) or not any(pos):
            assert auroc(scores, pos) is None
            continue
        assert auroc(scores, pos) == pytest.approx(brute_auroc(scores, pos))
    assert auroc([0.9, 0.8, 0.1], [True, True, False]) == 1.0
    assert auroc([0.1, 0.8, 0.9], [True, False, False]) == 0.0


def test_first_error_f1_processbench_rules():
    chains = [
        ChainScores("err-found", [0.9, 0.2, 0.1], [True, False, False]),     # first error at 1, PRM says 1
        ChainScores("err-early", [0.3, 0.9, 0.1], [True, True, False]),      # gold 2, PRM flags 0: miss
        ChainScores("ok-clean", [0.9, 0.8], [True, True]),                   # error-free, PRM agrees
        ChainScores("ok-flagged", [0.9, 0.4], [True, True]),                 # error-free, PRM flags 1: miss
        ChainScores("undefined", [0.9, 0.9, 0.1], [None, True, False]),      # unscored step before first error
    ]
    r = score_chains(chains, threshold=0.5)
    fe = r.first_error
    assert (fe["n_error"], fe["acc_error"], fe["n_correct"], fe["acc_correct"], fe["undefined"]) == (2, 0.5, 2, 0.5, 1)
    assert fe["f1"] == pytest.approx(0.5)
    assert r.steps_without_gold == 1 and r.steps == 12
    # step accuracy: flagged = s < 0.5 ; correct when flagged == bad
    flat = [(s, g) for c in chains for s, g in zip(c.scores, c.gold, strict=True) if g is not None]
    assert r.accuracy == pytest.approx(sum((s < 0.5) == (not g) for s, g in flat) / len(flat))
    assert 0.0 <= r.auroc <= 1.0
    assert "first-error F1" in r.render() and r.as_dict()["first_error"]["f1"] == 0.5


def test_loss_start_and_end_never_overlap():
    def summary(losses):
        return api.TrainSummary(data="d", checkpoint="c", model="tiny", steps=len(losses),
                                losses=[{"step": i, "loss": v} for i, v in enumerate(losses)])

    assert (summary([1.3, 0.8, 0.9]).loss_start, summary([1.3, 0.8, 0.9]).loss_end) == (1.3, 0.9)
    s = summary([4, 3, 2, 1, 1, 1, 0.5])
    assert (s.loss_start, s.loss_end) == (3.0, pytest.approx(2.5 / 3))
    assert summary([]).loss_start is None and "n/a" in summary([]).render()


# --- label tables ----------------------------------------------------------------------------------
def test_step_labels_reads_natural_templated_and_validate_tables(tmp_path):
    nat = write_jsonl(tmp_path / "nat.jsonl", [
        {"chain_id": "a", "step_index": 0, "good": True, "kind": "plan", "scored": True, "split": "test"},
        {"chain_id": "a", "step_index": 1, "good": False, "kind": "negation", "scored": False, "split": "test"},
        {"chain_id": "b", "step_index": 0, "good": False, "kind": "negation", "scored": True, "split": "tune"},
    ])
    assert step_labels(nat) == {("a", 0): True, ("a", 1): None, ("b", 0): False}
    assert step_labels(nat, split="tune") == {("b", 0): False}
    tmpl = write_jsonl(tmp_path / "t.jsonl", [{"chain_id": "c", "step_index": 0, "expected_label": False}])
    assert step_labels(tmpl) == {("c", 0): False}
    with pytest.raises(InputError, match="needs a natural set"):
        step_labels(tmpl, split="test")
    val = write_jsonl(tmp_path / "v.jsonl", [
        {"chain_id": "d", "step_index": 0, "label": True, "verdict": "unsure"},
        {"chain_id": "d", "step_index": 1, "label": False, "verdict": "contradicted"}])
    assert step_labels(val) == {("d", 0): None, ("d", 1): False}
    bad = write_jsonl(tmp_path / "x.jsonl", [{"chain_id": "e", "step_index": 0, "foo": 1}])
    with pytest.raises(InputError, match="no step label column"):
        step_labels(bad)


REPORTS = [
    ("r1", "The lungs are clear. No pleural effusion. Heart size is normal."),
    ("r2", "Small left pleural effusion. No pneumothorax. Mild cardiomegaly."),
    ("r3", "Right lower lobe opacity concerning for pneumonia. No effusion."),
    ("r4", "No acute cardiopulmonary abnormality. Degenerative changes of the spine."),
]


def made_up_reports(tmp_path):
    return write_jsonl(tmp_path / "reports.jsonl", [{"report_id": i, "text": t} for i, t in REPORTS])


def test_trl_from_chains_builds_export_prompts_masks_and_excludes(tmp_path):
    reports = made_up_reports(tmp_path)
    chains = write_jsonl(tmp_path / "chains.jsonl", [
        {"chain_id": "c1", "report_id": "r1", "question": "Is there a pleural effusion?", "options": ["yes", "no"],
         "steps": ["Look at the pleura.", "There is no pleural effusion.", "Answer: no."]},
        {"chain_id": "c2", "report_id": "r2", "question": "Is there cardiomegaly?", "options": ["yes", "no"],
         "steps": ["The heart is normal.", "Answer: no."]},
        {"chain_id": "c3", "report_id": "r3", "question": "Pneumonia?", "steps": ["Opacity on the right."]},
    ])
    labels = write_jsonl(tmp_path / "exp.jsonl", [
        {"chain_id": "c1", "step_index": 0, "good": True, "kind": "plan", "scored": False, "split": "tune"},
        {"chain_id": "c1", "step_index": 1, "good": False, "kind": "negation", "scored": True, "split": "tune"},
        {"chain_id": "c2", "step_index": 0, "good": False, "kind": "severity", "scored": True, "split": "tune"},
        {"chain_id": "c3", "step_index": 0, "good": True, "kind": "restate", "scored": True, "split": "tune"},
    ])
    out = tmp_path / "trl.jsonl"
    counts = trl_from_chains(chains, labels, out, reports=reports, id_col="report_id", text_col="text",
                             exclude_reports=["r3"])
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert counts["chains"] == 2 and counts["skipped_excluded_report"] == 1 and counts["masked"] == 1
    assert rows[0]["completions"] == ["Look at the pleura.", "There is no pleural effusion."]  # cut after last label
    assert rows[0]["labels"] == [None, False]
    assert rows[0]["prompt"].startswith("Report:\n") and "No pleural effusion" in rows[0]["prompt"]
    assert rows[0]["prompt"].endswith("Question: Is there a pleural effusion?\nOptions: yes, no")
    assert rows[1]["labels"] == [False]


# --- checkpoint checks (no torch needed) -------------------------------------------------------------
def test_checkpoint_that_is_not_a_token_classifier_is_a_one_line_error(tmp_path):
    ckpt = tmp_path / "causal"
    ckpt.mkdir()
    (ckpt / "config.json").write_text(json.dumps({"architectures": ["LlamaForCausalLM"], "model_type": "llama"}))
    with pytest.raises(InputError, match="not a token-classification model"):
        check_checkpoint(ckpt)
    chains = write_jsonl(tmp_path / "steps.jsonl", [{"prompt": "Q", "completions": ["a"], "labels": [True]}])
    scores = tmp_path / "scores.jsonl"
    result = runner.invoke(app, ["eval", "prm", str(ckpt), str(chains), "--scores-out", str(scores)])
    assert result.exit_code == 1
    err = result.output.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("Error: ") and "not a token-classification model" in err[0]
    assert not scores.exists()  # nothing written
    (ckpt / "config.json").write_text(json.dumps({"architectures": ["BertForTokenClassification"],
                                                  "id2label": {"0": "a", "1": "b", "2": "c"}}))
    with pytest.raises(InputError, match="3 labels"):
        check_checkpoint(ckpt)
    with pytest.raises(InputError, match="no config.json"):
        check_checkpoint(tmp_path)


def test_train_prm_bad_input_is_one_line_error_and_writes_nothing(tmp_path):
    out = tmp_path / "ckpt"
    result = runner.invoke(app, ["train", "prm", str(tmp_path / "missing.jsonl"), "--out", str(out)])
    assert result.exit_code == 1 and "file not found" in result.output and not out.exists()
    data = write_jsonl(tmp_path / "d.jsonl", [{"prompt": "Q", "completions": ["a"], "labels": [True]}])
    result = runner.invoke(app, ["train", "prm", str(data), "--out", str(out), "--model", str(tmp_path / "nope")])
    assert result.exit_code == 1 and "model folder not found" in result.output and not out.exists()
    result = runner.invoke(app, ["train", "prm", str(data), "--out", str(out), "--python", str(tmp_path / "py")])
    assert result.exit_code == 1 and "train Python not found" in result.output and not out.exists()


# --- the real thing: TRL PRMTrainer on CPU --------------------------------------------------------
def synthetic_trl(n: int, seed: int) -> list[dict]:
    """Made-up chains whose bad steps contradict the report (a pattern a tiny model can pick up)."""
    rng = random.Random(seed)
    findings = ["pleural effusion", "pneumothorax", "cardiomegaly", "consolidation", "edema", "atelectasis"]
    rows = []
    for i in range(n):
        f = rng.choice(findings)
        present = rng.random() < 0.5
        report = f"Findings: {'There is ' + f if present else 'No ' + f}. The lungs are otherwise clear."
        steps, labels = [f"Check the report for {f}."], [True]
        wrong = rng.random() < 0.5
        says_present = present != wrong
        steps.append(f"The report shows {f}." if says_present else f"The report shows no {f}.")
        labels.append(not wrong)
        steps.append("Answer: yes." if says_present else "Answer: no.")
        labels.append(not wrong)
        rows.append({"prompt": f"Report:\n{report}\n\nQuestion: Is there {f}?\nOptions: yes, no",
                     "completions": steps, "labels": labels, "item_id": f"s{seed}-{i}"})
    return rows


def test_train_tiny_prm_with_trl_then_eval_prints_auroc(tmp_path, train_py):
    data = write_jsonl(tmp_path / "train.jsonl", synthetic_trl(48, seed=1))
    ckpt = tmp_path / "prm"
    result = runner.invoke(app, ["train", "prm", str(data), "--out", str(ckpt), "--steps", "40", "--batch-size", "8",
                                 "--logging-steps", "5", "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output[result.output.index("{"):])
    assert len(summary["losses"]) >= 4
    assert summary["loss_end"] < summary["loss_start"]  # the loss decreases
    assert summary["step_labels"]["bad"] > 0 and summary["versions"]["trl"].startswith("1.1")
    cfg = json.loads((ckpt / "config.json").read_text())
    assert cfg["architectures"] == ["LlamaForTokenClassification"]
    assert (ckpt / "tokenizer.json").is_file() and (ckpt / api.TRAIN_META).is_file()
    assert not list(tmp_path.glob(".prm.*"))  # no temp folder left behind

    held_out = write_jsonl(tmp_path / "test.jsonl", synthetic_trl(24, seed=2))
    scores = tmp_path / "scores.jsonl"
    result = runner.invoke(app, ["eval", "prm", str(ckpt), str(held_out), "--scores-out", str(scores), "--json"])
    assert result.exit_code == 0, result.output
    r = json.loads(result.output[result.output.index("{"):])
    print(f"tiny PRM on held-out made-up chains: AUROC {r['auroc']}, first-error F1 {r['first_error']['f1']}")
    assert r["steps"] == 72 and r["steps_without_score"] == 0
    assert r["auroc"] is not None and r["auroc"] > 0.5  # better than chance on held-out made-up chains
    assert set(r["first_error"]) >= {"f1", "acc_error", "acc_correct", "undefined"}
    rows = [json.loads(line) for line in scores.read_text().splitlines()]
    assert len(rows) == 72 and all(0.0 <= row["p_good"] <= 1.0 for row in rows)

    # a CHAINS file + natural gold, scored on one split only
    reports = made_up_reports(tmp_path)
    chains = write_jsonl(tmp_path / "chains.jsonl", [
        {"chain_id": "n1", "report_id": "r1", "question": "Is there pleural effusion?", "options": ["yes", "no"],
         "steps": ["Check the report for pleural effusion.", "The report shows pleural effusion.", "Answer: yes."]},
        {"chain_id": "n2", "report_id": "r2", "question": "Is there pleural effusion?", "options": ["yes", "no"],
         "steps": ["The report shows pleural effusion.", "Answer: yes."]},
    ])
    gold = write_jsonl(tmp_path / "gold.jsonl", [
        {"chain_id": "n1", "step_index": i, "good": g, "kind": "x", "scored": True, "split": "test"}
        for i, g in enumerate([True, False, False])] + [
        {"chain_id": "n2", "step_index": i, "good": True, "kind": "x", "scored": True, "split": "tune"}
        for i in range(2)])
    result = runner.invoke(app, ["eval", "prm", str(ckpt), str(chains), "--gold", str(gold), "--reports", str(reports),
                                 "--split", "test", "--id-col", "report_id", "--text-col", "text"])
    assert result.exit_code == 0, result.output
    print(result.output)
    assert "AUROC (bad)" in result.output and "first-error F1" in result.output
    assert "3 (2 bad) in 1 chains" in result.output  # only the test-split chain is scored



def test_a_worker_whose_parent_is_killed_stops(tmp_path, train_py):
    """kill -9 of the radprm process must not leave its torch worker training for no one."""
    import signal
    import subprocess
    import time

    data = write_jsonl(tmp_path / "train.jsonl", synthetic_trl(48, seed=3))
    cfg = write_jsonl(tmp_path / "cfg.json", [{
        "data": str(data), "out": str(tmp_path / "ckpt"), "model": "tiny", "steps": 100000, "batch_size": 8,
        "learning_rate": 1e-3, "max_length": 256, "step_separator": "\n", "seed": 0, "logging_steps": 10,
        "freeze_layers": 0, "threads": 1}])
    pid_file = tmp_path / "worker.pid"
    # the parent: a shell that starts the worker, records its pid and waits, as radprm does
    parent = subprocess.Popen(["bash", "-c", f'"{train_py}" "{api.WORKER}" train "{cfg}" 2>"{tmp_path}/err" & '
                                             f'echo $! > "{pid_file}"; wait'])
    err, deadline = tmp_path / "err", time.monotonic() + 120
    while not (err.exists() and "train: step" in err.read_text()):
        assert time.monotonic() < deadline, "the worker never started training"
        time.sleep(0.5)
    worker = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.kill(worker, 0)
        except ProcessLookupError:
            break
        if open(f"/proc/{worker}/stat").read().split()[2] == "Z":  # exited, not yet reaped
            break
        time.sleep(0.5)
    else:
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the orphaned worker kept running for 30 s")

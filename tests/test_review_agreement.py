"""Agreement math on hand-computed examples."""

from __future__ import annotations

import pytest

from radprm.review import Confusion, cohen_kappa, compute_agreement, latest_decisions


def row(
    item, step, decision, validator_good, reasons=(), reviewer="ana", at="2026-11-23T18:00:00.000Z", kind="flagged"
):
    return {"item_id": item, "step_index": step, "decision": decision, "validator_label": validator_good,
            "validator_reasons": list(reasons), "reviewer": reviewer, "reviewed_at": at, "kind": kind}


def test_cohen_kappa_hand_computed():
    # n=50: p_o = (20+15)/50 = 0.7; validator bad 25/50, human bad 30/50
    # p_e = (25*30 + 25*20) / 2500 = 0.5; kappa = (0.7-0.5)/(1-0.5) = 0.4
    assert cohen_kappa(20, 5, 10, 15) == pytest.approx(0.4)


def test_cohen_kappa_perfect_chance_and_undefined():
    assert cohen_kappa(10, 0, 0, 10) == pytest.approx(1.0)
    # agreement exactly at chance: p_o = 0.5, p_e = 0.5
    assert cohen_kappa(5, 5, 5, 5) == pytest.approx(0.0)
    assert cohen_kappa(0, 0, 0, 0) is None
    assert cohen_kappa(0, 0, 0, 7) is None  # both raters always "good": p_e = 1


def test_confusion_accuracy_and_unsure_left_out():
    c = Confusion()
    for good, decision in [
        (False, "bad"),
        (False, "good"),
        (True, "good"),
        (True, "bad"),
        (True, "good"),
        (True, "unsure"),
    ]:
        c.add(good, decision)
    assert (c.both_bad, c.validator_bad_human_good, c.validator_good_human_bad, c.both_good, c.unsure) == (
        1,
        1,
        1,
        2,
        1,
    )
    assert c.n == 5 and c.disagreements == 2 and c.accuracy == pytest.approx(0.6)
    # p_o = 0.6; v_bad = 2, h_bad = 2; p_e = (2*2 + 3*3)/25 = 0.52; kappa = 0.08/0.48
    assert c.kappa == pytest.approx(0.08 / 0.48)


def test_compute_agreement_per_reason_kind_reviewer():
    rows = [
        row("A", 0, "bad", False, ["negation_conflict"]),
        row("A", 1, "good", False, ["negation_conflict", "laterality_mismatch"]),
        row("A", 2, "good", True),
        row("B", 0, "bad", True, kind="calibration", reviewer="bob"),
        row("B", 1, "unsure", True, kind="calibration", reviewer="bob"),
    ]
    agr = compute_agreement(rows)
    assert agr.overall.as_dict() | {"kappa": None} == {
        "n": 4, "accuracy": 0.5, "kappa": None, "both_bad": 1, "validator_bad_human_good": 1,
        "validator_good_human_bad": 1, "both_good": 1, "unsure": 1,
    }
    assert agr.overall.kappa == pytest.approx(0.0)
    assert (agr.by_reason["negation_conflict"].n, agr.by_reason["negation_conflict"].accuracy) == (2, 0.5)
    assert agr.by_reason["laterality_mismatch"].validator_bad_human_good == 1
    assert agr.by_reason["(none)"].n == 2 and agr.by_reason["(none)"].unsure == 1
    assert agr.by_kind["calibration"].validator_good_human_bad == 1
    assert agr.by_reviewer["ana"].accuracy == pytest.approx(2 / 3)
    text = agr.render()
    assert "accuracy=0.500" in text and "negation_conflict" in text and "calibration" in text


def test_latest_decision_per_reviewer_wins():
    rows = [
        row("A", 0, "bad", True, at="2026-11-23T18:00:00.000Z"),
        row("A", 0, "good", True, at="2026-11-23T19:00:00.000Z"),
        row("A", 0, "bad", True, at="2026-11-23T18:30:00.000Z"),
    ]
    (latest,) = latest_decisions(rows)
    assert latest["decision"] == "good"
    assert compute_agreement(rows).overall.both_good == 1


def test_inter_annotator_kappa_over_shared_steps():
    rows = []
    # 4 steps labelled by both: agree bad, agree good, agree good, disagree (ana bad, bob good)
    for step, (a, b) in enumerate([("bad", "bad"), ("good", "good"), ("good", "good"), ("bad", "good")]):
        rows.append(row("A", step, a, True, reviewer="ana"))
        rows.append(row("A", step, b, True, reviewer="bob"))
    rows.append(row("A", 9, "bad", True, reviewer="ana"))  # only one reviewer: no pair
    agr = compute_agreement(rows)
    # pairs (ana, bob): p_o = 3/4; ana bad 2/4, bob bad 1/4; p_e = (2*1 + 2*3)/16 = 0.5; kappa = 0.5
    assert agr.inter_annotator_pairs == 4
    assert agr.inter_annotator_kappa == pytest.approx(0.5)

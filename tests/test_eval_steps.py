"""Step evaluation: detection per operator, false flags, the joined rows; and the evaluation-set builder."""

import json
import random

import pytest

from radprm.errors import InputError
from radprm.evaluation.stepset import paraphrase, restate_negations, split_of
from radprm.evaluation.steps import eval_steps


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_eval_steps_detection_false_flags_and_missing(tmp_path):
    pred = write(tmp_path / "pred.jsonl", [
        {"chain_id": "a", "step_index": 0, "label": True, "reasons": [], "verdict": "supported"},
        {"chain_id": "a", "step_index": 1, "label": False, "reasons": ["negation_conflict"], "verdict": "contradicted"},
        {"chain_id": "b", "step_index": 0, "label": False, "reasons": ["finding_not_in_report"], "verdict": "unsupported"},
        {"chain_id": "c", "step_index": 0, "label": True, "reasons": [], "verdict": "supported"},
        {"chain_id": "d", "step_index": 0, "label": False, "reasons": ["negation_conflict"], "verdict": "contradicted"},
    ])
    expected = write(tmp_path / "exp.jsonl", [
        {"chain_id": "a", "step_index": 0, "expected_label": True, "operator": "faithful", "phrasing": "verbatim"},
        {"chain_id": "a", "step_index": 1, "expected_label": False, "operator": "negation_flip",
         "expected_reason": "negation_conflict"},
        {"chain_id": "b", "step_index": 0, "expected_label": False, "operator": "negation_flip",
         "expected_reason": "negation_conflict"},
        {"chain_id": "c", "step_index": 0, "expected_label": False, "operator": "laterality_swap"},
        {"chain_id": "d", "step_index": 0, "expected_label": True, "operator": "", "phrasing": "paraphrase"},
        {"chain_id": "z", "step_index": 0, "expected_label": True},
    ])
    r = eval_steps(pred, expected)
    assert (r.detection["negation_flip"].n, r.detection["negation_flip"].hits) == (2, 2)
    assert r.reason_match["negation_flip"].rate == 0.5
    assert r.detection["laterality_swap"].rate == 0.0
    assert (r.false_flags.n, r.false_flags.hits) == (2, 1)
    assert r.false_flags_by_phrasing["paraphrase"].hits == 1
    assert r.false_flag_reasons["negation_conflict"] == 1
    assert r.missing == 1
    assert "missing predictions: 1" in r.render()
    assert r.as_dict()["detection"]["negation_flip"]["rate"] == 1.0


def test_eval_steps_nothing_joined_is_an_error(tmp_path):
    pred = write(tmp_path / "pred.jsonl", [{"chain_id": "a", "step_index": 0, "label": True}])
    expected = write(tmp_path / "exp.jsonl", [{"chain_id": "b", "step_index": 0, "expected_label": True}])
    with pytest.raises(InputError, match="no expected row has a prediction"):
        eval_steps(pred, expected)


def test_eval_steps_bad_label_names_row_and_field(tmp_path):
    pred = write(tmp_path / "pred.jsonl", [{"chain_id": "a", "step_index": 0, "label": "maybe"}])
    expected = write(tmp_path / "exp.jsonl", [{"chain_id": "a", "step_index": 0, "expected_label": True}])
    with pytest.raises(InputError, match=r"pred.jsonl row 1, field 'label'"):
        eval_steps(pred, expected)


def test_split_is_stable_and_about_one_in_five():
    ids = [str(i) for i in range(1, 3001)]
    held = [i for i in ids if split_of(i) == "heldout"]
    assert 0.15 < len(held) / len(ids) < 0.25
    assert [split_of(i) for i in ids[:50]] == [split_of(i) for i in ids[:50]]


def test_paraphrase_rewords_without_copying():
    rng = random.Random(0)
    out = paraphrase("There is no pneumothorax.", rng)
    assert out and out != "There is no pneumothorax." and "pneumothorax" in out.lower()
    assert paraphrase("No change in chronic interstitial lung disease.", rng) is None


def test_restate_negations_splits_lists_and_keeps_qualifiers():
    out = restate_negations("No acute airspace disease or effusions.", random.Random(1))
    assert len(out) == 2 and "acute" in out[0] and "effusions" in out[1]
    assert restate_negations("Heart size is normal.", random.Random(1)) == []


@pytest.mark.shared
@pytest.mark.slow
def test_build_stepset_is_reproducible(tmp_path, iu_reports, gold_labels):
    from radprm.evaluation.stepset import build_stepset

    a = build_stepset(iu_reports, gold_labels, tmp_path / "a", split="tune", seed=5, limit=8)
    build_stepset(iu_reports, gold_labels, tmp_path / "b", split="tune", seed=5, limit=8)
    assert (tmp_path / "a" / "chains.jsonl").read_text() == (tmp_path / "b" / "chains.jsonl").read_text()
    assert a.reports == 8 and a.phrasings["verbatim"] > 0 and sum(a.operators.values()) > 0
    rows = [json.loads(line) for line in (tmp_path / "a" / "expected.jsonl").read_text().splitlines()]
    assert all(split_of(r["report_id"]) == "tune" for r in rows)
    corrupted = [r for r in rows if r["operator"] != "faithful"]
    assert corrupted and all(r["step"] != r["original_step"] and r["expected_label"] is False for r in corrupted)


@pytest.mark.shared
@pytest.mark.slow
def test_stepset_quality_on_a_sample_of_tune_reports(tmp_path, iu_reports, gold_labels):
    """Guards the whole chain (extractor + validator + builder) against regressions, on 60 tune reports."""
    from radprm.evaluation.stepset import build_stepset
    from radprm.validators.batch import validate_file

    build_stepset(iu_reports, gold_labels, tmp_path, split="tune", seed=1, limit=60)
    validate_file(tmp_path / "chains.jsonl", iu_reports, tmp_path / "pred.parquet", progress=False)
    r = eval_steps(tmp_path / "pred.parquet", tmp_path / "expected.jsonl")
    assert r.missing == 0
    assert r.false_flags.n > 1000 and r.false_flags.rate <= 0.02
    for op, rate in r.detection.items():
        if rate.n >= 20:
            assert rate.rate >= 0.85, (op, rate.as_dict())

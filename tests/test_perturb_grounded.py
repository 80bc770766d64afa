"""Operators on any report-grounded sentence (side, grade, change over time, number, device tip).

Every report sentence here is made up for the test. Each operator must make a real corruption, say why
it cannot, and never put in a word that the report sentence the step restates already holds.
"""

import json
import random

import pytest

from radprm.errors import RuleFileError
from radprm.schemas.records import Chain, Report
from radprm.validators.align import Claim
from radprm.validators.perturb import (
    OPERATORS,
    Perturbation,
    PerturbContext,
    Perturber,
    Skip,
    grade_swap,
    grounding_sentences,
    load_perturb_rules,
    number_change,
    side_swap,
    temporal_flip,
    tip_move,
)

NEW_OPERATORS = ("side_swap", "grade_swap", "temporal_flip", "number_change", "tip_move")
EXPECTED_REASON = {"side_swap": "laterality_conflict", "grade_swap": "severity_conflict",
                   "temporal_flip": "temporal_conflict", "number_change": "ungrounded_number",
                   "tip_move": "location_conflict"}


def ctx(report_text, step_claims=(), seed=0):
    return PerturbContext(list(step_claims), [], report_text, random.Random(seed), load_perturb_rules())


def run(op, step, report=None, claims=(), seed=0):
    """Apply `op` to a step that restates its own report sentence (or the given report)."""
    return op(step, ctx(report if report is not None else f"FINDINGS: {step} No pneumothorax.", claims, seed))


# --------------------------------------------------------------------------- one example per operator

@pytest.mark.parametrize("op,step,corrupted", [
    (side_swap, "Left chest wall pacemaker with leads in place.", "Right chest wall pacemaker with leads in place."),
    (side_swap, "A right-sided central line is present.", "A left-sided central line is present."),
    (side_swap, "Surgical clips in the left axilla.", "Surgical clips in the right axilla."),
    (side_swap, "Mild levoconvex curvature of the lumbar spine.", "Mild dextroconvex curvature of the lumbar spine."),
    (grade_swap, "Mild curvature of the thoracic spine.", "Severe curvature of the thoracic spine."),
    (grade_swap, "The heart is small.", "The heart is large."),
    (grade_swap, "Minimal degenerative spurring of the spine.", "Marked degenerative spurring of the spine."),
    (grade_swap, "The aorta is slightly tortuous.", "The aorta is markedly tortuous."),
    (temporal_flip, "The calcified granuloma is unchanged.", "The calcified granuloma is new."),
    (temporal_flip, "Pleural thickening, stable from the prior study.",
     "Pleural thickening, new since the prior study."),
    (temporal_flip, "Interval increase in the right base density.", "Interval decrease in the right base density."),
    (temporal_flip, "Aeration has improved.", "Aeration has worsened."),
    (temporal_flip, "Old healed fracture of a rib.", "Acute fracture of a rib."),
    (number_change, "Healed fracture of the 7th rib.", "Healed fracture of the 8th rib."),
    (number_change, "Compression of the T8 vertebral body.", "Compression of the T10 vertebral body."),
    (number_change, "A 1.2 cm nodule in the lingula.", "A 2.1 cm nodule in the lingula."),
    (number_change, "There are two surgical clips.", "There are three surgical clips."),
    (tip_move, "The catheter tip is in the SVC.", "The catheter tip is in the right atrium."),
    (tip_move, "PICC tip in the mid superior vena cava.", "PICC tip in the right atrium."),
    (tip_move, "Enteric tube with tip in the stomach.", "Enteric tube with tip in the esophagus."),
    (tip_move, "Port catheter tip at the cavoatrial junction.", "Port catheter tip at the brachiocephalic vein."),
])
def test_each_operator_makes_its_corruption(op, step, corrupted):
    out = run(op, step)
    assert isinstance(out, Perturbation), out
    assert out.step == corrupted
    assert out.operator == op.__name__ and out.expected_reason == EXPECTED_REASON[op.__name__]
    assert out.expected_label is False and out.original == step and out.detail


# --------------------------------------------------------------------------- not applicable -> skipped

@pytest.mark.parametrize("op,step,reason", [
    (side_swap, "The heart is normal in size.", "no_side_object"),
    (side_swap, "Catheter tip in the right atrium.", "no_side_object"),  # an anatomical name, not a side
    (side_swap, "No left clavicle abnormality.", "negated"),
    (side_swap, "Left clavicle: two views.", "heading"),
    (grade_swap, "Mild bronchitic changes.", "no_graded_object"),
    (grade_swap, "No significant curvature of the spine.", "no_graded_object"),
    (temporal_flip, "The lungs are clear.", "no_change_word"),
    (temporal_flip, "No acute bony abnormality.", "negated"),
    (temporal_flip, "Acute process is not seen.", "negated"),
    (temporal_flip, "Nothing to suggest acute bony findings.", "negated"),
    (temporal_flip, "This appears stable.", "no_subject"),
    (temporal_flip, "Mild increase in bronchial markings.", "no_change_word"),
    (temporal_flip, "Consistent with chronic obstructive pulmonary disease.", "no_change_word"),
    (number_change, "Frontal and lateral 2 views of the chest.", "no_number"),
    (number_change, "A two-view study with four total images.", "no_number"),
    (number_change, "The lungs are clear.", "no_number"),
    (tip_move, "Calcification near the SVC.", "no_device"),
    (tip_move, "Right PICC line is unchanged.", "no_tip_place"),
])
def test_operators_skip_when_no_word_applies(op, step, reason):
    out = run(op, step)
    assert out == Skip(op.__name__, reason)


def test_grade_and_side_leave_lexicon_findings_to_the_old_operators():
    fracture = Claim("fracture", "positive", mention="fracture")
    assert run(side_swap, "Healed right rib fracture.", claims=[fracture]).reason == "lexicon_finding"
    cardiomegaly = Claim("cardiomegaly", "positive", mention="enlarged")
    assert run(grade_swap, "The heart is mildly enlarged.", claims=[cardiomegaly]).reason == "lexicon_finding"


# --------------------------------------------------------------------------- never a supported step

def test_the_new_value_must_not_be_in_the_report_sentence():
    both = "Right and left PICC lines are present."
    assert run(side_swap, "Right PICC line is present.", report=both).reason == "target_side_in_report"
    other = "FINDINGS: Right IJ catheter in place. Left IJ catheter also present."
    assert run(side_swap, "Right IJ catheter in place.", report=other).reason == "target_side_in_report"
    mild_to_severe = "Mild to severe curvature of the spine."
    assert run(grade_swap, "Mild curvature of the spine.", report=mild_to_severe).reason == "target_grade_in_report"
    assert run(temporal_flip, "The granuloma is unchanged.",
               report="The granuloma is unchanged, no new nodules.").reason == "target_change_in_report"
    assert run(number_change, "Deformity of the 7th rib.",
               report="Deformity of the 7th rib and the 8th rib.").reason == "target_number_in_report"
    assert run(tip_move, "Catheter tip in the SVC.",
               report="Catheter tip in the SVC near the right atrium.").reason == "target_place_in_report"


def test_a_step_that_restates_no_report_sentence_is_not_corrupted():
    report = "FINDINGS: The lungs are clear. The heart is normal."
    for op in (side_swap, grade_swap, temporal_flip, number_change, tip_move):
        step = {"side_swap": "Left subclavian line.", "grade_swap": "Mild scoliosis of the spine.",
                "temporal_flip": "Stable sternotomy wires.", "number_change": "A 4 mm nodule.",
                "tip_move": "Tube tip in the stomach."}[op.__name__]
        assert run(op, step, report=report).reason == "not_grounded"


def test_grounding_finds_the_restated_sentence_in_a_paraphrase():
    report = "FINDINGS: Right IJ central venous catheter, tip in the SVC. Lungs are clear."
    assert grounding_sentences("The right internal jugular catheter tip lies in the SVC.", report) == [
        "Right IJ central venous catheter, tip in the SVC."]
    assert grounding_sentences("There is a large effusion.", report) == []


def test_number_change_needs_a_new_value_everywhere_in_the_report():
    # '3' is written elsewhere in the report (as a word): 2 -> 3 would be grounded, so 8 mm -> 11 mm is used
    report = "FINDINGS: 2 clips and an 8 mm nodule. Three sternotomy wires."
    out = run(number_change, "2 clips and an 8 mm nodule.", report=report)
    assert out.step == "2 clips and an 11 mm nodule."


def test_side_swap_on_a_step_naming_both_sides_needs_a_report_sentence_without_the_other_side():
    step = "Right IJ catheter and left subclavian port."
    assert run(side_swap, step, report=step).reason == "target_side_in_report"


# --------------------------------------------------------------------------- through the Perturber

class FakeValidator:
    """Step and report claims without the extractor: the new operators only read the text."""

    def step_claims(self, text):
        return []

    def report_claims(self, report):
        return []


def test_perturber_applies_the_new_operators_reproducibly_with_their_reasons():
    text = ("FINDINGS: Right PICC line with tip in the SVC. Mild dextroconvex curvature of the spine. "
            "Old healed fracture of the left 6th rib. No pneumothorax.")
    report = Report(report_id="r1", text=text)
    chain = Chain(chain_id="c1", report_id="r1", steps=["Let us look at the devices.",
                                                        "Right PICC line with tip in the SVC.",
                                                        "Mild dextroconvex curvature of the spine.",
                                                        "Old healed fracture of the left 6th rib."])
    rows = list(Perturber(FakeValidator(), seed=3).perturb_chain(chain, report, list(NEW_OPERATORS)))
    again = list(Perturber(FakeValidator(), seed=3).perturb_chain(chain, report, list(NEW_OPERATORS)))
    assert rows == again
    made = {(r["operator"], r["step_index"]) for r in rows}
    assert {("side_swap", 1), ("tip_move", 1), ("grade_swap", 2), ("side_swap", 2), ("temporal_flip", 3),
            ("number_change", 3)} <= made
    for r in rows:
        assert r["expected_reason"] == EXPECTED_REASON[r["operator"]] and r["step"] != r["original_step"]
        assert r["steps"][-1] == r["step"] and r["steps"][:-1] == chain.steps[: r["step_index"]]
    assert all(op in OPERATORS for op in NEW_OPERATORS)


# --------------------------------------------------------------------------- the rule file

def test_rule_file_is_versioned_and_loaded_through_the_rule_helper():
    rules = load_perturb_rules()
    assert rules.version == "2"
    assert rules.tip_places["svc"].move_to == "right_atrium" and rules.side_words["levoconvex"] == "dextroconvex"


def _packaged_rules():
    from importlib import resources

    return json.loads(resources.files("radprm.validators").joinpath("perturb_rules.json").read_text())


def test_rule_file_errors_name_the_file_and_the_field_path(tmp_path):
    data = _packaged_rules()
    data["tip_places"]["svc"]["move_too"] = "stomach"
    bad = tmp_path / "perturb_rules.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(RuleFileError) as err:
        load_perturb_rules(bad)
    assert str(bad) in str(err.value) and "tip_places.svc.move_too" in str(err.value)
    data = _packaged_rules()
    data["tip_places"]["svc"]["move_to"] = "moon"
    bad.write_text(json.dumps(data))
    with pytest.raises(RuleFileError, match="tip_places"):
        load_perturb_rules(bad)
    data = _packaged_rules()
    del data["temporal_swap"]
    bad.write_text(json.dumps(data))
    with pytest.raises(RuleFileError, match="temporal_swap"):
        load_perturb_rules(bad)


def test_increased_is_a_change_over_time_only_with_a_comparison():
    assert run(temporal_flip, "Area of increased opacity at the left base.").reason == "no_change_word"
    out = run(temporal_flip, "The opacity at the left base has increased since the prior study.")
    assert out.step == "The opacity at the left base has decreased since the prior study."

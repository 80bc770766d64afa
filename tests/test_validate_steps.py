"""The step validator on real IU X-ray reports: each verdict and each reason code."""

import pytest

from radprm.readers import read_reports
from radprm.schemas.records import Chain, Report
from radprm.validators.reasons import FAULTS, REASONS
from radprm.validators.steps import StepValidator, numbers_in, strip_enumeration

pytestmark = pytest.mark.shared

WANTED = {"1", "2", "9", "54", "60", "153", "182", "372", "389", "1307"}


@pytest.fixture(scope="module")
def reports():
    from conftest import IU_REPORTS

    if not IU_REPORTS.exists():
        pytest.skip(f"needs {IU_REPORTS} (the shared data folder beside the repo)")
    iu = IU_REPORTS
    return {r.report_id: r for r in read_reports(iu, limit=1400) if r.report_id in WANTED}


@pytest.fixture(scope="module")
def validator():
    # the rules' own verdicts: no calibrated abstention (tests/test_validate_abstention.py covers it)
    return StepValidator(abstention="none")


def check(validator, report, step, **chain):
    res = validator.validate(Chain(chain_id="t", report_id=report.report_id, steps=[step], **chain), report)
    return res.steps[0]


@pytest.mark.parametrize(
    "uid,step,verdict,reasons",
    [
        ("1", "There is no pneumothorax.", "supported", []),
        ("1", "A pneumothorax is present.", "contradicted", ["negation_conflict"]),
        ("1", "There is no hiatal hernia.", "supported", ["unmentioned_assumed_normal"]),
        ("1", "There is an acute rib fracture.", "unsupported", ["finding_not_in_report"]),
        ("1", "Let us look at the lungs.", "neutral", ["no_clinical_claim"]),
        ("1", "The heart is enlarged.", "contradicted", ["negation_conflict"]),
        # "Borderline cardiomegaly": denying it is both a negation and a dismissed hedge
        ("2", "There is no cardiomegaly.", "contradicted", ["negation_conflict", "uncertainty_dismissed"]),
        ("182", "There is no airspace opacity.", "contradicted", ["negation_conflict"]),
        ("182", "There is no focal airspace opacity.", "supported", []),
        (
            "54",
            "Scattered calcified granulomas are seen without evidence of active granulomatous/tuberculous process.",
            "supported",
            [],
        ),
        ("54", "Minimal right basilar subsegmental atelectasis noted.", "supported", []),
        ("153", "There is a small left pleural effusion.", "contradicted", ["laterality_conflict"]),
        ("153", "There is a large right pleural effusion.", "contradicted", ["severity_conflict"]),
        ("153", "There may be a small right pleural effusion.", "supported", ["hedged"]),
        ("389", "There is a calcified granuloma in the right upper lobe.", "contradicted", ["location_conflict"]),
        ("389", "A calcified granuloma is seen in the lower lobe of the right lung.", "supported", []),
        ("372", "There is scarring in the left lower lobe.", "unsupported", ["uncertainty_overstated"]),
        ("372", "Scarring is possible in the left lower lobe.", "supported", []),
        ("1307", "There is no metastatic disease.", "contradicted", ["uncertainty_dismissed"]),
        ("60", "The density measures 2.5 cm.", "unsupported", ["ungrounded_number"]),
        ("60", "The density in the left lower lobe measures 1.9 x 1.8 cm.", "supported", []),
        # a grade the report does not give, on a step that otherwise lines up with the report: abstain
        ("9", "There is a large calcified granuloma in the right upper lobe.", "unsure", ["severity_not_in_report"]),
    ],
)
def test_validate_step_verdict_and_reasons_on_iu_reports(reports, validator, uid, step, verdict, reasons):
    s = check(validator, reports[uid], step)
    assert (s.verdict, s.reasons) == (verdict, reasons)
    assert s.label == (not any(r in FAULTS for r in reasons))


@pytest.mark.parametrize(
    "uid,step,label,reasons",
    [
        ("153", "Step 1: The report mentions a small right pleural effusion.", True, []),
        ("153", "The presence of fluid in the right pleural space indicates an effusion.", True, []),
        (
            "153",
            "The left costophrenic angle is sharp, so there is no left effusion.",
            True,
            ["unmentioned_assumed_normal"],
        ),
        (
            "153",
            "The report does not mention pneumothorax, so we assume it is absent.",
            True,
            ["unmentioned_assumed_normal"],
        ),
        ("153", "The effusion on the left side is small.", False, ["laterality_conflict"]),
        ("153", "The report describes a large right pleural effusion.", False, ["severity_conflict"]),
        ("1", "The heart size is within normal limits, which rules out cardiomegaly.", True, []),
        ("1", "The lungs show no focal consolidation, making pneumonia unlikely.", True, []),
        ("1", "Since the heart is enlarged, cardiomegaly is present.", False, ["negation_conflict"]),
    ],
)
def test_validate_llm_style_reasoning_steps(reports, validator, uid, step, label, reasons):
    s = check(validator, reports[uid], step)
    assert (s.label, s.reasons) == (label, reasons)


def test_validate_evidence_offsets_point_into_report_text(reports, validator):
    report = reports["153"]
    s = check(validator, report, "There is a small left pleural effusion.")
    ev = s.evidence[0]
    assert report.text[ev.start : ev.end] == ev.text == "There is a small right pleural effusion."


def test_validate_redundant_step_is_good_but_not_effective(reports, validator):
    chain = Chain(chain_id="r", report_id="1", steps=["There is no pneumothorax.", "No pneumothorax is seen."])
    res = validator.validate(chain, reports["1"])
    assert res.steps[1].label and "redundant" in res.steps[1].reasons
    assert res.scores.effectiveness == 0.5


def test_validate_answer_step_checked_against_reference(reports, validator):
    wrong = check(validator, reports["1"], "Therefore the answer is yes.", answer=["no"])
    right = check(validator, reports["1"], "Therefore the answer is no.", answer=["no"])
    assert (wrong.label, wrong.reasons) == (False, ["answer_mismatch"])
    assert (right.label, right.verdict) == (True, "neutral")


def test_validate_chain_scores_and_first_bad_step(reports, validator):
    chain = Chain(
        chain_id="c",
        report_id="153",
        question="Is there a pleural effusion?",
        answer=["yes"],
        model_answer=["yes"],
        steps=[
            "Let us look at the pleural spaces.",
            "There is a small right pleural effusion.",
            "There is a small left pleural effusion.",
            "Therefore the answer is yes.",
        ],
    )
    res = validator.validate(chain, reports["153"])
    assert res.labels == [True, True, False, True]
    assert res.scores.first_bad_step == 2 and res.scores.n_steps == 4
    assert res.scores.effectiveness == 0.5
    assert res.scores.factuality == 0.5
    assert 0 < res.scores.completeness <= 1
    assert res.answer_reward == 1.0


def test_validate_uses_given_report_findings(validator):
    report = Report(report_id="x", text="FINDINGS: There is no pneumothorax.", findings="There is no pneumothorax.")
    chain = Chain(chain_id="c", report_id="x", steps=["A pneumothorax is present."])
    # an empty findings list means "the report says nothing": the positive step is then not in the report
    res = validator.validate(chain, report, report_findings=[])
    # (the report sentence itself still denies it: the open-vocabulary reading adds negation_conflict)
    assert res.steps[0].reasons[0] == "finding_not_in_report"


def test_every_reason_code_is_documented_with_an_example():
    for code, reason in REASONS.items():
        assert reason.description and reason.example, code


@pytest.mark.parametrize(
    "text,numbers",
    [
        ("Round density measuring 1.9 x 1.8 cm.", ["1.9", "1.8"]),
        ("Degenerative change at T12 and L1.", ["T12", "L1"]),
        ("A 2.0 cm nodule.", ["2"]),
        ("No numbers here.", []),
    ],
)
def test_numbers_in_step_text(text, numbers):
    assert numbers_in(text) == numbers


def test_step_enumeration_is_not_a_number():
    assert strip_enumeration("Step 2: No pneumothorax.") == "No pneumothorax."
    assert strip_enumeration("3. Heart size is normal.") == "Heart size is normal."


def test_validate_multi_label_answer_step(reports, validator):
    options = ["Cardiomegaly", "Effusion", "Pneumothorax"]
    kwargs = dict(answer=["Cardiomegaly", "Effusion"], options=options)
    partial = check(validator, reports["1"], "So the answer is Cardiomegaly.", **kwargs)
    full = check(validator, reports["1"], "The final answer is: Effusion, Cardiomegaly.", **kwargs)
    # the findings named are judged too (report 1 rules out cardiomegaly): only the answer part is tested here
    assert "answer_mismatch" in partial.reasons and not partial.label
    assert "answer_mismatch" not in full.reasons and "negation_conflict" in full.reasons


@pytest.mark.parametrize(
    "step,ok",
    [
        ("Answer: A and C.", True),
        ("So C, A are present.", True),
        ("Step 5: Answer: A only.", False),
        ("So A, B and D are present.", False),
        ("So none of the options are present.", False),
        ("None of the listed findings are present.", False),
    ],
)
def test_validate_answer_by_option_letter(reports, validator, step, ok):
    # multiple-choice answers name options by letter ("A. Cardiomegaly B. ..." in the question) or none of them
    kwargs = dict(
        question="Which are present? A. Cardiomegaly B. Pneumothorax C. Effusion D. Mass",
        options=["Cardiomegaly", "Pneumothorax", "Effusion", "Mass"],
        answer=["Cardiomegaly", "Effusion"],
    )
    res = validator.validate(
        Chain(chain_id="t", report_id="1", steps=["We read the report.", step], **kwargs), reports["1"]
    ).steps[1]
    assert ("answer_mismatch" in res.reasons) is not ok, res


def test_option_letters_reads_only_letter_answers():
    from radprm.validators.steps import option_letters

    opts = ["x", "y", "z"]
    assert option_letters("(B) and (C)", opts) == ["y", "z"]
    assert option_letters("A small effusion is present.", opts) is None
    assert option_letters("D only", opts) is None  # no fourth option
    assert option_letters("B", ["None", "Effusion", "Mass"]) is None  # an option called "None": letters are ambiguous

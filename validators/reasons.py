"""Reason codes the step validator attaches to a step, each with its meaning and an example.

A code is either a *fault* (the step is bad training signal: `label` becomes False) or a *note* (the
step stays good, the code explains how it was judged). Codes are stable strings: shards, review
queues and evaluation reports refer to them, so a code is never renamed, only added.
Quarantine codes (`QUARANTINE_CODES`) describe chain rows that could not be validated at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["fault", "note"]


@dataclass(frozen=True)
class Reason:
    """One reason code: what it means, whether it makes a step bad, and an example step."""

    code: str
    kind: Kind
    verdict: str
    description: str
    example: str


_REASONS = [
    Reason(
        "negation_conflict", "fault", "contradicted",
        "The step asserts a finding the report negates, or negates one the report asserts.",
        "report 'There is no pneumothorax.' / step 'A pneumothorax is present.'",
    ),
    Reason(
        "laterality_conflict", "fault", "contradicted",
        "The step puts a reported finding on the other side (left/right/bilateral).",
        "report 'Small right pleural effusion.' / step 'There is a small left pleural effusion.'",
    ),
    Reason(
        "severity_conflict", "fault", "contradicted",
        "The step grades a reported finding differently (trace/small/moderate/large scale).",
        "report 'Mild cardiomegaly.' / step 'The heart is severely enlarged.'",
    ),
    Reason(
        "location_conflict", "fault", "contradicted",
        "The step places a reported finding in another anatomical location.",
        "report 'Opacity in the right lower lobe.' / step 'There is opacity in the right upper lobe.'",
    ),
    Reason(
        "finding_not_in_report", "fault", "unsupported",
        "The step asserts (or suggests) a finding the report never mentions; unmentioned means normal.",
        "report silent on fractures / step 'There is an acute rib fracture.'",
    ),
    Reason(
        "uncertainty_overstated", "fault", "unsupported",
        "The step states as certain a finding the report only suspects.",
        "report 'Possible early pneumonia.' / step 'There is pneumonia.'",
    ),
    Reason(
        "uncertainty_dismissed", "fault", "contradicted",
        "The step rules out a finding the report keeps open as possible.",
        "report 'Cannot exclude small effusion.' / step 'There is no pleural effusion.'",
    ),
    Reason(
        "severity_not_in_report", "fault", "unsupported",
        "The step grades a finding the report mentions without any grade.",
        "report 'Right pleural effusion.' / step 'There is a large right pleural effusion.'",
    ),
    Reason(
        "location_not_in_report", "fault", "unsupported",
        "The step places (lobe, node station, side) a finding the report mentions without any place.",
        "report 'Scattered calcified granulomas.' / step 'Calcified granulomas cluster in the right upper lobe.'",
    ),
    Reason(
        "ungrounded_number", "fault", "unsupported",
        "The step quotes a number (size, count, level) that appears nowhere in the report or question.",
        "report 'Small nodule in the left upper lobe.' / step 'The nodule measures 2 cm.'",
    ),
    Reason(
        "answer_mismatch", "fault", "contradicted",
        "The step states a final answer that differs from the reference answer of the question.",
        "answer ['no'] / step 'Therefore the answer is yes.'",
    ),
    Reason(
        "temporal_conflict", "fault", "contradicted",
        "The step states a change over time (new, unchanged, increased, decreased, resolved, acute, old) "
        "that the report's statement about the same thing contradicts.",
        "report 'Left hilar calcifications, unchanged from prior.' / step 'The hilar calcifications are new.'",
    ),
    Reason(
        "redundant", "note", "",
        "Every claim of the step was already made by an earlier step; the step lowers effectiveness.",
        "step 1 'No pneumothorax.' / step 3 'There is no pneumothorax.'",
    ),
    Reason(
        "no_clinical_claim", "note", "neutral",
        "The step carries no finding, number or answer: reasoning glue, kept good but not effective.",
        "'Let us look at the lungs.'",
    ),
    Reason(
        "unmentioned_assumed_normal", "note", "supported",
        "The step negates a finding the report never mentions; reports leave normal findings unsaid.",
        "report silent on pneumothorax / step 'There is no pneumothorax.'",
    ),
    Reason(
        "low_precision_fault", "note", "unsure",
        "The step's fault is of a kind whose bad labels were too often wrong on labelled chains "
        "(validators/abstention.json): the step is masked as unsure, its label only the rules' lean.",
        "a lone negation_conflict (right about two times in three on the calibration sets)",
    ),
    Reason(
        "model_suspects_fault", "note", "unsure",
        "The rules found nothing wrong, but the learned second opinion (validators/doubt.json), fitted on "
        "labelled chains, finds the step more likely bad than good: masked as unsure, its label the model's lean.",
        "report silent on severity / step 'There is a moderate right effusion.' where the report says 'small'",
    ),
    Reason(
        "model_doubts_fault", "note", "unsure",
        "The rules flagged the step, but the learned second opinion (validators/doubt.json) finds the flag "
        "too often wrong for steps like it: masked as unsure, its label only the rules' lean.",
        "a lone negation_conflict on a step that paraphrases the report closely",
    ),
    Reason(
        "prm_suspects_fault", "note", "unsure",
        "The rules found nothing wrong, but the PRM read as a second reader (`radprm validate --prm`) is "
        "confident the step is bad: masked as unsure, its label the PRM's lean.",
        "report 'Stable left lower lobe scarring.' / step 'The scarring in the right lower lobe is stable.'",
    ),
    Reason(
        "prm_doubts_fault", "note", "unsure",
        "The rules flagged the step, but the PRM read as a second reader is confident it is good: masked as "
        "unsure, its label only the rules' lean.",
        "a lone negation_conflict on a step the PRM scores as faithful",
    ),
    Reason(
        "prm_settled", "note", "supported",
        "The step was unsure (abstention or second opinion) and the PRM read as a second reader was confident "
        "enough to decide it: its label is the PRM's.",
        "a model_doubts_fault step the PRM scores as clearly bad",
    ),
    Reason(
        "hedged", "note", "supported",
        "The step is less certain than the report about a reported finding (allowed, not rewarded).",
        "report 'Right lower lobe pneumonia.' / step 'Pneumonia may be present in the right lower lobe.'",
    ),
]

REASONS: dict[str, Reason] = {r.code: r for r in _REASONS}
FAULTS = frozenset(r.code for r in _REASONS if r.kind == "fault")
NOTES = frozenset(r.code for r in _REASONS if r.kind == "note")

# Row-level problems of a CHAINS file; each becomes a quarantine record with this reason code.
QUARANTINE_CODES: dict[str, str] = {
    "malformed_json": "A JSONL line is not a JSON object.",
    "missing_chain_id": "The row has no chain_id (or an empty one).",
    "duplicate_chain_id": "The chain_id was already seen earlier in the file; the first row is kept.",
    "missing_report_id": "The row has no report_id.",
    "unknown_report_id": "The report_id is not among the reports read from --reports.",
    "empty_steps": "The steps list is missing or empty.",
    "non_string_step": "A step is not a string (or is blank).",
    "bad_field_type": "question/answer/options/model_answer has the wrong type.",
    "not_a_good_step": "perturb input: a STEPS row labelled bad; only good steps are corrupted.",
}


def is_fault(code: str) -> bool:
    """True when `code` makes a step bad training signal.

    Raises:
        KeyError: for an unknown code (a typo in a rule must fail loudly).
    """
    return REASONS[code].kind == "fault"


def describe(code: str) -> str:
    """One-line description of a step reason or quarantine code."""
    if code in REASONS:
        return REASONS[code].description
    return QUARANTINE_CODES[code]

"""Response models for the LLM calls, with bounded JSON schemas (sent as structured outputs).

Every list has `maxItems` and every string a `maxLength`: a small model under an unbounded schema
tends to loop until `max_tokens` (see notes/vllm-cpu.md). Prompt files name their model in
`response_schema`; `RESPONSE_MODELS` is the lookup. `schemas/json/<name>.json` holds the generated
schemas (regenerate with `python -m radprm.schemas.llm`; a test fails when they drift).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

# Bounds sized for SmolLM2-135M with max_tokens ~256 per call: a step is one sentence, and the
# longest valid answer (5 steps x 150 chars + answer) fits in about 250 tokens.
MAX_STEPS = 5
MAX_PLAN = 4
STEP_CHARS = 150
ANSWER_CHARS = 40
MAX_ANSWERS = 14

Step = Annotated[str, StringConstraints(min_length=1, max_length=STEP_CHARS)]
AnswerText = Annotated[str, StringConstraints(min_length=1, max_length=ANSWER_CHARS)]

# CXRTrek-style stages, in reading order (notes/formats.md); report generation is left out on purpose.
STAGES = ("view", "findings", "attributes", "relations", "comparison", "diagnosis")
Stage = Literal["view", "findings", "attributes", "relations", "comparison", "diagnosis"]


class LLMResponse(BaseModel):
    """Base of all response models: no extra keys (strict structured outputs need that)."""

    model_config = ConfigDict(extra="forbid")


class PlanResponse(LLMResponse):
    """ChestX-Reasoner step (a): the plan, a few short actions to answer the question."""

    plan: list[Step] = Field(min_length=1, max_length=MAX_PLAN)


class AnalysisResponse(LLMResponse):
    """ChestX-Reasoner step (b): analysis steps that follow the plan, one claim each."""

    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)


class RefineResponse(LLMResponse):
    """ChestX-Reasoner step (c): pruned steps and the final answer."""

    steps: list[Step] = Field(min_length=1, max_length=MAX_STEPS)
    answer: list[AnswerText] = Field(min_length=1, max_length=MAX_ANSWERS)


class StagedStep(LLMResponse):
    """One CXRTrek-style step tagged with its stage."""

    stage: Stage
    text: Step


class StagedResponse(LLMResponse):
    """A staged chain (view/quality -> findings -> attributes -> relations -> comparison -> diagnosis)."""

    steps: list[StagedStep] = Field(min_length=1, max_length=MAX_STEPS)
    answer: list[AnswerText] = Field(min_length=1, max_length=MAX_ANSWERS)


# A Monte-Carlo rollout (`radprm label rollouts`): a short continuation of a step prefix and a final answer.
ROLLOUT_STEPS = 2


class RolloutResponse(LLMResponse):
    """A rollout from a step prefix, written without the report: at most two more steps, then the answer."""

    steps: list[Step] = Field(max_length=ROLLOUT_STEPS)
    answer: list[AnswerText] = Field(max_length=MAX_ANSWERS)


# The step judge (`radprm.validators.judge`) answers with one of the step validator's reason codes
# (`radprm.validators.reasons.REASONS`, but not `low_precision_fault`, `model_suspects_fault`,
# `model_doubts_fault` or the `prm_*` notes: the validator's own abstention and its PRM reader) or
# "none". Listed here, not imported: importing the validators
# package loads medspaCy; `tests/test_validate_judge.py` fails when the two lists drift apart.
JUDGE_REASONS = (
    "none",
    "negation_conflict", "laterality_conflict", "severity_conflict", "location_conflict",
    "finding_not_in_report", "uncertainty_overstated", "uncertainty_dismissed", "severity_not_in_report",
    "location_not_in_report",
    "ungrounded_number", "answer_mismatch", "temporal_conflict",
    "redundant", "no_clinical_claim", "unmentioned_assumed_normal", "hedged",
)
JudgeReason = Literal[JUDGE_REASONS]  # type: ignore[valid-type]
# One report sentence: IU sentences are under ~150 characters; the bound keeps the answer < ~100 tokens.
EVIDENCE_CHARS = 200


class JudgeResponse(LLMResponse):
    """RadRScore-style judge of one step: good or bad against the report, a reason code, a report quote."""

    label: Literal["good", "bad"]
    reason: JudgeReason
    evidence: str = Field(max_length=EVIDENCE_CHARS)


RESPONSE_MODELS: dict[str, type[LLMResponse]] = {
    m.__name__: m
    for m in (PlanResponse, AnalysisResponse, RefineResponse, StagedResponse, JudgeResponse, RolloutResponse)
}


def with_answer_options(
    model: type[LLMResponse], options: list[str], *, multi: bool, min_answers: int = 1
) -> type[LLMResponse]:
    """Narrow a model's `answer` to an enum of the question's options.

    The enum keeps a small model from inventing answers and makes the answer reward well defined.

    Args:
        model: A response model with an `answer` field (RefineResponse, StagedResponse).
        options: The allowed answers.
        multi: Whether several options may be chosen (multi-label) or exactly one.
        min_answers: Fewest options a multi-label answer may list (0: "none of them" is an answer).

    Returns:
        A subclass of `model` whose JSON schema lists the options as an enum.
    """
    if "answer" not in model.model_fields:
        return model
    choice = Literal[tuple(options)]  # type: ignore[valid-type]
    bound = min(len(options), MAX_ANSWERS) if multi else 1
    return create_model(  # type: ignore[call-overload]
        model.__name__,
        __base__=model,
        answer=(list[choice], Field(min_length=min_answers if multi else 1, max_length=bound)),
    )


def json_schemas() -> dict[str, dict]:
    """The JSON schema of every response model, by model name."""
    return {name: model.model_json_schema() for name, model in RESPONSE_MODELS.items()}


def write_json_schemas(out_dir: str | Path) -> list[Path]:
    """Write `<name>.json` for every response model (sorted keys, stable bytes).

    Args:
        out_dir: Target folder (normally `schemas/json`).

    Returns:
        The files written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, schema in json_schemas().items():
        path = out / f"{name}.json"
        path.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


if __name__ == "__main__":  # python -m radprm.schemas.llm [out_dir]
    target = sys.argv[1] if len(sys.argv) > 1 else Path(__file__).parent / "json"
    for p in write_json_schemas(target):
        print(p)

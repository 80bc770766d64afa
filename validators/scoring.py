"""Chain scores (RadRScore-style completeness, factuality, effectiveness) and the answer reward.

Definitions (ChestX-Reasoner's RadRScore, NV-Reason-CXR's set reward), computed from the per-step
judgements of `radprm.validators.steps`:

- completeness: share of the report's positive (or uncertain) observations that the chain states
  consistently; None when the report has no positive finding.
- factuality: share of the chain's claims (findings and numbers) consistent with the report; None
  when the chain makes no claim.
- effectiveness: share of steps that carry a claim and are not redundant.
- first_bad_step: index of the first step decided bad (label False, verdict not `unsure`), -1 when none
  (the PRM convention).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from radprm.schemas.records import ChainScores, StepResult
from radprm.validators.align import Claim, Judgement


def _norm(items: Iterable[str]) -> set[str]:
    return {" ".join(str(x).casefold().split()).strip(" .") for x in items if str(x).strip()}


def answer_reward(answer: Sequence[str], model_answer: Sequence[str]) -> float:
    """Verifiable answer reward: exact match for single answers, set Jaccard for multi-label.

    Comparison ignores case, surrounding spaces and a final period. Two empty sets agree (a normal
    study with no abnormality to list).

    Args:
        answer: the reference answer as a list (['yes'], or the positive labels).
        model_answer: the model's final answer as a list.

    Returns:
        A reward in [0, 1].
    """
    ref, got = _norm(answer), _norm(model_answer)
    if not ref and not got:
        return 1.0
    if len(ref) <= 1 and len(got) <= 1:
        return 1.0 if ref == got else 0.0
    return len(ref & got) / len(ref | got)


def first_bad_step(steps: Iterable[StepResult]) -> int:
    """Index of the first step decided bad, or -1 when there is none (the PRM convention).

    An `unsure` step (the rules abstained; its label is only their lean) is not a decided bad step.
    Accepts `StepResult`s, shard `StepRecord`s (`index`) or anything with `label` and `verdict`.
    """
    for i, s in enumerate(steps):
        if not s.label and getattr(s, "verdict", "") != "unsure":
            return getattr(s, "step_index", getattr(s, "index", i))
    return -1


def chain_scores(
    chain_id: str,
    steps: Sequence[StepResult],
    judgements: Sequence[Sequence[Judgement]],
    report_claims: Sequence[Claim],
    numbers: Sequence[tuple[int, int]] = (),
) -> ChainScores:
    """Compute the chain scores from step results and their claim judgements.

    Args:
        chain_id: the chain's id.
        steps: step results in order.
        judgements: for each step, the judgements of its claims.
        report_claims: the report's claims (for completeness).
        numbers: per step, (grounded numbers, all numbers) counts.

    Returns:
        ChainScores with completeness/factuality None when undefined.
    """
    key = {c.observation for c in report_claims if c.assertion in ("positive", "uncertain") and not c.historical}
    covered: set[str] = set()
    n_claims = n_ok = 0
    for step_judgements in judgements:
        for j in step_judgements:
            n_claims += 1
            if j.consistent:
                n_ok += 1
                if j.claim.assertion != "negative":
                    covered.add(j.claim.observation)
                    covered.update(e.observation for e in j.evidence if e.assertion != "negative")
    for grounded, total in numbers:
        n_ok += grounded
        n_claims += total
    effective = sum(1 for s in steps if s.verdict != "neutral" and "redundant" not in s.reasons)
    return ChainScores(
        chain_id=chain_id,
        completeness=len(key & covered) / len(key) if key else None,
        factuality=n_ok / n_claims if n_claims else None,
        effectiveness=effective / len(steps) if steps else None,
        first_bad_step=first_bad_step(steps),
        n_steps=len(steps),
    )

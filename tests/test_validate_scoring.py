"""Chain scores and the answer reward."""

import pytest

from radprm.schemas.records import StepResult
from radprm.validators.align import Claim, Judgement
from radprm.validators.scoring import answer_reward, chain_scores, first_bad_step


@pytest.mark.parametrize("answer,model,reward", [
    (["yes"], ["Yes."], 1.0),
    (["yes"], ["no"], 0.0),
    (["Cardiomegaly", "Effusion"], ["effusion"], 0.5),
    (["Cardiomegaly", "Effusion"], ["Effusion", "Cardiomegaly", "Edema"], 2 / 3),
    ([], [], 1.0),
    ([], ["Edema"], 0.0),
])
def test_answer_reward_exact_or_jaccard(answer, model, reward):
    assert answer_reward(answer, model) == pytest.approx(reward)


def step(i, label=True, verdict="supported", reasons=()):
    return StepResult(chain_id="c", step_index=i, step=f"s{i}", label=label, verdict=verdict,
                      reasons=list(reasons), score=1.0 if label else 0.0)


def test_first_bad_step_is_minus_one_when_all_good():
    assert first_bad_step([step(0), step(1)]) == -1
    assert first_bad_step([step(0), step(1, False, "contradicted"), step(2, False, "unsupported")]) == 1


def test_chain_scores_completeness_factuality_effectiveness():
    report = [Claim("cardiomegaly", "positive"), Claim("pleural_effusion", "uncertain"),
              Claim("pneumothorax", "negative")]
    card = Claim("cardiomegaly", "positive")
    ptx = Claim("pneumothorax", "positive")
    judgements = [
        [Judgement(card, "supported", [], [report[0]])],
        [Judgement(ptx, "contradicted", ["negation_conflict"], [report[2]])],
        [],
        [Judgement(card, "supported", [], [report[0]])],
    ]
    steps = [step(0), step(1, False, "contradicted"), step(2, verdict="neutral", reasons=["no_clinical_claim"]),
             step(3, reasons=["redundant"])]
    s = chain_scores("c", steps, judgements, report, [(0, 0), (0, 0), (0, 0), (1, 2)])
    assert s.completeness == 0.5          # cardiomegaly covered, effusion not
    assert s.factuality == pytest.approx(3 / 5)  # 2 of 3 claims + 1 of 2 numbers
    assert s.effectiveness == 0.5         # steps 0 and 1 carry a non-redundant claim
    assert s.first_bad_step == 1 and s.n_steps == 4


def test_chain_scores_undefined_parts_are_none():
    s = chain_scores("c", [step(0, verdict="neutral")], [[]], [Claim("pneumothorax", "negative")])
    assert s.completeness is None and s.factuality is None and s.effectiveness == 0.0


def test_first_bad_step_skips_steps_the_rules_abstained_on():
    from radprm.schemas.records import StepResult
    from radprm.validators.scoring import first_bad_step

    def step(i, label, verdict):
        return StepResult(chain_id="c", step_index=i, step="s", label=label, verdict=verdict, reasons=[],
                          evidence=[], score=0.5)

    assert first_bad_step([step(0, True, "supported"), step(1, False, "unsure"), step(2, False, "contradicted")]) == 2
    assert first_bad_step([step(0, False, "unsure")]) == -1

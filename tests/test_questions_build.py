"""Questions from findings: answers from the findings, balance, tasks, determinism, stable ids."""

from __future__ import annotations

import pytest

from radprm.errors import InputError
from radprm.miners.questions import (
    NONE_OPTION,
    build_questions,
    change_in,
    has_prior,
    question_id,
)
from radprm.schemas.records import Finding, Report

LABELS = {
    "Atelectasis": None, "Cardiomegaly": 1, "Consolidation": 0, "Edema": None, "Enlarged Cardiomediastinum": None,
    "Fracture": None, "Lung Lesion": None, "Lung Opacity": 1, "No Finding": 0, "Pleural Effusion": 0,
    "Pleural Other": None, "Pneumonia": -1, "Pneumothorax": 0, "Support Devices": None,
}
NORMAL = {k: (1 if k == "No Finding" else None) for k in LABELS} | {"Pneumothorax": 0, "Pleural Effusion": 0}


def report(
    text: str = "FINDINGS: Heart is enlarged. IMPRESSION: Cardiomegaly.", comparison: str | None = None
) -> Report:
    return Report(report_id="r1", text=text, comparison=comparison)


def finding(observation: str, sentence: str, assertion: str = "positive") -> Finding:
    return Finding(report_id="r1", observation=observation, mention=observation, assertion=assertion, sentence=sentence,
                   start=0, end=1, sentence_start=0, sentence_end=len(sentence))


def test_single_label_answers_follow_labels_and_alternate():
    qs = build_questions(report(), [], LABELS, tasks=["single"], per_report=6, seed=1)
    assert [q.answer for q in qs] == [["yes"], ["no"], ["yes"], ["no"], ["no"], ["no"]]
    for q in qs:
        assert q.options == ["yes", "no"] and q.task == "single"
    asked = " ".join(q.question.lower() for q in qs)
    assert "pneumonia" not in asked  # uncertain: no reliable answer
    assert "no finding" not in asked
    yes = {q.question for q in qs if q.answer == ["yes"]}
    assert yes == {"Is there cardiomegaly in this chest X-ray?", "Is there a lung opacity in this chest X-ray?"}


def test_single_label_negatives_mix_denied_and_unmentioned():
    qs = build_questions(report(), [], LABELS, tasks=["single"], per_report=20, seed=3)
    negatives = [q.question for q in qs if q.answer == ["no"]]
    denied = [q for q in negatives if any(x in q for x in ("consolidation", "pleural effusion", "pneumothorax"))]
    assert denied and len(denied) < len(negatives)
    # first two negatives: one denied, one never mentioned
    assert sum(q in denied for q in negatives[:2]) == 1


@pytest.mark.parametrize(
    ("labels", "answer"),
    [(LABELS, ["abnormal"]), (NORMAL, ["normal"]), ({"Pneumonia": -1, "Edema": 0}, None),
     ({"Support Devices": 1, "Edema": 0}, ["normal"])],
)
def test_binary_normal_abnormal(labels, answer):
    qs = build_questions(report(), [], labels, tasks=["binary"], per_report=3)
    if answer is None:
        assert qs == []  # only uncertain pathology: unclear, skipped
    else:
        assert [q.answer for q in qs] == [answer] and qs[0].options == ["normal", "abnormal"]


def test_multi_label_answer_is_positive_set_among_options():
    (q,) = build_questions(report(), [], LABELS, tasks=["multi_label"], per_report=1, seed=5)
    assert q.options[-1] == NONE_OPTION and len(q.options) == 5
    assert sorted(q.answer) == ["cardiomegaly", "lung opacity"]
    assert set(q.answer) <= set(q.options)
    assert "pneumonia" not in q.options


def test_multi_label_without_positives_answers_none_of_these():
    (q,) = build_questions(report(), [], NORMAL, tasks=["multi_label"], per_report=1)
    assert q.answer == [NONE_OPTION]


@pytest.mark.parametrize(
    ("sentence", "change"),
    [
        ("Stable cardiomegaly.", "unchanged"),
        ("Left pleural effusion has decreased in size.", "improved"),
        ("Increased right lower lobe opacity.", "worsened"),
        ("New left basilar atelectasis.", "new"),
        ("No new infiltrate. Heart size is normal.", None),
        ("Heart is enlarged.", None),
        ("Stable cardiomegaly with new effusion.", None),  # two different changes in one sentence: unclear
    ],
)
def test_change_wording(sentence, change):
    assert change_in(sentence) == change


def test_temporal_needs_prior_and_clear_wording():
    f = [finding("cardiomegaly", "Stable cardiomegaly."), finding("pleural_effusion", "Small effusion has decreased."),
         finding("pneumothorax", "No new pneumothorax.", "negative")]
    with_prior = report("FINDINGS: Stable cardiomegaly. Small effusion has decreased.", comparison="XXXX")
    qs = build_questions(with_prior, f, LABELS, tasks=["temporal"], per_report=5)
    got = {q.question: q.answer for q in qs}
    assert got == {
        "Compared with the prior study, how has the cardiomegaly changed?": ["unchanged"],
        "Compared with the prior study, how has the pleural effusion changed?": ["improved"],
    }
    assert all(q.options == ["improved", "worsened", "unchanged", "new"] for q in qs)
    no_prior = report("FINDINGS: Stable cardiomegaly.", comparison="None.")
    assert not has_prior(no_prior)
    assert build_questions(no_prior, f, LABELS, tasks=["temporal"], per_report=5) == []


def test_conflicting_changes_for_one_observation_are_skipped():
    f = [finding("cardiomegaly", "Stable cardiomegaly."), finding("cardiomegaly", "Cardiomegaly has increased.")]
    assert build_questions(report(comparison="prior exam"), f, LABELS, tasks=["temporal"], per_report=5) == []


def test_round_robin_over_tasks_and_per_report_cap():
    qs = build_questions(report(), [], LABELS, tasks=["binary", "single", "multi_label"], per_report=4, seed=0)
    assert [q.task for q in qs] == ["binary", "single", "multi_label", "single"]
    assert len({q.question_id for q in qs}) == 4


def test_questions_are_deterministic_given_seed():
    a = build_questions(report(), [], LABELS, per_report=6, seed=7)
    b = build_questions(report(), [], LABELS, per_report=6, seed=7)
    c = build_questions(report(), [], LABELS, per_report=6, seed=8)
    assert [q.model_dump() for q in a] == [q.model_dump() for q in b]
    assert [q.question_id for q in a] != [q.question_id for q in c]


def test_question_id_is_stable_hash_of_report_task_text_options():
    qid = question_id("r1", "single", "Is there edema?", ["yes", "no"])
    assert qid == question_id("r1", "single", "Is there edema?", ["yes", "no"])
    assert qid.startswith("q1:") and len(qid) == 23
    assert qid != question_id("r2", "single", "Is there edema?", ["yes", "no"])
    assert qid != question_id("r1", "single", "Is there edema?", ["no", "yes"])


def test_unknown_task_is_an_error():
    with pytest.raises(InputError, match="unknown task 'multi'") as err:
        build_questions(report(), [], LABELS, tasks=["multi"])
    assert err.value.field == "tasks"

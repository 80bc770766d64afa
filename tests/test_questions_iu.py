"""Questions on real IU X-ray reports: answers follow the extracted findings and agree with expert labels."""

from __future__ import annotations

import csv

import pytest
from conftest import IU_REPORTS

from radprm.miners.questions import NONE_OPTION, build_questions, label_phrase
from radprm.readers import read_reports

N_REPORTS = 300


@pytest.fixture(scope="module")
def iu_questions():
    if not IU_REPORTS.exists():
        pytest.skip(f"needs {IU_REPORTS} (the shared data folder beside the repo)")
    iu = IU_REPORTS
    from radprm.validators.findings import FindingsExtractor, report_labels

    out = []
    for report, findings in FindingsExtractor().extract_many(read_reports(iu, limit=N_REPORTS)):
        labels = report_labels(findings, labelset="chestxray14")
        out.append((report, findings, labels, build_questions(report, findings, labels, per_report=4, seed=0)))
    return out


def _label_of(question: str, labels: dict) -> str:
    return next(lab for lab in labels if question == f"Is there {label_phrase(lab)} in this chest X-ray?")


@pytest.mark.shared
def test_iu_answers_follow_the_findings(iu_questions):
    tasks = set()
    for report, _findings, labels, questions in iu_questions:
        assert questions, f"report {report.report_id} got no question"
        for q in questions:
            tasks.add(q.task)
            assert set(q.answer) <= set(q.options)
            if q.task == "single":
                value = labels[_label_of(q.question, labels)]
                assert value != -1
                assert q.answer == (["yes"] if value == 1 else ["no"])
            elif q.task == "binary":
                positive = any(v == 1 for lab, v in labels.items() if lab != "normal")
                assert q.answer == (["abnormal"] if positive else ["normal"])
            elif q.task == "multi_label":
                shown = {label_phrase(lab).removeprefix("a ").removeprefix("an "): v for lab, v in labels.items()}
                expected = [o for o in q.options if shown.get(o) == 1] or [NONE_OPTION]
                assert sorted(q.answer) == sorted(expected)
    assert tasks == {"single", "binary", "multi_label", "temporal"}


@pytest.mark.shared
def test_iu_single_label_answers_agree_with_expert_labels(iu_questions, gold_labels):
    gold = {row["uid"]: row for row in csv.DictReader(gold_labels.open(encoding="utf-8"))}
    yes = [0, 0]
    no = [0, 0]
    for report, _f, labels, questions in iu_questions:
        row = gold.get(report.report_id)
        for q in questions:
            if row is None or q.task != "single":
                continue
            truth = row[_label_of(q.question, labels)] == "1"
            bucket = yes if q.answer == ["yes"] else no
            bucket[0] += (q.answer == ["yes"]) == truth
            bucket[1] += 1
    # measured on the first 300 reports: yes 45/52, no 400/400
    assert yes[1] >= 30 and yes[0] / yes[1] >= 0.8
    assert no[1] >= 300 and no[0] / no[1] >= 0.97


@pytest.mark.shared
def test_iu_single_label_questions_are_balanced(iu_questions):
    yes = sum(q.answer == ["yes"] for *_, qs in iu_questions for q in qs if q.task == "single")
    no = sum(q.answer == ["no"] for *_, qs in iu_questions for q in qs if q.task == "single")
    abnormal = sum(any(v == 1 for lab, v in labels.items() if lab != "normal") for _r, _f, labels, _q in iu_questions)
    # every abnormal report gets at least one "yes"; "no" never outnumbers yes there
    assert yes >= abnormal
    assert no > 0

"""`radprm eval labels` and `radprm.evaluation.labels` on tiny fixtures with hand-computed scores.

Fixture arithmetic (reports a-d are scored; e is only predicted, f only in gold):
  Atelectasis: tp=a, fp=b, fn=c -> P=R=F1=0.5
  Effusion:    tp=a,c           -> P=R=F1=1
  Nodule:      tp=c, fn=b (pred -1 is not positive) -> P=1, R=0.5, F1=2/3
  micro: tp=4 fp=1 fn=2 -> P=0.8, R=2/3, F1=8/11
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError
from radprm.evaluation.labels import evaluate_labels

runner = CliRunner()


def test_eval_labels_per_label_and_micro_macro(fixtures):
    result = evaluate_labels(fixtures / "labels_pred.csv", fixtures / "labels_gold.csv")
    by = {s.label: s for s in result.labels}
    assert list(by) == ["Atelectasis", "Effusion", "Nodule"]  # 'normal' is gold-only: not scored
    assert (by["Atelectasis"].tp, by["Atelectasis"].fp, by["Atelectasis"].fn) == (1, 1, 1)
    assert by["Atelectasis"].f1 == pytest.approx(0.5)
    assert by["Effusion"].precision == by["Effusion"].recall == by["Effusion"].f1 == pytest.approx(1.0)
    assert by["Nodule"].precision == pytest.approx(1.0)
    assert by["Nodule"].recall == pytest.approx(0.5)
    assert by["Nodule"].f1 == pytest.approx(2 / 3)
    micro = result.micro
    assert (micro.tp, micro.fp, micro.fn) == (4, 1, 2)
    assert micro.precision == pytest.approx(0.8)
    assert micro.recall == pytest.approx(2 / 3)
    assert micro.f1 == pytest.approx(8 / 11)
    assert result.macro["f1"] == pytest.approx((0.5 + 1 + 2 / 3) / 3)
    assert result.macro["precision"] == pytest.approx((0.5 + 1 + 1) / 3)


def test_eval_labels_reports_rows_missing_on_either_side(fixtures):
    result = evaluate_labels(fixtures / "labels_pred.csv", fixtures / "labels_gold.csv")
    assert result.n_scored == 4
    assert result.missing_in_pred == ["f"]
    assert result.missing_in_gold == ["e"]


def test_eval_labels_subset_of_labels(fixtures):
    result = evaluate_labels(fixtures / "labels_pred.csv", fixtures / "labels_gold.csv", labels=["Nodule"])
    assert [s.label for s in result.labels] == ["Nodule"]
    assert result.micro.f1 == pytest.approx(2 / 3)


def test_eval_labels_unknown_label_names_file_and_label(fixtures):
    with pytest.raises(InputError) as err:
        evaluate_labels(fixtures / "labels_pred.csv", fixtures / "labels_gold.csv", labels=["Hernia"])
    assert err.value.field == "Hernia"
    assert "labels_pred.csv" in str(err.value)


def test_eval_labels_bad_value_names_file_row_field(fixtures):
    with pytest.raises(InputError) as err:
        evaluate_labels(fixtures / "labels_pred_bad_value.csv", fixtures / "labels_gold.csv")
    assert err.value.row == 2
    assert err.value.field == "Atelectasis"
    assert "labels_pred_bad_value.csv row 2, field 'Atelectasis'" in str(err.value)


def test_eval_labels_undefined_scores_are_none(tmp_path):
    pred = tmp_path / "p.csv"
    gold = tmp_path / "g.csv"
    pred.write_text("report_id,Hernia\nx,0\n")
    gold.write_text("uid,Hernia\nx,0\n")
    score = evaluate_labels(pred, gold).labels[0]
    assert score.precision is None and score.recall is None and score.f1 is None


def test_cli_eval_labels_table(fixtures):
    result = runner.invoke(
        app, ["eval", "labels", str(fixtures / "labels_pred.csv"), str(fixtures / "labels_gold.csv")]
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == ["label", "tp", "fp", "fn", "support", "P", "R", "F1"]
    micro = next(line for line in lines if line.startswith("micro"))
    assert micro.split() == ["micro", "4", "1", "2", "6", "0.800", "0.667", "0.727"]
    assert "missing in predictions: 1 (f)" in result.output
    assert "missing in gold: 1 (e)" in result.output


def test_cli_eval_labels_json(fixtures):
    result = runner.invoke(
        app, ["eval", "labels", str(fixtures / "labels_pred.csv"), str(fixtures / "labels_gold.csv"), "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["micro"]["f1"] == pytest.approx(8 / 11)
    assert data["missing_in_pred"] == {"count": 1, "ids": ["f"]}
    assert [row["label"] for row in data["labels"]] == ["Atelectasis", "Effusion", "Nodule"]


def test_cli_eval_labels_bad_value_is_one_error_line(fixtures):
    result = runner.invoke(
        app, ["eval", "labels", str(fixtures / "labels_pred_bad_value.csv"), str(fixtures / "labels_gold.csv")]
    )
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error: ")
    assert "row 2, field 'Atelectasis'" in result.output
    assert "Traceback" not in result.output


def test_cli_eval_labels_comma_separated_labels(fixtures):
    result = runner.invoke(
        app,
        [
            "eval",
            "labels",
            str(fixtures / "labels_pred.csv"),
            str(fixtures / "labels_gold.csv"),
            "--labels",
            "Effusion,Nodule",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert [row["label"] for row in json.loads(result.output)["labels"]] == ["Effusion", "Nodule"]


def test_eval_labels_mimic_chexpert_gold_layout_positive_and_uncertain(fixtures):
    # joined on study_id ('s50000002' is study 50000002); subject_id is a key, not a label
    # positive:  Atelectasis tp=1(...01) fp=1(...02, gold -1); Cardiomegaly tp=1(...03); Pneumonia fn=1(...04)
    # uncertain: Atelectasis fn=1(...02); Cardiomegaly tp=1(...01); Pneumonia tp=1(...02) fn=1(...03)
    result = evaluate_labels(fixtures / "labels_pred_chexpert.csv", fixtures / "labels_gold_chexpert.csv")
    assert [s.label for s in result.labels] == ["Atelectasis", "Cardiomegaly", "Pneumonia"]
    assert result.n_scored == 3 and result.missing_in_pred == ["50000004"] and result.missing_in_gold == ["50000005"]
    pos = {s.label: (s.tp, s.fp, s.fn) for s in result.labels}
    assert pos == {"Atelectasis": (1, 1, 0), "Cardiomegaly": (1, 0, 0), "Pneumonia": (0, 0, 0)}
    unc = {s.label: (s.tp, s.fp, s.fn) for s in result.uncertain}
    assert unc == {"Atelectasis": (0, 0, 1), "Cardiomegaly": (1, 0, 0), "Pneumonia": (1, 0, 1)}
    assert result.gold_has_uncertain
    assert result.uncertain_micro.f1 == pytest.approx(2 * 2 / (2 * 2 + 0 + 2))
    assert result.micro.f1 == pytest.approx(2 * 2 / (2 * 2 + 1 + 0))


def test_cli_eval_labels_chexpert_gold_prints_uncertain_table(fixtures):
    result = runner.invoke(
        app, ["eval", "labels", str(fixtures / "labels_pred_chexpert.csv"), str(fixtures / "labels_gold_chexpert.csv")]
    )
    assert result.exit_code == 0, result.output
    assert "uncertain class (-1):" in result.output
    data = json.loads(
        runner.invoke(
            app,
            [
                "eval",
                "labels",
                str(fixtures / "labels_pred_chexpert.csv"),
                str(fixtures / "labels_gold_chexpert.csv"),
                "--json",
            ],
        ).output
    )
    assert data["uncertain"]["micro"]["tp"] == 2 and data["uncertain"]["gold_has_uncertain"] is True


def test_eval_labels_openi_gold_without_uncertain_prints_no_uncertain_table(fixtures):
    result = evaluate_labels(fixtures / "labels_pred.csv", fixtures / "labels_gold.csv")
    assert not result.gold_has_uncertain and "uncertain class" not in result.render()

"""`radprm eval answers`: the extractor's answer key measured against gold labels, per task and label."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError
from radprm.miners.answer_key import AnswerKey, evaluate_answer_keys, guess_labelset

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"


@pytest.fixture(scope="module")
def extractor():
    from radprm.validators.findings import FindingsExtractor

    return FindingsExtractor()


def _own_labels(extractor, path: Path) -> Path:
    """The extractor's own chexpert labels as a gold file: its keys must then be 100% right."""
    from radprm.readers import read_reports
    from radprm.validators.findings import report_labels
    from radprm.validators.findings.labelsets import labelset_columns

    cols = labelset_columns("chexpert")
    lines = [",".join(["report_id", *cols])]
    for report in read_reports(FIXTURE):
        labels = report_labels(extractor.extract_report(report), labelset="chexpert")
        lines.append(",".join([report.report_id, *("" if labels[c] is None else str(labels[c]) for c in cols)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_eval_answers_is_zero_against_the_extractors_own_labels(extractor, tmp_path):
    gold = _own_labels(extractor, tmp_path / "own.csv")
    result = evaluate_answer_keys(FIXTURE, gold, extractor=extractor)
    assert result.labelset == "chexpert" and result.reports == 6
    assert set(result.tasks) == {"single", "binary", "multi_label"}
    assert all(t.questions > 0 and t.wrong == 0 for t in result.tasks.values())


def test_eval_answers_counts_a_planted_gold_disagreement_per_task_and_label(extractor, tmp_path):
    gold = _own_labels(extractor, tmp_path / "g.csv")
    lines = gold.read_text().splitlines()
    header = lines[0].split(",")
    col = header.index("Cardiomegaly")
    for k, line in enumerate(lines):
        cells = line.split(",")
        if cells[0] == "m3":  # a normal report whose gold now says cardiomegaly
            cells[col] = "1"
            cells[header.index("No Finding")] = ""
            lines[k] = ",".join(cells)
    gold.write_text("\n".join(lines) + "\n")
    result = evaluate_answer_keys(FIXTURE, gold, extractor=extractor, tasks=["single", "binary"])
    single = result.labels[("single", "Cardiomegaly")]
    assert single.wrong == 1 and single.key_neg_gold_pos == 1 and single.key_pos_gold_neg == 0
    assert result.tasks["single"].wrong == 1
    assert result.tasks["binary"].wrong == 1 and result.labels[("binary", "(normal/abnormal)")].key_neg_gold_pos == 1
    assert result.examples[0]["report_id"] == "m3"
    assert "single" in result.render() and "Cardiomegaly" in result.render()


def test_cli_eval_answers_json(extractor, tmp_path):
    gold = _own_labels(extractor, tmp_path / "own.csv")
    result = CliRunner().invoke(app, ["eval", "answers", str(FIXTURE), str(gold), "--json", "--tasks", "single"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["tasks"]["single"]["error_rate"] == 0.0 and data["reports"] == 6


def test_eval_answers_gold_matching_no_report_is_one_line_error(tmp_path):
    gold = tmp_path / "g.csv"
    gold.write_text("report_id,Cardiomegaly\nzz,1\n")
    result = CliRunner().invoke(app, ["eval", "answers", str(FIXTURE), str(gold), "--labelset", "chexpert"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "no report of the input is in the gold label file" in result.output


def test_answer_key_file_without_label_set_columns(tmp_path):
    gold = tmp_path / "g.csv"
    gold.write_text("report_id,Foo\nm1,1\n")
    with pytest.raises(InputError, match="no column of label set 'chexpert'"):
        AnswerKey.read(gold, "chexpert")
    with pytest.raises(InputError, match="shares no column"):
        guess_labelset(gold)

"""`radprm validate`, `radprm perturb` and `radprm eval steps` through the CLI, checked through the API."""

import csv
import json

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.quarantine import read_quarantine
from radprm.tables import read_table
from radprm.validators.batch import CHAIN_SCHEMA, STEP_SCHEMA

runner = CliRunner()

# Real IU X-ray report sentences (uids 1, 153, 389), enough for the chains fixtures.
REPORTS = [
    (
        "1",
        "The cardiac silhouette and mediastinum size are within normal limits. There is no pulmonary edema. "
        "There is no focal consolidation. There are no XXXX of a pleural effusion. There is no evidence of "
        "pneumothorax.",
        "Normal chest x-XXXX.",
    ),
    (
        "153",
        "There is a right IJ central venous catheter with tip overlying the inferior SVC. Cardiac silhouette is "
        "normal size. Normal mediastinal contour and pulmonary vasculature. There is a small right pleural "
        "effusion. Otherwise, lungs are without focal airspace disease.",
        "XXXX XXXX right pleural effusion.",
    ),
    (
        "389",
        "Cardiac and mediastinal contours are unremarkable. Pulmonary vascularity is within normal limits. No "
        "focal air space opacities, pleural effusion, or pneumothorax. There is a stable calcified granuloma in "
        "the right lower lobe. A hiatal hernia is present that is unchanged from the prior study.",
        "1. Clear lungs. 2. Stable hiatal hernia.",
    ),
]


@pytest.fixture
def reports_csv(tmp_path):
    path = tmp_path / "reports.csv"
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["report_id", "findings", "impression"])
        w.writerows(REPORTS)
    return path


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


@pytest.mark.parametrize("ext", ["parquet", "jsonl", "csv"])
def test_validate_writes_step_rows_with_contract_columns(tmp_path, reports_csv, fixtures, ext):
    out = tmp_path / f"steps.{ext}"
    chains_out = tmp_path / f"chains.{ext}"
    result = invoke(
        "validate",
        fixtures / "chains_iu_small.jsonl",
        "--reports",
        reports_csv,
        "--out",
        out,
        "--chains-out",
        chains_out,
    )
    assert result.exit_code == 0, result.output
    assert "validated 9 steps in 3 chains" in result.output
    rows = list(read_table(out, schema=STEP_SCHEMA))
    assert list(rows[0]) == ["chain_id", "step_index", "step", "label", "verdict", "reasons", "evidence", "score"]
    by_key = {(r["chain_id"], r["step_index"]): r for r in rows}
    bad = by_key[("c153", 2)]
    assert bad["label"] is False and bad["verdict"] == "contradicted" and bad["reasons"] == ["laterality_conflict"]
    assert bad["evidence"][0]["text"] == "There is a small right pleural effusion."
    assert by_key[("c389", 1)]["label"] is True
    chains = {r["chain_id"]: r for r in read_table(chains_out, schema=CHAIN_SCHEMA)}
    assert list(next(iter(chains.values()))) == CHAIN_SCHEMA.names
    assert chains["c153"]["first_bad_step"] == 2 and chains["c1"]["first_bad_step"] == -1
    assert chains["c153"]["answer_reward"] == 1.0


def test_validate_parquet_types_are_pinned(tmp_path, reports_csv, fixtures):
    out = tmp_path / "steps.parquet"
    assert invoke("validate", fixtures / "chains_iu_small.jsonl", "--reports", reports_csv, "--out", out).exit_code == 0
    schema = pq.read_schema(out)
    assert schema.names == STEP_SCHEMA.names
    # evidence has the shard steps' type (radprm.schemas.arrow.EVIDENCE_TYPE)
    evidence = "list<element: struct<text: string not null, start: int32 not null, end: int32 not null>>"
    assert [str(f.type) for f in schema] == [
        "string",
        "int32",
        "string",
        "bool",
        "string",
        "list<element: string>",
        evidence,
        "double",
    ]


def test_validate_bad_rows_are_quarantined_not_dropped(tmp_path, reports_csv, fixtures):
    out = tmp_path / "steps.jsonl"
    q = tmp_path / "q.jsonl"
    result = invoke(
        "validate", fixtures / "chains_bad_rows.jsonl", "--reports", reports_csv, "--out", out, "--quarantine", q
    )
    assert result.exit_code == 0, result.output
    reasons = sorted(r.reason_code for r in read_quarantine(q))
    assert reasons == sorted(
        [
            "missing_chain_id",
            "missing_chain_id",
            "empty_steps",
            "non_string_step",
            "non_string_step",
            "duplicate_chain_id",
            "malformed_json",
            "malformed_json",
            "missing_report_id",
            "bad_field_type",
            "unknown_report_id",
        ]
    )
    assert {r["chain_id"] for r in read_table(out)} == {"ok-1", "shard-style"}
    assert "quarantined: 11" in result.output


def test_validate_strict_exits_1_when_anything_is_quarantined(tmp_path, reports_csv, fixtures):
    result = invoke(
        "validate",
        fixtures / "chains_bad_rows.jsonl",
        "--reports",
        reports_csv,
        "--out",
        tmp_path / "s.jsonl",
        "--strict",
    )
    assert result.exit_code == 1 and "Traceback" not in result.output
    # the summary first (the tables are written), then one error line
    summary, error = result.output.strip().rsplit("\n", 1)
    assert "quarantined: 11" in summary and f"steps -> {tmp_path / 's.jsonl'}" in summary
    assert error.startswith("Error: ") and "11 row(s) quarantined and --strict is set" in error
    assert {r["chain_id"] for r in read_table(tmp_path / "s.jsonl")} == {"ok-1", "shard-style"}


def test_validate_every_chain_bad_is_an_error_naming_the_first_problem(tmp_path, reports_csv):
    chains = tmp_path / "chains.jsonl"
    chains.write_text('{"chain_id": "a", "report_id": "nope", "steps": ["No effusion."]}\n')
    result = invoke("validate", chains, "--reports", reports_csv, "--out", tmp_path / "s.jsonl")
    assert result.exit_code == 1
    error = result.output.strip().splitlines()[-1]
    assert error.startswith(f"Error: {chains}: no chain could be validated; quarantined: 1 (unknown_report_id=1)")
    assert f"first: unknown_report_id at {chains} row 1, field 'report_id'" in error


@pytest.mark.parametrize("name,message", [("missing.jsonl", "file not found"), ("chains.txt", "unknown chains format")])
def test_validate_file_level_errors_are_one_line(tmp_path, reports_csv, name, message):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("x")
    result = invoke("validate", tmp_path / name, "--reports", reports_csv, "--out", tmp_path / "s.jsonl")
    assert result.exit_code == 1
    assert message in result.output and len(result.output.strip().splitlines()) == 1


def test_validate_bad_output_extension(tmp_path, reports_csv, fixtures):
    result = invoke(
        "validate", fixtures / "chains_iu_small.jsonl", "--reports", reports_csv, "--out", tmp_path / "s.xlsx"
    )
    assert result.exit_code == 1 and "unknown table format" in result.output


def test_perturb_then_validate_then_eval(tmp_path, reports_csv, fixtures):
    pert = tmp_path / "pert.jsonl"
    result = invoke("perturb", fixtures / "chains_iu_small.jsonl", "--reports", reports_csv, "--out", pert, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert "laterality_swap: made" in result.output and "skipped" in result.output
    rows = list(read_table(pert))
    assert rows and all(r["step"] != r["original_step"] for r in rows)
    assert all(r["expected_label"] is False and r["steps"][-1] == r["step"] for r in rows)
    assert {"negation_flip", "laterality_swap", "fabricated_finding"} <= {r["operator"] for r in rows}
    pred = tmp_path / "pred.parquet"
    assert invoke("validate", pert, "--reports", reports_csv, "--out", pred).exit_code == 0
    result = invoke("eval", "steps", pred, pert, "--json")
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["missing_predictions"] == 0
    assert figures["detection"]["laterality_swap"]["rate"] == 1.0


def test_perturb_is_reproducible_with_a_seed(tmp_path, reports_csv, fixtures):
    outs = []
    for i in range(2):
        out = tmp_path / f"p{i}.jsonl"
        assert (
            invoke(
                "perturb", fixtures / "chains_iu_small.jsonl", "--reports", reports_csv, "--out", out, "--seed", 7
            ).exit_code
            == 0
        )
        outs.append(out.read_text())
    assert outs[0] == outs[1]


def test_perturb_unknown_operator_is_an_error(tmp_path, reports_csv, fixtures):
    result = invoke(
        "perturb",
        fixtures / "chains_iu_small.jsonl",
        "--reports",
        reports_csv,
        "--out",
        tmp_path / "p.jsonl",
        "--ops",
        "negation_flip,shuffle",
    )
    assert result.exit_code == 1
    assert "unknown operator(s) ['shuffle']" in result.output and "laterality_swap" in result.output


def test_eval_steps_missing_column_names_file_row_field(tmp_path):
    pred = tmp_path / "pred.jsonl"
    pred.write_text('{"chain_id": "a", "step_index": 0, "label": true}\n')
    exp = tmp_path / "exp.jsonl"
    exp.write_text('{"chain_id": "a", "step_index": 0}\n')
    result = invoke("eval", "steps", pred, exp)
    assert result.exit_code == 1
    assert "exp.jsonl row 1, field 'expected_label': missing column" in result.output

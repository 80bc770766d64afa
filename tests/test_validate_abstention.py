"""Calibrated abstention (`radprm.validators.abstention`, `radprm eval calibrate`): a bad label of a kind that
labelled sets found too often wrong becomes `unsure`; the table is counted from labelled sets. Made-up reports."""

import json

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError, RuleFileError
from radprm.evaluation.calibrate import calibrate_sets, flag_rows
from radprm.schemas.records import Chain, Report
from radprm.validators.abstention import (
    LOW_PRECISION,
    AbstentionTable,
    flag_kinds,
    load_abstention,
)
from radprm.validators.reasons import NOTES, REASONS
from radprm.validators.steps import VERDICT_SCORE, StepValidator, cites_report, step_flag_kinds

runner = CliRunner()

REPORT = Report(report_id="r1", text="Heart size is normal. No pleural effusion. Small right pleural effusion is "
                                     "not seen. Calcified granuloma in the left upper lobe.")
NEGATION_STEP = "A pleural effusion is present."
SIDE_STEP = "There is a calcified granuloma in the right upper lobe."
# negation conflicts were right 20 times in 50; everything else nearly always
DISTRUST_NEGATION = AbstentionTable(version="t1", threshold=0.75, prior_strength=10,
                                    counts={"*": (100, 90), "negation_conflict": (50, 20)})


def first_step(validator, step, report=REPORT):
    return validator.validate(Chain(chain_id="c", report_id=report.report_id, steps=[step]), report).steps[0]


@pytest.fixture(scope="module")
def validators():
    distrusting = StepValidator(abstention=DISTRUST_NEGATION)
    return distrusting, StepValidator(extractor=distrusting.extractor, abstention="none")


def test_flag_kinds_go_from_broad_to_narrow():
    assert flag_kinds(["negation_conflict"], False, False) == (
        "*", "negation_conflict", "negation_conflict/silent", "negation_conflict/silent/statement")
    assert flag_kinds(["severity_conflict", "laterality_conflict"], True, True) == (
        "*", "multi", "multi/citing", "multi/citing/inference")
    # notes are not faults: the kind is the fault's
    assert step_flag_kinds(["hedged", "negation_conflict"], "so the effusion is gone", False)[-1] == (
        "negation_conflict/silent/inference")
    assert cites_report(["Let me read it.", "The report describes a small effusion."])
    assert not cites_report(["I see a small effusion on the frontal view."])


def test_a_chain_that_cites_the_report_is_its_own_kind(validators):
    """The same step is abstained on in a chain that reads the report, decided in one that reads the film."""
    table = AbstentionTable(version="t3", threshold=0.75, prior_strength=10,
                            counts={"*": (100, 90), "negation_conflict": (40, 36),
                                    "negation_conflict/citing": (30, 12)})
    v = StepValidator(extractor=validators[0].extractor, abstention=table)
    citing = Chain(chain_id="c", report_id="r1", steps=["The report describes the heart and the pleura.",
                                                        NEGATION_STEP])
    film = Chain(chain_id="c", report_id="r1", steps=["I look at the heart and the pleura.", NEGATION_STEP])
    assert v.validate(citing, REPORT).steps[1].verdict == "unsure"
    assert v.validate(film, REPORT).steps[1].verdict == "contradicted"


def test_precision_is_shrunk_toward_the_broader_kind():
    t = DISTRUST_NEGATION
    overall = (90 + 2 * 0.5) / 102
    negation = (20 + 10 * overall) / (50 + 10)
    assert t.precision(("*", "negation_conflict", "negation_conflict/statement")) == pytest.approx(negation)
    # a kind the sets never saw takes its broader kind's estimate
    assert t.precision(("*", "temporal_conflict", "temporal_conflict/statement")) == pytest.approx(overall)
    assert t.abstains(("*", "negation_conflict")) and not t.abstains(("*", "temporal_conflict"))


def test_low_precision_fault_is_masked_as_unsure_with_a_note(validators):
    distrusting, rules_only = validators
    s = first_step(distrusting, NEGATION_STEP)
    assert (s.label, s.verdict, s.reasons) == (False, "unsure", ["negation_conflict", LOW_PRECISION])
    assert s.score == VERDICT_SCORE["unsure"]
    plain = first_step(rules_only, NEGATION_STEP)
    assert (plain.label, plain.verdict, plain.reasons) == (False, "contradicted", ["negation_conflict"])
    # a trusted fault stays decided
    side = first_step(distrusting, SIDE_STEP)
    assert (side.label, side.verdict) == (False, "contradicted") and LOW_PRECISION not in side.reasons
    assert LOW_PRECISION in NOTES and REASONS[LOW_PRECISION].verdict == "unsure"


def test_packaged_table_is_named_table_and_is_what_decides(validators):
    table = load_abstention("table")
    assert isinstance(table, AbstentionTable) and 0 < table.threshold < 1 and table.sets
    default = StepValidator(extractor=validators[0].extractor, abstention="table")
    assert default.abstention == table
    s = first_step(default, NEGATION_STEP)
    assert (s.verdict == "unsure") == table.abstains(step_flag_kinds(s.reasons, NEGATION_STEP, False))
    assert load_abstention("none") is None


def test_bad_table_files_are_one_error_naming_file_and_field(tmp_path):
    with pytest.raises(RuleFileError, match="abstention file not found") as exc:
        load_abstention(tmp_path / "missing.json")
    assert str(tmp_path / "missing.json") in str(exc.value)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"version": "1", "threshold": 0.7, "prior_strength": 5,
                               "counts": {"negation_conflict": [3, 5]}}))
    with pytest.raises(RuleFileError, match=r"right <= flagged"):
        load_abstention(bad)
    bad.write_text(json.dumps({"version": "1", "threshold": 0.7, "prior_strength": 5, "counts": {}, "tau": 1}))
    with pytest.raises(RuleFileError) as exc:
        load_abstention(bad)
    assert exc.value.field == "tau" and "allowed keys" in str(exc.value)


def _labelled_set(folder, steps):
    """steps: (step, truly good, predicted label, verdict, reasons)."""
    folder.mkdir()
    with (folder / "expected.jsonl").open("w") as exp, (folder / "pred.jsonl").open("w") as pred:
        for i, (step, good, label, verdict, reasons) in enumerate(steps):
            key = {"chain_id": f"{folder.name}-c{i}", "step_index": 0, "step": step}
            exp.write(json.dumps({**key, "good": good, "kind": "restate" if good else "negation", "scored": True,
                                  "split": "tune"}) + "\n")
            pred.write(json.dumps({**key, "label": label, "verdict": verdict, "reasons": reasons}) + "\n")
    return folder / "pred.jsonl", folder / "expected.jsonl"


NEG = ["negation_conflict"]
SIDE = ["laterality_conflict"]


def _sets(tmp_path):
    a = _labelled_set(tmp_path / "a", [
        ("Effusion is present.", True, False, "contradicted", NEG),
        # made unsure by a table when validated: still the rules' decided bad label
        ("Effusion is seen.", True, False, "unsure", [*NEG, LOW_PRECISION]),
        ("Effusion is there.", False, False, "contradicted", NEG),
        ("Left effusion.", False, False, "contradicted", SIDE),
        ("Clear lungs.", True, True, "supported", []),
        # unsure by the rules' own reasoning: not a decided label
        ("A large nodule.", True, False, "unsure", ["severity_not_in_report"]),
    ])
    b = _labelled_set(tmp_path / "b", [
        ("Effusion noted.", True, False, "contradicted", NEG),
        ("Effusion again.", True, False, "contradicted", NEG),
        ("Right effusion.", False, False, "contradicted", SIDE),
        ("Left granuloma.", False, False, "contradicted", SIDE),
    ])
    return a, b


def test_calibration_counts_decided_bad_labels_and_leaves_each_set_out(tmp_path, validators):
    a, b = _sets(tmp_path)
    rows = flag_rows(*a)
    assert [r.kinds is not None for r in rows] == [True, True, True, True, False, False]
    assert [r.unsure for r in rows] == [False, False, False, False, False, True]
    out = tmp_path / "table.json"
    report = calibrate_sets([a, b], out, threshold=0.75, prior_strength=2, version="t2")
    t = report.table
    assert t.counts["negation_conflict"] == (5, 1) and t.counts["laterality_conflict"] == (3, 3)
    assert t.counts["*"] == (8, 4) and [(s.name, s.flagged, s.right) for s in t.sets] == [("a", 4, 2), ("b", 4, 2)]
    fig = report.in_sample["a"].as_dict()
    assert (fig["abstained"], fig["abstained_truly_bad"], fig["bad_labels_kept"]) == (3, 1, 1)
    assert fig["precision_before"] == 0.5 and fig["precision_after"] == 1.0
    assert fig["coverage_before"] == pytest.approx(5 / 6) and fig["coverage_after"] == pytest.approx(2 / 6)
    # set b judged by a table counted on set a alone
    assert set(report.left_out) == {"a", "b"} and "each set left out" in report.render()
    # the kinds the table abstains on, with their counts: negation conflicts, not the side swaps
    below = {k for k, *_ in t.abstaining_kinds()}
    assert below == {"negation_conflict/silent/statement"}
    assert "negation_conflict/silent/statement" in report.render()
    assert report.left_out["b"].as_dict()["abstained"] == 2
    written = load_abstention(out)
    assert written.counts == t.counts and written.version == "t2"
    s = first_step(StepValidator(extractor=validators[0].extractor, abstention=out), NEGATION_STEP)
    assert s.verdict == "unsure" and LOW_PRECISION in s.reasons


def test_calibration_input_errors(tmp_path):
    a, b = _sets(tmp_path)
    with pytest.raises(InputError, match="no scored step of split 'test'"):
        flag_rows(*a, split="test")
    with pytest.raises(InputError, match="unknown split 'dev'") as exc:
        flag_rows(*a, split="dev")
    assert exc.value.field == "split"
    with pytest.raises(InputError, match="no labelled set given"):
        calibrate_sets([], version="x")
    with pytest.raises(InputError, match="threshold 1.5 is not between 0 and 1"):
        calibrate_sets([a], threshold=1.5, version="x")
    templated = tmp_path / "templated.jsonl"
    templated.write_text(json.dumps({"chain_id": "a-c0", "step_index": 0, "expected_label": False}) + "\n")
    with pytest.raises(InputError, match="needs a natural set"):
        flag_rows(a[0], templated)
    result = runner.invoke(app, ["eval", "calibrate", "--pred", str(a[0]), "--pred", str(b[0]),
                                 "--expected", str(a[1])])
    assert result.exit_code == 1 and "2 --pred but 1 --expected" in result.output.strip().splitlines()[-1]


def test_validate_file_refuses_a_table_beside_a_given_validator(tmp_path, validators):
    from radprm.validators.batch import validate_file

    out = tmp_path / "steps.jsonl"
    with pytest.raises(InputError, match="give the abstention table to the StepValidator") as exc:
        validate_file(tmp_path / "chains.jsonl", tmp_path / "reports.jsonl", out, validator=validators[0],
                      abstention="none")
    assert exc.value.field == "abstention" and not out.exists()


def test_cli_calibrate_then_validate_with_the_table(tmp_path):
    a, b = _sets(tmp_path)
    out = tmp_path / "table.json"
    result = runner.invoke(app, ["eval", "calibrate", "--pred", str(a[0]), "--expected", str(a[1]), "--pred",
                                 str(b[0]), "--expected", str(b[1]), "--out", str(out), "--threshold", "0.75",
                                 "--prior-strength", "2", "--version", "cli"])
    assert result.exit_code == 0, result.output
    assert "abstention table cli" in result.output and load_abstention(out).version == "cli"
    reports = tmp_path / "reports.jsonl"
    reports.write_text(json.dumps({"report_id": "r1", "text": REPORT.text}) + "\n")
    chains = tmp_path / "chains.jsonl"
    chains.write_text(json.dumps({"chain_id": "c1", "report_id": "r1", "steps": [NEGATION_STEP]}) + "\n")
    steps = tmp_path / "steps.jsonl"
    args = ["validate", str(chains), "--reports", str(reports), "--id-col", "report_id", "--text-col", "text",
            "--out", str(steps)]
    result = runner.invoke(app, [*args, "--abstention", str(out)])
    assert result.exit_code == 0, result.output
    assert "abstention table vcli" in result.output
    row = json.loads(steps.read_text().splitlines()[0])
    assert row["verdict"] == "unsure" and LOW_PRECISION in row["reasons"]
    result = runner.invoke(app, [*args, "--abstention", "none"])
    assert result.exit_code == 0 and "no abstention" in result.output
    assert json.loads(steps.read_text().splitlines()[0])["verdict"] == "contradicted"
    steps.unlink()
    result = runner.invoke(app, [*args, "--abstention", str(tmp_path / "nope.json")])
    assert result.exit_code == 1 and "abstention file not found" in result.output.strip().splitlines()[-1]
    assert not steps.exists()

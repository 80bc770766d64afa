"""The learned second opinion (`radprm.validators.doubt`, `radprm eval doubt`): features read from a step and
its report, the two sides' decisions, fitting, the file and the CLI. Made-up reports."""

import json

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError, RuleFileError
from radprm.evaluation.doubt import DoubtRow, fit_doubt_sets, fit_model, fit_side
from radprm.schemas.records import Chain, Report
from radprm.validators.abstention import load_abstention
from radprm.validators.doubt import DOUBTED, SUSPECTED, DoubtModel, ReportView, StepView, step_features
from radprm.validators.reasons import NOTES, REASONS
from radprm.validators.steps import VERDICT_SCORE, StepValidator

runner = CliRunner()

REPORT = Report(report_id="r1", text="Heart size is normal. No pleural effusion. Calcified granuloma in the left "
                                     "upper lobe. Mild degenerative changes of the spine.")
GOOD_STEP = "There is a calcified granuloma in the left upper lobe."
NEGATION_STEP = "A pleural effusion is present."
PACKAGED = load_abstention("model")


def spec_model(**weights):
    """The packaged feature spec with the given weights per side."""
    return DoubtModel.model_validate({**PACKAGED.model_dump(exclude={"sha256"}), "version": "t",
                                      "weights": {"good": {}, "bad": {}, **weights}})


def features(step, report=REPORT, *, verdict="supported", reasons=(), evidence=(), index=1, n=3):
    spec = PACKAGED.spec()
    view = ReportView.read(spec, report.text, ["Is there an effusion?"])
    return step_features(spec, StepView(step, index, n, verdict, list(reasons), 1.0, list(evidence), False, False),
                         view)


@pytest.fixture(scope="module")
def rules_only():
    return StepValidator(abstention="none")


def test_features_name_words_the_report_never_uses():
    same = features(GOOD_STEP, evidence=["Calcified granuloma in the left upper lobe."])
    swapped = features("There is a calcified granuloma in the right upper lobe.",
                       evidence=["Calcified granuloma in the left upper lobe."])
    # the side word the report never uses is novel, and it differs from the aligned sentence's
    assert {"famnov:side", "wnov:right", "diff:side", "nov:right"} <= set(swapped)
    assert not {"famnov:side", "diff:side"} & set(same)
    assert swapped["nov_frac"] > same["nov_frac"] == 0
    # a grade the aligned sentence does not give
    graded = features("There is a large calcified granuloma in the left upper lobe.",
                      evidence=["Calcified granuloma in the left upper lobe."])
    assert graded.get("only_step:grade") == 1.0 and graded.get("famnov:grade") == 1.0
    # the question's words are not novel (the step may repeat them), the report's stems neither
    assert "nov:effusion" not in features("Is there an effusion anywhere?")
    assert "nov:granuloma" not in features("Granulomas are calcified.")
    # the rules' decision is read too
    assert features(NEGATION_STEP, verdict="contradicted", reasons=["negation_conflict"])["r:negation_conflict"] == 1


def test_features_are_the_same_for_the_same_input():
    a = features("Mild degenerative changes are seen in the thoracic spine, unchanged.")
    assert a == features("Mild degenerative changes are seen in the thoracic spine, unchanged.")
    assert a["bias"] == 1.0 and 0 < a["tsr"] <= 1 and "fam:change" in a


def test_a_good_label_the_model_finds_probably_bad_becomes_unsure(rules_only):
    chain = Chain(chain_id="c", report_id="r1", steps=["Let me read the report.", GOOD_STEP])
    plain = rules_only.validate(chain, REPORT).steps[1]
    assert plain.label
    # weights that call every granuloma step bad, and trust every bad label
    suspicious = StepValidator(extractor=rules_only.extractor,
                               abstention=spec_model(good={"bias": -3.0, "nov:granuloma": 0, "w:left": 6.0},
                                                     bad={"bias": 5.0}))
    s = suspicious.validate(chain, REPORT).steps
    assert s[0] == rules_only.validate(chain, REPORT).steps[0]  # the plan step has no side word: P(bad) 0.05
    assert (s[1].label, s[1].verdict, s[1].reasons[-1], s[1].score) == (
        False, "unsure", SUSPECTED, VERDICT_SCORE["unsure"])
    assert s[1].evidence == plain.evidence  # the rules' evidence is kept for the reviewer
    # below flag_at nothing changes
    calm = StepValidator(extractor=rules_only.extractor, abstention=spec_model(good={"bias": -3.0, "w:left": 2.9}))
    assert calm.validate(chain, REPORT).steps[1] == plain


def test_a_bad_label_the_model_doubts_becomes_unsure_keeping_the_lean(rules_only):
    chain = Chain(chain_id="c", report_id="r1", steps=[NEGATION_STEP])
    plain = rules_only.validate(chain, REPORT).steps[0]
    assert (plain.label, plain.verdict) == (False, "contradicted")
    doubting = StepValidator(extractor=rules_only.extractor,
                             abstention=spec_model(bad={"bias": 2.0, "r:negation_conflict": -2.0}))
    s = doubting.validate(chain, REPORT).steps[0]  # P(bad) = 0.5 < keep_at 0.75
    assert (s.label, s.verdict, s.reasons) == (False, "unsure", ["negation_conflict", DOUBTED])
    trusting = StepValidator(extractor=rules_only.extractor, abstention=spec_model(bad={"bias": 2.0}))
    assert trusting.validate(chain, REPORT).steps[0] == plain  # P(bad) = 0.88: kept
    assert {SUSPECTED, DOUBTED} <= NOTES and REASONS[DOUBTED].verdict == REASONS[SUSPECTED].verdict == "unsure"


def test_the_model_says_which_features_made_its_lean():
    model = spec_model(good={"bias": -1.0, "w:left": 3.0, "famnov:side": 0.5, "first": -0.4})
    f = {"bias": 1.0, "w:left": 1.0, "famnov:side": 1.0, "first": 1.0}
    assert model.p_bad("good", f) > 0.5  # it leans bad: the features that pushed it there, strongest first
    assert model.explain("good", f) == [("w:left", 3.0), ("famnov:side", 0.5)]
    calm = {"bias": 1.0, "first": 1.0}
    assert model.explain("good", calm) == [("first", -0.4)]  # leans good: what pulled it there
    strongest = model.strongest("good", k=1)
    assert strongest == {"toward_bad": [("w:left", 3.0)], "toward_good": [("first", -0.4)]}


def test_the_packaged_model_is_the_default_and_names_itself():
    assert isinstance(PACKAGED, DoubtModel) and PACKAGED.weights["good"] and PACKAGED.weights["bad"]
    assert PACKAGED.sets and 0 < PACKAGED.flag_at <= 1 and 0 < PACKAGED.keep_at <= 1
    default = StepValidator(extractor=None)
    assert default.abstention == PACKAGED
    assert default.abstention_name == f"second opinion v{PACKAGED.version}"
    assert f"+doubt-{PACKAGED.version}+{PACKAGED.sha256[:12]}" in default.labelling_version
    assert StepValidator(abstention="none").abstention_name == "none"


def test_model_files_fail_with_one_error_naming_the_field(tmp_path):
    doc = PACKAGED.model_dump(exclude={"sha256"})
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**doc, "weights": {"good": {}}}))
    with pytest.raises(RuleFileError, match="no bad side"):
        load_abstention(bad)
    bad.write_text(json.dumps({**doc, "flag_at": 1.5}))
    with pytest.raises(RuleFileError) as exc:
        load_abstention(bad)
    assert exc.value.field == "flag_at" and str(bad) in str(exc.value)
    bad.write_text(json.dumps({**doc, "families": {"side": ["Left"]}}))
    with pytest.raises(RuleFileError, match="lower case"):
        load_abstention(bad)


def _rows(n, name="s"):
    """Good-side rows: feature `a` goes with bad steps, `b` with good ones."""
    rows = []
    for i in range(n):
        bad = i % 3 == 0
        rows.append(DoubtRow(name, "good", bad, {"bias": 1.0, "a" if bad else "b": 1.0, "noise": float(i % 2)}))
    return rows


def test_fitting_learns_which_features_go_with_wrong_labels():
    w = fit_side(_rows(60), l2=1.0, min_count=5)
    assert w["a"] > 1 and w["b"] < -1 and abs(w.get("noise", 0.0)) < 0.5  # (dropped when it is 0)
    # a feature seen in too few rows is dropped
    assert "rare" not in fit_side([*_rows(30), DoubtRow("s", "good", True, {"bias": 1.0, "rare": 1.0})],
                                  l2=1.0, min_count=5)
    model = fit_model(_rows(60), PACKAGED, l2=1.0, min_count=5, version="f")
    assert model.weights["bad"] == {} and model.sets == ["s"] and model.version == "f"
    assert model.p_bad("good", {"bias": 1, "a": 1}) > 0.85 > 0.15 > model.p_bad("good", {"bias": 1, "b": 1})


def _labelled_set(folder, steps, report_id="r1"):
    """steps: (step, truly good). One chain per step, its report REPORT."""
    folder.mkdir()
    with (folder / "expected.jsonl").open("w") as exp, (folder / "chains.jsonl").open("w") as ch:
        for i, (step, good) in enumerate(steps):
            cid = f"{folder.name}-c{i}"
            ch.write(json.dumps({"chain_id": cid, "report_id": report_id, "steps": [step]}) + "\n")
            exp.write(json.dumps({"chain_id": cid, "step_index": 0, "step": step, "good": good,
                                  "kind": "restate" if good else "laterality", "scored": True, "split": "tune"})
                      + "\n")
    return folder / "chains.jsonl", folder / "expected.jsonl"


STEPS = [(GOOD_STEP, True), ("The granuloma is calcified, in the left upper lobe.", True),
         ("Mild degenerative changes of the spine.", True), ("The heart size is normal.", True),
         ("There is a calcified granuloma in the left lower lobe.", False),
         ("Severe degenerative changes of the spine.", False)] * 3


def test_cli_fits_a_model_that_validate_reads(tmp_path):
    reports = tmp_path / "reports.jsonl"
    reports.write_text(json.dumps({"report_id": "r1", "text": REPORT.text}) + "\n")
    a = _labelled_set(tmp_path / "a", STEPS)
    b = _labelled_set(tmp_path / "b", STEPS)
    out = tmp_path / "doubt.json"
    reader = ["--id-col", "report_id", "--text-col", "text"]
    result = runner.invoke(app, ["eval", "doubt", "--chains", str(a[0]), "--expected", str(a[1]), "--chains",
                                 str(b[0]), "--expected", str(b[1]), "--reports", str(reports), "--out", str(out),
                                 "--min-count", "1", "--version", "cli", "--folds", "2", *reader])
    assert result.exit_code == 0, result.output
    assert "second opinion cli" in result.output and "out of fold" in result.output
    assert "strongest weights" in result.output
    model = load_abstention(out)
    assert isinstance(model, DoubtModel) and model.sets == ["a", "b"] and model.weights["good"]
    steps = tmp_path / "steps.jsonl"
    result = runner.invoke(app, ["validate", str(a[0]), "--reports", str(reports), *reader, "--out", str(steps),
                                 "--abstention", str(out)])
    assert result.exit_code == 0, result.output
    assert "second opinion vcli" in result.output
    assert len(steps.read_text().splitlines()) == len(STEPS)
    # one --expected short: one line naming the option
    result = runner.invoke(app, ["eval", "doubt", "--chains", str(a[0]), "--chains", str(b[0]), "--expected",
                                 str(a[1]), "--reports", str(reports), *reader])
    assert result.exit_code == 1 and "--expected" in result.output.strip().splitlines()[-1]


def test_fitting_refuses_what_it_cannot_learn_from(tmp_path):
    reports = tmp_path / "reports.jsonl"
    reports.write_text(json.dumps({"report_id": "r1", "text": REPORT.text}) + "\n")
    a = _labelled_set(tmp_path / "a", STEPS)
    kw = {"id_col": "report_id", "text_col": "text", "version": "x"}
    with pytest.raises(InputError, match="no labelled set"):
        fit_doubt_sets([], reports, **kw)
    for bad in ({"l2": 0.0}, {"min_count": 0}, {"folds": 1}):
        with pytest.raises(InputError, match="need l2 > 0"):
            fit_doubt_sets([a], reports, **kw, **bad)
    with pytest.raises(InputError, match="not a second-opinion model"):
        fit_doubt_sets([a], reports, spec="table", **kw)
    with pytest.raises(InputError, match="rules alone"):
        fit_doubt_sets([a], reports, validator=StepValidator(abstention="table"), **kw)
    other = _labelled_set(tmp_path / "other", STEPS, report_id="r9")  # its report is not in REPORTS
    with pytest.raises(InputError, match="no scored step was validated"):
        fit_doubt_sets([other], reports, **kw)


def test_sets_over_several_report_files_fit_together(tmp_path):
    """IU sets and sets over made-up reports are fitted in one model: each chain's report is looked up in every
    --reports file; an id two files hold is one error naming the id."""
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first.write_text(json.dumps({"report_id": "r1", "text": REPORT.text}) + "\n")
    second.write_text(json.dumps({"report_id": "r9", "text": REPORT.text}) + "\n")
    a = _labelled_set(tmp_path / "a", STEPS)
    b = _labelled_set(tmp_path / "b", STEPS, report_id="r9")  # its report is only in the second file
    kw = {"id_col": "report_id", "text_col": "text", "version": "x", "min_count": 1, "folds": 2}
    report = fit_doubt_sets([a, b], [first, second], **kw)
    assert set(report.in_sample) == {"a", "b"}
    assert report.model.sets == ["a", "b"]
    with pytest.raises(InputError, match="no scored step was validated"):
        fit_doubt_sets([b], [first], **kw)  # without the file holding r9
    with pytest.raises(InputError, match="'r1' is in more than one reports file"):
        fit_doubt_sets([a, b], [first, second, first], **kw)
    result = runner.invoke(app, ["eval", "doubt", "--chains", str(a[0]), "--expected", str(a[1]), "--chains",
                                 str(b[0]), "--expected", str(b[1]), "--reports", str(first), "--reports",
                                 str(second), "--id-col", "report_id", "--text-col", "text", "--min-count", "1",
                                 "--folds", "2"])
    assert result.exit_code == 0, result.output
    assert "out of fold" in result.output

"""Perturbation operators: each makes a real corruption or says why it cannot."""

import random

import pytest

from radprm.errors import InputError
from radprm.schemas.records import Report
from radprm.validators.align import Claim
from radprm.validators.perturb import (
    OPERATORS,
    Perturbation,
    PerturbContext,
    Perturber,
    Skip,
    fabricated_finding,
    laterality_swap,
    load_perturb_rules,
    location_change,
    negation_flip,
    parse_ops,
    severity_swap,
)


def ctx(step_claims, report_claims=(), report_text="", seed=0):
    return PerturbContext(
        list(step_claims), list(report_claims), report_text, random.Random(seed), load_perturb_rules()
    )


EFFUSION = Claim("pleural_effusion", "positive", laterality="right", severity="small", start=17, end=33)
NO_PTX = Claim("pneumothorax", "negative", start=12, end=24)


@pytest.mark.parametrize(
    "step,claims,expected",
    [
        ("There is no evidence of pneumothorax.", [NO_PTX], "There is pneumothorax."),
        ("No pneumothorax.", [NO_PTX], "Pneumothorax."),
        ("There is a small right pleural effusion.", [EFFUSION], "There is no small right pleural effusion."),
        ("Small right pleural effusion is seen.", [EFFUSION], "Small right pleural effusion is not seen."),
        ("Mild cardiomegaly.", [Claim("cardiomegaly", "positive", start=5, end=17)], "No mild cardiomegaly."),
    ],
)
def test_negation_flip(step, claims, expected):
    out = negation_flip(step, ctx(claims))
    assert isinstance(out, Perturbation) and out.step == expected


def test_negation_flip_expected_reason_follows_the_report():
    report_neg = [Claim("pneumothorax", "negative")]
    assert negation_flip("No pneumothorax.", ctx([NO_PTX], report_neg)).expected_reason == "negation_conflict"
    assert negation_flip("No pneumothorax.", ctx([NO_PTX], [])).expected_reason == "finding_not_in_report"


def test_negation_flip_skips_steps_without_a_finding():
    assert negation_flip("Let us look at the lungs.", ctx([])) == Skip("negation_flip", "no_finding")


def test_laterality_swap_and_its_skips():
    out = laterality_swap("There is a small right pleural effusion.", ctx([EFFUSION]))
    assert out.step == "There is a small left pleural effusion." and out.expected_reason == "laterality_conflict"
    assert (
        laterality_swap("Right-sided rib fractures.", ctx([Claim("fracture", "positive")])).step
        == "Left-sided rib fractures."
    )
    assert laterality_swap("No pneumothorax.", ctx([NO_PTX])).reason == "no_laterality"
    assert laterality_swap("Right greater than left effusions.", ctx([EFFUSION])).reason == "both_sides"
    bilateral = [Claim("pleural_effusion", "positive", laterality="left", sentence="Bilateral effusions.")]
    assert (
        laterality_swap("There is a small right pleural effusion.", ctx([EFFUSION], bilateral)).reason
        == "target_side_in_report"
    )


def test_severity_swap_moves_at_least_two_grades():
    out = severity_swap("There is a small right pleural effusion.", ctx([EFFUSION]))
    assert out.step == "There is a large right pleural effusion."
    out = severity_swap("The heart is mildly enlarged.", ctx([Claim("cardiomegaly", "positive")]))
    assert out.step == "The heart is severely enlarged."
    out = severity_swap("Minimal atelectasis.", ctx([Claim("atelectasis", "positive")]))
    assert out.step == "Extensive atelectasis."
    assert (
        severity_swap("No large effusion.", ctx([Claim("pleural_effusion", "negative")])).reason
        == "no_affirmed_finding"
    )
    assert severity_swap("Right pleural effusion.", ctx([EFFUSION])).reason == "no_severity"


def test_location_change_only_touches_lung_places():
    opacity = Claim("opacity", "positive", location="right lower lobe")
    out = location_change("Opacity in the right lower lobe.", ctx([opacity]))
    assert out.step == "Opacity in the right upper lobe." and out.expected_reason == "location_conflict"
    assert (
        location_change("Bibasilar atelectasis.", ctx([Claim("atelectasis", "positive")])).step
        == "Biapical atelectasis."
    )
    heart = [Claim("cardiomegaly", "positive")]
    assert location_change("Heart size is upper limits of normal.", ctx(heart)).reason == "no_lung_location"
    both = [Claim("opacity", "positive", location="right upper lobe")]
    assert (
        location_change("Opacity in the right lower lobe.", ctx([opacity], both)).reason == "target_location_in_report"
    )


def test_fabricated_finding_picks_an_unmentioned_observation():
    text = "FINDINGS: Heart size is normal. No pneumothorax."
    report = [Claim("cardiomegaly", "negative"), Claim("pneumothorax", "negative")]
    for seed in range(10):
        out = fabricated_finding("Heart size is normal.", ctx([], report, text, seed))
        assert out.expected_reason == "finding_not_in_report"
        assert "pneumothorax" not in out.step.lower() and "heart" not in out.step.lower().replace(
            "heart size is normal", ""
        )


def test_perturber_never_returns_an_unchanged_step_and_counts_skips():
    class FakeValidator:
        def step_claims(self, text):
            return []

    p = Perturber(FakeValidator(), seed=1)
    report = Report(report_id="r", text="FINDINGS: Normal.")
    for op in OPERATORS:
        out = p.perturb_step("Let us look at the lungs.", op, report, [])
        if isinstance(out, Perturbation):
            assert out.step != "Let us look at the lungs."
    assert sum(p.skipped.values()) + sum(p.made.values()) == len(OPERATORS)
    assert p.skip_summary()["laterality_swap"] == {"no_laterality": 1}


def test_parse_ops():
    assert parse_ops(None) == list(OPERATORS)
    assert parse_ops("negation_flip, severity_swap") == ["negation_flip", "severity_swap"]
    with pytest.raises(InputError, match="unknown operator"):
        parse_ops("flip")


# --- perturb_file: run kernel (quarantine sidecar, exit policy) and the shared id scan -----------------


class _TextOnlyValidator:
    """No extractor: enough for the operators that read only the text."""

    def step_claims(self, text):
        return []

    def report_claims(self, report):
        return []


def _files(tmp_path, bad_rows=0):
    import csv
    import json

    reports = tmp_path / "reports.csv"
    with reports.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["report_id", "findings", "impression"])
        w.writerow(
            ["r1", "Left subclavian port with tip in the SVC. Stable curvature of the spine.", "No acute disease."]
        )
    chains = tmp_path / "chains.jsonl"
    rows = [{"chain_id": "c1", "report_id": "r1", "steps": ["Left subclavian port with tip in the SVC."]}]
    rows += [{"chain_id": f"x{i}", "report_id": "nope", "steps": ["Stable curvature."]} for i in range(bad_rows)]
    chains.write_text("".join(json.dumps(r) + "\n" for r in rows) + ("{not json\n" if bad_rows else ""))
    return chains, reports


def test_perturb_file_writes_rows_and_renders_the_quarantine(tmp_path):
    from radprm.tables import read_table
    from radprm.validators.perturb import perturb_file

    chains, reports = _files(tmp_path, bad_rows=1)
    out = tmp_path / "p.jsonl"
    stale = tmp_path / "p.jsonl.quarantine.jsonl"
    stale.write_text("old\n")
    summary = perturb_file(chains, reports, out, ops="side_swap,tip_move", validator=_TextOnlyValidator())
    rows = list(read_table(out))
    assert {r["operator"] for r in rows} == {"side_swap", "tip_move"}
    assert summary.chains == 1 and summary.made == {"side_swap": 1, "tip_move": 1}
    assert "quarantined: 2" in summary.render() and "unknown_report_id=1" in summary.render()
    assert "old" not in stale.read_text()  # this run's records only


def test_perturb_file_exit_policy_is_the_run_kernel(tmp_path):
    from radprm.errors import RunError
    from radprm.validators.perturb import perturb_file

    chains, reports = _files(tmp_path, bad_rows=1)
    with pytest.raises(RunError, match="--strict") as err:
        perturb_file(chains, reports, tmp_path / "p.jsonl", strict=True, validator=_TextOnlyValidator())
    assert err.value.summary.chains == 1 and (tmp_path / "p.jsonl").exists()
    only_bad = tmp_path / "bad.jsonl"
    only_bad.write_text('{"chain_id": "x", "report_id": "nope", "steps": ["Stable curvature."]}\n')
    with pytest.raises(RunError, match="no chain could be perturbed.*unknown_report_id"):
        perturb_file(only_bad, reports, tmp_path / "q.jsonl", validator=_TextOnlyValidator())


def test_report_ids_scan_is_shared(tmp_path):
    from radprm.validators.chains_io import report_ids

    chains, _ = _files(tmp_path, bad_rows=2)
    ids, rows = report_ids(chains)
    assert ids == {"r1", "nope"} and rows == 4  # the malformed line is counted, not judged

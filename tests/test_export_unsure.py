"""Steps the validator could not decide (verdict `unsure`) in every export: `--unsure mask|good|bad`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError, RunError
from radprm.exports import export_chestx_reasoner, export_prm800k, export_trl
from radprm.review import apply_decisions
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item, make_steps

runner = CliRunner()


def write_shards(path: Path, items) -> Path:
    with ShardWriter(path, card=False) as writer:
        writer.write_many(items)
    return path


def rows(path: Path) -> dict[str, dict]:
    return {row["item_id"]: row for row in map(json.loads, path.read_text().splitlines())}


def bad_then_unsure() -> list[StepRecord]:
    """supported, contradicted, unsure: the unsure step comes after the first bad step."""
    steps = make_steps(3, unsure=[2])
    bad = steps[1].model_copy(update={"label": False, "verdict": "contradicted", "reasons": ["negation_conflict"]})
    return [steps[0], bad, steps[2]]


@pytest.fixture
def shards(tmp_path: Path) -> Path:
    return write_shards(tmp_path / "shards", [
        make_item(0, item_id="mid", steps=make_steps(3, unsure=[1]), first_bad_step=1),  # supported, unsure, neutral
        make_item(1, item_id="first", steps=make_steps(2, unsure=[0]), first_bad_step=0),  # unsure, neutral
        make_item(2, item_id="late", steps=bad_then_unsure(), first_bad_step=1),
        make_item(3, item_id="sure", steps=make_steps(2), first_bad_step=-1),
    ])


def test_make_steps_makes_unsure_steps_with_the_rules_lean():
    steps = make_steps(3, unsure=[1])
    assert [s.verdict for s in steps] == ["supported", "unsure", "neutral"]
    assert [s.label for s in steps] == [True, False, True] and steps[1].reasons == ["finding_not_in_report"]


def test_export_trl_unsure_mask_cuts_before_first_unsure_step_and_skips_chains_starting_with_one(shards, tmp_path):
    out = tmp_path / "t.jsonl"
    summary = export_trl(shards, out)
    got = rows(out)
    assert set(got) == {"mid", "late", "sure"}  # "first" has nothing left to label
    assert got["mid"]["labels"] == [True] and len(got["mid"]["completions"]) == 1
    assert got["late"]["labels"] == [True, False]  # cut before the unsure step that followed the bad one
    assert got["sure"]["labels"] == [True, True]
    assert (summary.items, summary.steps) == (3, 5)
    assert (summary.unsure_cut, summary.unsure_skipped, summary.unsure_masked) == (2 + 2 + 1, 1, 0)
    assert ("unsure steps (--unsure mask): 5 steps cut at the first unsure step, 1 chains skipped "
            "(first step unsure)") in summary.render()


@pytest.mark.parametrize("unsure,mid,first", [("good", [True, True, True], [True, True]),
                                               ("bad", [True, False, True], [False, True])])
def test_export_trl_unsure_good_or_bad_forces_the_label(shards, tmp_path, unsure, mid, first):
    out = tmp_path / "t.jsonl"
    summary = export_trl(shards, out, unsure=unsure)
    got = rows(out)
    assert got["mid"]["labels"] == mid and got["first"]["labels"] == first
    assert got["late"]["labels"] == [True, False, unsure == "good"]
    assert summary.unsure_forced == 3 and summary.unsure_cut == summary.unsure_skipped == 0
    assert summary.labels_changed == 0  # forcing is not the first-bad-step convention
    assert f"unsure steps (--unsure {unsure}): 3 labelled {unsure}" in summary.render()


def test_export_trl_unsure_mask_with_after_first_bad_bad_labels_later_unsure_steps_bad(shards, tmp_path):
    out = tmp_path / "t.jsonl"
    summary = export_trl(shards, out, after_first_bad="bad")
    got = rows(out)
    # after the first bad step the convention decides: no cut; before it, the chain still ends at the unsure step
    assert got["late"]["labels"] == [True, False, False] and got["mid"]["labels"] == [True]
    assert summary.labels_changed == 1 and summary.unsure_cut == 2 + 2


def test_export_trl_every_chain_starting_unsure_is_an_error(tmp_path):
    shards = write_shards(tmp_path / "shards", [make_item(0, steps=make_steps(2, unsure=[0]), first_bad_step=0)])
    with pytest.raises(RunError, match=r"no rows exported .*1 chains skipped \(first step unsure\)") as err:
        export_trl(shards, tmp_path / "t.jsonl")
    assert err.value.summary.unsure_skipped == 1 and (tmp_path / "t.jsonl").read_text() == ""


def test_export_prm800k_unsure_mask_rates_null(shards, tmp_path):
    out = tmp_path / "p.jsonl"
    summary = export_prm800k(shards, out)
    steps = rows(out)["mid"]["label"]["steps"]
    assert [s["completions"][0]["rating"] for s in steps] == [1, None, 0]
    assert [s["chosen_completion"] for s in steps] == [0, 0, 0]
    assert rows(out)["mid"]["label"]["finish_reason"] == "solution"
    late = rows(out)["late"]["label"]
    assert [s["completions"][0]["rating"] for s in late["steps"]] == [1, -1, None]
    assert late["finish_reason"] == "found_error"
    assert summary.unsure_masked == 3 and summary.items == 4
    assert "unsure steps (--unsure mask): 3 labels masked (null)" in summary.render()


def test_export_prm800k_unsure_bad_rates_minus_one(shards, tmp_path):
    out = tmp_path / "p.jsonl"
    export_prm800k(shards, out, unsure="bad")
    mid = rows(out)["mid"]["label"]
    assert [s["completions"][0]["rating"] for s in mid["steps"]] == [1, -1, 0]
    assert mid["finish_reason"] == "found_error" and mid["steps"][1]["chosen_completion"] is None


def test_export_chestx_reasoner_unsure_mask_keeps_the_step_with_null_label(shards, tmp_path):
    out = tmp_path / "c.jsonl"
    summary = export_chestx_reasoner(shards, out, with_labels=True)
    got = rows(out)
    assert len(got["mid"]["process"]) == 3 and got["mid"]["step_labels"] == [True, None, True]
    assert got["first"]["step_labels"] == [None, True]
    assert summary.unsure_masked == 3 and summary.items == 4


def test_export_chestx_reasoner_unsure_good_and_without_labels(shards, tmp_path):
    export_chestx_reasoner(shards, tmp_path / "g.jsonl", with_labels=True, unsure="good")
    assert rows(tmp_path / "g.jsonl")["mid"]["step_labels"] == [True, True, True]
    plain = export_chestx_reasoner(shards, tmp_path / "c.jsonl")
    assert "step_labels" not in rows(tmp_path / "c.jsonl")["mid"] and plain.unsure_masked == 0
    assert "unsure steps" not in plain.render()


def test_export_unsure_drop_cuts_at_first_decided_bad_step(shards, tmp_path):
    # masked steps are never the first bad step: "mid" keeps all its steps, "late" ends at its bad step
    export_chestx_reasoner(shards, tmp_path / "c.jsonl", with_labels=True, after_first_bad="drop")
    got = rows(tmp_path / "c.jsonl")
    assert got["mid"]["step_labels"] == [True, None, True] and got["late"]["step_labels"] == [True, False]


def test_export_unknown_unsure_value_is_input_error(shards, tmp_path):
    with pytest.raises(InputError, match="field 'unsure': unknown value 'maybe'"):
        export_prm800k(shards, tmp_path / "p.jsonl", unsure="maybe")
    assert not (tmp_path / "p.jsonl").exists()


@pytest.mark.parametrize("fmt", ["trl", "prm800k", "chestx-reasoner"])
def test_cli_export_unsure_option(shards, tmp_path, fmt):
    out = tmp_path / "x.jsonl"
    result = runner.invoke(app, ["export", fmt, str(shards), "--out", str(out), "--unsure", "bad"])
    assert result.exit_code == 0, result.output
    assert "unsure steps (--unsure bad): " in result.output or fmt == "chestx-reasoner"
    bad = runner.invoke(app, ["export", fmt, str(shards), "--out", str(out), "--unsure", "x"])
    assert bad.exit_code == 1 and bad.output.strip() == "Error: field 'unsure': unknown value 'x' (mask, good, bad) " \
        "(check --unsure)"


def test_export_use_reviews_decides_unsure_steps(shards, tmp_path):
    decision = {"item_id": "mid", "step_index": 1, "decision": "good", "note": "", "reviewer": "ana",
                "reviewed_at": "2026-11-23T18:30:00.000Z"}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(decision) + "\n")
    apply_decisions(shards, [path])
    out = tmp_path / "p.jsonl"
    summary = export_prm800k(shards, out, use_reviews=True)
    assert [s["completions"][0]["rating"] for s in rows(out)["mid"]["label"]["steps"]] == [1, 1, 0]
    assert summary.unsure_masked == 2  # "first" and "late" are still undecided

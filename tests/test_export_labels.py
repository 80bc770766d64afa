"""Label fusion in exports (`--labels`), its composition with `--unsure`, masks, soft scores, metadata, truncation."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError
from radprm.exports import export_chestx_reasoner, export_prm800k, export_trl
from radprm.exports.common import meta_path_for
from radprm.exports.labels import LABEL_SOURCES, fuse
from radprm.shards.testing import make_item
from radprm.shards.writer import ShardWriter

T, F, N = True, False, None


@pytest.mark.parametrize(
    ("report", "rollout", "expected"),
    [
        # report rollout   report rollout agree any-bad
        (T, T, (T, T, T, T)),
        (T, F, (T, F, N, F)),
        (F, T, (F, T, N, F)),
        (F, F, (F, F, F, F)),
        (N, T, (N, T, N, N)),
        (N, F, (N, F, N, F)),
        (T, N, (T, N, N, N)),
        (F, N, (F, N, N, F)),
    ],
)
def test_fusion_rules(report, rollout, expected):
    got = tuple(fuse(report, rollout, source) for source in ("report", "rollout", "agree", "any-bad"))
    assert got == expected
    assert fuse(report, rollout, "judge", judge=True) is True


def labelled_item(i: int, report: list[bool], rollout: list[bool | None], *, unsure: tuple[int, ...] = (),
                  scores: list[float | None] | None = None):
    """An item whose steps carry the given report labels (verdict unsure at `unsure`) and rollout labels."""
    base = make_item(i * 4)
    steps = []
    for k, (r, m) in enumerate(zip(report, rollout, strict=True)):
        step = base.steps[0].model_copy(update={
            "index": k, "text": f"step {k} of item {i}", "label": r,
            "verdict": "unsure" if k in unsure else ("supported" if r else "contradicted"),
            "mc_label": m, "mc_score": (scores or [None] * len(report))[k] if m is not None else None,
            "mc_rollouts": 4 if m is not None else 0})
        steps.append(step)
    first_bad = next((k for k, r in enumerate(report) if not r and k not in unsure), -1)
    return base.model_copy(update={"item_id": f"item{i}", "steps": steps, "first_bad_step": first_bad,
                                   "mc_model": "smollm2"})


def shards_of(tmp_path, items, name="shards"):
    with ShardWriter(tmp_path / name, card=False) as w:
        for item in items:
            w.write(item)
    return tmp_path / name


def rows(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_trl_agree_cuts_at_the_first_disagreement_and_keep_masks_it(tmp_path):
    item = labelled_item(0, [T, T, F, T], [T, F, F, T], scores=[1.0, 0.0, 0.0, 0.75])
    src = shards_of(tmp_path, [item])
    cut = export_trl(src, tmp_path / "cut.jsonl", labels="agree")
    (row,) = rows(tmp_path / "cut.jsonl")
    assert row["labels"] == [True] and "label_mask" not in row  # step 1 disagrees: the chain ends before it
    assert cut.unsure_cut == 3 and cut.fusion_masked == 0
    keep = export_trl(src, tmp_path / "keep.jsonl", labels="agree", masked="keep", soft=True)
    (row,) = rows(tmp_path / "keep.jsonl")
    assert row["label_mask"] == [True, False, True, True]
    assert row["labels"] == [True, False, False, True]
    assert row["mc_scores"] == [1.0, 0.0, 0.0, 0.75]
    assert keep.fusion_masked == 1
    assert set(row) == {"item_id", "prompt", "completions", "labels", "images", "split", "label_mask", "mc_scores"}


def test_any_bad_marks_a_step_bad_when_either_source_does(tmp_path):
    src = shards_of(tmp_path, [labelled_item(0, [T, T, T], [T, F, T])])
    export_prm800k(src, tmp_path / "p.jsonl", labels="any-bad")
    (row,) = rows(tmp_path / "p.jsonl")
    assert [s["completions"][0]["rating"] for s in row["label"]["steps"]] == [1, -1, 1]


def test_unsure_policy_composes_with_fusion(tmp_path):
    # step 1: the validator abstained (unsure); rollouts say good
    src = shards_of(tmp_path, [labelled_item(0, [T, F, T], [T, T, T], unsure=(1,))])
    got = {}
    for unsure in ("mask", "good", "bad"):
        out = tmp_path / f"c-{unsure}.jsonl"
        export_chestx_reasoner(src, out, labels="agree", unsure=unsure, with_labels=True)
        got[unsure] = rows(out)[0]["step_labels"]
    assert got == {"mask": [T, N, T], "good": [T, T, T], "bad": [T, N, T]}
    export_chestx_reasoner(src, tmp_path / "r.jsonl", labels="rollout", unsure="mask", with_labels=True)
    assert rows(tmp_path / "r.jsonl")[0]["step_labels"] == [T, T, T]  # --unsure is about the report labels


def test_export_metadata_records_the_label_choice(tmp_path):
    src = shards_of(tmp_path, [labelled_item(0, [T, F], [T, F]), labelled_item(1, [T, T], [F, T])])
    summary = export_trl(src, tmp_path / "t.parquet", labels="agree", masked="keep", soft=True)
    meta = json.loads(meta_path_for(tmp_path / "t.parquet").read_text())
    assert meta["labels"] == "agree" and "masked" in meta["labels_rule"]
    assert (meta["unsure"], meta["masked"], meta["soft"], meta["format"]) == ("mask", "keep", True, "trl")
    assert meta["counts"]["fusion_masked"] == summary.fusion_masked == 1
    assert meta["source_schema_version"] == "2"
    assert f"metadata: {summary.meta_path}" in summary.render()
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "t.parquet")
    assert table.column_names == ["item_id", "prompt", "completions", "labels", "images", "split", "label_mask",
                                  "mc_scores"]


def test_unknown_label_source_is_one_line_and_writes_nothing(tmp_path):
    src = shards_of(tmp_path, [labelled_item(0, [T], [T])])
    out = tmp_path / "x.jsonl"
    for fmt in ("trl", "prm800k", "chestx-reasoner"):
        result = CliRunner().invoke(app, ["export", fmt, str(src), "--out", str(out), "--labels", "vote"])
        assert result.exit_code == 1
        errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "unknown label source 'vote'" in errors[0] and "field 'labels'" in errors[0]
    assert list(tmp_path.glob("x.jsonl*")) == []
    assert set(LABEL_SOURCES) == {"report", "rollout", "agree", "any-bad", "judge"}


def test_rollout_labels_on_shards_without_rollouts_fail_before_writing(tmp_path):
    src = shards_of(tmp_path, [make_item(0), make_item(1)])
    with pytest.raises(InputError, match="no rollout labels"):
        export_trl(src, tmp_path / "t.jsonl", labels="agree")
    assert list(tmp_path.glob("t.jsonl*")) == []
    export_trl(src, tmp_path / "t.jsonl", labels="report")  # the default needs none


def test_judge_labels_come_from_the_sidecar_beside_the_shards(tmp_path):
    src = shards_of(tmp_path, [labelled_item(0, [T, T, F], [T, T, T])])
    with pytest.raises(InputError, match="no judge labels"):
        export_trl(src, tmp_path / "t.jsonl", labels="judge")
    sidecar = [{"item_id": "item0", "step_index": 0, "judge_label": "good"},
               {"item_id": "item0", "step_index": 1, "judge_label": "bad"}]
    (tmp_path / "judge_steps.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sidecar))
    export_chestx_reasoner(src, tmp_path / "c.jsonl", labels="judge", with_labels=True)
    assert rows(tmp_path / "c.jsonl")[0]["step_labels"] == [T, F, N]


def test_trl_export_whose_labels_would_be_truncated(tmp_path):
    """PRMTrainer cuts prompt + steps at max_length and the steps past the cut lose their labels silently:
    warn counts them, cut drops those steps from the row, quarantine skips the item."""
    long_steps = labelled_item(0, [T, T, T, T], [T, T, T, T])
    long_steps = long_steps.model_copy(update={"steps": [
        s.model_copy(update={"text": "word " * 60}) for s in long_steps.steps]})  # ~75 tokens per step (estimate)
    short = labelled_item(1, [T, F], [T, F])
    src = shards_of(tmp_path, [long_steps, short])
    prompt_tokens = -(-len(export_prompt(long_steps)) // 4)
    max_length = prompt_tokens + 2 * 76 + 10  # room for two of the four long steps

    warn = export_trl(src, tmp_path / "w.jsonl", max_length=max_length)
    assert warn.extra["truncated_labels"] == 2 and warn.extra["truncated_items"] == 1
    assert [len(r["labels"]) for r in rows(tmp_path / "w.jsonl")] == [4, 2]
    assert "WARNING: max_length" in warn.render() and "would drop 2 step labels" in warn.render()

    cut = export_trl(src, tmp_path / "c.jsonl", max_length=max_length, truncation="cut")
    assert [len(r["labels"]) for r in rows(tmp_path / "c.jsonl")] == [2, 2]
    assert cut.steps == 4 and json.loads(meta_path_for(tmp_path / "c.jsonl").read_text())["truncation"] == "cut"

    q = export_trl(src, tmp_path / "q.jsonl", max_length=max_length, truncation="quarantine")
    assert [r["item_id"] for r in rows(tmp_path / "q.jsonl")] == ["item1"]
    assert dict(q.quarantine.counts) == {"labels_truncated": 1}

    with pytest.raises(InputError, match="needs --max-length"):
        export_trl(src, tmp_path / "x.jsonl", truncation="cut")


def export_prompt(item):
    from radprm.exports import build_prompt

    return build_prompt(item)

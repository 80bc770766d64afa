"""Training-ready exports: image paths in all three formats (TRL `images` loads with `datasets`), the
report left out of image-style prompts, image-style chains citing the report kept out, per-split files."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.exports import export_chestx_reasoner, export_prm800k, export_trl
from radprm.exports.common import export_per_split, split_out
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item

IMAGES = ["img/1_frontal.png", "img/1_lateral.png"]


def image_steps(n: int = 3) -> list[StepRecord]:
    texts = ["The frontal view shows a normal cardiac silhouette.", "No pleural effusion is seen.",
             "No pneumothorax is seen.", "The lungs are clear."]
    return [StepRecord(index=k, text=texts[k % 4], label=True, verdict="supported", score=0.9) for k in range(n)]


@pytest.fixture
def shards(tmp_path):
    items = []
    for i in range(12):
        style = "image" if i % 3 else "report"
        steps = image_steps(1 + i % 3) if style == "image" and i % 4 else None
        kw = {"steps": steps, "first_bad_step": -1} if steps else {}
        # image-style items with make_steps' "the report states ..." steps cite the report
        items.append(make_item(i, style=style, split=["train", "validation", "test"][i % 3],
                               image_paths=IMAGES if i != 5 else [], patient_id=f"P{i}", **kw))
    out = tmp_path / "s"
    with ShardWriter(out, max_rows=50, card=False) as w:
        w.write_many(items)
    return out, items


def cites(item) -> bool:
    from radprm.miners.styles import report_mentions

    return any(report_mentions(s.text) for s in item.steps)


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_trl_export_has_images_and_loads_with_datasets(shards, tmp_path):
    import datasets

    directory, items = shards
    for suffix in (".jsonl", ".parquet"):
        out = tmp_path / f"trl{suffix}"
        export_trl(directory, out)
        kind = "json" if suffix == ".jsonl" else "parquet"
        ds = datasets.load_dataset(kind, data_files=str(out), split="train")
        assert {"prompt", "completions", "labels", "images"} <= set(ds.column_names)
        by_id = {i.item_id: i for i in items}
        for row in ds:
            assert row["images"] == by_id[row["item_id"]].image_paths


def test_image_style_prompts_leave_the_report_out_unless_asked(shards, tmp_path):
    directory, items = shards
    by_id = {i.item_id: i for i in items}
    rows = read_jsonl(export_trl(directory, tmp_path / "a.jsonl").out)
    styles = {by_id[r["item_id"]].style for r in rows}
    assert styles == {"image", "report"}
    for row in rows:
        has_report = "Report:" in row["prompt"]
        assert has_report == (by_id[row["item_id"]].style == "report")
    forced = read_jsonl(export_trl(directory, tmp_path / "b.jsonl", include_report=True).out)
    assert all("Report:" in r["prompt"] for r in forced)


def test_image_style_exports_hold_no_chain_citing_the_report(shards, tmp_path):
    directory, items = shards
    citing = {i.item_id for i in items if i.style == "image" and cites(i)}
    assert citing  # the fixture has some
    for export in (export_trl, export_prm800k, export_chestx_reasoner):
        summary = export(directory, tmp_path / f"{export.__name__}.jsonl")
        ids = {r["item_id"] for r in read_jsonl(summary.out)}
        assert not ids & citing
        assert summary.quarantine.counts.get("cites_report") == len(citing)
        kept = export(directory, tmp_path / f"{export.__name__}.keep.jsonl", report_mentions="keep")
        assert citing <= {r["item_id"] for r in read_jsonl(kept.out)}
        assert kept.cites_report_kept == len(citing) and "cite the report" in kept.render()


def test_prm800k_and_chestx_reasoner_keep_image_path(shards, tmp_path):
    directory, items = shards
    by_id = {i.item_id: i for i in items}
    for export in (export_prm800k, export_chestx_reasoner):
        rows = read_jsonl(export(directory, tmp_path / f"{export.__name__}.jsonl").out)
        assert rows and all(r["image_path"] == by_id[r["item_id"]].image_paths for r in rows)


def test_export_one_split_and_every_split(shards, tmp_path):
    directory, items = shards
    summary = export_chestx_reasoner(directory, tmp_path / "val.jsonl", split="validation",
                                     report_mentions="keep")
    ids = {r["item_id"] for r in read_jsonl(summary.out)}
    assert ids == {i.item_id for i in items if i.split == "validation"}
    assert summary.other_split == len(items) - len(ids)
    summaries = export_per_split(export_chestx_reasoner, directory, tmp_path / "all.jsonl", report_mentions="keep")
    assert [s.out.name for s in summaries] == ["all.test.jsonl", "all.train.jsonl", "all.validation.jsonl"]
    assert sum(s.items for s in summaries) == len(items)
    assert split_out(tmp_path / "x.parquet", "train").name == "x.train.parquet"


def test_cli_export_split_all_and_bad_report_mentions(shards, tmp_path):
    directory, _ = shards
    runner = CliRunner()
    result = runner.invoke(app, ["export", "prm800k", str(directory), "--out", str(tmp_path / "p.jsonl"),
                                 "--split", "all"])
    assert result.exit_code == 0, result.output
    written = {p.name for p in tmp_path.glob("p.*.jsonl") if "quarantine" not in p.name}
    assert written == {"p.train.jsonl", "p.validation.jsonl", "p.test.jsonl"}
    assert "cites_report" in (tmp_path / "p.test.jsonl.quarantine.jsonl").read_text()
    result = runner.invoke(app, ["export", "trl", str(directory), "--out", str(tmp_path / "t.jsonl"),
                                 "--report-mentions", "maybe"])
    assert result.exit_code == 1 and "unknown value 'maybe'" in result.output
    assert len(result.output.strip().splitlines()) == 1

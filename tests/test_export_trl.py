import json
from pathlib import Path

import pytest

from radprm.errors import InputError
from radprm.exports import TokenCounter, export_trl
from radprm.exports.trl import dropped_labels
from radprm.quarantine import read_quarantine
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item, make_items

LOCAL_TOKENIZER = Path("~/.cache/radprm/models/smollm2-135m-instruct").expanduser()


def step(k, label=True, verdict="supported"):
    return StepRecord(index=k, text=f"step {k} text", label=label, verdict=verdict, score=0.5)


@pytest.fixture
def shards(tmp_path):
    out = tmp_path / "s"
    items = [
        make_item(
            0, steps=[step(0), step(1, False, "contradicted"), step(2), step(3, verdict="neutral")], first_bad_step=1
        ),
        make_item(1, steps=[step(0), step(1)], first_bad_step=-1),
        make_item(2, steps=[], first_bad_step=-1),
    ]
    with ShardWriter(out, card=False) as w:
        w.write_many(items)
    return out


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_trl_rows_have_prompt_completions_labels(shards, tmp_path):
    summary = export_trl(shards, tmp_path / "t.jsonl")
    rows = read_jsonl(tmp_path / "t.jsonl")
    assert [r["labels"] for r in rows] == [[True, False, True, True], [True, True]]
    assert rows[0]["completions"] == ["step 0 text", "step 1 text", "step 2 text", "step 3 text"]
    item = make_item(0)
    assert rows[0]["prompt"].startswith("Report:\n" + item.report_text) and item.question in rows[0]["prompt"]
    assert summary.items == 2 and summary.steps == 6


def test_export_trl_quarantines_items_without_steps(shards, tmp_path):
    summary = export_trl(shards, tmp_path / "t.jsonl")
    assert summary.quarantine.counts == {"no_steps": 1}
    (record,) = read_quarantine(tmp_path / "t.jsonl.quarantine.jsonl")
    assert record.record_id == make_item(2).item_id and record.reason_code == "no_steps"


@pytest.mark.parametrize(
    ("convention", "labels", "dropped", "changed"),
    [
        ("keep", [True, False, True, True], 0, 0),
        ("drop", [True, False], 2, 0),
        ("bad", [True, False, False, False], 0, 2),
    ],
)
def test_export_trl_first_bad_step_convention(shards, tmp_path, convention, labels, dropped, changed):
    summary = export_trl(shards, tmp_path / "t.jsonl", after_first_bad=convention)
    assert read_jsonl(tmp_path / "t.jsonl")[0]["labels"] == labels
    assert (summary.steps_dropped, summary.labels_changed) == (dropped, changed)


def test_export_trl_parquet_loads_with_datasets(shards, tmp_path):
    datasets = pytest.importorskip("datasets")
    export_trl(shards, tmp_path / "t.parquet")
    export_trl(shards, tmp_path / "t.jsonl")
    for name, kind in (("t.parquet", "parquet"), ("t.jsonl", "json")):
        ds = datasets.load_dataset(kind, data_files=str(tmp_path / name), split="train", cache_dir=str(tmp_path / kind))
        assert set(ds.column_names) >= {"prompt", "completions", "labels"}
        assert ds[0]["labels"] == [True, False, True, True]
        assert ds.features["labels"].feature.dtype == "bool"


def test_dropped_labels_counts_steps_past_the_cut():
    assert dropped_labels(10, [5, 5, 5], 20) == 1
    assert dropped_labels(10, [5, 5, 5], 25) == 0
    assert dropped_labels(30, [5, 5], 20) == 2


def test_export_trl_max_length_estimate_warns(shards, tmp_path):
    summary = export_trl(shards, tmp_path / "t.jsonl", max_length=60)
    assert summary.extra["truncated_labels"] > 0
    note = summary.render()
    assert "WARNING" in note and "4 characters per token" in note


def test_export_trl_with_local_tokenizer(shards, tmp_path):
    if not (LOCAL_TOKENIZER / "tokenizer.json").is_file():
        pytest.skip(f"needs a converted local tokenizer at {LOCAL_TOKENIZER}")
    counter = TokenCounter(LOCAL_TOKENIZER)
    assert counter.count(["hello world"])[0] in (2, 3)
    summary = export_trl(shards, tmp_path / "t.jsonl", max_length=10_000, tokenizer=LOCAL_TOKENIZER)
    assert summary.extra["truncated_labels"] == 0 and str(LOCAL_TOKENIZER) in summary.render()


def test_export_trl_bad_tokenizer_path_names_field(shards, tmp_path):
    with pytest.raises(InputError) as exc:
        export_trl(shards, tmp_path / "t.jsonl", max_length=10, tokenizer=tmp_path)
    assert exc.value.field == "tokenizer" and "tokenizer.json" in str(exc.value)


def test_export_trl_bad_suffix_and_convention(shards, tmp_path):
    with pytest.raises(InputError, match="jsonl or .parquet"):
        export_trl(shards, tmp_path / "t.csv")
    with pytest.raises(InputError, match="keep, drop, bad"):
        export_trl(shards, tmp_path / "t.jsonl", after_first_bad="later")
    assert not (tmp_path / "t.jsonl").exists()


def test_export_trl_no_report_prompt(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, card=False) as w:
        w.write_many(make_items(3, start=1))
    export_trl(out, tmp_path / "t.jsonl", include_report=False)
    assert all(r["prompt"].startswith("Question: ") for r in read_jsonl(tmp_path / "t.jsonl"))

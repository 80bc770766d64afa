import json
import subprocess
import sys
import textwrap

import duckdb
import pandas as pd
import polars as pl
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest

from radprm.errors import SchemaError, ShardError
from radprm.quarantine import QuarantineSink
from radprm.schemas.shards import SCHEMA_VERSION, SCHEMA_VERSION_KEY
from radprm.shards import ShardWriter, load_manifest, read_items, verify
from radprm.shards.testing import make_item, make_items


def _write(out, items, **kw):
    with ShardWriter(out, **kw) as w:
        w.write_many(items)
    return w


def test_write_rotates_by_rows_and_commits_in_order(tmp_path):
    commits = []
    w = _write(tmp_path / "s", make_items(25), max_rows=10, on_commit=commits.append, row_group_rows=4)
    assert [c.rows for c in commits] == [10, 10, 5]
    assert [c.shard for c in commits] == ["shard-00000.parquet", "shard-00001.parquet", "shard-00002.parquet"]
    assert [i for c in commits for i in c.item_ids] == [it.item_id for it in make_items(25)]
    manifest = load_manifest(tmp_path / "s")
    assert manifest.rows == 25 and [s.sha256 for s in manifest.shards] == [c.sha256 for c in commits]
    assert w.stats.written == 25


def test_on_commit_sees_shard_on_disk_and_in_manifest(tmp_path):
    seen = []

    def on_commit(info):
        assert info.path.is_file()
        names = [s.name for s in load_manifest(tmp_path / "s").shards]
        seen.append(info.shard in names)

    _write(tmp_path / "s", make_items(5), max_rows=2, on_commit=on_commit)
    assert seen == [True, True, True]


def test_write_rotates_by_bytes(tmp_path):
    items = make_items(300)
    _write(tmp_path / "s", items, max_bytes=40_000, row_group_rows=50)
    manifest = load_manifest(tmp_path / "s")
    assert len(manifest.shards) > 2
    # approximate bound: the compression-ratio estimate and the footer may overshoot a little
    assert all(s.bytes <= 40_000 * 1.25 for s in manifest.shards), [s.bytes for s in manifest.shards]
    assert manifest.rows == 300


def test_flush_commits_now_and_returns_commit_info(tmp_path):
    with ShardWriter(tmp_path / "s") as w:
        w.write(make_item(1))
        info = w.flush()
        assert info.rows == 1 and info.item_ids == [make_item(1).item_id]
        assert w.flush() is None
        assert verify(tmp_path / "s").ok


def test_read_items_round_trip(tmp_path):
    items = make_items(30)
    _write(tmp_path / "s", items, max_rows=7)
    assert list(read_items(tmp_path / "s")) == items


def test_all_null_column_round_trips(tmp_path):
    items = make_items(6, stage=None, plan=None, seed=None, server_host=None, answer_reward=None, rules_version=None)
    _write(tmp_path / "s", items)
    assert list(read_items(tmp_path / "s")) == items
    schema = pq.read_schema(next((tmp_path / "s" / "data").glob("shard-*.parquet")))
    assert str(schema.field("stage").type) == "string"
    assert schema.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()


def test_empty_steps_and_lists_round_trip(tmp_path):
    items = [make_item(0, steps=[], options=[], image_paths=[], prompts=[], model_answer=[])]
    _write(tmp_path / "s", items)
    assert list(read_items(tmp_path / "s")) == items


def test_shards_readable_by_pandas_polars_duckdb_pyarrow_and_datasets(tmp_path):
    items = make_items(20)
    out = tmp_path / "s"
    _write(out, items, max_rows=8)
    ids = sorted(i.item_id for i in items)
    glob = str(out / "data" / "shard-*.parquet")

    df = pd.read_parquet(out / "data")
    assert sorted(df.item_id) == ids
    assert list(df.sort_values("item_id").steps.iloc[0][0].keys())[:3] == ["index", "text", "label"]

    pdf = pl.read_parquet(glob)
    assert sorted(pdf["item_id"].to_list()) == ids and pdf["steps"].list.len().sum() == sum(len(i.steps) for i in items)

    got = duckdb.sql(f"SELECT item_id, len(steps) AS n FROM read_parquet('{glob}') ORDER BY item_id").fetchall()
    assert [g[0] for g in got] == ids

    dataset = pads.dataset(out / "data", format="parquet")
    assert dataset.count_rows() == 20 and sorted(dataset.to_table(columns=["item_id"])["item_id"].to_pylist()) == ids

    datasets = pytest.importorskip("datasets")
    hf = datasets.load_dataset("parquet", data_files=glob, split="train", cache_dir=str(tmp_path / "hf"))
    assert sorted(hf["item_id"]) == ids
    first = hf.filter(lambda r: r["item_id"] == items[3].item_id)[0]
    assert first["steps"][0]["text"] == items[3].steps[0].text
    # the card's YAML header makes the bare directory loadable too
    hf2 = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf2"))
    assert sorted(hf2["item_id"]) == ids


def test_resume_continues_numbering_and_skips_duplicates(tmp_path):
    out = tmp_path / "s"
    _write(out, make_items(10), max_rows=4)
    before = {s.name: s.sha256 for s in load_manifest(out).shards}
    commits = []
    w = _write(out, make_items(15), max_rows=4, on_commit=commits.append)  # items 0..9 again + 5 new
    assert w.stats.duplicates_skipped == 10 and w.stats.written == 5
    assert [c.shard for c in commits] == ["shard-00003.parquet", "shard-00004.parquet"]
    manifest = load_manifest(out)
    assert {s.name: s.sha256 for s in manifest.shards if s.name in before} == before
    assert manifest.rows == 15 and manifest.duplicates_skipped == 10 and len(manifest.runs) == 2
    assert sorted(i.item_id for i in read_items(out)) == sorted(i.item_id for i in make_items(15))
    assert verify(out).ok


def test_duplicate_within_one_session_is_skipped(tmp_path):
    with ShardWriter(tmp_path / "s") as w:
        assert w.write(make_item(1)) is True
        assert w.write(make_item(1)) is False
    assert w.stats.duplicates_skipped == 1 and load_manifest(tmp_path / "s").rows == 1


def test_seen_ids_is_a_live_view_of_the_on_disk_index_not_a_python_set(tmp_path):
    items = make_items(12)
    _write(tmp_path / "s", items[:8], max_rows=5)
    with ShardWriter(tmp_path / "s", max_rows=5) as w:
        seen = w.seen_ids
        assert not isinstance(seen, (set, frozenset))
        assert len(seen) == 8 and items[0].item_id in seen and items[9].item_id not in seen
        w.write_many(items[8:])
        assert len(seen) == 12 and items[9].item_id in seen  # live: the open shard's ids too
        assert list(seen) == sorted(i.item_id for i in items) and seen == {i.item_id for i in items}


def test_stray_shard_repeating_a_committed_id_is_refused(tmp_path):
    out = tmp_path / "s"
    _write(out, make_items(8), max_rows=4)
    data = out / "data"
    (data / "shard-00009.parquet").write_bytes((data / "shard-00001.parquet").read_bytes())
    for _ in range(2):  # the same error again, not "another ShardWriter": the refused writer released the lock
        with pytest.raises(ShardError, match="repeats 4 item ids already committed"):
            ShardWriter(out)


def test_exception_inside_writer_leaves_no_partial_shard(tmp_path):
    out = tmp_path / "s"
    commits = []
    with pytest.raises(RuntimeError):
        with ShardWriter(out, max_rows=10, row_group_rows=3, on_commit=commits.append) as w:
            w.write_many(make_items(14))  # one shard committed, a temp file open with 4 rows
            assert list((out / "data").glob(".shard-*.tmp"))
            raise RuntimeError("boom")
    assert len(commits) == 1
    assert not list((out / "data").glob(".*.tmp"))
    assert [p.name for p in (out / "data").iterdir()] == ["shard-00000.parquet"]
    assert verify(out).ok and len(list(read_items(out))) == 10
    # the aborted items were not committed, so a resume writes them
    w = _write(out, make_items(14), max_rows=10)
    assert w.stats.written == 4 and w.stats.duplicates_skipped == 10


def test_killed_writer_process_leaves_no_visible_partial_shard(tmp_path):
    out = tmp_path / "s"
    script = textwrap.dedent(
        f"""
        import os, signal
        from radprm.shards import ShardWriter
        from radprm.shards.testing import make_items
        w = ShardWriter({str(out)!r}, max_rows=10, row_group_rows=2)
        w.write_many(make_items(15))
        os.kill(os.getpid(), signal.SIGKILL)  # mid-shard: 5 rows in the temp file, no cleanup
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True)
    assert proc.returncode == -9
    assert list((out / "data").glob(".shard-*.tmp"))  # the partial file exists, hidden
    assert [p.name for p in (out / "data").glob("shard-*.parquet")] == ["shard-00000.parquet"]
    assert len(list(read_items(out))) == 10
    assert pd.read_parquet(out / "data").shape[0] == 10  # glob readers ignore the dot-file
    report = verify(out)
    assert [p.kind for p in report.problems] == ["stale_temp"]
    w = _write(out, make_items(15), max_rows=10)
    assert w.stats.stale_temps_removed == [".shard-00001.parquet.tmp"]
    assert w.stats.written == 5 and verify(out).ok


def test_shard_renamed_but_not_in_manifest_is_adopted_on_resume(tmp_path):
    out = tmp_path / "s"
    _write(out, make_items(8), max_rows=4)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["shards"] = manifest["shards"][:1]  # as if the crash came between rename and manifest update
    (out / "manifest.json").write_text(json.dumps(manifest))
    w = _write(out, make_items(10), max_rows=4)
    assert w.stats.recovered_shards == ["shard-00001.parquet"]
    assert w.stats.written == 2 and w.stats.duplicates_skipped == 8
    entries = load_manifest(out).shards
    assert [s.recovered for s in entries] == [False, True, False]
    assert verify(out).ok


def test_second_writer_on_same_directory_is_refused(tmp_path):
    with ShardWriter(tmp_path / "s"):
        with pytest.raises(ShardError, match="another ShardWriter"):
            ShardWriter(tmp_path / "s")


def test_invalid_dict_item_raises_schema_error_naming_field(tmp_path):
    bad = make_item(1).model_dump()
    bad["completeness"] = 1.7
    with ShardWriter(tmp_path / "s") as w:
        with pytest.raises(SchemaError) as exc:
            w.write(bad)
    assert exc.value.field == "completeness" and "completeness" in str(exc.value)


def test_invalid_dict_item_is_quarantined_with_reason_when_sink_given(tmp_path):
    bad = make_item(1).model_dump()
    bad["task"] = "essay"
    sink = QuarantineSink()
    with ShardWriter(tmp_path / "s", quarantine=sink) as w:
        assert w.write(bad) is False
        assert w.write(make_item(2).model_dump()) is True
    assert sink.counts["invalid_item"] == 1 and sink.records[0].field == "task"
    assert sink.records[0].record_id == make_item(1).item_id
    assert w.stats.quarantined == 1 and load_manifest(tmp_path / "s").rows == 1


def test_run_meta_is_stored_in_manifest(tmp_path):
    meta = {"model": "smol", "prompts": [{"name": "plan", "version": 1, "sha": "ab"}], "rules_version": "r1"}
    _write(tmp_path / "s", make_items(2), run_meta=meta)
    assert load_manifest(tmp_path / "s").run_meta == meta


def test_card_without_declared_licence_says_so(tmp_path):
    _write(tmp_path / "s", make_items(3))
    card = (tmp_path / "s" / "README.md").read_text()
    assert "licence was not declared" in card and "CC BY-NC-ND" not in card and "license: unknown" in card
    assert "not recorded (guard off)" in card


def test_run_meta_not_json_is_refused(tmp_path):
    with pytest.raises(SchemaError, match="run_meta"):
        ShardWriter(tmp_path / "s", run_meta={"x": object()})


def test_read_items_without_manifest_names_directory(tmp_path):
    with pytest.raises(ShardError, match="no manifest.json") as exc:
        list(read_items(tmp_path))
    assert str(tmp_path) in str(exc.value)


def test_writer_writes_dataset_card(tmp_path):
    _write(tmp_path / "s", make_items(12), run_meta={"privacy": {"licence": "CC-BY-NC-ND-4.0"}})
    card = (tmp_path / "s" / "README.md").read_text()
    assert "CC BY-NC-ND 4.0" in card and "Demner-Fushman" in card and "license: cc-by-nc-nd-4.0" in card
    assert "| 12 | 4 |" in card  # 12 items over 4 reports
    assert 'data_files: "data/shard-*.parquet"' in card


def test_all_null_column_keeps_its_type_in_pandas_polars_duckdb(tmp_path):
    out = tmp_path / "s"
    _write(out, make_items(4, stage=None, seed=None))
    df = pd.read_parquet(out / "data")
    assert df["stage"].isna().all()
    pdf = pl.read_parquet(str(out / "data" / "shard-*.parquet"))
    assert pdf.schema["stage"] == pl.String and pdf.schema["seed"] == pl.Int64
    described = duckdb.sql(f"DESCRIBE SELECT stage, seed FROM '{out}/data/shard-*.parquet'").fetchall()
    types = {row[0]: row[1] for row in described}
    assert types == {"stage": "VARCHAR", "seed": "BIGINT"}


def test_corrupt_manifest_names_the_file(tmp_path):
    out = tmp_path / "s"
    _write(out, make_items(2))
    (out / "manifest.json").write_text("{not json")
    with pytest.raises(ShardError) as exc:
        list(read_items(out))
    assert str(out / "manifest.json") in str(exc.value) and "unreadable manifest" in str(exc.value)
    with pytest.raises(ShardError):
        ShardWriter(out)


def test_resume_refuses_another_schema_version(tmp_path):
    out = tmp_path / "s"
    _write(out, make_items(2))
    data = json.loads((out / "manifest.json").read_text())
    data["schema_version"] = "0"
    (out / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(ShardError, match="schema version 0") as exc:
        ShardWriter(out)
    assert exc.value.field == "schema_version"
    ShardWriter(out / "fresh").close()  # the lock of the refused writer was released: a new dir works
    with pytest.raises(ShardError, match="schema version"):
        list(read_items(out))

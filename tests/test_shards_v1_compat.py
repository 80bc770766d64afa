"""Shards written with schema version 1 (before the v2 step stages and rollout labels) stay readable."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from radprm import run
from radprm.cli import app
from radprm.schemas.shards import ITEM_SCHEMAS, SCHEMA_VERSION, V2_ITEM_FIELDS, V2_STEP_FIELDS, item_to_row
from radprm.shards import connect, read_items
from radprm.shards.manifest import Manifest, ShardEntry, save_manifest, shard_name
from radprm.shards.testing import make_items
from radprm.shards.verify import verify


def write_v1_shards(directory, items):
    """A shard directory exactly as radprm with SCHEMA_VERSION "1" wrote it (one shard)."""
    schema = ITEM_SCHEMAS["1"]
    rows = []
    for item in items:
        row = {k: v for k, v in item_to_row(item).items() if k not in V2_ITEM_FIELDS}
        row["steps"] = [{k: v for k, v in s.items() if k not in V2_STEP_FIELDS} for s in row["steps"]]
        rows.append(row)
    data = directory / "data"
    data.mkdir(parents=True)
    path = data / shard_name(0)
    pq.write_table(pa.Table.from_pylist(rows, schema=schema), path, compression="zstd")
    ids = [i.item_id for i in items]
    manifest = Manifest(schema_version="1", shards=[ShardEntry(
        name=path.name, rows=len(rows), bytes=path.stat().st_size, sha256=run.file_sha256(path),
        min_item_id=min(ids), max_item_id=max(ids), schema_version="1", created_at="2026-11-01T00:00:00Z")])
    save_manifest(directory, manifest)
    return directory


def test_v1_shards_read_as_v2_items_with_null_rollout_labels(tmp_path):
    assert SCHEMA_VERSION == "2"
    items = make_items(5)
    src = write_v1_shards(tmp_path / "v1", items)
    back = list(read_items(src))
    assert [i.item_id for i in back] == [i.item_id for i in items]
    assert [s.text for s in back[3].steps] == [s.text for s in items[3].steps]
    assert all(s.mc_label is None and s.mc_score is None for i in back for s in i.steps)
    assert all(i.mc_model is None and i.mc_prompt is None for i in back)


def test_v1_shards_pass_verify_and_a_v2_schema_in_a_v1_directory_does_not(tmp_path):
    src = write_v1_shards(tmp_path / "v1", make_items(3))
    report = verify(src)
    assert report.ok, [str(p) for p in report.problems]
    result = CliRunner().invoke(app, ["verify", str(src)])
    assert result.exit_code == 0, result.output
    # a v1 manifest listing a file with the v2 schema is caught
    path = src / "data" / shard_name(0)
    pq.write_table(pa.Table.from_pylist([item_to_row(i) for i in make_items(3)], schema=ITEM_SCHEMAS["2"]), path)
    assert "schema_version" in {p.kind for p in verify(src, check_sha=False).problems}


def test_v1_shards_query_with_the_v2_columns_as_nulls(tmp_path):
    src = write_v1_shards(tmp_path / "v1", make_items(4))
    con = connect(src)
    n_steps, n_null = con.execute("SELECT count(*), count(*) FILTER (WHERE mc_label IS NULL) FROM steps").fetchone()
    assert n_steps == n_null > 0
    assert con.execute("SELECT count(*) FROM items WHERE mc_model IS NULL").fetchone()[0] == 4


def test_qa_runs_on_v1_and_v2_shards_alike(tmp_path):
    from radprm.qa import run_checks
    from radprm.qa.expectations import run_expectations
    from radprm.shards.writer import ShardWriter

    v1 = write_v1_shards(tmp_path / "v1", make_items(6))
    with ShardWriter(tmp_path / "v2", card=False) as w:
        w.write_many(make_items(6))
    for directory in (v1, tmp_path / "v2"):
        results = {r.check.name: r for r in run_checks(directory)}
        assert results["rollout_agreement"].rows == []  # nothing rolled out
        assert results["item_counts"].status != "skip"
        report = run_expectations(directory, build_docs=False)
        assert report.success, [str(o) for o in report.failures]

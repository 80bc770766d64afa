"""Shards written with schema version "1" (before style, split, patient and answer-key columns) stay readable."""

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.schemas.shards import ITEM_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY, V2_ITEM_FIELDS
from radprm.shards import ShardWriter, connect, read_items, read_table, verify
from radprm.shards.testing import make_items, rewrite_as_schema_v1


@pytest.fixture
def v1_shards(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, max_rows=4, card=False) as w:
        w.write_many(make_items(6, split="train", style="image"))
    rewrite_as_schema_v1(out)
    return out


def test_v1_shards_are_really_v1(v1_shards):
    path = next((v1_shards / "data").glob("*.parquet"))
    schema = pq.read_schema(path)
    assert schema.metadata[SCHEMA_VERSION_KEY] == b"1"
    assert "split" not in schema.names and SCHEMA_VERSION == "2"


def test_read_items_of_v1_shards_gives_none_for_new_columns(v1_shards):
    items = list(read_items(v1_shards))
    assert len(items) == 6
    assert all(i.split is None and i.style is None and i.answer_disputed is None for i in items)


def test_read_table_and_duckdb_views_of_v1_shards_have_every_current_column(v1_shards):
    table = read_table(v1_shards)
    assert table.schema.names == ITEM_SCHEMA.names and table.num_rows == 6
    con = connect(v1_shards)
    names = list(V2_ITEM_FIELDS)  # column names (V2_ITEM_FIELDS maps name -> type in the merged schema)
    row = con.execute(f"SELECT count(*), {', '.join(f'count({n})' for n in names)} FROM items").fetchone()
    assert row == (6,) + (0,) * len(names)


def test_verify_accepts_v1_shards_api_and_cli(v1_shards):
    report = verify(v1_shards)
    assert report.ok, report.render()
    result = CliRunner().invoke(app, ["verify", str(v1_shards)])
    assert result.exit_code == 0, result.output


def test_verify_still_flags_a_v1_shard_with_a_v2_column(v1_shards, tmp_path):
    import json

    from radprm import run

    manifest = json.loads((v1_shards / "manifest.json").read_text())
    entry = manifest["shards"][0]
    path = v1_shards / "data" / entry["name"]
    table = pq.read_table(path)
    import pyarrow as pa

    table = table.append_column("split", pa.array(["x"] * table.num_rows))
    pq.write_table(table.replace_schema_metadata({SCHEMA_VERSION_KEY: b"1"}), path)
    entry.update(bytes=path.stat().st_size, sha256=run.file_sha256(path))
    (v1_shards / "manifest.json").write_text(json.dumps(manifest))
    assert "schema" in {p.kind for p in verify(v1_shards).problems}

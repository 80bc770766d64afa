import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radprm.schemas.shards import ITEM_SCHEMA, item_to_row
from radprm.shards import ShardWriter, load_manifest, verify
from radprm.shards.testing import make_item, make_items


@pytest.fixture
def shards(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, max_rows=5, card=False) as w:
        w.write_many(make_items(12))
    return out


def kinds(report):
    return sorted(p.kind for p in report.problems)


def test_verify_clean_directory_is_ok(shards):
    report = verify(shards)
    assert report.ok and report.shards == 3 and report.rows == 12
    assert "OK" in report.render()


def test_verify_detects_an_edited_byte(shards):
    path = shards / "data" / "shard-00001.parquet"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF  # same size, different content
    path.write_bytes(bytes(data))
    report = verify(shards)
    assert "sha256" in kinds(report) and "size" not in kinds(report)
    assert all("shard-00001" in p.path for p in report.problems)


def test_verify_without_sha_check_misses_a_same_size_edit_but_not_a_truncation(shards):
    path = shards / "data" / "shard-00000.parquet"
    path.write_bytes(path.read_bytes()[:-10])
    report = verify(shards, check_sha=False)
    assert "size" in kinds(report) and "unreadable" in kinds(report)


def test_verify_detects_a_deleted_shard(shards):
    (shards / "data" / "shard-00002.parquet").unlink()
    report = verify(shards)
    assert kinds(report) == ["missing"] and not report.ok


def test_verify_detects_a_stray_file(shards):
    (shards / "data" / "notes.txt").write_text("hello")
    (shards / "data" / "shard-00042.parquet").write_bytes((shards / "data" / "shard-00000.parquet").read_bytes())
    report = verify(shards)
    assert kinds(report).count("extra") == 2
    assert "duplicate_item_id" not in kinds(report)  # strays are not read as data


def test_verify_detects_row_count_and_schema_version_mismatch(shards):
    manifest = json.loads((shards / "manifest.json").read_text())
    manifest["shards"][0]["rows"] = 99
    manifest["shards"][1]["schema_version"] = "0"
    (shards / "manifest.json").write_text(json.dumps(manifest))
    report = verify(shards)
    assert {"rows", "schema_version"} <= set(kinds(report))


def test_verify_detects_duplicate_item_ids_across_shards(shards):
    # Replace shard 2 with a file repeating an id of shard 0, and fix the manifest to match.
    path = shards / "data" / "shard-00002.parquet"
    rows = [item_to_row(make_item(0)), item_to_row(make_item(11))]
    pq.write_table(pa.Table.from_pylist(rows, schema=ITEM_SCHEMA), path)
    from radprm.run import file_sha256 as sha256_file
    from radprm.shards.manifest import save_manifest

    manifest = load_manifest(shards)
    entry = manifest.shards[2]
    entry.rows, entry.bytes, entry.sha256 = 2, path.stat().st_size, sha256_file(path)
    entry.min_item_id, entry.max_item_id = min(r["item_id"] for r in rows), max(r["item_id"] for r in rows)
    save_manifest(shards, manifest)
    report = verify(shards)
    assert kinds(report) == ["duplicate_item_id"]
    assert make_item(0).item_id in report.problems[0].message and "shard-00000" in report.problems[0].message


def test_verify_detects_foreign_schema(shards):
    path = shards / "data" / "shard-00001.parquet"
    table = pq.read_table(path).drop_columns(["plan"])
    pq.write_table(table, path)
    report = verify(shards, check_sha=False)
    assert "schema" in kinds(report)


def test_verify_missing_manifest_is_one_problem(tmp_path):
    report = verify(tmp_path)
    assert kinds(report) == ["manifest"] and "manifest.json" in report.problems[0].path


def _rewrite_shard(directory, index, rows):
    """Replace shard `index` by `rows` and fix its manifest entry, so only the duplicate check can object."""
    from radprm.run import file_sha256
    from radprm.shards.manifest import save_manifest

    path = directory / "data" / f"shard-0000{index}.parquet"
    pq.write_table(pa.Table.from_pylist(rows, schema=ITEM_SCHEMA), path)
    manifest = load_manifest(directory)
    entry = manifest.shards[index]
    entry.rows, entry.bytes, entry.sha256 = len(rows), path.stat().st_size, file_sha256(path)
    entry.min_item_id, entry.max_item_id = min(r["item_id"] for r in rows), max(r["item_id"] for r in rows)
    manifest.rows = sum(s.rows for s in manifest.shards)
    save_manifest(directory, manifest)


def test_verify_lists_duplicates_in_id_order_with_first_shard_and_counts_the_rest(shards):
    # shard 2 repeats items 0 and 1 of shard 0 and item 6 of shard 1, item 0 twice (within the shard too)
    _rewrite_shard(shards, 2, [item_to_row(make_item(i)) for i in (0, 0, 1, 6)])
    ids = {i: make_item(i).item_id for i in (0, 1, 6)}
    report = verify(shards, max_listed=2)
    expected = sorted([(ids[0], 3, "shard-00000.parquet"), (ids[1], 2, "shard-00000.parquet"),
                       (ids[6], 2, "shard-00001.parquet")])
    assert [p.message for p in report.problems] == [
        *(f"item_id {i} stored {n} times (first in {first})" for i, n, first in expected[:2]),
        "... and 1 more duplicated ids",
    ]
    assert {p.kind for p in report.problems} == {"duplicate_item_id"}
    assert verify(shards, check_duplicates=False).ok


def test_verify_duplicate_check_memory_is_flat_in_the_number_of_ids(tmp_path):
    import tracemalloc

    from radprm.shards.testing import stable_id

    pool = make_items(50)

    def peak(n: int) -> int:
        out = tmp_path / f"s{n}"
        with ShardWriter(out, max_rows=n, card=False) as w:  # one shard: the old check read it whole
            w.write_many(pool[i % 50].model_copy(update={"item_id": stable_id("mem", i)}) for i in range(n))
        tracemalloc.start()
        try:
            assert verify(out, check_sha=False).ok
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    small, large = peak(2_000), peak(40_000)
    # a dict of every id (the old check) grows ~170 bytes an id: ~6.5 MB more at 40k; batches of 10k ids do not
    assert large - small < 2_000_000, (small, large)

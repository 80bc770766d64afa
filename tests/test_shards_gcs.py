"""Shards on Google Cloud Storage through pyarrow's `GcsFileSystem`, against gcp-storage-emulator on a free
localhost port (no network, no Google credentials: `anonymous=true`): the S3 tests' write, read, verify,
resume and kill -9 cases, and `radprm mine --shards gs://...` with a resume.

Skips when the emulator is not installed, except under RADPRM_REQUIRE_GCS=1 (CI), where it fails.
"""

from __future__ import annotations

import pytest
from object_stores import assert_killed_set_resumes_once, free_port, gcs_uri_on, kill_writer_mid_shard
from ray_support import write_reports
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import ShardError
from radprm.miners.job import mine
from radprm.shards import ShardWriter, load_manifest, query, read_items, verify
from radprm.shards.location import locate
from radprm.shards.testing import make_items

runner = CliRunner()


@pytest.fixture
def gs_uri(gcs_endpoint, request):
    """A fresh prefix per test."""
    return gcs_uri_on(gcs_endpoint, f"{request.node.name}/shards")


def test_gcs_write_read_verify_query(gs_uri):
    items = make_items(25)
    with ShardWriter(gs_uri, max_rows=10) as w:
        w.write_many(items)
    names = [s.name for s in load_manifest(gs_uri).shards]
    assert len(names) == 3 and locate(gs_uri).listdir("data") == sorted(names)
    assert list(read_items(gs_uri)) == items
    report = verify(gs_uri)
    assert report.ok and report.rows == 25 and report.shards == 3, [str(p) for p in report.problems]
    _, rows = query(gs_uri, "SELECT count(*), count(DISTINCT item_id) FROM items")
    assert rows == [(25, 25)]
    result = runner.invoke(app, ["verify", gs_uri])
    assert result.exit_code == 0 and "OK (3 shards, 25 rows checked)" in result.output, result.output


def test_gcs_resume_skips_committed_items(gs_uri):
    with ShardWriter(gs_uri, max_rows=4) as w:
        w.write_many(make_items(10))
    with ShardWriter(gs_uri, max_rows=4) as w:
        w.write_many(make_items(15))
    assert w.stats.duplicates_skipped == 10 and w.stats.written == 5
    assert sorted(i.item_id for i in read_items(gs_uri)) == sorted(i.item_id for i in make_items(15))


def test_gcs_killed_writer_leaves_a_set_that_verifies_and_resumes_once(gs_uri):
    kill_writer_mid_shard(gs_uri)  # mid-shard: 5 rows spooled locally, nothing uploaded
    assert_killed_set_resumes_once(gs_uri)


def test_mine_to_gcs_then_resume_writes_nothing_twice(fake_openai_server, parts, gs_uri, tmp_path):
    extractor, validator = parts
    reports = write_reports(tmp_path / "reports.csv", n=8)
    common = dict(run_dir=tmp_path / "run", shards=gs_uri, base_url=fake_openai_server.base_url, model="smollm2",
                  tasks=["single", "binary"], max_tokens=200, seed=5, shard_rows=4, extractor=extractor,
                  validator=validator)
    summary = mine(reports, **common)
    ids = [i.item_id for i in read_items(gs_uri)]
    assert summary.items_written == len(ids) == len(set(ids)) > 4 and verify(gs_uri).ok
    again = mine(reports, resume=True, **common)
    assert again.items_this_session == 0 and sorted(i.item_id for i in read_items(gs_uri)) == sorted(ids)


def test_unreachable_gcs_is_one_line_naming_the_path():
    uri = gcs_uri_on(f"127.0.0.1:{free_port()}", "x/shards")
    with pytest.raises(ShardError) as err:
        load_manifest(uri)
    text = str(err.value)
    assert text.startswith("gs://radprm-test/x/shards/manifest.json: ") and "\n" not in text

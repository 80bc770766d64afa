"""Shards on an object store: write, read, verify, query and export through a real S3 API (moto in server
mode on a free localhost port, no network), and the commit protocol under a kill and an abort.

Skips when moto is not installed, except under RADPRM_REQUIRE_S3=1 (CI), where it fails (the moto
fixtures are in conftest.py).
"""

import json

import pytest
from object_stores import BUCKET, assert_killed_set_resumes_once, free_port, kill_writer_mid_shard, uri_on
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import ShardError
from radprm.shards import ShardWriter, load_manifest, query, read_items, read_table, verify
from radprm.shards.location import locate
from radprm.shards.testing import make_items

runner = CliRunner()


@pytest.fixture
def s3_uri(moto_endpoint, s3_env, request):
    """A fresh prefix per test."""
    return uri_on(moto_endpoint, f"{request.node.name}/shards")


def _objects(uri: str) -> list[str]:
    loc = locate(uri)
    return loc.listdir("data")


def test_s3_write_read_verify_query_export(s3_uri, tmp_path):
    items = make_items(25)
    commits = []
    with ShardWriter(s3_uri, max_rows=10, on_commit=commits.append) as w:
        w.write_many(items)
    assert [c.rows for c in commits] == [10, 10, 5]
    manifest = load_manifest(s3_uri)
    names = [s.name for s in manifest.shards]
    # fresh name per upload: shard-NNNNN-<hex>.parquet, and nothing but committed shards in the prefix
    assert all(n.startswith(f"shard-0000{k}-") and n.endswith(".parquet") for k, n in enumerate(names)), names
    assert _objects(s3_uri) == sorted(names)
    assert manifest.rows == 25 and w.stats.written == 25
    assert list(read_items(s3_uri)) == items
    assert sorted(read_table(s3_uri, columns=["item_id"]).column("item_id").to_pylist()) == sorted(
        i.item_id for i in items)
    report = verify(s3_uri)
    assert report.ok, [str(p) for p in report.problems]
    assert report.rows == 25 and report.shards == 3
    _, rows = query(s3_uri, "SELECT count(*), count(DISTINCT item_id) FROM items")
    assert rows == [(25, 25)]
    _, steps = query(s3_uri, "SELECT count(*) FROM steps")
    assert steps[0][0] == sum(len(i.steps) for i in items)

    from radprm.exports import export_trl

    out = tmp_path / "prm.jsonl"
    summary = export_trl(s3_uri, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert summary.items == len(lines) > 0
    meta = json.loads((tmp_path / "prm.jsonl.meta.json").read_text())
    assert meta["source"] == s3_uri and meta["source_rows"] == 25


def test_s3_cli_verify_and_export(s3_uri, tmp_path):
    with ShardWriter(s3_uri, max_rows=10) as w:
        w.write_many(make_items(12))
    result = runner.invoke(app, ["verify", s3_uri])
    assert result.exit_code == 0, result.output
    assert "OK (2 shards, 12 rows checked)" in result.output
    out = tmp_path / "prm.jsonl"
    result = runner.invoke(app, ["export", "trl", s3_uri, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert out.is_file() and out.read_text(encoding="utf-8").count("\n") > 0


def test_s3_resume_skips_committed_items(s3_uri):
    with ShardWriter(s3_uri, max_rows=4) as w:
        w.write_many(make_items(10))
    with ShardWriter(s3_uri, max_rows=4) as w:
        assert len(w.seen_ids) == 10 and make_items(1)[0].item_id in w.seen_ids
        w.write_many(make_items(15))
    assert w.stats.duplicates_skipped == 10 and w.stats.written == 5
    assert sorted(i.item_id for i in read_items(s3_uri)) == sorted(i.item_id for i in make_items(15))
    assert verify(s3_uri).ok


def test_s3_killed_writer_leaves_a_set_that_verifies_and_resumes_once(s3_uri, s3_env):
    kill_writer_mid_shard(s3_uri)  # mid-shard: 5 rows spooled locally, nothing uploaded
    assert len(_objects(s3_uri)) == 1  # the committed shard only
    assert_killed_set_resumes_once(s3_uri)


def test_s3_upload_without_manifest_write_is_an_orphan_the_next_writer_deletes(s3_uri):
    with ShardWriter(s3_uri, max_rows=4) as w:
        w.write_many(make_items(8))
    loc = locate(s3_uri)
    manifest = json.loads(loc.read_text(loc.file("manifest.json")))
    popped = manifest["shards"].pop()  # as if killed between the upload and the manifest PUT
    orphan, manifest["rows"] = popped["name"], manifest["rows"] - popped["rows"]
    loc.write_text_atomic(loc.file("manifest.json"), json.dumps(manifest))
    report = verify(s3_uri)
    assert [p.kind for p in report.problems] == ["extra"] and orphan in report.problems[0].path
    assert len(list(read_items(s3_uri))) == 4  # readers trust only the manifest
    with ShardWriter(s3_uri, max_rows=4) as w:
        w.write_many(make_items(8))
    assert w.stats.orphans_removed == [orphan]
    assert w.stats.written == 4 and w.stats.duplicates_skipped == 4
    assert orphan not in _objects(s3_uri) and verify(s3_uri).ok


def test_s3_abort_uploads_nothing(s3_uri):
    with pytest.raises(RuntimeError):
        with ShardWriter(s3_uri, max_rows=10, row_group_rows=3) as w:
            w.write_many(make_items(14))  # one shard committed, four rows open
            raise RuntimeError("boom")
    assert len(_objects(s3_uri)) == 1
    assert verify(s3_uri).ok and load_manifest(s3_uri).rows == 10


def test_unknown_uri_scheme_is_one_line_naming_the_path():
    with pytest.raises(ShardError) as err:
        read_items("nosuchfs://bucket/prefix").__next__()
    text = str(err.value)
    assert "nosuchfs://bucket/prefix" in text and "\n" not in text


def test_unreachable_store_is_one_line_naming_the_path(s3_env):
    uri = f"s3://{BUCKET}/x/shards?endpoint_override=127.0.0.1:{free_port()}&scheme=http&region=us-east-1"
    with pytest.raises(ShardError) as err:
        load_manifest(uri)
    text = str(err.value)
    assert f"s3://{BUCKET}/x/shards/manifest.json" in text and "\n" not in text
    report = verify(uri)
    assert [p.kind for p in report.problems] == ["manifest"]
    result = runner.invoke(app, ["export", "trl", uri, "--out", "unused.jsonl"])
    assert result.exit_code == 1 and result.output.startswith("Error: ") and result.output.count("\n") == 1


def test_bucket_without_prefix_is_refused(moto_endpoint, s3_env):
    with pytest.raises(ShardError, match="prefix inside the bucket"):
        ShardWriter(f"s3://{BUCKET}?endpoint_override={moto_endpoint}&scheme=http")


def test_s3_qa_reads_the_set_and_writes_beside_out(s3_uri, tmp_path):
    from radprm.qa import qa

    with ShardWriter(s3_uri, max_rows=10) as w:
        w.write_many(make_items(12))
    before = sorted(locate(s3_uri).listdir()), _objects(s3_uri)
    report = qa(s3_uri, out=tmp_path / "qa" / "report.html", expectations=False)
    assert (tmp_path / "qa" / "report.html").is_file() and (tmp_path / "qa" / "qa.json").is_file()
    counts = json.loads((tmp_path / "qa" / "qa.json").read_text())
    assert counts["directory"] == s3_uri and report.glance  # the checks ran over the remote items
    assert (sorted(locate(s3_uri).listdir()), _objects(s3_uri)) == before  # nothing written into the set
    result = runner.invoke(app, ["qa", s3_uri, "--out", str(tmp_path / "cli.md"), "-q"])  # with the GE suites
    assert result.exit_code == 0, result.output
    assert (tmp_path / "cli.md").is_file() and (tmp_path / "qa.json").is_file()
    assert (tmp_path / "gx_docs").is_dir()  # Data Docs beside --out too


def test_s3_qa_without_out_is_one_line(s3_uri):
    with ShardWriter(s3_uri, max_rows=10) as w:
        w.write_many(make_items(3))
    result = runner.invoke(app, ["qa", s3_uri])
    assert result.exit_code == 1 and result.output.count("\n") == 1, result.output
    assert result.output.startswith(f"Error: {s3_uri}, field 'out': a remote shard set needs --out")


@pytest.mark.parametrize("command", [
    ["review", "queue", "s3://bucket/x/shards", "--out", "q"],
    ["review", "apply", "s3://bucket/x/shards", "decisions.jsonl"],
    ["review", "status", "s3://bucket/x/shards"],
    ["rehydrate", "s3://bucket/x/shards", "--reports", "r.csv", "--out", "o"],
])
def test_commands_that_need_a_local_shard_folder_say_so_in_one_line(command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, command)
    assert result.exit_code == 1, result.output
    assert result.output == ("Error: s3://bucket/x/shards: this command needs a local shard directory (it uses files "
                             "beside the shards) (copy the set down first, e.g. `aws s3 sync` / `gcloud storage "
                             "rsync`)\n")
    assert not any(tmp_path.iterdir())


def test_review_api_refuses_a_remote_set_like_the_cli(tmp_path):
    from radprm.errors import InputError
    from radprm.review import build_queue, review_status

    for call in (lambda: build_queue("s3://bucket/x/shards", tmp_path / "q"),
                 lambda: review_status("s3://bucket/x/shards")):
        with pytest.raises(InputError, match="needs a local shard directory"):
            call()
    assert not any(tmp_path.iterdir())


def test_s3_label_rollouts_reads_a_remote_input_set(s3_uri, fake_openai_server, tmp_path):
    from radprm.miners.rollouts import label_rollouts

    items = make_items(4)
    with ShardWriter(s3_uri, max_rows=2) as w:
        w.write_many(items)
    run_dir = tmp_path / "run"
    result = runner.invoke(app, ["label", "rollouts", s3_uri, "--run-dir", str(run_dir), "--base-url",
                                 fake_openai_server.base_url, "--model", "smollm2", "--n", "2"])
    assert result.exit_code == 0, result.output
    labelled = list(read_items(run_dir / "shards"))
    assert sorted(i.item_id for i in labelled) == sorted(i.item_id for i in items)
    assert all(s.mc_rollouts == 2 for i in labelled for s in i.steps)
    assert json.loads((run_dir / "job.json").read_text())["identity"]["shards"] == s3_uri
    again = label_rollouts(s3_uri, run_dir=run_dir, resume=True, base_url=fake_openai_server.base_url,
                           model="smollm2", n=2)
    assert again.items_this_session == 0 and len(list(read_items(run_dir / "shards"))) == 4

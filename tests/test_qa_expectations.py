import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radprm.qa.expectations import load_suite, run_expectations
from radprm.run import file_sha256 as sha256_file
from radprm.schemas.shards import ITEM_SCHEMA, item_to_row
from radprm.shards import ShardWriter, load_manifest
from radprm.shards.manifest import ShardEntry, save_manifest, utc_now
from radprm.shards.testing import make_item, make_items, make_steps


def broken_row(i, *, step_updates=None, **updates):
    """A shard row that `Item` would reject, to build deliberately broken shards."""
    row = item_to_row(make_item(i))
    row.update(updates)
    row["steps"] = [{**s, **(step_updates or {})} for s in row["steps"]]
    return row


def inject_shard(out, rows, name="shard-09999.parquet"):
    """Add a shard written behind the writer's back (with a consistent manifest entry)."""
    path = out / "data" / name
    pq.write_table(pa.Table.from_pylist(rows, schema=ITEM_SCHEMA), path)
    manifest = load_manifest(out)
    ids = [r["item_id"] for r in rows]
    manifest.shards.append(
        ShardEntry(name=name, rows=len(rows), bytes=path.stat().st_size, sha256=sha256_file(path),
                   min_item_id=min(ids), max_item_id=max(ids), schema_version="1", created_at=utc_now())
    )
    save_manifest(out, manifest)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("ge") / "s"
    with ShardWriter(out, card=False) as w:
        w.write_many(make_items(40))
    return out, run_expectations(out)


def test_suites_are_versioned_data():
    for name in ("items", "steps"):
        suite = load_suite(name)
        assert isinstance(suite["meta"]["version"], int) and suite["expectations"]


def test_clean_shards_pass_and_write_data_docs(clean):
    out, report = clean
    assert report.success, [str(f) for f in report.failures]
    assert report.rows == {"item_keys": 40, "items": 40, "steps": sum(len(i.steps) for i in make_items(40))}
    assert report.docs_index == out / "qa" / "gx_docs" / "index.html" and report.docs_index.is_file()
    assert set(report.suite_versions) == {"radprm_item_keys", "radprm_items", "radprm_steps"}
    assert report.chunks == {"item_keys": 1, "items": 1, "steps": 1}


def test_suite_accepts_unsure_verdicts(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, card=False) as w:
        w.write_many([make_item(i, steps=make_steps(3, unsure=[1]), first_bad_step=1) for i in range(3)])
    report = run_expectations(out)
    assert report.success, [str(f) for f in report.failures]
    verdicts = [o for o in report.outcomes if (o.table, o.column) == ("steps", "verdict")]
    assert verdicts and all(o.success for o in verdicts)


def test_suite_covers_schema_keys_sets_ranges_uniqueness(clean):
    _, report = clean
    kinds = {(o.table, o.type, o.column) for o in report.outcomes}
    assert ("items", "expect_table_columns_to_match_set", "(table)") in kinds
    assert ("item_keys", "expect_column_values_to_be_unique", "item_id") in kinds
    assert ("items", "expect_column_values_to_be_in_set", "task") in kinds
    assert ("steps", "expect_column_values_to_be_in_set", "verdict") in kinds
    assert ("steps", "expect_column_values_to_be_between", "score") in kinds


def test_suite_fails_on_out_of_range_score_unknown_verdict_and_duplicate_id(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, card=False) as w:
        w.write_many(make_items(10))
    bad = [broken_row(100, completeness=1.7), broken_row(101, step_updates={"verdict": "maybe", "score": 1.5}),
           broken_row(102, first_bad_step=7)]
    inject_shard(out, [*bad, item_to_row(make_item(3))])  # item 3 again: a duplicate id
    report = run_expectations(out, build_docs=False)
    assert not report.success
    failed = {(o.table, o.type, o.column): o for o in report.failures}
    assert failed[("items", "expect_column_values_to_be_between", "completeness")].examples == [1.7]
    assert failed[("steps", "expect_column_values_to_be_in_set", "verdict")].unexpected_count == 2
    assert failed[("steps", "expect_column_values_to_be_between", "score")].examples[0] == 1.5
    assert (
        failed[("items", "expect_column_pair_values_a_to_be_greater_than_b", "steps,first_bad_step")].unexpected_count
        == 1
    )
    assert failed[("item_keys", "expect_column_values_to_be_unique", "item_id")].examples[0] == make_item(3).item_id
    assert report.docs_index is None


def test_chunked_validation_sees_every_row_and_adds_up_failures(tmp_path):
    out = tmp_path / "s"
    with ShardWriter(out, card=False) as w:
        w.write_many(make_items(30))
    # two bad rows that land in different chunks of 8 rows, and an id repeated across chunks
    inject_shard(out, [broken_row(200, completeness=1.5), *[item_to_row(make_item(300 + k)) for k in range(9)],
                       broken_row(201, completeness=2.5), item_to_row(make_item(0))])
    report = run_expectations(out, item_chunk_rows=8, step_chunk_rows=8, build_docs=False)
    assert report.rows["items"] == 42 and report.chunks["items"] == 6
    assert report.rows["steps"] == sum(len(i.steps) for i in make_items(30)) + sum(
        len(make_item(k).steps) for k in (200, 201, 0, *range(300, 309)))
    failed = {(o.table, o.type, o.column): o for o in report.failures}
    completeness = failed[("items", "expect_column_values_to_be_between", "completeness")]
    assert completeness.unexpected_count == 2 and sorted(completeness.examples) == [1.5, 2.5]
    assert failed[("item_keys", "expect_column_values_to_be_unique", "item_id")].unexpected_count == 2
    assert len(report.outcomes) == sum(len(load_suite(n)["expectations"]) for n in ("item_keys", "items", "steps"))


def test_suite_fails_on_an_empty_directory(tmp_path):
    out = tmp_path / "s"
    ShardWriter(out, card=False).close()
    report = run_expectations(out, build_docs=False)
    assert not report.success
    assert [o.type for o in report.failures] == ["expect_table_row_count_to_be_between"]


def test_data_docs_build_for_a_relative_shard_dir(tmp_path, monkeypatch):
    # `radprm qa runs/x/shards` passes a relative path; GE's store needs an absolute one
    monkeypatch.chdir(tmp_path)
    with ShardWriter("rel/s", card=False) as w:
        w.write_many(make_items(5))
    report = run_expectations("rel/s")
    assert report.success
    assert report.docs_index.is_absolute() and report.docs_index.is_file()


def test_rule_file_errors_name_file_field_path_and_allowed_keys(tmp_path):
    from radprm.errors import RuleFileError
    from radprm.qa.expectations import Suite
    from radprm.rules import load_rule_file

    path = tmp_path / "suite.json"
    path.write_text('{"name": "s", "meta": {"version": 1, "table": "t"}, '
                    '"expectations": [{"type": "x", "kwargs": {}}, {"type": "y", "kwarg": {}}]}')
    with pytest.raises(RuleFileError) as err:
        load_rule_file(path, Suite)
    assert err.value.field == "expectations.1.kwarg"
    assert str(err.value).startswith(f"{path}, field 'expectations.1.kwarg': unknown key 'kwarg'")
    assert "allowed keys: type, kwargs, meta" in str(err.value)
    path.write_text('{"name": "s", "meta": {"version": "1", "table": "t"}, "expectations": []}')
    with pytest.raises(RuleFileError, match="Input should be a valid integer") as err:
        load_rule_file(path, Suite)
    assert err.value.field == "meta.version"
    path.write_text("{not json")
    with pytest.raises(RuleFileError, match="not valid JSON"):
        load_rule_file(path, Suite)

"""Reading CHAINS files: every bad row becomes a quarantine record with a reason code."""

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radprm.errors import InputError
from radprm.quarantine import QuarantineSink
from radprm.validators.chains_io import read_chains
from radprm.validators.reasons import QUARANTINE_CODES


def test_read_chains_quarantines_each_bad_row_with_its_reason(fixtures):
    sink = QuarantineSink()
    rows = list(read_chains(fixtures / "chains_bad_rows.jsonl", quarantine=sink))
    assert [r.chain.chain_id for r in rows] == ["ok-1", "unknown-report", "shard-style"]
    by_row = {q.source_row: q.reason_code for q in sink.records}
    assert by_row == {2: "missing_chain_id", 3: "missing_chain_id", 4: "empty_steps", 5: "non_string_step",
                      6: "non_string_step", 7: "duplicate_chain_id", 8: "malformed_json", 9: "malformed_json",
                      10: "missing_report_id", 11: "bad_field_type"}
    assert set(sink.counts) <= set(QUARANTINE_CODES)
    nonstr = next(q for q in sink.records if q.source_row == 5)
    assert nonstr.field == "steps[1]" and nonstr.record_id == "nonstr" and '"nonstr"' in nonstr.payload
    assert next(q for q in sink.records if q.source_row == 8).payload == "this is not json"


def test_read_chains_accepts_shard_style_steps_and_string_answer(fixtures):
    rows = list(read_chains(fixtures / "chains_bad_rows.jsonl", quarantine=QuarantineSink()))
    chain = rows[-1].chain
    assert chain.steps == ["Heart size is normal."] and chain.answer == ["no"]
    assert rows[-1].source_row == 13


def test_read_chains_without_quarantine_raises_naming_file_row_field(fixtures):
    with pytest.raises(InputError) as err:
        list(read_chains(fixtures / "chains_bad_rows.jsonl"))
    assert "chains_bad_rows.jsonl row 2, field 'chain_id': missing_chain_id" in str(err.value)


def test_read_chains_parquet_missing_column_is_a_file_error(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"chain_id": ["a"], "report_id": ["1"]}), path)
    with pytest.raises(InputError, match="field 'steps': missing column"):
        list(read_chains(path, quarantine=QuarantineSink()))


def test_read_chains_parquet_round_trip(tmp_path):
    path = tmp_path / "c.parquet"
    pq.write_table(pa.table({"chain_id": ["a", "b"], "report_id": ["1", "2"],
                             "steps": [["No effusion."], []]}), path)
    sink = QuarantineSink()
    rows = list(read_chains(path, quarantine=sink))
    assert [r.chain.chain_id for r in rows] == ["a"] and sink.counts["empty_steps"] == 1


@pytest.mark.parametrize("name,message", [("missing.jsonl", "file not found"), ("chains.txt", "unknown chains format")])
def test_read_chains_file_level_errors(tmp_path, name, message):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(InputError, match=message):
        list(read_chains(tmp_path / name, quarantine=QuarantineSink()))

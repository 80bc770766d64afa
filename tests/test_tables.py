"""write_table / read_table: round trips for csv, parquet and jsonl, errors, atomic writes."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radprm.errors import InputError, SchemaError
from radprm.schemas.arrow import REPORT_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY
from radprm.schemas.records import Report
from radprm.tables import cell_bool, read_table, write_table

SCHEMA = pa.schema(
    [
        pa.field("id", pa.string(), nullable=False),
        pa.field("note", pa.string()),
        pa.field("count", pa.int64()),
        pa.field("score", pa.float64()),
        pa.field("flag", pa.bool_()),
        pa.field("tags", pa.list_(pa.string())),
    ]
)
ROWS = [
    {"id": "a", "note": "plain, with comma", "count": 1, "score": 0.5, "flag": True, "tags": ["x", "y"]},
    {"id": "b", "note": None, "count": None, "score": None, "flag": None, "tags": None},
    {"id": "c", "note": "", "count": 0, "score": -1.25, "flag": False, "tags": []},
    {"id": "d", "note": 'multi\nline "quoted"', "count": 7, "score": 1e-9, "flag": True, "tags": ["é", ""]},
]


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_write_table_round_trip_keeps_nulls_and_lists(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"table.{ext}"
    assert write_table(iter(ROWS), path, schema=SCHEMA) == 4
    assert list(read_table(path, schema=SCHEMA)) == ROWS


@pytest.mark.parametrize("ext", ["csv", "parquet", "jsonl"])
def test_write_table_round_trip_reports(tmp_path: Path, ext: str) -> None:
    reports = [
        Report(report_id="1", findings="Clear.", impression=None, text="FINDINGS: Clear.", image_paths=["a.png"],
               source_path="x.csv", source_row=1),
        Report(report_id="2", findings=None, impression="Normal.", indication="", text="IMPRESSION: Normal.",
               source_path="x.csv", source_row=2),
    ]
    path = tmp_path / f"reports.{ext}"
    write_table(reports, path, schema=REPORT_SCHEMA)
    assert [Report(**row) for row in read_table(path, schema=REPORT_SCHEMA)] == reports


def test_write_table_csv_without_schema_reads_strings_and_none(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_table(ROWS[:2], path)
    back = list(read_table(path))
    assert back[0]["count"] == "1" and back[0]["tags"] == '["x", "y"]' and back[0]["flag"] == "true"
    assert back[1] == {"id": "b", "note": None, "count": None, "score": None, "flag": None, "tags": None}


def test_write_table_parquet_carries_schema_metadata(tmp_path: Path) -> None:
    path = tmp_path / "r.parquet"
    write_table([], path, schema=REPORT_SCHEMA)
    schema = pq.read_schema(path)
    assert schema.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()
    assert schema.names == REPORT_SCHEMA.names and pq.ParquetFile(path).metadata.num_rows == 0


def test_write_table_parquet_streams_row_groups(tmp_path: Path) -> None:
    path = tmp_path / "many.parquet"
    rows = ({"id": str(i), "n": i} for i in range(2500))
    assert write_table(rows, path, batch_size=1000) == 2500
    meta = pq.ParquetFile(path).metadata
    assert meta.num_row_groups == 3 and meta.num_rows == 2500


def test_write_table_parquet_all_null_first_batch_is_string(tmp_path: Path) -> None:
    path = tmp_path / "n.parquet"
    write_table([{"id": "1", "plan": None}, {"id": "2", "plan": "text"}], path, batch_size=1)
    assert pq.read_schema(path).field("plan").type == pa.string()
    assert [r["plan"] for r in read_table(path)] == [None, "text"]


def test_write_table_type_error_names_row_and_field(tmp_path: Path) -> None:
    rows = [{"id": "a", "count": 1}, {"id": "b", "count": "many"}]
    schema = pa.schema([pa.field("id", pa.string()), pa.field("count", pa.int64())])
    with pytest.raises(SchemaError) as err:
        write_table(rows, tmp_path / "t.parquet", schema=schema)
    assert str(err.value).startswith(f"{tmp_path / 't.parquet'} row 2, field 'count': value does not fit type int64")


def test_write_table_null_in_required_column_names_row(tmp_path: Path) -> None:
    rows = [{"id": "a"}, {"id": None}]
    schema = pa.schema([pa.field("id", pa.string(), nullable=False)])
    with pytest.raises(SchemaError, match=r"row 2, field 'id': null in a non-nullable column"):
        write_table(rows, tmp_path / "t.parquet", schema=schema)


def test_write_table_unknown_key_without_columns_is_error(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match=r"row 2, field 'extra': key not among the columns"):
        write_table([{"id": "a"}, {"id": "b", "extra": 1}], tmp_path / "t.jsonl")


def test_write_table_columns_select_and_order(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    write_table([{"a": "1", "b": "2", "c": "3"}], path, columns=["c", "a"])
    assert path.read_text(encoding="utf-8").splitlines() == ['"c","a"', '"3","1"']


def test_write_table_unknown_extension(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"unknown table format '.xlsx'.*use one of .csv, .parquet, .jsonl"):
        write_table([{"a": 1}], tmp_path / "t.xlsx")


def test_write_table_failure_keeps_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"old": true}\n', encoding="utf-8")

    def rows():
        yield {"id": "a"}
        raise RuntimeError("producer crashed")

    with pytest.raises(RuntimeError):
        write_table(rows(), path)
    assert path.read_text(encoding="utf-8") == '{"old": true}\n'
    assert [p.name for p in tmp_path.iterdir()] == ["t.jsonl"]


def test_read_table_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="t.parquet: file not found"):
        read_table(tmp_path / "t.parquet")


def test_read_table_malformed_jsonl_names_row(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    path.write_text('{"a": 1}\n\n{"a": 2\n', encoding="utf-8")
    rows = read_table(path)
    assert next(rows) == {"a": 1}
    with pytest.raises(InputError, match=r"t.jsonl row 3: malformed JSON"):
        next(rows)


def test_read_table_csv_bad_cell_names_row_and_field(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text('"id","count"\n"a","1"\n"b","many"\n', encoding="utf-8")
    schema = pa.schema([pa.field("id", pa.string()), pa.field("count", pa.int64())])
    with pytest.raises(SchemaError, match=r"t.csv row 2, field 'count': cannot read as int64"):
        list(read_table(path, schema=schema))


def test_read_table_csv_with_bom_keeps_types_as_strings(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_bytes(b"\xef\xbb\xbfuid,effusion\n1,0\n2,\n")
    assert list(read_table(path)) == [{"uid": "1", "effusion": "0"}, {"uid": "2", "effusion": None}]


def test_read_table_csv_ragged_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4,5\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"t.csv: cannot parse CSV"):
        list(read_table(path))


def test_read_table_not_parquet(tmp_path: Path) -> None:
    path = tmp_path / "t.parquet"
    path.write_bytes(b"nope")
    with pytest.raises(InputError, match="not a readable Parquet file"):
        list(read_table(path))


@pytest.mark.parametrize("value, want", [(True, True), (" TRUE ", True), ("0", False), (1, True), (0, False)])
def test_cell_bool_reads_bools_strings_and_zero_one(value, want):
    assert cell_bool(value, Path("t.csv"), 3, "good") is want


@pytest.mark.parametrize("value", ["yes", 2, None, 0.5])
def test_cell_bool_other_values_name_file_row_and_column(value):
    with pytest.raises(InputError, match="expected a boolean") as exc:
        cell_bool(value, Path("t.csv"), 3, "good")
    assert (exc.value.path, exc.value.row, exc.value.field) == ("t.csv", 3, "good")

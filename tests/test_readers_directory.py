"""A directory of data files (shards) read as one stream; a directory of .txt files is free text."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from radprm.errors import InputError
from radprm.readers import detect_format, read_reports


def _parquet(path: Path, ids: list[str]) -> None:
    pq.write_table(pa.table({"report_id": ids, "findings": [f"Finding of {i}." for i in ids],
                             "impression": ["Normal."] * len(ids)}), path)


def test_read_parquet_shards_in_name_order_with_own_rows(tmp_path: Path) -> None:
    _parquet(tmp_path / "part-1.parquet", ["c", "a"])
    _parquet(tmp_path / "part-0.parquet", ["x", "y", "z"])
    stream = read_reports(tmp_path)
    assert stream.format == "parquet"
    reports = list(stream)
    assert [r.report_id for r in reports] == ["x", "y", "z", "c", "a"]
    assert [(Path(r.source_path).name, r.source_row) for r in reports][2:4] == [("part-0.parquet", 3),
                                                                              ("part-1.parquet", 1)]
    assert stream.progress() == (5, 5, "rows")


def test_read_shards_duplicate_across_files_names_first_file(tmp_path: Path) -> None:
    _parquet(tmp_path / "a.parquet", ["r1", "r2"])
    _parquet(tmp_path / "b.parquet", ["r2"])
    stream = read_reports(tmp_path)
    assert [r.report_id for r in stream] == ["r1", "r2"]
    (record,) = stream.quarantine.records
    assert record.source_path == str(tmp_path / "b.parquet") and record.source_row == 1
    assert record.detail == f"id 'r2' already read at {tmp_path / 'a.parquet'} row 2"


def test_read_csv_shards_mixed_gzip_and_iu_detection(fixtures: Path, tmp_path: Path) -> None:
    shutil.copy(fixtures / "reports_basic.csv", tmp_path / "a.csv")
    (tmp_path / "b.csv.gz").write_bytes(gzip.compress(b"report_id,findings,impression\nr9,Clear.,Normal.\n"))
    assert [r.report_id for r in read_reports(tmp_path)] == ["r1", "r2", "r3", "r9"]
    iu = tmp_path / "iu"
    iu.mkdir()
    shutil.copy(fixtures / "reports_iu_synthetic.csv", iu / "part1.csv")
    assert detect_format(iu) == "iu"


def test_read_shard_missing_column_names_that_file(tmp_path: Path) -> None:
    _parquet(tmp_path / "a.parquet", ["r1"])
    pq.write_table(pa.table({"report_id": ["r2"], "findings": ["Clear."]}), tmp_path / "b.parquet")
    with pytest.raises(InputError) as err:
        read_reports(tmp_path)
    assert f"{tmp_path / 'b.parquet'}, field 'impression': column missing in this file" in str(err.value)


def test_read_directory_mixing_formats_is_rejected(fixtures: Path, tmp_path: Path) -> None:
    shutil.copy(fixtures / "reports_basic.csv", tmp_path / "a.csv")
    shutil.copy(fixtures / "reports_basic.jsonl", tmp_path / "b.jsonl")
    with pytest.raises(InputError, match=r"directory mixes formats \(csv, jsonl\).*--format"):
        read_reports(tmp_path)
    assert [r.report_id for r in read_reports(tmp_path, format="jsonl")] == ["1", "2", "3"]


def test_read_jsonl_shards_union_of_keys(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text('{"id": "1", "findings": "Clear."}\n', encoding="utf-8")
    (tmp_path / "b.jsonl").write_text('{"id": "2", "impression": "Normal."}\n', encoding="utf-8")
    reports = list(read_reports(tmp_path))
    assert [(r.report_id, r.findings, r.impression) for r in reports] == [("1", "Clear.", None), ("2", None, "Normal.")]


def test_read_directory_skips_hidden_files(tmp_path: Path) -> None:
    _parquet(tmp_path / "a.parquet", ["r1"])
    (tmp_path / ".a.parquet.tmp-1").write_bytes(b"partial")
    (tmp_path / ".hidden.parquet").write_bytes(b"partial")
    assert [r.report_id for r in read_reports(tmp_path)] == ["r1"]

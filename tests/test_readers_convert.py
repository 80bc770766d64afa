"""read_to_table: the API behind `radprm read` (same test names as tests/test_cli_read.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from radprm.errors import InputError, RunError
from radprm.quarantine import read_quarantine
from radprm.readers.convert import read_to_table
from radprm.tables import read_table


def test_read_quarantine_path_option_and_stale_file_removed(fixtures: Path, tmp_path: Path) -> None:
    out, qpath = tmp_path / "out.parquet", tmp_path / "q.jsonl"
    qpath.write_text("stale\n", encoding="utf-8")
    summary = read_to_table(fixtures / "reports_duplicate_id.csv", out, quarantine=qpath)
    assert (summary.written, summary.stats.read, summary.format) == (2, 3, "csv")
    assert summary.quarantine_path == qpath
    assert [r.reason_code for r in read_quarantine(qpath)] == ["duplicate_id"]
    assert summary.render().splitlines() == [
        f"read 3 rows from {fixtures / 'reports_duplicate_id.csv'} (format csv)",
        f"wrote 2 reports to {out}",
        f"quarantined: 1 (duplicate_id=1) -> {qpath}",
    ]


def test_read_no_quarantine_file_when_nothing_quarantined(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    stale = tmp_path / "out.csv.quarantine.jsonl"
    stale.write_text("stale\n", encoding="utf-8")
    summary = read_to_table(fixtures / "reports_basic.csv", out)
    assert summary.quarantine_path is None and not stale.exists()
    assert [r["report_id"] for r in read_table(out)] == ["r1", "r2", "r3"]


def test_read_strict_exits_1_after_writing(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(RunError, match=r"3 row\(s\) quarantined and --strict is set") as err:
        read_to_table(fixtures / "reports_empty_text.csv", out, strict=True)
    assert [r["report_id"] for r in read_table(out)] == ["e1"]
    assert err.value.summary.written == 1 and err.value.summary.stats.quarantined == 3


def test_read_quarantine_cannot_overwrite_output(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with pytest.raises(InputError, match="the quarantine file would overwrite an output"):
        read_to_table(fixtures / "reports_basic.csv", out, quarantine=out)


def test_read_reader_options_pass_through(fixtures: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.parquet"
    summary = read_to_table(fixtures / "reports_text_col.csv", out, id_col="accession", text_col="report", limit=1)
    assert summary.written == 1
    (row,) = read_table(out)
    assert row["report_id"] == "A-100" and row["indication"] == "Fever and cough."

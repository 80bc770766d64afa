"""ReportStream behaviour: laziness, limit, stats, progress."""

from __future__ import annotations

import collections.abc
from pathlib import Path

import pytest

from radprm.errors import InputError
from radprm.readers import read_reports


def _big_csv(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        fh.write("report_id,findings,impression\n")
        for i in range(rows):
            fh.write(f"r{i},Clear lungs number {i}.,Normal.\n")
    return path


def test_read_reports_is_a_lazy_iterator(tmp_path: Path) -> None:
    path = _big_csv(tmp_path / "big.csv", 5000)
    stream = read_reports(path, batch_size=100)
    assert isinstance(stream, collections.abc.Iterator)
    assert stream.stats.read == 0  # nothing read before iteration
    first = next(stream)
    assert first.report_id == "r0"
    assert stream.stats.read == 1  # one row pulled, not the file
    done, total, unit = stream.progress()
    assert unit == "bytes" and total == path.stat().st_size and done < total


def test_read_file_errors_raise_before_iteration(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(InputError):
        read_reports(path)  # no next() needed


def test_read_limit_counts_kept_reports(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_empty_text.csv", limit=1)
    assert [r.report_id for r in stream] == ["e1"]
    assert stream.stats.kept == 1 and stream.stats.read == 1


def test_read_limit_zero_yields_nothing_without_error(fixtures: Path) -> None:
    assert list(read_reports(fixtures / "reports_basic.csv", limit=0)) == []


def test_read_negative_limit_rejected(fixtures: Path) -> None:
    with pytest.raises(InputError, match="field 'limit': limit must be >= 0"):
        read_reports(fixtures / "reports_basic.csv", limit=-1)


def test_read_parquet_in_small_batches_keeps_row_numbers(fixtures: Path) -> None:
    stream = read_reports(
        fixtures / "reports_columns_mapped.parquet", id_col="study", findings_col="findings_text",
        impression_col="impression_text", batch_size=1,
    )
    assert [r.source_row for r in stream] == [1, 2, 3]
    assert stream.progress() == (3, 3, "rows")


def test_read_with_progress_yields_the_same_reports(fixtures: Path) -> None:
    plain = list(read_reports(fixtures / "reports_basic.csv"))
    tracked = list(read_reports(fixtures / "reports_basic.csv").with_progress("test", enabled=False))
    assert plain == tracked


def test_read_with_progress_shows_kept_and_quarantined_on_stderr(fixtures: Path, capsys) -> None:
    stream = read_reports(fixtures / "reports_duplicate_id.csv")
    assert [r.report_id for r in stream.with_progress("reading dup", enabled=True)] == ["d1", "d2"]
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "reading dup" in captured.err and "100%" in captured.err and "2 kept, 1 quarantined" in captured.err


def test_read_default_quarantine_is_in_memory(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_duplicate_id.csv")
    list(stream)
    assert stream.quarantine.path is None and stream.quarantine.total == 1


def test_read_default_sink_keeps_every_record(tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    with path.open("w", encoding="utf-8") as fh:
        fh.write("report_id,findings\n")
        fh.writelines(f"same,Report {i}.\n" for i in range(1500))
    stream = read_reports(path)
    assert sum(1 for _ in stream) == 1
    assert len(stream.quarantine.records) == stream.quarantine.total == 1499
    assert stream.quarantine.records[-1].source_row == 1500

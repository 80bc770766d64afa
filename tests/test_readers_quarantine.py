"""Row-level bad input becomes quarantine records (stage "read") with a reason code: never a silent drop."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radprm.errors import InputError
from radprm.quarantine import QuarantineSink, read_quarantine
from radprm.readers import read_reports


def test_read_duplicate_id_keeps_first_quarantines_later(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_duplicate_id.csv")
    reports = list(stream)
    assert [r.report_id for r in reports] == ["d1", "d2"]
    assert reports[0].findings == "First version of the report."
    (record,) = stream.quarantine.records
    assert record.reason_code == "duplicate_id"
    assert record.stage == "read"
    assert record.record_id == "d1"
    assert record.source_path == str(fixtures / "reports_duplicate_id.csv")
    assert record.source_row == 3
    assert record.field == "report_id"
    assert record.detail == "id 'd1' already read at row 1"
    assert json.loads(record.payload) == {
        "report_id": "d1", "findings": "Second version of the report.", "impression": "Abnormal."
    }


def test_read_empty_text_and_missing_id_are_quarantined(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_empty_text.csv")
    assert [r.report_id for r in stream] == ["e1"]
    assert stream.stats.as_dict() == {
        "read": 4, "kept": 1, "quarantined": 3, "by_reason": {"empty_text": 2, "missing_id": 1},
        "warnings": {}
    }
    by_row = {r.source_row: r for r in stream.quarantine.records}
    assert by_row[2].reason_code == "empty_text" and by_row[2].record_id == "e2"
    assert by_row[2].field == "findings/impression"
    assert "findings and impression are both empty" in by_row[2].detail
    assert by_row[3].reason_code == "empty_text"  # whitespace only counts as empty
    assert by_row[4].reason_code == "missing_id" and by_row[4].field == "report_id"
    assert by_row[4].record_id is None
    assert json.loads(by_row[4].payload)["findings"] == "No id on this row."
    assert stream.quarantine.counts == {"empty_text": 2, "missing_id": 1}


def test_read_invalid_utf8_csv_row_is_quarantined_with_field(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_invalid_utf8.csv")
    assert [r.report_id for r in stream] == ["u1", "u3"]
    (record,) = stream.quarantine.records
    assert (record.reason_code, record.source_row, record.field) == ("invalid_utf8", 2, "findings")
    assert "at char 3 of the field (byte 0xe9)" in record.detail and "iconv" in record.detail
    assert record.record_id == "u2"
    assert json.loads(record.payload)["findings"] == "Caf\ufffd effusion noted."


def test_read_invalid_utf8_jsonl_line_names_byte_offset(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_invalid_utf8.jsonl")
    assert [r.report_id for r in stream] == ["b1"]
    (record,) = stream.quarantine.records
    first_line = (fixtures / "reports_invalid_utf8.jsonl").read_bytes().split(b"\n")[0]
    offset = len(first_line) + 1 + len(b'{"report_id": "b2", "text": "Caf')
    assert record.reason_code == "invalid_utf8" and record.source_row == 2
    assert f"byte offset {offset} (b'\\xe9" in record.detail
    assert record.payload == '{"report_id": "b2", "text": "Caf\ufffd."}'


def test_read_malformed_jsonl_lines_are_row_level(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_malformed.jsonl")
    reports = list(stream)
    assert [r.report_id for r in reports] == ["m1", "m5"]
    assert reports[1].impression == "Small effusion." and reports[1].findings is None
    records = {r.source_row: r for r in stream.quarantine.records}
    assert records[2].reason_code == "malformed_json" and "column" in records[2].detail
    assert records[2].payload == '{"report_id": "m2", "text": "FINDINGS: Clear lungs.'
    assert records[3].reason_code == "malformed_json" and records[3].detail == "expected a JSON object, got list"
    assert records[4].reason_code == "invalid_value" and records[4].field == "text"
    assert records[4].record_id == "m4"
    assert stream.stats.read == 5 and stream.stats.kept == 2 and stream.stats.quarantined == 3


def test_read_ragged_csv_row_is_quarantined(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_ragged.csv")
    assert [r.report_id for r in stream] == ["g1", "g3"]
    (record,) = stream.quarantine.records
    assert record.reason_code == "malformed_row" and record.source_row == 2
    assert record.detail == "line 3: expected 3 fields, got 4"
    assert json.loads(record.payload) == ["g2", "Clear lungs.", "Normal.", "extra field"]


def test_read_lone_surrogate_escape_in_jsonl_is_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "reports.jsonl"
    lines = '{"id": "s1", "findings": "ok"}\n{"id": "s2", "findings": "bad \\ud800 escape"}\n'
    path.write_text(lines, encoding="utf-8")
    stream = read_reports(path)
    assert [r.report_id for r in stream] == ["s1"]
    (record,) = stream.quarantine.records
    assert record.reason_code == "invalid_utf8" and record.field == "findings"
    assert "at char 4 of the field (lone surrogate U+D800)" in record.detail
    assert record.payload == '{"id": "s2", "findings": "bad \\ud800 escape"}'  # the raw line, as written
    json.dumps(record.model_dump())  # the record itself stays writable


def test_read_quarantine_goes_to_given_sink_file(fixtures: Path, tmp_path: Path) -> None:
    qpath = tmp_path / "q" / "read.jsonl"
    with QuarantineSink(qpath, run_id="run-1") as sink:
        stream = read_reports(fixtures / "reports_duplicate_id.csv", quarantine=sink)
        list(stream)
        assert stream.quarantine is sink
    (record,) = read_quarantine(qpath)
    assert (record.reason_code, record.run_id, record.source_row) == ("duplicate_id", "run-1", 3)


def test_read_every_row_quarantined_raises_with_first_problem(tmp_path: Path) -> None:
    path = tmp_path / "all_bad.csv"
    path.write_text("report_id,findings,impression\nx1,,\nx2,,\n", encoding="utf-8")
    stream = read_reports(path)
    with pytest.raises(InputError) as err:
        list(stream)
    text = str(err.value)
    assert text.startswith(f"{path} row 1, field 'findings/impression': all 2 rows were quarantined; first: empty_text")
    assert stream.quarantine.total == 2  # still reachable after the error


def test_read_stream_stats_support_item_access(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_duplicate_id.csv")
    list(stream)
    assert (stream.stats["read"], stream.stats["kept"], stream.stats["quarantined"]) == (3, 2, 1)


def test_read_csv_bad_quoting_is_row_level_and_names_lines(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_bad_quotes.csv")
    reports = list(stream)
    # a quote inside an unquoted field is literal text (inches), not an error
    assert [r.report_id for r in reports] == ["q1", "q3"] and reports[1].findings == 'A 5" nodule is seen.'
    bad_quote, unclosed = stream.quarantine.records
    assert (bad_quote.reason_code, bad_quote.source_row) == ("malformed_row", 2)
    assert bad_quote.detail.startswith("line 3: ")
    # an unclosed quote swallows the rest of the file: the record says which lines it spans
    assert (unclosed.reason_code, unclosed.source_row) == ("malformed_row", 4)
    assert unclosed.detail == "lines 5-6: unexpected end of data"

"""CSV / JSONL / Parquet readers: column mapping, defaults and file-level errors."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from radprm.errors import InputError
from radprm.readers import detect_format, read_reports


def test_read_csv_default_columns(fixtures: Path) -> None:
    reports = list(read_reports(fixtures / "reports_basic.csv"))
    assert [r.report_id for r in reports] == ["r1", "r2", "r3"]
    r1, r2, r3 = reports
    assert r1.findings == "The heart size is normal. No pleural effusion."
    assert r1.impression == "No acute cardiopulmonary disease."
    assert r1.indication == "Cough." and r1.comparison == "None."
    assert r1.text == (
        "FINDINGS: The heart size is normal. No pleural effusion.\nIMPRESSION: No acute cardiopulmonary disease."
    )
    # a quoted newline stays inside the field; the record is still data row 2
    # a line break inside a cell is a hard wrap: read as a space (readers/README.md, Text normalisation)
    assert r2.findings == "Mild cardiomegaly. Small left pleural effusion."
    assert r2.source_row == 2 and r2.comparison is None
    assert r3.findings is None and r3.text == "IMPRESSION: Clear lungs."
    assert all(r.source_path == str(fixtures / "reports_basic.csv") for r in reports)


def test_read_csv_text_col_is_split_into_sections(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_text_col.csv", id_col="accession", text_col="report")
    a100, a101, a102 = list(stream)
    assert a100.report_id == "A-100"
    assert a100.findings == (
        "The lungs are clear. The cardiomediastinal silhouette is within normal limits. No pneumothorax."
    )
    assert a100.impression == "No acute cardiopulmonary process."
    assert a100.indication == "Fever and cough."
    assert a100.comparison == "01/02/2020."
    assert "EXAM" not in a100.text and a100.text.startswith("FINDINGS: The lungs are clear.")
    assert (a101.findings, a101.impression) == ("Patchy right lower lobe opacity.", "Right lower lobe pneumonia.")
    # no headers at all: the whole text is findings
    assert a102.findings == "Lungs are clear bilaterally. No effusion or pneumothorax." and a102.impression is None


def test_read_csv_text_col_found_by_default_name(fixtures: Path) -> None:
    reports = list(read_reports(fixtures / "reports_text_col.csv", id_col="accession"))
    assert reports[1].impression == "Right lower lobe pneumonia."


def test_read_tsv_uses_tab_delimiter(tmp_path: Path) -> None:
    path = tmp_path / "reports.tsv"
    path.write_text("id\tfindings\timpression\nt1\tClear, no effusion.\tNormal.\n", encoding="utf-8")
    (report,) = read_reports(path)
    assert (report.report_id, report.findings) == ("t1", "Clear, no effusion.")


def test_read_parquet_with_column_mapping(fixtures: Path) -> None:
    path = fixtures / "reports_columns_mapped.parquet"
    reports = list(read_reports(path, id_col="study", findings_col="findings_text", impression_col="impression_text"))
    assert [r.report_id for r in reports] == ["p1", "p2", "p3"]
    assert reports[1].findings is None and reports[1].impression == "Pneumothorax on the right."
    assert reports[2].text == "FINDINGS: Right upper lobe mass."
    assert [r.source_row for r in reports] == [1, 2, 3]


def test_read_parquet_non_text_column_names_field(fixtures: Path) -> None:
    with pytest.raises(InputError) as err:
        read_reports(fixtures / "reports_columns_mapped.parquet", id_col="study", findings_col="n_images")
    text = str(err.value)
    assert "reports_columns_mapped.parquet" in text and "field 'n_images'" in text and "int64" in text


def test_read_jsonl_ids_nulls_and_image_paths(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_basic.jsonl")
    reports = list(stream)
    assert [r.report_id for r in reports] == ["1", "2", "3"]  # integer ids become strings
    assert reports[0].image_paths == ["1_frontal.png", "1_lateral.png"]
    assert reports[1].findings is None and reports[1].text == "IMPRESSION: Small right effusion."
    assert reports[2].comparison == "Prior from 2019."
    # source_row is the line number: the blank line 3 is skipped but counted
    assert [r.source_row for r in reports] == [1, 2, 4]
    assert stream.stats.quarantined == 0


def test_read_missing_file_names_file(tmp_path: Path) -> None:
    with pytest.raises(InputError) as err:
        read_reports(tmp_path / "nope.csv")
    assert str(err.value) == f"{tmp_path / 'nope.csv'}: file not found (check the input path)"


def test_read_unknown_extension_lists_formats(tmp_path: Path) -> None:
    path = tmp_path / "reports.xml"
    path.write_text("<reports/>", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_reports(path)
    text = str(err.value)
    assert str(path) in text and "'.xml'" in text
    for fmt in ("iu", "csv", "jsonl", "parquet", "text"):
        assert fmt in text
    assert "--format" in text


def test_read_unknown_format_name_lists_formats(fixtures: Path) -> None:
    with pytest.raises(InputError, match=r"unknown format 'xlsx'; formats: iu, csv, jsonl, parquet, text"):
        read_reports(fixtures / "reports_basic.csv", format="xlsx")


def test_read_explicit_format_overrides_extension(fixtures: Path, tmp_path: Path) -> None:
    path = tmp_path / "reports.data"
    shutil.copy(fixtures / "reports_basic.jsonl", path)
    assert [r.report_id for r in read_reports(path, format="jsonl")] == ["1", "2", "3"]


def test_read_csv_missing_id_column_lists_columns(fixtures: Path) -> None:
    with pytest.raises(InputError) as err:
        read_reports(fixtures / "reports_no_id.csv")
    text = str(err.value)
    assert text.startswith(f"{fixtures / 'reports_no_id.csv'}: no id column")
    assert "['accession', 'findings', 'impression']" in text and "--id-col" in text


def test_read_csv_missing_named_column_names_field(fixtures: Path) -> None:
    with pytest.raises(InputError) as err:
        read_reports(fixtures / "reports_basic.csv", findings_col="body")
    text = str(err.value)
    assert f"{fixtures / 'reports_basic.csv'}, field 'body': column not found (--findings-col)" in text
    assert "'report_id'" in text and "check --findings-col" in text


def test_read_csv_missing_text_columns_suggests_flags(fixtures: Path) -> None:
    with pytest.raises(InputError) as err:
        read_reports(fixtures / "reports_no_text.csv")
    text = str(err.value)
    assert "no report text columns" in text and "['report_id', 'notes', 'author']" in text
    assert "--findings-col/--impression-col" in text and "--text-col" in text


def test_read_conflicting_text_options(fixtures: Path) -> None:
    with pytest.raises(InputError, match="either --text-col or --findings-col/--impression-col"):
        read_reports(fixtures / "reports_text_col.csv", id_col="accession", text_col="report", findings_col="report")


def test_read_header_only_file_raises_no_data_rows(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_header_only.csv")
    with pytest.raises(InputError, match="reports_header_only.csv: no data rows"):
        list(stream)


def test_read_empty_file_raises(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    with pytest.raises(InputError, match="empty file: no header row"):
        read_reports(path)


def test_read_non_utf8_header_is_file_level(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("report_id,hallazgos_\xe9\n1,x\n".encode("latin-1"))
    with pytest.raises(InputError) as err:
        read_reports(path)
    text = str(err.value)
    assert str(path) in text and "row 0" in text and "header is not valid UTF-8" in text and "byte 0xe9" in text


def test_detect_format_by_extension_and_header(fixtures: Path) -> None:
    assert detect_format(fixtures / "reports_basic.csv") == "csv"
    assert detect_format(fixtures / "reports_iu_synthetic.csv") == "iu"
    assert detect_format(fixtures / "reports_basic.jsonl") == "jsonl"
    assert detect_format(fixtures / "reports_columns_mapped.parquet") == "parquet"
    assert detect_format(fixtures / "reports_free_text.txt") == "text"


def test_read_garbage_parquet_is_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match="broken.parquet: not a readable Parquet file"):
        read_reports(path)


def test_read_csv_duplicate_mapped_column_names_field(tmp_path: Path) -> None:
    path = tmp_path / "dup.csv"
    path.write_text("report_id,findings,findings,impression\n1,a,b,c\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        read_reports(path)
    assert f"{path} row 0, field 'findings': column appears 2 times in the header" in str(err.value)


@pytest.mark.parametrize("name", ["reports_basic.csv", "reports_basic.jsonl"])
def test_read_gzip_compressed_csv_and_jsonl(fixtures: Path, tmp_path: Path, name: str) -> None:
    import gzip

    path = tmp_path / f"{name}.gz"
    path.write_bytes(gzip.compress((fixtures / name).read_bytes()))
    plain = [r.model_dump(exclude={"source_path"}) for r in read_reports(fixtures / name)]
    stream = read_reports(path)
    assert [r.model_dump(exclude={"source_path"}) for r in stream] == plain
    assert stream.progress()[0] == path.stat().st_size  # progress counts compressed bytes


def test_read_damaged_gzip_is_input_error(fixtures: Path, tmp_path: Path) -> None:
    import gzip

    data = gzip.compress((fixtures / "reports_basic.csv").read_bytes() * 50)
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.csv.gz: cannot decompress"):
        list(read_reports(path))


def test_read_unknown_compressed_extension(tmp_path: Path) -> None:
    path = tmp_path / "r.txt.gz"
    path.write_bytes(b"")
    with pytest.raises(InputError, match=r"unknown input format '.gz'"):
        read_reports(path)


def test_read_jsonl_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "1", "findings": "Clear."}\r\n{"id": "2", "findings": "Normal."}\r\n')
    stream = read_reports(path)
    assert [(r.report_id, r.findings) for r in stream] == [("1", "Clear."), ("2", "Normal.")]
    assert stream.stats.quarantined == 0


def test_read_csv_with_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b'\xef\xbb\xbfreport_id,findings\r\n1,"Clear.\r\nNo effusion."\r\n2,Normal.\r\n')
    reports = list(read_reports(path))
    assert [(r.report_id, r.findings) for r in reports] == [("1", "Clear. No effusion."), ("2", "Normal.")]


def test_read_default_columns_match_ignoring_case(tmp_path: Path) -> None:
    path = tmp_path / "caps.csv"
    path.write_text("ID,Findings,IMPRESSION,Indication\nC1,Clear lungs.,Normal.,Cough.\n", encoding="utf-8")
    (report,) = read_reports(path)
    assert (report.report_id, report.findings, report.impression, report.indication) == (
        "C1",
        "Clear lungs.",
        "Normal.",
        "Cough.",
    )


def test_read_csv_image_paths_json_or_semicolons(tmp_path: Path) -> None:
    path = tmp_path / "images.csv"
    path.write_text(
        'id,findings,image_paths\n1,Clear.,"[""a.png"", ""b.png""]"\n2,Clear.,a.png; '
        'b.png\n3,Clear.,\n4,Clear.,"[1, 2]"\n'
        '5,Clear.,"[broken"\n',
        encoding="utf-8",
    )
    stream = read_reports(path)
    assert [r.image_paths for r in stream] == [["a.png", "b.png"], ["a.png", "b.png"], []]
    reasons = [(q.source_row, q.reason_code, q.field) for q in stream.quarantine.records]
    assert reasons == [(4, "invalid_value", "image_paths"), (5, "invalid_value", "image_paths")]

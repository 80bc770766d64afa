"""The IU X-ray reader: real collection (shared data) and a synthetic IU-format fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radprm.errors import InputError
from radprm.readers import read_reports
from radprm.readers.iu_xray import load_projections


def test_read_iu_real_file_counts_and_fields(iu_reports: Path, iu_projections: Path) -> None:
    stream = read_reports(iu_reports, projections=iu_projections)
    assert stream.format == "iu"
    reports = list(stream)
    # 25 IU reports have neither findings nor impression; everything else is kept
    assert stream.stats.read == 3851
    assert len(reports) == stream.stats.kept == 3826
    assert stream.quarantine.counts == {"empty_text": 25}
    first = reports[0]
    assert first.report_id == "1" and first.source_row == 1
    assert first.findings.startswith("The cardiac silhouette and mediastinum size are within normal limits.")
    assert first.impression == "Normal chest x-XXXX."
    assert first.indication == "Positive TB test" and first.comparison == "None."
    assert first.image_paths == ["1_IM-0001-4001.dcm.png", "1_IM-0001-3001.dcm.png"]
    assert first.text == f"FINDINGS: {first.findings}\nIMPRESSION: {first.impression}"
    # impression-only reports are fine: no empty FINDINGS header in the canonical text
    third = next(r for r in reports if r.report_id == "3")
    assert third.findings is None and third.text.startswith("IMPRESSION: No displaced rib fractures")
    assert len({r.report_id for r in reports}) == len(reports)
    assert sum(1 for r in reports if r.image_paths) > 3700


def test_read_iu_never_reads_mesh_or_problems(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_iu_synthetic.csv")
    reports = list(stream)
    dumped = json.dumps([r.model_dump() for r in reports]) + json.dumps(
        [q.model_dump() for q in stream.quarantine.records]
    )
    assert "SHOULD-NOT-BE-READ" not in dumped
    assert stream.quarantine.records[0].source_row == 3
    assert set(json.loads(stream.quarantine.records[0].payload)) == {
        "uid", "findings", "impression", "indication", "comparison"
    }


def test_read_iu_synthetic_with_projections(fixtures: Path) -> None:
    stream = read_reports(fixtures / "reports_iu_synthetic.csv", projections=fixtures / "reports_iu_projections.csv")
    one, two = list(stream)
    assert one.image_paths == ["1_IM-0001-4001.dcm.png", "1_IM-0001-3001.dcm.png"]
    assert two.image_paths == ["2_IM-0002-1001.dcm.png"]
    assert two.findings is None and two.impression == "Stable mild cardiomegaly." and two.indication is None
    assert stream.stats.quarantined == 1 and stream.quarantine.records[0].reason_code == "empty_text"


def test_read_iu_without_projections_has_no_images(fixtures: Path) -> None:
    assert all(r.image_paths == [] for r in read_reports(fixtures / "reports_iu_synthetic.csv"))


def test_read_iu_rejects_column_options(fixtures: Path) -> None:
    with pytest.raises(InputError, match=r"--text-col do\(es\) not apply to --format iu"):
        read_reports(fixtures / "reports_iu_synthetic.csv", text_col="findings")


def test_read_iu_format_forced_on_wrong_header_names_field(fixtures: Path) -> None:
    with pytest.raises(InputError) as err:
        read_reports(fixtures / "reports_text_col.csv", format="iu")
    assert "field 'uid': not an IU reports CSV" in str(err.value)


def test_load_projections_missing_column_names_field(tmp_path: Path) -> None:
    path = tmp_path / "proj.csv"
    path.write_text("uid,image\n1,a.png\n", encoding="utf-8")
    with pytest.raises(InputError) as err:
        load_projections(path)
    assert f"{path}, field 'filename': projections file lacks a column" in str(err.value)


def test_load_projections_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="projections file not found .check --projections."):
        load_projections(tmp_path / "absent.csv")


def test_read_iu_is_fast_enough_to_skip_nlp(iu_reports: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # IU rows come split into columns: the sectionizer must never run on them
    import radprm.readers.stream as stream_module

    def boom(text: str) -> None:
        raise AssertionError("sectionizer called on an IU row")

    monkeypatch.setattr(stream_module, "split_sections", boom)
    assert sum(1 for _ in read_reports(iu_reports, limit=200)) == 200

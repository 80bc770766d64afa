"""Image lists: IU projections and MIMIC-CXR-JPG metadata, frontal views first, paths only."""

from __future__ import annotations

import pytest

from radprm.errors import InputError
from radprm.readers import read_reports
from radprm.readers.iu_xray import load_projections


def test_iu_projections_put_the_frontal_view_first(tmp_path):
    proj = tmp_path / "proj.csv"
    proj.write_text("uid,filename,projection\n1,1_lat.png,Lateral\n1,1_front.png,Frontal\n2,2_a.png,Frontal\n")
    assert load_projections(proj) == {"1": ["1_front.png", "1_lat.png"], "2": ["2_a.png"]}
    assert load_projections(proj, tmp_path / "images")["1"][0] == f"{tmp_path}/images/1_front.png"


def test_mimic_metadata_gives_jpg_paths_by_study_frontal_first(tmp_path):
    meta = tmp_path / "mimic-cxr-2.0.0-metadata.csv"
    meta.write_text(
        "dicom_id,subject_id,study_id,PerformedProcedureStepDescription,ViewPosition,Rows,Columns\n"
        "d-lat,10000032,50414267,CHEST (PA AND LAT),LATERAL,3056,2544\n"
        "d-pa,10000032,50414267,CHEST (PA AND LAT),PA,3056,2544\n"
        "d-ap,10000764,57375967,CHEST (PORTABLE AP),AP,2544,3056\n"
    )
    images = load_projections(meta, "/data/mimic-cxr-jpg/2.0.0")
    assert images["50414267"] == [
        "/data/mimic-cxr-jpg/2.0.0/files/p10/p10000032/s50414267/d-pa.jpg",
        "/data/mimic-cxr-jpg/2.0.0/files/p10/p10000032/s50414267/d-lat.jpg",
    ]
    assert images["57375967"] == ["/data/mimic-cxr-jpg/2.0.0/files/p10/p10000764/s57375967/d-ap.jpg"]


def test_reader_fills_image_paths_from_mimic_metadata(tmp_path):
    reports = tmp_path / "r.csv"
    reports.write_text("study_id,patient_id,findings,impression\n50414267,10000032,No effusion.,Normal.\n")
    meta = tmp_path / "meta.csv"
    meta.write_text("dicom_id,subject_id,study_id,ViewPosition\nd1,10000032,50414267,PA\n")
    (report,) = list(read_reports(reports, projections=meta, images_root="root"))
    assert report.image_paths == ["root/files/p10/p10000032/s50414267/d1.jpg"]
    assert report.patient_id == "10000032"


def test_projections_without_known_columns_and_root_without_list_are_errors(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match="projections file lacks a column"):
        load_projections(bad)
    reports = tmp_path / "r.csv"
    reports.write_text("report_id,findings\n1,No effusion.\n")
    with pytest.raises(InputError, match="--images-root needs --projections"):
        read_reports(reports, images_root="x")

"""The Indiana University chest X-ray collection (Open-i): reports CSV and projections CSV.

IU rows come with their sections already split into columns, so no NLP runs on them. `MeSH` and
`Problems` are manual codes derived from the reports (and agree with the gold labels): they are never
read, not even into quarantine payloads.
"""

from __future__ import annotations

import csv
from pathlib import Path

from radprm.errors import InputError
from radprm.readers.columns import ColumnMap

IU_HEADER = ("uid", "MeSH", "Problems", "image", "indication", "comparison", "findings", "impression")
IU_COLUMNS = ColumnMap(
    id="uid", findings="findings", impression="impression", indication="indication", comparison="comparison"
)
PROJECTION_COLUMNS = ("uid", "filename")


def is_iu_header(columns: list[str]) -> bool:
    """True when a CSV header is the IU reports header (`uid,MeSH,Problems,image,...,impression`)."""
    return tuple(columns) == IU_HEADER


def check_iu_header(columns: list[str], path: str | Path) -> None:
    """Raise InputError unless the IU columns radprm reads are all present.

    Raises:
        InputError: a column of `IU_COLUMNS` is missing (named, with the columns present).
    """
    for name in IU_COLUMNS.used():
        if name not in columns:
            raise InputError(
                f"not an IU reports CSV: column missing; columns present: {columns}",
                path=path,
                field=name,
                hint=f"expected the header {','.join(IU_HEADER)}, or use --format csv",
            )


FRONTAL_VIEWS = ("frontal", "pa", "ap", "ap axial", "pa lld", "ap lld", "ap rld", "pa rld")
"""Views that count as frontal (IU `projection`, MIMIC-CXR `ViewPosition`, lower case); they come first."""
MIMIC_METADATA_COLUMNS = ("dicom_id", "subject_id", "study_id", "ViewPosition")


def load_projections(path: str | Path, images_root: str | Path | None = None) -> dict[str, list[str]]:
    """Read an image list into {report id: [image paths, frontal views first, then file order]}.

    Two layouts, told apart by the header: IU `indiana_projections.csv` (uid, filename, projection; key
    `uid`) and MIMIC-CXR-JPG's `mimic-cxr-2.0.0-metadata.csv` (dicom_id, subject_id, study_id,
    ViewPosition; key `study_id`, path `files/p<first 2>/p<subject>/s<study>/<dicom_id>.jpg`). Images are
    never opened: these are paths for trainers.

    Args:
        path: the CSV.
        images_root: folder prefixed to every path (None: paths relative to wherever the images are).

    Returns:
        Image paths per report id (about 7k rows for IU, 377k for MIMIC: held in memory).

    Raises:
        InputError: the file is missing or has neither layout's columns.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("projections file not found", path=path, hint="check --projections")
    root = str(images_root).rstrip("/") + "/" if images_root is not None else ""
    views: dict[str, list[tuple[bool, str]]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        mimic = all(c in fields for c in MIMIC_METADATA_COLUMNS)
        if not mimic:
            for name in PROJECTION_COLUMNS:
                if name not in fields:
                    raise InputError(
                        f"projections file lacks a column; columns present: {fields}", path=path, field=name,
                        hint="expected IU indiana_projections.csv (uid,filename,projection) or MIMIC-CXR-JPG "
                        "metadata (dicom_id,subject_id,study_id,ViewPosition)",
                    )
        for row in reader:
            if mimic:
                key, subject, dicom = (row[c].strip() for c in ("study_id", "subject_id", "dicom_id"))
                view = row.get("ViewPosition") or ""
                filename = f"files/p{subject[:2]}/p{subject}/s{key}/{dicom}.jpg" if subject and dicom else ""
            else:
                key, filename = (row["uid"] or "").strip(), (row["filename"] or "").strip()
                view = row.get("projection") or ""
            if key and filename:
                views.setdefault(key, []).append((view.strip().lower() not in FRONTAL_VIEWS, root + filename))
    # sorted() is stable: frontal views first, file order within each group
    return {key: [p for _, p in sorted(found, key=lambda v: v[0])] for key, found in views.items()}

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


def load_projections(path: str | Path) -> dict[str, list[str]]:
    """Read `indiana_projections.csv` into {uid: [image file names in file order]}.

    Args:
        path: the projections CSV (columns uid, filename, projection).

    Returns:
        Image file names per uid (about 7k rows, so it is held in memory).

    Raises:
        InputError: the file is missing or lacks the uid/filename columns.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("projections file not found", path=path, hint="check --projections")
    images: dict[str, list[str]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        fields = reader.fieldnames or []
        for name in PROJECTION_COLUMNS:
            if name not in fields:
                raise InputError(
                    f"projections file lacks a column; columns present: {fields}", path=path, field=name,
                    hint="expected indiana_projections.csv with uid,filename,projection",
                )
        for row in reader:
            uid, filename = (row["uid"] or "").strip(), (row["filename"] or "").strip()
            if uid and filename:
                images.setdefault(uid, []).append(filename)
    return images

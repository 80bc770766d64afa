"""Train / validation / test splits by patient, and report lists to keep out of a job.

Every item gets a `split` and a `patient_id` (MIMIC-CXR: the `p` folder; IU has no patient ids, so the
report id stands in). The split comes from

* a split file (`--split-file`, e.g. MIMIC-CXR-JPG's `mimic-cxr-2.0.0-split.csv`): a CSV with a `split`
  column and a report id column (`report_id`, `study_id`, `uid` or `id`) and/or a patient column
  (`patient_id` or `subject_id`). A report it does not name is quarantined (`split_missing`), never
  given a split silently; or
* a deterministic patient hash (`--split-ratios 0.9,0.05,0.05`, the default): sha256 of the patient id
  picks the bucket, so the same patient lands in the same split in every run and every job, and all of a
  patient's reports stay on one side.

`--exclude-reports FILE` keeps reports out of a job entirely (evaluation sets): a `.txt` file with one id
per line, or a CSV / JSONL with a report id column (`report_id`, `uid`, `study_id`, `id`).
"""

from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from radprm.errors import InputError

SPLIT_NAMES = ("train", "validation", "test")
DEFAULT_RATIOS = "0.9,0.05,0.05"
HASH_SCHEME = "radprm-split-v1"
"""Salt of the patient hash: changing it reshuffles every split, so it is versioned and recorded."""
REPORT_ID_COLUMNS = ("report_id", "study_id", "uid", "id")
PATIENT_COLUMNS = ("patient_id", "subject_id")
SPLIT_ALIASES = {"validate": "validation", "val": "validation", "valid": "validation", "dev": "validation"}


def parse_ratios(text: str | list[float] | tuple[float, ...]) -> tuple[float, float, float]:
    """`"0.9,0.05,0.05"` -> (train, validation, test) shares.

    Raises:
        InputError: not three non-negative numbers, or they do not sum to 1.
    """
    parts = [p.strip() for p in text.split(",")] if isinstance(text, str) else list(text)
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise InputError(f"split ratios {text!r} are not numbers", field="split_ratios",
                         hint="give three shares train,validation,test, e.g. 0.9,0.05,0.05") from None
    if len(values) != 3 or any(v < 0 for v in values):
        raise InputError(f"split ratios {text!r}: need three non-negative shares (train,validation,test)",
                         field="split_ratios", hint="e.g. 0.9,0.05,0.05")
    if abs(sum(values) - 1.0) > 1e-6:
        raise InputError(f"split ratios {text!r} sum to {sum(values):g}, not 1", field="split_ratios",
                         hint="e.g. 0.9,0.05,0.05")
    return values[0], values[1], values[2]


def hash_split(patient_id: str, ratios: tuple[float, float, float]) -> str:
    """The split of a patient: sha256 of `HASH_SCHEME:patient_id` as a fraction in [0, 1), bucketed."""
    digest = hashlib.sha256(f"{HASH_SCHEME}:{patient_id}".encode()).digest()
    x = int.from_bytes(digest[:8], "big") / 2**64
    edge = 0.0
    for name, share in zip(SPLIT_NAMES, ratios, strict=True):
        edge += share
        if x < edge:
            return name
    return next(n for n, r in zip(reversed(SPLIT_NAMES), reversed(ratios), strict=True) if r > 0)


def _column(fields: list[str], names: tuple[str, ...]) -> str | None:
    lower = {f.strip().lower(): f for f in fields}
    return next((lower[n] for n in names if n in lower), None)


def _norm_split(value: str) -> str:
    value = value.strip().lower()
    return SPLIT_ALIASES.get(value, value)


@dataclass
class SplitFile:
    """A split file read into report -> split and patient -> split maps."""

    path: Path
    by_report: dict[str, str] = field(default_factory=dict)
    by_patient: dict[str, str] = field(default_factory=dict)

    @classmethod
    def read(cls, path: str | Path) -> SplitFile:
        """Read a split CSV.

        Raises:
            InputError: missing file, no `split` column, no id column, an empty split, or one id given two
                different splits (naming the row).
        """
        path = Path(path)
        if not path.is_file():
            raise InputError("split file not found", path=path, field="split_file", hint="check --split-file")
        out = cls(path)
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            fields = reader.fieldnames or []
            split_col = _column(fields, ("split",))
            id_col, patient_col = _column(fields, REPORT_ID_COLUMNS), _column(fields, PATIENT_COLUMNS)
            if split_col is None or (id_col is None and patient_col is None):
                want = "split" if split_col is None else f"one of {', '.join(REPORT_ID_COLUMNS + PATIENT_COLUMNS)}"
                raise InputError(f"split file lacks a column ({want}); columns present: {fields}", path=path,
                                 field="split" if split_col is None else "report_id")
            for row_no, row in enumerate(reader, 1):
                split = _norm_split(row.get(split_col) or "")
                if not split:
                    raise InputError("empty split", path=path, row=row_no, field=split_col)
                for col, target in ((id_col, out.by_report), (patient_col, out.by_patient)):
                    key = (row.get(col) or "").strip() if col else ""
                    if not key:
                        continue
                    if target.setdefault(key, split) != split:
                        raise InputError(f"{col} {key!r} is in split {target[key]!r} and {split!r}", path=path,
                                         row=row_no, field=col, hint="one report or patient, one split")
        if not out.by_report and not out.by_patient:
            raise InputError("split file has no rows", path=path, field="split_file")
        return out

    def split_for(self, report_id: str, patient_id: str | None) -> str | None:
        """The split of a report (by its id, else its patient), None when the file names neither."""
        found = self.by_report.get(report_id)
        if found is None and patient_id is not None:
            found = self.by_patient.get(patient_id)
        return found


class SplitAssigner:
    """Gives each report its patient id and split: from a split file, else by patient hash.

    Args:
        split_file: a split CSV (see module docs), or None.
        ratios: train,validation,test shares for the patient hash (ignored with a split file).

    Raises:
        InputError: bad ratios or a bad split file.
    """

    def __init__(self, split_file: str | Path | None = None, ratios: str = DEFAULT_RATIOS) -> None:
        self.file = SplitFile.read(split_file) if split_file is not None else None
        self.ratios = parse_ratios(ratios)

    @staticmethod
    def patient_of(report_id: str, patient_id: str | None) -> str:
        """The patient id used for splits: the input's, else the report id (IU has no patient ids)."""
        return patient_id or report_id

    def split_for(self, report_id: str, patient_id: str | None) -> str | None:
        """The report's split; None only with a split file that does not name it (quarantine it)."""
        if self.file is not None:
            return self.file.split_for(report_id, patient_id)
        return hash_split(self.patient_of(report_id, patient_id), self.ratios)

    def describe(self) -> str:
        """Where splits come from, for job.json and messages."""
        if self.file is not None:
            return f"file:{self.file.path.name}"
        return f"hash:{HASH_SCHEME}:" + ",".join(f"{r:g}" for r in self.ratios)


def read_id_list(path: str | Path, *, field_name: str = "exclude_reports") -> set[str]:
    """Report ids of a list file: `.txt` (one per line), `.jsonl` (`report_id` / `uid` / `id` key) or CSV.

    Raises:
        InputError: missing file, a CSV / JSONL without an id column or key (naming the row), or no id at all.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError("report list not found", path=path, field=field_name)
    ids: set[str] = set()
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        with path.open(encoding="utf-8") as fh:
            for row_no, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(f"not valid JSON: {exc.msg}", path=path, row=row_no, field=field_name) from None
                key = next((k for k in ("report_id", "uid", "study_id", "id") if k in obj), None)
                if key is None:
                    raise InputError("no report id key (report_id, uid, study_id, id)", path=path, row=row_no,
                                     field="report_id")
                ids.add(str(obj[key]).strip())
    elif suffix in (".csv", ".tsv"):
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh, delimiter="\t" if suffix == ".tsv" else ",")
            col = _column(reader.fieldnames or [], REPORT_ID_COLUMNS)
            if col is None:
                raise InputError(f"no report id column; columns present: {reader.fieldnames}", path=path,
                                 field="report_id", hint=f"name it one of {', '.join(REPORT_ID_COLUMNS)}")
            ids = {(row.get(col) or "").strip() for row in reader} - {""}
    else:
        ids = {line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}
    if not ids:
        raise InputError("report list holds no id", path=path, field=field_name)
    return ids

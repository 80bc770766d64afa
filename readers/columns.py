"""Column mapping: which input columns hold the report id and text, resolved once per file."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from radprm.errors import InputError

ID_DEFAULTS = ("report_id", "id", "uid", "study_id")  # study_id: MIMIC-CXR tables
TEXT_DEFAULTS = ("text", "report", "report_text")
OPTIONAL_FIELDS = ("indication", "comparison", "image_paths", "patient_id")


@dataclass(frozen=True)
class ColumnMap:
    """Input column name for each Report field (None when the input has no such column).

    Either `text` is set (the whole report, split by the sectionizer) or at least one of
    `findings` / `impression` is.
    """

    id: str
    findings: str | None = None
    impression: str | None = None
    text: str | None = None
    indication: str | None = None
    comparison: str | None = None
    image_paths: str | None = None
    patient_id: str | None = None

    def required(self) -> list[str]:
        """Input columns every file must have: the id and the text columns."""
        names = [self.id, self.findings, self.impression, self.text]
        return [n for n in dict.fromkeys(names) if n is not None]

    def used(self) -> list[str]:
        """Input columns this map reads, in a stable order."""
        names = [self.id, self.findings, self.impression, self.text, self.indication, self.comparison, self.image_paths,
                 self.patient_id]
        return [n for n in dict.fromkeys(names) if n is not None]


def _listing(columns: list[str]) -> str:
    shown = ", ".join(repr(c) for c in columns[:30])
    more = f" (+{len(columns) - 30} more)" if len(columns) > 30 else ""
    return f"[{shown}{more}]" if columns else "[] (no columns)"


def resolve_columns(
    columns: list[str],
    path: str | Path,
    *,
    id_col: str | None = None,
    text_col: str | None = None,
    findings_col: str | None = None,
    impression_col: str | None = None,
) -> ColumnMap:
    """Decide which columns to read, from the user's flags and the columns the file has.

    Defaults (matched ignoring case): the id is `report_id`, then `id`, then `uid`, then `study_id`; the text comes
    from `findings` / `impression` columns when present, else from a `text` / `report` /
    `report_text` column. `indication`, `comparison`, `image_paths` and `patient_id` are read when present.

    Args:
        columns: column names present in the input (for JSONL: the keys of the first object).
        path: the input file, for error messages.
        id_col: column holding the report id.
        text_col: column holding the whole report text (split into sections).
        findings_col: column holding the FINDINGS text.
        impression_col: column holding the IMPRESSION text.

    Returns:
        The resolved ColumnMap.

    Raises:
        InputError: a named column is absent, the id or text columns cannot be found, or both
            `text_col` and `findings_col`/`impression_col` are given.
    """
    present = set(columns)
    listing = _listing(columns)
    # defaults match case-insensitively ("ID", "Findings"); names given by flags must match exactly
    by_lower: dict[str, str] = {}
    for name in columns:
        by_lower.setdefault(name.lower(), name)

    def default(*candidates: str) -> str | None:
        return next((by_lower[c] for c in candidates if c in by_lower), None)

    if text_col and (findings_col or impression_col):
        raise InputError(
            "give either --text-col or --findings-col/--impression-col, not both",
            path=path,
            hint="--text-col is for a column holding the whole report",
        )
    for flag, name in (("--id-col", id_col), ("--text-col", text_col), ("--findings-col", findings_col),
                       ("--impression-col", impression_col)):
        if name is not None and name not in present:
            raise InputError(f"column not found ({flag}); columns present: {listing}", path=path, field=name,
                             hint=f"check {flag}")
    if id_col is None:
        id_col = default(*ID_DEFAULTS)
        if id_col is None:
            raise InputError(
                f"no id column (looked for {', '.join(ID_DEFAULTS)}); columns present: {listing}",
                path=path,
                hint="name the id column with --id-col",
            )
    if text_col is None and findings_col is None and impression_col is None:
        findings_col = default("findings")
        impression_col = default("impression")
        if findings_col is None and impression_col is None:
            text_col = default(*TEXT_DEFAULTS)
            if text_col is None:
                raise InputError(
                    f"no report text columns (looked for findings, impression, {', '.join(TEXT_DEFAULTS)}); "
                    f"columns present: {listing}",
                    path=path,
                    hint="name them with --findings-col/--impression-col, or --text-col for whole reports",
                )
    optional = {name: default(name) for name in OPTIONAL_FIELDS}
    return ColumnMap(id=id_col, findings=findings_col, impression=impression_col, text=text_col, **optional)

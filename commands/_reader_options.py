"""The report-reading CLI options, defined once for every command that reads reports.

`radprm read`, `radprm findings`, `radprm validate` and `radprm mine` take the same flags with the
same meaning; option names match the keyword names of `radprm.readers.read_reports`. Use the
`Annotated` aliases as parameter types and hand the values to `reader_kwargs`:

```python
from pathlib import Path

import typer

from radprm.commands._app import app, command
from radprm.commands._reader_options import (
    FindingsColOpt, FormatOpt, IdColOpt, ImpressionColOpt, InputArg, LimitOpt, ProjectionsOpt,
    QuarantineOpt, TextColOpt, reader_kwargs,
)

@command(app)
def findings(
    input: InputArg,
    out: Path,
    format: FormatOpt = None,
    id_col: IdColOpt = None,
    text_col: TextColOpt = None,
    findings_col: FindingsColOpt = None,
    impression_col: ImpressionColOpt = None,
    projections: ProjectionsOpt = None,
    limit: LimitOpt = None,
    quarantine: QuarantineOpt = None,
) -> None:
    \"\"\"Extract findings from reports.\"\"\"
    options = reader_kwargs(format=format, id_col=id_col, text_col=text_col, findings_col=findings_col,
                            impression_col=impression_col, projections=projections, limit=limit)
    summary = extract_findings(input, out, quarantine=quarantine, **options)   # your API function
    typer.echo(summary.render())
```

`--quarantine` is a path; `default_quarantine_path(out)` gives the conventional default beside an
output (`<out>.quarantine.jsonl`, `radprm.run.quarantine_path_for`). `StrictOpt` is `--strict` (exit 1
when anything was quarantined; declared in `commands._app` with the other shared options).
`read_reports` raises `InputError` for file-level problems; `@command` prints it as one line.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from radprm.commands._app import StrictOpt, with_options
from radprm.readers.formats import FORMATS
from radprm.run import quarantine_path_for as default_quarantine_path

__all__ = [
    "FindingsColOpt", "FormatOpt", "IdColOpt", "ImpressionColOpt", "InputArg", "LimitOpt", "ProjectionsOpt",
    "QuarantineOpt", "StrictOpt", "TextColOpt", "default_quarantine_path", "reader_kwargs", "reader_options",
]

_PANEL = "Reading reports"

InputArg = Annotated[
    Path,
    typer.Argument(
        help="Reports: the IU X-ray CSV, a .csv/.tsv, .jsonl, .parquet or .txt file, or a directory of .txt files.",
        show_default=False,
    ),
]
FormatOpt = Annotated[
    str | None,
    typer.Option(
        "--format",
        help=f"Input format, one of: {', '.join(FORMATS)}. Default: from the extension (IU CSV from its header).",
        rich_help_panel=_PANEL,
    ),
]
IdColOpt = Annotated[
    str | None,
    typer.Option(
        "--id-col", help="Column holding the report id. Default: report_id, id or uid.", rich_help_panel=_PANEL
    ),
]
TextColOpt = Annotated[
    str | None,
    typer.Option(
        "--text-col",
        help="Column holding the whole report text, split into FINDINGS/IMPRESSION (no headers: all findings).",
        rich_help_panel=_PANEL,
    ),
]
FindingsColOpt = Annotated[
    str | None,
    typer.Option("--findings-col", help="Column holding the FINDINGS text. Default: findings.", rich_help_panel=_PANEL),
]
ImpressionColOpt = Annotated[
    str | None,
    typer.Option(
        "--impression-col", help="Column holding the IMPRESSION text. Default: impression.", rich_help_panel=_PANEL
    ),
]
ProjectionsOpt = Annotated[
    Path | None,
    typer.Option(
        "--projections",
        help="Image list: IU indiana_projections.csv, or MIMIC-CXR-JPG's metadata CSV (dicom_id, study_id, "
        "ViewPosition); fills image_paths by report id, frontal views first.",
        rich_help_panel=_PANEL,
    ),
]
ImagesRootOpt = Annotated[
    Path | None,
    typer.Option(
        "--images-root",
        help="Folder the images live under; prefixed to --projections paths (MIMIC-CXR-JPG: the folder holding "
        "files/). Paths only: images are never opened or copied.",
        rich_help_panel=_PANEL,
    ),
]
LimitOpt = Annotated[
    int | None,
    typer.Option("--limit", min=0, help="Stop after this many reports.", rich_help_panel=_PANEL),
]
QuarantineOpt = Annotated[
    Path | None,
    typer.Option(
        "--quarantine",
        help="Where to write quarantined rows (JSONL, only when there are some). Default: <out>.quarantine.jsonl.",
        rich_help_panel=_PANEL,
    ),
]


def reader_kwargs(
    *,
    format: str | None = None,
    id_col: str | None = None,
    text_col: str | None = None,
    findings_col: str | None = None,
    impression_col: str | None = None,
    projections: Path | None = None,
    images_root: Path | None = None,
    limit: int | None = None,
) -> dict[str, Any]:
    """Collect the reader option values into keyword arguments for `radprm.readers.read_reports`.

    Returns:
        A dict with exactly the `read_reports` keyword names (quarantine excluded: commands build
        their sink from `--quarantine`).
    """
    return {
        "format": format,
        "id_col": id_col,
        "text_col": text_col,
        "findings_col": findings_col,
        "impression_col": impression_col,
        "projections": projections,
        "images_root": images_root,
        "limit": limit,
    }


_READER_PARAMS = (
    ("format", FormatOpt),
    ("id_col", IdColOpt),
    ("text_col", TextColOpt),
    ("findings_col", FindingsColOpt),
    ("impression_col", ImpressionColOpt),
    ("projections", ProjectionsOpt),
    ("images_root", ImagesRootOpt),
    ("limit", LimitOpt),
)


def reader_options(func: Callable) -> Callable:
    """Decorator: add the shared reader options to a command and pass them as one `reader` dict.

    The decorated function declares a `reader: dict` parameter instead of the seven reader options;
    the CLI still shows `--format`, `--id-col`, `--text-col`, `--findings-col`, `--impression-col`,
    `--projections` and `--limit`, and the function receives `reader=reader_kwargs(...)`:

    ```python
    @command(app)
    @reader_options
    def read(input: InputArg, out: Path, reader: dict) -> None:
        summary = read_to_table(input, out, **reader)
    ```
    """
    params = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=None, annotation=annotation)
              for name, annotation in _READER_PARAMS]
    return with_options(func, "reader", params, reader_kwargs)

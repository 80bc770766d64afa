"""`radprm phi scan`: PHI hits per report (Presidio), and `radprm rehydrate`: report text back into shards."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import ShardDirArg, app, command
from radprm.commands._reader_options import InputArg, QuarantineOpt, reader_options

phi_app = typer.Typer(help="Protected health information: scan reports with the PHI guard.", no_args_is_help=True)
app.add_typer(phi_app, name="phi")


class Engine(str, Enum):
    """PHI guard engines."""

    patterns = "patterns"
    ner = "ner"


@command(phi_app, "scan")
@reader_options
def scan(
    input: InputArg,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="JSONL of reports with hits (entity, offsets, score).")
    ] = None,
    engine: Annotated[
        Engine, typer.Option("--engine", help="patterns (Presidio recognizers, fast) or ner (plus spaCy NER).")
    ] = Engine.patterns,
    show_text: Annotated[
        bool, typer.Option("--show-text", help="Also write the matched text to --out (the file then holds PHI).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    quarantine: QuarantineOpt = None,
    reader: dict | None = None,
) -> None:
    """Scan reports for PHI (names, dates, phone/fax, e-mail, URL, address, MRN/accession/SSN-like ids)."""
    from radprm.phi.scan import scan_reports

    summary = scan_reports(input, out=out, engine=engine.value, show_text=show_text, quarantine=quarantine,
                           **(reader or {}))
    typer.echo(json.dumps(summary.as_dict(), indent=2) if as_json else summary.render())


@command(app, "rehydrate")
@reader_options
def rehydrate_cmd(
    directory: ShardDirArg,
    reports: Annotated[
        Path, typer.Option("--reports", help="Your own licensed copy of the reports (any reader format).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="New shard directory with the report text joined back.")],
    reader: dict | None = None,
) -> None:
    """Join report text back into shards mined with --store-report-text no (text, evidence, quoted sentences)."""
    from radprm.phi.rehydrate import rehydrate

    summary = rehydrate(directory, reports=reports, out=out, **(reader or {}))
    typer.echo(summary.render())

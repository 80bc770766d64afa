"""`radprm verify`, `radprm qa`, `radprm sql`: integrity, QA and ad hoc SQL over a shard directory."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import ShardSetArg, app, command
from radprm.errors import RunError


@command(app, "verify")
def verify_cmd(
    directory: ShardSetArg,
    check_sha: Annotated[
        bool, typer.Option("--check-sha/--no-check-sha", help="Recompute each shard's sha256.")
    ] = True,
    check_duplicates: Annotated[
        bool, typer.Option("--check-duplicates/--no-check-duplicates", help="Look for item ids stored more than once.")
    ] = True,
) -> None:
    """Check shards against the manifest (missing, extra, size, sha256, rows, schema) and for duplicate ids."""
    from radprm.shards import verify

    report = verify(directory, check_sha=check_sha, check_duplicates=check_duplicates)
    for problem in report.problems:
        typer.echo(str(problem))
    typer.echo(report.render(), err=not report.ok)
    if not report.ok:
        raise typer.Exit(code=1)


@command(app, "qa")
def qa_cmd(
    directory: ShardSetArg,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Report file (.md or .html). Default: qa/report.md and qa/report.html in DIRECTORY. "
            "Required for a remote DIR (s3://...): qa.json and Data Docs go beside it, no dataset card."
        ),
    ] = None,
    near_dup_threshold: Annotated[
        float,
        typer.Option(
            "--near-dup-threshold", help="rapidfuzz ratio (0-100) at or above which two chains are near-duplicates."
        ),
    ] = 90,
    leakage_threshold: Annotated[
        float,
        typer.Option("--leakage-threshold", help="rapidfuzz ratio (0-100) at or above which two normalised report "
                     "texts in different splits count as leakage (split_leakage check)."),
    ] = 95,
    reports: Annotated[
        Path | None,
        typer.Option("--reports", help="Input reports (or a .txt of ids) for the reports-without-items check."),
    ] = None,
    quarantine: Annotated[
        Path | None, typer.Option("--quarantine", help="The run's quarantine JSONL (default: found).")
    ] = None,
    expectations: Annotated[
        bool,
        typer.Option("--expectations/--no-expectations", help="Run the Great Expectations suites and build Data Docs."),
    ] = True,
    charts: Annotated[
        bool,
        typer.Option("--charts/--no-charts", help="Draw the charts (inline SVG in report.html, SVG files for .md)."),
    ] = True,
    compare: Annotated[
        Path | None,
        typer.Option(
            "--compare", metavar="OTHER_DIR",
            help="Another run's shard directory: adds a side-by-side section to the report and qa.json.",
        ),
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when any check warns (not only on failed expectations).")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only the summary, not the tables.")] = False,
) -> None:
    """Run the DuckDB QA pack and the GE suites; print tables, write the QA report (charts), Data Docs and card."""
    from radprm.qa import qa

    try:
        report = qa(
            directory, out=out, near_dup_threshold=near_dup_threshold, leakage_threshold=leakage_threshold,
            reports=reports, quarantine=quarantine, expectations=expectations, charts=charts, compare=compare,
            progress=True, strict=strict,
        )
    except RunError as exc:
        _print_tables(exc.summary, quiet)  # the tables show what failed; @command prints summary and error
        raise
    _print_tables(report, quiet)
    typer.echo(report.render())


def _print_tables(report: object, quiet: bool) -> None:
    if quiet:
        return
    from rich.console import Console

    from radprm.qa.report import rich_tables

    console = Console()
    for table in rich_tables(report):
        console.print(table)


@command(app, "sql")
def sql_cmd(
    directory: ShardSetArg,
    sql: Annotated[
        str, typer.Argument(help="SQL over the views `items` (one row per item), `steps` (one per step) and "
                            "`quarantine` (one per quarantine record of the run; join on item_id or report_id).")
    ],
    format: Annotated[
        str, typer.Option("--format", "-f", help="Output format: table, csv or json (JSON lines).")
    ] = "table",
) -> None:
    """Run ad hoc SQL (DuckDB) over the shards, e.g. "SELECT verdict, count(*) FROM steps GROUP BY 1"."""
    from radprm.errors import InputError
    from radprm.shards import query

    if format not in ("table", "csv", "json"):
        raise InputError(f"unknown format '{format}' (table, csv, json)", field="format")
    columns, rows = query(directory, sql)
    if format == "csv":
        writer = csv.writer(sys.stdout)
        writer.writerow(columns)
        writer.writerows(rows)
    elif format == "json":
        for row in rows:
            typer.echo(json.dumps(dict(zip(columns, row, strict=True)), default=str, ensure_ascii=False))
    else:
        from rich.console import Console
        from rich.table import Table

        table = Table(caption=f"{len(rows)} rows")
        for col in columns:
            table.add_column(col, overflow="fold")
        for row in rows:
            table.add_row(*("" if v is None else str(v) for v in row))
        Console().print(table)

"""`radprm verify`, `radprm qa`, `radprm sql`: integrity, QA and ad hoc SQL over a shard directory."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import typer

from radprm.commands._app import app, command

SHARD_DIR = typer.Argument(..., help="Shard directory (with manifest.json), e.g. runs/x/shards.")


@command(app, "verify")
def verify_cmd(
    directory: Path = SHARD_DIR,
    check_sha: bool = typer.Option(True, "--check-sha/--no-check-sha", help="Recompute each shard's sha256."),
    check_duplicates: bool = typer.Option(
        True, "--check-duplicates/--no-check-duplicates", help="Look for item ids stored more than once."
    ),
) -> None:
    """Check shards against the manifest (missing, extra, size, sha256, rows, schema) and for duplicate ids."""
    from radprm.shards import verify

    report = verify(directory, check_sha=check_sha, check_duplicates=check_duplicates)
    for problem in report.problems:
        typer.echo(str(problem))
    typer.echo(report.summary(), err=not report.ok)
    if not report.ok:
        raise typer.Exit(code=1)


@command(app, "qa")
def qa_cmd(
    directory: Path = SHARD_DIR,
    out: Path | None = typer.Option(
        None, "--out", help="Report file (.md or .html). Default: qa/report.md and qa/report.html in DIRECTORY."
    ),
    near_dup_threshold: float = typer.Option(
        90, "--near-dup-threshold", help="rapidfuzz ratio (0-100) at or above which two chains are near-duplicates."
    ),
    reports: Path | None = typer.Option(
        None, "--reports", help="Input reports (or a .txt of ids) for the reports-without-items check."
    ),
    quarantine: Path | None = typer.Option(None, "--quarantine", help="The run's quarantine JSONL (default: found)."),
    expectations: bool = typer.Option(
        True, "--expectations/--no-expectations", help="Run the Great Expectations suites and build Data Docs."
    ),
    strict: bool = typer.Option(
        False, "--strict", help="Exit 1 when any check warns (not only on failed expectations)."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print only the summary, not the tables."),
) -> None:
    """Run the DuckDB QA pack and the GE suites; print tables, write the QA report, Data Docs and dataset card."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from radprm.qa import qa
    from radprm.qa.checks import load_checks

    steps = len(load_checks()) + (1 if expectations else 0)
    started: list[str] = []
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:
        task = bar.add_task("qa", total=steps)

        def progress(name: str) -> None:
            # called as each step starts: the previous one is then done
            bar.update(task, completed=len(started), description=f"qa: {name}")
            started.append(name)

        report = qa(
            directory, out=out, near_dup_threshold=near_dup_threshold, reports=reports, quarantine=quarantine,
            expectations=expectations, progress=progress,
        )
    if not quiet:
        from radprm.qa.report import rich_tables

        console = Console()
        for table in rich_tables(report):
            console.print(table)
    typer.echo(report.summary())
    if report.expectations_failed or (strict and report.warnings):
        raise typer.Exit(code=1)


@command(app, "sql")
def sql_cmd(
    directory: Path = SHARD_DIR,
    sql: str = typer.Argument(..., help="SQL over the views `items` (one row per item) and `steps` (one per step)."),
    format: str = typer.Option("table", "--format", "-f", help="Output format: table, csv or json (JSON lines)."),
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

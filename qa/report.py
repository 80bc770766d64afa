"""`qa()`: run the SQL pack and the GE suites over a shard directory and write the QA report.

Outputs, inside the shard directory: `qa/report.md` and `qa/report.html` (or the one `out` file),
`qa/qa.json` (machine-readable results), `qa/gx_docs/` (Great Expectations Data Docs) and a refreshed
dataset card `README.md`.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm import run
from radprm.errors import InputError, RunError
from radprm.qa.checks import CheckResult, load_checks, run_checks
from radprm.run import write_text_atomic
from radprm.shards.manifest import utc_now

SHOWN_ROWS = 20
"""Rows of each check shown in the report and the terminal (counts always cover all rows)."""


@dataclass
class QAReport:
    """Everything `qa()` found and wrote."""

    directory: Path
    checks: list[CheckResult]
    expectations: Any = None  # ExpectationsReport, when run
    written: list[Path] = field(default_factory=list)
    created_at: str = field(default_factory=utc_now)

    @property
    def warnings(self) -> list[CheckResult]:
        """Checks that warn."""
        return [c for c in self.checks if c.status == "warn"]

    @property
    def expectations_failed(self) -> bool:
        """True when the GE suites ran and at least one expectation failed."""
        return self.expectations is not None and not self.expectations.success

    def render(self) -> str:
        """A few lines: check counts by status, GE result, files written."""
        counts = {s: sum(1 for c in self.checks if c.status == s) for s in ("ok", "warn", "skip")}
        lines = [f"QA checks: {counts['ok']} ok, {counts['warn']} warn, {counts['skip']} skipped"]
        if self.warnings:
            lines.append("warnings: " + ", ".join(f"{c.check.name} ({c.warnings})" for c in self.warnings))
        if self.expectations is not None:
            lines.append(self.expectations.render())
            lines += [f"  {o}" for o in self.expectations.failures]
        lines += [f"wrote {p}" for p in self.written]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form written to `qa/qa.json`."""
        exp = self.expectations
        return {
            "directory": str(self.directory),
            "created_at": self.created_at,
            "checks": [c.as_dict() for c in self.checks],
            "expectations": None
            if exp is None
            else {
                "success": exp.success,
                "suite_versions": exp.suite_versions,
                "rows": exp.rows,
                "chunks": exp.chunks,
                "failures": [str(o) for o in exp.failures],
                "docs_index": str(exp.docs_index) if exp.docs_index else None,
            },
        }


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    text = "" if value is None else str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _shown(result: CheckResult) -> tuple[list[str], list[list[str]]]:
    """Columns without `warn` and rows as text; rows that warn first when the check warns."""
    keep = [i for i, c in enumerate(result.columns) if c != "warn"]
    rows = result.rows
    if "warn" in result.columns:
        w = result.columns.index("warn")
        rows = sorted(rows, key=lambda r: not r[w])
    return [result.columns[i] for i in keep], [[_cell(r[i]) for i in keep] for r in rows[:SHOWN_ROWS]]


def render_markdown(report: QAReport) -> str:
    """The QA report as Markdown."""
    out = [f"# QA report: {report.directory}", "", f"Generated {report.created_at}.", ""]
    out += ["| check | status | rows | warn rows |", "|---|---|---|---|"]
    for c in report.checks:
        out.append(f"| [{c.check.name}](#{c.check.name}) | {c.status} | {c.total_rows} | {c.warnings} |")
    if report.expectations is not None:
        out += ["", f"**{report.expectations.render()}**"]
        out += [f"- {o}" for o in report.expectations.failures]
    for c in report.checks:
        out += ["", f"## {c.check.name}", "", f"**{c.check.title}** (v{c.check.version}): {c.check.what}", ""]
        out += [f"Threshold: {c.check.threshold}", ""]
        if c.skipped:
            out.append(f"Skipped: {c.skipped}")
            continue
        columns, rows = _shown(c)
        if not rows:
            out.append("No rows.")
            continue
        out.append("| " + " | ".join(columns) + " |")
        out.append("|" + "---|" * len(columns))
        out += ["| " + " | ".join(v.replace("|", "\\|").replace("\n", " ") for v in r) + " |" for r in rows]
        if c.total_rows > len(rows):
            out.append(f"\n{len(rows)} of {c.total_rows} rows shown (more in qa/qa.json, or query with `radprm sql`).")
    return "\n".join(out) + "\n"


def render_html(report: QAReport) -> str:
    """The QA report as a self-contained HTML page."""
    esc = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'>",
        f"<title>QA report: {esc(str(report.directory))}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:70em}table{border-collapse:collapse;margin:.5em 0}"
        "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}"
        ".warn{background:#fde2e1}.ok{background:#e3f6e3}.skip{background:#eee}</style></head><body>",
        f"<h1>QA report: {esc(str(report.directory))}</h1><p>Generated {esc(report.created_at)}.</p>",
        "<table><tr><th>check</th><th>status</th><th>rows</th><th>warn rows</th></tr>",
    ]
    for c in report.checks:
        parts.append(
            f"<tr class='{c.status}'><td><a href='#{c.check.name}'>{c.check.name}</a></td><td>{c.status}</td>"
            f"<td>{c.total_rows}</td><td>{c.warnings}</td></tr>"
        )
    parts.append("</table>")
    if report.expectations is not None:
        exp = report.expectations
        docs = " <a href='gx_docs/index.html'>Data Docs</a>" if exp.docs_index else ""
        parts.append(f"<p class='{'ok' if exp.success else 'warn'}'>{esc(exp.render())}{docs}</p>")
        parts += [f"<li>{esc(str(o))}</li>" for o in exp.failures]
    for c in report.checks:
        parts.append(f"<h2 id='{c.check.name}'>{esc(c.check.name)}</h2>")
        parts.append(f"<p><b>{esc(c.check.title)}</b> (v{c.check.version}): {esc(c.check.what)}<br>")
        parts.append(f"Threshold: {esc(c.check.threshold)}</p>")
        if c.skipped:
            parts.append(f"<p>Skipped: {esc(c.skipped)}</p>")
            continue
        columns, rows = _shown(c)
        if not rows:
            parts.append("<p>No rows.</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{esc(col)}</th>" for col in columns) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{esc(v)}</td>" for v in r) + "</tr>" for r in rows]
        parts.append("</table>")
        if c.total_rows > len(rows):
            parts.append(f"<p>{len(rows)} of {c.total_rows} rows shown.</p>")
    parts.append("</body></html>")
    return "\n".join(parts)


def qa(
    directory: str | Path,
    *,
    out: str | Path | None = None,
    near_dup_threshold: float = 90,
    leakage_threshold: float = 95,
    reports: str | Path | None = None,
    quarantine: str | Path | None = None,
    expectations: bool = True,
    card: bool = True,
    progress: bool | None = False,
    strict: bool = False,
) -> QAReport:
    """Run the QA pack and the GE suites over a shard directory; write the report, JSON, docs and card.

    Args:
        directory: shard directory.
        out: report file (`.md` or `.html`); default both `qa/report.md` and `qa/report.html` in the directory.
        near_dup_threshold: rapidfuzz ratio (0-100) for near-duplicate chains.
        leakage_threshold: rapidfuzz ratio (0-100) for near-duplicate report texts across splits.
        reports: input reports for `reports_without_items` (see `run_checks`).
        quarantine: the run's quarantine JSONL (see `run_checks`).
        expectations: run the Great Expectations suites and build Data Docs.
        card: rewrite the dataset card `README.md`.
        progress: show a progress bar on stderr (None: only on a terminal).
        strict: a check that warns is an error too, not only a failed expectation.

    Returns:
        The `QAReport`.

    Raises:
        InputError: `out` has another suffix than .md / .html, or a bad reports input.
        ShardError: the directory is not a readable shard directory.
        RunError: an expectation failed, or (with `strict`) a check warns; the report files are written
            first and `err.summary` is the `QAReport`.
    """
    directory = Path(directory)
    if out is not None and Path(out).suffix.lower() not in (".md", ".html", ".htm"):
        raise InputError("report must end in .md or .html", path=out, field="out")
    for name, value in (("near_dup_threshold", near_dup_threshold), ("leakage_threshold", leakage_threshold)):
        if not 0 <= value <= 100:
            raise InputError("must be between 0 and 100", field=name)
    started: list[str] = []
    with run.progress("qa", total=len(load_checks()) + (1 if expectations else 0), enabled=progress) as bar:

        def step(name: str) -> None:
            # called as each step starts: the previous one is then done
            bar.update(completed=len(started), description=f"qa: {name}")
            started.append(name)

        checks = run_checks(
            directory, near_dup_threshold=near_dup_threshold, leakage_threshold=leakage_threshold, reports=reports,
            quarantine=quarantine, progress=step,
        )
        report = QAReport(directory=directory, checks=checks)
        if expectations:
            from radprm.qa.expectations import run_expectations

            step("great_expectations")
            report.expectations = run_expectations(directory)
    qa_dir = directory / "qa"
    qa_dir.mkdir(exist_ok=True)
    targets = [Path(out)] if out is not None else [qa_dir / "report.md", qa_dir / "report.html"]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        render = render_markdown if target.suffix.lower() == ".md" else render_html
        write_text_atomic(target, render(report))
        report.written.append(target)
    write_text_atomic(qa_dir / "qa.json", json.dumps(report.as_dict(), indent=2) + "\n")
    report.written.append(qa_dir / "qa.json")
    if card:
        from radprm.shards.card import write_card

        report.written.append(write_card(directory))
    if report.expectations_failed:
        failed = len(report.expectations.failures)
        raise RunError(f"{failed} expectation(s) failed; see {report.expectations.docs_index or qa_dir}",
                       summary=report, path=directory)
    if strict and report.warnings:
        names = ", ".join(c.check.name for c in report.warnings)
        raise RunError(f"{len(report.warnings)} check(s) warn and --strict is set: {names}", summary=report,
                       path=directory)
    return report


def rich_tables(report: QAReport) -> list[Any]:
    """Rich tables for the terminal: one overview of every check, then the rows of checks that have any."""
    from rich.table import Table

    styles = {"ok": "green", "warn": "red", "skip": "dim"}
    overview = Table(title=f"QA: {report.directory}")
    for col in ("check", "status", "rows", "warn rows", "what"):
        overview.add_column(col, overflow="fold")
    for c in report.checks:
        note = c.skipped if c.skipped else c.check.title
        overview.add_row(
            c.check.name, f"[{styles[c.status]}]{c.status}[/]", str(c.total_rows), str(c.warnings), note
        )
    tables = [overview]
    for c in report.checks:
        if c.skipped or not c.rows:
            continue
        columns, rows = _shown(c)
        title = f"[{styles[c.status]}]{c.check.name}: {c.status}[/] - {c.check.title}"
        table = Table(title=title, caption=f"{len(rows)} of {c.total_rows} rows; threshold: {c.check.threshold}")
        for col in columns:
            table.add_column(col, overflow="fold", max_width=60)
        for r in rows:
            table.add_row(*r)
        tables.append(table)
    return tables

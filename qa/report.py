"""`qa()`: run the SQL pack and the GE suites over a shard directory and write the QA report.

Outputs, inside the shard directory: `qa/report.md` and `qa/report.html` (or the one `out` file),
`qa/qa.json` (machine-readable results), `qa/charts/*.svg` (the charts the Markdown report links to;
the HTML report has them inline), `qa/gx_docs/` (Great Expectations Data Docs) and a refreshed
dataset card `README.md` with its charts in `charts/`.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm import run
from radprm.errors import InputError, RunError
from radprm.qa.charts import Chart, chart_html
from radprm.qa.checks import CheckResult, load_checks, run_checks
from radprm.run import write_text_atomic
from radprm.shards.location import shard_set
from radprm.shards.manifest import load_manifest, utc_now

SHOWN_ROWS = 20
"""Rows of each check shown in the report and the terminal (counts always cover all rows)."""


@dataclass
class QAReport:
    """Everything `qa()` found and wrote."""

    directory: Path
    checks: list[CheckResult]
    expectations: Any = None  # ExpectationsReport, when run
    charts: list[Chart] = field(default_factory=list)
    glance: dict[str, Any] = field(default_factory=dict)  # headline numbers (see `glance_numbers`)
    comparison: Any = None  # qa.compare.Comparison, with `compare=`
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
        if self.comparison is not None:
            lines.append(self.comparison.render())
        lines += [f"wrote {p}" for p in self.written]
        return "\n".join(lines)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form written to `qa/qa.json`."""
        exp = self.expectations
        return {
            "directory": str(self.directory),
            "created_at": self.created_at,
            "glance": self.glance,
            "checks": [c.as_dict() for c in self.checks],
            "charts": [c.as_dict() for c in self.charts],
            "compare": None if self.comparison is None else self.comparison.as_dict(),
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


CSS = (
    "body{font-family:sans-serif;margin:2em;max-width:84em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0}"
    "td,th{border:1px solid #ccc;padding:.2em .5em;text-align:left;vertical-align:top}"
    ".warn{background:#fde2e1}.ok{background:#e3f6e3}.skip{background:#eee}"
    ".tiles{display:flex;flex-wrap:wrap;gap:.6em;margin:1em 0}"
    ".tile{border:1px solid #ccc;border-radius:6px;padding:.5em .8em;min-width:8em}"
    ".tile b{display:block;font-size:1.5em}.tile span{color:#555;font-size:.85em}"
    ".tile.warn{border-color:#d1495b}.tile.ok{border-color:#4c9a5b}"
    ".charts{display:grid;grid-template-columns:repeat(auto-fill,minmax(40em,1fr));gap:1.5em}"
    "figure.chart{margin:0;border:1px solid #ddd;border-radius:6px;padding:.8em;overflow-x:auto}"
    "figure.chart svg{max-width:100%;height:auto}"
    "figcaption{color:#444;font-size:.9em;margin-top:.4em}details{font-size:.85em;margin-top:.3em}"
    "td.up{background:#fde8c8}td.down{background:#d8e8f5}td.num{text-align:right}"
    ".compare-tables{display:flex;flex-wrap:wrap;gap:0 2em;align-items:flex-start}"
)
"""The report's only stylesheet, inline."""

GLANCE_LABELS = {
    "items": "items", "reports": "reports", "steps": "steps", "steps per chain (mean)": "steps per chain",
    "items with a bad step": "items with a bad step", "bad steps": "steps labelled bad",
    "unsure steps": "steps unsure", "single-step or empty chains": "chains of 0-1 step",
}


def glance_numbers(directory: Path) -> dict[str, Any]:
    """Headline numbers of a shard set: counts and shares (see `radprm.qa.compare.METRICS_SQL`)."""
    from radprm.qa.compare import run_metrics

    counts = run_metrics(directory, ("counts",))["counts"]
    return {GLANCE_LABELS.get(m, m): (None if v is None else (int(v) if kind == "count" else round(v, 4)))
            for m, (kind, v) in counts.items()}


def _glance_value(key: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.2f}" if key == "steps per chain" else f"{value:.1%}"


def _glance_html(report: QAReport) -> list[str]:
    esc = html.escape
    tiles = [f"<div class='tile'><b>{_glance_value(k, v)}</b><span>{esc(k)}</span></div>"
             for k, v in report.glance.items()]
    warn = report.warnings
    tiles.append(f"<div class='tile {'warn' if warn else 'ok'}'><b>{len(warn)} / {len(report.checks)}</b>"
                 "<span><a href='#checks'>checks warn</a></span></div>")
    if report.expectations is not None:
        ok = report.expectations.success
        tiles.append(f"<div class='tile {'ok' if ok else 'warn'}'><b>{'pass' if ok else 'FAIL'}</b>"
                     "<span>Great Expectations</span></div>")
    out = ["<div class='tiles' id='glance'>", *tiles, "</div>"]
    if warn:
        links = ", ".join(f"<a href='#{c.check.name}'>{esc(c.check.name)}</a> ({c.warnings})" for c in warn)
        out.append(f"<p class='warn'>Warnings: {links}</p>")
    return out


def _delta_text(row: dict[str, Any]) -> str:
    d = row["delta"]
    if d is None:
        return "-"
    if row["kind"] == "count":
        return f"{d:+,}"
    return f"{d * 100:+.1f} pts" if row["kind"] == "share" else f"{d:+.3f}"


def _value_text(row: dict[str, Any], key: str) -> str:
    v = row[key]
    if v is None:
        return "-"
    if row["kind"] == "count":
        return f"{v:,}"
    return f"{v:.1%}" if row["kind"] == "share" else f"{v:.3f}"


def _comparison_html(cmp: Any) -> list[str]:
    from radprm.qa.compare import SECTION_TITLES

    esc = html.escape
    out = [f"<h2 id='compare'>Compared with {esc(str(cmp.other))}</h2>",
           f"<p>{esc(cmp.render())}. Highlighted: a share or mean that moved by at least 5 points (0.05), or a "
           "count by at least 10%; orange = higher in this run, blue = lower.</p>"]
    if cmp.chart is not None:
        out.append(chart_html(cmp.chart))
    out.append("<div class='compare-tables'>")
    for section, rows in cmp.sections.items():
        out.append(f"<div><h3>{esc(SECTION_TITLES[section])}</h3>")
        if not rows:
            out.append("<p>No rows in either run.</p></div>")
            continue
        out.append("<table class='compare'><tr><th>metric</th><th>this run</th><th>other run</th>"
                   "<th>difference</th></tr>")
        for r in rows:
            cls = "num" + ((" up" if (r["delta"] or 0) > 0 else " down") if r["changed"] else "")
            out.append(f"<tr><td>{esc(r['metric'])}</td><td class='num'>{_value_text(r, 'this')}</td>"
                       f"<td class='num'>{_value_text(r, 'other')}</td><td class='{cls}'>{_delta_text(r)}</td></tr>")
        out.append("</table></div>")
    out.append("</div>")
    return out


def _comparison_markdown(cmp: Any) -> list[str]:
    from radprm.qa.compare import SECTION_TITLES

    out = [f"## Compared with {cmp.other}", "", f"{cmp.render()}; **bold** differences moved notably.", ""]
    for section, rows in cmp.sections.items():
        out += [f"### {SECTION_TITLES[section]}", "", "| metric | this run | other run | difference |",
                "|---|---|---|---|"]
        for r in rows:
            delta = _delta_text(r)
            out.append(f"| {r['metric']} | {_value_text(r, 'this')} | {_value_text(r, 'other')} | "
                       f"{'**' + delta + '**' if r['changed'] else delta} |")
        out.append("")
    return out


def render_markdown(report: QAReport) -> str:
    """The QA report as Markdown."""
    out = [f"# QA report: {report.directory}", "", f"Generated {report.created_at}.", ""]
    if report.glance:
        out += ["| " + " | ".join(report.glance) + " |", "|" + "---|" * len(report.glance)]
        out += ["| " + " | ".join(_glance_value(k, v) for k, v in report.glance.items()) + " |", ""]
    if report.comparison is not None:
        out += _comparison_markdown(report.comparison)
    if report.charts:
        out += ["## Charts", ""]
        for chart in report.charts:
            image = f"![{chart.title}](charts/{chart.name}.svg)" if chart.svg else "(nothing to draw)"
            out += [f"### {chart.title}", "", image, "", chart.what, ""]
    out += ["## Checks", ""]
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
    """The QA report as one self-contained HTML page: numbers at a glance, charts (inline SVG), checks.

    Nothing is fetched when the page opens: no script, font, stylesheet or image from anywhere.
    """
    esc = html.escape
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>QA report: {esc(str(report.directory))}</title>",
        f"<style>{CSS}</style></head><body>",
        f"<h1>QA report: {esc(str(report.directory))}</h1><p>Generated {esc(report.created_at)}.</p>",
    ]
    parts += _glance_html(report)
    if report.comparison is not None:
        parts += _comparison_html(report.comparison)
    if report.charts:
        parts.append("<h2 id='charts'>Charts</h2><div class='charts'>")
        parts += [chart_html(c) for c in report.charts]
        parts.append("</div>")
    parts.append("<h2 id='checks'>Checks</h2>")
    parts.append("<table><tr><th>check</th><th>status</th><th>rows</th><th>warn rows</th></tr>")
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
    charts: bool = True,
    compare: str | Path | None = None,
    progress: bool | None = False,
    strict: bool = False,
) -> QAReport:
    """Run the QA pack and the GE suites over a shard directory; write the report, JSON, docs and card.

    Args:
        directory: shard directory: a local folder or a pyarrow URI (`s3://bucket/prefix`; then `out` is
            required and every output goes beside it, nothing into the set, and no card is written).
        out: report file (`.md` or `.html`); default both `qa/report.md` and `qa/report.html` in the directory.
        near_dup_threshold: rapidfuzz ratio (0-100) for near-duplicate chains.
        leakage_threshold: rapidfuzz ratio (0-100) for near-duplicate report texts across splits.
        reports: input reports for `reports_without_items` (see `run_checks`).
        quarantine: the run's quarantine JSONL (see `run_checks`).
        expectations: run the Great Expectations suites and build Data Docs.
        card: rewrite the dataset card `README.md` (with its charts in `charts/`).
        charts: draw the charts (inline SVG in the HTML report, `charts/*.svg` beside the Markdown one).
        compare: another run's shard directory: adds a side-by-side section (counts, label balance, flag
            rate by reason, chain-score means) to the report and `compare` to `qa.json`.
        progress: show a progress bar on stderr (None: only on a terminal).
        strict: a check that warns is an error too, not only a failed expectation.

    Returns:
        The `QAReport`.

    Raises:
        InputError: `out` has another suffix than .md / .html, a bad reports input, or a `compare`
            directory that is not a shard directory or has another schema version (checked first).
        ShardError: the directory is not a readable shard directory.
        RunError: an expectation failed, or (with `strict`) a check warns; the report files are written
            first and `err.summary` is the `QAReport`.
    """
    directory = shard_set(directory)
    remote = not isinstance(directory, Path)
    if out is not None and Path(out).suffix.lower() not in (".md", ".html", ".htm"):
        raise InputError("report must end in .md or .html", path=out, field="out")
    if remote and out is None:
        raise InputError("a remote shard set needs --out, a local .md or .html report (qa.json and Data Docs go "
                         "beside it; no dataset card)", path=directory, field="out")
    for name, value in (("near_dup_threshold", near_dup_threshold), ("leakage_threshold", leakage_threshold)):
        if not 0 <= value <= 100:
            raise InputError("must be between 0 and 100", field=name)
    if compare is not None:
        from radprm.qa.compare import check_comparable

        load_manifest(directory)  # this directory's own error first
        check_comparable(directory, compare)
    qa_dir = Path(out).parent if remote else directory / "qa"  # a remote set gets nothing written into it
    started: list[str] = []
    total = len(load_checks()) + (1 if expectations else 0) + (1 if charts else 0) + (1 if compare else 0)
    with run.progress("qa", total=total, enabled=progress) as bar:

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
            report.expectations = run_expectations(directory, docs_dir=qa_dir / "gx_docs")
        report.glance = glance_numbers(directory)
        if charts:
            from radprm.qa.charts import build_charts

            step("charts")
            report.charts = build_charts(directory)
        if compare is not None:
            from radprm.qa.compare import compare_runs

            step("compare")
            report.comparison = compare_runs(directory, compare, chart=charts)
    qa_dir.mkdir(parents=True, exist_ok=True)
    targets = [Path(out)] if out is not None else [qa_dir / "report.md", qa_dir / "report.html"]
    for target in targets:
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix.lower() == ".md":
            render = render_markdown
            if write_chart_files(report.charts, target.parent / "charts"):
                report.written.append(target.parent / "charts")
        else:
            render = render_html
        write_text_atomic(target, render(report))
        report.written.append(target)
    write_text_atomic(qa_dir / "qa.json", json.dumps(report.as_dict(), indent=2) + "\n")
    report.written.append(qa_dir / "qa.json")
    if card and not remote:
        from radprm.shards.card import write_card

        report.written.append(write_card(directory, charts=[c for c in report.charts if c.card] if charts else False))
    if report.expectations_failed:
        failed = len(report.expectations.failures)
        raise RunError(f"{failed} expectation(s) failed; see {report.expectations.docs_index or qa_dir}",
                       summary=report, path=directory)
    if strict and report.warnings:
        names = ", ".join(c.check.name for c in report.warnings)
        raise RunError(f"{len(report.warnings)} check(s) warn and --strict is set: {names}", summary=report,
                       path=directory)
    return report


def write_chart_files(charts: list[Chart], folder: Path) -> list[Path]:
    """Write each drawn chart as `<folder>/<name>.svg` (for Markdown pages); returns the paths."""
    written = []
    for chart in charts:
        if chart.svg:
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(folder / f"{chart.name}.svg", chart.svg)
            written.append(folder / f"{chart.name}.svg")
    return written


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

"""The DuckDB QA pack: one SQL file per check in `qa/sql/`, run over the views `items` and `steps`.

Each SQL file starts with a header of `-- key: value` lines (check, title, what, threshold, version,
optional needs) and returns rows with a boolean `warn` column; a check warns when any row has
`warn = true`. Near-duplicate chains need fuzzy matching, so their SQL only forms blocks (items of one
report) and the pairs are scored here with rapidfuzz.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from radprm.errors import InputError, RuleFileError
from radprm.shards.manifest import load_manifest
from radprm.shards.reader import connect

HEADER_KEYS = {"check", "title", "what", "threshold", "version", "needs"}
MAX_BLOCK = 300
"""A report block larger than this is split by question before pairwise near-duplicate scoring."""


@dataclass(frozen=True)
class Check:
    """One QA check as read from its SQL file."""

    name: str
    title: str
    what: str
    threshold: str
    version: int
    sql: str
    needs: tuple[str, ...] = ()


@dataclass
class CheckResult:
    """Outcome of one check: its rows (at most `max_rows` kept), how many rows warn, or why skipped."""

    check: Check
    columns: list[str] = field(default_factory=list)
    rows: list[tuple] = field(default_factory=list)
    total_rows: int = 0
    warnings: int = 0
    skipped: str | None = None
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """`skip`, `warn` or `ok`."""
        if self.skipped:
            return "skip"
        return "warn" if self.warnings else "ok"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (used for `qa/qa.json`)."""
        return {
            "check": self.check.name,
            "title": self.check.title,
            "version": self.check.version,
            "status": self.status,
            "warnings": self.warnings,
            "total_rows": self.total_rows,
            "skipped": self.skipped,
            "columns": self.columns,
            "rows": [[_jsonable(v) for v in row] for row in self.rows],
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return str(value)


def parse_check(name: str, text: str) -> Check:
    """Parse one SQL check file: its `-- key: value` header (continuation lines indented) and body.

    Raises:
        RuleFileError: a header key is unknown or missing, or the version is not an integer.
    """
    header: dict[str, str] = {}
    key = None
    body: list[str] = []
    for line in text.splitlines():
        if not body and line.startswith("--"):
            content = line[2:]
            head, sep, rest = content.strip().partition(":")
            if sep and not content.startswith("   ") and head in HEADER_KEYS:
                key = head
                header[key] = rest.strip()
            elif sep and not content.startswith("   ") and head.isidentifier():
                raise RuleFileError(
                    f"unknown header key '{head}' (allowed: {', '.join(sorted(HEADER_KEYS))})",
                    path=f"qa/sql/{name}.sql",
                    field=head,
                )
            elif key is not None:
                header[key] += " " + content.strip()
        elif line.strip() or body:
            body.append(line)
    missing = [k for k in ("check", "title", "what", "threshold", "version") if k not in header]
    if missing:
        raise RuleFileError(f"missing header key '{missing[0]}'", path=f"qa/sql/{name}.sql", field=missing[0])
    if not header["version"].isdigit():
        raise RuleFileError("version must be an integer", path=f"qa/sql/{name}.sql", field="version")
    needs = tuple(n.strip() for n in header.get("needs", "").split(",") if n.strip())
    return Check(
        name=header["check"],
        title=header["title"],
        what=header["what"],
        threshold=header["threshold"],
        version=int(header["version"]),
        sql="\n".join(body).strip().rstrip(";"),
        needs=needs,
    )


def load_checks() -> list[Check]:
    """All checks of the pack, in file-name order."""
    folder = resources.files("radprm.qa") / "sql"
    files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
    return [parse_check(f.name[:-4], f.read_text(encoding="utf-8")) for f in files]


# -- inputs of reports_without_items --------------------------------------------------------------
def read_report_ids(
    path: str | Path, *, limit: int | None = None, reader: dict | None = None
) -> tuple[list[str], list[tuple]]:
    """Report ids of an input, and quarantine rows (record_id, stage, reason) for ids that failed to read.

    A `.txt` file is read as one id per line; anything else goes through `radprm.readers.read_reports`.

    Raises:
        InputError: the file does not exist or cannot be read.
    """
    path = Path(path)
    if not path.is_file() and not path.is_dir():
        raise InputError("reports input not found", path=path, hint="pass --reports with the run's input")
    if path.suffix == ".txt":
        ids = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        return ids[:limit] if limit else ids, []
    from radprm.quarantine import QuarantineSink
    from radprm.readers import read_reports

    sink = QuarantineSink(keep=10**9)
    ids = [r.report_id for r in read_reports(path, quarantine=sink, limit=limit, **(reader or {}))]
    failed = [(r.record_id, r.stage, r.reason_code) for r in sink.records if r.record_id]
    return ids + [f[0] for f in failed], failed


# -- near duplicates ----------------------------------------------------------------------------
def near_duplicate_pairs(
    rows: Iterable[tuple[str, str, str, str]], threshold: float = 90
) -> Iterator[tuple[str, str, str, bool, float]]:
    """Score chain pairs inside each report block; yield (report_id, item_a, item_b, same_question, score).

    Args:
        rows: (report_id, question, item_id, chain_text) ordered by report_id then question.
        threshold: minimum `rapidfuzz.fuzz.ratio` (0-100) for a pair to be reported.
    """
    from rapidfuzz import fuzz, process, utils

    def score(block: list[tuple[str, str, str, str]]) -> Iterator[tuple[str, str, str, bool, float]]:
        texts = [utils.default_process(r[3]) for r in block]
        matrix = process.cdist(texts, texts, scorer=fuzz.ratio, score_cutoff=threshold, workers=1)
        for i, j in zip(*matrix.nonzero(), strict=True):
            if i < j:
                yield block[i][0], block[i][2], block[j][2], block[i][1] == block[j][1], float(matrix[i, j])

    for _, group in itertools.groupby(rows, key=lambda r: r[0]):
        block = list(group)
        if len(block) < 2:
            continue
        if len(block) <= MAX_BLOCK:
            yield from score(block)
        else:
            for _, sub in itertools.groupby(block, key=lambda r: r[1]):
                sub_block = list(sub)
                if len(sub_block) > 1:
                    yield from score(sub_block)


def _fetch_rows(cursor: Any, size: int = 10_000) -> Iterator[tuple]:
    while batch := cursor.fetchmany(size):
        yield from batch


# -- running ------------------------------------------------------------------------------------
def run_checks(
    directory: str | Path,
    *,
    near_dup_threshold: float = 90,
    reports: str | Path | None = None,
    quarantine: str | Path | None = None,
    only: list[str] | None = None,
    max_rows: int = 1_000,
    progress: Any = None,
) -> list[CheckResult]:
    """Run the QA pack over a shard directory.

    Args:
        directory: shard directory.
        near_dup_threshold: rapidfuzz ratio (0-100) at or above which two chains count as near-duplicates.
        reports: input reports (any reader format, or `.txt` with one id per line) for
            `reports_without_items`; defaults to the `reports` path in the run meta, when present.
        quarantine: quarantine JSONL of the run (reasons for reports without items); defaults to
            `<dir>/quarantine/quarantine.jsonl` or `<dir>/../quarantine/quarantine.jsonl`
            (`radprm.shards.reader.find_quarantine`).
        only: names of the checks to run (default: all).
        max_rows: rows kept per check for display and the report (counts cover all rows).
        progress: optional callable `progress(check_name)` called before each check.

    Returns:
        One `CheckResult` per check, in pack order.

    Raises:
        InputError: an unknown check name in `only`, or a reports input that cannot be read.
    """
    directory = Path(directory)
    checks = load_checks()
    if only:
        names = {c.name for c in checks}
        unknown = [n for n in only if n not in names]
        if unknown:
            raise InputError(f"unknown check '{unknown[0]}' (known: {', '.join(sorted(names))})", field="only")
        checks = [c for c in checks if c.name in only]
    con = connect(directory, quarantine=quarantine)
    available, why_not = _register_reports(con, directory, reports)
    results = []
    for check in checks:
        if progress is not None:
            progress(check.name)
        start = time.perf_counter()
        result = CheckResult(check=check)
        missing = [n for n in check.needs if n not in available]
        if missing:
            result.skipped = why_not.get(missing[0], f"needs {missing[0]}")
        elif check.name == "near_duplicates":
            cursor = con.execute(check.sql)
            pairs = list(near_duplicate_pairs(_fetch_rows(cursor), near_dup_threshold))
            pairs.sort(key=lambda p: (-p[4], p[0], p[1], p[2]))
            result.columns = ["report_id", "item_a", "item_b", "same_question", "score", "warn"]
            result.rows = [(*p, True) for p in pairs[:max_rows]]
            result.total_rows = result.warnings = len(pairs)
        else:
            table = con.sql(check.sql).to_arrow_table()
            result.columns = table.column_names
            result.total_rows = table.num_rows
            if "warn" in table.column_names:
                result.warnings = sum(1 for w in table.column("warn").to_pylist() if w)
            sliced = table.slice(0, max_rows).to_pylist()
            result.rows = [tuple(r.values()) for r in sliced]
        result.seconds = time.perf_counter() - start
        results.append(result)
    con.close()
    return results


def _register_reports(con: Any, directory: Path, reports: str | Path | None) -> tuple[set[str], dict[str, str]]:
    """Create table `reports` and add the reader's quarantine rows to table `quarantine` (made by `connect`);
    return the optional inputs available and why others are not."""
    import pyarrow as pa

    available: set[str] = set()
    why_not: dict[str, str] = {}
    limit = None
    reader = None
    if reports is None:
        meta = load_manifest(directory).run_meta
        job = meta.get("job") if isinstance(meta.get("job"), dict) else meta
        if isinstance(job.get("reports"), str):
            reports, limit, reader = job["reports"], job.get("limit"), job.get("reader") or None
            if not Path(reports).exists():
                why_not["reports"] = f"the run's reports input {reports} is not reachable; pass --reports"
                reports = None
    if reports is None:
        why_not.setdefault("reports", "no reports input: pass --reports (the run meta names none)")
        return available, why_not
    ids, failed = read_report_ids(reports, limit=limit, reader=reader)
    con.register("_reports", pa.table({"report_id": pa.array(ids, pa.string())}))
    con.execute("CREATE OR REPLACE TABLE reports AS SELECT DISTINCT report_id FROM _reports")
    if failed:
        con.register("_failed", pa.table({
            "record_id": pa.array([f[0] for f in failed], pa.string()),
            "stage": pa.array([f[1] for f in failed], pa.string()),
            "reason_code": pa.array([f[2] for f in failed], pa.string()),
        }))
        con.execute("INSERT INTO quarantine (record_id, report_id, stage, reason_code, detail) "
                    "SELECT record_id, record_id, stage, reason_code, '' FROM _failed")
    available.add("reports")
    return available, why_not

"""The DuckDB QA pack: one SQL file per check in `qa/sql/`, run over the views `items` and `steps`.

Each SQL file starts with a header of `-- key: value` lines (check, title, what, threshold, version,
optional needs) and returns rows with a boolean `warn` column; a check warns when any row has
`warn = true`. Near-duplicate chains need fuzzy matching, so their SQL only forms blocks (items of one
report) and the pairs are scored here with rapidfuzz.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from radprm.errors import InputError, RuleFileError
from radprm.shards.location import shard_set
from radprm.shards.manifest import load_manifest
from radprm.shards.reader import connect

HEADER_KEYS = {"check", "title", "what", "threshold", "version", "needs"}
PYTHON_SCORED = ("near_duplicates", "report_mentions", "split_leakage")
"""Checks whose SQL returns inputs that Python scores (fuzzy matching, phrase lists), not `warn` rows."""
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


# -- report mentions (chain style) -------------------------------------------------------------------
def report_mention_rows(rows: Iterable[tuple[str, str, list[str]]]) -> list[tuple]:
    """Per style: chains, chains citing the report, steps, steps citing it, the phrases found, warn.

    Args:
        rows: (style, item_id, step texts).
    """
    from collections import Counter

    from radprm.miners.styles import report_mentions

    per: dict[str, list[int]] = {}
    phrases: dict[str, Counter[str]] = {}
    for style, _item_id, steps in rows:
        counts = per.setdefault(style, [0, 0, 0, 0])
        found = [report_mentions(t) for t in steps or []]
        counts[0] += 1
        counts[1] += any(found)
        counts[2] += len(found)
        counts[3] += sum(1 for f in found if f)
        phrases.setdefault(style, Counter()).update(name for f in found for name in f)
    return [
        (style, *c, ", ".join(f"{k} {v}" for k, v in phrases[style].most_common(4)), style == "image" and c[3] > 0)
        for style, c in sorted(per.items())
    ]


# -- split leakage ----------------------------------------------------------------------------------
_DEID = re.compile(r"\bx{2,}\b|_{2,}", re.I)
_NON_WORD = re.compile(r"[^a-z0-9]+")


def normalise_report(text: str) -> str:
    """Report text for leakage matching: lower case, de-identification marks (XXXX, ___) and
    punctuation removed, spaces collapsed."""
    return " ".join(_NON_WORD.sub(" ", _DEID.sub(" ", text.lower())).split())


def split_leakage_rows(
    rows: Iterable[tuple[str, str, str, str]], *, threshold: float = 95, window: int = 30
) -> list[tuple[str, str, str, str, str, float]]:
    """Patients in two splits and near-duplicate report texts across splits, by blocking.

    Args:
        rows: (report_id, patient_id, split, report_text), one per report and split.
        threshold: `rapidfuzz.fuzz.ratio` (0-100) on normalised text at or above which two reports in
            different splits are near-duplicates.
        window: neighbours compared in each sort order (sorted-neighbourhood blocking).

    Returns:
        (kind, a, b, split_a, split_b, score) rows: kind `patient` (a = patient id, b = its other
        report) or `text` (a, b = report ids); identical texts score 100.
    """
    from rapidfuzz import fuzz

    reports = list(rows)
    out: list[tuple[str, str, str, str, str, float]] = []
    by_patient: dict[str, list[tuple[str, str]]] = {}
    for rid, patient, split, _ in reports:
        by_patient.setdefault(patient, []).append((split, rid))
    for patient, seen in sorted(by_patient.items()):
        splits = sorted({sp for sp, _ in seen})
        if len(splits) > 1:
            first = {sp: min(r for s2, r in seen if s2 == sp) for sp in splits}
            out.append(("patient", patient, ", ".join(first[sp] for sp in splits), splits[0],
                        ", ".join(splits[1:]), 100.0))
    texts = [(rid, split, normalise_report(text)) for rid, _, split, text in reports]
    pairs: dict[tuple[str, str], tuple[str, str, float]] = {}

    def note(a: tuple[str, str, str], b: tuple[str, str, str], score: float) -> None:
        key = (a[0], b[0]) if a[0] < b[0] else (b[0], a[0])
        if key not in pairs:
            sa, sb = (a[1], b[1]) if a[0] < b[0] else (b[1], a[1])
            pairs[key] = (sa, sb, score)

    # exact duplicates: one group per normalised text, O(n)
    groups: dict[str, list[tuple[str, str, str]]] = {}
    for t in texts:
        groups.setdefault(t[2], []).append(t)
    for members in groups.values():
        if len({m[1] for m in members}) > 1:
            anchor = {}
            for m in members:
                anchor.setdefault(m[1], m)
            reps = sorted(anchor.values())
            for m in members:  # each report paired with one report of every other split
                for r in reps:
                    if r[1] != m[1]:
                        note(m, r, 100.0)
    # near duplicates: one representative per distinct text, sorted neighbourhoods in two orders
    reps = [members[0] for members in groups.values()]
    split_sets = {text: {m[1] for m in members} for text, members in groups.items()}
    def words(t: tuple[str, str, str]) -> list[str]:  # numbers never decide a block (they are scored, though)
        return [w for w in t[2].split() if not w.isdigit()]

    orders = (lambda t: " ".join(words(t)), lambda t: " ".join(reversed(words(t))),
              lambda t: " ".join(sorted(words(t))))
    for key in orders:
        ordered = sorted(reps, key=key)
        for i, a in enumerate(ordered):
            for b in ordered[i + 1:i + 1 + window]:
                if split_sets[a[2]] == split_sets[b[2]] and len(split_sets[a[2]]) == 1:
                    continue  # same single split: not leakage
                score = fuzz.ratio(a[2], b[2], score_cutoff=threshold)
                if score:
                    for ma in groups[a[2]]:
                        for mb in groups[b[2]]:
                            if ma[1] != mb[1]:
                                note(ma, mb, round(float(score), 1))
    for (a, b), (sa, sb, score) in sorted(pairs.items(), key=lambda kv: (-kv[1][2], kv[0])):
        out.append(("text", a, b, sa, sb, score))
    return out


def _fetch_rows(cursor: Any, size: int = 10_000) -> Iterator[tuple]:
    while batch := cursor.fetchmany(size):
        yield from batch


# -- running ------------------------------------------------------------------------------------
def run_checks(
    directory: str | Path,
    *,
    near_dup_threshold: float = 90,
    leakage_threshold: float = 95,
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
        leakage_threshold: rapidfuzz ratio (0-100) at or above which two normalised report texts in
            different splits count as leakage (`split_leakage`).
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
    directory = shard_set(directory)
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
        elif check.name == "report_mentions":
            result.columns = ["style", "chains", "chains_citing", "steps", "steps_citing", "phrases", "warn"]
            result.rows = report_mention_rows(_fetch_rows(con.execute(check.sql)))
            result.total_rows = len(result.rows)
            result.warnings = sum(1 for r in result.rows if r[-1])
        elif check.name == "split_leakage":
            found = list(_fetch_rows(con.execute(check.sql)))
            if not found:
                result.skipped = "no item carries a split (shards written before radprm had splits)"
            else:
                leaks = split_leakage_rows(found, threshold=leakage_threshold)
                result.columns = ["kind", "a", "b", "split_a", "split_b", "score", "warn"]
                result.rows = [(*r, True) for r in leaks[:max_rows]]
                result.total_rows = result.warnings = len(leaks)
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
    """Create table `reports` and add the reader's quarantine rows (and the reports the job excluded on purpose)
    to table `quarantine` (made by `connect`); return the optional inputs available and why others are not."""
    import pyarrow as pa

    available: set[str] = set()
    why_not: dict[str, str] = {}
    extra_rows: list[tuple] = []  # (record_id, stage, reason_code)
    limit = None
    reader = None
    if reports is None:
        meta = load_manifest(directory).run_meta
        job = meta.get("job") if isinstance(meta.get("job"), dict) else meta
        if isinstance(job.get("exclude_reports"), str) and Path(job["exclude_reports"]).is_file():
            from radprm.miners.splits import read_id_list

            # kept out of the job on purpose (--exclude-reports): a reason, not a missing item
            extra_rows += [(rid, "mine", "excluded") for rid in sorted(read_id_list(job["exclude_reports"]))]
        if isinstance(job.get("reports"), str):
            reports, limit, reader = job["reports"], job.get("limit"), job.get("reader") or None
            if not Path(reports).exists():
                why_not["reports"] = f"the run's reports input {reports} is not reachable; pass --reports"
                reports = None
    if reports is None:
        why_not.setdefault("reports", "no reports input: pass --reports (the run meta names none)")
    else:
        ids, failed = read_report_ids(reports, limit=limit, reader=reader)
        extra_rows += failed
        con.register("_reports", pa.table({"report_id": pa.array(ids, pa.string())}))
        con.execute("CREATE OR REPLACE TABLE reports AS SELECT DISTINCT report_id FROM _reports")
        available.add("reports")
    if extra_rows:
        con.register("_extra_quarantine", pa.table({
            "record_id": pa.array([f[0] for f in extra_rows], pa.string()),
            "stage": pa.array([f[1] for f in extra_rows], pa.string()),
            "reason_code": pa.array([f[2] for f in extra_rows], pa.string()),
        }))
        con.execute("INSERT INTO quarantine (record_id, report_id, stage, reason_code, detail) "
                    "SELECT record_id, record_id, stage, reason_code, '' FROM _extra_quarantine")
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

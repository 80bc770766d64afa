"""Compare two runs' shard sets: counts, step-label balance, flag rate by reason, chain-score means.

```python
from radprm.qa.compare import compare_runs
cmp = compare_runs("runs/new/shards", "runs/old/shards")
cmp.sections["counts"][0]   # {"metric": "items", "this": 1200, "other": 1000, "delta": 200, "changed": True}
```

A difference is highlighted (`changed`) when a share or a score moves by at least `SHARE_DELTA`
(absolute) or a count by at least `COUNT_RATIO` of the other run's value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.errors import InputError, ShardError
from radprm.qa.charts import Chart, render_svg, vegalite_spec
from radprm.shards.location import shard_set

SHARE_DELTA = 0.05
"""A share or score difference at or above this (absolute) is highlighted."""
COUNT_RATIO = 0.10
"""A count difference at or above this fraction of the other run's count is highlighted."""

METRICS_SQL = {
    "counts": """
        WITH i AS MATERIALIZED (
            SELECT count(*)::DOUBLE AS n, count(DISTINCT report_id)::DOUBLE AS reports, avg(len(steps)) AS per_chain,
                   avg(CASE WHEN first_bad_step >= 0 THEN 1 ELSE 0 END) AS flagged,
                   avg(CASE WHEN len(steps) <= 1 THEN 1 ELSE 0 END) AS short
            FROM items
        ),
        s AS MATERIALIZED (
            SELECT count(*)::DOUBLE AS n, avg(CASE WHEN label THEN 0 ELSE 1 END) AS bad,
                   avg(CASE WHEN verdict = 'unsure' THEN 1 ELSE 0 END) AS unsure
            FROM steps
        )
        SELECT 'items' AS metric, 'count' AS kind, n AS value FROM i
        UNION ALL SELECT 'reports', 'count', reports FROM i
        UNION ALL SELECT 'steps', 'count', n FROM s
        UNION ALL SELECT 'steps per chain (mean)', 'score', per_chain FROM i
        UNION ALL SELECT 'items with a bad step', 'share', flagged FROM i
        UNION ALL SELECT 'single-step or empty chains', 'share', short FROM i
        UNION ALL SELECT 'bad steps', 'share', bad FROM s
        UNION ALL SELECT 'unsure steps', 'share', unsure FROM s
    """,
    "label_balance": """
        SELECT task || ': bad steps' AS metric, 'share' AS kind, avg(CASE WHEN label THEN 0 ELSE 1 END) AS value
        FROM steps GROUP BY task
        UNION ALL
        SELECT task || ': unsure steps', 'share', avg(CASE WHEN verdict = 'unsure' THEN 1 ELSE 0 END)
        FROM steps GROUP BY task
        UNION ALL
        SELECT task || ': items', 'count', count(*) FROM items GROUP BY task
    """,
    "flag_rate_by_reason": """
        WITH total AS (SELECT count(*) AS n FROM steps)
        SELECT reason AS metric, 'share' AS kind, count(*) / any_value(total.n) AS value
        FROM (SELECT unnest(reasons) AS reason FROM steps), total
        GROUP BY reason
    """,
    "chain_scores": """
        SELECT 'completeness' AS metric, 'score' AS kind, avg(completeness) AS value FROM items
        UNION ALL SELECT 'factuality', 'score', avg(factuality) FROM items
        UNION ALL SELECT 'effectiveness', 'score', avg(effectiveness) FROM items
        UNION ALL SELECT 'answer_reward', 'score', avg(answer_reward) FROM items
    """,
}
"""Each section: rows of (metric, kind: count | share | score, value) for one run."""

SECTION_TITLES = {
    "counts": "Counts",
    "label_balance": "Step-label balance per task",
    "flag_rate_by_reason": "Flag rate by reason code (share of all steps)",
    "chain_scores": "Chain-score means",
}


@dataclass
class Comparison:
    """This run against another: per section, one row per metric with both values and the difference."""

    this: Path | str
    other: Path
    schema_version: str
    other_schema_version: str
    sections: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    chart: Chart | None = None

    @property
    def changed(self) -> int:
        """Metrics whose difference is highlighted."""
        return sum(1 for rows in self.sections.values() for r in rows if r["changed"])

    def render(self) -> str:
        """One line for the terminal."""
        total = sum(len(rows) for rows in self.sections.values())
        return f"compared with {self.other}: {self.changed} of {total} metrics moved notably"

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (the `compare` key of `qa/qa.json`)."""
        return {"this": str(self.this), "other": str(self.other), "schema_version": self.schema_version,
                "other_schema_version": self.other_schema_version,
                "share_delta": SHARE_DELTA, "count_ratio": COUNT_RATIO, "changed": self.changed,
                "sections": self.sections}


def check_comparable(directory: str | Path, other: str | Path) -> str:
    """Check that `other` is a shard directory of a schema version this radprm reads; return that version.

    Runs of different readable versions compare (the DuckDB views show version 2 columns as null in
    version 1 shards, and the metrics use none of them).

    Raises:
        InputError: `other` is missing, not a shard directory, or of an unreadable schema version (field `compare`).
    """
    from radprm.schemas.arrow import READABLE_SCHEMA_VERSIONS
    from radprm.shards.manifest import load_manifest

    other = Path(other)
    if not other.is_dir():
        raise InputError("not a directory", path=other, field="compare", hint="pass another run's shard directory")
    try:
        theirs = load_manifest(other)
    except ShardError as exc:
        raise InputError(exc.message, path=exc.path or other, field="compare",
                         hint="pass another run's shard directory, e.g. runs/x/shards") from None
    if theirs.schema_version not in READABLE_SCHEMA_VERSIONS:
        raise InputError(
            f"shard schema version {theirs.schema_version} is not one this radprm reads "
            f"({', '.join(READABLE_SCHEMA_VERSIONS)})",
            path=other / "manifest.json", field="compare",
            hint="compare runs written with a readable shard schema",
        )
    return theirs.schema_version


def run_metrics(
    directory: str | Path, sections: tuple[str, ...] | None = None
) -> dict[str, dict[str, tuple[str, float | None]]]:
    """The comparison metrics of one shard set (all `METRICS_SQL` sections, or those named): section ->
    metric -> (kind, value)."""
    from radprm.shards.reader import connect

    con = connect(directory)
    try:
        return {
            section: {m: (k, None if v is None else float(v)) for m, k, v in con.execute(sql).fetchall()}
            for section, sql in METRICS_SQL.items() if sections is None or section in sections
        }
    finally:
        con.close()


def _row(metric: str, kind: str, a: float | None, b: float | None) -> dict[str, Any]:
    delta = None if a is None or b is None else a - b
    if delta is None:
        changed = (a is None) != (b is None) and kind != "score"
    elif kind == "count":
        changed = abs(delta) >= COUNT_RATIO * max(abs(b), 1)
    else:
        changed = abs(delta) >= SHARE_DELTA
    rnd = (lambda v: None if v is None else int(v)) if kind == "count" else (
        lambda v: None if v is None else round(v, 4))
    return {"metric": metric, "kind": kind, "this": rnd(a), "other": rnd(b), "delta": rnd(delta),
            "changed": changed}


def compare_runs(directory: str | Path, other: str | Path, *, chart: bool = True) -> Comparison:
    """Compare the shard set `directory` with `other`.

    A metric present in one run only (a reason code that disappeared) counts as 0 in the other for
    shares and counts, and as missing for score means.

    Raises:
        InputError: `other` is not a shard directory or has an unreadable schema version.
    """
    from radprm.shards.manifest import load_manifest

    other_version = check_comparable(directory, other)
    ours, theirs = run_metrics(directory), run_metrics(other)
    cmp = Comparison(this=shard_set(directory), other=Path(other),
                     schema_version=load_manifest(directory).schema_version, other_schema_version=other_version)
    for section in METRICS_SQL:
        a, b = ours[section], theirs[section]
        names = list(a) + [m for m in b if m not in a]
        if section != "counts":
            names.sort()
        rows = []
        for m in names:
            kind = (a.get(m) or b.get(m))[0]
            zero = None if kind == "score" else 0.0
            va = a[m][1] if m in a else zero
            vb = b[m][1] if m in b else zero
            rows.append(_row(m, kind, va, vb))
        if section == "flag_rate_by_reason":
            rows.sort(key=lambda r: -max(r["this"] or 0, r["other"] or 0))
        cmp.sections[section] = rows
    if chart:
        cmp.chart = comparison_chart(cmp)
    return cmp


def comparison_chart(cmp: Comparison) -> Chart:
    """Grouped bars: each reason code's flag rate and each task's bad-step share, this run next to the other."""
    rows = []
    for section, prefix in (("label_balance", "bad steps, "), ("flag_rate_by_reason", "reason: ")):
        for r in cmp.sections[section]:
            if r["kind"] != "share" or r["metric"].endswith(": unsure steps"):
                continue
            name = prefix + r["metric"].removesuffix(": bad steps")
            rows += [{"metric": name, "run": "this run", "share": r["this"] or 0.0},
                     {"metric": name, "run": "other run", "share": r["other"] or 0.0}]
    rows = rows[: 2 * 40]
    title = "This run vs the other: bad-step share per task, flag rate per reason"
    chart = Chart(name="compare", title=title, columns=["metric", "run", "share"], rows=rows,
                  what=f"This run ({cmp.this}) against {cmp.other}; bars side by side per metric.")
    body = {
        "height": {"step": 11},
        "mark": {"type": "bar"},
        "encoding": {
            "y": {"field": "metric", "type": "nominal", "title": None, "sort": None},
            "yOffset": {"field": "run", "sort": ["this run", "other run"]},
            "x": {"field": "share", "type": "quantitative", "title": "share of steps", "axis": {"format": "%"}},
            "color": {"field": "run", "type": "nominal", "title": "run",
                      "scale": {"domain": ["this run", "other run"], "range": ["#00798c", "#b0b0b0"]}},
        },
    }
    if rows:
        chart.svg = render_svg(vegalite_spec(title, body, rows), "chart-compare")
    return chart

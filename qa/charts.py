"""Charts of the QA report, the run comparison and the dataset card: DuckDB aggregates drawn as inline SVG.

Each chart is one DuckDB aggregation plus one Vega-Lite spec (`qa/charts.yaml`, loaded through
`radprm.rules`); `vl-convert` renders the spec to SVG in-process, without a browser or the network, so
the report stays one self-contained HTML file. Only aggregated rows are drawn (tens of bars whatever the
number of items), never raw rows.

Optional panels light up when their columns exist: the view `chart_steps` has one row per step and the
columns `stage` (the step's stage, else the item's), `mc_label` / `mc_score` (rollout labels in the
step struct), `judge_label` / `rules_label` / `rules_verdict` (in the step struct, or the mining job's
`judge_steps.jsonl` sidecar), NULL when absent; a chart whose `needs` are absent is not drawn. PHI
columns (any item column or step field whose name starts with `phi`) get a panel built from their types.

```python
from radprm.qa.charts import build_charts
charts = build_charts("runs/job1/shards")     # [Chart(name, title, rows, svg, marks), ...]
```
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from radprm.errors import RuleFileError
from radprm.rules import RuleModel, load_rule_file
from radprm.shards.location import locate, shard_set

CHARTS_FILE = "charts.yaml"
OPTIONAL_COLUMNS = ("stage", "mc_label", "mc_score", "judge_label", "rules_label", "rules_verdict")
"""Columns of `chart_steps` that only some shard sets have (NULL elsewhere); charts name them in `needs`."""
MAX_ROWS = 200
"""Rows (groups) a chart may draw; every chart's SQL aggregates far below this, the cap guards the page."""
BAR_WIDTH = 460
STYLE = {
    "font": "sans-serif",
    "view": {"stroke": None},
    "axis": {"labelFontSize": 11, "titleFontSize": 11, "labelLimit": 260},
    "legend": {"labelFontSize": 11, "titleFontSize": 11, "labelLimit": 260},
    "title": {"fontSize": 14, "anchor": "start"},
}
"""Vega-Lite config shared by every chart; `sans-serif` is a generic family: no font is fetched or embedded."""


class ChartSpec(RuleModel):
    """One chart of `qa/charts.yaml`."""

    name: str
    title: str
    what: str
    sql: str
    vegalite: dict[str, Any]
    needs: list[str] = []
    card: bool = False


class ChartFile(RuleModel):
    """`qa/charts.yaml`: a version and the charts in display order."""

    version: int
    charts: list[ChartSpec]
    sha256: str


@dataclass
class Chart:
    """A drawn chart: its aggregated rows, the SVG and how many bars (marks) it must show."""

    name: str
    title: str
    what: str
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    svg: str = ""
    card: bool = False

    @property
    def marks(self) -> int:
        """Bars drawn: one per aggregated row."""
        return len(self.rows)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (for `qa/qa.json`): the chart's data, not its SVG."""
        return {"chart": self.name, "title": self.title, "marks": self.marks, "columns": self.columns,
                "rows": self.rows}


def load_chart_specs(path: str | Path | None = None) -> ChartFile:
    """The chart definitions: the packaged `qa/charts.yaml`, or another file of the same shape.

    Raises:
        RuleFileError: an unknown key, a missing field or an unknown `needs` column (file, field path).
    """
    return _packaged_specs() if path is None else _load_specs(path)


@cache
def _packaged_specs() -> ChartFile:
    return _load_specs(resources.files("radprm.qa") / CHARTS_FILE)


def _load_specs(source: Any) -> ChartFile:
    spec = load_rule_file(source, ChartFile)
    for k, chart in enumerate(spec.charts):
        unknown = [n for n in chart.needs if n not in OPTIONAL_COLUMNS]
        if unknown:
            raise RuleFileError(f"unknown column {unknown[0]!r} in needs", path=str(source),
                                field=f"charts.{k}.needs", hint=f"known: {', '.join(OPTIONAL_COLUMNS)}")
    return spec


# -- the chart_steps view -------------------------------------------------------------------------
def _shard_schema(directory: str | Path) -> Any:
    from radprm.schemas.shards import ITEM_SCHEMA
    from radprm.shards.reader import shard_paths

    paths = shard_paths(directory)
    return locate(directory).parquet_file(paths[0]).schema_arrow if paths else ITEM_SCHEMA


def _step_fields(schema: Any) -> list[str]:
    steps = schema.field("steps").type
    return [steps.value_type.field(i).name for i in range(steps.value_type.num_fields)]


JUDGE_SIDECAR = "judge_steps.jsonl"
"""`radprm.validators.judge.SIDECAR`, named again because importing the judge loads spaCy (a test pins them)."""


def find_judge_sidecar(directory: str | Path) -> Path | None:
    """The mining job's `judge_steps.jsonl` beside the shards (in the directory or its parent; None for a remote
    set: the sidecar stays in the local run folder)."""
    if not isinstance(directory, Path):
        return None
    for base in (directory, directory.parent):
        if (base / JUDGE_SIDECAR).is_file():
            return base / JUDGE_SIDECAR
    return None


def _as_bool(expr: str) -> str:
    """SQL turning a bool, 0/1 or good/bad/true/false label into a BOOLEAN (NULL otherwise)."""
    text = f"lower(CAST({expr} AS VARCHAR))"
    return f"(CASE WHEN {text} IN ('true', '1', 'good') THEN true WHEN {text} IN ('false', '0', 'bad') THEN false END)"


def prepare(con: Any, directory: str | Path) -> set[str]:
    """Create the view `chart_steps` on a connection from `radprm.shards.reader.connect`.

    Returns:
        The optional columns (`OPTIONAL_COLUMNS`) that hold at least one value.
    """
    directory = shard_set(directory)
    schema = _shard_schema(directory)
    fields = set(_step_fields(schema))
    exprs = {name: "NULL" for name in OPTIONAL_COLUMNS}
    exprs["stage"] = "coalesce(s.step.stage, i.stage)" if "stage" in fields else "i.stage"
    if "mc_label" in fields:
        exprs["mc_label"] = _as_bool("s.step.mc_label")
    if "mc_score" in fields:
        exprs["mc_score"] = "CAST(s.step.mc_score AS DOUBLE)"
    join = ""
    if "judge_label" in fields:
        exprs["judge_label"] = "CAST(s.step.judge_label AS VARCHAR)"
        exprs["rules_label"] = "s.step.rules_label" if "rules_label" in fields else "NULL"
        exprs["rules_verdict"] = "s.step.rules_verdict" if "rules_verdict" in fields else "NULL"
    elif (sidecar := find_judge_sidecar(directory)) is not None:
        # a row appended again after a resume equals the first one (radprm.validators.judge.read_sidecar)
        path = str(sidecar).replace("'", "''")
        con.execute(
            "CREATE OR REPLACE TABLE judge AS SELECT DISTINCT ON (item_id, step_index) * FROM read_json("
            f"'{path}', format = 'newline_delimited', columns = {{item_id: 'VARCHAR', step_index: 'INTEGER', "
            "judge_label: 'VARCHAR', rules_label: 'BOOLEAN', rules_verdict: 'VARCHAR'})"
        )
        join = " LEFT JOIN judge AS j ON j.item_id = i.item_id AND j.step_index = s.step.index"
        exprs.update(judge_label="j.judge_label", rules_label="j.rules_label", rules_verdict="j.rules_verdict")
    optional = ", ".join(f"{expr} AS {name}" for name, expr in exprs.items())
    con.execute(
        "CREATE OR REPLACE VIEW chart_steps AS SELECT i.item_id, i.report_id, i.task, i.model, "
        "len(i.steps) AS n_steps, s.step.index AS step_index, s.step.label AS label, s.step.verdict AS verdict, "
        f"s.step.reasons AS reasons, {optional} FROM items AS i, UNNEST(i.steps) AS s(step){join}"
    )
    # one value is enough: LIMIT 1 stops each scan at the first hit instead of counting every step
    return {n for n, e in exprs.items() if e != "NULL"
            and con.execute(f"SELECT 1 FROM chart_steps WHERE {n} IS NOT NULL LIMIT 1").fetchone()}


# -- PHI panel, built from whatever PHI columns the shards have --------------------------------------
def phi_spec(schema: Any, con: Any = None) -> ChartSpec | None:
    """A chart of items with PHI hits per PHI column (and entity type), or None without PHI columns.

    Columns are found by name (`phi*`, on items or in the step struct) and read by type: a list counts
    items with a non-empty list (by entity type when its elements are structs with `entity_type`,
    `type` or `entity`), a bool counts true, a number counts > 0, a string counts each value; the
    shards' own `phi` column (JSON list of PHI guard hits, null with the guard off) counts items with
    hits, by entity type. With `con` (a shard connection), columns with no value at all are left out:
    every schema-2 shard has a `phi` column, null unless the PHI guard ran.
    """
    import pyarrow as pa

    parts = []
    candidates = [("items", f.name, f.type) for f in schema if f.name.lower().startswith("phi")]
    step_type = schema.field("steps").type.value_type
    candidates += [("step", step_type.field(k).name, step_type.field(k).type)
                   for k in range(step_type.num_fields) if step_type.field(k).name.lower().startswith("phi")]
    for where, name, dtype in candidates:
        col = f'"{name}"' if where == "items" else f's.step."{name}"'
        source = "items" if where == "items" else "items, UNNEST(items.steps) AS s(step)"
        if con is not None and not con.execute(f"SELECT 1 FROM {source} WHERE {col} IS NOT NULL LIMIT 1").fetchone():
            continue
        unit = "items" if where == "items" else "steps"
        label = f"{name} ({unit})"
        if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
            value = dtype.value_type
            kind = next((value.field(k).name for k in range(value.num_fields) if pa.types.is_struct(value)
                         and value.field(k).name in ("entity_type", "type", "entity")), None) \
                if pa.types.is_struct(value) else None
            if kind is not None:
                parts.append(f"SELECT '{label}: ' || coalesce(CAST(h.\"{kind}\" AS VARCHAR), '?') AS what, "
                             f"count(*) AS n FROM (SELECT unnest({col}) AS h FROM {source}) GROUP BY 1")
            elif pa.types.is_string(value):
                parts.append(f"SELECT '{label}: ' || h AS what, count(*) AS n "
                             f"FROM (SELECT unnest({col}) AS h FROM {source}) GROUP BY 1")
            parts.append(f"SELECT '{label}: with any hit' AS what, count(*) FILTER (WHERE len({col}) > 0) AS n "
                         f"FROM {source}")
        elif pa.types.is_boolean(dtype):
            parts.append(f"SELECT '{label}: true' AS what, count(*) FILTER (WHERE {col}) AS n FROM {source}")
        elif pa.types.is_integer(dtype) or pa.types.is_floating(dtype):
            parts.append(f"SELECT '{label}: > 0' AS what, count(*) FILTER (WHERE {col} > 0) AS n FROM {source}")
        elif pa.types.is_string(dtype) and where == "items" and name == "phi":
            # radprm's own PHI guard column (`mine --phi flag|mask`): a JSON list of hits {where, entity, ...},
            # null when the guard was off (those items have nothing to count)
            hits = f"from_json({col}, '[{{\"entity\":\"VARCHAR\"}}]')"
            parts.append(f"SELECT '{label}: ' || coalesce(h.entity, '?') AS what, count(DISTINCT item_id) AS n "
                         f"FROM (SELECT item_id, unnest({hits}) AS h FROM {source} "
                         f"WHERE {col} IS NOT NULL) GROUP BY 1")
            parts.append(f"SELECT '{label}: with any hit' AS what, "
                         f"count(*) FILTER (WHERE json_array_length({col}) > 0) AS n FROM {source}")
        elif pa.types.is_string(dtype):
            parts.append(f"SELECT '{label}: ' || coalesce({col}, '(none)') AS what, count(*) AS n "
                         f"FROM {source} GROUP BY 1")
    if not parts:
        return None
    sql = "SELECT what, n FROM (" + " UNION ALL ".join(parts) + ") WHERE n > 0 ORDER BY what"
    return ChartSpec(
        name="phi", title="PHI guard hits",
        what="Items (or steps) with PHI hits per PHI column of the shards, by entity type where recorded; "
             "bar labels are counts. Any hit in a shard meant for sharing needs a look.",
        sql=sql,
        vegalite={"height": {"step": 20}, "encoding": {
            "y": {"field": "what", "type": "nominal", "title": "PHI column: value", "sort": None},
            "x": {"field": "n", "type": "quantitative", "title": "count"}},
            "layer": [{"mark": {"type": "bar", "color": "#8c2f39"}},
                      {"mark": {"type": "text", "align": "left", "dx": 3, "fontSize": 10},
                       "encoding": {"text": {"field": "n", "type": "quantitative", "format": ","}}}]},
    )


# -- rendering --------------------------------------------------------------------------------------
def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def vegalite_spec(title: str, body: dict[str, Any], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A full Vega-Lite spec: title, inline data, the shared style and a default bar width."""
    spec: dict[str, Any] = {"$schema": "https://vega.github.io/schema/vega-lite/v5.json", "title": title}
    if "facet" not in body.get("encoding", {}) and "width" not in body:
        spec["width"] = BAR_WIDTH
    spec.update(body)
    spec["data"] = {"values": rows}
    spec["config"] = STYLE
    return spec


_FLOAT_NOISE = re.compile(r"(?<![\d.])(-?\d+\.\d{4,})(?![\d.])")


def _short_float(m: re.Match) -> str:
    return f"{float(m.group(1)):.3f}".rstrip("0").rstrip(".")


def render_svg(spec: dict[str, Any], prefix: str) -> str:
    """Render a Vega-Lite spec to SVG (vl-convert, offline), its ids prefixed so several SVGs share a page."""
    import vl_convert

    svg = vl_convert.vegalite_to_svg(spec)
    # float noise in coordinates (23.400000000000002) only adds bytes, and long digit runs in a page meant for
    # sharing look like identifiers to a PHI check: 3 decimals are plenty for a chart
    svg = re.sub(r'="([^"]*)"', lambda m: '="' + _FLOAT_NOISE.sub(_short_float, m.group(1)) + '"', svg)
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    for old in sorted(ids, key=len, reverse=True):
        svg = svg.replace(f'id="{old}"', f'id="{prefix}-{old}"').replace(f"url(#{old})", f"url(#{prefix}-{old})")
        svg = svg.replace(f'href="#{old}"', f'href="#{prefix}-{old}"')
    return svg


def draw(con: Any, spec: ChartSpec, *, prefix: str = "chart") -> Chart:
    """Run a chart's aggregation on `con` and render it (no SVG when the aggregation has no row)."""
    cursor = con.execute(spec.sql)
    columns = [d[0] for d in cursor.description]
    raw = cursor.fetchmany(MAX_ROWS + 1)
    if len(raw) > MAX_ROWS:
        raise RuleFileError(f"chart aggregates to more than {MAX_ROWS} rows", path=f"qa/{CHARTS_FILE}",
                            field=spec.name, hint="group into fewer bars")
    rows = [{c: _plain(v) for c, v in zip(columns, r, strict=True)} for r in raw]
    chart = Chart(name=spec.name, title=spec.title, what=spec.what, columns=columns, rows=rows, card=spec.card)
    if rows:
        chart.svg = render_svg(vegalite_spec(spec.title, spec.vegalite, rows), f"{prefix}-{spec.name}")
    return chart


def build_charts(directory: str | Path, *, con: Any = None, only_card: bool = False) -> list[Chart]:
    """Draw every chart of `qa/charts.yaml` (and the PHI panel) whose columns the shards have.

    Args:
        directory: shard directory.
        con: an open `radprm.shards.reader.connect` connection to reuse (default: a new one, closed after).
        only_card: only the charts marked `card: true` (for the dataset card).

    Raises:
        ShardError: the directory is not a readable shard directory.
    """
    from radprm.shards.reader import connect

    directory = shard_set(directory)
    own = con is None
    con = connect(directory) if own else con
    try:
        available = prepare(con, directory)
        specs = [s for s in load_chart_specs().charts if all(n in available for n in s.needs)]
        if not only_card and (phi := phi_spec(_shard_schema(directory), con)) is not None:
            specs.append(phi)
        return [draw(con, s) for s in specs if s.card or not only_card]
    finally:
        if own:
            con.close()


def chart_html(chart: Chart) -> str:
    """A `<figure>` with the inline SVG (or a note when there is nothing to draw) and the data behind it."""
    import html

    esc = html.escape
    body = chart.svg if chart.svg else f"<p class='empty'>Nothing to draw: no {esc(chart.title.lower())} rows.</p>"
    table = ""
    if chart.rows:
        head = "".join(f"<th>{esc(c)}</th>" for c in chart.columns)
        cells = "".join("<tr>" + "".join(f"<td>{esc(_fmt(v))}</td>" for v in r.values()) + "</tr>" for r in chart.rows)
        table = f"<details><summary>data ({chart.marks} rows)</summary><table><tr>{head}</tr>{cells}</table></details>"
    return (f"<figure class='chart' id='chart-{chart.name}' data-chart='{chart.name}' data-marks='{chart.marks}'>"
            f"{body}<figcaption>{esc(chart.what)}</figcaption>{table}</figure>")


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return json.dumps(value) if isinstance(value, (list, dict)) else str(value)

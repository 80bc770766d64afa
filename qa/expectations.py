"""Great Expectations suites over a shard directory (GE 1.x, ephemeral context, pandas data source).

The suites are data: `qa/suites/items.json` and `qa/suites/steps.json` (GE's suite JSON plus a
`meta.version`). They run against two pandas frames built by DuckDB from the shards: `items` (one row
per item, list columns as their lengths) and `steps` (one row per step). Data Docs go to
`<dir>/qa/gx_docs/index.html`.

Speed and memory: GE's pandas engine holds a frame in memory, so each table is validated in chunks of
25,000 items or 100,000 steps (one GE validation run per chunk, results added up), which bounds memory whatever
the number of items. Row-level expectations are exact over all rows. Uniqueness across chunks is
checked on a third, narrow table `item_keys` (every item_id, one column, suite `item_keys.json`); in
the chunked `steps` table, the (item_id, step_index) uniqueness is checked within a chunk, and the SQL
check `first_bad_step` catches repeated step indexes over all rows. At 100k items / 450k steps the
suites take about 25 s on this 2-core machine (see BENCHMARKS.md).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pyarrow as pa
from pydantic import StrictInt

from radprm.errors import InputError, RuleFileError
from radprm.rules import RuleModel, load_rule_file
from radprm.shards.location import shard_set

SUITES = ("item_keys", "items", "steps")
ITEM_KEYS_SQL = "SELECT item_id FROM items"
ITEMS_FRAME_SQL = """
SELECT * REPLACE (
    len(image_paths) AS image_paths, len(options) AS options, len(answer) AS answer,
    len(model_answer) AS model_answer, len(steps) AS steps, len(prompts) AS prompts
) FROM items
"""
STEPS_FRAME_SQL = "SELECT * REPLACE (len(reasons) AS reasons, len(evidence) AS evidence) FROM steps"
FRAME_SQL = {"item_keys": ITEM_KEYS_SQL, "items": ITEMS_FRAME_SQL, "steps": STEPS_FRAME_SQL}


@dataclass
class ExpectationOutcome:
    """One expectation's result: table, type, column(s), success, unexpected count and examples."""

    table: str
    type: str
    column: str
    success: bool
    unexpected_count: int | None = None
    examples: list[Any] = field(default_factory=list)

    def __str__(self) -> str:
        state = "ok" if self.success else "FAILED"
        extra = f" ({self.unexpected_count} unexpected, e.g. {self.examples[:3]})" if not self.success else ""
        return f"{self.table}.{self.column}: {self.type}: {state}{extra}"


@dataclass
class ExpectationsReport:
    """Result of `run_expectations`: overall success, every outcome, suite versions, docs path."""

    success: bool
    outcomes: list[ExpectationOutcome]
    suite_versions: dict[str, int]
    docs_index: Path | None = None
    rows: dict[str, int] = field(default_factory=dict)
    chunks: dict[str, int] = field(default_factory=dict)

    @property
    def failures(self) -> list[ExpectationOutcome]:
        """Outcomes that failed."""
        return [o for o in self.outcomes if not o.success]

    def render(self) -> str:
        """One line: passed/failed counts and the docs path."""
        passed = len(self.outcomes) - len(self.failures)
        docs = f"; Data Docs: {self.docs_index}" if self.docs_index else ""
        return f"Great Expectations: {passed}/{len(self.outcomes)} expectations passed{docs}"


class SuiteMeta(RuleModel):
    """`meta` of a suite file: version (recorded in the QA report), table, description."""

    version: StrictInt
    table: str
    description: str = ""


class SuiteExpectation(RuleModel):
    """One expectation: a Great Expectations type with its keyword arguments."""

    type: str
    kwargs: dict[str, Any]
    meta: dict[str, Any] = {}


class Suite(RuleModel):
    """A suite file `qa/suites/<table>.json`."""

    name: str
    meta: SuiteMeta
    expectations: list[SuiteExpectation]


def load_suite(name: str) -> dict[str, Any]:
    """The suite JSON `qa/suites/<name>.json` as a dict (with `meta.version`).

    Raises:
        RuleFileError: the file is not valid JSON, has an unknown key, or lacks name, meta.version
            (an integer) or expectations (naming the field path).
    """
    return load_rule_file(resources.files("radprm.qa") / "suites" / f"{name}.json", Suite).model_dump()


def _chunks(con: Any, table: str, chunk_rows: int) -> Iterator[Any]:
    """pandas frames of a table, exactly `chunk_rows` rows each but the last (at least one frame).

    `item_keys` is never chunked: uniqueness needs every id in one frame (one narrow column).
    """
    if table == "item_keys":
        yield con.sql(FRAME_SQL[table]).to_arrow_table().to_pandas()
        return
    reader = con.sql(FRAME_SQL[table]).to_arrow_reader(chunk_rows)
    pending = reader.schema.empty_table()
    yielded = False
    for batch in reader:
        pending = pa.concat_tables([pending, pa.Table.from_batches([batch])])
        while pending.num_rows >= chunk_rows:
            yield pending.slice(0, chunk_rows).to_pandas()
            yielded = True
            pending = pending.slice(chunk_rows)
    if pending.num_rows or not yielded:
        yield pending.to_pandas()


def run_expectations(
    directory: str | Path,
    *,
    docs_dir: str | Path | None = None,
    item_chunk_rows: int = 25_000,
    step_chunk_rows: int = 100_000,
    build_docs: bool = True,
) -> ExpectationsReport:
    """Validate a shard directory with the packaged GE suites and build Data Docs.

    Args:
        directory: shard directory.
        docs_dir: where Data Docs go; default `<directory>/qa/gx_docs`.
        item_chunk_rows: items per GE validation run (wide rows: report texts; bounds memory).
        step_chunk_rows: steps per GE validation run.
        build_docs: write Data Docs (HTML) as well.

    Returns:
        An `ExpectationsReport`; `report.success` is False when any expectation fails.
    """
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    from radprm.shards.reader import connect

    directory = shard_set(directory)
    con = connect(directory)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    # GE's filesystem store refuses relative paths in an ephemeral context
    if docs_dir is None and not isinstance(directory, Path):
        raise InputError("Data Docs of a remote shard set need a local docs_dir", path=directory, field="docs_dir")
    docs = (Path(docs_dir) if docs_dir is not None else directory / "qa" / "gx_docs").resolve()
    if build_docs:
        docs.mkdir(parents=True, exist_ok=True)
        context.add_data_docs_site(
            site_name="radprm",
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    source = context.data_sources.add_pandas("radprm_shards")
    outcomes: list[ExpectationOutcome] = []
    row_counts: dict[str, int] = {}
    chunk_counts: dict[str, int] = {}
    versions: dict[str, int] = {}
    success = True
    for table in SUITES:
        spec = load_suite(table)
        versions[spec["name"]] = spec["meta"]["version"]
        suite = gx.ExpectationSuite(name=spec["name"], meta=spec["meta"])
        for k, exp in enumerate(spec["expectations"]):
            try:
                config = ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta=exp.get("meta", {}))
                suite.add_expectation(config.to_domain_obj())
            except Exception as exc:  # GE raises several types for an unknown expectation or bad kwargs
                raise RuleFileError(f"bad expectation: {exc}", path=f"qa/suites/{table}.json", row=k) from exc
        suite = context.suites.add(suite)
        batch_def = source.add_dataframe_asset(table).add_batch_definition_whole_dataframe("all")
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"validate_{table}", data=batch_def, suite=suite)
        )
        actions = [gx.checkpoint.UpdateDataDocsAction(name="docs")] if build_docs else []
        checkpoint = context.checkpoints.add(
            gx.Checkpoint(
                name=f"radprm_{table}", validation_definitions=[definition], actions=actions, result_format="SUMMARY"
            )
        )
        merged: dict[tuple[str, str], ExpectationOutcome] = {}
        rows = chunks = 0
        for frame in _chunks(con, table, step_chunk_rows if table == "steps" else item_chunk_rows):
            rows += len(frame)
            chunks += 1
            result = checkpoint.run(batch_parameters={"dataframe": frame})
            success = success and bool(result.success)
            for run in result.run_results.values():
                for res in run.results:
                    _merge(merged, table, res)
            del frame, result
        outcomes.extend(merged.values())
        row_counts[table] = rows
        chunk_counts[table] = chunks
    con.close()
    index = docs / "index.html" if build_docs and (docs / "index.html").exists() else None
    return ExpectationsReport(
        success=success,
        outcomes=outcomes,
        suite_versions=versions,
        docs_index=index,
        rows=row_counts,
        chunks=chunk_counts,
    )


def _merge(merged: dict[tuple[str, str], ExpectationOutcome], table: str, res: Any) -> None:
    """Add one chunk's expectation result into the running outcome of that expectation."""
    config = res.expectation_config
    kwargs = config.kwargs
    columns = kwargs.get("column_list") or [kwargs[k] for k in ("column_A", "column_B") if k in kwargs]
    column = kwargs.get("column") or ",".join(columns) or "(table)"
    details = res.result or {}
    examples = [_plain(v) for v in (details.get("partial_unexpected_list") or [])[:5]] or _mismatch(details)
    key = (config.type, column + json.dumps(kwargs, sort_keys=True, default=str))
    outcome = merged.get(key)
    if outcome is None:
        merged[key] = ExpectationOutcome(
            table=table,
            type=config.type,
            column=column,
            success=bool(res.success),
            unexpected_count=details.get("unexpected_count"),
            examples=examples,
        )
        return
    outcome.success = outcome.success and bool(res.success)
    if details.get("unexpected_count") is not None:
        outcome.unexpected_count = (outcome.unexpected_count or 0) + details["unexpected_count"]
    outcome.examples = (outcome.examples + examples)[:5]


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    return value if isinstance(value, (str, int, float, bool, type(None), dict, list)) else str(value)


def _mismatch(details: dict[str, Any]) -> list[Any]:
    """For table-level expectations (columns set), the columns that did not match."""
    mismatched = (details.get("details") or {}).get("mismatched")
    return [mismatched] if mismatched else []

"""Read a shard directory: items as `Item`s, Arrow tables, or DuckDB views `items`, `steps` and `quarantine`.

Readers go through the manifest, so only committed shards are read, in commit order; a stray Parquet
file in the folder is ignored here and reported by `verify`. The directory may be a local folder or a
pyarrow filesystem URI (`s3://bucket/prefix`): `radprm.shards.location`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from radprm.errors import ShardError
from radprm.schemas.records import Item
from radprm.schemas.shards import (
    READABLE_SCHEMA_VERSIONS,
    SCHEMA_VERSION,
    SCHEMA_VERSION_KEY,
    V2_ITEM_FIELDS,
    V2_STEP_FIELDS,
    row_to_item,
)
from radprm.shards.location import ShardLocation, locate
from radprm.shards.manifest import load_manifest

STEPS_VIEW_SQL = """
CREATE OR REPLACE VIEW steps AS
SELECT
    i.item_id, i.report_id, i.task, i.stage, i.model, i.run_id, i.first_bad_step,
    len(i.steps) AS n_steps,
    s.step.index AS step_index, s.step.text AS text, s.step.label AS label, s.step.verdict AS verdict,
    s.step.reasons AS reasons, s.step.evidence AS evidence, s.step.score AS score{v2}
FROM items AS i, UNNEST(i.steps) AS s(step)
"""
"""The steps view: one row per step, unnested from `items.steps` by DuckDB (never stored twice), then the
step fields of schema version 2 (`V2_STEP_FIELDS`, null in older shards): `step_stage` is the step's CXRTrek
stage (null for reasoner chains; named apart from the item's `stage`), `mc_score`, `mc_label`, `mc_rollouts` its
rollout labels (null when not rolled out)."""

STEP_VIEW_NAMES = {"stage": "step_stage"}
"""Step struct fields that the steps view shows under another name (the item columns own the plain one)."""

QUARANTINE_FILE = Path("quarantine") / "quarantine.jsonl"
"""Where a mining run keeps its quarantine, relative to the run folder (the shard folder's parent)."""


def find_quarantine(directory: str | Path) -> Path | None:
    """The quarantine JSONL of a shard directory's run: `<dir>/quarantine/...` or `<dir>/../quarantine/...`
    (None for a remote shard set: the quarantine stays in the local run folder)."""
    if not locate(directory).local:
        return None
    directory = Path(directory)
    for base in (directory, directory.parent):
        candidate = base / QUARANTINE_FILE
        if candidate.is_file():
            return candidate
    return None


def quarantine_table(path: str | Path | None):
    """A quarantine JSONL as a `pyarrow.Table` with the pinned quarantine schema (empty when `path` is None).

    Records written before schema version 2 read with null `report_id`/`item_id`/`chain_id` (for mining
    records the item id is then taken from `record_id`); a line cut by a crash is skipped.
    """
    import json

    import pyarrow as pa

    from radprm.schemas.arrow import QUARANTINE_SCHEMA

    rows: list[dict] = []
    if path is not None:
        with Path(path).open(encoding="utf-8") as fh:
            for line in fh:
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut by a crash; the file is append-only, the rest is fine
                if not isinstance(rec, dict):
                    continue
                if rec.get("stage") == "mine" and not rec.get("item_id"):
                    rec["item_id"] = rec.get("chain_id") or rec.get("record_id")
                rec.setdefault("detail", "")
                rows.append({name: rec.get(name) for name in QUARANTINE_SCHEMA.names})
    return pa.Table.from_pylist(rows, schema=QUARANTINE_SCHEMA)

_DUCKDB_TYPES = {"double": "DOUBLE", "bool": "BOOLEAN", "int32": "INTEGER", "string": "VARCHAR"}


def _steps_view_sql(version: str) -> str:
    """The steps view for a shard version: v1 shards get the v2 step columns as typed nulls."""
    v2 = "".join(
        f", NULL::{_DUCKDB_TYPES[str(t)]} AS {STEP_VIEW_NAMES.get(name, name)}" if version == "1"
        else f", s.step.{name} AS {STEP_VIEW_NAMES.get(name, name)}"
        for name, t in V2_STEP_FIELDS.items()
    )
    return STEPS_VIEW_SQL.format(v2=v2)


def _v1_items_columns() -> str:
    """Extra SELECT columns that give a v1 items view the v2 columns (typed nulls)."""
    out = []
    for name, dtype in V2_ITEM_FIELDS.items():
        if str(dtype) in _DUCKDB_TYPES:
            out.append(f", NULL::{_DUCKDB_TYPES[str(dtype)]} AS {name}")
        else:  # the prompt struct
            out.append(f", NULL::STRUCT(name VARCHAR, version INTEGER, sha VARCHAR) AS {name}")
    return "".join(out)


def shard_paths(directory: str | Path | ShardLocation) -> list[Any]:
    """Paths of the committed shards of a directory, in manifest order (`Path`s; strings inside the
    filesystem for a remote directory, to open with `locate(directory).fs`).

    Raises:
        ShardError: when the manifest is missing or invalid, or a listed shard file is missing.
    """
    loc = locate(directory)
    manifest = load_manifest(loc)
    if manifest.schema_version not in READABLE_SCHEMA_VERSIONS:
        raise ShardError(
            f"shards have schema version {manifest.schema_version}; this radprm reads "
            f"{', '.join(READABLE_SCHEMA_VERSIONS)}",
            path=loc.display(loc.file("manifest.json")),
            field="schema_version",
        )
    paths = [manifest.shard_path(loc, s.name) for s in manifest.shards]
    for path in paths:
        if not loc.is_file(path):
            raise ShardError("shard listed in the manifest is missing", path=loc.display(path),
                             hint="run `radprm verify`")
    return paths


def read_items(directory: str | Path, *, batch_size: int = 1_000) -> Iterator[Item]:
    """Yield every committed item of a shard directory as a validated `Item`, shard by shard.

    Args:
        directory: shard directory (with `manifest.json`).
        batch_size: rows decoded at a time (bounds memory).

    Shards of schema version 1 read as version 2 items with the rollout-label fields None.

    Raises:
        ShardError: missing manifest or shard, or a shard with an unknown schema version.
    """
    loc = locate(directory)
    for path in shard_paths(loc):
        parquet = loc.parquet_file(path)
        version = (parquet.schema_arrow.metadata or {}).get(SCHEMA_VERSION_KEY, b"").decode()
        if version not in READABLE_SCHEMA_VERSIONS:
            raise ShardError(f"shard has schema version '{version}', expected one of "
                             f"{', '.join(READABLE_SCHEMA_VERSIONS)} (writing: {SCHEMA_VERSION})",
                             path=loc.display(path))
        for batch in parquet.iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                yield row_to_item(row)


def read_table(directory: str | Path, columns: list[str] | None = None):
    """All committed shards as one `pyarrow.Table` in the current schema (optionally only some columns).

    Shards of schema version 1 read with the v2 columns (and v2 step fields) as nulls (`upgrade_table`).
    """
    import pyarrow as pa

    from radprm.schemas.shards import ITEM_SCHEMA, upgrade_table

    loc = locate(directory)
    tables = []
    for p in shard_paths(loc):
        have = pq.read_schema(p, filesystem=loc.fs).names
        wanted = None if columns is None else [c for c in columns if c in have]
        tables.append(upgrade_table(pq.read_table(p, columns=wanted, filesystem=loc.fs), columns))
    if not tables:
        tables = [ITEM_SCHEMA.empty_table()]
    table = pa.concat_tables(tables)
    return table if columns is None else table.select(columns)


def connect(directory: str | Path, *, database: str = ":memory:", quarantine: str | Path | None = None):
    """A DuckDB connection with views `items` (one row per item), `steps` (one row per step) and table
    `quarantine` (one row per quarantine record of the run, joinable on `item_id` / `report_id`).

    Version 1 shards get the version 2 columns as typed nulls, so every query runs on both.

    Args:
        directory: shard directory.
        database: DuckDB database path; in-memory by default.
        quarantine: the run's quarantine JSONL; default `find_quarantine(directory)` (none: an empty table).

    Returns:
        A `duckdb.DuckDBPyConnection`.
    """
    import duckdb

    loc = locate(directory)
    paths = shard_paths(loc)
    version = load_manifest(loc).schema_version
    con = duckdb.connect(database)
    extra = _v1_items_columns() if version == "1" else ""
    if paths and not loc.local:
        # DuckDB scans a pyarrow dataset over the store's filesystem (no httpfs extension, same credentials)
        import pyarrow.dataset as pads

        con.register("_remote_items", pads.dataset(paths, filesystem=loc.fs, format="parquet"))
        con.execute(f"CREATE OR REPLACE VIEW items AS SELECT *{extra} FROM _remote_items")
    elif paths:
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
        con.execute(f"CREATE OR REPLACE VIEW items AS SELECT *{extra} FROM read_parquet([{files}])")
    else:
        # No shard yet: an empty table with the pinned schema keeps every query valid.
        from radprm.schemas.shards import ITEM_SCHEMA

        empty = ITEM_SCHEMA.empty_table()
        con.register("_empty_items", empty)
        con.execute("CREATE OR REPLACE TABLE items AS SELECT * FROM _empty_items")
        con.unregister("_empty_items")
    con.execute(_steps_view_sql(version if paths else SCHEMA_VERSION))
    q_path = Path(quarantine) if quarantine is not None else find_quarantine(directory)
    if q_path is not None and not q_path.is_file():
        from radprm.errors import InputError

        raise InputError("quarantine file not found", path=q_path, field="quarantine")
    con.register("_quarantine", quarantine_table(q_path))
    con.execute("CREATE OR REPLACE TABLE quarantine AS SELECT * FROM _quarantine")
    con.unregister("_quarantine")
    return con


def query(directory: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run one SQL statement over the views `items`, `steps` and `quarantine` of a shard directory.

    Args:
        directory: shard directory.
        sql: a DuckDB query, e.g. `SELECT task, count(*) FROM items GROUP BY task`.

    Returns:
        (column names, rows).

    Raises:
        InputError: the SQL does not parse or fails (DuckDB's message, one line).
    """
    import duckdb

    from radprm.errors import InputError

    con = connect(directory)
    try:
        cursor = con.execute(sql)
        columns = [d[0] for d in cursor.description or []]
        rows = cursor.fetchall() if cursor.description else []
    except duckdb.Error as exc:
        message = str(exc).strip().splitlines()[0]
        raise InputError(f"SQL failed: {message}", field="sql", hint="views: items, steps, quarantine") from exc
    finally:
        con.close()
    return columns, rows

"""Read a shard directory: items as `Item`s, Arrow tables, or DuckDB views `items` and `steps`.

Readers go through the manifest, so only committed shards are read, in commit order; a stray Parquet
file in the folder is ignored here and reported by `verify`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from radprm.errors import ShardError
from radprm.schemas.records import Item
from radprm.schemas.shards import READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION, SCHEMA_VERSION_KEY, row_to_item
from radprm.shards.manifest import load_manifest

STEPS_VIEW_SQL = """
CREATE OR REPLACE VIEW steps AS
SELECT
    i.item_id, i.report_id, i.task, i.stage, i.model, i.run_id, i.first_bad_step,
    len(i.steps) AS n_steps,
    s.step.index AS step_index, s.step.text AS text, s.step.label AS label, s.step.verdict AS verdict,
    s.step.reasons AS reasons, s.step.evidence AS evidence, s.step.score AS score
FROM items AS i, UNNEST(i.steps) AS s(step)
"""
"""The steps view: one row per step, unnested from `items.steps` by DuckDB (never stored twice)."""


def shard_paths(directory: str | Path) -> list[Path]:
    """Paths of the committed shards of a directory, in manifest order.

    Raises:
        ShardError: when the manifest is missing or invalid, or a listed shard file is missing.
    """
    directory = Path(directory)
    manifest = load_manifest(directory)
    if manifest.schema_version not in READABLE_SCHEMA_VERSIONS:
        raise ShardError(
            f"shards have schema version {manifest.schema_version}; this radprm reads "
            f"{', '.join(READABLE_SCHEMA_VERSIONS)}",
            path=directory / "manifest.json",
            field="schema_version",
        )
    paths = [manifest.shard_path(directory, s.name) for s in manifest.shards]
    for path in paths:
        if not path.is_file():
            raise ShardError("shard listed in the manifest is missing", path=path, hint="run `radprm verify`")
    return paths


def read_items(directory: str | Path, *, batch_size: int = 1_000) -> Iterator[Item]:
    """Yield every committed item of a shard directory as a validated `Item`, shard by shard.

    Args:
        directory: shard directory (with `manifest.json`).
        batch_size: rows decoded at a time (bounds memory).

    Raises:
        ShardError: missing manifest or shard, or a shard with another schema version.
    """
    for path in shard_paths(directory):
        parquet = pq.ParquetFile(path)
        version = (parquet.schema_arrow.metadata or {}).get(SCHEMA_VERSION_KEY, b"").decode()
        if version not in READABLE_SCHEMA_VERSIONS:
            raise ShardError(f"shard has schema version '{version}', expected one of "
                             f"{', '.join(READABLE_SCHEMA_VERSIONS)} (this radprm writes {SCHEMA_VERSION})", path=path)
        for batch in parquet.iter_batches(batch_size=batch_size):
            for row in batch.to_pylist():
                yield row_to_item(row)


def read_table(directory: str | Path, columns: list[str] | None = None):
    """All committed shards as one `pyarrow.Table` (optionally only some columns)."""
    import pyarrow as pa

    from radprm.schemas.shards import ITEM_SCHEMA, upgrade_table

    tables = [upgrade_table(pq.read_table(p)) for p in shard_paths(directory)]
    if not tables:
        tables = [ITEM_SCHEMA.empty_table()]
    table = pa.concat_tables(tables)
    return table if columns is None else table.select(columns)


def connect(directory: str | Path, *, database: str = ":memory:"):
    """A DuckDB connection with views `items` (one row per item) and `steps` (one row per step).

    Args:
        directory: shard directory.
        database: DuckDB database path; in-memory by default.

    Returns:
        A `duckdb.DuckDBPyConnection`.
    """
    import duckdb

    paths = shard_paths(directory)
    con = duckdb.connect(database)
    if paths:
        files = ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths)
        con.execute(f"CREATE OR REPLACE VIEW items AS SELECT * FROM read_parquet([{files}], union_by_name = true)")
        _add_missing_columns(con)
    else:
        # No shard yet: an empty table with the pinned schema keeps every query valid.
        from radprm.schemas.shards import ITEM_SCHEMA

        empty = ITEM_SCHEMA.empty_table()
        con.register("_empty_items", empty)
        con.execute("CREATE OR REPLACE TABLE items AS SELECT * FROM _empty_items")
        con.unregister("_empty_items")
    con.execute(STEPS_VIEW_SQL)
    return con


def _add_missing_columns(con) -> None:
    """Give `items` every current column: shards of an older schema version lack the newer optional ones."""
    from radprm.schemas.shards import ITEM_SCHEMA

    present = {row[0] for row in con.execute("DESCRIBE items").fetchall()}
    missing = [f for f in ITEM_SCHEMA if f.name not in present]
    if not missing:
        return
    duck = {"string": "VARCHAR", "bool": "BOOLEAN", "int32": "INTEGER", "int64": "BIGINT", "double": "DOUBLE"}
    extra = ", ".join(f"CAST(NULL AS {duck[str(f.type)]}) AS {f.name}" for f in missing)
    sql = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = 'items'").fetchone()[0]
    source = sql[sql.index("FROM read_parquet"):].rstrip(";")
    con.execute(f"CREATE OR REPLACE VIEW items AS SELECT *, {extra} {source}")


def query(directory: str | Path, sql: str) -> tuple[list[str], list[tuple]]:
    """Run one SQL statement over the views `items` and `steps` of a shard directory.

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
        raise InputError(f"SQL failed: {message}", field="sql", hint="views: items, steps") from exc
    finally:
        con.close()
    return columns, rows

"""The pinned Arrow schema of a shard row (one `Item`) and the conversions both ways.

The schema is written out by hand, never inferred from data, so a batch where a column is all null
(every `stage` None, no `plan` anywhere) still produces the same Parquet schema. `SCHEMA_VERSION` is
stored in each shard's Parquet key-value metadata and in the manifest; bump it on any change here, and
`tests/test_shards_schema.py` fails when this schema and `schemas.records.Item` disagree.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

# SCHEMA_VERSION (one version for every pinned layout radprm writes: record tables and shard rows) and
# EVIDENCE_TYPE (shared with the step tables) are declared once in `schemas.arrow`; re-exported here.
from radprm.schemas.arrow import EVIDENCE_TYPE, READABLE_SCHEMA_VERSIONS, SCHEMA_VERSION, SCHEMA_VERSION_KEY
from radprm.schemas.records import Item

__all__ = [
    "EVIDENCE_TYPE", "ITEM_FIELDS", "ITEM_SCHEMA", "ITEM_SCHEMAS", "PROMPT_TYPE", "READABLE_SCHEMA_VERSIONS",
    "SCHEMA_VERSION", "SCHEMA_VERSION_KEY", "STEP_TYPE", "V2_ITEM_FIELDS", "item_to_row", "row_to_item",
    "upgrade_table",
]

STEP_TYPE = pa.struct(
    [
        pa.field("index", pa.int32(), nullable=False),
        pa.field("text", pa.string(), nullable=False),
        pa.field("label", pa.bool_(), nullable=False),
        pa.field("verdict", pa.string(), nullable=False),
        pa.field("reasons", pa.list_(pa.string()), nullable=False),
        pa.field("evidence", pa.list_(EVIDENCE_TYPE), nullable=False),
        pa.field("score", pa.float64(), nullable=False),
    ]
)

PROMPT_TYPE = pa.struct(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("sha", pa.string(), nullable=False),
    ]
)

_STR_LIST = pa.list_(pa.string())

ITEM_FIELDS: list[pa.Field] = [
    pa.field("item_id", pa.string(), nullable=False),
    pa.field("report_id", pa.string(), nullable=False),
    pa.field("image_paths", _STR_LIST, nullable=False),
    pa.field("task", pa.string(), nullable=False),
    pa.field("stage", pa.string()),
    pa.field("question", pa.string(), nullable=False),
    pa.field("options", _STR_LIST, nullable=False),
    pa.field("answer", _STR_LIST, nullable=False),
    pa.field("model_answer", _STR_LIST, nullable=False),
    pa.field("answer_reward", pa.float64()),
    pa.field("plan", pa.string()),
    pa.field("steps", pa.list_(STEP_TYPE), nullable=False),
    pa.field("completeness", pa.float64()),
    pa.field("factuality", pa.float64()),
    pa.field("effectiveness", pa.float64()),
    pa.field("first_bad_step", pa.int32(), nullable=False),
    pa.field("model", pa.string(), nullable=False),
    pa.field("server_host", pa.string()),
    pa.field("prompts", pa.list_(PROMPT_TYPE), nullable=False),
    pa.field("sampling", pa.string(), nullable=False),
    pa.field("seed", pa.int64()),
    pa.field("rollout", pa.int32(), nullable=False),
    pa.field("radprm_version", pa.string(), nullable=False),
    pa.field("rules_version", pa.string()),
    pa.field("run_id", pa.string()),
    pa.field("created_at", pa.string(), nullable=False),
    pa.field("report_text", pa.string(), nullable=False),
    pa.field("findings_text", pa.string()),
    pa.field("impression_text", pa.string()),
]

# --- schema version 2: new optional columns, all nullable, appended here and nowhere else. Other
# branches adding version-2 columns: append to this list (union), keep them nullable. -------------
V2_ITEM_FIELDS: list[pa.Field] = [
    pa.field("style", pa.string()),
    pa.field("patient_id", pa.string()),
    pa.field("split", pa.string()),
    pa.field("answer_key_source", pa.string()),
    pa.field("answer_disputed", pa.bool_()),
]
V1_ITEM_FIELDS = list(ITEM_FIELDS)
ITEM_FIELDS = V1_ITEM_FIELDS + V2_ITEM_FIELDS

ITEM_SCHEMA = pa.schema(ITEM_FIELDS, metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()})
"""Arrow schema of a shard row, field for field the same as `Item` (same names, same order)."""

ITEM_SCHEMAS: dict[str, pa.Schema] = {
    "1": pa.schema(V1_ITEM_FIELDS, metadata={SCHEMA_VERSION_KEY: b"1"}),
    SCHEMA_VERSION: ITEM_SCHEMA,
}
"""The pinned shard schema of every readable version (`READABLE_SCHEMA_VERSIONS`)."""


def upgrade_table(table: pa.Table) -> pa.Table:
    """A shard table of any readable version with the current schema: missing optional columns as nulls."""
    if table.schema.names == ITEM_SCHEMA.names:
        return table
    columns = []
    for f in ITEM_SCHEMA:
        if f.name in table.schema.names:
            columns.append(table.column(f.name))
        else:
            columns.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(columns, schema=ITEM_SCHEMA)


def item_to_row(item: Item) -> dict[str, Any]:
    """Turn an `Item` into a plain dict that `pa.Table.from_pylist(..., schema=ITEM_SCHEMA)` accepts."""
    return item.model_dump(mode="python")


def row_to_item(row: dict[str, Any]) -> Item:
    """Turn a row read from a shard back into a validated `Item`.

    Raises:
        pydantic.ValidationError: when the row does not satisfy `Item`.
    """
    return Item.model_validate(row)


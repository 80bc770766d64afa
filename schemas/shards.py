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
    "SCHEMA_VERSION", "SCHEMA_VERSION_KEY", "STEP_TYPE", "V2_ITEM_FIELDS", "V2_STEP_FIELDS", "item_to_row",
    "row_to_item", "schema_for_version", "upgrade_table",
]

_STEP_FIELDS_V1: list[pa.Field] = [
    pa.field("index", pa.int32(), nullable=False),
    pa.field("text", pa.string(), nullable=False),
    pa.field("label", pa.bool_(), nullable=False),
    pa.field("verdict", pa.string(), nullable=False),
    pa.field("reasons", pa.list_(pa.string()), nullable=False),
    pa.field("evidence", pa.list_(EVIDENCE_TYPE), nullable=False),
    pa.field("score", pa.float64(), nullable=False),
]

PROMPT_TYPE = pa.struct(
    [
        pa.field("name", pa.string(), nullable=False),
        pa.field("version", pa.int32(), nullable=False),
        pa.field("sha", pa.string(), nullable=False),
    ]
)

_STR_LIST = pa.list_(pa.string())

_ITEM_FIELDS_V1: list[pa.Field] = [
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
    pa.field("steps", pa.list_(pa.struct(_STEP_FIELDS_V1)), nullable=False),
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

# --- schema v2: every v2 column is nullable and appended at the end (of the step struct and of the row), so a
# v1 shard is a v2 shard with these columns null; readers and `verify` accept both (READABLE_SCHEMA_VERSIONS).
# Other v2 additions go in this block too.
V2_STEP_FIELD_LIST: list[pa.Field] = [
    pa.field("stage", pa.string()),  # issue 16: CXRTrek stage of the step (staged mode), else null
    pa.field("mc_score", pa.float64()),  # issue 14: rollout labels (`radprm label rollouts`), else null
    pa.field("mc_label", pa.bool_()),
    pa.field("mc_rollouts", pa.int32()),
]
V2_ITEM_FIELD_LIST: list[pa.Field] = [
    pa.field("mc_model", pa.string()),  # issue 14: provenance of the rollout labels, else null
    pa.field("mc_prompt", PROMPT_TYPE),
    pa.field("mc_sampling", pa.string()),
    # issue 16 (privacy): PHI guard hits as a JSON list [{where, entity, start, end, score, recognizer}] (null
    # when the guard was off) and the sha256 of the report text, which `radprm rehydrate` checks against the
    # user's own copy.
    pa.field("phi", pa.string()),
    pa.field("report_sha256", pa.string()),
    # issue 13 (training data): chain style (image | report), patient id (the report id when none), data split,
    # where `answer` comes from (extractor | labels:<file>), and whether the model disputes a doubtful key.
    pa.field("style", pa.string()),
    pa.field("patient_id", pa.string()),
    pa.field("split", pa.string()),
    pa.field("answer_key_source", pa.string()),
    pa.field("answer_disputed", pa.bool_()),
]
V2_STEP_FIELDS = {f.name: f.type for f in V2_STEP_FIELD_LIST}
"""Step struct fields that v1 shards lack (read as null)."""
V2_ITEM_FIELDS = {f.name: f.type for f in V2_ITEM_FIELD_LIST}
"""Row columns that v1 shards lack (read as null)."""
# --- end of schema v2 -------------------------------------------------------------------------------------------

STEP_TYPE = pa.struct(_STEP_FIELDS_V1 + V2_STEP_FIELD_LIST)
ITEM_FIELDS: list[pa.Field] = [
    pa.field("steps", pa.list_(STEP_TYPE), nullable=False) if f.name == "steps" else f for f in _ITEM_FIELDS_V1
] + V2_ITEM_FIELD_LIST

ITEM_SCHEMA = pa.schema(ITEM_FIELDS, metadata={SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()})
"""Arrow schema of a shard row, field for field the same as `Item` (same names, same order)."""

ITEM_SCHEMAS: dict[str, pa.Schema] = {
    "1": pa.schema(_ITEM_FIELDS_V1, metadata={SCHEMA_VERSION_KEY: b"1"}),
    SCHEMA_VERSION: ITEM_SCHEMA,
}
"""The pinned shard row schema of every readable version (`READABLE_SCHEMA_VERSIONS`), for readers and `verify`:
"1" is the row without any v2 column (`V2_STEP_FIELDS` in the steps, `V2_ITEM_FIELDS` in the row)."""
assert tuple(ITEM_SCHEMAS) == READABLE_SCHEMA_VERSIONS, "a readable version without a pinned schema"


def schema_for_version(version: str) -> pa.Schema:
    """The pinned shard schema a file of `version` has (`ITEM_SCHEMAS`; "1" lacks every v2 column).

    Raises:
        KeyError: `version` is not readable (not in `READABLE_SCHEMA_VERSIONS`).
    """
    return ITEM_SCHEMAS[version]


def _upgrade_column(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """A column of an older shard in the current type: v2 step struct fields added as nulls."""
    if column.type.equals(target):
        return column
    if pa.types.is_list(target) and pa.types.is_struct(target.value_type):  # the steps
        chunks = []
        for chunk in column.chunks:
            structs = chunk.values
            children = [
                structs.field(f.name) if structs.type.get_field_index(f.name) >= 0 else pa.nulls(len(structs), f.type)
                for f in target.value_type
            ]
            values = pa.StructArray.from_arrays(children, fields=list(target.value_type), mask=structs.is_null())
            chunks.append(pa.ListArray.from_arrays(chunk.offsets, values, type=target, mask=chunk.is_null()))
        return pa.chunked_array(chunks, type=target)
    return column.cast(target)


def upgrade_table(table: pa.Table, columns: list[str] | None = None) -> pa.Table:
    """A shard table of any readable version in the current schema (`ITEM_SCHEMA`, or its `columns`): the v2
    columns an older shard lacks as nulls, and its steps with the v2 step fields as nulls.

    Args:
        table: Rows read from a shard (all columns, or at least `columns`).
        columns: Keep only these columns, in this order (default: every column of `ITEM_SCHEMA`).
    """
    names = columns if columns is not None else ITEM_SCHEMA.names
    fields = [ITEM_SCHEMA.field(n) for n in names]
    arrays = [
        _upgrade_column(table.column(f.name), f.type) if f.name in table.column_names
        else pa.chunked_array([pa.nulls(table.num_rows, f.type)], type=f.type)
        for f in fields
    ]
    metadata = ITEM_SCHEMA.metadata if columns is None else None
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=metadata))


def item_to_row(item: Item) -> dict[str, Any]:
    """Turn an `Item` into a plain dict that `pa.Table.from_pylist(..., schema=ITEM_SCHEMA)` accepts."""
    return item.model_dump(mode="python")


def row_to_item(row: dict[str, Any]) -> Item:
    """Turn a row read from a shard back into a validated `Item`.

    Raises:
        pydantic.ValidationError: when the row does not satisfy `Item`.
    """
    return Item.model_validate(row)


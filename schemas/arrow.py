"""Pinned Arrow schemas for the record tables radprm writes: reports, findings, quarantine.

Written out by hand (never inferred) so a batch with an all-null column still writes the same Parquet
schema. `model_mismatches` compares a schema with its pydantic model in `schemas.records`, and
`tests/test_schemas_arrow.py` fails when they drift apart: change both, and bump `SCHEMA_VERSION`.
The shard row schema (`Item`) lives in `schemas.shards`.
"""

from __future__ import annotations

import types
import typing
from typing import Any, Literal

import pyarrow as pa
from pydantic import BaseModel

from radprm.schemas.records import Finding, QuarantineRecord, Report

# --- schema versions (one place: merges union the changes listed here) ----------------------------------
# "1": the first layouts.
# "2" (issues 16 and 14), every new column nullable:
#     issue 16: shard steps carry `stage` (CXRTrek stage, null in reasoner mode); quarantine records carry
#     report_id, item_id, chain_id, resolved_at, resolution.
#     issue 14: rollout labels, per step mc_score, mc_label, mc_rollouts; per item mc_model, mc_prompt,
#     mc_sampling (`schemas.shards`: V2_STEP_FIELDS, V2_ITEM_FIELDS).
#     issue 16 (privacy): per item phi (PHI guard hits as JSON), report_sha256 (checked by `radprm rehydrate`).
#     issue 13 (training data): per item style, patient_id, split, answer_key_source, answer_disputed; the
#     report table's `patient_id` (added earlier without a bump) is counted in "2" too.
SCHEMA_VERSION = "2"
"""Version of the record table layouts below and of the shard row layout (`schemas.shards`); stored in
Parquet metadata under SCHEMA_VERSION_KEY. Bump it on any change of either (history in the comment above)."""

READABLE_SCHEMA_VERSIONS = ("1", "2")
"""Versions that readers and `radprm verify` accept (new columns read as null from older files). Writers
only append to a directory of the current version."""

SCHEMA_VERSION_KEY = b"radprm.schema_version"
SCHEMA_NAME_KEY = b"radprm.schema"

EVIDENCE_TYPE = pa.struct(
    [
        pa.field("text", pa.string(), nullable=False),
        pa.field("start", pa.int32(), nullable=False),
        pa.field("end", pa.int32(), nullable=False),
    ]
)
"""An evidence span (report sentence and char offsets), in shard steps and step tables."""


def append_fields(base: pa.Schema, fields: list[pa.Field]) -> pa.Schema:
    """`base` with `fields` appended, its metadata kept (a run stage's extra step-table columns)."""
    schema = base
    for f in fields:
        schema = schema.append(f)
    return schema.with_metadata(base.metadata)


def _meta(name: str) -> dict[bytes, bytes]:
    return {SCHEMA_NAME_KEY: name.encode(), SCHEMA_VERSION_KEY: SCHEMA_VERSION.encode()}


REPORT_SCHEMA = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("findings", pa.string()),
        pa.field("impression", pa.string()),
        pa.field("indication", pa.string()),
        pa.field("comparison", pa.string()),
        pa.field("text", pa.string(), nullable=False),
        pa.field("image_paths", pa.list_(pa.string()), nullable=False),
        pa.field("source_path", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("patient_id", pa.string()),
    ],
    metadata=_meta("report"),
)
"""One row per `Report`."""

FINDING_SCHEMA = pa.schema(
    [
        pa.field("report_id", pa.string(), nullable=False),
        pa.field("observation", pa.string(), nullable=False),
        pa.field("mention", pa.string(), nullable=False),
        pa.field("assertion", pa.string(), nullable=False),
        pa.field("historical", pa.bool_(), nullable=False),
        pa.field("hypothetical", pa.bool_(), nullable=False),
        pa.field("laterality", pa.string(), nullable=False),
        pa.field("severity", pa.string()),
        pa.field("location", pa.string()),
        pa.field("section", pa.string(), nullable=False),
        pa.field("sentence", pa.string(), nullable=False),
        pa.field("start", pa.int32(), nullable=False),
        pa.field("end", pa.int32(), nullable=False),
        pa.field("sentence_start", pa.int32(), nullable=False),
        pa.field("sentence_end", pa.int32(), nullable=False),
    ],
    metadata=_meta("finding"),
)
"""One row per `Finding` (char offsets refer to `Report.text`)."""

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("record_id", pa.string()),
        pa.field("stage", pa.string(), nullable=False),
        pa.field("reason_code", pa.string(), nullable=False),
        pa.field("source_path", pa.string()),
        pa.field("source_row", pa.int64()),
        pa.field("field", pa.string()),
        pa.field("detail", pa.string(), nullable=False),
        pa.field("payload", pa.string()),
        pa.field("run_id", pa.string()),
        # schema version 2 (issue 16): join ids and re-drive resolution, all nullable
        pa.field("report_id", pa.string()),
        pa.field("item_id", pa.string()),
        pa.field("chain_id", pa.string()),
        pa.field("resolved_at", pa.string()),
        pa.field("resolution", pa.string()),
    ],
    metadata=_meta("quarantine"),
)
"""One row per `QuarantineRecord`."""

SCHEMAS: dict[str, tuple[pa.Schema, type[BaseModel]]] = {
    "report": (REPORT_SCHEMA, Report),
    "finding": (FINDING_SCHEMA, Finding),
    "quarantine": (QUARANTINE_SCHEMA, QuarantineRecord),
}
"""Schema name -> (Arrow schema, pydantic model)."""


def _expected(annotation: Any) -> tuple[str, bool]:
    """Arrow type family and nullability that a pydantic annotation calls for."""
    nullable = False
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        nullable = len(args) < len(typing.get_args(annotation))
        if len(args) != 1:
            return f"union{args}", nullable
        annotation = args[0]
        origin = typing.get_origin(annotation)
    if origin is Literal:
        return "string", nullable
    if origin is list:
        (item,) = typing.get_args(annotation)
        return f"list<{_expected(item)[0]}>", nullable
    families = {str: "string", int: "int", float: "float", bool: "bool"}
    return families.get(annotation, f"unsupported:{annotation!r}"), nullable


def _family(dtype: pa.DataType) -> str:
    if pa.types.is_list(dtype) or pa.types.is_large_list(dtype):
        return f"list<{_family(dtype.value_type)}>"
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype):
        return "string"
    if pa.types.is_integer(dtype):
        return "int"
    if pa.types.is_floating(dtype):
        return "float"
    if pa.types.is_boolean(dtype):
        return "bool"
    return str(dtype)


def model_mismatches(schema: pa.Schema, model: type[BaseModel]) -> list[str]:
    """List the differences between an Arrow schema and a pydantic model (empty when they agree).

    Compares field names and order, type family (string/int/float/bool/list) and nullability
    (an Arrow field is nullable exactly when the model field accepts None).

    Args:
        schema: the Arrow schema.
        model: the pydantic record model it stores.

    Returns:
        Human-readable mismatch lines.
    """
    problems = []
    model_fields = list(model.model_fields)
    if schema.names != model_fields:
        problems.append(f"field names differ: arrow {schema.names} vs model {model_fields}")
    hints = typing.get_type_hints(model)
    for name in model_fields:
        if name not in schema.names:
            continue
        family, nullable = _expected(hints[name])
        arrow_field = schema.field(name)
        if _family(arrow_field.type) != family:
            problems.append(f"{name}: arrow type {arrow_field.type} vs model {family}")
        if arrow_field.nullable != nullable:
            problems.append(f"{name}: arrow nullable={arrow_field.nullable} vs model nullable={nullable}")
    return problems

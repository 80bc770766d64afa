import typing

import pyarrow as pa
import pyarrow.parquet as pq

from radprm.schemas.records import Evidence, Item, PromptRef, StepRecord
from radprm.schemas.shards import ITEM_SCHEMA, SCHEMA_VERSION, SCHEMA_VERSION_KEY, item_to_row, row_to_item
from radprm.shards.testing import make_item

_SCALARS = {str: pa.string(), bool: pa.bool_(), float: pa.float64()}


def _arrow_matches(annotation, arrow_type) -> bool:
    """Does a pydantic field annotation agree with an Arrow type (ignoring int widths)?"""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin is typing.Union or (args and origin is not list and origin is not typing.Literal):
        return _arrow_matches(args[0], arrow_type)
    if origin is typing.Literal:
        return arrow_type == pa.string()
    if origin is list:
        return pa.types.is_list(arrow_type) and _arrow_matches(args[0], arrow_type.value_type)
    if annotation is int:
        return pa.types.is_integer(arrow_type)
    if annotation in _SCALARS:
        return arrow_type == _SCALARS[annotation]
    if isinstance(annotation, type) and issubclass(annotation, (StepRecord, Evidence, PromptRef)):
        fields = annotation.model_fields
        return (
            pa.types.is_struct(arrow_type)
            and [f.name for f in arrow_type] == list(fields)
            and all(_arrow_matches(fields[f.name].annotation, f.type) for f in arrow_type)
        )
    return False


def test_arrow_schema_matches_item_model_field_for_field():
    assert ITEM_SCHEMA.names == list(Item.model_fields)
    for field in ITEM_SCHEMA:
        info = Item.model_fields[field.name]
        assert _arrow_matches(info.annotation, field.type), field.name
        optional = type(None) in typing.get_args(info.annotation)
        assert field.nullable == optional, f"{field.name}: nullable={field.nullable}, model optional={optional}"


def test_schema_version_is_in_the_schema_metadata():
    assert ITEM_SCHEMA.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()


def test_item_row_round_trip_through_arrow(tmp_path):
    item = make_item(7)
    table = pa.Table.from_pylist([item_to_row(item)], schema=ITEM_SCHEMA)
    pq.write_table(table, tmp_path / "x.parquet")
    back = pq.read_table(tmp_path / "x.parquet").to_pylist()[0]
    assert row_to_item(back) == item


def test_all_null_optional_columns_keep_the_pinned_types():
    rows = [item_to_row(make_item(i, stage=None, plan=None, seed=None, answer_reward=None)) for i in range(3)]
    table = pa.Table.from_pylist(rows, schema=ITEM_SCHEMA)
    assert table.schema.field("stage").type == pa.string()
    assert table.schema.field("seed").type == pa.int64()
    assert table.column("stage").null_count == 3

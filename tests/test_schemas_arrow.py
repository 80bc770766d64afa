"""The pinned Arrow schemas agree with the pydantic record models."""

from __future__ import annotations

import pyarrow as pa
import pytest
from pydantic import BaseModel, Field

from radprm.schemas.arrow import SCHEMA_VERSION, SCHEMA_VERSION_KEY, SCHEMAS, model_mismatches


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_arrow_schema_agrees_with_model(name: str) -> None:
    schema, model = SCHEMAS[name]
    assert model_mismatches(schema, model) == []
    assert schema.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()


def test_model_mismatches_reports_drift() -> None:
    class Drifted(BaseModel):
        a: str
        b: int | None = None
        c: list[str] = Field(default_factory=list)

    schema = pa.schema([pa.field("a", pa.string()), pa.field("b", pa.string()), pa.field("d", pa.list_(pa.string()))])
    problems = model_mismatches(schema, Drifted)
    assert "field names differ: arrow ['a', 'b', 'd'] vs model ['a', 'b', 'c']" in problems
    assert "a: arrow nullable=True vs model nullable=False" in problems
    assert "b: arrow type string vs model int" in problems

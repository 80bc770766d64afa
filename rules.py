"""Rule and data files (JSON or YAML) loaded through pydantic models: one helper for every loader.

Declare the file's shape as pydantic models based on `RuleModel` (unknown keys are rejected), then
load it with `load_rule_file`. Every problem becomes one error naming the file, the field path
(`target_rules.3.literal`) and what is wrong; an unknown key lists the keys allowed there.

```python
from radprm.rules import RuleModel, load_rule_file

class Section(RuleModel):
    category: str
    literal: str

class SectionRules(RuleModel):
    version: str
    section_rules: list[Section]

rules = load_rule_file("rules/sections.json", SectionRules)          # or a Traversable resource
rules = load_rule_file(path, SectionRules, error=PromptError)          # another RadprmError subclass
```
"""

from __future__ import annotations

import hashlib
import json
import types
import typing
from collections.abc import Mapping
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from radprm.errors import RadprmError, RuleFileError

M = TypeVar("M", bound=BaseModel)

__all__ = ["RuleModel", "load_rule_file", "parse_rule_data", "read_rule_data"]


class RuleModel(BaseModel):
    """Base of rule-file models: unknown keys are errors, instances are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def read_rule_data(source: str | Path | Traversable, *, error: type[RadprmError] = RuleFileError) -> tuple[Any, bytes]:
    """Read and parse a JSON (`.json`) or YAML (`.yaml` / `.yml`) file.

    Returns:
        The parsed document and the file's bytes (for a sha256).

    Raises:
        error: unreadable file or malformed JSON / YAML, naming the file.
    """
    name = str(source)
    try:
        data = source.read_bytes()
    except OSError as exc:
        raise error(f"cannot read file: {exc.strerror or exc}", path=name) from None
    if name.lower().endswith((".yaml", ".yml")):
        import yaml

        try:
            return yaml.safe_load(data), data
        except yaml.YAMLError as exc:
            raise error(f"not valid YAML: {exc}", path=name) from None
    try:
        return json.loads(data), data
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise error(f"not valid JSON: {exc}", path=name) from None


def parse_rule_data(
    doc: Any, model: type[M], *, path: str, error: type[RadprmError] = RuleFileError,
    inject: Mapping[str, Any] | None = None,
) -> M:
    """Validate a parsed document against `model`.

    Args:
        doc: the parsed file (must be a mapping).
        model: the pydantic model of the whole file (its models should forbid extra keys).
        path: file name for errors.
        error: the RadprmError subclass to raise.
        inject: values that do not come from the file (e.g. its path or sha); a file key with one of
            these names is an unknown key.

    Raises:
        error: naming the file, the field path and the problem (unknown keys first: a typo usually
            explains the "field required" that comes with it).
    """
    if not isinstance(doc, dict):
        raise error(f"expected a mapping of keys at the top level, got {type(doc).__name__}", path=path)
    inject = dict(inject or {})
    clash = sorted(set(doc) & set(inject))
    if clash:
        allowed = [k for k in model.model_fields if k not in inject]
        raise error(f"unknown key {clash[0]!r}", path=path, field=clash[0], hint=f"allowed keys: {', '.join(allowed)}")
    try:
        return model.model_validate({**doc, **inject})
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        first = errors[0]
        loc = [str(p) for p in first["loc"]]
        where = ".".join(loc) or None
        if first["type"] == "extra_forbidden":
            allowed = [k for k in _model_at(model, first["loc"][:-1]).model_fields if k not in inject]
            raise error(f"unknown key {loc[-1]!r}", path=path, field=where,
                        hint=f"allowed keys: {', '.join(allowed)}") from None
        raise error(first["msg"], path=path, field=where) from None


def load_rule_file(
    source: str | Path | Traversable, model: type[M], *, error: type[RadprmError] = RuleFileError,
    inject: Mapping[str, Any] | None = None,
) -> M:
    """Read a JSON / YAML rule file and validate it against `model` (see `parse_rule_data`).

    Args:
        source: a path or an `importlib.resources` Traversable (packaged rules).
        model: the pydantic model of the file.
        error: the RadprmError subclass to raise.
        inject: values that do not come from the file; `sha256` (of the file bytes) is filled in
            when the model has such a field and it is not given.

    Raises:
        error: unreadable or malformed file, unknown key, missing or bad value (file, field path, problem).
    """
    doc, data = read_rule_data(source, error=error)
    inject = dict(inject or {})
    if "sha256" in model.model_fields and "sha256" not in inject:
        inject["sha256"] = hashlib.sha256(data).hexdigest()
    return parse_rule_data(doc, model, path=str(source), error=error, inject=inject)


def _model_at(model: type[BaseModel], loc: tuple[Any, ...]) -> type[BaseModel]:
    """The pydantic model found by following a validation error's location from `model`."""
    current: Any = model
    for part in loc:
        if isinstance(part, int) or not (isinstance(current, type) and issubclass(current, BaseModel)):
            continue  # list index or dict key: stay on the item type
        field = current.model_fields.get(part)
        if field is not None:  # otherwise a dict key: stay on the value type
            current = _unwrap(field.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else model


def _unwrap(annotation: Any) -> Any:
    """The model inside `list[M]`, `dict[str, M]`, `M | None`, `Annotated[M, ...]`."""
    while True:
        origin = typing.get_origin(annotation)
        if origin is None:
            return annotation
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if origin in (typing.Union, types.UnionType, typing.Annotated, list, tuple, set, frozenset):
            annotation = args[0]
        elif origin is dict:
            annotation = args[-1]
        else:
            return annotation

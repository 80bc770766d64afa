"""Prompt templates: strict loading, rendering, versions, sha256, bounded response schemas."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import PromptError
from radprm.prompts.registry import (
    PROMPTS_DIR_ENV,
    PromptRegistry,
    default_prompts_dir,
    list_prompts,
    load_prompt,
    load_prompt_file,
    parse_spec,
)
from radprm.schemas.llm import RESPONSE_MODELS, RefineResponse, json_schemas, with_answer_options

PACKAGED = Path(__file__).resolve().parents[1] / "prompts"
SCHEMA_DIR = Path(__file__).resolve().parents[1] / "schemas" / "json"


@pytest.fixture
def prompts_copy(tmp_path: Path) -> Path:
    dst = tmp_path / "prompts"
    shutil.copytree(PACKAGED, dst, ignore=shutil.ignore_patterns("*.py", "__pycache__", "*.md"))
    return dst


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


GOOD = """\
id: plan
version: 2
description: A test plan prompt.
variables: [report, question]
response_schema: PlanResponse
changes: Shorter wording.
system: Reply in JSON.
user: "Report: {report}\\nQuestion: {question}"
"""


def test_packaged_prompts_load_with_sha_of_file_bytes():
    templates = {t.id: t for t in list_prompts(PACKAGED)}
    assert set(templates) == {"plan", "analysis", "refine", "staged", "judge", "rollout"}
    for t in templates.values():
        assert t.sha == hashlib.sha256(Path(t.path).read_bytes()).hexdigest()
        assert t.ref.name == t.id and t.ref.version == t.version and t.ref.sha == t.sha
        assert t.response_schema in RESPONSE_MODELS


def test_prompt_unknown_key_names_file_and_key(fixtures):
    with pytest.raises(PromptError) as err:
        load_prompt_file(fixtures / "prompts_unknown_key" / "plan" / "v1.yaml")
    assert err.value.field == "sytem"
    assert "prompts_unknown_key/plan/v1.yaml" in str(err.value)
    assert "unknown key 'sytem'" in str(err.value)
    assert "allowed keys" in str(err.value)


def test_prompt_render_missing_or_extra_variable_is_an_error(tmp_path):
    tpl = load_prompt_file(write(tmp_path / "plan" / "v2.yaml", GOOD))
    with pytest.raises(PromptError, match="missing variable 'question'") as err:
        tpl.render(report="r")
    assert err.value.field == "question" and err.value.path.endswith("v2.yaml")
    with pytest.raises(PromptError, match="unexpected variable 'plan'"):
        tpl.render(report="r", question="q", plan="p")
    messages = tpl.render(report="FINDINGS: {not a placeholder}", question="Is there X?")
    assert messages == [
        {"role": "system", "content": "Reply in JSON."},
        {"role": "user", "content": "Report: FINDINGS: {not a placeholder}\nQuestion: Is there X?"},
    ]


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            ("variables: [report, question]", "variables: [report]"),
            "variables",
            "placeholder {question} is not declared",
        ),
        (("variables: [report, question]", "variables: [report, question, plan]"), "variables", "'plan' is never used"),
        (("id: plan", "id: planner"), "id", "differs from its folder"),
        (("version: 2", "version: 3"), "version", "does not match the file name"),
        (("response_schema: PlanResponse", "response_schema: Nope"), "response_schema", "unknown response schema"),
        (("changes: Shorter wording.\n", ""), "changes", "Field required"),
    ],
)
def test_prompt_file_checks_name_the_field(tmp_path, change, field, message):
    path = write(tmp_path / "plan" / "v2.yaml", GOOD.replace(*change))
    with pytest.raises(PromptError) as err:
        load_prompt_file(path)
    assert err.value.field == field
    assert message in str(err.value)
    assert str(path) in str(err.value)


def test_prompt_bad_brace_syntax_is_reported(tmp_path):
    path = write(tmp_path / "plan" / "v2.yaml", GOOD.replace("Question: {question}", "Question: {question} {"))
    with pytest.raises(PromptError, match="bad template syntax") as err:
        load_prompt_file(path)
    assert err.value.field == "user"


def test_registry_latest_version_and_spec(prompts_copy):
    write(prompts_copy / "plan" / "v4.yaml", GOOD.replace("version: 2", "version: 4"))
    reg = PromptRegistry(prompts_copy)
    assert reg.versions("plan") == [1, 2, 3, 4]
    assert reg.get("plan").version == 4
    assert reg.get("plan", 1).version == 1
    assert load_prompt("plan@v1", prompts_copy).version == 1
    assert [t.version for t in list_prompts(prompts_copy, all_versions=True) if t.id == "plan"] == [1, 2, 3, 4]
    with pytest.raises(PromptError, match="has no version 7") as err:
        reg.get("plan", 7)
    assert "v1, v2, v3, v4" in str(err.value)
    with pytest.raises(PromptError, match="no prompt named 'nope'"):
        reg.get("nope")


@pytest.mark.parametrize(
    ("spec", "expected"), [("plan", ("plan", None)), ("plan@v3", ("plan", 3)), ("plan@2", ("plan", 2))]
)
def test_parse_spec(spec, expected):
    assert parse_spec(spec) == expected


def test_parse_spec_bad_version():
    with pytest.raises(PromptError, match="bad prompt spec"):
        parse_spec("plan@latest")


def test_prompts_dir_env_override(prompts_copy, monkeypatch):
    monkeypatch.setenv(PROMPTS_DIR_ENV, str(prompts_copy))
    assert default_prompts_dir() == prompts_copy
    assert Path(load_prompt("refine").path).is_relative_to(prompts_copy)


def test_missing_prompts_dir_is_an_error(tmp_path):
    with pytest.raises(PromptError, match="prompts folder not found"):
        PromptRegistry(tmp_path / "absent")


def test_cli_prompts_list_and_show(prompts_copy):
    runner = CliRunner()
    result = runner.invoke(app, ["prompts", "list", "--prompts-dir", str(prompts_copy)])
    assert result.exit_code == 0, result.output
    refine = load_prompt("refine", prompts_copy)
    line = next(li for li in result.output.splitlines() if li.startswith("refine"))
    assert f"v{refine.version}" in line and refine.sha[:12] in line and refine.description in line
    result = runner.invoke(app, ["prompts", "show", f"refine@v{refine.version}", "--prompts-dir", str(prompts_copy)])
    assert result.exit_code == 0, result.output
    assert f"sha256: {refine.sha}" in result.output
    assert "response_schema: RefineResponse" in result.output
    assert "{steps}" in result.output


def test_cli_prompts_show_unknown_is_one_error_line(prompts_copy):
    result = CliRunner().invoke(app, ["prompts", "show", "nope", "--prompts-dir", str(prompts_copy)])
    assert result.exit_code == 1
    assert result.output.strip().startswith("Error:")
    assert "no prompt named 'nope'" in result.output
    assert "Traceback" not in result.output


# --- response schemas ---------------------------------------------------------------------------------


def test_json_schema_files_agree_with_models():
    generated = json_schemas()
    on_disk = {p.stem: json.loads(p.read_text()) for p in SCHEMA_DIR.glob("*.json")}
    assert on_disk == generated, "schemas/json is stale: run `python -m radprm.schemas.llm`"


def _unbounded(schema: dict, root: dict, path: str = "") -> list[str]:
    problems = []
    if "$ref" in schema:
        target = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _unbounded(target, root, path)
    kind = schema.get("type")
    if kind == "array":
        if "maxItems" not in schema:
            problems.append(f"{path}: array without maxItems")
        problems += _unbounded(schema.get("items", {}), root, path + "[]")
    elif kind == "string" and "maxLength" not in schema and "enum" not in schema:
        problems.append(f"{path}: string without maxLength or enum")
    elif kind == "object":
        if schema.get("additionalProperties") is not False:
            problems.append(f"{path}: object allows extra keys")
        for name, sub in schema.get("properties", {}).items():
            problems += _unbounded(sub, root, f"{path}.{name}")
    return problems


@pytest.mark.parametrize("name", sorted(RESPONSE_MODELS))
def test_response_schemas_are_bounded(name):
    schema = RESPONSE_MODELS[name].model_json_schema()
    assert _unbounded(schema, schema) == []


def test_answer_narrowed_to_options():
    single = with_answer_options(RefineResponse, ["yes", "no"], multi=False)
    schema = single.model_json_schema()["properties"]["answer"]
    assert schema["items"]["enum"] == ["yes", "no"] and schema["maxItems"] == 1
    assert single.model_validate({"steps": ["s"], "answer": ["no"]}).answer == ["no"]
    with pytest.raises(ValueError):
        single.model_validate({"steps": ["s"], "answer": ["maybe"]})
    multi = with_answer_options(RefineResponse, ["edema", "mass", "none of these"], multi=True)
    assert multi.model_json_schema()["properties"]["answer"]["maxItems"] == 3

"""Versioned prompt templates: `prompts/<prompt_id>/v<N>.yaml`, strict pydantic, sha256 per file.

A template holds `id`, `version`, `description`, `variables`, `response_schema` (a model name in
`radprm.schemas.llm`), `system`, `user`, a one-line `changes`, optionally its chain `style`
(image or report; `PromptRegistry.for_style` picks the latest version of a style) and a `reask` reminder
(plain text added to the user message when an image-style chain that cited the report is asked again,
`radprm mine --cites-report`). Loading rejects unknown keys,
checks that the declared variables are exactly the `{placeholders}` of `system` and `user`, and
that the id and version agree with the file's place. Rendering refuses a missing or extra variable.
The sha256 of the file bytes goes on every output row (`PromptRef`), so editing a file changes the
request-cache keys and item ids of exactly the calls that use it.
"""

from __future__ import annotations

import hashlib
import os
import re
import string
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from radprm.errors import PromptError
from radprm.rules import parse_rule_data, read_rule_data
from radprm.schemas.llm import RESPONSE_MODELS, LLMResponse
from radprm.schemas.records import PromptRef

PROMPTS_DIR_ENV = "RADPRM_PROMPTS_DIR"
_FILE_RE = re.compile(r"^v(\d+)\.yaml$")


class PromptTemplate(BaseModel):
    """One prompt file. Construct through `load_prompt_file` (which sets `path` and `sha`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(ge=1)
    description: str = Field(min_length=1)
    variables: list[str]
    response_schema: str
    system: str
    user: str = Field(min_length=1)
    changes: str = Field(min_length=1)
    style: str | None = Field(None, pattern=r"^(image|report)$",
                              description="Chain style (radprm.miners.styles); none means report, as v1 was.")
    reask: str | None = Field(None, min_length=1,
                              description="Reminder appended (verbatim) to the user message of a re-ask.")
    path: str = Field("", exclude=True)
    sha: str = Field("", exclude=True)

    @field_validator("response_schema")
    @classmethod
    def _known_schema(cls, value: str) -> str:
        if value not in RESPONSE_MODELS:
            raise ValueError(f"unknown response schema {value!r} (known: {', '.join(sorted(RESPONSE_MODELS))})")
        return value

    @property
    def ref(self) -> PromptRef:
        """`PromptRef(name, version, sha)` recorded on every output row."""
        return PromptRef(name=self.id, version=self.version, sha=self.sha)

    @property
    def label(self) -> str:
        """`id@vN:shaprefix`, the form used in item ids and messages."""
        return f"{self.id}@v{self.version}:{self.sha[:12]}"

    @cached_property
    def response_model(self) -> type[LLMResponse]:
        """The pydantic response model named by `response_schema`."""
        return RESPONSE_MODELS[self.response_schema]

    def render(self, *, reask: bool = False, **variables: Any) -> list[dict[str, str]]:
        """Fill the template and return chat messages (system, when non-empty, then user).

        Args:
            reask: Append the template's `reask` reminder to the user message (a second attempt).
            **variables: Exactly the template's declared variables.

        Raises:
            PromptError: a declared variable is missing or an undeclared one is given; `reask` on a
                template without a `reask` reminder.
        """
        if reask and not self.reask:
            raise PromptError(f"prompt {self.id}@v{self.version} has no reask reminder", path=self.path or None,
                              field="reask", hint="add a `reask:` line in a new version of the prompt")
        missing = [v for v in self.variables if v not in variables]
        extra = sorted(set(variables) - set(self.variables))
        if missing or extra:
            what = "missing variable" if missing else "unexpected variable"
            name = (missing or extra)[0]
            raise PromptError(
                f"{what} {name!r} when rendering prompt {self.id}@v{self.version}",
                path=self.path or None,
                field=name,
                hint=f"declared variables: {', '.join(self.variables) or 'none'}",
            )
        values = {k: "" if v is None else str(v) for k, v in variables.items()}
        messages = []
        if self.system.strip():
            messages.append({"role": "system", "content": self.system.format(**values).strip()})
        user = self.user.format(**values).strip()
        messages.append({"role": "user", "content": f"{user}\n\n{self.reask.strip()}" if reask else user})
        return messages


def _placeholders(text: str, path: Path, key: str) -> set[str]:
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError as exc:  # e.g. a single '{' in the text
        raise PromptError(
            f"bad template syntax: {exc}", path=path, field=key, hint="write literal braces as {{ }}"
        ) from exc
    for name in names:
        if not name.isidentifier():
            raise PromptError(f"placeholder {{{name}}} is not a plain variable name", path=path, field=key)
    return names


def load_prompt_file(path: str | Path) -> PromptTemplate:
    """Load and check one prompt file.

    Args:
        path: A `.../<prompt_id>/v<N>.yaml` file.

    Returns:
        The template, with `path` and `sha` (sha256 of the file bytes) set.

    Raises:
        PromptError: unreadable YAML, unknown or missing key, id/version not matching the file's
            place, or declared variables differing from the placeholders used.
    """
    path = Path(path)
    doc, data = read_rule_data(path, error=PromptError)
    tpl = parse_rule_data(doc, PromptTemplate, path=str(path), error=PromptError,
                          inject={"path": str(path), "sha": hashlib.sha256(data).hexdigest()})
    match = _FILE_RE.match(path.name)
    if path.parent.name != tpl.id:
        raise PromptError(f"id {tpl.id!r} differs from its folder {path.parent.name!r}", path=path, field="id")
    if not match or int(match.group(1)) != tpl.version:
        raise PromptError(f"version {tpl.version} does not match the file name", path=path, field="version",
                          hint="a prompt file is named v<version>.yaml")
    used = _placeholders(tpl.system, path, "system") | _placeholders(tpl.user, path, "user")
    declared = set(tpl.variables)
    if used != declared:
        undeclared, unused = sorted(used - declared), sorted(declared - used)
        problem = (
            f"placeholder {{{undeclared[0]}}} is not declared"
            if undeclared
            else f"variable {unused[0]!r} is never used"
        )
        raise PromptError(problem, path=path, field="variables")
    return tpl


def default_prompts_dir() -> Path:
    """The prompts folder in use: `$RADPRM_PROMPTS_DIR` when set, else the packaged one."""
    env = os.environ.get(PROMPTS_DIR_ENV)
    if env:
        return Path(env)
    return Path(str(resources.files("radprm.prompts")))


class PromptRegistry:
    """All prompt templates of one folder, by id and version.

    Args:
        prompts_dir: Folder holding `<prompt_id>/v<N>.yaml`; None uses `default_prompts_dir()`.

    Raises:
        PromptError: the folder does not exist.
    """

    def __init__(self, prompts_dir: str | Path | None = None) -> None:
        self.root = Path(prompts_dir) if prompts_dir is not None else default_prompts_dir()
        if not self.root.is_dir():
            raise PromptError(
                "prompts folder not found", path=self.root, hint=f"check --prompts-dir or ${PROMPTS_DIR_ENV}"
            )
        self._cache: dict[tuple[str, int], PromptTemplate] = {}

    def versions(self, name: str) -> list[int]:
        """Available versions of prompt `name`, ascending."""
        folder = self.root / name
        found = (_FILE_RE.match(p.name) for p in folder.glob("v*.yaml")) if folder.is_dir() else ()
        return sorted(int(m.group(1)) for m in found if m)

    def names(self) -> list[str]:
        """Prompt ids that have at least one version."""
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and self.versions(p.name))

    def get(self, name: str, version: int | None = None) -> PromptTemplate:
        """Load prompt `name` at `version` (the latest when None).

        Raises:
            PromptError: no such prompt or version, or the file is malformed.
        """
        versions = self.versions(name)
        if not versions:
            raise PromptError(f"no prompt named {name!r}", path=self.root,
                              hint=f"available: {', '.join(self.names()) or 'none'}")
        version = versions[-1] if version is None else version
        if version not in versions:
            raise PromptError(f"prompt {name!r} has no version {version}", path=self.root / name,
                              hint=f"available: {', '.join(f'v{v}' for v in versions)}")
        key = (name, version)
        if key not in self._cache:
            self._cache[key] = load_prompt_file(self.root / name / f"v{version}.yaml")
        return self._cache[key]

    def for_style(self, name: str, style: str) -> PromptTemplate:
        """The latest version of prompt `name` written for chain style `style` (a file without `style:`
        is a report-style prompt).

        Raises:
            PromptError: no version of the prompt has that style.
        """
        for version in reversed(self.versions(name)):
            tpl = self.get(name, version)
            if (tpl.style or "report") == style:
                return tpl
        raise PromptError(f"prompt {name!r} has no version for style {style!r}", path=self.root / name,
                          field="style", hint="add a version with `style: " + style + "` or use another --style")

    def latest(self) -> list[PromptTemplate]:
        """The latest version of every prompt, sorted by id."""
        return [self.get(name) for name in self.names()]

    def all(self) -> list[PromptTemplate]:
        """Every version of every prompt, sorted by id then version."""
        return [self.get(name, v) for name in self.names() for v in self.versions(name)]


def parse_spec(spec: str) -> tuple[str, int | None]:
    """Split `NAME` or `NAME@vN` (or `NAME@N`) into name and version.

    Raises:
        PromptError: the version part is not a number.
    """
    name, _, ver = spec.partition("@")
    if not ver:
        return name, None
    digits = ver[1:] if ver[:1] in ("v", "V") else ver
    if not digits.isdigit():
        raise PromptError(f"bad prompt spec {spec!r}", field="name", hint="use NAME or NAME@vN, e.g. plan@v1")
    return name, int(digits)


def load_prompt(spec: str, prompts_dir: str | Path | None = None) -> PromptTemplate:
    """Load a prompt by `NAME` or `NAME@vN` from `prompts_dir` (default: the packaged prompts).

    Raises:
        PromptError: unknown prompt or version, or a malformed file.
    """
    name, version = parse_spec(spec)
    return PromptRegistry(prompts_dir).get(name, version)


def list_prompts(prompts_dir: str | Path | None = None, *, all_versions: bool = False) -> list[PromptTemplate]:
    """The prompts of a folder: the latest version of each, or every version.

    Raises:
        PromptError: the folder is missing or a file is malformed.
    """
    registry = PromptRegistry(prompts_dir)
    return registry.all() if all_versions else registry.latest()

"""Load and validate the findings rule files (lexicon, ConText, sections, modifiers, label sets).

Rule files are data (JSON or YAML) with a top-level `version`, a `source` and one list or mapping of
rules, in medspaCy's shape. Each file is read and checked through `radprm.rules` against its pydantic
model (`RULE_MODELS`): an unknown key, a missing field or a bad value raises `RuleFileError` naming the
file, the field path (`target_rules.3.patern`) and, for an unknown key, the keys allowed there. The
checks no model can make (a category that no observation defines, a phrase claimed by two categories,
names across files) follow, naming the rule as `target_rules[3]`. The bytes of every file go into one
sha256, so `RuleSet.rules_version` changes whenever any rule changes.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator

from radprm.errors import RuleFileError
from radprm.rules import RuleModel, parse_rule_data, read_rule_data

SECTION_CATEGORIES = ("findings", "impression", "indication", "comparison", "history", "other")
CONTEXT_CATEGORIES = (
    "NEGATED_EXISTENCE",
    "POSSIBLE_EXISTENCE",
    "HISTORICAL",
    "HYPOTHETICAL",
    "FAMILY",
    "TERMINATE",
    "PSEUDO",
    "CLAUSE",
    "NORMAL",
    "ENLARGED",
    "BORDERLINE",
    "UPPER_NORMAL",
    "ALTERNATIVE",
)
DIRECTIONS = ("FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO")

# File name of each rule kind inside a rules directory, in hashing order.
RULE_FILES = {
    "lexicon": "lexicon.json",
    "context": "context_rules.json",
    "sections": "sections.json",
    "modifiers": "modifiers.json",
    "labelsets": "labelsets.json",
}

NonEmpty = Annotated[str, Field(min_length=1)]
# A declared version: a non-empty string (a YAML file may write a bare number).
Version = NonEmpty | int | float
PositiveInt = Annotated[int, Field(strict=True, ge=1)]


class _Rule(RuleModel):
    """A medspaCy-style rule: a literal phrase, its category and an optional regex or token pattern."""

    literal: NonEmpty
    category: NonEmpty
    pattern: Any = None

    @field_validator("pattern")
    @classmethod
    def _pattern_shape(cls, value: Any) -> Any:
        if value is None or isinstance(value, str):
            return value
        if not isinstance(value, list) or not value or not all(isinstance(tok, dict) for tok in value):
            raise ValueError("pattern must be a regex string or a non-empty list of token dicts")
        return value


class TargetRuleSpec(_Rule):
    """A lexicon rule: a phrase naming an observation or an organ statement."""

    metadata: dict[str, Any] | None = None


class StatementSpec(RuleModel):
    """An organ-level statement of the lexicon (see `Statement`)."""

    description: str = ""
    normal_implies: list[str] = []
    abnormal_implies: list[str] = []
    negation_means_normal: bool = False


class LexiconFile(RuleModel):
    """`lexicon.json`: observations, organ statements and the target rules naming them."""

    version: Version
    source: str | None = None
    observations: dict[str, str] | None = None
    statements: dict[str, StatementSpec] | None = None
    target_rules: list[TargetRuleSpec]


class ContextRuleSpec(_Rule):
    """A ConText modifier rule (negation, hedging, history, ...)."""

    direction: str = "BIDIRECTIONAL"
    allowed_types: list[str] | None = None
    excluded_types: list[str] | None = None
    max_scope: PositiveInt | None = None
    max_targets: PositiveInt | None = None
    terminated_by: list[str] | None = None
    metadata: dict[str, Any] | None = None


class ContextFile(RuleModel):
    """`context_rules.json`."""

    version: Version
    source: str | None = None
    context_rules: list[ContextRuleSpec]


class SectionRuleSpec(_Rule):
    """A section header rule."""


class SectionsFile(RuleModel):
    """`sections.json` (shared with `radprm.readers.sections`)."""

    version: Version
    source: str | None = None
    section_rules: list[SectionRuleSpec]


class LocationSpec(RuleModel):
    """The words a location is built from: sides, qualifiers and head nouns."""

    sides: list[str] | None = None
    qualifiers: list[str] | None = None
    heads: list[str]


class ModifiersFile(RuleModel):
    """`modifiers.json`: laterality, severity and location vocabularies."""

    version: Version
    source: str | None = None
    laterality: dict[str, list[str]]
    severity: dict[str, list[str]]
    location: LocationSpec


class NoFinding(RuleModel):
    """How a label set derives its 'No Finding' label."""

    label: NonEmpty
    ignore_labels: list[str] = []
    other_abnormalities: list[str] = []


class LabelSet(RuleModel):
    """One label set: label name -> the observations it pools."""

    description: str | None = None
    labels: dict[str, list[str]]
    no_finding: NoFinding | None = None


class LabelsetsFile(RuleModel):
    """`labelsets.json`."""

    version: Version
    source: str | None = None
    labelsets: dict[str, LabelSet]


# The model of each rule kind.
RULE_MODELS: dict[str, type[RuleModel]] = {
    "lexicon": LexiconFile,
    "context": ContextFile,
    "sections": SectionsFile,
    "modifiers": ModifiersFile,
    "labelsets": LabelsetsFile,
}


@dataclass(frozen=True)
class RuleFile:
    """One loaded rule file: where it came from, its declared version, its sha256 and parsed data."""

    path: str
    version: str
    sha256: str
    data: dict[str, Any]


@dataclass(frozen=True)
class Statement:
    """An organ-level statement ('the heart', 'the lungs') and what its normal / abnormal forms imply."""

    name: str
    description: str
    normal_implies: tuple[str, ...]
    abnormal_implies: tuple[str, ...]
    negation_means_normal: bool = False


@dataclass(frozen=True)
class RuleSet:
    """Every rule file the extractor is built from, validated and cross-checked."""

    files: dict[str, RuleFile]
    observations: dict[str, str]
    statements: dict[str, Statement]
    target_rules: list[dict[str, Any]]
    context_rules: list[dict[str, Any]]
    section_rules: list[dict[str, Any]]
    modifiers: dict[str, Any]
    labelsets: dict[str, dict[str, Any]]
    sha256: str = field(default="")

    @property
    def version(self) -> str:
        """The lexicon's declared version (the other files' versions are listed in `versions`)."""
        return self.files["lexicon"].version

    @property
    def versions(self) -> dict[str, str]:
        """Declared version of each rule file, by kind."""
        return {kind: f.version for kind, f in self.files.items()}

    @property
    def rules_version(self) -> str:
        """`findings-<lexicon version>+<sha256 prefix>`: recorded on every output row."""
        return f"findings-{self.version}+{self.sha256[:12]}"


_MAX_PHRASES = 5000


def expand_pattern(pattern: Any, limit: int = _MAX_PHRASES) -> list[str] | None:
    """Spell a simple token pattern out as the lower-case phrases it matches; None when not simple.

    A pattern is simple when each token only tests `LOWER` (a string or an `IN` list), optionally
    with `"OP": "?"`, and it matches at most `limit` phrases.
    """
    if not isinstance(pattern, list):
        return None
    options: list[list[str | None]] = []
    total = 1
    for tok in pattern:
        if not isinstance(tok, dict) or set(tok) - {"OP"} != {"LOWER"} or tok.get("OP") not in (None, "?"):
            return None
        value = tok["LOWER"]
        if isinstance(value, str):
            values: list[str | None] = [value.lower()]
        elif isinstance(value, dict) and set(value) == {"IN"}:
            values = [str(v).lower() for v in value["IN"]]
        else:
            return None
        if tok.get("OP") == "?":
            values.append(None)
        options.append(values)
        total *= len(values)
        if total > limit:
            return None
    phrases = {" ".join(w for w in combo if w) for combo in itertools.product(*options)}
    phrases.discard("")
    return sorted(phrases)


def _check_ambiguous(path: str, rules: list[dict[str, Any]], kind: str) -> None:
    """Reject a phrase that two rules of different categories both match: which one wins is arbitrary."""
    owner: dict[str, tuple[int, str]] = {}
    for i, rule in enumerate(rules):
        pattern = rule.get("pattern")
        phrases = [rule["literal"].lower()] if pattern is None else (expand_pattern(pattern) or [])
        for phrase in phrases:
            prev = owner.setdefault(phrase, (i, rule["category"]))
            if prev[1] != rule["category"]:
                raise _fail(
                    path,
                    f"'{phrase}' is matched by {kind}[{prev[0]}] ({prev[1]}) and {kind}[{i}] ({rule['category']})",
                    field=f"{kind}[{i}]",
                    hint="remove the phrase from one of the two rules",
                )


def _fail(path: str, message: str, *, field: str | None = None, hint: str | None = None) -> RuleFileError:
    return RuleFileError(message, path=path, field=field, hint=hint)


# The checks below see documents already validated by the models of RULE_MODELS (keys, types,
# required fields, pattern shapes); they check what the models cannot: names across rules and files.


def _validate_lexicon(
    path: str, doc: dict[str, Any]
) -> tuple[dict[str, str], dict[str, Statement], list[dict[str, Any]]]:
    observations = doc.get("observations") or {}
    statements: dict[str, Statement] = {}
    for name, spec in (doc.get("statements") or {}).items():
        where = f"statements.{name}"
        for key in ("normal_implies", "abnormal_implies"):
            for obs in spec.get(key, []):
                if obs not in observations:
                    raise _fail(path, f"unknown observation '{obs}' in {where}.{key}", field=f"{where}.{key}")
        statements[name] = Statement(
            name=name,
            description=spec.get("description", ""),
            normal_implies=tuple(spec.get("normal_implies", [])),
            abnormal_implies=tuple(spec.get("abnormal_implies", [])),
            negation_means_normal=bool(spec.get("negation_means_normal", False)),
        )
    overlap = set(observations) & set(statements)
    if overlap:
        raise _fail(path, f"names used both as observation and statement: {sorted(overlap)}", field="statements")
    rules = doc["target_rules"]
    for i, rule in enumerate(rules):
        where = f"target_rules[{i}]"
        if rule["category"] not in observations and rule["category"] not in statements:
            raise _fail(
                path,
                f"unknown category '{rule['category']}' in {where}",
                field=f"{where}.category",
                hint="declare it under 'observations' or 'statements'",
            )
    _check_ambiguous(path, rules, "target_rules")
    return dict(observations), statements, list(rules)


def _validate_context(path: str, doc: dict[str, Any], type_names: set[str]) -> list[dict[str, Any]]:
    rules = doc["context_rules"]
    for i, rule in enumerate(rules):
        where = f"context_rules[{i}]"
        if rule["category"] not in CONTEXT_CATEGORIES:
            raise _fail(
                path,
                f"unknown category '{rule['category']}' in {where}",
                field=f"{where}.category",
                hint="allowed: " + ", ".join(CONTEXT_CATEGORIES),
            )
        if rule.get("direction", "BIDIRECTIONAL") not in DIRECTIONS:
            raise _fail(
                path,
                f"unknown direction '{rule['direction']}' in {where}",
                field=f"{where}.direction",
                hint="allowed: " + ", ".join(DIRECTIONS),
            )
        for key in ("allowed_types", "excluded_types"):
            for name in rule.get(key) or []:
                if name not in type_names:
                    raise _fail(path, f"unknown target type '{name}' in {where}.{key}", field=f"{where}.{key}")
    _check_ambiguous(path, rules, "context_rules")
    return list(rules)


def _validate_sections(path: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    rules = doc["section_rules"]
    for i, rule in enumerate(rules):
        where = f"section_rules[{i}]"
        if rule["category"] not in SECTION_CATEGORIES:
            raise _fail(
                path,
                f"unknown section '{rule['category']}' in {where}",
                field=f"{where}.category",
                hint="allowed: " + ", ".join(SECTION_CATEGORIES),
            )
    return list(rules)


def _validate_modifiers(path: str, doc: dict[str, Any]) -> dict[str, Any]:
    if key_bad := set(doc["laterality"]) - {"left", "right", "bilateral"}:
        raise _fail(
            path, f"unknown laterality {sorted(key_bad)}", field="laterality", hint="allowed: left, right, bilateral"
        )
    return {k: doc[k] for k in ("laterality", "severity", "location")}


def _validate_labelsets(path: str, doc: dict[str, Any], observations: dict[str, str]) -> dict[str, dict[str, Any]]:
    sets = doc["labelsets"]
    if not sets:
        raise _fail(path, "'labelsets' must map names to label sets", field="labelsets")
    for name, spec in sets.items():
        where = f"labelsets.{name}"
        for label, obs_list in spec["labels"].items():
            for obs in obs_list:
                if obs not in observations:
                    raise _fail(
                        path, f"unknown observation '{obs}' for label '{label}'", field=f"{where}.labels.{label}"
                    )
        nf = spec.get("no_finding")
        if nf is not None:
            for obs in nf.get("other_abnormalities", []):
                if obs not in observations:
                    raise _fail(path, f"unknown observation '{obs}'", field=f"{where}.no_finding.other_abnormalities")
    return sets


def _default_rules_dir() -> resources.abc.Traversable:
    return resources.files("radprm.validators.findings") / "rules"


def _load(kind: str, source: str | Path | None) -> tuple[str, dict[str, Any], bytes]:
    """Read one rule file and validate it against its model (through `radprm.rules`).

    Returns:
        The name errors use, the parsed document (the rules are kept as written) and the file's bytes.
    """
    if source is None:
        name = f"radprm/validators/findings/rules/{RULE_FILES[kind]}"
        doc, raw = read_rule_data(_default_rules_dir() / RULE_FILES[kind])
    else:
        name = str(source)
        suffix = Path(name).suffix.lower()
        if suffix not in (".json", ".yaml", ".yml"):
            raise _fail(name, f"unknown rule file type '{suffix}'", hint="use .json, .yaml or .yml")
        doc, raw = read_rule_data(Path(source))
    parse_rule_data(doc, RULE_MODELS[kind], path=name)
    return name, doc, raw


def load_findings_rules(
    rules_dir: str | Path | None = None,
    *,
    lexicon: str | Path | None = None,
    context: str | Path | None = None,
    sections: str | Path | None = None,
    modifiers: str | Path | None = None,
    labelsets: str | Path | None = None,
) -> RuleSet:
    """Load, validate and cross-check every rule file the findings extractor needs.

    Args:
        rules_dir: a folder holding replacements for the packaged files (same file names); files
            absent from it fall back to the packaged ones.
        lexicon: path of a lexicon file (target rules); overrides `rules_dir`.
        context: path of a ConText rule file.
        sections: path of a section rule file.
        modifiers: path of a laterality/severity/location vocabulary file.
        labelsets: path of a label set mapping file.

    Returns:
        A RuleSet with per-file versions and one sha256 over all files.

    Raises:
        RuleFileError: naming the file, the rule index and the key of the first problem.
    """
    overrides = {
        "lexicon": lexicon,
        "context": context,
        "sections": sections,
        "modifiers": modifiers,
        "labelsets": labelsets,
    }
    files: dict[str, RuleFile] = {}
    digest = hashlib.sha256()
    for kind, fname in RULE_FILES.items():
        source = overrides[kind]
        if source is None and rules_dir is not None and (Path(rules_dir) / fname).exists():
            source = Path(rules_dir) / fname
        name, doc, raw = _load(kind, source)
        version = str(doc["version"])
        sha = hashlib.sha256(raw).hexdigest()
        digest.update(f"{kind}:{sha}\n".encode())
        files[kind] = RuleFile(path=name, version=version, sha256=sha, data=doc)

    observations, statements, target_rules = _validate_lexicon(files["lexicon"].path, files["lexicon"].data)
    context_rules = _validate_context(files["context"].path, files["context"].data, set(statements) | set(observations))
    section_rules = _validate_sections(files["sections"].path, files["sections"].data)
    mods = _validate_modifiers(files["modifiers"].path, files["modifiers"].data)
    sets = _validate_labelsets(files["labelsets"].path, files["labelsets"].data, observations)
    return RuleSet(
        files=files,
        observations=observations,
        statements=statements,
        target_rules=target_rules,
        context_rules=context_rules,
        section_rules=section_rules,
        modifiers=mods,
        labelsets=sets,
        sha256=digest.hexdigest(),
    )


#: The former name of `load_findings_rules` (docs/findings.md and `radprm.validators.findings` export it).
load_rules = load_findings_rules

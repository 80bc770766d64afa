"""Load and validate the findings rule files (lexicon, ConText, sections, modifiers, label sets).

Rule files are data (JSON or YAML) with a top-level `version`, a `source` and one list or mapping of
rules, in medspaCy's shape. Loading is strict: an unknown key, a missing field or a category that no
observation defines raises `RuleFileError` naming the file, the rule index and the key. The bytes of
every file go into one sha256, so `RuleSet.rules_version` changes whenever any rule changes.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from radprm.errors import RuleFileError

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

_TARGET_KEYS = {"literal", "category", "pattern", "metadata"}
_CONTEXT_KEYS = {
    "literal",
    "category",
    "pattern",
    "direction",
    "allowed_types",
    "excluded_types",
    "max_scope",
    "max_targets",
    "terminated_by",
    "metadata",
}
_SECTION_KEYS = {"literal", "category", "pattern"}
_STATEMENT_KEYS = {"description", "normal_implies", "abnormal_implies", "negation_means_normal"}


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


def read_rule_file(path: str | Path, *, data: bytes | None = None) -> tuple[dict[str, Any], bytes]:
    """Parse one JSON or YAML rule file into a mapping.

    Args:
        path: file path; its suffix picks the parser (.json, .yaml, .yml).
        data: the file's bytes when already read (e.g. from package resources).

    Returns:
        The parsed top-level mapping and the raw bytes (for hashing).

    Raises:
        RuleFileError: unreadable file, syntax error, or a top level that is not a mapping.
    """
    name = str(path)
    if data is None:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise _fail(name, f"cannot read rule file: {exc.strerror or exc}") from None
    suffix = Path(name).suffix.lower()
    try:
        if suffix == ".json":
            parsed = json.loads(data.decode("utf-8"))
        elif suffix in (".yaml", ".yml"):
            parsed = yaml.safe_load(data.decode("utf-8"))
        else:
            raise _fail(name, f"unknown rule file type '{suffix}'", hint="use .json, .yaml or .yml")
    except json.JSONDecodeError as exc:
        raise _fail(name, f"invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except yaml.YAMLError as exc:
        raise _fail(name, f"invalid YAML: {exc}") from None
    if not isinstance(parsed, dict):
        raise _fail(name, "top level must be a mapping with 'version' and the rules")
    return parsed, data


def _check_keys(path: str, obj: Any, allowed: set[str], where: str, required: tuple[str, ...] = ()) -> None:
    if not isinstance(obj, dict):
        raise _fail(path, f"{where} must be a mapping, got {type(obj).__name__}", field=where)
    for key in obj:
        if key not in allowed:
            raise _fail(
                path,
                f"unknown key '{key}' in {where}",
                field=f"{where}.{key}",
                hint="allowed: " + ", ".join(sorted(allowed)),
            )
    for key in required:
        if obj.get(key) in (None, ""):
            raise _fail(path, f"missing required key '{key}' in {where}", field=f"{where}.{key}")


def _check_header(path: str, doc: dict[str, Any], body_key: str) -> str:
    _check_keys(
        path,
        doc,
        {"version", "source", body_key} | ({"observations", "statements"} if body_key == "target_rules" else set()),
        "top level",
    )
    version = doc.get("version")
    if version in (None, ""):
        raise _fail(path, "missing 'version'", field="version", hint="every rule file declares a version")
    if body_key not in doc:
        raise _fail(path, f"missing '{body_key}'", field=body_key)
    return str(version)


def _check_pattern(path: str, rule: dict[str, Any], where: str) -> None:
    pattern = rule.get("pattern")
    if pattern is None or isinstance(pattern, str):
        return
    if not isinstance(pattern, list) or not pattern or not all(isinstance(tok, dict) for tok in pattern):
        raise _fail(
            path, f"{where}.pattern must be a regex string or a non-empty list of token dicts", field=f"{where}.pattern"
        )


def _validate_lexicon(
    path: str, doc: dict[str, Any]
) -> tuple[dict[str, str], dict[str, Statement], list[dict[str, Any]]]:
    observations = doc.get("observations") or {}
    if not isinstance(observations, dict) or not all(isinstance(v, str) for v in observations.values()):
        raise _fail(path, "'observations' must map concept ids to descriptions", field="observations")
    statements: dict[str, Statement] = {}
    for name, spec in (doc.get("statements") or {}).items():
        where = f"statements.{name}"
        _check_keys(path, spec, _STATEMENT_KEYS, where)
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
    if not isinstance(rules, list):
        raise _fail(path, "'target_rules' must be a list", field="target_rules")
    for i, rule in enumerate(rules):
        where = f"target_rules[{i}]"
        _check_keys(path, rule, _TARGET_KEYS, where, required=("literal", "category"))
        if rule["category"] not in observations and rule["category"] not in statements:
            raise _fail(
                path,
                f"unknown category '{rule['category']}' in {where}",
                field=f"{where}.category",
                hint="declare it under 'observations' or 'statements'",
            )
        _check_pattern(path, rule, where)
    _check_ambiguous(path, rules, "target_rules")
    return dict(observations), statements, list(rules)


def _validate_context(path: str, doc: dict[str, Any], type_names: set[str]) -> list[dict[str, Any]]:
    rules = doc["context_rules"]
    if not isinstance(rules, list):
        raise _fail(path, "'context_rules' must be a list", field="context_rules")
    for i, rule in enumerate(rules):
        where = f"context_rules[{i}]"
        _check_keys(path, rule, _CONTEXT_KEYS, where, required=("literal", "category"))
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
        for key in ("max_scope", "max_targets"):
            value = rule.get(key)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise _fail(path, f"{where}.{key} must be a positive integer", field=f"{where}.{key}")
        _check_pattern(path, rule, where)
    _check_ambiguous(path, rules, "context_rules")
    return list(rules)


def _validate_sections(path: str, doc: dict[str, Any]) -> list[dict[str, Any]]:
    rules = doc["section_rules"]
    if not isinstance(rules, list):
        raise _fail(path, "'section_rules' must be a list", field="section_rules")
    for i, rule in enumerate(rules):
        where = f"section_rules[{i}]"
        _check_keys(path, rule, _SECTION_KEYS, where, required=("literal", "category"))
        if rule["category"] not in SECTION_CATEGORIES:
            raise _fail(
                path,
                f"unknown section '{rule['category']}' in {where}",
                field=f"{where}.category",
                hint="allowed: " + ", ".join(SECTION_CATEGORIES),
            )
        _check_pattern(path, rule, where)
    return list(rules)


def _validate_modifiers(path: str, doc: dict[str, Any]) -> dict[str, Any]:
    _check_keys(path, doc, {"version", "source", "laterality", "severity", "location"}, "top level")
    for key in ("laterality", "severity"):
        table = doc.get(key)
        if not isinstance(table, dict) or not all(isinstance(v, list) for v in table.values()):
            raise _fail(path, f"'{key}' must map a value to a list of words", field=key)
    if key_bad := set(doc["laterality"]) - {"left", "right", "bilateral"}:
        raise _fail(
            path, f"unknown laterality {sorted(key_bad)}", field="laterality", hint="allowed: left, right, bilateral"
        )
    _check_keys(path, doc.get("location"), {"sides", "qualifiers", "heads"}, "location", required=("heads",))
    return {k: doc[k] for k in ("laterality", "severity", "location")}


def _validate_labelsets(path: str, doc: dict[str, Any], observations: dict[str, str]) -> dict[str, dict[str, Any]]:
    sets = doc["labelsets"]
    if not isinstance(sets, dict) or not sets:
        raise _fail(path, "'labelsets' must map names to label sets", field="labelsets")
    for name, spec in sets.items():
        where = f"labelsets.{name}"
        _check_keys(path, spec, {"description", "labels", "no_finding"}, where, required=("labels",))
        for label, obs_list in spec["labels"].items():
            for obs in obs_list:
                if obs not in observations:
                    raise _fail(
                        path, f"unknown observation '{obs}' for label '{label}'", field=f"{where}.labels.{label}"
                    )
        nf = spec.get("no_finding")
        if nf is not None:
            _check_keys(
                path, nf, {"label", "ignore_labels", "other_abnormalities"}, f"{where}.no_finding", required=("label",)
            )
            for obs in nf.get("other_abnormalities", []):
                if obs not in observations:
                    raise _fail(path, f"unknown observation '{obs}'", field=f"{where}.no_finding.other_abnormalities")
    return sets


def _default_rules_dir() -> resources.abc.Traversable:
    return resources.files("radprm.validators.findings") / "rules"


def _load(kind: str, source: str | Path | None) -> tuple[str, dict[str, Any], bytes]:
    if source is None:
        res = _default_rules_dir() / RULE_FILES[kind]
        name = f"radprm/validators/findings/rules/{RULE_FILES[kind]}"
        doc, raw = read_rule_file(name, data=res.read_bytes())
    else:
        name = str(source)
        doc, raw = read_rule_file(source)
    return name, doc, raw


def load_rules(
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
        body = {
            "lexicon": "target_rules",
            "context": "context_rules",
            "sections": "section_rules",
            "labelsets": "labelsets",
        }.get(kind)
        if body is not None:
            version = _check_header(name, doc, body)
        else:
            version = str(doc.get("version") or "")
            if not version:
                raise _fail(name, "missing 'version'", field="version")
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

"""Rule files: packaged rules load, versions/hashes, and malformed files fail naming file, rule index and key."""

from __future__ import annotations

import re
import shutil
from importlib import resources

import pytest

from radprm.errors import RuleFileError
from radprm.validators.findings import FindingsExtractor, load_findings_rules
from radprm.validators.findings.lexicon import RULE_FILES


def _rules_dir():
    return resources.files("radprm.validators.findings") / "rules"


def test_packaged_rules_load_with_versions_and_sha():
    rules = load_findings_rules()
    assert set(rules.versions) == set(RULE_FILES)
    assert all(rules.versions.values())
    assert re.fullmatch(r"findings-[\w.]+\+[0-9a-f]{12}", rules.rules_version)
    assert len(rules.sha256) == 64
    # the observations the issue names are all there
    for obs in (
        "atelectasis",
        "cardiomegaly",
        "pleural_effusion",
        "infiltrate",
        "mass",
        "nodule",
        "emphysema",
        "fibrosis",
        "pleural_thickening",
        "hiatal_hernia",
        "granuloma",
        "hyperinflation",
    ):
        assert obs in rules.observations


def test_packaged_rules_keep_the_chexpert_licence_notice():
    notice = (_rules_dir() / "LICENSE-chexpert").read_text()
    assert "MIT License" in notice and "Stanford" in notice
    assert "LICENSE-chexpert" in load_findings_rules().files["lexicon"].data["source"]


def test_rules_version_changes_when_any_rule_file_changes(tmp_path):
    base = load_findings_rules()
    for name in RULE_FILES.values():
        shutil.copy(str(_rules_dir() / name), tmp_path / name)
    assert load_findings_rules(tmp_path).rules_version == base.rules_version  # same bytes, same version
    path = tmp_path / "context_rules.json"
    path.write_text(path.read_text().replace('"literal": "not only"', '"literal": "not just"'))
    changed = load_findings_rules(tmp_path)
    assert changed.rules_version != base.rules_version
    assert changed.files["context"].sha256 != base.files["context"].sha256
    assert changed.files["lexicon"].sha256 == base.files["lexicon"].sha256


def test_unknown_key_names_file_rule_index_and_key(fixtures):
    path = fixtures / "lexicon_unknown_key.json"
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(lexicon=path)
    exc = err.value
    assert exc.path == str(path)
    assert exc.field == "target_rules.1.patern"
    assert "field 'target_rules.1.patern': unknown key 'patern'" in str(exc)
    assert "allowed keys: literal, category, pattern, metadata" in str(exc)


def test_unknown_category_names_rule(fixtures):
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(lexicon=fixtures / "lexicon_unknown_category.json")
    assert err.value.field == "target_rules[1].category"
    assert "pneumothorax" in str(err.value)


def test_bad_context_direction_names_rule(fixtures):
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(context=fixtures / "context_bad_direction.json")
    assert err.value.field == "context_rules[0].direction"
    assert "FORWARDS" in str(err.value)


def test_invalid_json_gives_line_and_column(fixtures):
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(lexicon=fixtures / "lexicon_bad_json.json")
    assert "lexicon_bad_json.json" in str(err.value)
    assert re.search(r"line \d+ column \d+", str(err.value))


def test_missing_version_is_rejected(tmp_path):
    path = tmp_path / "lexicon.json"
    path.write_text('{"observations": {"x": "x"}, "target_rules": [{"literal": "x", "category": "x"}]}')
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(lexicon=path)
    assert err.value.field == "version"


def test_rule_files_are_cross_checked(fixtures):
    # the tiny YAML lexicon lacks the organ statements the packaged ConText rules point at
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(lexicon=fixtures / "lexicon_min.yaml")
    assert "context_rules.json" in str(err.value)
    assert re.search(r"unknown target type '\w+' in context_rules\[\d+\]\.allowed_types", str(err.value))


def test_yaml_lexicon_loads_and_extracts(fixtures, tmp_path):
    labelsets = tmp_path / "labelsets.json"
    labelsets.write_text('{"version": "t", "labelsets": {"tiny": {"labels": {"Effusion": ["pleural_effusion"]}}}}')
    context = tmp_path / "context_rules.json"
    context.write_text(
        '{"version": "t", "context_rules": [{"literal": "no", "category": "NEGATED_EXISTENCE", "direction": "FORWARD"}]}'  # noqa: E501
    )
    rules = load_findings_rules(lexicon=fixtures / "lexicon_min.yaml", labelsets=labelsets, context=context)
    assert rules.version == "0.0.2"
    found = FindingsExtractor(rules).extract_text("No effusion.")
    assert [(f.observation, f.assertion) for f in found] == [("pleural_effusion", "negative")]


def test_same_phrase_in_two_categories_is_rejected(tmp_path):
    path = tmp_path / "lexicon.json"
    path.write_text(
        '{"version": "t", "observations": {"a": "a", "b": "b"}, "target_rules": ['
        '{"literal": "x", "category": "a", "pattern": [{"LOWER": {"IN": ["large", "big"]}}, {"LOWER": "mass"}]},'
        '{"literal": "big mass", "category": "b"}]}'
    )
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(lexicon=path)
    assert "'big mass' is matched by target_rules[0] (a) and target_rules[1] (b)" in str(err.value)
    assert err.value.field == "target_rules[1]"


def test_expand_pattern_spells_out_simple_patterns():
    from radprm.validators.findings.lexicon import expand_pattern

    pattern = [{"LOWER": "pleural", "OP": "?"}, {"LOWER": {"IN": ["Effusion", "effusions"]}}]
    assert expand_pattern(pattern) == ["effusion", "effusions", "pleural effusion", "pleural effusions"]
    assert expand_pattern([{"LOWER": {"REGEX": "^x"}}]) is None
    assert expand_pattern([{"LOWER": "a", "OP": "*"}]) is None


def _misspell(doc, keys, new_key):
    """Rename the last key of the path `keys` in `doc` to `new_key`."""
    node = doc
    for k in keys[:-1]:
        node = node[k]
    node[new_key] = node.pop(keys[-1])


@pytest.mark.parametrize(
    ("kind", "keys", "typo", "field", "allowed"),
    [
        ("lexicon", ["statements", "heart", "description"], "descripton", "statements.heart.descripton",
         "description, normal_implies, abnormal_implies, negation_means_normal"),
        ("lexicon", ["observations"], "observation", "observation",
         "version, source, observations, statements, target_rules"),
        ("context", ["context_rules", 0, "direction"], "directon", "context_rules.0.directon",
         "literal, category, pattern, direction, allowed_types, excluded_types, max_scope, max_targets, "
         "terminated_by, metadata"),
        ("sections", ["section_rules", 2, "category"], "categroy", "section_rules.2.categroy",
         "literal, category, pattern"),
        ("modifiers", ["location", "heads"], "head", "location.head", "sides, qualifiers, heads"),
        ("labelsets", ["labelsets", "chexpert", "no_finding", "label"], "labl", "labelsets.chexpert.no_finding.labl",
         "label, ignore_labels, other_abnormalities"),
    ],
)
def test_misspelled_key_names_file_field_path_and_allowed_keys(tmp_path, kind, keys, typo, field, allowed):
    import json

    doc = json.loads((_rules_dir() / RULE_FILES[kind]).read_text())
    _misspell(doc, keys, typo)
    path = tmp_path / RULE_FILES[kind]
    path.write_text(json.dumps(doc))
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(**{kind: path})
    assert err.value.path == str(path)
    assert err.value.field == field
    assert f"{path}, field '{field}': unknown key '{typo}' (allowed keys: {allowed})" == str(err.value)


def test_bad_value_names_field_path(tmp_path):
    import json

    doc = json.loads((_rules_dir() / "context_rules.json").read_text())
    doc["context_rules"][3]["max_scope"] = 0
    doc["context_rules"][4]["pattern"] = []
    path = tmp_path / "context_rules.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(context=path)
    assert err.value.field == "context_rules.3.max_scope"
    assert "greater than or equal to 1" in str(err.value)
    doc["context_rules"][3]["max_scope"] = 2
    path.write_text(json.dumps(doc))
    with pytest.raises(RuleFileError) as err:
        load_findings_rules(context=path)
    assert err.value.field == "context_rules.4.pattern"
    assert "non-empty list of token dicts" in str(err.value)


def test_old_name_load_rules_is_the_same_function():
    from radprm.validators.findings import load_rules

    assert load_rules is load_findings_rules

"""Alignment rules of the step validator, on claims built by hand (no extractor needed)."""

import dataclasses
import json

import pytest

from radprm.errors import RuleFileError
from radprm.schemas.records import Finding
from radprm.validators.align import (
    Claim,
    claim_from_finding,
    infer_severity,
    judge_claim,
    load_step_rules,
    location_compatible,
    normal_statement_claims,
    parse_rules,
    severity_compatible,
)


def rc(obs, assertion="positive", **kw):
    return Claim(obs, assertion, sentence=kw.pop("sentence", f"{obs} sentence."), **kw)


def test_negated_report_finding_contradicts_positive_step():
    j = judge_claim(rc("pneumothorax"), [rc("pneumothorax", "negative", sentence="There is no pneumothorax.")])
    assert (j.verdict, j.reasons) == ("contradicted", ["negation_conflict"])
    assert j.evidence[0].sentence == "There is no pneumothorax."


def test_positive_report_finding_contradicts_negative_step():
    j = judge_claim(rc("cardiomegaly", "negative"), [rc("cardiomegaly", severity="borderline")])
    assert j.reasons == ["negation_conflict"]


def test_unmentioned_finding_negated_is_supported_by_omission():
    j = judge_claim(rc("pneumothorax", "negative"), [rc("cardiomegaly")])
    assert j.verdict == "supported" and j.reasons == ["unmentioned_assumed_normal"] and not j.evidence


def test_unmentioned_finding_asserted_is_not_in_report():
    j = judge_claim(rc("fracture"), [rc("cardiomegaly")])
    assert (j.verdict, j.reasons) == ("unsupported", ["finding_not_in_report"])


def test_laterality_swap_is_a_conflict_but_bilateral_covers_each_side():
    report = [rc("pleural_effusion", laterality="right", severity="small")]
    assert judge_claim(rc("pleural_effusion", laterality="left"), report).reasons == ["laterality_conflict"]
    assert judge_claim(rc("pleural_effusion", laterality="right"), report).verdict == "supported"
    bilateral = [rc("pleural_effusion", laterality="bilateral")]
    assert judge_claim(rc("pleural_effusion", laterality="left"), bilateral).verdict == "supported"
    assert judge_claim(rc("pleural_effusion", laterality="bilateral"), report).reasons == ["laterality_conflict"]


def test_severity_scale_groups_and_conflicts():
    assert severity_compatible("mild", "small")
    assert severity_compatible("mild to moderate", "moderate")
    assert not severity_compatible("small", "large")
    j = judge_claim(rc("cardiomegaly", severity="severe"), [rc("cardiomegaly", severity="mild")])
    assert j.reasons == ["severity_conflict"] and j.verdict == "contradicted"


def test_severity_added_to_an_ungraded_finding_is_unsupported():
    report = [rc("pleural_effusion", laterality="right", sentence="Right pleural effusion.")]
    j = judge_claim(rc("pleural_effusion", laterality="right", severity="large"), report)
    assert (j.verdict, j.reasons) == ("unsupported", ["severity_not_in_report"])


def test_location_regions_and_fuzzy_phrasing():
    assert not location_compatible("right lower lobe", "right upper lobe")
    assert location_compatible("right lower lobe", "right base")
    assert location_compatible("lower lobe of the right lung", "right lower lobe")
    j = judge_claim(rc("opacity", location="left upper lobe"), [rc("opacity", location="left lower lobe")])
    assert j.reasons == ["location_conflict"]


def test_best_matching_mention_wins_when_report_has_several():
    report = [rc("opacity", location="right upper lobe"), rc("opacity", location="left lower lobe")]
    assert judge_claim(rc("opacity", location="left base"), report).verdict == "supported"


def test_uncertain_report_finding_overstated_or_dismissed():
    report = [rc("pneumonia", "uncertain", sentence="Possible early pneumonia.")]
    assert judge_claim(rc("pneumonia"), report).reasons == ["uncertainty_overstated"]
    assert judge_claim(rc("pneumonia", "negative"), report).reasons == ["uncertainty_dismissed"]
    assert judge_claim(rc("pneumonia", "uncertain"), report).verdict == "supported"


def test_hedged_step_on_a_positive_finding_is_kept_with_a_note():
    j = judge_claim(rc("pneumonia", "uncertain"), [rc("pneumonia")])
    assert j.verdict == "supported" and j.reasons == ["hedged"]


def test_general_step_claim_supported_by_specific_report_finding():
    assert judge_claim(rc("opacity"), [rc("consolidation")]).verdict == "supported"
    # the reverse (specific claim from a general finding) is not supported
    assert judge_claim(rc("pneumonia"), [rc("opacity")]).reasons == ["finding_not_in_report"]


def test_negation_with_a_grade_does_not_contradict_another_grade():
    # "No large effusion" is true when the report has a small one
    j = judge_claim(rc("pleural_effusion", "negative", severity="large"), [rc("pleural_effusion", severity="small")])
    assert j.verdict == "supported"


def test_normal_statements_imply_negatives_with_offsets():
    text = "FINDINGS: The lungs are clear. Heart size is normal.\nIMPRESSION: No acute cardiopulmonary abnormality."
    claims = normal_statement_claims(text)
    obs = {c.observation for c in claims}
    assert {"consolidation", "edema", "cardiomegaly", "pneumothorax"} <= obs
    heart = next(c for c in claims if c.observation == "cardiomegaly")
    assert text[heart.sentence_start:heart.sentence_end] == "Heart size is normal."
    assert all(c.assertion == "negative" for c in claims)


def test_rules_file_rejects_unknown_keys():
    data = json.loads(json.dumps({"version": "x", "severity_scale": {}, "location_regions": {},
                                  "observation_parents": {}, "normal_statements": [], "answer_patterns": [],
                                  "colour": 1}))
    with pytest.raises(RuleFileError, match="unknown key"):
        parse_rules(data)


def test_packaged_rules_load_with_a_version():
    assert load_step_rules().version


def test_infer_place_and_grade_from_the_sentence():
    text = "Patchy opacities in the left lower lobe, compatible with infiltrate."
    f = Finding(report_id="r", observation="infiltrate", mention="infiltrate", assertion="positive",
                sentence=text, start=text.index("infiltrate"), end=len(text) - 1, sentence_start=0,
                sentence_end=len(text))
    claim = claim_from_finding(f, text)
    assert claim.laterality == "left" and claim.location == "lower"
    text = "Large heart with small right effusion."
    claims = [Claim("cardiomegaly", "positive", start=6, end=11, sentence=text, sentence_end=len(text)),
              Claim("pleural_effusion", "positive", start=29, end=37, sentence=text, sentence_end=len(text))]
    graded = infer_severity(claims, text)
    assert [c.severity for c in graded] == ["large", "small"]


def _packaged_step_rules():
    from importlib import resources

    return json.loads(resources.files("radprm.validators").joinpath("step_rules.json").read_text())


_STEP_RULE_KEYS = (
    "version, source, severity_scale, location_regions, observation_parents, normal_statements, answer_patterns, "
    "negation_qualifiers, claim_clause_breaks, statement_mention, step_rewrites, adjective_observations, "
    "false_mentions, step_language, open_vocabulary, sideless_observations, object_observations, "
    "observation_synonyms"
)


@pytest.mark.parametrize(
    ("keys", "typo", "field", "allowed"),
    [
        (["sideless_observations"], "sideless_observation", "sideless_observation", _STEP_RULE_KEYS),
        (["normal_statements", 1, "negates"], "negate", "normal_statements.1.negate", "pattern, negates"),
        (["step_language", "hedges"], "hedge", "step_language.hedge",
         "clause_breaks, heading, meta, negation_pre, negation_post, negation_exceptions, open_uncertainty, "
         "hedges, temporal, temporal_compatible, has_verb, past, comparison, change_claim, continuation, omission, "
         "categorical_denial, limited_denial, states, temporal_moves"),
        (["open_vocabulary", "min_shared"], "min_share", "open_vocabulary.min_share",
         "stopwords, weak_words, object_classes, place_families, side_places, number_words, min_shared, "
         "min_cover, negatable_classes, generic_words, must_be_named, side_words, place_words, "
         "bilateral_phrases, exclusive_words, synonym_classes, dominant_side, lesser_side, object_aliases, "
         "specific_terms, polarity_exempt, normal_words, same_thing, part_of, implied_sides, device_kinds"),
    ],
)
def test_step_rules_misspelled_key_names_file_field_path_and_allowed_keys(tmp_path, keys, typo, field, allowed):
    data = _packaged_step_rules()
    node = data
    for k in keys[:-1]:
        node = node[k]
    node[typo] = node.pop(keys[-1])
    path = tmp_path / "step_rules.json"
    path.write_text(json.dumps(data))
    with pytest.raises(RuleFileError) as err:
        load_step_rules(path)
    assert err.value.path == str(path)
    assert err.value.field == field
    assert str(err.value) == f"{path}, field '{field}': unknown key '{typo}' (allowed keys: {allowed})"


@pytest.mark.parametrize(
    ("keys", "field"),
    [
        (["normal_statements", 2, "pattern"], "normal_statements.2.pattern"),
        (["answer_patterns", 0], "answer_patterns.0"),
        (["step_language", "heading"], "step_language.heading"),
        (["step_language", "hedges", "possible"], "step_language.hedges.possible"),
        (["step_language", "states", "lung_volume", "low"], "step_language.states.lung_volume.low"),
        (["open_vocabulary", "place_families", "aspect", "medial"], "open_vocabulary.place_families.aspect.medial"),
        (["open_vocabulary", "place_families", "lobe", "upper"], "open_vocabulary.place_families.lobe.upper"),
        (["open_vocabulary", "exclusive_words"], "open_vocabulary.exclusive_words"),
    ],
)
def test_step_rules_bad_pattern_names_file_and_field_path(keys, field):
    data = _packaged_step_rules()
    node = data
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = "(unclosed"
    with pytest.raises(RuleFileError, match="bad pattern") as err:
        parse_rules(data, "my_rules.json")
    assert err.value.path == "my_rules.json"
    assert err.value.field == field


def test_step_rules_temporal_move_of_no_class_names_the_field():
    data = _packaged_step_rules()
    data["step_language"]["temporal_moves"].append("shrunken")
    with pytest.raises(RuleFileError, match=r"unknown class\(es\) \['shrunken'\]") as err:
        parse_rules(data, "my_rules.json")
    assert err.value.field == "step_language.temporal_moves"


def test_step_rules_missing_key_and_bad_value_name_the_field():
    data = _packaged_step_rules()
    del data["step_language"]["past"]
    with pytest.raises(RuleFileError, match="Field required") as err:
        parse_rules(data)
    assert err.value.field == "step_language.past"
    data = _packaged_step_rules()
    data["severity_scale"]["big"] = ["huge"]
    with pytest.raises(RuleFileError) as err:
        parse_rules(data)
    assert err.value.field == "severity_scale.big.[key]"


def test_packaged_step_rules_parse_the_same_from_a_copy(tmp_path):
    path = tmp_path / "step_rules.json"
    path.write_text(json.dumps(_packaged_step_rules()))
    copy, packaged = load_step_rules(path), load_step_rules()
    # the same rules; the version differs in its hash only (the copy's bytes are JSON re-dumped)
    assert dataclasses.replace(copy, version="") == dataclasses.replace(packaged, version="")
    assert copy.version.split("+")[0] == packaged.version.split("+")[0]


def test_a_missing_step_rules_file_is_a_rule_file_error_naming_it(tmp_path):
    missing = tmp_path / "no_such_rules.json"
    with pytest.raises(RuleFileError, match="cannot read file") as err:
        load_step_rules(missing)
    assert str(missing) in str(err.value)

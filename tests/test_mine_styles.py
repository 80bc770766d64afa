"""Chain styles: the registry's style lookup and the report-mention phrase list."""

from __future__ import annotations

import pytest

from radprm.errors import InputError, RuleFileError
from radprm.miners.styles import ReportMentions, check_style, report_mentions
from radprm.prompts.registry import PromptRegistry


@pytest.mark.parametrize("text", [
    "The report states the heart is normal.", "Pneumothorax is not mentioned, so it is absent.",
    "An effusion is described at the right base.", "There is no mention of edema.",
    "According to the findings section, the lungs are clear.", "The reference reading is no longer found.",
    "Edema has been ruled out by radiologist.", "The radiology report says no effusion.",
    "It has been reported that the cardiac silhouette is normal.",
])
def test_report_mentions_catch_steps_citing_the_report(text):
    assert report_mentions(text)


@pytest.mark.parametrize("text", [
    "No pneumothorax is seen.", "The frontal view shows blunting of the left costophrenic angle.",
    "The lateral view shows no effusion.", "Heart size is normal.", "The lungs are clear on both views.",
])
def test_report_mentions_leave_image_observations_alone(text):
    assert report_mentions(text) == []


def test_registry_picks_the_latest_version_of_each_style():
    reg = PromptRegistry()
    latest_image = {"plan": 3, "analysis": 3, "refine": 4, "staged": 4}  # v4: v3 plus the reask reminder
    for name, version in latest_image.items():
        assert (reg.for_style(name, "image").version, reg.for_style(name, "report").version) == (version, 2)
        assert reg.get(name, 1).style is None  # v1 kept, read as report style
        # the last call of each mode carries the reminder a re-ask adds (--cites-report quarantine)
        assert bool(reg.for_style(name, "image").reask) == (name in ("refine", "staged"))
    assert "Hidden reference reading" in reg.for_style("analysis", "image").user
    assert "{report}" in reg.for_style("analysis", "report").user


def test_unknown_style_and_bad_lexicon(tmp_path):
    with pytest.raises(InputError, match="unknown style 'film'"):
        check_style("film")
    bad = tmp_path / "m.json"
    bad.write_text('{"version": "1", "description": "x", "patterns": [{"name": "a", "regex": "("}]}')
    with pytest.raises(RuleFileError, match="regex does not compile") as err:
        ReportMentions(bad)
    assert err.value.field == "patterns.0.regex"

"""The package root exposes every stage's API function, and each name resolves."""

import pytest

import radprm


@pytest.mark.parametrize("name", [n for n in radprm.__all__ if n != "__version__"])
def test_public_api_name_resolves(name):
    assert getattr(radprm, name) is not None


def test_public_api_unknown_name_raises_attribute_error():
    with pytest.raises(AttributeError):
        radprm.no_such_thing  # noqa: B018


def test_public_api_extract_findings_reads_negation():
    findings = radprm.extract_findings("No pneumothorax. There is a small left pleural effusion.")
    by_obs = {f.observation: f for f in findings}
    assert by_obs["pneumothorax"].assertion == "negative"
    effusion = by_obs["pleural_effusion"]
    assert (effusion.assertion, effusion.laterality, effusion.severity) == ("positive", "left", "small")

"""`radprm.miners.config`: option values are checked once, and a bad one is one `InputError` naming it."""

import pytest

from radprm.errors import InputError
from radprm.miners.config import MineConfig
from radprm.miners.rollouts import RolloutConfig

SERVER = {"base_url": "http://127.0.0.1:9/v1", "model": "m"}


BAD_VALUES = {  # option: (value, the whole error message)
    "engine": ("spark", "unknown engine 'spark' (choose from local, ray)"),
    "style": ("film", "unknown style 'film' (choose from image, report)"),
    "cites_report": ("drop", "unknown value 'drop' (choose from quarantine, keep)"),
    "judge": ("some", "unknown value 'some' (choose from undecided, all)"),
    "judge_policy": ("vote", "unknown value 'vote' (choose from rules-first, judge-first, both-must-agree)"),
    "phi": ("redact", "unknown PHI mode 'redact' (choose from off, flag, mask, block)"),
    "phi_engine": ("bert", "unknown PHI engine 'bert' (choose from patterns, ner)"),
    "concurrency": (0, "Input should be greater than or equal to 1"),
    "abstention": ("no-such-table.json",
                   "abstention file not found: no-such-table.json (a file of `radprm eval calibrate` or "
                   "`radprm eval doubt`, or table, model or none)"),
}


@pytest.mark.parametrize("option", BAD_VALUES)
def test_mine_config_bad_value_names_the_option(option):
    value, message = BAD_VALUES[option]
    with pytest.raises(InputError) as exc:
        MineConfig.from_options(**SERVER, **{option: value})
    assert exc.value.message == message and exc.value.field == option


def test_mine_config_choices_accept_their_values_and_none_where_optional():
    cfg = MineConfig.from_options(**SERVER, engine="ray", style="report", judge="all", judge_policy="both-must-agree",
                                  phi="mask", phi_engine="ner")
    assert (cfg.engine, cfg.style, cfg.judge, cfg.phi) == ("ray", "report", "all", "mask")
    assert MineConfig.from_options(**SERVER).judge is None


def test_mine_config_unknown_option_and_option_combination_are_named():
    with pytest.raises(InputError, match="unknown mining option 'stop_after'") as exc:
        MineConfig.from_options(**SERVER, stop_after=3)
    assert exc.value.field == "stop_after" and "stop_after_items" in exc.value.hint
    with pytest.raises(InputError) as exc:
        MineConfig.from_options(**SERVER, reasons="timeout")
    assert exc.value.message == "--reasons needs --retry-quarantined" and exc.value.field == "reasons"


def test_rollout_config_bad_value_names_the_option(tmp_path):
    with pytest.raises(InputError) as exc:
        RolloutConfig.from_options(shards=tmp_path, n=65, **SERVER)
    assert exc.value.message == "Input should be less than or equal to 64" and exc.value.field == "n"

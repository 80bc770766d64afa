"""Report-level labels: column contract per label set and the aggregation convention."""

from __future__ import annotations

import pytest

from radprm.errors import InputError
from radprm.schemas.records import Finding
from radprm.validators.findings import LABELSETS, labelset_columns, report_labels

CHESTXRAY14 = [
    "Atelectasis",
    "Cardiomegaly",
    "Effusion",
    "Infiltration",
    "Mass",
    "Nodule",
    "Pneumonia",
    "Pneumothorax",
    "Consolidation",
    "Edema",
    "Emphysema",
    "Fibrosis",
    "Pleural_Thickening",
    "Hernia",
]
CHEXPERT = [
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
]


def _f(observation: str, assertion: str = "positive", **kw) -> Finding:
    return Finding(
        report_id="r",
        observation=observation,
        mention=observation,
        assertion=assertion,
        sentence="s",
        start=0,
        end=1,
        sentence_start=0,
        sentence_end=1,
        **kw,
    )


def test_labelset_columns_are_exact():
    assert list(LABELSETS["chestxray14"]) == CHESTXRAY14
    assert list(LABELSETS["chexpert"]) == CHEXPERT
    assert labelset_columns("chestxray14") == CHESTXRAY14
    assert list(report_labels([], "chexpert")) == CHEXPERT


def test_chestxray14_columns_match_gold_file(gold_labels):
    header = gold_labels.read_text().splitlines()[0].split(",")
    assert header[1:] == [*CHESTXRAY14, "normal"]


def test_positive_beats_uncertain_beats_negative():
    labels = report_labels([_f("pleural_effusion", "negative"), _f("pleural_effusion", "uncertain")])
    assert labels["Effusion"] == -1
    labels = report_labels(
        [_f("pleural_effusion", "uncertain"), _f("pleural_effusion"), _f("pleural_effusion", "negative")]
    )
    assert labels["Effusion"] == 1
    assert report_labels([_f("pleural_effusion", "negative")])["Effusion"] == 0


def test_unmentioned_is_none():
    labels = report_labels([_f("atelectasis")])
    assert labels["Atelectasis"] == 1
    assert all(v is None for k, v in labels.items() if k != "Atelectasis")


def test_hypothetical_and_indication_mentions_do_not_count():
    assert report_labels([_f("pneumonia", hypothetical=True)])["Pneumonia"] is None
    assert report_labels([_f("pneumonia", section="indication")])["Pneumonia"] is None
    assert report_labels([_f("pneumonia", section="impression")])["Pneumonia"] == 1


def test_several_observations_feed_one_label():
    labels = report_labels([_f("opacity", "negative"), _f("infiltrate", "uncertain")], "chexpert")
    assert labels["Lung Opacity"] == -1


def test_chexpert_no_finding():
    assert report_labels([_f("pneumothorax", "negative")], "chexpert")["No Finding"] == 1
    assert report_labels([_f("pneumothorax", "uncertain")], "chexpert")["No Finding"] is None
    # support devices do not make a study abnormal; other abnormalities (emphysema) do
    assert report_labels([_f("support_device")], "chexpert")["No Finding"] == 1
    assert report_labels([_f("emphysema")], "chexpert")["No Finding"] is None


def test_unknown_labelset_is_an_input_error():
    with pytest.raises(InputError) as err:
        report_labels([], "nih")
    assert "chestxray14" in str(err.value) and err.value.field == "labelset"

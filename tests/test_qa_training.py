"""QA checks for training-ready data: report mentions by style, items without images, split leakage."""

from __future__ import annotations

import random

import pytest

from radprm.qa.checks import normalise_report, run_checks, split_leakage_rows
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item

BASE = "FINDINGS: The heart is normal in size. No pleural effusion. IMPRESSION: No acute disease."


def _steps(*texts: str) -> list[StepRecord]:
    return [StepRecord(index=k, text=t, label=True, verdict="supported", score=0.9) for k, t in enumerate(texts)]


def _write(tmp_path, items):
    out = tmp_path / "s"
    with ShardWriter(out, card=False) as w:
        w.write_many(items)
    return out


def _check(directory, name, **kw):
    (result,) = run_checks(directory, only=[name], **kw)
    return result


def test_report_mentions_counts_by_style_and_warns_only_for_image_style(tmp_path):
    items = [
        make_item(0, style="image", steps=_steps("No pneumothorax is seen.", "The frontal view shows clear lungs.")),
        make_item(1, style="image", steps=_steps("The report states the heart is normal.", "No effusion is seen.")),
        make_item(2, style="report", steps=_steps("Pneumothorax is not mentioned, so it is absent.")),
    ]
    result = _check(_write(tmp_path, items), "report_mentions")
    rows = {r[0]: r for r in result.rows}
    assert rows["image"][1:5] == (2, 1, 4, 1) and rows["image"][-1] is True
    assert rows["report"][1:5] == (1, 1, 1, 1) and rows["report"][-1] is False
    assert "the_report" in rows["image"][5] and "not_mentioned" in rows["report"][5]
    assert result.status == "warn" and result.warnings == 1


def test_report_mentions_ok_when_image_chains_read_the_film(tmp_path):
    items = [make_item(i, style="image", steps=_steps("No pneumothorax is seen.")) for i in range(3)]
    assert _check(_write(tmp_path, items), "report_mentions").status == "ok"


def test_items_without_images_are_flagged(tmp_path):
    items = [make_item(0), make_item(3, image_paths=[]), make_item(4, image_paths=[])]
    result = _check(_write(tmp_path, items), "items_without_images")
    assert result.status == "warn"
    assert {r[0] for r in result.rows} == {"CXR1"} and result.rows[0][1] == 2


def test_split_leakage_fires_on_a_planted_duplicate_and_a_patient_in_two_splits(tmp_path):
    rng = random.Random(1)
    vocab = "heart lungs clear effusion pneumothorax opacity base apex mild small large stable new".split()
    texts = [f"FINDINGS: {' '.join(rng.choice(vocab) for _ in range(12))}. IMPRESSION: Case {k}." for k in range(30)]
    items = [make_item(3 * k, report_id=f"R{k}", report_text=t, patient_id=f"P{k}",
                       split=["train", "validation", "test"][k % 3]) for k, t in enumerate(texts)]
    clean = _check(_write(tmp_path / "clean", items), "split_leakage")
    assert clean.status == "ok", clean.rows
    planted = items + [
        # R3's text again, re-typed (case, spacing, XXXX), for another patient in another split
        make_item(200, report_id="DUP", report_text=texts[3].upper().replace(" ", "  ") + " XXXX.",
                  patient_id="P-dup", split="test"),
        # patient P4 again, in train
        make_item(201, report_id="R4-again", report_text="FINDINGS: Something else entirely.", patient_id="P4",
                  split="train"),
    ]
    result = _check(_write(tmp_path / "planted", planted), "split_leakage")
    assert result.status == "warn"
    rows = {(r[0], r[1]): r for r in result.rows}
    assert rows[("text", "DUP")][2] == "R3" and rows[("text", "DUP")][5] == 100.0
    patient = rows[("patient", "P4")]
    assert set(patient[2].split(", ")) == {"R4", "R4-again"} and {patient[3], patient[4]} == {"train", "validation"}
    assert result.warnings == 2


def test_split_leakage_threshold_and_near_duplicates_beyond_exact_text():
    a = "the heart is normal in size no pleural effusion or pneumothorax lungs are clear"
    rows = [("A", "pA", "train", a), ("B", "pB", "test", a.replace("normal", "norma1"))]
    assert [r[1:3] for r in split_leakage_rows(rows, threshold=95)] == [("A", "B")]
    assert split_leakage_rows(rows, threshold=99.9) == []
    same_side = [("A", "pA", "train", a), ("B", "pB", "train", a)]
    assert split_leakage_rows(same_side) == []


def test_split_leakage_blocking_finds_a_planted_pair_among_many():
    rng = random.Random(0)
    words = "heart lungs clear effusion pneumothorax normal size opacity left right base mild small".split()
    rows = [(f"R{k}", f"P{k}", "train", " ".join(rng.choice(words) for _ in range(25)) + f" case {k}")
            for k in range(3000)]
    target = rows[1234][3]
    rows.append(("LEAK", "PX", "test", target.replace("case", "Case:")))
    found = split_leakage_rows(rows, threshold=95)
    assert [(r[1], r[2]) for r in found] == [("LEAK", "R1234")]


def test_split_leakage_skips_shards_without_splits(tmp_path):
    result = _check(_write(tmp_path, [make_item(i) for i in range(3)]), "split_leakage")
    assert result.status == "skip" and "split" in result.skipped


@pytest.mark.parametrize(("raw", "norm"), [("No  XXXX effusion.", "no effusion"), ("A___B, c!", "a b c")])
def test_normalise_report(raw, norm):
    assert normalise_report(raw) == norm


def test_card_says_where_images_are_and_counts_styles_and_splits(tmp_path):
    from radprm.shards.card import card_text

    items = [make_item(i, style="image", split="train", patient_id=f"P{i}") for i in range(3)]
    text = card_text(_write(tmp_path, items))
    assert "| image | train | - | 3 | 3 | 0 | 0 |" in text
    assert "paths look like `CXR0_IM-0001-1001.dcm.png`" in text and "not part of this dataset" in text

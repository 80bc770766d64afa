"""`qa(..., compare=OTHER)` / `compare_runs`: the numbers of both runs, the differences, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from radprm.errors import InputError
from radprm.qa import qa
from radprm.qa.compare import compare_runs
from radprm.schemas.shards import SCHEMA_VERSION
from radprm.shards import ShardWriter
from radprm.shards.testing import make_items


def write(path: Path, items) -> Path:
    with ShardWriter(path, card=False) as w:
        w.write_many(items)
    return path


@pytest.fixture
def runs(tmp_path: Path) -> tuple[Path, Path]:
    old = write(tmp_path / "old" / "shards", make_items(40))
    new_items = make_items(60, start=40)
    # the new run's model hedges more: a reason code the old run never gave
    new_items = [i.model_copy(update={"steps": [s.model_copy(update={"reasons": [*s.reasons, "uncertainty_overstated"]})
                                                if k == 0 else s for k, s in enumerate(i.steps)]})
                 if n % 2 == 0 else i for n, i in enumerate(new_items)]
    new = write(tmp_path / "new" / "shards", new_items)
    return new, old


def rows(cmp, section):
    return {r["metric"]: r for r in cmp.sections[section]}


def test_compare_runs_numbers_and_highlights(runs):
    new, old = runs
    cmp = compare_runs(new, old)
    counts = rows(cmp, "counts")
    assert (counts["items"]["this"], counts["items"]["other"], counts["items"]["delta"]) == (60, 40, 20)
    assert counts["items"]["changed"]  # +50% is beyond the 10% count threshold
    old_items, new_items = make_items(40), make_items(60, start=40)
    old_bad = sum(not s.label for i in old_items for s in i.steps) / sum(len(i.steps) for i in old_items)
    assert counts["bad steps"]["other"] == pytest.approx(old_bad, abs=1e-4)
    reasons = rows(cmp, "flag_rate_by_reason")
    hedge = reasons["uncertainty_overstated"]
    new_steps = sum(len(i.steps) for i in new_items)
    assert hedge["other"] == 0 and hedge["this"] == pytest.approx(30 / new_steps, abs=1e-4) and hedge["changed"]
    scores = rows(cmp, "chain_scores")
    mean_old = sum(i.completeness for i in old_items) / len(old_items)
    assert scores["completeness"]["other"] == pytest.approx(mean_old, abs=1e-4)
    assert set(rows(cmp, "label_balance")) >= {"binary: bad steps", "staged: unsure steps", "single: items"}
    assert cmp.chart is not None and cmp.chart.marks == len(cmp.chart.rows) > 0


def test_qa_compare_writes_section_and_json(runs):
    new, old = runs
    report = qa(new, expectations=False, card=False, compare=old)
    data = json.loads((new / "qa" / "qa.json").read_text())["compare"]
    assert data["other"] == str(old) and data["schema_version"] == data["other_schema_version"] == SCHEMA_VERSION
    assert data["changed"] == report.comparison.changed > 0
    page = (new / "qa" / "report.html").read_text()
    assert f"Compared with {old}" in page and "data-chart='compare'" in page and "class='num up'" in page
    assert "uncertainty_overstated" in (new / "qa" / "report.md").read_text()
    assert "metrics moved notably" in report.render()


def test_compare_same_run_changes_nothing(runs):
    new, _ = runs
    cmp = compare_runs(new, new)
    assert cmp.changed == 0 and all(r["delta"] in (0, 0.0) for rs in cmp.sections.values() for r in rs)


def test_compare_with_non_shard_dir_is_one_error_and_writes_nothing(runs, tmp_path):
    new, _ = runs
    (tmp_path / "empty").mkdir()
    for other, message in ((tmp_path / "empty", "no manifest.json"), (tmp_path / "absent", "not a directory")):
        with pytest.raises(InputError, match=message) as err:
            qa(new, expectations=False, compare=other)
        assert err.value.field == "compare" and "\n" not in str(err.value)
    assert not (new / "qa").exists()


def test_compare_with_other_schema_version_is_one_error(runs):
    new, old = runs
    manifest = old / "manifest.json"
    data = json.loads(manifest.read_text())
    data["schema_version"] = "0"
    manifest.write_text(json.dumps(data))
    with pytest.raises(InputError, match=r"shard schema version 0 is not one this radprm reads \(1, 2\)") as err:
        qa(new, expectations=False, compare=old)
    assert err.value.field == "compare" and err.value.path == str(manifest)
    assert not (new / "qa").exists()


def test_a_v1_run_compares_with_a_v2_run(runs, tmp_path):
    from test_shards_v1_compat import write_v1_shards

    new, _ = runs
    old = write_v1_shards(tmp_path / "v1", make_items(40))
    cmp = compare_runs(new, old)
    assert (cmp.schema_version, cmp.other_schema_version) == (SCHEMA_VERSION, "1")
    counts = {r["metric"]: r for r in cmp.sections["counts"]}
    assert (counts["items"]["this"], counts["items"]["other"]) == (60, 40)

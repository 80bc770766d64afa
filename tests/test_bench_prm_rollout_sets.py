"""bench/bench_prm.py --rollouts: the report@rollouts / rollout / agree label tables it trains on."""

from __future__ import annotations

import sys
from pathlib import Path

from radprm.shards.testing import make_item
from radprm.shards.writer import ShardWriter
from radprm.training import step_labels

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from bench_prm import rollout_label_tables  # noqa: E402


def test_rollout_sets_fuse_like_the_exporter_and_mask_what_the_sources_leave_open(tmp_path):
    base = make_item(0)
    # report labels good, bad, unsure, good; rollout labels good, bad, bad, not rolled out
    report = [(True, "supported"), (False, "contradicted"), (True, "unsure"), (True, "supported")]
    rollout = [True, False, False, None]
    steps = [base.steps[0].model_copy(update={"index": k, "text": f"step {k}", "label": lab, "verdict": verdict,
                                             "mc_label": mc})
             for k, ((lab, verdict), mc) in enumerate(zip(report, rollout, strict=True))]
    item = base.model_copy(update={"item_id": "c1", "steps": steps})
    with ShardWriter(tmp_path / "shards", card=False) as w:
        w.write(item)
    gold = {("c1", 0): True, ("c1", 1): False, ("c1", 2): True, ("c1", 3): None}

    tables, quality = rollout_label_tables(tmp_path / "shards", tmp_path, gold)

    read = {name: [step_labels(path)[("c1", k)] for k in range(4)] for name, path in tables.items()}
    assert read == {"report@rollouts": [True, False, None, True],
                    "rollout": [True, False, False, None],
                    "agree": [True, False, None, None]}
    # the rollout label's false flag on step 2 costs it precision; agree abstains there
    assert quality["rollout"]["precision"] == 0.5 and quality["rollout"]["recall"] == 1.0
    assert quality["agree"]["precision"] == 1.0 and quality["agree"]["decided"] == 2

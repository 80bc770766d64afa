import json

from radprm.exports import export_chestx_reasoner
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item


def test_export_chestx_reasoner_rows(tmp_path):
    out = tmp_path / "s"
    steps = [
        StepRecord(index=k, text=f"s{k}", label=k != 1, verdict="supported" if k != 1 else "contradicted", score=0.5)
        for k in range(3)
    ]
    item = make_item(5, steps=steps, first_bad_step=1, image_paths=["a.png", "b.png"], answer=["edema", "cardiomegaly"])
    with ShardWriter(out, card=False) as w:
        w.write(item)
    export_chestx_reasoner(out, tmp_path / "c.jsonl")
    (row,) = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert row == {
        "item_id": item.item_id,
        "image_path": ["a.png", "b.png"],
        "question": item.question,
        "answer": "edema, cardiomegaly",
        "process": ["s0", "s1", "s2"],
    }
    summary = export_chestx_reasoner(out, tmp_path / "c.jsonl", after_first_bad="drop", with_labels=True)
    (row,) = [json.loads(x) for x in (tmp_path / "c.jsonl").read_text().splitlines()]
    assert row["process"] == ["s0", "s1"] and row["step_labels"] == [True, False]
    assert summary.steps_dropped == 1

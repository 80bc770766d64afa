"""Training-ready data options of `radprm mine` against the fake server: chain style (prompt versions and
provenance), patient-hash and file splits, excluded reports, gold answer keys and disputed answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fakes.openai_server import default_content, requested_schema
from typer.testing import CliRunner

from radprm.cli import app
from radprm.errors import InputError
from radprm.miners.job import mine
from radprm.miners.splits import SplitAssigner, hash_split, parse_ratios
from radprm.quarantine import read_quarantine
from radprm.shards.reader import read_items

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "reports_mine_small.csv"
CHEXPERT = ["No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Opacity", "Lung Lesion", "Edema",
            "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
            "Fracture", "Support Devices"]


def run(server, run_dir, parts, reports=FIXTURE, **kw):
    extractor, validator = parts
    options = dict(tasks=["single", "binary"], questions_per_report=2, max_tokens=200, concurrency=4, max_retries=1,
                   timeout=5.0)
    options.update(kw)
    return mine(reports, run_dir=run_dir, base_url=server.base_url, model="smollm2", extractor=extractor,
                validator=validator, **options)


def user_texts(server) -> list[str]:
    return [b["messages"][-1]["content"] for b in server.requests]


# --- style ------------------------------------------------------------------------------------------
def test_mine_image_style_by_default_uses_image_prompts_and_records_them(fake_openai_server, tmp_path, parts):
    summary = run(fake_openai_server, tmp_path / "img", parts)
    items = list(read_items(summary.shards_dir))
    assert items and {i.style for i in items} == {"image"}
    assert {(p.name, p.version) for i in items for p in i.prompts} == {("plan", 3), ("analysis", 3), ("refine", 4)}
    texts = user_texts(fake_openai_server)
    assert all(t.startswith("Hidden reference reading (do not cite it):") for t in texts)
    job = json.loads((tmp_path / "img" / "job.json").read_text())
    assert job["identity"]["style"] == "image" and any("plan@v3" in p for p in job["identity"]["prompts"])


def test_mine_report_style_uses_report_prompts_and_other_item_ids(fake_openai_server, tmp_path, parts):
    img = run(fake_openai_server, tmp_path / "img", parts, limit=2)
    fake_openai_server.reset()
    rep = run(fake_openai_server, tmp_path / "rep", parts, limit=2, style="report")
    items = list(read_items(rep.shards_dir))
    assert {i.style for i in items} == {"report"}
    assert {(p.name, p.version) for i in items for p in i.prompts} == {("plan", 2), ("analysis", 2), ("refine", 2)}
    assert all(t.startswith("Report:") for t in user_texts(fake_openai_server))
    assert not {i.item_id for i in items} & {i.item_id for i in read_items(img.shards_dir)}


def test_mine_staged_image_style_uses_staged_v4(fake_openai_server, tmp_path, parts):
    summary = run(fake_openai_server, tmp_path / "st", parts, limit=1, mode="staged")
    items = list(read_items(summary.shards_dir))
    assert items and all([(p.name, p.version) for p in i.prompts] == [("staged", 4)] for i in items)


def test_mine_unknown_style_is_one_error_line(tmp_path):
    result = CliRunner().invoke(app, ["mine", str(FIXTURE), "--run-dir", str(tmp_path / "r"), "--style", "film",
                                      "--base-url", "http://127.0.0.1:9/v1", "--model", "x"])
    assert result.exit_code == 1
    assert "unknown style 'film'" in result.output and len(result.output.strip().splitlines()) == 1


# --- splits -----------------------------------------------------------------------------------------
def test_hash_split_is_deterministic_by_patient_and_follows_the_ratios():
    ratios = parse_ratios("0.8,0.1,0.1")
    first = {f"p{i}": hash_split(f"p{i}", ratios) for i in range(5000)}
    again = {f"p{i}": hash_split(f"p{i}", ratios) for i in range(5000)}
    assert first == again
    share = sum(v == "train" for v in first.values()) / len(first)
    assert 0.77 < share < 0.83
    assert set(first.values()) == {"train", "validation", "test"}
    assert {hash_split(f"p{i}", (1.0, 0.0, 0.0)) for i in range(200)} == {"train"}


@pytest.mark.parametrize("bad", ["0.9,0.05", "0.5,0.5,0.5", "a,b,c", "1.2,-0.1,-0.1"])
def test_bad_split_ratios_are_one_line_errors(bad, tmp_path):
    with pytest.raises(InputError) as err:
        parse_ratios(bad)
    assert err.value.field == "split_ratios"
    result = CliRunner().invoke(app, ["mine", str(FIXTURE), "--run-dir", str(tmp_path / "r"), "--split-ratios", bad,
                                      "--base-url", "http://127.0.0.1:9/v1", "--model", "x"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "split" in result.output


def test_mine_same_patient_same_split_and_stable_across_runs(fake_openai_server, tmp_path, parts):
    reports = tmp_path / "reports.csv"
    rows = ["report_id,patient_id,findings,impression"]
    for k in range(12):  # 6 patients with two reports each
        rows.append(f"r{k},pat{k // 2},The heart is enlarged. No pneumothorax.,Cardiomegaly.")
    reports.write_text("\n".join(rows) + "\n")
    first = list(read_items(run(fake_openai_server, tmp_path / "a", parts, reports=reports).shards_dir))
    second = list(read_items(run(fake_openai_server, tmp_path / "b", parts, reports=reports).shards_dir))
    by_patient: dict[str, set[str]] = {}
    for item in first:
        by_patient.setdefault(item.patient_id, set()).add(item.split)
    assert set(by_patient) == {f"pat{p}" for p in range(6)}
    assert all(len(s) == 1 for s in by_patient.values())
    assert {(i.report_id, i.split) for i in first} == {(i.report_id, i.split) for i in second}
    assert all(i.split == hash_split(i.patient_id, parse_ratios("0.9,0.05,0.05")) for i in first)


def test_mine_iu_without_patient_ids_uses_the_report_id(fake_openai_server, tmp_path, parts):
    items = list(read_items(run(fake_openai_server, tmp_path / "a", parts, limit=2).shards_dir))
    assert items and all(i.patient_id == i.report_id and i.split in ("train", "validation", "test") for i in items)


def test_mine_split_file_assigns_splits_and_quarantines_missing_ids(fake_openai_server, tmp_path, parts):
    split = tmp_path / "split.csv"
    split.write_text("study_id,split\nm1,train\nm2,validate\nm3,test\nm4,train\n")
    summary = run(fake_openai_server, tmp_path / "a", parts, split_file=split)
    items = list(read_items(summary.shards_dir))
    assert {(i.report_id, i.split) for i in items} <= {("m1", "train"), ("m2", "validation"), ("m3", "test"),
                                                       ("m4", "train")}
    assert {i.report_id for i in items} == {"m1", "m2", "m3", "m4"}
    missing = {r.record_id for r in read_quarantine(summary.quarantine_path) if r.reason_code == "split_missing"}
    assert missing == {"m5", "m6"}  # m7 has no text: quarantined by the reader
    assert summary.quarantined["split/split_missing"] == 2


def test_split_file_problems_are_one_line_errors(tmp_path):
    bad = tmp_path / "s.csv"
    bad.write_text("study_id,fold\n1,train\n")
    with pytest.raises(InputError, match="split file lacks a column"):
        SplitAssigner(bad)
    bad.write_text("study_id,split\n1,train\n1,test\n")
    with pytest.raises(InputError, match="is in split 'train' and 'test'") as err:
        SplitAssigner(bad)
    assert err.value.row == 2


def test_mine_exclude_reports_keeps_them_out(fake_openai_server, tmp_path, parts):
    excl = tmp_path / "eval.jsonl"
    excl.write_text('{"report_id": "m1", "steps": []}\n{"report_id": "m3"}\n')
    summary = run(fake_openai_server, tmp_path / "a", parts, exclude_reports=excl)
    ids = {i.report_id for i in read_items(summary.shards_dir)}
    assert ids and not ids & {"m1", "m3"} and "m2" in ids
    assert summary.excluded == 2 and "excluded      2 reports" in summary.render()
    from radprm.qa.checks import run_checks

    (check,) = run_checks(summary.shards_dir, only=["reports_without_items"])
    rows = {r[0]: r for r in check.rows}
    assert rows["m1"][1:] == ("mine:excluded", False) and rows["m3"][1:] == ("mine:excluded", False)
    assert rows["m7"][2] is True  # unreadable report: still a warning


# --- answer keys ------------------------------------------------------------------------------------
def _gold(path: Path, rows: dict[str, dict[str, int]]) -> Path:
    lines = [",".join(["report_id", *CHEXPERT])]
    for rid, values in rows.items():
        lines.append(",".join([rid, *(str(values.get(c, "")) for c in CHEXPERT)]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_mine_answer_key_overrides_the_extractor_and_is_recorded(fake_openai_server, tmp_path, parts):
    # m3 reads normal; its "gold" says cardiomegaly: the binary key must follow the gold labels
    gold = _gold(tmp_path / "gold.csv", {"m3": {"Cardiomegaly": 1}, "m1": {"Cardiomegaly": 1, "Pleural Effusion": 1}})
    summary = run(fake_openai_server, tmp_path / "a", parts, answer_key=gold)
    items = list(read_items(summary.shards_dir))
    sources = {i.report_id: i.answer_key_source for i in items}
    assert sources["m3"] == sources["m1"] == "labels:gold.csv"
    assert {sources[r] for r in ("m2", "m4", "m5", "m6")} == {"extractor"}
    m3 = {i.question: i.answer for i in items if i.report_id == "m3"}
    assert m3.get("Is this chest X-ray normal or abnormal?") == ["abnormal"] or \
        m3.get("Is there cardiomegaly in this chest X-ray?") == ["yes"]
    baseline = list(read_items(run(fake_openai_server, tmp_path / "b", parts).shards_dir))
    assert {i.answer_key_source for i in baseline} == {"extractor"}
    assert {i.question: i.answer for i in baseline if i.report_id == "m3"} != m3


def test_mine_answer_key_matching_no_report_is_one_line_error(tmp_path):
    gold = _gold(tmp_path / "gold.csv", {"zz1": {"Cardiomegaly": 1}})
    result = CliRunner().invoke(app, ["mine", str(FIXTURE), "--run-dir", str(tmp_path / "r"), "--answer-key",
                                      str(gold), "--base-url", "http://127.0.0.1:9/v1", "--model", "x"])
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "no report id of the input is in the label file" in result.output and "gold.csv" in result.output


def test_answer_key_ids_matching_no_report_error(fake_openai_server, tmp_path, parts):
    gold = _gold(tmp_path / "gold.csv", {"zz1": {"Cardiomegaly": 1}})
    with pytest.raises(InputError, match="no report id of the input is in the label file"):
        run(fake_openai_server, tmp_path / "a", parts, answer_key=gold)
    assert not (tmp_path / "a" / "job.json").exists()


def _always_no(body: dict) -> str:
    """The model answers 'no' (or 'normal' / 'none of these') to everything."""
    content = json.loads(default_content(body))
    schema = requested_schema(body) or {}
    answer = (schema.get("properties") or {}).get("answer")
    if isinstance(content, dict) and answer is not None:
        enum = (answer.get("items") or {}).get("enum") or []
        pick = next((o for o in ("no", "normal", "none of these") if o in enum), None)
        if pick:
            content["answer"] = [pick]
    return json.dumps(content)


def test_disputed_answers_get_no_reward_and_reach_the_review_queue(fake_openai_server, tmp_path, parts):
    from radprm.review import build_queue

    fake_openai_server.responder = _always_no
    summary = run(fake_openai_server, tmp_path / "a", parts, questions_per_report=3)
    items = list(read_items(summary.shards_dir))
    disputed = [i for i in items if i.answer_disputed]
    assert disputed, "a 'no' on a single-mention positive finding must be disputed"
    assert all(i.answer_reward is None and i.model_answer != i.answer for i in disputed)
    # a wrong answer on a finding stated twice (m1: enlarged heart + cardiomegaly) is scored, not disputed
    wrong = [i for i in items if not i.answer_disputed and i.model_answer and i.model_answer != i.answer]
    assert wrong and all(i.answer_reward == 0.0 for i in wrong)
    assert summary.data["answer_disputed_this_session"] == len(disputed)
    out = tmp_path / "queue"
    build_queue(summary.shards_dir, out, flagged_only=True)
    queued = json.loads((out / "queue.json").read_text())
    entries = {e["item_id"]: e for e in queued["items"]}
    for item in disputed:
        assert "answer_disputed" in entries[item.item_id]["flags"]

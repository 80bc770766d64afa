import json

import pytest

from radprm.errors import InputError, RuleFileError
from radprm.qa.checks import PYTHON_SCORED, load_checks, near_duplicate_pairs, parse_check, run_checks
from radprm.schemas.records import StepRecord
from radprm.shards import ShardWriter
from radprm.shards.testing import make_item, stable_id


def step(k, text="The heart is normal in size.", label=True, verdict=None, reasons=(), score=0.9):
    verdict = verdict or ("supported" if label else "contradicted")
    return StepRecord(index=k, text=text, label=label, verdict=verdict, reasons=list(reasons), score=score)


def chain(n, bad_at=None, **kw):
    return [step(k, f"Step {k}: observation number {k} is described.", label=k != bad_at, **kw) for k in range(n)]


def item(i, steps=None, **kw):
    steps = chain(3) if steps is None else steps
    first_bad = next((k for k, s in enumerate(steps) if not s.label), -1)
    fields = dict(item_id=stable_id("qa", i), report_id=f"R{i}", steps=steps, first_bad_step=first_bad)
    fields.update(kw)
    return make_item(i, **fields)


def write(tmp_path, items, **kw):
    out = tmp_path / "s"
    with ShardWriter(out, card=False, **kw) as w:
        w.write_many(items)
    return out


def run(out, name, **kw):
    (result,) = run_checks(out, only=[name], **kw)
    return result


def rows_as_dicts(result):
    return [dict(zip(result.columns, r, strict=True)) for r in result.rows]


def test_every_sql_file_has_a_complete_header():
    checks = load_checks()
    assert len(checks) >= 10
    for check in checks:
        assert check.title and check.what and check.threshold and check.version >= 1, check.name
        if check.name not in PYTHON_SCORED:  # those return inputs that Python scores
            assert "AS warn" in check.sql, check.name


def test_parse_check_rejects_unknown_header_key():
    with pytest.raises(RuleFileError, match="unknown header key 'treshold'"):
        parse_check("x", "-- check: x\n-- treshold: 1\nSELECT 1")


def test_parse_check_names_missing_version():
    with pytest.raises(RuleFileError) as exc:
        parse_check("x", "-- check: x\n-- title: t\n-- what: w\n-- threshold: none\nSELECT 1 AS warn")
    assert exc.value.field == "version"


def test_unknown_check_name_is_an_input_error(tmp_path):
    out = write(tmp_path, [item(0)])
    with pytest.raises(InputError, match="unknown check 'nope'"):
        run_checks(out, only=["nope"])


def test_label_balance_warns_on_a_dominant_answer(tmp_path):
    items = [item(i, task="single", answer=["yes"] if i else ["no"], options=["yes", "no"]) for i in range(25)]
    items += [
        item(100 + i, task="binary", answer=["normal" if i % 2 else "abnormal"], options=["normal", "abnormal"])
        for i in range(10)
    ]
    result = run(write(tmp_path, items), "label_balance")
    got = {(r["task"], r["answer"]): (r["items"], r["share"], r["warn"]) for r in rows_as_dicts(result)}
    assert got[("single", "yes")] == (24, 0.96, True)
    assert got[("single", "no")] == (1, 0.04, False)
    assert got[("binary", "normal")] == (5, 0.5, False)
    assert result.status == "warn" and result.warnings == 1


def test_step_labels_counts_good_bad_and_verdicts(tmp_path):
    items = [item(0, task="single", steps=chain(4, bad_at=2)), item(1, task="single", steps=chain(4))]
    items.append(item(2, task="binary", steps=[step(0, verdict="neutral"), step(1)]))
    result = run(write(tmp_path, items), "step_labels")
    got = {r["task"]: r for r in rows_as_dicts(result)}
    assert (got["single"]["steps"], got["single"]["good"], got["single"]["bad"]) == (8, 7, 1)
    assert got["single"]["bad_share"] == 0.125 and got["single"]["contradicted"] == 1 and not got["single"]["warn"]
    assert got["binary"]["neutral"] == 1 and got["binary"]["warn"]  # no bad step at all: nothing to learn


def test_step_labels_counts_unsure_verdicts(tmp_path):
    steps = [step(0), step(1, label=False, verdict="unsure"), step(2, label=False, verdict="unsure")]
    result = run(write(tmp_path, [item(0, task="single", steps=steps)]), "step_labels")
    (got,) = rows_as_dicts(result)
    assert (got["unsure"], got["bad"], got["contradicted"], got["supported"]) == (2, 2, 0, 1)


def test_flag_rate_by_reason(tmp_path):
    s1 = [step(0), step(1, label=False, reasons=["contradicts_report", "negation_flip"]), step(2, reasons=["hedged"])]
    s2 = [step(0, label=False, reasons=["contradicts_report"]), step(1)]
    result = run(write(tmp_path, [item(0, steps=s1), item(1, steps=s2)]), "flag_rate_by_reason")
    got = {r["reason"]: (r["steps"], r["bad_steps"], r["items"], r["warn"]) for r in rows_as_dicts(result)}
    assert got == {
        "contradicts_report": (2, 2, 2, True),  # 2 of 5 steps > 25%
        "negation_flip": (1, 1, 1, False),
        "hedged": (1, 0, 1, False),
    }


def test_flag_rate_by_prompt_version(tmp_path):
    from radprm.schemas.records import PromptRef

    v1 = [PromptRef(name="analysis", version=1, sha="1" * 64)]
    v2 = [PromptRef(name="analysis", version=2, sha="2" * 64)]
    items = [item(i, prompts=v1, steps=chain(2, bad_at=1)) for i in range(3)]
    items += [item(10 + i, prompts=v2, steps=chain(2, bad_at=0 if i == 0 else None)) for i in range(4)]
    result = run(write(tmp_path, items), "flag_rate_by_prompt")
    got = {r["version"]: r for r in rows_as_dicts(result)}
    assert (got[1]["items"], got[1]["flagged_items"], got[1]["flag_rate"], got[1]["warn"]) == (3, 3, 1.0, True)
    assert (got[2]["items"], got[2]["flagged_items"], got[2]["flag_rate"], got[2]["warn"]) == (4, 1, 0.25, False)
    assert got[2]["sha"] == "2" * 12 and got[2]["bad_step_share"] == 0.125


def test_flag_rate_by_model(tmp_path):
    items = [item(i, model="a", steps=chain(2, bad_at=0)) for i in range(2)]
    items += [item(10 + i, model="b", steps=chain(2), answer_reward=0.5) for i in range(3)]
    result = run(write(tmp_path, items), "flag_rate_by_model")
    got = {r["model"]: r for r in rows_as_dicts(result)}
    assert (got["a"]["flag_rate"], got["a"]["warn"]) == (1.0, True)
    assert (got["b"]["items"], got["b"]["flag_rate"], got["b"]["mean_answer_reward"], got["b"]["warn"]) == (
        3,
        0.0,
        0.5,
        False,
    )


def test_short_chains_lists_empty_and_single_step_items(tmp_path):
    items = [item(0, steps=[]), item(1, steps=chain(1)), item(2, steps=chain(2)), item(3, steps=chain(5))]
    result = run(write(tmp_path, items), "short_chains")
    assert sorted((r["item_id"], r["n_steps"]) for r in rows_as_dicts(result)) == sorted(
        [(stable_id("qa", 0), 0), (stable_id("qa", 1), 1)]
    )
    assert result.warnings == 2


def test_steps_per_chain_distribution(tmp_path):
    items = [item(i, task="single", steps=chain(2)) for i in range(3)] + [item(9, task="single", steps=chain(21))]
    result = run(write(tmp_path, items), "steps_per_chain")
    got = {r["n_steps"]: (r["items"], r["share"], r["warn"]) for r in rows_as_dicts(result)}
    assert got == {2: (3, 0.75, False), 21: (1, 0.25, True)}


def test_first_bad_step_flags_misaligned_items(tmp_path):
    good = item(0, steps=chain(3, bad_at=1))
    wrong = item(1, steps=chain(3, bad_at=1), first_bad_step=2)
    gap = item(2, steps=[step(0), step(2), step(3)])
    result = run(write(tmp_path, [good, wrong, gap]), "first_bad_step")
    got = {r["item_id"]: r for r in rows_as_dicts(result)}
    assert set(got) == {wrong.item_id, gap.item_id}
    assert got[wrong.item_id]["first_bad_from_labels"] == 1 and got[wrong.item_id]["indexes_in_order"]
    assert not got[gap.item_id]["indexes_in_order"]


def test_answer_leakage_finds_leaks_in_question_and_early_steps(tmp_path):
    q_leak = item(0, task="multi_label", question="Is the pleural effusion present or not?",
                  options=["cardiomegaly", "edema"], answer=["pleural_effusion"])
    listed = item(1, task="multi_label", question="Which of: cardiomegaly, edema?", options=["cardiomegaly", "edema"],
                  answer=["edema"])
    step_leak = item(
        2,
        task="single",
        answer=["yes"],
        options=["yes", "no"],
        steps=[step(0, "So the answer is yes, clearly."), step(1, "Heart normal."), step(2, "Final: yes.")],
    )
    last_step = item(3, task="single", answer=["yes"], options=["yes", "no"],
                     steps=[step(0, "Heart normal."), step(1, "The answer is yes.")])
    mention = item(4, task="single", answer=["no"], options=["yes", "no"],
                   steps=[step(0, "There is no pleural effusion."), step(1, "Answer: no.")])
    result = run(write(tmp_path, [q_leak, listed, step_leak, last_step, mention]), "answer_leakage")
    got = sorted((r["item_id"], r["place"], r["answer"]) for r in rows_as_dicts(result))
    assert got == sorted([(q_leak.item_id, "question", "pleural effusion"), (step_leak.item_id, "step 0", "yes")])


def test_near_duplicates_pairs_within_report_only(tmp_path):
    same = chain(3)
    a = item(0, report_id="R1", steps=same)
    b = item(1, report_id="R1", steps=same, question="Is there edema?")
    c = item(2, report_id="R2", steps=same)  # identical text, other report: not compared
    d = item(3, report_id="R1", steps=[step(0, "Completely different wording about the mediastinum contour.")])
    out = write(tmp_path, [a, b, c, d])
    result = run(out, "near_duplicates")
    got = rows_as_dicts(result)
    assert [(r["report_id"], {r["item_a"], r["item_b"]}, r["score"]) for r in got] == [
        ("R1", {a.item_id, b.item_id}, 100.0)
    ]
    assert got[0]["same_question"] is False
    assert run(out, "near_duplicates", near_dup_threshold=0).total_rows == 3  # all R1 pairs


def test_near_duplicate_pairs_threshold():
    rows = [("R", "q", "i1", "the heart is normal"), ("R", "q", "i2", "the heart is normal."), ("R", "q", "i3", "xyz")]
    pairs = list(near_duplicate_pairs(rows, 90))
    assert [(p[1], p[2]) for p in pairs] == [("i1", "i2")] and pairs[0][4] >= 90


def test_reports_without_items_from_reports_file_with_quarantine_reason(tmp_path):
    out = write(tmp_path, [item(0, report_id="R0"), item(1, report_id="R1")])
    ids = tmp_path / "ids.txt"
    ids.write_text("R0\nR1\nR2\nR3\n")
    q = tmp_path / "quarantine.jsonl"
    q.write_text(json.dumps({"record_id": "R2", "stage": "questions", "reason_code": "no_questions"}) + "\n")
    result = run(out, "reports_without_items", reports=ids, quarantine=q)
    got = {r["report_id"]: r["reason"] for r in rows_as_dicts(result)}
    assert got == {"R2": "questions:no_questions", "R3": "(no quarantine record)"}


def test_reports_without_items_skipped_without_reports_list(tmp_path):
    result = run(write(tmp_path, [item(0)]), "reports_without_items")
    assert result.status == "skip" and "--reports" in result.skipped


def test_reports_without_items_uses_run_meta_reports_path(tmp_path, iu_reports):
    out = write(tmp_path, [item(0, report_id="1"), item(1, report_id="2")],
                run_meta={"job": {"reports": str(iu_reports), "limit": 5}})
    result = run(out, "reports_without_items")
    assert sorted(r["report_id"] for r in rows_as_dicts(result)) == ["3", "4", "5"]


def test_chain_scores_warns_when_scores_missing(tmp_path):
    items = [
        item(0, completeness=0.5, factuality=1.0, model="m"),
        item(1, completeness=None, factuality=0.5, model="m"),
        item(2, completeness=None, model="m"),
    ]
    items = [i.model_copy(update={"task": "single"}) for i in items]
    result = run(write(tmp_path, items), "chain_scores")
    (row,) = rows_as_dicts(result)
    assert row["completeness"] == 0.5 and row["missing_scores"] == 0.667 and row["warn"]


def test_checks_on_empty_directory_warn_that_it_is_empty(tmp_path):
    out = write(tmp_path, [])
    results = {r.check.name: r for r in run_checks(out)}
    assert results["item_counts"].status == "warn" and results["item_counts"].rows == [("(all runs)", 0, 0, 0, True)]
    assert all(r.total_rows == 0 for n, r in results.items() if r.status != "skip" and n != "item_counts")


def test_item_counts_per_run(tmp_path):
    items = [item(0, run_id="a"), item(1, run_id="a"), item(2, run_id="b", steps=[])]
    result = run(write(tmp_path, items), "item_counts")
    assert rows_as_dicts(result) == [
        {"run_id": "a", "items": 2, "reports": 2, "steps": 6, "warn": False},
        {"run_id": "b", "items": 1, "reports": 1, "steps": 0, "warn": True},
    ]


def test_near_duplicates_split_a_huge_report_block_by_question():
    from radprm.qa.checks import MAX_BLOCK

    rows = [("R", "q1" if k % 2 else "q2", f"i{k:04d}", "same chain text") for k in range(MAX_BLOCK + 1)]
    rows.sort(key=lambda r: (r[0], r[1], r[2]))
    pairs = list(near_duplicate_pairs(rows, 90))
    n1, n2 = sum(1 for r in rows if r[1] == "q1"), sum(1 for r in rows if r[1] == "q2")
    assert len(pairs) == n1 * (n1 - 1) // 2 + n2 * (n2 - 1) // 2  # no cross-question pairs
    assert all(p[3] for p in pairs)


def test_rollout_agreement_by_task_and_reason(tmp_path):
    from radprm.shards.testing import make_item

    def with_mc(i, mc):
        base = make_item(i)
        steps = [s.model_copy(update={"verdict": "supported" if s.label else "contradicted",
                                      "reasons": [] if s.label else ["negation_conflict"], "mc_label": m})
                 for s, m in zip(base.steps, mc, strict=False)]
        return base.model_copy(update={"steps": steps})

    items = [with_mc(i, [True, False, True, True, False]) for i in range(8)]
    out = write(tmp_path, items)
    result = run(out, "rollout_agreement")
    got = rows_as_dicts(result)
    expected_steps = sum(1 for it in items for s in it.steps if s.mc_label is not None)
    by_task = [r for r in got if r["grouping"] == "task"]
    assert sum(r["steps"] for r in by_task) == expected_steps
    agree = sum(1 for it in items for s in it.steps if s.mc_label is not None and s.mc_label == s.label)
    assert sum(round(r["agreement"] * r["steps"]) for r in by_task) == agree
    assert {r["value"] for r in got if r["grouping"] == "reason"} <= {"none", "negation_conflict"}
    assert run(write(tmp_path / "none", [make_item(0)]), "rollout_agreement").rows == []

"""`radprm.evaluation.iu_sets`: pools, briefs, the annotator's input and the merge of a cold IU writer round.

The reports here are made up; the real round reads ../shared by path and keeps its sets outside the repository.
"""

import csv
import json

import pytest

from radprm.errors import InputError
from radprm.evaluation.iu_sets import annotator_input, build, draw_pools, eligible_reports, main, render_brief, score
from radprm.evaluation.steps import eval_steps


def _csv(path, header, rows):
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)
    return path


@pytest.fixture
def reports(tmp_path):
    rows = [(str(i), "No effusion." if i % 5 else "", "Normal." if i != 3 else "") for i in range(1, 21)]
    rep = _csv(tmp_path / "reports.csv", ["uid", "findings", "impression"], rows)
    dev = _csv(tmp_path / "dev.csv", ["uid", "normal"], [(str(i), 1) for i in range(1, 19)])
    return rep, dev


def test_eligible_reports_need_dev_labels_findings_impression_and_not_excluded(reports):
    rep, dev = reports
    ids = eligible_reports(rep, dev, exclude={"7"})
    # 19, 20: no dev labels; 5, 10, 15: no findings; 3: no impression; 7: excluded
    assert ids == sorted(str(i) for i in range(1, 19) if i % 5 and i not in (3, 7))


def test_pools_are_disjoint_reproducible_and_seeded():
    ids = [str(i) for i in range(100)]
    a, b, c = draw_pools(ids, 1, 3, 30), draw_pools(ids, 1, 3, 30), draw_pools(ids, 2, 3, 30)
    assert a == b and a != c
    assert [len(p) for p in a] == [30, 30, 30] and len({i for p in a for i in p}) == 90
    assert [len(p) for p in draw_pools(ids, 1, 5, 30)] == [30, 30, 30, 10]  # the last pool is what is left


def test_briefs_are_filled_in():
    w = render_brief("writer", "w9", ["11", "12"])
    assert "/work/staging/w9/" in w and "11 12" in w and "{W}" not in w and "{POOL}" not in w
    a = render_brief("annotator", "a9")
    assert "/work/staging/a9/" in a and "{A}" not in a


def _writer_file(tmp_path):
    chains = [
        {"chain_id": "w-c001", "report_id": "1", "style": "report", "question": "Effusion?", "options": ["yes", "no"],
         "answer": ["no"], "steps": ["I'll check the pleura.", "There is an effusion.", "Answer: no."],
         "labels": [{"good": True, "kind": "plan"}, {"good": False, "kind": "negation"},
                    {"good": True, "kind": "answer"}]},
    ]
    path = tmp_path / "w" / "chains.jsonl"
    path.parent.mkdir()
    path.write_text("".join(json.dumps(c) + "\n" for c in chains))
    return path


def test_annotator_sees_neither_labels_nor_answer(tmp_path):
    out = tmp_path / "a" / "chains_to_label.jsonl"
    assert annotator_input(_writer_file(tmp_path), out) == 1
    row = json.loads(out.read_text())
    assert "labels" not in row and "answer" not in row and row["steps"][1] == "There is an effusion."


def test_annotator_input_names_the_missing_field(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"chain_id": "x", "report_id": "1", "question": "q", "options": [], "steps": []}) + "\n")
    with pytest.raises(InputError, match="annotator needs") as exc:
        annotator_input(path, tmp_path / "out.jsonl")
    assert exc.value.row == 1 and exc.value.field == "style"


def test_build_scores_agreed_unambiguous_steps_only(tmp_path):
    labels = tmp_path / "labels.jsonl"
    labels.write_text("".join(json.dumps(r) + "\n" for r in [
        {"chain_id": "w-c001", "step_index": 0, "good": True, "kind": "plan", "ambiguous": False},
        {"chain_id": "w-c001", "step_index": 1, "good": False, "kind": "negation", "ambiguous": True},
    ]))  # step 2 unlabelled
    counts = build(_writer_file(tmp_path), labels, tmp_path / "set", split="tune")
    rows = [json.loads(line) for line in (tmp_path / "set" / "expected.jsonl").open()]
    assert [r["scored"] for r in rows] == [True, False, False]
    assert counts[True] == 1 and counts[False] == 2 and counts["missing"] == 1
    assert rows[1]["kind_b"] == "negation" and rows[2]["kind_b"] is None and {r["split"] for r in rows} == {"tune"}
    chain = json.loads((tmp_path / "set" / "chains.jsonl").read_text())
    assert "labels" not in chain and chain["split"] == "tune"


def test_build_rejects_labels_that_do_not_match_steps(tmp_path, capsys):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"chain_id": "x", "report_id": "1", "steps": ["a", "b"], "labels": [{}]}) + "\n")
    (tmp_path / "l.jsonl").write_text("")
    with pytest.raises(SystemExit, match=r"^error: .*labels do not match the steps"):
        main(["build", str(path), str(tmp_path / "l.jsonl"), str(tmp_path / "set")])


def test_cli_pools_excludes_ids_from_a_chains_file(reports, tmp_path, capsys):
    rep, dev = reports
    used = tmp_path / "used.jsonl"
    used.write_text(json.dumps({"report_id": 1}) + "\n" + json.dumps({"report_id": "2"}) + "\n")
    main(["pools", "--seed", "3", "--count", "2", "--size", "4", "--reports", str(rep), "--dev-labels", str(dev),
          "--exclude", str(used)])
    pools = [line.split() for line in capsys.readouterr().out.splitlines()]
    assert [len(p) for p in pools] == [4, 4] and not {"1", "2"} & {i for p in pools for i in p}


def _scored_set(tmp_path, name, report_id, steps_labels):
    """A built set over a made-up report: chains.jsonl + expected.jsonl, every step scored."""
    d = tmp_path / name
    d.mkdir()
    steps = [s for s, _ in steps_labels]
    (d / "chains.jsonl").write_text(json.dumps({"chain_id": f"{name}-c1", "report_id": report_id, "steps": steps,
                                                "split": "tune"}) + "\n")
    (d / "expected.jsonl").write_text("".join(
        json.dumps({"chain_id": f"{name}-c1", "step_index": i, "step": s, "good": good, "kind": kind,
                    "scored": True, "split": "tune"}) + "\n"
        for i, (s, (good, kind)) in enumerate(steps_labels)))
    return d


def test_score_validates_each_set_and_pools_them(tmp_path):
    reports = tmp_path / "reports.jsonl"
    reports.write_text(json.dumps({"report_id": "r1", "text": "FINDINGS: Small left pleural effusion. Heart size is "
                                   "normal. No pneumothorax."}) + "\n")
    a = _scored_set(tmp_path, "wa", "r1", [("I'll check the pleura first.", (True, "plan")),
                                            ("There is a small right pleural effusion.", (False, "laterality")),
                                            ("The heart size is normal.", (True, "restate"))])
    b = _scored_set(tmp_path, "wb", "r1", [("There is a large pneumothorax.", (False, "negation")),
                                            ("There is a small left pleural effusion.", (True, "restate"))])
    out = tmp_path / "out"
    got = score([a, b], out, abstention="none", reports=reports, id_col="report_id", text_col="text")
    assert [g.name for g in got] == ["wa", "wb", "pooled"]
    for one, d in zip(got, (a, b), strict=False):
        # the same figures `radprm eval steps` gives on the step table written for the set
        r = eval_steps(out / f"{d.name}.parquet", d / "expected.jsonl")
        assert (one.recall.hits, one.recall.n) == (r.recall_all.hits, r.recall_all.n)
        assert (one.false_flags.hits, one.false_flags.n) == (r.false_flags_all.hits, r.false_flags_all.n)
    assert got[0].recall.n == 1 and got[0].false_flags.n == 2 and got[0].plan_flags.n == 1
    pooled = got[-1]
    assert pooled.recall.n == 2 and pooled.false_flags.n == 3
    assert pooled.recall.hits == got[0].recall.hits + got[1].recall.hits
    assert pooled.coverage.n == 5 and "pooled" in pooled.line()


def test_score_names_a_folder_that_is_not_a_set(tmp_path, capsys):
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "chains.jsonl").write_text("")
    with pytest.raises(SystemExit, match=r"^error: .*expected\.jsonl.*not a set"):
        main(["score", str(tmp_path / "half"), "--out", str(tmp_path / "out")])


def test_diff_shows_moved_steps_outside_test_and_only_counts_test_rows(tmp_path, capsys):
    import pyarrow as pa
    import pyarrow.parquet as pq

    keys = [("c1", 0), ("c1", 1), ("c2", 0), ("c2", 1)]

    def table(path, labels, reasons):
        pq.write_table(pa.table({"chain_id": [k[0] for k in keys], "step_index": [k[1] for k in keys],
                                 "label": labels, "reasons": reasons, "verdict": ["x"] * 4, "step": ["s"] * 4}), path)
        return path

    before = table(tmp_path / "a.parquet", [True, True, True, False], [[], [], [], ["negation_conflict"]])
    after = table(tmp_path / "b.parquet", [True, False, False, False], [[], ["laterality_conflict"], ["x"],
                                                                         ["negation_conflict"]])
    expected = tmp_path / "e.jsonl"
    expected.write_text("".join(json.dumps({"chain_id": c, "step_index": i, "step": f"{c} step {i}", "good": good,
                                            "kind": kind, "scored": True, "split": split}) + "\n"
                                for (c, i), good, kind, split in zip(
                                    keys, (True, False, True, False), ("plan", "laterality", "restate", "negation"),
                                    ("tune", "tune", "test", "test"), strict=True)))
    main(["diff", str(before), str(after), str(expected)])
    out = capsys.readouterr().out.splitlines()
    # c1#1 moved (tune): shown with the truth; c2#0 moved too but is a test row: counted, never shown
    assert out[0].startswith("c1#1 bad/laterality: good [] -> bad ['laterality_conflict'] :: c1 step 1")
    assert out[-1] == "1 steps moved outside the test split; 1 test rows moved (not shown)"
    assert not any("c2" in line for line in out)

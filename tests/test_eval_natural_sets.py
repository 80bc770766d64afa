"""`radprm.evaluation.natural_sets`: the merge behind the committed synthetic chain sets."""

import json
import shutil
from pathlib import Path

import pytest

from radprm.errors import InputError
from radprm.evaluation.natural_sets import (
    build_from_writers_file,
    build_set,
    hash_split,
    main,
    read_labels,
    render_agreement,
)

SET = Path(__file__).resolve().parents[1] / "evaluation" / "data" / "synthetic-chains"
WRITERS = ("writer1", "writer2", "writer3", "writer4")
LABEL_FILES = ("annotator_b_labels.jsonl", "annotator_b_labels_w34.jsonl")


def _copy_set(tmp_path: Path) -> Path:
    folder = tmp_path / "set"
    for writer in WRITERS:
        shutil.copytree(SET / writer, folder / writer)
    for name in LABEL_FILES:
        shutil.copy(SET / name, folder / name)
    return folder


def test_build_set_reproduces_committed_synthetic_chains(tmp_path):
    folder = _copy_set(tmp_path)
    agree = build_set(folder, dict.fromkeys(WRITERS, read_labels(folder, *LABEL_FILES)),
                      lambda _writer, report_id: hash_split(report_id))
    for name in ("chains", "expected", "reports"):
        assert (folder / f"{name}.jsonl").read_bytes() == (SET / f"{name}.jsonl").read_bytes(), name
    expected = [json.loads(line) for line in (SET / "expected.jsonl").open()]
    assert sum(agree.values()) == len(expected)
    assert agree[("test", True)] == sum(1 for r in expected if r["split"] == "test" and r["scored"])
    assert render_agreement(agree).startswith("{'test scored=")


def test_build_set_step_style_and_writer_split(tmp_path):
    folder = _copy_set(tmp_path)
    labels = read_labels(folder, *LABEL_FILES)
    agree = build_set(folder, {"writer1": labels}, lambda writer, _report_id: f"split-{writer}", step_style=True)
    rows = [json.loads(line) for line in (folder / "expected.jsonl").open()]
    assert rows and all(list(r)[-1] == "style" and r["split"] == "split-writer1" for r in rows)
    assert {split for split, _scored in agree} == {"split-writer1"}
    chains = [json.loads(line) for line in (folder / "chains.jsonl").open()]
    assert chains and all("labels" not in c for c in chains)


@pytest.mark.parametrize("name", [f"synthetic-chains-{k}" for k in (2, 3, 4, 5)])
def test_sets_split_by_writer_rebuild_from_their_writers_file(tmp_path, name, capsys):
    """`python -m radprm.evaluation.natural_sets FOLDER` rebuilds each committed set split by writer, byte for byte,
    from the writers' files, the annotator labels and `writers.json`."""
    committed = SET.parent / name
    folder = tmp_path / name
    shutil.copytree(committed, folder, ignore=shutil.ignore_patterns("chains.jsonl", "expected.jsonl", "reports.jsonl"))
    for writer in json.loads((committed / "writers.json").read_text()):
        shutil.copy(committed / writer / "chains.jsonl", folder / writer / "chains.jsonl")
        shutil.copy(committed / writer / "reports.jsonl", folder / writer / "reports.jsonl")
    main([str(folder)])
    assert "scored=True" in capsys.readouterr().out
    for part in ("chains", "expected", "reports"):
        assert (folder / f"{part}.jsonl").read_bytes() == (committed / f"{part}.jsonl").read_bytes(), part


def test_a_set_without_a_usable_writers_file_is_one_error(tmp_path):
    with pytest.raises(InputError, match="no writers file"):
        build_from_writers_file(tmp_path)
    writers = tmp_path / "writers.json"
    for text, message in [(json.dumps({"writer1": {"labels": "a.jsonl"}}), "needs 'labels' and 'split'"),
                          ("{not json", "not JSON"), (json.dumps(["writer1"]), "not a JSON object")]:
        writers.write_text(text)
        with pytest.raises(InputError, match=message):
            build_from_writers_file(tmp_path)
    # the command line: one line naming the file, exit 1, nothing written
    with pytest.raises(SystemExit) as stop:
        main([str(tmp_path)])
    assert str(stop.value).startswith(f"error: {writers}: not a JSON object") and "\n" not in str(stop.value)
    assert not (tmp_path / "expected.jsonl").exists()

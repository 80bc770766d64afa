"""Build a committed chain set (`evaluation/data/synthetic-chains*/`) in the natural-chains layout.

Each set folder holds one sub-folder per writer (`reports.jsonl`, `chains.jsonl` whose rows carry the
writer's step `labels`) and the blind second annotator's labels (JSONL rows with `chain_id`,
`step_index`, `good`, `kind`, `ambiguous`). `build_set` merges them into three files beside them:

* ``chains.jsonl``: the writers' chains without their labels, plus ``split``;
* ``expected.jsonl``: one row per step (chain_id, step_index, step, good, kind, kind_b, scored, split and,
  with ``step_style``, the chain's style); a step is ``scored`` when both labels agree on good/bad and the
  annotator did not call it ambiguous;
* ``reports.jsonl``: the writers' made-up reports plus ``split`` and a ``text`` field (FINDINGS / IMPRESSION).

A set split by writer says which writers, label files and splits it uses in its `writers.json`
(``{"writer9": {"labels": "annotator_b_labels_w9.jsonl", "split": "tune"}, ...}``) and is rebuilt with
``python -m radprm.evaluation.natural_sets FOLDER``; a set split otherwise keeps its own `build.py`. The data
folders are hyphenated (not importable), so the merge lives here, once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from radprm.errors import InputError, RadprmError

Labels = Mapping[tuple[str, int], dict[str, Any]]
"""The second annotator's labels by (chain_id, step_index)."""


def read_labels(folder: Path, *names: str) -> dict[tuple[str, int], dict[str, Any]]:
    """The second annotator's labels from the JSONL files `names` in `folder`, keyed by (chain_id, step_index)."""
    return {(r["chain_id"], r["step_index"]): r for name in names for r in map(json.loads, (folder / name).open())}


def hash_split(report_id: str) -> str:
    """'tune' for about 60 % of report ids (sha256 of the id), else 'test'."""
    return "tune" if int(hashlib.sha256(report_id.encode()).hexdigest(), 16) % 10 < 6 else "test"


def build_set(folder: Path, writers: Mapping[str, Labels], split_of: Callable[[str, str], str], *,
              step_style: bool = False) -> Counter:
    """Merge the writers' chains with the second annotator's labels and write the three set files.

    Args:
        folder: the set folder (writer sub-folders inside; the outputs are written here).
        writers: writer folder name -> the second annotator's labels of its chains, in output order.
        split_of: (writer, report_id) -> split name.
        step_style: add the chain's `style` to each expected row.

    Returns:
        Steps counted by (split, scored).
    """
    chains_out, expected_out, reports_out = [], [], []
    agree: Counter = Counter()
    for writer, b in writers.items():
        for rep in map(json.loads, (folder / writer / "reports.jsonl").open()):
            parts = [f"{k.upper()}: {rep[k]}" for k in ("findings", "impression") if rep.get(k)]
            reports_out.append({**rep, "split": split_of(writer, rep["report_id"]), "text": "\n".join(parts)})
        for ch in map(json.loads, (folder / writer / "chains.jsonl").open()):
            split = split_of(writer, ch["report_id"])
            labels = ch.pop("labels")
            chains_out.append({**ch, "split": split})
            for i, (step, la) in enumerate(zip(ch["steps"], labels, strict=True)):
                lb = b[(ch["chain_id"], i)]
                scored = la["good"] == lb["good"] and not lb.get("ambiguous")
                agree[(split, scored)] += 1
                row = {"chain_id": ch["chain_id"], "step_index": i, "step": step, "good": la["good"],
                       "kind": la["kind"], "kind_b": lb["kind"], "scored": scored, "split": split}
                expected_out.append({**row, "style": ch.get("style")} if step_style else row)
    for name, rows in (("chains", chains_out), ("expected", expected_out), ("reports", reports_out)):
        with (folder / f"{name}.jsonl").open("w") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    return agree


def render_agreement(agree: Counter) -> str:
    """The line a build prints: steps by split and scored."""
    return str({f"{k[0]} scored={k[1]}": v for k, v in sorted(agree.items())})


def build_split_by_writer(folder: Path, writers: Mapping[str, tuple[str, str]]) -> str:
    """Build a set split by writer (writer -> (its second annotator's label file, split)), with each step's
    chain style; returns the agreement line to print."""
    labels = {writer: read_labels(folder, label_file) for writer, (label_file, _split) in writers.items()}
    return render_agreement(build_set(folder, labels, lambda writer, _report_id: writers[writer][1], step_style=True))


WRITERS_FILE = "writers.json"


def build_from_writers_file(folder: Path) -> str:
    """Build the set in `folder` as its `writers.json` says (writer -> label file and split).

    Raises:
        InputError: no `writers.json`, one that is not a JSON object, or an entry without `labels` or `split`.
    """
    path = Path(folder) / WRITERS_FILE
    if not path.is_file():
        raise InputError("no writers file", path=str(path), hint="write {writer: {labels, split}} there")
    try:
        spec = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg} (line {exc.lineno})", path=str(path)) from exc
    if not isinstance(spec, dict):
        raise InputError("not a JSON object of writers", path=str(path), hint="write {writer: {labels, split}}")
    writers = {}
    for writer, entry in spec.items():
        if not isinstance(entry, dict) or not {"labels", "split"} <= entry.keys():
            raise InputError("each writer needs 'labels' and 'split'", path=str(path), field=writer)
        writers[writer] = (entry["labels"], entry["split"])
    return build_split_by_writer(Path(folder), writers)


def main(argv: list[str] | None = None) -> None:
    """``python -m radprm.evaluation.natural_sets FOLDER``: rebuild a set split by writer from its writers.json."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("folder", type=Path, help="the set folder (holds writers.json, writer*/, annotator labels)")
    folder = ap.parse_args(argv).folder
    try:
        print(build_from_writers_file(folder))
    except RadprmError as exc:
        raise SystemExit(f"error: {exc}") from None  # one line, exit 1, as the CLI does


if __name__ == "__main__":
    main()

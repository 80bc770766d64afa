"""Writer sets over real IU reports: the scaffolding of a cold evaluation round, kept in the repository.

A round (evaluation/README.md, "IU writer sets") is: draw pools of dev reports nobody used, brief one
independent writer per pool (`briefs/writer-iu-reports.md`), hand the writer's chains without labels or
answers to one blind annotator (`briefs/annotator-iu-reports.md`), then merge both into a set in the
natural-chains layout and score it with `radprm validate` + `radprm eval steps` before anyone reads a
chain. The chains are derived from CC BY-NC-ND reports, so the sets stay outside the repository; what is
kept here is how to make them again (pool seeds are recorded in the README)::

    python -m radprm.evaluation.iu_sets pools --seed 4201 --count 4 > pools.txt
    python -m radprm.evaluation.iu_sets brief writer --name w170 --pool "$(sed -n 1p pools.txt)" > p-w170.md
    python -m radprm.evaluation.iu_sets annotator-input W_DIR/chains.jsonl A_DIR/chains_to_label.jsonl
    python -m radprm.evaluation.iu_sets brief annotator --name a170 > p-a170.md
    python -m radprm.evaluation.iu_sets build W_DIR/chains.jsonl A_DIR/labels.jsonl SET_DIR [--split tune]
    python -m radprm.evaluation.iu_sets score SET_DIR [SET_DIR ...] --out OUT_DIR [--abstention none]
    python -m radprm.evaluation.iu_sets diff BEFORE.parquet AFTER.parquet EXPECTED.jsonl

`score` validates each set with the rules of the radprm it runs under (put another checkout first on
PYTHONPATH to score with its rules, e.g. the rules a stop began with) and prints recall, false flags and the
masked precision per set and pooled.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from radprm.errors import InputError, RadprmError
from radprm.evaluation.steps import Rate, eval_steps, natural_rows, pct, read_preds

BRIEFS = Path(__file__).resolve().parent / "briefs"
SHARED = Path(__file__).resolve().parents[2] / "shared"
POOL_SIZE = 45
ANNOTATOR_FIELDS = ("chain_id", "report_id", "style", "question", "options", "steps")
"""What the blind annotator sees of a chain: never the writer's labels or answer."""


def _jsonl(path: Path) -> list[dict]:
    rows = []
    with Path(path).open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise InputError(f"not JSON: {exc.msg}", path=str(path), row=n) from exc
    return rows


def eligible_reports(reports_csv: Path, dev_labels_csv: Path, exclude: Iterable[str] = ()) -> list[str]:
    """Report ids with dev gold labels, findings and impression, not in `exclude`, sorted."""
    with Path(dev_labels_csv).open(encoding="utf-8") as f:
        dev = {row["uid"] for row in csv.DictReader(f)}
    skip = set(exclude)
    with Path(reports_csv).open(encoding="utf-8") as f:
        return sorted(
            row["uid"] for row in csv.DictReader(f)
            if row["uid"] in dev and row["uid"] not in skip
            and (row.get("findings") or "").strip() and (row.get("impression") or "").strip()
        )


def draw_pools(ids: list[str], seed: int, count: int, size: int = POOL_SIZE) -> list[list[str]]:
    """`count` disjoint pools of `size` ids, shuffled with `seed` (the same seed gives the same pools)."""
    order = list(ids)
    random.Random(seed).shuffle(order)
    pools = [order[i * size:(i + 1) * size] for i in range(count)]
    return [p for p in pools if p]


def render_brief(kind: str, name: str, pool: Iterable[str] = ()) -> str:
    """The committed brief of `kind` (writer | annotator) with its folder name (and, for a writer, its pool)."""
    text = (BRIEFS / f"{kind}-iu-reports.md").read_text(encoding="utf-8")
    if kind == "writer":
        return text.replace("{W}", name).replace("{POOL}", " ".join(pool))
    return text.replace("{A}", name)


def annotator_input(writer_chains: Path, out: Path) -> int:
    """Write the writer's chains as the annotator sees them (ANNOTATOR_FIELDS only); returns the chain count.

    Raises:
        InputError: a row that is not JSON or lacks one of ANNOTATOR_FIELDS (file, row and field named).
    """
    rows = _jsonl(writer_chains)
    for n, row in enumerate(rows, 1):
        missing = [k for k in ANNOTATOR_FIELDS if k not in row]
        if missing:
            raise InputError("chain without a field the annotator needs", path=str(writer_chains), row=n,
                             field=missing[0])
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    with Path(out).open("w", encoding="utf-8") as f:
        f.writelines(json.dumps({k: row[k] for k in ANNOTATOR_FIELDS}) + "\n" for row in rows)
    return len(rows)


def build(writer_chains: Path, annotator_labels: Path, out_dir: Path, split: str = "tune") -> Counter:
    """Merge a writer's labelled chains with the blind annotator's labels into `out_dir`/chains.jsonl and
    expected.jsonl (the natural-chains layout, every row in `split`). A step is scored when both say the same
    good/bad and the annotator did not call it ambiguous; a step the annotator left out is not scored.

    Returns:
        Steps counted by scored (True/False) and by "missing" (steps without an annotator label).

    Raises:
        InputError: a chain whose labels do not match its steps, or a row that is not JSON.
    """
    b = {(r["chain_id"], r["step_index"]): r for r in _jsonl(annotator_labels)}
    chains, expected, counts = [], [], Counter()
    for n, chain in enumerate(_jsonl(writer_chains), 1):
        labels = chain.pop("labels", None)
        if not isinstance(labels, list) or len(labels) != len(chain.get("steps") or []):
            raise InputError("labels do not match the steps", path=str(writer_chains), row=n, field="labels")
        chains.append({**chain, "split": split})
        for i, (step, la) in enumerate(zip(chain["steps"], labels, strict=True)):
            lb = b.get((chain["chain_id"], i))
            counts["missing"] += lb is None
            scored = lb is not None and la["good"] == lb["good"] and not lb.get("ambiguous")
            counts[scored] += 1
            expected.append({"chain_id": chain["chain_id"], "step_index": i, "step": step, "good": la["good"],
                             "kind": la["kind"], "kind_b": lb["kind"] if lb else None, "scored": scored,
                             "split": split, "style": chain.get("style")})
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, rows in (("chains", chains), ("expected", expected)):
        with (out_dir / f"{name}.jsonl").open("w", encoding="utf-8") as f:
            f.writelines(json.dumps(r) + "\n" for r in rows)
    return counts


@dataclass
class SetScore:
    """The figures of one set (or of several pooled): hits and n of each rate."""

    name: str
    recall: Rate = field(default_factory=Rate)
    false_flags: Rate = field(default_factory=Rate)
    plan_flags: Rate = field(default_factory=Rate)
    precision_masked: Rate = field(default_factory=Rate)
    coverage: Rate = field(default_factory=Rate)

    def add(self, other: SetScore) -> None:
        """Pool `other` into this one."""
        for name in ("recall", "false_flags", "plan_flags", "precision_masked", "coverage"):
            mine, theirs = getattr(self, name), getattr(other, name)
            mine.n += theirs.n
            mine.hits += theirs.hits

    def line(self) -> str:
        """One line: each rate as hits/n and percent."""
        return f"{self.name:<10} " + "  ".join(
            f"{label} {r.hits}/{r.n} {pct(r.rate)}"
            for label, r in (("recall", self.recall), ("false flags", self.false_flags), ("plans", self.plan_flags),
                             ("precision masked", self.precision_masked), ("coverage", self.coverage))
        )


def score(set_dirs: Iterable[Path], out_dir: Path, *, split: str = "all", abstention: str | None = None,
          reports: Path = SHARED / "data/iu-xray/indiana_reports.csv", **reader_options: object) -> list[SetScore]:
    """Validate each set's chains (`radprm validate`) into `out_dir`/NAME.parquet and score them against its
    expected.jsonl (`radprm eval steps`); the last item pools them all.

    Raises:
        InputError: a set without chains.jsonl / expected.jsonl, or what validating or scoring raises.
    """
    from radprm.validators.batch import validate_file  # (the validator loads medspaCy: only when scoring)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pooled, scores = SetScore("pooled"), []
    for set_dir in map(Path, set_dirs):
        chains, expected = set_dir / "chains.jsonl", set_dir / "expected.jsonl"
        for path in (chains, expected):
            if not path.is_file():
                raise InputError("not a set: run `build` first", path=str(path))
        pred = out_dir / f"{set_dir.name}.parquet"
        validate_file(chains, reports, pred, abstention=abstention, progress=False, **reader_options)
        r = eval_steps(pred, expected, split=split)
        one = SetScore(set_dir.name, r.recall_all, r.false_flags_all, r.false_flags.get("plan", Rate()),
                       r.precision_masked, r.coverage)
        scores.append(one)
        pooled.add(one)
    return [*scores, pooled]


def label_changes(before: Path, after: Path, expected: Path) -> tuple[list[str], int]:
    """What a rule change moved: one line per step of EXPECTED whose label or reasons differ between two step
    tables, outside the `test` split; the test rows that moved are only counted (a rule author never reads them).

    Raises:
        InputError: what reading the tables raises (a missing column, a duplicate step).
    """
    a, b = read_preds(Path(before), unique=True), read_preds(Path(after), unique=True)
    lines, hidden = [], 0
    for row in natural_rows(Path(expected)):
        x, y = a.get(row.key), b.get(row.key)
        if x is None or y is None or (x.label == y.label and sorted(x.reasons) == sorted(y.reasons)):
            continue
        if row.split == "test":
            hidden += 1
            continue
        truth = f"{'good' if row.good else 'bad'}/{row.kind}{'' if row.scored else ' (unscored)'}"
        lines.append(f"{row.key[0]}#{row.key[1]} {truth}: {'good' if x.label else 'bad'} {x.reasons} -> "
                     f"{'good' if y.label else 'bad'} {y.reasons} :: {row.step}")
    return lines, hidden


def main(argv: list[str] | None = None) -> None:
    """``python -m radprm.evaluation.iu_sets pools|brief|annotator-input|build|score|diff``: a round's scaffolding."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pools", help="print pools of unused dev report ids, one pool a line")
    p.add_argument("--seed", type=int, required=True)
    p.add_argument("--count", type=int, default=4)
    p.add_argument("--size", type=int, default=POOL_SIZE)
    p.add_argument("--reports", type=Path, default=SHARED / "data/iu-xray/indiana_reports.csv")
    p.add_argument("--dev-labels", type=Path, default=SHARED / "data/labels/openi_chestxray14_dev.csv")
    p.add_argument("--exclude", type=Path, action="append", default=[],
                   help="a chains JSONL (report_id) or a text file of ids whose reports are not drawn; repeatable")
    b = sub.add_parser("brief", help="print a committed brief filled in")
    b.add_argument("kind", choices=("writer", "annotator"))
    b.add_argument("--name", required=True, help="the helper's folder name (w170, a170)")
    b.add_argument("--pool", default="", help="writer: the pool's ids, space-separated")
    a = sub.add_parser("annotator-input", help="the writer's chains without labels or answers")
    a.add_argument("writer_chains", type=Path)
    a.add_argument("out", type=Path)
    m = sub.add_parser("build", help="merge writer and annotator labels into a natural-layout set")
    m.add_argument("writer_chains", type=Path)
    m.add_argument("annotator_labels", type=Path)
    m.add_argument("out_dir", type=Path)
    m.add_argument("--split", default="tune")
    sc = sub.add_parser("score", help="validate sets and print recall / false flags per set and pooled")
    sc.add_argument("set_dirs", type=Path, nargs="+")
    sc.add_argument("--out", type=Path, required=True, help="folder for the step tables (SET_NAME.parquet)")
    sc.add_argument("--split", default="all")
    sc.add_argument("--abstention", default=None, help="as `radprm validate --abstention` (none: rules alone)")
    sc.add_argument("--reports", type=Path, default=SHARED / "data/iu-xray/indiana_reports.csv")
    sc.add_argument("--id-col", default=None)
    sc.add_argument("--text-col", default=None)
    df = sub.add_parser("diff", help="steps whose label or reasons moved between two step tables (test rows counted)")
    df.add_argument("before", type=Path)
    df.add_argument("after", type=Path)
    df.add_argument("expected", type=Path)
    args = ap.parse_args(argv)
    try:
        if args.cmd == "pools":
            exclude: set[str] = set()
            for path in args.exclude:
                if path.suffix == ".jsonl":
                    exclude |= {str(r["report_id"]) for r in _jsonl(path)}
                else:
                    exclude |= set(path.read_text(encoding="utf-8").split())
            ids = eligible_reports(args.reports, args.dev_labels, exclude)
            for pool in draw_pools(ids, args.seed, args.count, args.size):
                print(" ".join(pool))
        elif args.cmd == "brief":
            print(render_brief(args.kind, args.name, args.pool.split()), end="")
        elif args.cmd == "annotator-input":
            print(f"{annotator_input(args.writer_chains, args.out)} chains -> {args.out}")
        elif args.cmd == "diff":
            lines, hidden = label_changes(args.before, args.after, args.expected)
            print("\n".join([*lines, f"{len(lines)} steps moved outside the test split; {hidden} test rows moved "
                                      "(not shown)"]))
        elif args.cmd == "score":
            options = {k: v for k, v in (("id_col", args.id_col), ("text_col", args.text_col)) if v is not None}
            for one in score(args.set_dirs, args.out, split=args.split, abstention=args.abstention,
                             reports=args.reports, **options):
                print(one.line())
        else:
            c = build(args.writer_chains, args.annotator_labels, args.out_dir, args.split)
            print(f"{c[True] + c[False]} steps, {c[True]} scored, {c['missing']} without an annotator label")
    except (RadprmError, OSError) as exc:
        raise SystemExit(f"error: {exc}") from None  # one line, exit 1, as the CLI does


if __name__ == "__main__":
    main()

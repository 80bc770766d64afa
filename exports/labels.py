"""Label fusion for exports: which source labels each step (`--labels`), and how the sources combine.

Sources of a step's good/bad label:

* report (R): the report-grounded step validator (`label`, with `--unsure` applied to its undecided
  steps: masked, or forced good / bad; human review labels first with `--use-reviews`);
* rollout (M): the Monte-Carlo rollout label `mc_label` (`radprm label rollouts`, Math-Shepherd's hard
  estimate: good when some continuation from the prefix reached the reference answer); masked where the
  step was not rolled out;
* judge (J): the optional LLM judge's own label (`radprm mine --judge`, the `judge_steps.jsonl` sidecar
  beside the shard folder); masked where the judge was not asked or failed.

`--labels`:

============  =============================================================================================
report        R (the default; what every export wrote before fusion existed)
rollout       M
agree         R where R and M agree; masked where they disagree or either is missing. Fewer labels,
              each confirmed by two independent sources.
any-bad       bad when R or M says bad; good when both say good; masked otherwise. This adds the two
              sources' false flags together: every false "bad" of either source stays a bad label.
judge         J
============  =============================================================================================

A masked step has no label: TRL ends the chain before it (`--masked cut`, the default) or keeps it with
`label_mask` False (`--masked keep`); PRM800K rates it null; ChestX-Reasoner writes null. The
first-bad-step convention (`--after-first-bad`) runs on the fused labels.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.schemas.records import Item

LABEL_SOURCES = ("report", "rollout", "agree", "any-bad", "judge")
NEEDS_ROLLOUTS = ("rollout", "agree", "any-bad")


def check_labels(value: str) -> None:
    """Raise InputError for an unknown label source."""
    if value not in LABEL_SOURCES:
        raise InputError(f"unknown label source '{value}' ({', '.join(LABEL_SOURCES)})", field="labels",
                         hint="check --labels")


def fuse(report: bool | None, rollout: bool | None, source: str, judge: bool | None = None) -> bool | None:
    """One step's exported label from its sources (None: masked). See the module docs for the rules."""
    if source == "report":
        return report
    if source == "rollout":
        return rollout
    if source == "judge":
        return judge
    if source == "agree":
        return report if report is not None and report == rollout else None
    if source == "any-bad":
        if report is False or rollout is False:
            return False
        return True if report and rollout else None
    raise InputError(f"unknown label source '{source}'", field="labels")


def fused_labels(item: Item, report: list[bool | None], source: str,
                 judge: dict[tuple[str, int], bool] | None = None) -> list[bool | None]:
    """Every step's exported label, given the report labels after the unsure policy."""
    judge = judge or {}
    return [fuse(r, s.mc_label, source, judge.get((item.item_id, s.index)))
            for r, s in zip(report, item.steps, strict=True)]


def check_sources(directory: str | Path, source: str) -> dict[tuple[str, int], bool] | None:
    """Check that the shards carry the labels `source` needs; returns the judge labels for `judge`.

    Raises:
        InputError: no rollout labels in the shards (for rollout / agree / any-bad), or no judge sidecar
            (for judge), naming the directory and `--labels`.
    """
    check_labels(source)
    from radprm.shards.location import is_uri

    directory = directory if is_uri(directory) else Path(directory)
    if source in NEEDS_ROLLOUTS:
        from radprm.shards.reader import query

        _, rows = query(directory, "SELECT count(*) FROM steps WHERE mc_label IS NOT NULL")
        if not rows[0][0]:
            raise InputError(f"no rollout labels in these shards (needed by --labels {source})", path=directory,
                             field="labels", hint="run `radprm label rollouts` and export its shards")
        return None
    if source == "judge":
        return judge_labels(directory)
    return None


def judge_labels(directory: str | Path) -> dict[tuple[str, int], bool]:
    """The judge's own labels of a shard folder's items, from the `judge_steps.jsonl` sidecar beside it.

    Raises:
        InputError: no sidecar (the shards were mined without `--judge`).
    """
    from radprm.validators.judge import SIDECAR, read_sidecar

    path = Path(directory).resolve().parent / SIDECAR
    if not path.is_file():
        raise InputError("no judge labels beside these shards (needed by --labels judge)", path=path,
                         field="labels", hint="mine with --judge undecided|all, or choose another --labels")
    out: dict[tuple[str, int], bool] = {}
    for row in read_sidecar(path):
        if row.get("judge_label") in ("good", "bad"):
            out[(row["item_id"], int(row["step_index"]))] = row["judge_label"] == "good"
    return out


def soft_scores(item: Item, kept: int) -> list[float | None]:
    """The first `kept` steps' `mc_score` (None where not rolled out)."""
    return [s.mc_score for s in item.steps[:kept]]


def describe(source: str) -> dict[str, Any]:
    """What the export metadata records about the label source."""
    rules = {
        "report": "report-grounded step validator (unsure policy applied)",
        "rollout": "Monte-Carlo rollout label mc_label (Math-Shepherd hard estimate)",
        "agree": "report label where report and rollout agree, masked elsewhere",
        "any-bad": "bad if report or rollout says bad, good if both good, masked elsewhere",
        "judge": "LLM judge label (judge_steps.jsonl), masked where not judged",
    }
    return {"labels": source, "labels_rule": rules[source]}

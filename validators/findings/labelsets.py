"""Report-level labels from mention-level findings (CheXpert and ChestX-ray14 label sets).

Aggregation rule (CheXpert labeler convention), per label over the mentions of its observations:

1. mentions that cannot speak for the image are skipped: hypothetical ones ("to rule out pneumonia",
   "if symptoms persist") and those in the indication / history / comparison sections;
2. any positive mention -> 1; else any uncertain mention -> -1; else any negative mention -> 0;
   else None (unmentioned, written as an empty cell).

CheXpert's "No Finding" is 1 when no other label (except Support Devices) is 1 or -1 and no other
abnormality in the lexicon (emphysema, granuloma, scoliosis, ...) is positive; otherwise empty.
Which observations feed which label is data: `rules/labelsets.json`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from types import MappingProxyType

from radprm.errors import InputError
from radprm.schemas.records import Finding
from radprm.validators.findings.lexicon import RuleSet, load_findings_rules

SKIPPED_SECTIONS = frozenset({"indication", "history", "comparison"})
_RANK = {"positive": 3, "uncertain": 2, "negative": 1}
_VALUE = {"positive": 1, "uncertain": -1, "negative": 0}


@lru_cache(maxsize=1)
def _default_rules() -> RuleSet:
    return load_findings_rules()


def labelset_columns(labelset: str = "chestxray14", rules: RuleSet | None = None) -> list[str]:
    """Label names of a label set, in output column order.

    Raises:
        InputError: unknown label set name.
    """
    return list(_labelset(labelset, rules)["labels"])


def _labelset(labelset: str, rules: RuleSet | None) -> dict:
    sets = (rules or _default_rules()).labelsets
    if labelset not in sets:
        raise InputError(f"unknown label set '{labelset}'", field="labelset", hint="choose one of: " + ", ".join(sets))
    return sets[labelset]


def counts_for_label(finding: Finding) -> bool:
    """Whether a mention may set a report-level label (not hypothetical, not in the indication etc.)."""
    return not finding.hypothetical and finding.section not in SKIPPED_SECTIONS


def observation_status(findings: Iterable[Finding]) -> dict[str, str]:
    """Strongest assertion per observation (positive > uncertain > negative) over countable mentions."""
    best: dict[str, str] = {}
    for f in findings:
        if not counts_for_label(f):
            continue
        prev = best.get(f.observation)
        if prev is None or _RANK[f.assertion] > _RANK[prev]:
            best[f.observation] = f.assertion
    return best


def report_labels(
    findings: list[Finding], labelset: str = "chestxray14", *, rules: RuleSet | None = None
) -> dict[str, int | None]:
    """Aggregate one report's findings into labels: 1 positive, 0 negative, -1 uncertain, None unmentioned.

    Args:
        findings: the report's Finding rows (from `FindingsExtractor.extract_report`).
        labelset: "chestxray14" or "chexpert" (or any set defined in rules/labelsets.json).
        rules: the RuleSet whose label sets to use (default: the packaged rules).

    Returns:
        A dict with one key per label, in the label set's column order.

    Raises:
        InputError: unknown label set name.
    """
    spec = _labelset(labelset, rules)
    status = observation_status(findings)
    labels: dict[str, int | None] = {}
    for label, observations in spec["labels"].items():
        found = [status[o] for o in observations if o in status]
        labels[label] = _VALUE[max(found, key=_RANK.__getitem__)] if found else None
    nf = spec.get("no_finding")
    if nf is not None:
        ignore = set(nf.get("ignore_labels", [])) | {nf["label"]}
        abnormal = any(v in (1, -1) for k, v in labels.items() if k not in ignore)
        abnormal = abnormal or any(status.get(o) == "positive" for o in nf.get("other_abnormalities", []))
        labels[nf["label"]] = None if abnormal else 1
    return labels


def _labelsets_view() -> Mapping[str, tuple[str, ...]]:
    return MappingProxyType({name: tuple(spec["labels"]) for name, spec in _default_rules().labelsets.items()})


class _LazyLabelsets(Mapping[str, tuple[str, ...]]):
    """`LABELSETS[name]` -> label names in column order, read from the packaged rules on first use."""

    def __getitem__(self, key: str) -> tuple[str, ...]:
        return _labelsets_view()[key]

    def __iter__(self):
        return iter(_labelsets_view())

    def __len__(self) -> int:
        return len(_labelsets_view())

    def __repr__(self) -> str:
        return repr(dict(_labelsets_view()))


LABELSETS: Mapping[str, tuple[str, ...]] = _LazyLabelsets()

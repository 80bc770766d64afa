"""Build the step-validator evaluation set from IU X-ray dev reports: faithful and corrupted steps.

Faithful steps come in several phrasings, all written without the validator's help:

- verbatim: the report's own sentences;
- paraphrase: honest rewordings (word order, synonyms, hedges preserved) by the rules in
  `paraphrase_rules.json`;
- restated_negation: negated lists split into single statements ("No pneumothorax or effusion." ->
  "There is no pneumothorax." + "There is no effusion.");
- unmentioned_negative: "There is no X." for an X the gold labels call absent and the report never
  names (reports leave normal findings unsaid);
- normal_statement: "The lungs are clear." / "Heart size is normal." when the gold labels and the
  report text allow it;
- label_hedge: "There may be X." for an X the gold labels call present, in the label's words rather
  than the report's (tests concept normalisation);
- glue: steps without a clinical claim, and the final answer to a yes/no question built from the gold labels.

Corrupted steps come from `radprm.validators.perturb` applied to the faithful clinical steps (at
most `per_op` per chain and operator, seeded): the operators on lexicon findings (negation flip,
laterality, severity, fabricated finding, location) and those on any report-grounded sentence (side
swap on devices and bones, grade swap, change-over-time flip, number change, device-tip move), so the
set tests the validator outside the label lexicon too. Report ids are split once and for all into `tune`
(80 %) and `heldout` (20 %) by a hash of the id, independent of the seed: tune rules on `tune`, report both.

Outputs in `out_dir`: `chains.jsonl` (CHAINS rows for `radprm validate`), `expected.jsonl` (rows for
`radprm eval steps`), `manifest.json` (seed, split, counts, rule versions).
"""

from __future__ import annotations

import csv
import hashlib
import json
import random
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.schemas.records import Chain, Report
from radprm.validators.perturb import OPERATORS, Perturbation, Perturber, load_perturb_rules, parse_ops

SPLITS = ("tune", "heldout", "all")
HELDOUT_BUCKETS = 5  # one id in five is held out
_SENT = re.compile(r"(?<=[.?!])\s+")
_ENUM = re.compile(r"^\s*\d{1,2}[.)](?!\d)\s*")


@lru_cache(maxsize=1)
def load_paraphrase_rules() -> dict[str, Any]:
    """Load the packaged `paraphrase_rules.json`."""
    text = resources.files("radprm.evaluation").joinpath("paraphrase_rules.json").read_text(encoding="utf-8")
    return json.loads(text)


def split_of(report_id: str) -> str:
    """'heldout' for one id in five (stable hash of the id), else 'tune'."""
    digest = hashlib.sha256(f"radprm-stepset|{report_id}".encode()).digest()
    return "heldout" if digest[0] % HELDOUT_BUCKETS == 0 else "tune"


def read_gold(path: str | Path) -> dict[str, dict[str, int]]:
    """Read the ChestX-ray14 gold labels CSV (uid + one 0/1 column per label).

    Raises:
        InputError: missing file or a `uid` column absent.
    """
    p = Path(path)
    if not p.exists():
        raise InputError("file not found", path=p)
    with p.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if "uid" not in (reader.fieldnames or []):
            raise InputError("missing column", path=p, field="uid")
        gold = {}
        for n, row in enumerate(reader, start=1):
            try:
                gold[row["uid"]] = {k: int(v) for k, v in row.items() if k != "uid"}
            except ValueError as exc:
                raise InputError(f"not a 0/1 label: {exc}", path=p, row=n) from None
    return gold


def sentences(report: Report) -> list[str]:
    """The report's FINDINGS and IMPRESSION sentences, enumerations ('1.') removed."""
    out = []
    for part in (report.findings, report.impression):
        for s in _SENT.split(part or ""):
            s = _ENUM.sub("", s.strip())
            if len(re.findall(r"[A-Za-z]{2,}", s.replace("XXXX", ""))) >= 2:
                out.append(s if s.endswith((".", "?", "!")) else s + ".")
    return out


def _fill(template: str, groups: dict[str, str]) -> str:
    values: dict[str, str] = {}
    for k, v in groups.items():
        v = v or ""
        values[k] = v
        values[k + "_l"] = v[:1].lower() + v[1:] if not v.startswith("XXXX") else v
        values[k[:1].upper() + k[1:]] = v[:1].upper() + v[1:]
    values["s"] = "s" if groups.get("v") == "is" else ""
    return template.format(**values)


def paraphrase(sentence: str, rng: random.Random, rules: dict[str, Any] | None = None) -> str | None:
    """An honest rewording of a report sentence (structure rule and/or synonym), or None when none applies."""
    rules = rules or load_paraphrase_rules()
    text = sentence
    if _NOT_A_NEGATION.match(sentence):
        return None
    for rule in rules["structure"]:
        m = re.match(rule["pattern"], text)
        if m:
            templates = rule["templates"]
            if len((m.groupdict().get("x") or "").split()) > 4:
                # "X is not present" with a long X buries the negation: people do not write that
                templates = [t for t in templates if not t.startswith("{X}")] or templates
            text = _fill(rng.choice(templates), m.groupdict())
            break
    lexical = [r for r in rules["lexical"] if re.search(r["pattern"], text, re.I)]
    rng.shuffle(lexical)
    for rule in lexical[:2]:
        repl = rng.choice(rule["replacements"])
        text = re.sub(
            rule["pattern"],
            lambda m, repl=repl: _case_like(m.group(0), _fill(repl, m.groupdict())),
            text,
            count=1,
            flags=re.I,
        )
    text = re.sub(r"\s{2,}", " ", text).strip()
    return text if text != sentence else None


def _case_like(src: str, repl: str) -> str:
    return repl[:1].upper() + repl[1:] if src[:1].isupper() else repl


_NEG_LIST = re.compile(
    r"^(?:There (?:is|are) )?[Nn]o (?:evidence of )?(?P<qual>(?:(?:definite|acute|visible|focal|"
    r"large|new|suspicious) )*)(?P<body>[^.]+?)(?: (?:is|are) (?:seen|identified|noted|present))?\.$"
)
# "No change in ..." / "No interval change" are not negated findings
_NOT_A_NEGATION = re.compile(
    r"^(?:There (?:is|are) )?[Nn]o (?:significant |interval |appreciable )*(?:change|longer)\b"
)


def restate_negations(sentence: str, rng: random.Random, rules: dict[str, Any] | None = None) -> list[str]:
    """Split a negated list ('No pneumothorax, effusion or consolidation.') into single negations."""
    rules = rules or load_paraphrase_rules()
    m = _NEG_LIST.match(sentence)
    if not m or "XXXX" in sentence or _NOT_A_NEGATION.match(sentence):
        return []
    items = [i.strip() for i in re.split(r",\s*(?:or\s+|and\s+)?|\s+or\s+|\s+and\s+", m.group("body")) if i.strip()]
    if len(items) < 2 or any(len(i.split()) > 4 for i in items):
        return []
    # a qualifier ("No focal consolidation or effusion") stays with the item it qualifies
    qual = m.group("qual") or ""
    return [
        _fill(rng.choice(rules["negation_templates"]), {"x": (qual if k == 0 else "") + i}) for k, i in enumerate(items)
    ]


@dataclass
class StepsetSummary:
    """What `build_stepset` wrote: counts by phrasing and operator, skips, paths."""

    out_dir: Path
    split: str
    seed: int
    reports: int = 0
    phrasings: Counter[str] = field(default_factory=Counter)
    operators: Counter[str] = field(default_factory=Counter)
    skipped: dict[str, dict[str, int]] = field(default_factory=dict)

    def render(self) -> str:
        """Multi-line summary."""
        lines = [
            f"step evaluation set ({self.split}, seed {self.seed}): {self.reports} reports -> {self.out_dir}",
            "faithful: " + ", ".join(f"{k}={v}" for k, v in sorted(self.phrasings.items())),
            "corrupted: " + ", ".join(f"{k}={v}" for k, v in sorted(self.operators.items())),
        ]
        return "\n".join(lines)


def _has_any(text: str, keywords: list[str]) -> bool:
    low = text.lower()
    return any(k in low for k in keywords)


def faithful_steps(report: Report, gold: dict[str, int], rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    """Faithful steps for one report, as {'verbatim': [(phrasing, step)...], 'reworded': [...]}."""
    rules = load_paraphrase_rules()
    sents = sentences(report)
    verbatim = [("verbatim", s) for s in sents]
    reworded: list[tuple[str, str]] = []
    for s in sents:
        p = paraphrase(s, rng, rules)
        if p:
            reworded.append(("paraphrase", p))
        reworded.extend(("restated_negation", r) for r in restate_negations(s, rng, rules))
    text = report.text
    for label, spec in rules["unmentioned_negatives"].items():
        if gold.get(label) == 0 and not _has_any(text, spec["keywords"]):
            phrase = rng.choice(spec["phrases"])
            reworded.append(("unmentioned_negative", _fill(rng.choice(rules["negation_templates"]), {"x": phrase})))
    hedges = rules["label_hedges"]
    for label, phrase in hedges["phrases"].items():
        # a hedged mention of a finding the gold labels call present is faithful whatever the report's wording
        if gold.get(label) == 1:
            reworded.append(("label_hedge", _fill(rng.choice(hedges["templates"]), {"x": phrase})))
    for spec in rules["normal_statements"].values():
        if all(gold.get(k) == 0 for k in spec["requires_zero"]) and not _has_any(text, spec["forbidden_keywords"]):
            reworded.append(("normal_statement", rng.choice(spec["templates"])))
    rng.shuffle(reworded)
    return {"verbatim": verbatim, "reworded": reworded}


def _question(gold: dict[str, int], rng: random.Random) -> tuple[str, list[str]]:
    names = load_paraphrase_rules()["questions"]
    positives = [k for k in names if gold.get(k) == 1]
    label = rng.choice(positives) if positives and rng.random() < 0.6 else rng.choice(sorted(names))
    return f"Is there {names[label]} on this chest radiograph?", ["yes" if gold.get(label) == 1 else "no"]


def build_stepset(
    reports_path: str | Path,
    labels_path: str | Path,
    out_dir: str | Path,
    *,
    split: str = "tune",
    seed: int = 0,
    limit: int | None = None,
    ops: str | list[str] | None = None,
    per_op: int = 2,
    validator: Any = None,
) -> StepsetSummary:
    """Build the evaluation set (chains, expected labels, manifest) from reports with gold labels.

    Args:
        reports_path: the IU X-ray reports CSV (or any input `read_reports` accepts).
        labels_path: gold labels CSV (uid + ChestX-ray14 columns); only these ids are used.
        out_dir: output folder.
        split: 'tune', 'heldout' or 'all'.
        seed: RNG seed for phrasings and corruptions (the split does not depend on it).
        limit: use at most this many reports (after the split).
        ops: perturbation operators (all by default).
        per_op: at most this many corrupted steps per report and operator.
        validator: StepValidator whose extractor the perturbation operators use.

    Returns:
        The StepsetSummary.

    Raises:
        InputError: unknown split, missing files.
    """
    from radprm.readers import read_reports

    if split not in SPLITS:
        raise InputError(f"unknown split {split!r}", field="split", hint=f"choose from {', '.join(SPLITS)}")
    names = parse_ops(ops)
    gold = read_gold(labels_path)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    perturber = Perturber(validator, seed=seed)
    summary = StepsetSummary(out, split, seed)
    chains: list[Chain] = []
    expected: list[dict[str, Any]] = []
    for report in read_reports(reports_path).with_progress("building step set"):
        if report.report_id not in gold or (split != "all" and split_of(report.report_id) != split):
            continue
        if limit is not None and summary.reports >= limit:
            break
        summary.reports += 1
        rng = random.Random(f"{seed}|{report.report_id}")
        g = gold[report.report_id]
        question, answer = _question(g, rng)
        glue = load_paraphrase_rules()["glue"]
        claims = perturber.validator.report_claims(report)
        for kind, steps in faithful_steps(report, g, rng).items():
            if not steps:
                continue
            phrased = [("glue", rng.choice(glue)), *steps, ("glue", f"Therefore the answer is {answer[0]}.")]
            chain = Chain(
                chain_id=f"{report.report_id}:{kind}",
                report_id=report.report_id,
                question=question,
                answer=answer,
                steps=[s for _, s in phrased],
            )
            chains.append(chain)
            for i, (phrasing, step) in enumerate(phrased):
                summary.phrasings[phrasing] += 1
                expected.append(
                    {
                        "chain_id": chain.chain_id,
                        "step_index": i,
                        "report_id": report.report_id,
                        "operator": "faithful",
                        "phrasing": phrasing,
                        "expected_label": True,
                        "expected_reason": None,
                        "step": step,
                        "original_step": None,
                    }
                )
            clinical = [i for i, (ph, _) in enumerate(phrased) if ph != "glue"]
            for op in names:
                made: list[tuple[int, Perturbation]] = []
                for i in clinical:
                    res = perturber.perturb_step(phrased[i][1], op, report, claims, key=f"{chain.chain_id}|{i}")
                    if isinstance(res, Perturbation):
                        made.append((i, res))
                for i, p in rng.sample(made, min(per_op, len(made))):
                    cid = f"{chain.chain_id}~{op}~{i}"
                    chains.append(
                        Chain(
                            chain_id=cid,
                            report_id=report.report_id,
                            question=question,
                            answer=answer,
                            steps=[*chain.steps[:i], p.step],
                        )
                    )
                    summary.operators[op] += 1
                    expected.append(
                        {
                            "chain_id": cid,
                            "step_index": i,
                            "report_id": report.report_id,
                            "operator": op,
                            "phrasing": phrased[i][0],
                            "expected_label": False,
                            "expected_reason": p.expected_reason,
                            "step": p.step,
                            "original_step": p.original,
                        }
                    )
    summary.skipped = perturber.skip_summary()
    with (out / "chains.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(c.model_dump_json() + "\n" for c in chains)
    with (out / "expected.jsonl").open("w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(e) + "\n" for e in expected)
    manifest = {
        "split": split,
        "seed": seed,
        "limit": limit,
        "per_op": per_op,
        "operators": names,
        "reports": summary.reports,
        "faithful": dict(summary.phrasings),
        "corrupted": dict(summary.operators),
        "skipped": summary.skipped,
        "paraphrase_rules_version": load_paraphrase_rules()["version"],
        "perturb_rules_version": load_perturb_rules().version,
        "reports_path": str(reports_path),
        "labels_path": str(labels_path),
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return summary


__all__ = [
    "OPERATORS",
    "SPLITS",
    "StepsetSummary",
    "build_stepset",
    "faithful_steps",
    "paraphrase",
    "read_gold",
    "restate_negations",
    "sentences",
    "split_of",
]

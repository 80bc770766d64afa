"""A learned second opinion on the rules' step labels: abstain where a model trained on labelled chains
doubts them.

The rules decide a step from what they can read; what they cannot read (a side word the report never uses,
a booster on a hedged sentence the alignment missed, a "so the answer is" after a wrong premise) they call
good, and some faults they report are misreadings. Labelled chains written and judged by others show which
*weak signals* go with a wrong label: a severity or side word that occurs nowhere in the report, a step
whose content words mostly are not the report's, low fuzzy overlap with the best report sentence, the
fault code, whether the chain reads the report or the film. No one signal decides, so the rules do not use
them; a logistic model weighs them together.

`doubt.json` (versioned data, like the rules) holds the feature spec (word families, stopwords) and two
weight vectors, one per side of the rules' decision:

* ``good``: the rules labelled the step good. When the model's probability that the step is bad is at
  least ``flag_at``, the step becomes `unsure` with the note `model_suspects_fault` and label False (the
  model's lean: at ``flag_at`` = 0.5 the bad reading is the more probable one).
* ``bad``: the rules decided the step bad. When the probability is below ``keep_at``, the step becomes
  `unsure` with the note `model_doubts_fault` (label False: the rules' lean). This is the abstention the
  calibrated table (`radprm.validators.abstention`) does per fault kind, read from more signals.

Both kinds of `unsure` step are masked in exports by default (``--unsure mask``), so the PRM never trains on
a label the rules and the model disagree on. `radprm eval doubt` fits the model from labelled sets (the
features come from this module, the same code the validator runs) and reports it per set left out.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from pydantic import Field, PrivateAttr, model_validator
from rapidfuzz import fuzz

from radprm.rules import RuleModel

DOUBT_FILE = "doubt.json"
SUSPECTED = "model_suspects_fault"  # note: the rules said good, the model leans bad
DOUBTED = "model_doubts_fault"  # note: the rules said bad, the model doubts it
SIDES = ("good", "bad")

_TOKEN = re.compile(r"[a-z]+|\d+(?:\.\d+)?")
_SENTENCE = re.compile(r"(?<=[.?!])\s+")
_CROSSED = ("famnov:", "only_step:", "only_sent:", "diff:", "evnov:")

__all__ = ["DOUBTED", "DOUBT_FILE", "SIDES", "SUSPECTED", "DoubtModel", "ReportView", "StepView", "step_features"]


class DoubtModel(RuleModel):
    """The `doubt.json` file: feature spec, weights per side, thresholds, and the sets it was fitted on."""

    version: str
    description: str = ""
    flag_at: float = Field(gt=0.0, le=1.0, description="good side: P(bad) at or above this -> unsure, label False")
    keep_at: float = Field(ge=0.0, le=1.0, description="bad side: P(bad) below this -> unsure")
    families: dict[str, list[str]] = Field(description="word family -> words (side, change, hedge, grade...)")
    stopwords: list[str] = Field(description="words that are no content words")
    suffixes: list[str] = Field(description="suffixes cut when words are compared (longest first)")
    weights: dict[str, dict[str, float]] = Field(description="side (good / bad) -> feature -> weight")
    sets: list[str] = Field(default_factory=list, description="the labelled sets the weights were fitted on")
    sha256: str = ""
    _spec: FeatureSpec | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _check(self) -> DoubtModel:
        missing = [s for s in SIDES if s not in self.weights]
        if missing:
            raise ValueError(f"weights: no {' and no '.join(missing)} side (need both of {', '.join(SIDES)})")
        clash = {w for words in self.families.values() for w in words if w != w.lower()}
        if clash:
            raise ValueError(f"families: words must be lower case, got {sorted(clash)[:3]}")
        return self

    def p_bad(self, side: str, features: Mapping[str, float]) -> float:
        """The model's probability that a step the rules labelled `side` is truly bad."""
        w = self.weights[side]
        z = sum(w.get(k, 0.0) * v for k, v in features.items())
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, z))))

    def explain(self, side: str, features: Mapping[str, float], k: int = 3) -> list[tuple[str, float]]:
        """Why the model leans as it does on one step: the `k` features that push P(bad) furthest in the
        direction of its lean (toward bad when P(bad) >= 0.5), as (feature, weight x value), strongest first."""
        w = self.weights[side]
        parts = [(name, w[name] * v) for name, v in features.items() if name in w and name != "bias" and v]
        toward_bad = self.p_bad(side, features) >= 0.5
        parts = [p for p in parts if (p[1] > 0) == toward_bad]
        return sorted(parts, key=lambda p: -abs(p[1]))[:k]

    def strongest(self, side: str, k: int = 8) -> dict[str, list[tuple[str, float]]]:
        """The `k` largest weights of one side toward a bad label and toward a good one (what the model learnt)."""
        w = [(name, v) for name, v in self.weights[side].items() if name != "bias"]
        return {"toward_bad": sorted((p for p in w if p[1] > 0), key=lambda p: -p[1])[:k],
                "toward_good": sorted((p for p in w if p[1] < 0), key=lambda p: p[1])[:k]}

    def model_post_init(self, context: object, /) -> None:
        # built with the model (not on first use), so two models of the same file compare equal
        self._spec = FeatureSpec(
            {w: fam for fam, words in self.families.items() for w in words},
            frozenset(self.stopwords),
            tuple(sorted(self.suffixes, key=len, reverse=True)),
        )

    def spec(self) -> FeatureSpec:
        """The feature spec (word look-ups)."""
        return self._spec


@dataclass(frozen=True)
class FeatureSpec:
    """Look-ups the features are read with (from a model's families, stopwords and suffixes)."""

    family_of: dict[str, str]
    stopwords: frozenset[str]
    suffixes: tuple[str, ...]
    _stems: dict[str, str] = field(default_factory=dict, compare=False, repr=False)  # words recur: read each once

    def stem(self, word: str) -> str:
        found = self._stems.get(word)
        if found is None:
            found = word
            for suffix in self.suffixes:
                if len(word) > len(suffix) + 3 and word.endswith(suffix):
                    found = word[: -len(suffix)]
                    break
            if len(self._stems) < 200_000:
                self._stems[word] = found
        return found


@dataclass(frozen=True)
class ReportView:
    """What every step of a chain is compared with: the report's sentences and word stems, and the stems of
    the other texts a step may repeat (question, options, indication, comparison)."""

    sentences: tuple[str, ...]
    lowered: tuple[str, ...]  # the sentences in lower case (every step is compared with them)
    report_stems: frozenset[str]
    known_stems: frozenset[str]

    @classmethod
    def read(cls, spec: FeatureSpec, report_text: str, extra: Iterable[str]) -> ReportView:
        report_stems = frozenset(spec.stem(w) for w in _TOKEN.findall(report_text.lower()))
        extra_stems = {spec.stem(w) for text in extra for w in _TOKEN.findall((text or "").lower())}
        sentences = tuple(s for s in _SENTENCE.split(report_text.replace("\n", " ")) if s.strip())
        return cls(sentences, tuple(s.lower() for s in sentences), report_stems, report_stems | extra_stems)


@dataclass(frozen=True)
class StepView:
    """One step as the rules left it."""

    text: str
    index: int
    n_steps: int
    verdict: str
    reasons: Sequence[str]
    score: float
    evidence: Sequence[str]
    citing: bool  # the chain cites the report anywhere
    inference: bool  # the step reasons ("so", "therefore", "suggests")


def _by_family(spec: FeatureSpec, words: Iterable[str]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for w in words:
        fam = spec.family_of.get(w)
        if fam is not None:
            found.setdefault(fam, set()).add(w)
    return found


def step_features(spec: FeatureSpec, step: StepView, report: ReportView) -> dict[str, float]:
    """The features of one step (sparse: name -> value); the same at fitting and at validation time."""
    f: dict[str, float] = {"bias": 1.0, "v:" + step.verdict: 1.0, "score": float(step.score)}
    for r in step.reasons:
        f["r:" + r] = 1.0
    f["nreasons"] = float(len(step.reasons))
    f["citing"] = float(step.citing)
    f["inference"] = float(step.inference)
    words = _TOKEN.findall(step.text.lower())
    f["len"] = min(len(words), 60) / 30
    f["first"] = float(step.index == 0)
    f["last"] = float(step.index == step.n_steps - 1)
    f["pos"] = step.index / max(step.n_steps - 1, 1)
    content = [w for w in words if w not in spec.stopwords and len(w) > 2 and not w.isdigit()]
    novel = [w for w in content if spec.stem(w) not in report.known_stems]
    f["nov_frac"] = len(novel) / max(len(content), 1)
    f["nov_n"] = min(len(novel), 8) / 4
    f["has_xxxx"] = float("xxxx" in report.report_stems)
    if any(c.isdigit() for c in step.text):
        f["num"] = 1.0
    in_step = _by_family(spec, words)
    for fam, members in in_step.items():
        f["fam:" + fam] = 1.0
        for w in members:
            f["w:" + w] = 1.0
            if spec.stem(w) not in report.report_stems:
                f["famnov:" + fam] = 1.0
                f["wnov:" + w] = 1.0
    for w in set(novel):
        f["nov:" + spec.stem(w)] = 1.0
    joined = " ".join(step.evidence)
    best = joined
    if report.sentences and content:
        ratios = [fuzz.token_set_ratio(step.text, s) for s in report.sentences]
        f["tsr"] = max(ratios) / 100
        lowered = step.text.lower()
        f["pr"] = max(fuzz.partial_ratio(lowered, s) for s in report.lowered) / 100
        best = joined or report.sentences[ratios.index(max(ratios))]
    f["has_ev"] = float(bool(step.evidence))
    if step.evidence:
        f["ev_ratio"] = fuzz.token_set_ratio(step.text, joined) / 100
        ev_stems = {spec.stem(w) for w in _TOKEN.findall(joined.lower())}
        f["ev_nov"] = sum(spec.stem(w) not in ev_stems for w in content) / max(len(content), 1)
        for fam, members in in_step.items():
            if any(spec.stem(w) not in ev_stems for w in members):
                f["evnov:" + fam] = 1.0
    if best:
        in_best = _by_family(spec, _TOKEN.findall(best.lower()))
        for fam in in_step.keys() | in_best.keys():
            a, b = in_step.get(fam, set()), in_best.get(fam, set())
            if a and not b:
                f["only_step:" + fam] = 1.0
            elif b and not a:
                f["only_sent:" + fam] = 1.0
            elif not a & b:
                f["diff:" + fam] = 1.0
    # what a mismatch means depends on what the rules made of the step: a novel side word in a step they
    # found no claim in ("neutral") is another signal than in one they matched with a sentence
    for name in [k for k in f if k.startswith(_CROSSED)]:
        f[step.verdict + "&" + name] = 1.0
    return f

"""Answer keys: from radprm's extractor, or from gold labels (`--answer-key`), measured and disputable.

Every question's answer is a key built from report-level labels (`miners.questions`). By default the
labels come from radprm's own extractor, so its errors would flow unmeasured into the answer reward and
every label depending on it. This module

* reads a gold label file (`AnswerKey.read`: any table `radprm eval labels` reads, e.g. the OpenI dev
  labels or MIMIC-CXR's CheXpert labels) and hands out, per report, the gold labels where the file has
  the report (`source = "labels:<file name>"`) and the extractor's otherwise (`source = "extractor"`);
* finds *disputed* answers (`disputed_labels`): the model's answer disagrees with an extractor key that
  rests on an uncertain or single-mention finding. Such an item gets `answer_disputed`, no answer
  reward, and goes to the review queue instead of being scored 0;
* measures the extractor key against gold (`measure_answer_keys`, `radprm eval answers`): per task and
  label, how often the key of a question differs from the answer the gold labels give it.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from radprm.errors import InputError
from radprm.schemas.records import Finding, Question, Report

EXTRACTOR = "extractor"
KEY_TASKS = ("single", "binary", "multi_label")
"""Tasks whose key comes from report labels (temporal keys come from one sentence's wording)."""


def _label_values(row: Mapping[str, Any], labels: list[str], path: str) -> dict[str, int | None]:
    from radprm.evaluation.labels import _value

    return {lab: _value(row.get(lab), path, row.get("__row__", 0), lab) for lab in labels}


@dataclass
class AnswerKey:
    """Gold labels used as answer keys where a report has them.

    Attributes:
        path: the label file.
        labels: label columns shared with the label set (questions are asked only about these).
        rows: {report id: {label: 1 / 0 / -1 / None}}.
    """

    path: Path
    labelset: str
    labels: list[str]
    rows: dict[str, dict[str, int | None]] = field(default_factory=dict)

    @property
    def source(self) -> str:
        """The `answer_key_source` of items keyed by this file."""
        return f"labels:{self.path.name}"

    @classmethod
    def read(cls, path: str | Path, labelset: str) -> AnswerKey:
        """Read a label file (csv / parquet / jsonl; OpenI or CheXpert layout) for a label set.

        Raises:
            InputError: unreadable file, no id column, a bad value (naming row and column), or no column
                of the label set (naming both).
        """
        from radprm.evaluation.labels import load_label_table
        from radprm.validators.findings.labelsets import labelset_columns

        path = Path(path)
        if not path.is_file():
            raise InputError("answer-key label file not found", path=path, field="answer_key")
        _, columns, rows = load_label_table(path)
        wanted = labelset_columns(labelset)
        shared = [c for c in wanted if c in columns]
        if not shared:
            raise InputError(f"label file has no column of label set {labelset!r}", path=path, field="answer_key",
                             hint=f"its columns: {', '.join(columns[:8])}; pass --labelset matching the file")
        out = cls(path=path, labelset=labelset, labels=shared)
        for rid, row in rows.items():
            out.rows[rid] = _label_values(row, shared, str(path))
        return out

    def labels_for(self, report_id: str, extracted: Mapping[str, int | None]) -> tuple[dict[str, int | None], str]:
        """The labels to build a report's questions from, and their source.

        A report in the file gets the file's labels (only the shared label columns: no question is asked
        about a label the file does not have); any other report keeps the extracted labels.
        """
        gold = self.rows.get(_norm_id(report_id))
        if gold is None:
            return dict(extracted), EXTRACTOR
        return dict(gold), self.source

    def check_matches(self, report_ids: Iterable[str]) -> int:
        """How many of `report_ids` the file has.

        Raises:
            InputError: none of them (a label file for other reports would silently change nothing).
        """
        ids = list(report_ids)
        n = sum(1 for rid in ids if _norm_id(rid) in self.rows)
        if ids and n == 0:
            sample = ", ".join(list(self.rows)[:3])
            raise InputError(f"no report id of the input is in the label file (e.g. {ids[0]!r}; file has {sample})",
                             path=self.path, field="answer_key", hint="check that the ids match (uid, study_id)")
        return n


def _norm_id(report_id: str) -> str:
    # the label loader strips MIMIC's leading 's' from study ids; do the same on the report side
    return report_id[1:] if report_id[:1] in ("s", "S") and report_id[1:].isdigit() else report_id


# -- which labels a question is about ------------------------------------------------------------
def _phrases(labels: Iterable[str]) -> dict[str, str]:
    from radprm.miners.questions import label_phrase

    out = {}
    for lab in labels:
        phrase = label_phrase(lab)
        out[phrase] = lab
        out[phrase.removeprefix("a ").removeprefix("an ")] = lab
    return out


def question_labels(question: Question, labels: Iterable[str]) -> list[str]:
    """The labels a question's key depends on: the asked label (single), the options (multi-label), or
    every label (binary: normal means none positive)."""
    labels = list(labels)
    phrases = _phrases(labels)
    if question.task == "single":
        hits = [p for p in phrases if f"is there {p} in" in question.question.lower()]
        return [phrases[max(hits, key=len)]] if hits else []
    if question.task == "multi_label":
        return [phrases[o] for o in question.options if o in phrases]
    if question.task == "binary":
        return labels
    return []


def weak_labels(findings: list[Finding], labelset: str) -> set[str]:
    """Labels whose extracted value rests on an uncertain mention or on a single mention."""
    from radprm.validators.findings.labelsets import _labelset, counts_for_label

    per_obs: Counter[str] = Counter()
    uncertain: set[str] = set()
    for f in findings:
        if counts_for_label(f):
            per_obs[f.observation] += 1
            if f.assertion == "uncertain":
                uncertain.add(f.observation)
    weak = set()
    for label, observations in _labelset(labelset, None)["labels"].items():
        mentions = sum(per_obs[o] for o in observations)
        if mentions == 1 or any(o in uncertain for o in observations):
            weak.add(label)
    return weak


def disputed_labels(question: Question, model_answer: list[str], findings: list[Finding], labelset: str,
                    source: str) -> list[str]:
    """Labels on which the model's answer disagrees with a weak extractor key (empty: no dispute).

    Only extractor keys can be disputed (gold keys are what the model is scored against); only
    single, binary and multi-label questions; a missing model answer is no dispute.
    """
    if source != EXTRACTOR or not model_answer or question.task not in KEY_TASKS:
        return []
    if sorted(model_answer) == sorted(question.answer):
        return []
    from radprm.validators.findings.labelsets import labelset_columns

    about = question_labels(question, labelset_columns(labelset))
    weak = weak_labels(findings, labelset)
    if question.task == "multi_label":
        phrases = {v: k for k, v in _phrases(about).items() if k in question.options}
        differ = set(model_answer) ^ set(question.answer)
        about = [lab for lab in about if phrases.get(lab) in differ]
    return [lab for lab in about if lab in weak]


# -- measuring the extractor key against gold ----------------------------------------------------
def gold_answer(question: Question, gold: Mapping[str, int | None], labels: list[str]) -> list[str] | None:
    """The answer gold labels give a question (None when the gold lacks a label it needs)."""
    from radprm.miners.questions import ABNORMAL, NO, NONE_OPTION, NORMAL, YES

    about = question_labels(question, labels)
    if any(lab not in gold for lab in about) or not about:
        return None
    if question.task == "single":
        return [YES if gold[about[0]] == 1 else NO]
    if question.task == "binary":
        from radprm.miners.questions import _NOT_PATHOLOGY, _key

        return [ABNORMAL if any(gold[lab] == 1 for lab in about if _key(lab) not in _NOT_PATHOLOGY) else NORMAL]
    phrases = {lab: opt for opt in question.options for lab in [_phrases(about).get(opt)] if lab}
    return [phrases[lab] for lab in about if gold[lab] == 1 and lab in phrases] or [NONE_OPTION]


@dataclass
class KeyTally:
    """Keys checked and found wrong, for one task or (task, label). A key is *positive* when it says the
    finding is there: yes (single), abnormal (binary), the label among the answers (multi-label)."""

    questions: int = 0
    wrong: int = 0
    positive: int = 0
    positive_wrong: int = 0
    key_pos_gold_neg: int = 0
    key_neg_gold_pos: int = 0

    @property
    def error_rate(self) -> float | None:
        """Wrong keys / keys (None without any)."""
        return self.wrong / self.questions if self.questions else None

    @property
    def positive_error_rate(self) -> float | None:
        """Wrong positive keys / positive keys (1 - precision of the positive keys)."""
        return self.positive_wrong / self.positive if self.positive else None

    def count(self, key: bool, gold: bool, wrong: bool | None = None) -> None:
        """Count one key (positive or not) against gold (positive or not); `wrong` overrides `key != gold`
        (a multi-label key can be positive like gold and still name other findings)."""
        wrong = key != gold if wrong is None else wrong
        self.questions += 1
        self.positive += key
        if wrong:
            self.wrong += 1
            self.positive_wrong += key
        self.key_pos_gold_neg += key and not gold
        self.key_neg_gold_pos += gold and not key

    def as_dict(self) -> dict[str, Any]:
        """JSON form."""
        return {"questions": self.questions, "wrong": self.wrong, "error_rate": self.error_rate,
                "positive_keys": self.positive, "positive_keys_wrong": self.positive_wrong,
                "positive_key_error_rate": self.positive_error_rate, "key_pos_gold_neg": self.key_pos_gold_neg,
                "key_neg_gold_pos": self.key_neg_gold_pos}


def _positive_key(task: str, answer: list[str]) -> bool:
    from radprm.miners.questions import ABNORMAL, NONE_OPTION, YES

    if task == "single":
        return answer == [YES]
    if task == "binary":
        return answer == [ABNORMAL]
    return answer != [NONE_OPTION]


@dataclass
class AnswerKeyEvaluation:
    """`radprm eval answers`: how often the extractor's answer key differs from gold, per task and label."""

    gold_path: str
    labelset: str
    reports: int = 0
    skipped_uncertain: int = 0
    tasks: dict[str, KeyTally] = field(default_factory=dict)
    labels: dict[tuple[str, str], KeyTally] = field(default_factory=dict)
    examples: list[dict[str, Any]] = field(default_factory=list)

    def add(self, question: Question, gold: list[str], about: list[str]) -> None:
        """Count one question whose key and gold answer are known (per label: multi-label options one by one)."""
        key, ref = sorted(question.answer), sorted(gold)
        self.tasks.setdefault(question.task, KeyTally()).count(
            _positive_key(question.task, key), _positive_key(question.task, ref), wrong=key != ref)
        if question.task == "multi_label":
            phrases = {lab: opt for opt in question.options for lab in [_phrases(about).get(opt)] if lab}
            for lab in about:
                opt = phrases.get(lab)
                self.labels.setdefault((question.task, lab), KeyTally()).count(opt in key, opt in ref)
        else:
            name = about[0] if question.task == "single" else "(normal/abnormal)"
            self.labels.setdefault((question.task, name), KeyTally()).count(
                _positive_key(question.task, key), _positive_key(question.task, ref))
        if key != ref and len(self.examples) < 20:
            self.examples.append({"report_id": question.report_id, "task": question.task,
                                  "question": question.question, "key": question.answer, "gold": gold})

    def as_dict(self) -> dict[str, Any]:
        """JSON form (`--json`)."""
        return {"gold": self.gold_path, "labelset": self.labelset, "reports": self.reports,
                "skipped_uncertain": self.skipped_uncertain,
                "tasks": {k: v.as_dict() for k, v in self.tasks.items()},
                "labels": [{"task": t, "label": lab, **v.as_dict()} for (t, lab), v in sorted(self.labels.items())],
                "examples": self.examples}

    def render(self) -> str:
        """Per-task then per-label table."""
        def pct(x: float | None) -> str:
            return "-" if x is None else f"{100 * x:.1f}%"

        head = (f"{'keys':>6} {'wrong':>6} {'error':>7} {'key+':>6} {'key+ wrong':>10} {'key+/gold-':>10} "
                f"{'key-/gold+':>10}")

        def cells(t: KeyTally) -> str:
            return (f"{t.questions:>6} {t.wrong:>6} {pct(t.error_rate):>7} {t.positive:>6} "
                    f"{pct(t.positive_error_rate):>10} {t.key_pos_gold_neg:>10} {t.key_neg_gold_pos:>10}")

        lines = [f"answer keys from the extractor vs gold {self.gold_path} ({self.reports} reports, "
                 f"label set {self.labelset}); key+ = the key says the finding is there (yes / abnormal / "
                 "option chosen)", "", f"{'task':<12} {head}"]
        lines += [f"{task:<12} {cells(t)}" for task, t in self.tasks.items()]
        lines += ["", "per label (multi-label: each option's membership in the key)", "",
                  f"{'task':<12} {'label':<20} {head}"]
        lines += [f"{task:<12} {lab:<20} {cells(t)}" for (task, lab), t in sorted(self.labels.items())]
        lines += ["", f"labels the extractor found uncertain (no single / multi-label question asked about them): "
                  f"{self.skipped_uncertain}"]
        return "\n".join(lines)


def measure_answer_keys(
    reports: Iterable[Report], gold: AnswerKey, *, extractor: Any = None, tasks: Iterable[str] = KEY_TASKS,
    seed: int = 0,
) -> AnswerKeyEvaluation:
    """Compare the extractor's answer key of every question a report supports with the gold answer.

    Every single-label question (one per label the extractor does not find uncertain), the binary
    question and the multi-label question are built as `radprm mine` builds them, keyed by the
    extractor; each key is compared with the answer the gold labels give the same question.

    Args:
        reports: reports (only those in the gold file are scored).
        gold: the gold labels (`AnswerKey.read`).
        extractor: a FindingsExtractor (built when None).
        tasks: tasks to measure (single, binary, multi_label).
        seed: question seed (multi-label option choice).

    Raises:
        InputError: no report is in the gold file, or an unknown task.
    """
    from radprm.miners.questions import binary_questions, multi_label_questions, single_label_questions
    from radprm.validators.findings import report_labels

    tasks = list(tasks)
    bad = [t for t in tasks if t not in KEY_TASKS]
    if bad:
        raise InputError(f"unknown task {bad[0]!r}", field="tasks", hint=f"choose from {', '.join(KEY_TASKS)}")
    if extractor is None:
        from radprm.validators.findings import FindingsExtractor

        extractor = FindingsExtractor()
    out = AnswerKeyEvaluation(gold_path=str(gold.path), labelset=gold.labelset)
    in_gold = (r for r in reports if _norm_id(r.report_id) in gold.rows)
    for report, findings in extractor.extract_many(in_gold, batch_size=64):
        out.reports += 1
        extracted = report_labels(findings, labelset=gold.labelset)
        labels = {lab: extracted[lab] for lab in gold.labels}  # ask only about labels gold can answer
        out.skipped_uncertain += sum(1 for v in labels.values() if v == -1)
        rng = random.Random(f"{seed}:{report.report_id}")
        questions: list[Question] = []
        if "single" in tasks:
            questions += single_label_questions(report, labels, rng)
        if "binary" in tasks:
            questions += binary_questions(report, labels)
        if "multi_label" in tasks:
            questions += multi_label_questions(report, labels, rng)
        row = gold.rows[_norm_id(report.report_id)]
        for q in questions:
            answer = gold_answer(q, row, gold.labels)
            if answer is not None:
                out.add(q, answer, question_labels(q, gold.labels))
    if out.reports == 0:
        raise InputError("no report of the input is in the gold label file", path=gold.path, field="report_id",
                         hint="check that the ids match (uid, study_id)")
    return out


def guess_labelset(path: str | Path) -> str:
    """The label set sharing most columns with a label file.

    Raises:
        InputError: no label set shares a column with it.
    """
    from radprm.evaluation.labels import load_label_table
    from radprm.validators.findings.labelsets import LABELSETS, labelset_columns

    _, columns, _ = load_label_table(path)
    best = max(LABELSETS, key=lambda name: len(set(labelset_columns(name)) & set(columns)))
    if not set(labelset_columns(best)) & set(columns):
        raise InputError("label file shares no column with any label set", path=path, field="labelset",
                         hint=f"its columns: {', '.join(columns[:8])}")
    return best


def evaluate_answer_keys(
    reports: str | Path, gold: str | Path, *, labelset: str | None = None, tasks: Iterable[str] = KEY_TASKS,
    reader: Mapping[str, Any] | None = None, extractor: Any = None,
) -> AnswerKeyEvaluation:
    """`radprm eval answers`: read reports and gold labels, then `measure_answer_keys`.

    Args:
        reports: reports file (any reader format; reader options in `reader`).
        gold: gold label file.
        labelset: label set of the questions; None picks the one sharing most columns with `gold`.
        tasks: single, binary, multi_label.
        reader: `radprm.readers.read_reports` options (limit, projections, columns, ...).
        extractor: a FindingsExtractor (built when None).

    Raises:
        InputError: unreadable files, a label file sharing no column with the label set, or no report id
            of the input in the gold file.
    """
    from radprm.quarantine import QuarantineSink
    from radprm.readers import read_reports

    key = AnswerKey.read(gold, labelset or guess_labelset(gold))
    stream = read_reports(reports, quarantine=QuarantineSink(), **dict(reader or {}))
    return measure_answer_keys(stream, key, extractor=extractor, tasks=[t.strip() for t in tasks if t.strip()])

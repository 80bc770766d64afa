"""Questions built from a report's extracted findings (RadRBench-CXR-like tasks).

Answers come from the findings, never from the LLM:

* ``single``: "Is there <observation>?" -> yes/no. Positives alternate with negatives (observations the
  report denies, then ones it never mentions), so a report with findings gives balanced questions.
  Uncertain observations are skipped (no reliable answer).
* ``binary``: normal vs abnormal. Abnormal when a pathology is positive; normal when none is positive or
  uncertain (CheXpert's "No Finding" rule); skipped otherwise.
* ``multi_label``: "Which of these findings are present?" over a few labels of the label set (all
  positives up to a cap, then negatives) plus "none of these"; the answer is the positive set.
* ``temporal``: for a positive finding whose sentence states a change against a prior study
  (improved / worsened / unchanged / new); skipped when there is no prior or the wording is unclear.

Everything is deterministic given `seed` and the report id. `question_id` hashes report id, task,
question and options, so the same question keeps its id across runs. `QUESTIONS_VERSION` changes when
the wording or selection rules change.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Iterable, Mapping, Sequence

from radprm.errors import InputError
from radprm.schemas.records import Finding, Question, Report

QUESTIONS_VERSION = "1"
TASKS = ("single", "binary", "multi_label", "temporal")
YES, NO = "yes", "no"
NORMAL, ABNORMAL = "normal", "abnormal"
NONE_OPTION = "none of these"
CHANGES = ("improved", "worsened", "unchanged", "new")
MULTI_OPTIONS = 4  # labels shown in a multi-label question (plus "none of these")
MULTI_MAX_POSITIVES = 3

# Labels that are not findings one asks about, or not pathologies for normal/abnormal.
_NOT_ASKED = {"no finding", "normal"}
_NOT_PATHOLOGY = {"no finding", "normal", "support devices"}

# Nicer question wording for labels whose names read badly as a noun phrase.
_PHRASES = {
    "pleural other": "another pleural abnormality",
    "support devices": "a support device",
    "lung lesion": "a lung lesion",
    "lung opacity": "a lung opacity",
    "enlarged cardiomediastinum": "an enlarged cardiomediastinum",
    "fracture": "a fracture",
    "mass": "a mass",
    "nodule": "a nodule",
    "hernia": "a hernia",
    "pleural thickening": "pleural thickening",
}

_CHANGE_WORDS = {
    "improved": r"improv\w*|decreas\w*|resolv\w*|less prominent|smaller|diminish\w*|regress\w*",
    "worsened": r"worse\w*|increas\w*|progress\w*|more prominent|larger|enlarging",
    "unchanged": r"unchanged|stable|no (?:significant |interval )?change|similar|again (?:seen|noted|demonstrated)"
    r"|redemonstrat\w*|persist\w*",
    "new": r"new|newly|interval development|developed",
}
_CHANGE_RES = {k: re.compile(rf"\b(?:{v})\b", re.I) for k, v in _CHANGE_WORDS.items()}
# "no new X" denies novelty; it must not make X "new".
_NEGATED_NEW = re.compile(r"\bno\s+(?:\w+\s+){0,2}new\b", re.I)
_PRIOR_RE = re.compile(r"\b(prior|previous|compar\w*|interval|since)\b", re.I)
_NO_PRIOR = re.compile(r"^\s*(none|no prior|not available|n/?a)?\W*$", re.I)


def label_phrase(label: str) -> str:
    """The noun phrase used in questions for a label id or name ("pleural_effusion" -> "pleural effusion")."""
    text = label.replace("_", " ").strip().lower()
    return _PHRASES.get(text, text)


def _key(label: str) -> str:
    return label.replace("_", " ").strip().lower()


def question_id(report_id: str, task: str, question: str, options: Sequence[str]) -> str:
    """Stable id of a question: `q1:` + 20 hex digits of sha256 over report id, task, text and options."""
    payload = json.dumps([report_id, task, question, list(options)], ensure_ascii=False, separators=(",", ":"))
    return "q1:" + hashlib.sha256(payload.encode("utf-8")).hexdigest()[:20]


def _question(report: Report, task: str, text: str, options: list[str], answer: list[str]) -> Question:
    return Question(
        question_id=question_id(report.report_id, task, text, options),
        report_id=report.report_id,
        task=task,  # type: ignore[arg-type]
        question=text,
        options=options,
        answer=answer,
    )


def single_label_questions(report: Report, labels: Mapping[str, int | None], rng: random.Random) -> list[Question]:
    """Yes/no questions, positives alternating with negatives (denied first, then unmentioned).

    Args:
        report: The report the questions are about.
        labels: Label -> 1 (positive), 0 (denied), -1 (uncertain), None (not mentioned).
        rng: Source for the order within each group.

    Returns:
        Questions in the order they should be picked.
    """
    asked = [lab for lab in labels if _key(lab) not in _NOT_ASKED]
    pos = [lab for lab in asked if labels[lab] == 1]
    denied = [lab for lab in asked if labels[lab] == 0]
    unmentioned = [lab for lab in asked if labels[lab] is None]
    for group in (pos, denied, unmentioned):
        rng.shuffle(group)
    # Negatives alternate denied / unmentioned so both kinds of "no" show up.
    neg: list[str] = []
    for i in range(max(len(denied), len(unmentioned))):
        neg.extend(g[i] for g in (denied, unmentioned) if i < len(g))
    out: list[Question] = []
    for i in range(max(len(pos), len(neg))):
        for lab, ans in ((pos, YES), (neg, NO)):
            if i < len(lab):
                phrase = label_phrase(lab[i])
                out.append(_question(report, "single", f"Is there {phrase} in this chest X-ray?", [YES, NO], [ans]))
    return out


def binary_questions(report: Report, labels: Mapping[str, int | None]) -> list[Question]:
    """Normal vs abnormal, or nothing when the findings leave it unclear (only uncertain pathology)."""
    values = [v for lab, v in labels.items() if _key(lab) not in _NOT_PATHOLOGY]
    if any(v == 1 for v in values):
        answer = ABNORMAL
    elif any(v == -1 for v in values):
        return []
    else:
        answer = NORMAL
    text = "Is this chest X-ray normal or abnormal?"
    return [_question(report, "binary", text, [NORMAL, ABNORMAL], [answer])]


def multi_label_questions(report: Report, labels: Mapping[str, int | None], rng: random.Random) -> list[Question]:
    """One "which of these are present?" question; the answer is the positive set (or "none of these")."""
    asked = [lab for lab in labels if _key(lab) not in _NOT_ASKED and labels[lab] != -1]
    pos = [lab for lab in asked if labels[lab] == 1]
    neg = [lab for lab in asked if labels[lab] != 1]
    rng.shuffle(pos)
    rng.shuffle(neg)
    chosen = pos[:MULTI_MAX_POSITIVES]
    chosen += neg[: max(0, MULTI_OPTIONS - len(chosen))]
    if len(chosen) < 2:
        return []
    rng.shuffle(chosen)
    options = [label_phrase(lab).removeprefix("a ").removeprefix("an ") for lab in chosen]
    answer = [opt for lab, opt in zip(chosen, options, strict=False) if labels[lab] == 1] or [NONE_OPTION]
    text = "Which of these findings are present in this chest X-ray?"
    return [_question(report, "multi_label", text, [*options, NONE_OPTION], answer)]


def has_prior(report: Report) -> bool:
    """Whether the report refers to a prior study (a comparison field, or prior/compared wording)."""
    if report.comparison and not _NO_PRIOR.match(report.comparison):
        return True
    return bool(_PRIOR_RE.search(report.text))


def change_in(sentence: str) -> str | None:
    """The one change class a sentence states (improved/worsened/unchanged/new), or None when absent or mixed."""
    text = _NEGATED_NEW.sub(" ", sentence)
    found = [name for name, rx in _CHANGE_RES.items() if rx.search(text)]
    return found[0] if len(found) == 1 else None


def temporal_questions(report: Report, findings: Iterable[Finding], rng: random.Random) -> list[Question]:
    """Change-vs-prior questions for positive findings whose sentence states one clear change."""
    if not has_prior(report):
        return []
    seen: dict[str, str | None] = {}
    for f in findings:
        if f.assertion != "positive" or f.hypothetical:
            continue
        change = change_in(f.sentence)
        if change is None:
            continue
        # Two sentences stating different changes for one observation: unclear, skip it.
        seen[f.observation] = change if seen.get(f.observation, change) == change else None
    out = []
    for obs, change in sorted(seen.items()):
        if change is None:
            continue
        phrase = label_phrase(obs).removeprefix("a ").removeprefix("an ")
        text = f"Compared with the prior study, how has the {phrase} changed?"
        out.append(_question(report, "temporal", text, list(CHANGES), [change]))
    rng.shuffle(out)
    return out


def build_questions(
    report: Report,
    findings: list[Finding],
    labels: Mapping[str, int | None],
    *,
    tasks: Sequence[str] = TASKS,
    per_report: int = 4,
    seed: int = 0,
) -> list[Question]:
    """Pick up to `per_report` questions for one report, round-robin over `tasks`.

    Args:
        report: The report.
        findings: Its extracted findings (for temporal wording).
        labels: Its label vector (`report_labels(findings, labelset)`): 1, 0, -1 or None per label.
        tasks: Task names in priority order (see `TASKS`).
        per_report: Most questions to return.
        seed: Seed; with the report id it fixes every random choice.

    Returns:
        Questions, distinct by `question_id`; fewer than `per_report` when the report supports fewer.

    Raises:
        InputError: unknown task name or `per_report` < 1.
    """
    check_tasks(tasks)
    if per_report < 1:
        raise InputError(f"questions per report must be at least 1, not {per_report}", field="questions_per_report")
    rng = random.Random(f"{seed}:{QUESTIONS_VERSION}:{report.report_id}")
    pools: dict[str, list[Question]] = {
        "single": single_label_questions(report, labels, rng) if "single" in tasks else [],
        "binary": binary_questions(report, labels) if "binary" in tasks else [],
        "multi_label": multi_label_questions(report, labels, rng) if "multi_label" in tasks else [],
        "temporal": temporal_questions(report, findings, rng) if "temporal" in tasks else [],
    }
    picked: list[Question] = []
    seen: set[str] = set()
    while len(picked) < per_report and any(pools[t] for t in tasks):
        for task in tasks:
            if pools[task] and len(picked) < per_report:
                q = pools[task].pop(0)
                if q.question_id not in seen:
                    seen.add(q.question_id)
                    picked.append(q)
    return picked


def check_tasks(tasks: Sequence[str]) -> list[str]:
    """Validate task names (order kept, duplicates removed).

    Raises:
        InputError: empty list or an unknown task, naming it and the known ones.
    """
    out: list[str] = []
    for t in tasks:
        if t not in TASKS:
            raise InputError(f"unknown task {t!r}", field="tasks", hint=f"choose from {', '.join(TASKS)}")
        if t not in out:
            out.append(t)
    if not out:
        raise InputError("no task given", field="tasks", hint=f"choose from {', '.join(TASKS)}")
    return out

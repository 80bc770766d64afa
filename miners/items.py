"""Work items of a mining job: planning a report's items and building the shard row of a mined chain.

An item is one (report, question, rollout). Its id (`item_id_for`, the chain id) is a hash of
everything that changes the chain, so a resumed job recognises what it already wrote.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import radprm
from radprm.miners.cache import canonical_json
from radprm.miners.chains import ChainOutcome, attempt_sampling
from radprm.miners.client import SamplingParams
from radprm.miners.config import MineConfig
from radprm.miners.ledger import PENDING
from radprm.miners.questions import build_questions
from radprm.quarantine import QuarantineSink
from radprm.schemas.records import Chain, Finding, Item, PromptRef, Question, Report, StepRecord


def utc_now() -> str:
    """Current time as ISO-8601 UTC, seconds precision."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def item_id_for(
    report: Report, question: Question, prompt_labels: list[str], model: str, sampling: SamplingParams, rollout: int
) -> str:
    """Chain id: `c1:` + sha256 of report (id and text), question id, prompts, model, sampling and rollout.

    Args:
        report: The report.
        question: The question.
        prompt_labels: `id@vN:sha` of every prompt of the chain.
        model: Served model name.
        sampling: Base sampling parameters of the job.
        rollout: Rollout index.
    """
    payload = {
        "report": report.report_id,
        "report_sha": hashlib.sha256(report.text.encode("utf-8")).hexdigest(),
        "question": question.question_id,
        "prompts": prompt_labels,
        "model": model,
        "sampling": sampling.as_dict(),
        "rollout": rollout,
    }
    return "c1:" + hashlib.sha256(canonical_json(payload).encode("utf-8")).hexdigest()[:32]


@dataclass
class WorkItem:
    """One item to mine: a report's question and rollout, with its id and ledger status."""

    report: Report
    findings: list[Finding]
    question: Question
    rollout: int
    item_id: str
    status: str = PENDING
    sampling: SamplingParams | None = None  # asked with this instead of the job's (a re-drive's --max-tokens)
    split: str | None = None
    patient_id: str | None = None
    key_source: str = "extractor"
    attempt: int = 0  # first attempt of its chain (a re-drive of `cites_report` asks a new one)


@dataclass
class ItemBuilder:
    """What every item of a job shares; plans a report's items and builds the row of a mined chain.

    Args:
        cfg: The job's options.
        validator: The StepValidator (its extractor's rule version goes on every row).
        prompt_refs: Prompts of the chain (recorded on every row).
        prompt_labels: `id@vN:sha` of those prompts (part of the item id).
        run_id: The job's run id.
        server_host: Host of the model server (provenance).
        rules_version: Version of the findings rules (provenance).
        splits: Gives each report its patient id and split (`miners.splits.SplitAssigner`).
        answer_key: Gold labels keying the questions of the reports they have (`miners.answer_key.AnswerKey`).
    """

    cfg: MineConfig
    validator: Any
    prompt_refs: list[PromptRef]
    prompt_labels: list[str]
    run_id: str
    server_host: str | None
    rules_version: str | None
    splits: Any = None
    answer_key: Any = None

    def __post_init__(self) -> None:
        self.sampling = self.cfg.sampling()
        self.disputed = 0

    def plan(self, report: Report, findings: list[Finding]) -> list[WorkItem]:
        """A report's questions times rollouts (CPU thread)."""
        from radprm.miners.answer_key import EXTRACTOR
        from radprm.validators.findings import report_labels

        labels, source = report_labels(findings, labelset=self.cfg.labelset), EXTRACTOR
        if self.answer_key is not None:
            labels, source = self.answer_key.labels_for(report.report_id, labels)
        questions = build_questions(
            report, findings, labels, tasks=self.cfg.tasks,
            per_report=self.cfg.questions_per_report, seed=self.cfg.seed or 0,
        )
        split = patient = None
        if self.splits is not None:
            patient = self.splits.patient_of(report.report_id, report.patient_id)
            split = self.splits.split_for(report.report_id, report.patient_id)
        return [
            WorkItem(report, findings, q, r,
                     item_id_for(report, q, self.prompt_labels, self.cfg.model, self.sampling, r),
                     split=split, patient_id=patient, key_source=source if q.task != "temporal" else EXTRACTOR)
            for q in questions for r in range(self.cfg.rollouts)
        ]

    def build(self, work: WorkItem, outcome: ChainOutcome) -> Item:
        """Validate the chain's steps against the report and assemble the shard row (CPU thread)."""
        q, report = work.question, work.report
        chain = Chain(chain_id=work.item_id, report_id=report.report_id, question=q.question, options=q.options,
                      answer=q.answer, steps=outcome.steps, model_answer=outcome.model_answer)
        validation = self.validator.validate(chain, report, work.findings)
        scores = validation.scores
        reward = validation.answer_reward
        if reward is None and outcome.model_answer:
            from radprm.validators.scoring import answer_reward

            reward = answer_reward(q.answer, outcome.model_answer)
        from radprm.miners.answer_key import disputed_labels

        disputed = bool(disputed_labels(q, outcome.model_answer, work.findings, self.cfg.labelset, work.key_source))
        if disputed:  # the key itself is doubtful: no reward either way, a reviewer decides
            reward = None
            self.disputed += 1
        sampling = attempt_sampling(work.sampling or self.sampling, work.rollout, outcome.attempt)
        stages = outcome.stages if len(outcome.stages) == len(outcome.steps) else []
        return Item(
            item_id=work.item_id, report_id=report.report_id, image_paths=report.image_paths, task=q.task,
            stage=">".join(dict.fromkeys(outcome.stages)) or q.stage, question=q.question, options=q.options,
            answer=q.answer, model_answer=outcome.model_answer, answer_reward=reward,
            plan="\n".join(outcome.plan) or None,
            steps=[StepRecord(index=s.step_index, text=s.step, label=s.label, verdict=s.verdict, reasons=s.reasons,
                              evidence=s.evidence, score=s.score,
                              stage=stages[s.step_index] if s.step_index < len(stages) else None)
                   for s in validation.steps],
            completeness=scores.completeness, factuality=scores.factuality, effectiveness=scores.effectiveness,
            first_bad_step=scores.first_bad_step, model=self.cfg.model, server_host=self.server_host,
            prompts=self.prompt_refs, sampling=canonical_json(sampling.as_dict()), seed=sampling.seed,
            rollout=work.rollout, radprm_version=radprm.__version__, rules_version=self.rules_version,
            run_id=self.run_id, created_at=utc_now(), report_text=report.text, findings_text=report.findings,
            impression_text=report.impression, style=self.cfg.style, patient_id=work.patient_id, split=work.split,
            answer_key_source=work.key_source, answer_disputed=disputed,
        )


class ReportFeed:
    """The job's reports: read from `cfg.reports` (with the reader options and limit) or a given iterable.

    Args:
        cfg: The job's options.
        source: Reports to use instead of reading `cfg.reports`.
        quarantine: Where the reader puts rows it cannot read.
    """

    def __init__(self, cfg: MineConfig, source: Iterable[Report] | None, quarantine: QuarantineSink) -> None:
        self.cfg = cfg
        self._stream: Any = None
        if source is not None:
            it = iter(source)
            self._it = (r for _, r in zip(range(cfg.limit), it, strict=False)) if cfg.limit is not None else it
        else:
            from radprm.readers import read_reports

            self._stream = read_reports(cfg.reports, quarantine=quarantine, limit=cfg.limit, **cfg.reader)
            self._it = iter(self._stream)

    @staticmethod
    def check(cfg: MineConfig, source: Iterable[Report] | None) -> None:
        """Fail now on file-level input problems (missing file, unknown columns)."""
        if source is None:
            from radprm.readers import read_reports

            read_reports(cfg.reports, quarantine=QuarantineSink(), limit=0, **cfg.reader)

    def __iter__(self) -> Iterator[Report]:
        return self._it

    def fraction_read(self) -> float | None:
        """Share of the input consumed so far (None when unknown), for the progress estimate."""
        stream = self._stream
        if stream is not None and hasattr(stream, "progress"):
            done, total, _unit = stream.progress()
            if total:
                frac = done / total
                if self.cfg.limit and stream.stats.kept:
                    frac = max(frac, stream.stats.kept / self.cfg.limit)
                return frac or None
        return None

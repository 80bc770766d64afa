"""Record types that flow between radprm stages (pydantic). Arrow twins live in `schemas.arrow`.

Every stage builds on these: readers yield `Report`, the extractor yields `Finding`, the miners build
`Question` and `Chain`, the step validator produces `StepResult` and `ChainScores`, the shard writer
stores `Item`. A record that cannot be processed becomes a `QuarantineRecord`, never a silent drop.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Assertion = Literal["positive", "negative", "uncertain"]
Laterality = Literal["left", "right", "bilateral", "none"]
Section = Literal["findings", "impression", "indication", "comparison", "history", "other"]
Verdict = Literal["supported", "contradicted", "unsupported", "neutral", "unsure"]
Task = Literal["single", "binary", "multi_label", "temporal", "staged"]


class Record(BaseModel):
    """Base: strict about unknown fields so that typos in producers fail loudly."""

    model_config = ConfigDict(extra="forbid")


class Report(Record):
    """One radiology report as read from any input format."""

    report_id: str = Field(description="Stable id: IU `uid`, or the --id-col value.")
    findings: str | None = Field(None, description="FINDINGS section text.")
    impression: str | None = Field(None, description="IMPRESSION section text.")
    indication: str | None = None
    comparison: str | None = None
    text: str = Field(description="Canonical text: 'FINDINGS: ...\\nIMPRESSION: ...' (offsets refer to it).")
    image_paths: list[str] = Field(default_factory=list)
    source_path: str = ""
    source_row: int = Field(0, description="1-based data row in the source file (header not counted).")
    patient_id: str | None = Field(None, description="Patient id when the input has one (MIMIC-CXR `p` folder, "
                                   "a `patient_id` column).")


class Finding(Record):
    """One mention of an observation in a text, with its ConText attributes."""

    report_id: str
    observation: str = Field(description="Normalised concept id from the lexicon, e.g. 'pleural_effusion'.")
    mention: str = Field(description="The matched words as they appear in the text.")
    assertion: Assertion
    historical: bool = False
    hypothetical: bool = False
    laterality: Laterality = "none"
    severity: str | None = Field(None, description="trace, small, mild, moderate, large, severe, ...")
    location: str | None = Field(None, description="Anatomical location phrase, e.g. 'right lower lobe'.")
    section: Section = "other"
    sentence: str
    start: int = Field(description="Char offset of the mention in the analysed text.")
    end: int
    sentence_start: int
    sentence_end: int


class QuarantineRecord(Record):
    """A record a stage could not process, kept with its reason."""

    record_id: str | None = None
    stage: str
    reason_code: str
    source_path: str | None = None
    source_row: int | None = None
    field: str | None = None
    detail: str = ""
    payload: str | None = Field(None, description="Raw input (JSON or text) for replay.")
    run_id: str | None = None
    # --- schema version 2 (issue 16): ids to join with reports / items, and re-drive resolution ---------
    report_id: str | None = Field(None, description="Report the record is about, whenever it is known.")
    item_id: str | None = Field(None, description="Shard item (mining job item) the record is about.")
    chain_id: str | None = Field(None, description="Reasoning chain the record is about (= item_id in mining).")
    resolved_at: str | None = Field(None, description="UTC time a re-drive resolved the record (None: open).")
    resolution: str | None = Field(
        None, description="How it was resolved: `written` (re-driven item written) or `superseded` (the item "
        "failed again with another reason, recorded as a new record).",
    )


class Question(Record):
    """A question built from a report's findings; the answer comes from the findings, never the LLM."""

    question_id: str
    report_id: str
    task: Task
    question: str
    options: list[str] = Field(default_factory=list)
    answer: list[str] = Field(description="Reference answer as a set: ['yes'], ['no'], or the positive labels.")
    stage: str | None = Field(None, description="CXRTrek stage for staged chains.")


class Evidence(Record):
    """A report sentence that supports or contradicts a step, with char offsets into `Report.text`."""

    text: str
    start: int
    end: int


class StepResult(Record):
    """The validator's decision for one reasoning step."""

    chain_id: str
    step_index: int
    step: str
    label: bool = Field(description="True when consistent with and grounded in the report, or harmless glue.")
    verdict: Verdict
    reasons: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    score: float = Field(ge=0.0, le=1.0)


class ChainScores(Record):
    """RadRScore-style chain scores plus the PRM first-bad-step index (-1 when every step is good)."""

    chain_id: str
    completeness: float | None = Field(None, ge=0.0, le=1.0)
    factuality: float | None = Field(None, ge=0.0, le=1.0)
    effectiveness: float | None = Field(None, ge=0.0, le=1.0)
    first_bad_step: int = -1
    n_steps: int = 0


class Chain(Record):
    """Reasoning steps for one question, as produced by an LLM (or read from a file for validation)."""

    chain_id: str
    report_id: str
    question: str | None = None
    options: list[str] = Field(default_factory=list)
    answer: list[str] = Field(default_factory=list)
    steps: list[str]
    model_answer: list[str] = Field(default_factory=list)


class PromptRef(Record):
    """Which prompt template produced a call: id, version and sha256 of the template file."""

    name: str
    version: int
    sha: str


class StepRecord(Record):
    """A step as stored inside a shard item (StepResult without the chain id)."""

    index: int
    text: str
    label: bool
    verdict: Verdict
    reasons: list[str] = Field(default_factory=list)
    evidence: list[Evidence] = Field(default_factory=list)
    score: float = Field(ge=0.0, le=1.0)
    stage: str | None = Field(None, description="CXRTrek stage of the step (staged mode; schema 2), else None.")
    # --- schema v2 (issue 14): Monte-Carlo rollout labels (`radprm label rollouts`); None when not rolled out ---
    mc_score: float | None = Field(None, ge=0.0, le=1.0, description="Mean answer reward of the rollouts from the "
                                   "prefix ending at this step (soft label); None when inferred or not rolled out.")
    mc_label: bool | None = Field(None, description="Hard rollout label (Math-Shepherd): True when some rollout "
                                  "reached the reference answer; inferred by --search binary when mc_rollouts is 0.")
    mc_rollouts: int | None = Field(None, ge=0, description="Rollouts scored for this prefix (0: label inferred).")


class Item(Record):
    """One shard row: a question, its mined and validated reasoning chain, scores and provenance."""

    item_id: str = Field(description="Stable hash of report, question, prompts, model, sampling, rollout.")
    report_id: str
    image_paths: list[str] = Field(default_factory=list)
    task: Task
    stage: str | None = None
    question: str
    options: list[str] = Field(default_factory=list)
    answer: list[str]
    model_answer: list[str] = Field(default_factory=list)
    answer_reward: float | None = Field(None, ge=0.0, le=1.0)
    plan: str | None = None
    steps: list[StepRecord] = Field(default_factory=list)
    completeness: float | None = Field(None, ge=0.0, le=1.0)
    factuality: float | None = Field(None, ge=0.0, le=1.0)
    effectiveness: float | None = Field(None, ge=0.0, le=1.0)
    first_bad_step: int = -1
    # provenance
    model: str
    server_host: str | None = None
    prompts: list[PromptRef] = Field(default_factory=list)
    sampling: str = Field("{}", description="Sampling parameters as a JSON object string.")
    seed: int | None = None
    rollout: int = 0
    radprm_version: str
    rules_version: str | None = None
    run_id: str | None = None
    created_at: str = Field(description="ISO-8601 UTC timestamp.")
    # the report itself
    report_text: str
    findings_text: str | None = None
    impression_text: str | None = None
    # --- schema v2 (issue 14): provenance of the rollout labels; None when the item was never rolled out ---
    mc_model: str | None = Field(None, description="Served model that wrote the rollouts.")
    mc_prompt: PromptRef | None = Field(None, description="Rollout prompt (id, version, sha256).")
    mc_sampling: str | None = Field(None, description="Rollout options as a JSON object string (n, search, "
                                    "threshold, temperature, top_p, max_tokens, seed).")
    # --- schema v2 (issue 16, privacy): see schemas.shards.V2_ITEM_FIELD_LIST
    phi: str | None = Field(None, description="PHI guard hits as a JSON list (null when the guard was off).")
    report_sha256: str | None = Field(None, description="sha256 of the report text (checked by rehydrate).")
    # --- schema v2 (issue 13, training data; version-1 shards read with these as None) -----------
    style: str | None = Field(None, description="Chain style: 'image' (reads the film) or 'report' (cites it).")
    patient_id: str | None = Field(None, description="Patient id (MIMIC `p` folder); the report id when none.")
    split: str | None = Field(None, description="Data split: train, validation, test, or a split file's name.")
    answer_key_source: str | None = Field(
        None, description="Where `answer` comes from: 'extractor', or 'labels:<file name>' (--answer-key)."
    )
    answer_disputed: bool | None = Field(
        None, description="The model's answer disagrees with an extractor key resting on an uncertain or "
        "single-mention finding: no answer reward, sent to review.",
    )

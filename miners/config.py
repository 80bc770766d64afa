"""`MineConfig`: every option of a mining job, declared once.

Each field says whether it is part of the job's **identity** (what the job produces: stored in
`job.json`, compared on `--resume`, recorded as provenance) or **operational** (how this session runs:
server URL, concurrency, timeouts, commit cadence; free to change between sessions). The `radprm mine`
options (`commands/_job_options.py`), the keywords of `radprm.miners.mine()`, the resume check and the
`job.json` identity are all derived from this class, so adding an option means adding one field here
(and a line in docs/mining.md).

```python
stop_after_items: int | None = option(
    None, "Stop after writing this many items in this session (resume continues).", identity=False, ge=1
)
```
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo

from radprm.errors import InputError, ModelError
from radprm.miners.client import SamplingParams
from radprm.miners.questions import TASKS, check_tasks
from radprm.miners.servers import split_urls
from radprm.miners.styles import CITES_REPORT, CITES_REPORT_POLICIES, STYLES
from radprm.validators.abstention import MODEL, OFF, TABLE

JOB_PANEL = "Job"
LLM_PANEL = "Model server and sampling"
PRIVACY_PANEL = "Privacy and licence"
_SAMPLING = SamplingParams()  # the sampling defaults live in SamplingParams, once
JUDGE_SCOPES = ("undecided", "all")
REDRIVE_PANEL = "Re-drive quarantined items"
REDRIVE_REASONS = (
    "truncated", "timeout", "schema_violation", "malformed_json", "http_5xx", "rate_limited", "connection_error",
    "bad_response", "http_4xx", "empty_chain", "validator_error", "mine_failed", CITES_REPORT,
)
"""Reason codes of mine-stage quarantine records that `--retry-quarantined` can re-ask: the client's error
codes (`miners.client`), a chain of blank steps, a validator crash and an image-style chain that kept citing
the report (asked as a new attempt: new seeds and cache keys)."""
REDRIVE_OVERRIDES = ("max_tokens",)
"""Identity options a re-drive may change: the completion budget that cut a `truncated` item. The stored
job identity keeps the first value (item ids do not change); each re-driven row records its own sampling
and the re-drive history records the override."""
JUDGE_POLICIES = ("rules-first", "judge-first", "both-must-agree")
ENGINES = ("local", "ray")


def _choices(field: str) -> tuple[str, tuple[str, ...]]:
    """How a choice option is named in errors and its allowed values (PHI ones imported late: a light config)."""
    if field == "engine":
        return "engine", ENGINES
    if field == "style":
        return "style", STYLES
    if field == "cites_report":
        return "value", CITES_REPORT_POLICIES
    if field in ("phi", "phi_engine"):
        from radprm.phi.guard import ENGINES as PHI_ENGINES
        from radprm.phi.guard import MODES

        return ("PHI mode", MODES) if field == "phi" else ("PHI engine", PHI_ENGINES)
    # kept in step with radprm.validators.judge.SCOPES / POLICIES (importing it here loads medspaCy)
    return "value", JUDGE_SCOPES if field == "judge" else JUDGE_POLICIES


# Identity values that are not options: they come from files and code, and are named so in errors.
DERIVED_IDENTITY = {
    "prompts": "prompt files",
    "rules_version": "findings rule files",
    "step_rules_version": "step rule files (or the abstention table)",
    "questions_version": "question rules (radprm version)",
}


def option(default: Any, help: str, *, identity: bool, panel: str = JOB_PANEL, cli: bool = True,
           name: str | None = None, repeatable: bool = False, **constraints: Any) -> Any:
    """Declare a MineConfig field.

    Args:
        default: the default value (also the CLI default).
        help: one line, shown by `--help` and in the API docs.
        identity: part of what the job produces (compared on resume) rather than how it runs.
        panel: `--help` panel.
        cli: becomes a `radprm mine` option (False: the value comes from elsewhere, e.g. the reader options).
        name: how the value is named in errors when it is not the option `--field-name`.
        repeatable: the CLI option may be given several times (the values are joined with commas).
        **constraints: pydantic constraints (`ge`, `le`, ...), also used as the CLI's min / max.
    """
    extra = {"identity": identity, "panel": panel, "cli": cli, "name": name, "repeatable": repeatable}
    return Field(default, description=help, json_schema_extra=extra, **constraints)


class OptionsModel(BaseModel):
    """Base of job option classes declared with `option(...)` (`MineConfig`, `RolloutConfig`)."""

    @classmethod
    def validated(cls, what: str, options: dict[str, Any]) -> Self:
        """`cls(**options)`, with the first validation error raised as one `InputError` naming the option.

        Args:
            what: the kind of job, in the unknown-option message (`unknown mining option 'x'`).
            options: the option values.

        Raises:
            InputError: an unknown option or a bad value. An error of the whole model (a combination of
                options) names the option its message starts with (`--reasons needs ...`).
        """
        try:
            return cls(**options)
        except ValidationError as exc:
            err = exc.errors()[0]
            name = str(err["loc"][0]) if err["loc"] else None
            if err["type"] == "extra_forbidden":
                raise InputError(f"unknown {what} option {name!r}", field=name,
                                 hint=f"options: {', '.join(cls.model_fields)}") from None
            message = err["msg"].removeprefix("Value error, ")
            if name is None and message.startswith("--"):
                flag = message.split()[0][2:].replace("-", "_")
                name = flag if flag in cls.model_fields else None
            raise InputError(message, field=name) from None

    @classmethod
    def fields_where(cls, key: str, value: Any = True) -> dict[str, FieldInfo]:
        """Fields whose `option(...)` marker `key` equals `value` (e.g. `("identity", True)`, `("cli", True)`)."""
        return {n: f for n, f in cls.model_fields.items() if (f.json_schema_extra or {}).get(key) == value}


# Options every job class (`MineConfig`, `RolloutConfig`) declares alike, written once.
MODEL_OPTION = option(
    None, "Served model name. Default: $RADPRM_MODEL, else the `make serve` model.", identity=True, panel=LLM_PANEL,
)
TOP_P_OPTION = option(_SAMPLING.top_p, "Nucleus sampling mass.", identity=True, panel=LLM_PANEL)
MAX_RETRIES_OPTION = option(
    4, "Retries of 5xx, 429, timeouts and connection errors per request.", identity=False, panel=LLM_PANEL, ge=0
)
SHARD_ROWS_OPTION = option(5000, "Rows per Parquet shard.", identity=False, ge=1)
COMMIT_EVERY_OPTION = option(
    60.0, "Seconds between shard commits (bounds the work redone after a crash).", identity=False, ge=0.0
)
STRICT_OPTION = option(False, "Exit 1 when anything was quarantined.", identity=False)


class MineConfig(OptionsModel):
    """Every option of a mining job (see the module docs for identity vs operational)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    # --- identity: what the job produces --------------------------------------------------------------
    reports: str | None = option(None, "Reports file (absolute path).", identity=True, cli=False, name="REPORTS")
    reader: dict[str, Any] = option({}, "Reader options.", identity=True, cli=False, name="reader options")
    limit: int | None = option(None, "Read at most this many reports.", identity=True, cli=False, ge=0)
    model: str | None = MODEL_OPTION
    mode: str = option("reasoner", "reasoner (plan -> analysis -> refine) or staged (CXRTrek stages).", identity=True)
    tasks: list[str] = option(
        list(TASKS), "Comma-separated question tasks in priority order: single, binary, multi_label, temporal.",
        identity=True,
    )
    questions_per_report: int = option(2, "Most questions per report.", identity=True, ge=1)
    rollouts: int = option(1, "Chains per question (rollout r samples with seed + r).", identity=True, ge=1)
    labelset: str = option("chexpert", "Label set the questions use: chexpert or chestxray14.", identity=True)
    temperature: float = option(
        _SAMPLING.temperature, "Sampling temperature.", identity=True, panel=LLM_PANEL, ge=0.0, le=2.0
    )
    top_p: float = TOP_P_OPTION
    max_tokens: int = option(_SAMPLING.max_tokens, "Completion budget per call.", identity=True, panel=LLM_PANEL, ge=1)
    seed: int | None = option(0, "Seed for questions and sampling.", identity=True, panel=LLM_PANEL)
    style: str = option(
        "image", "Chain style: image (written as reading the film; the report is hidden ground truth and never "
        "cited) or report (reasons from the report, for text-only reasoners).", identity=True,
    )
    cites_report: str = option(
        CITES_REPORT_POLICIES[0], "Image-style chains whose steps cite the report (\"the report states\", "
        "\"not mentioned\"): quarantine (ask once more with a stricter reminder, then quarantine cites_report) "
        "or keep (write them; counted in the summary). Report-style chains are never checked.", identity=True,
    )
    split_file: str | None = option(
        None, "Split CSV (split + report_id/study_id and/or patient_id/subject_id, e.g. MIMIC's official split); "
        "a report it does not name is quarantined (split_missing).", identity=True,
    )
    split_ratios: str = option(
        "0.9,0.05,0.05", "train,validation,test shares of the deterministic patient-hash split (no --split-file).",
        identity=True,
    )
    exclude_reports: str | None = option(
        None, "Report ids to keep out of the job (evaluation sets): .txt one per line, or CSV / JSONL with report_id.",
        identity=True,
    )
    answer_key: str | None = option(
        None, "Gold label file (any table `radprm eval labels` reads, e.g. MIMIC's CheXpert labels) used as the "
        "answer key where it has the report; the extractor keys the rest. Recorded per item.", identity=True,
    )
    judge: str | None = option(
        None, "Also ask an LLM judge (same server and model) about steps: undecided (rule verdict unsure or "
        "neutral) or all. Default: rules only.", identity=True, panel=LLM_PANEL,
    )
    judge_policy: str | None = option(
        None, "How judge and rule labels combine: rules-first (default), judge-first or both-must-agree "
        "(validators/README.md).", identity=True, panel=LLM_PANEL,
    )
    abstention: str | None = option(
        None, "What abstains (unsure verdicts, masked in exports): the learned second opinion (`radprm eval doubt`) "
        "or a table (`radprm eval calibrate`). Default: the packaged validators/doubt.json; table: the packaged "
        "validators/abstention.json; none: no abstention; or a file.",
        identity=True,
    )

    shards: str | None = option(
        None, "Where the shards go: a local folder or a pyarrow filesystem URI (s3://bucket/prefix, gs://bucket/"
        "prefix; options in the query string, credentials from the environment). --run-dir (job.json, ledger, "
        "cache, quarantine) stays a local folder. Default: <run-dir>/shards.", identity=True,
    )

    # privacy and licence (issue 16; radprm.phi): identity, so a resumed job keeps its policy
    phi: str = option(
        "off", "PHI guard (Presidio): off, flag (record hits in the phi column and QA), mask (replace hits before "
        "the model sees the text and in stored text) or block (quarantine phi_detected). Model output is scanned "
        "too.", identity=True, panel=PRIVACY_PANEL,
    )
    phi_engine: str = option(
        "patterns", "PHI recognizers: patterns (fast) or ner (plus spaCy NER; more names, more false hits).",
        identity=True, panel=PRIVACY_PANEL,
    )
    store_report_text: str = option(
        "yes", "yes, or no: shards, cache and quarantine keep report ids and offsets only "
        "(`radprm rehydrate` joins the text back from your copy).", identity=True, panel=PRIVACY_PANEL,
    )
    licence: str | None = option(
        None, "Licence of the source reports, stated in the dataset card. Default: CC-BY-NC-ND-4.0 for the IU "
        "reports CSV, else undeclared.", identity=True, panel=PRIVACY_PANEL,
    )
    credentialed: bool = option(
        False, "The source is credentialed (e.g. MIMIC-CXR): refuse a non-local --base-url.", identity=True,
        panel=PRIVACY_PANEL,
    )

    # --- operational: how this session runs -----------------------------------------------------------
    base_url: str | None = option(
        None, "OpenAI-compatible server URL ending in /v1; repeat it (or give @FILE, one URL a line) to spread "
        "requests over several servers. Default: $RADPRM_BASE_URL, else the server `make serve` started.",
        identity=False, panel=LLM_PANEL, repeatable=True,
    )
    engine: str = option(
        "local", "local (one process) or ray (Ray Data stages; `pip install 'radprm[ray]'`).", identity=False,
    )
    ray_address: str | None = option(
        None, "With --engine ray: the cluster to join (auto, or host:port / ray://...). Default: a local "
        "Ray started for the job.", identity=False,
    )
    concurrency: int = option(8, "Chains (and requests) in flight at once.", identity=False, panel=LLM_PANEL, ge=1)
    timeout: float = option(120.0, "Seconds per request.", identity=False, panel=LLM_PANEL, ge=0.1)
    max_retries: int = MAX_RETRIES_OPTION
    prompts_dir: Path | None = option(
        None, "Prompt folder (<id>/v<N>.yaml). Default: $RADPRM_PROMPTS_DIR, else the packaged prompts.",
        identity=False,
    )
    cache: Path | None = option(
        None, "Request cache file; share one between jobs to reuse answers. Default: <run-dir>/cache.sqlite.",
        identity=False,
    )
    shard_rows: int = SHARD_ROWS_OPTION
    commit_every: float = COMMIT_EVERY_OPTION
    strict: bool = STRICT_OPTION
    allow_remote: bool = option(
        False, "With --credentialed: allow a model server that is not on this machine.", identity=False,
        panel=PRIVACY_PANEL,
    )
    stop_after_items: int | None = option(
        None, "Stop after writing this many items in this session (--resume continues).", identity=False, ge=1
    )
    retry_quarantined: bool = option(
        False, "With --resume: ask only the quarantined items again (with this session's --max-tokens, --timeout, "
        "--base-url, --concurrency); one that succeeds is written once and its record marked resolved.",
        identity=False, panel=REDRIVE_PANEL,
    )
    reasons: list[str] = option(
        [], f"Comma-separated reason codes to re-drive (default: all of {', '.join(REDRIVE_REASONS)}).",
        identity=False, panel=REDRIVE_PANEL,
    )
    max_requests: int | None = option(
        None, "Budget: start no new chain once this session sent this many requests (--resume continues).",
        identity=False, panel=LLM_PANEL, ge=1,
    )
    max_tokens_total: int | None = option(
        None, "Budget: start no new chain once this session's prompt + completion tokens reach this (--resume "
        "continues).", identity=False, panel=LLM_PANEL, ge=1,
    )

    @field_validator("base_url", mode="before")
    @classmethod
    def _join_urls(cls, value: Any) -> Any:
        if isinstance(value, (list, tuple)):  # repeated --base-url, or a list from the API
            return ",".join(str(v) for v in value) or None
        return value

    @property
    def base_urls(self) -> list[str]:
        """Every server URL of the job (`--base-url` repeated, comma-separated or @FILE)."""
        return split_urls(self.base_url)

    @field_validator("tasks", "reasons", mode="before")
    @classmethod
    def _split_tasks(cls, value: Any) -> Any:
        if isinstance(value, str):  # the CLI passes "single,binary"
            return [t.strip() for t in value.split(",") if t.strip()]
        return list(value) if isinstance(value, (tuple, set)) else value

    @field_validator("tasks")
    @classmethod
    def _known_tasks(cls, value: list[str]) -> list[str]:
        return check_tasks(value)

    @field_validator("reasons")
    @classmethod
    def _known_reasons(cls, value: list[str]) -> list[str]:
        unknown = [r for r in value if r not in REDRIVE_REASONS]
        if unknown:
            raise ValueError(f"unknown reason code {unknown[0]!r} (re-drivable: {', '.join(REDRIVE_REASONS)})")
        return list(dict.fromkeys(value))

    @model_validator(mode="after")
    def _reasons_need_retry(self) -> MineConfig:
        if self.reasons and not self.retry_quarantined:
            raise ValueError("--reasons needs --retry-quarantined")
        return self

    def redrive_reasons(self) -> list[str]:
        """The reason codes this re-drive selects (all re-drivable ones when none are given)."""
        return list(self.reasons) or list(REDRIVE_REASONS)

    @field_validator("split_ratios")
    @classmethod
    def _ratios(cls, value: str) -> str:
        from radprm.errors import InputError
        from radprm.miners.splits import parse_ratios

        try:
            parse_ratios(value)
        except InputError as exc:
            raise ValueError(exc.message) from None
        return value

    @field_validator("engine", "style", "cites_report", "judge", "judge_policy", "phi", "phi_engine")
    @classmethod
    def _known_choice(cls, value: str | None, info: Any) -> str | None:
        what, allowed = _choices(info.field_name)
        if value is not None and value not in allowed:
            raise ValueError(f"unknown {what} {value!r} (choose from {', '.join(allowed)})")
        return value

    @field_validator("abstention")
    @classmethod
    def _abstention_file(cls, value: str | None) -> str | None:
        if value is not None and value not in (OFF, TABLE, MODEL) and not Path(value).is_file():
            raise ValueError(f"abstention file not found: {value} (a file of `radprm eval calibrate` or "
                             f"`radprm eval doubt`, or {TABLE}, {MODEL} or {OFF})")
        return value

    @field_validator("store_report_text", mode="before")
    @classmethod
    def _yes_no(cls, value: Any) -> Any:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if value not in ("yes", "no"):
            raise ValueError(f"expected yes or no, got {value!r}")
        return value

    @property
    def keeps_report_text(self) -> bool:
        """False with `--store-report-text no`."""
        return self.store_report_text == "yes"

    @classmethod
    def from_options(cls, **options: Any) -> MineConfig:
        """Validate options (API keywords or CLI values) into a config.

        Paths become absolute strings in the identity (job.json compares them on resume and must be
        JSON); the server URL and model are resolved with `resolve_server`.

        Raises:
            InputError: an unknown option or a bad value, naming the option.
            ModelError: no server URL or model can be found.
        """
        for key in ("reports", "split_file", "exclude_reports", "answer_key"):
            if options.get(key) is not None:
                options[key] = str(Path(options[key]).resolve())
        if options.get("shards") is not None:
            options["shards"] = shards_out(options["shards"])
        # unset reader options are left out, so a job started from the API resumes from the CLI and back
        options["reader"] = {k: (str(Path(v).resolve()) if isinstance(v, Path) else v)
                             for k, v in (options.get("reader") or {}).items() if v is not None}
        cfg = cls.validated("mining", options)
        cfg.base_url, cfg.model = resolve_server(cfg.base_url, cfg.model)
        cfg.base_url = ",".join(split_urls(cfg.base_url))  # @FILE read now: a bad file fails before any work
        from radprm.phi.licence import check_local_server, default_licence

        for url in split_urls(cfg.base_url):  # every server of the job must be local for a credentialed source
            check_local_server(url, credentialed=cfg.credentialed, allow_remote=cfg.allow_remote)
        if cfg.licence is None:
            cfg.licence = default_licence(cfg.reports, cfg.reader.get("format"))
        return cfg

    # --- derived views ---------------------------------------------------------------------------------
    def sampling(self) -> SamplingParams:
        """The job's base sampling parameters."""
        return SamplingParams(
            temperature=self.temperature, top_p=self.top_p, max_tokens=self.max_tokens, seed=self.seed
        )

    def identity(self, **derived: Any) -> dict[str, Any]:
        """What `job.json` stores and `--resume` compares: the identity fields plus `DERIVED_IDENTITY` values."""
        unknown = set(derived) - set(DERIVED_IDENTITY)
        if unknown:
            raise ValueError(f"not derived identity keys: {sorted(unknown)}")
        values = self.model_dump(mode="json", include=set(self.fields_where("identity")))
        return {**values, **{k: derived.get(k) for k in DERIVED_IDENTITY}}


CREDENTIAL_KEYS = ("access_key", "secret_key", "session_token", "credentials_file_path")
"""Query-string options of a pyarrow URI that carry secrets: refused in --shards (job.json and the manifest
store the URI)."""


def shards_out(out: str | Path, name: str = "--shards") -> str:
    """A shard-set location as job.json stores it (`--shards`, the input of `label rollouts`): an absolute local
    path, or the URI once it opens (`name` is how errors call it).

    Raises:
        InputError: the URI carries credentials in its query string.
        ShardError: a URI pyarrow does not know, or a bucket without a prefix (one line naming it).
    """
    from urllib.parse import parse_qs, urlsplit

    from radprm.shards.location import is_uri, locate

    if not is_uri(str(out)):
        return str(Path(str(out).removeprefix("file://")).resolve())
    secret = [k for k in parse_qs(urlsplit(str(out)).query) if k in CREDENTIAL_KEYS]
    if secret:
        raise InputError(f"{name} carries credentials ({secret[0]}=...): job.json and the manifest would store them",
                         field="shards", hint="drop them from the URI; set AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, "
                         "AWS_PROFILE or Google's application default credentials instead")
    locate(str(out))
    return str(out)


def shards_location(run_dir: str | Path, shards: str | None) -> str | Path:
    """Where a job's shards live: `shards` (`--shards`: a local folder or a pyarrow URI), else `<run_dir>/shards`."""
    return shards if shards is not None else Path(run_dir) / "shards"


def check_local_folder(path: str | Path, field: str) -> None:
    """Refuse a URI (`s3://...`, or `s3:/...` as `Path` leaves it) where a local folder or file is needed.

    Raises:
        InputError: naming the option, with the hint to put the shards on the store with --shards.
    """
    from radprm.shards.location import as_typed, looks_remote

    if looks_remote(path):
        raise InputError("must be a local path (job.json, the SQLite ledger and cache need a POSIX file system)",
                         path=as_typed(path), field=field,
                         hint="keep --run-dir local and give the bucket to --shards, e.g. --shards s3://bucket/prefix")


def describe_key(key: str) -> str:
    """How an identity key is named in errors: `--max-tokens`, `REPORTS`, `prompt files`, ..."""
    if key in DERIVED_IDENTITY:
        return DERIVED_IDENTITY[key]
    info = MineConfig.model_fields.get(key)
    name = (info.json_schema_extra or {}).get("name") if info is not None else None
    return name or f"--{key.replace('_', '-')}"


def check_resume(stored: dict[str, Any], current: dict[str, Any], path: Path) -> None:
    """Raise when a resumed job is given options that differ from those it was started with.

    Raises:
        InputError: naming the first differing option, with its stored and given values.
    """
    for key in current:
        was, now = stored.get(key), current.get(key)
        if key not in stored and key in MineConfig.model_fields and (key != "shards" or now is None):
            continue  # a job started before this option existed (job.json without it); its shards were local
        if key == "reader" and isinstance(was, dict):  # jobs written before unset options were dropped
            was = {k: v for k, v in was.items() if v is not None}
        if was != now:
            name = describe_key(key)
            what = (f"{name} differs from the job being resumed" if name.startswith("--")
                    else f"{name} changed since the job started")
            raise InputError(
                f"{what}: was {json.dumps(was)}, now {json.dumps(now)}",
                path=path, field=key, hint="resume with the job's options, or start a new --run-dir",
            )


def resolve_server(base_url: str | None, model: str | None) -> tuple[str, str]:
    """Fill in the server URL and model: given values, else $RADPRM_BASE_URL / $RADPRM_MODEL, else the
    state file `make serve` writes (`$RADPRM_CACHE/serve/server.json`).

    Raises:
        ModelError: no server URL can be found.
    """
    state: dict[str, Any] = {}
    cache_dir = Path(os.environ.get("RADPRM_CACHE", Path.home() / ".cache" / "radprm"))
    try:
        state = json.loads((cache_dir / "serve" / "server.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    base_url = base_url or os.environ.get("RADPRM_BASE_URL") or state.get("base_url")
    model = model or os.environ.get("RADPRM_MODEL") or state.get("model")
    if not base_url:
        raise ModelError("no model server given", field="base_url",
                         hint="pass --base-url (an OpenAI-compatible /v1 URL) or start one with `make serve`")
    if not model:
        raise ModelError("no model name given", field="model", hint="pass --model (the served model name)")
    return base_url, model

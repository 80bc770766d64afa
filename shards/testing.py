"""A small factory of realistic `Item`s for tests, demos and benchmarks (no LLM involved).

`make_item(i)` builds a deterministic item whose fields vary with `i` (task, labels, verdicts, first bad
step), and `item_from_report(...)` builds one from a real report text with extracted-looking steps.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Collection
from typing import Any

from radprm import __version__
from radprm.schemas.records import Evidence, Item, PromptRef, StepRecord

OBSERVATIONS = [
    "cardiomegaly",
    "pleural effusion",
    "pneumothorax",
    "atelectasis",
    "consolidation",
    "edema",
    "lung opacity",
    "fracture",
]
PROMPTS = [
    PromptRef(name="plan", version=1, sha="a" * 64),
    PromptRef(name="analysis", version=2, sha="b" * 64),
]
_REPORT = (
    "FINDINGS: The heart is normal in size. The mediastinum is unremarkable. There is no pleural effusion "
    "or pneumothorax. Mild left basilar atelectasis.\nIMPRESSION: No acute cardiopulmonary disease."
)


def stable_id(*parts: object) -> str:
    """A 16-hex-digit id hashed from the parts (what a miner's item_id looks like)."""
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:16]


def make_steps(
    n: int, *, first_bad: int = -1, text: str = _REPORT, rng: random.Random | None = None,
    unsure: Collection[int] = (),
) -> list[StepRecord]:
    """`n` steps, all good except the one at `first_bad` (and, at random, some after it).

    Steps whose index is in `unsure` are ones the validator could not decide: verdict `unsure`, the
    rules' lean (`label` False) and a fault reason, score 0.5.
    """
    rng = rng or random.Random(n)
    sentences = [s.strip() for s in text.replace("\n", " ").split(".") if s.strip()] or ["No findings"]
    steps = []
    for k in range(n):
        sentence = sentences[k % len(sentences)]
        start = max(text.find(sentence), 0)
        bad = k == first_bad or (first_bad >= 0 and k > first_bad and rng.random() < 0.3)
        verdict = "contradicted" if bad else ("neutral" if k == n - 1 else "supported")
        steps.append(
            StepRecord(
                index=k,
                text=f"Step {k + 1}: the report states '{sentence.lower()}'."
                if not bad
                else f"Step {k + 1}: there is a large {OBSERVATIONS[k % len(OBSERVATIONS)]}.",
                label=not bad,
                verdict=verdict,
                reasons=["contradicts_report"] if bad else [],
                evidence=[Evidence(text=sentence, start=start, end=start + len(sentence))] if not bad else [],
                score=round(0.1 if bad else 0.9, 3),
            )
        )
        if k in unsure:
            steps[-1] = steps[-1].model_copy(
                update={"label": False, "verdict": "unsure", "reasons": ["finding_not_in_report"], "score": 0.5}
            )
    return steps


def make_item(i: int = 0, **overrides: Any) -> Item:
    """A deterministic, valid `Item` number `i`; keyword arguments override any field."""
    rng = random.Random(i)
    task = ["single", "binary", "multi_label", "staged"][i % 4]
    n_steps = 1 + i % 5
    first_bad = -1 if i % 3 else min(i % 4, n_steps - 1)
    observation = OBSERVATIONS[i % len(OBSERVATIONS)]
    if task == "multi_label":
        options = OBSERVATIONS[:4]
        answer = [options[(i // 4) % 4]]
        question = "Which of the following findings are present?"
    elif task == "binary":
        normal = (i // 4) % 2 == 1
        options, answer = ["normal", "abnormal"], ["normal" if normal else "abnormal"]
        question = "Is this study normal?"
    else:
        options, answer = ["yes", "no"], ["yes" if (i // 4) % 2 else "no"]
        question = f"Is there {observation}?"
    fields: dict[str, Any] = dict(
        item_id=stable_id("item", i),
        report_id=f"CXR{i // 3}",
        image_paths=[f"CXR{i // 3}_IM-0001-1001.dcm.png"],
        task=task,
        stage="detection" if task == "staged" else None,
        question=question,
        options=options,
        answer=answer,
        model_answer=answer if rng.random() < 0.8 else options[-1:],
        answer_reward=1.0 if i % 5 else 0.0,
        plan="1. Read the findings. 2. Look for the observation. 3. Answer.",
        steps=_staged(make_steps(n_steps, first_bad=first_bad, rng=rng)) if task == "staged" else
        make_steps(n_steps, first_bad=first_bad, rng=rng),
        completeness=round(rng.random(), 3),
        factuality=round(rng.random(), 3),
        effectiveness=round(rng.random(), 3),
        first_bad_step=first_bad,
        model="HuggingFaceTB/SmolLM2-135M-Instruct",
        server_host="localhost:8000",
        prompts=PROMPTS,
        sampling=json.dumps({"temperature": 0.7, "top_p": 0.95}),
        seed=1234,
        rollout=i % 3,
        radprm_version=__version__,
        rules_version="rules-1",
        run_id="run-test",
        created_at="2026-11-23T18:00:00Z",
        report_text=_REPORT,
        findings_text=_REPORT.split("\n")[0][len("FINDINGS: ") :],
        impression_text=_REPORT.split("\n")[1][len("IMPRESSION: ") :],
    )
    fields.update(overrides)
    return Item(**fields)


def _staged(steps: list[StepRecord]) -> list[StepRecord]:
    """Tag steps with CXRTrek stages in reading order, as `radprm mine --mode staged` stores them."""
    from radprm.schemas.llm import STAGES

    return [s.model_copy(update={"stage": STAGES[min(k, len(STAGES) - 1)]}) for k, s in enumerate(steps)]


def make_items(n: int, start: int = 0, **overrides: Any) -> list[Item]:
    """Items `start` .. `start + n - 1` from `make_item`."""
    return [make_item(i, **overrides) for i in range(start, start + n)]


def item_from_report(
    report_id: str, findings: str | None, impression: str | None, *, index: int, image_paths: list[str] | None = None
) -> Item:
    """An item built from a real report's text, with extracted-looking steps quoting its sentences."""
    text = f"FINDINGS: {findings or ''}\nIMPRESSION: {impression or ''}"
    rng = random.Random(index)
    n_steps = rng.randint(2, 7)
    first_bad = rng.choice([-1, -1, -1, rng.randrange(n_steps)])
    base = make_item(index)
    return base.model_copy(
        update=dict(
            item_id=stable_id(report_id, base.question, index),
            report_id=report_id,
            image_paths=image_paths or [],
            steps=make_steps(n_steps, first_bad=first_bad, text=text, rng=rng),
            first_bad_step=first_bad,
            report_text=text,
            findings_text=findings,
            impression_text=impression,
        )
    )


def rewrite_as_schema_v1(directory: Any) -> None:
    """Turn a shard folder written by this radprm into what radprm with shard schema "1" wrote (tests of
    backward reading): drop the version-2 columns, stamp version "1", fix the manifest's sizes and hashes."""
    from pathlib import Path

    import pyarrow as pa
    import pyarrow.parquet as pq

    from radprm import run
    from radprm.schemas.shards import ITEM_SCHEMAS

    directory = Path(directory)
    manifest_path = directory / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    v1 = ITEM_SCHEMAS["1"]
    for entry in manifest["shards"]:
        path = directory / manifest.get("data_dir", "data") / entry["name"]
        # from_pylist keeps only the v1 fields, in the rows and in the step structs
        table = pa.Table.from_pylist(pq.read_table(path).select(v1.names).to_pylist(), schema=v1)
        pq.write_table(table, path, compression="zstd")
        entry.update(schema_version="1", bytes=path.stat().st_size, sha256=run.file_sha256(path))
    manifest["schema_version"] = "1"
    manifest_path.write_text(json.dumps(manifest, indent=2), encoding="utf-8")

"""The dataset card: `README.md` written into a shard directory (HF-style YAML header + Markdown).

Written by `ShardWriter.close()` and again by `radprm qa` (so it reflects the latest shards). The YAML
header names the data files, so `datasets.load_dataset("<dir>")` works without arguments. The charts a
trainer looks at first (step-label balance, steps per chain, flag reasons) are SVG files in `charts/`
beside the card, which links them (`radprm.qa.charts`, the same charts as the QA report).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from radprm import __version__
from radprm.phi.licence import licence_card_text
from radprm.run import write_text_atomic
from radprm.shards.manifest import load_manifest

CARD_NAME = "README.md"
CHARTS_DIR = "charts"
"""Folder beside the card holding its chart SVGs."""


def _table(headers: list[str], rows: list[tuple]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join("" if v is None else str(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def privacy_policy(manifest: object) -> tuple[str | None, bool, list[dict]]:
    """(declared licence, credentialed, privacy meta per writer session) from the run meta of a manifest.

    Sessions written before the privacy options existed, or by other writers, have no privacy meta.
    """
    licences, credentialed, policies = [], False, []
    for run in manifest.runs:  # type: ignore[attr-defined]
        privacy = run.meta.get("privacy") or {}
        policies.append(privacy)
        if privacy.get("licence") and privacy["licence"] not in licences:
            licences.append(privacy["licence"])
        credentialed = credentialed or bool(privacy.get("credentialed"))
    return (" AND ".join(licences) or None), credentialed, policies


def _privacy_section(policies: list[dict]) -> list[str]:
    lines = ["## Privacy: PHI policy", ""]
    rows = []
    for k, p in enumerate(policies):
        if not p:
            rows.append((k, "not recorded (guard off)", "", "yes"))
            continue
        text = "yes" if p.get("store_report_text", True) else "no (ids and offsets; `radprm rehydrate`)"
        rows.append((k, p.get("phi", "off"), p.get("phi_rules") or "", text))
    lines.append(_table(["run", "PHI guard (--phi)", "rules", "report text stored"], rows))
    lines += ["", "`flag` records PHI hits in the `phi` column (QA check `phi_hits`), `mask` replaced them by "
              "`<ENTITY>` before the model saw the text and in stored text, `block` quarantined reports (and "
              "chains) with hits as `phi_detected`. The guard is pattern-based: it reduces, it does not remove, "
              "the need for a de-identified source.", ""]
    return lines


def card_text(directory: str | Path, charts: list[Any] | None = None) -> str:
    """Render the dataset card of a shard directory (counts, balance, provenance, licence, how to load).

    Args:
        directory: shard directory.
        charts: `radprm.qa.charts.Chart`s whose SVGs are (or will be) in `charts/<name>.svg`; linked
            under "At a glance".
    """
    from radprm.shards.reader import connect

    directory = Path(directory)
    manifest = load_manifest(directory)
    con = connect(directory)
    n_items, n_reports = con.execute("SELECT count(*), count(DISTINCT report_id) FROM items").fetchall()[0]
    n_steps = con.execute("SELECT count(*) FROM steps").fetchall()[0][0]
    by_task = con.execute(
        "SELECT task, count(*), round(avg(CASE WHEN first_bad_step = -1 THEN 1 ELSE 0 END), 3) "
        "FROM items GROUP BY task ORDER BY task"
    ).fetchall()
    answers = con.execute(
        "SELECT task, a, count(*) FROM (SELECT task, unnest(answer) AS a FROM items) GROUP BY ALL ORDER BY 1, 3 DESC"
    ).fetchall()
    step_labels = con.execute(
        "SELECT label, verdict, count(*), round(count(*) / sum(count(*)) OVER (), 3) FROM steps "
        "GROUP BY ALL ORDER BY 1 DESC, 3 DESC"
    ).fetchall()
    models = con.execute("SELECT model, count(*) FROM items GROUP BY 1 ORDER BY 2 DESC").fetchall()
    prompts = con.execute(
        "SELECT p.name, p.version, p.sha, count(*) FROM (SELECT unnest(prompts) AS p FROM items) "
        "GROUP BY ALL ORDER BY 1, 2"
    ).fetchall()
    versions = con.execute(
        "SELECT radprm_version, rules_version, count(*) FROM items GROUP BY ALL ORDER BY 3 DESC"
    ).fetchall()
    data = con.execute(
        "SELECT coalesce(style, '-'), coalesce(split, '-'), coalesce(answer_key_source, '-'), count(*), "
        "count(DISTINCT coalesce(patient_id, report_id)), sum(CASE WHEN answer_disputed THEN 1 ELSE 0 END), "
        "sum(CASE WHEN len(image_paths) = 0 THEN 1 ELSE 0 END) FROM items GROUP BY ALL ORDER BY 1, 2, 3"
    ).fetchall()
    image_example = con.execute(
        "SELECT image_paths[1] FROM items WHERE len(image_paths) > 0 LIMIT 1"
    ).fetchall()
    con.close()
    shard_glob = f"{manifest.data_dir}/shard-*.parquet"
    name = directory.resolve().name
    licence, credentialed, policies = privacy_policy(manifest)
    licence_tag, licence_text = licence_card_text(licence, credentialed)
    parts = [
        "---",
        f"license: {licence_tag}",
        "language: [en]",
        "tags: [radiology, process-reward, chest-x-ray, radprm]",
        "configs:",
        "- config_name: default",
        f'  data_files: "{shard_glob}"',
        "---",
        f"# {name}: radprm process-reward data",
        "",
        f"Reasoning chains over radiology reports, one row per question with step-level labels, written by "
        f"radprm {__version__} (shard schema version {manifest.schema_version}). "
        f"Integrity: `radprm verify {directory}`; QA: `radprm qa {directory}`.",
        "",
        "## Counts",
        "",
        _table(
            ["items", "reports", "steps", "shards", "duplicates skipped at write"],
            [(n_items, n_reports, n_steps, len(manifest.shards), manifest.duplicates_skipped)],
        ),
        "",
    ]
    drawn = [c for c in charts or [] if c.svg]
    if drawn:
        parts += ["## At a glance", ""]
        for chart in drawn:
            parts += [f"![{chart.title}]({CHARTS_DIR}/{chart.name}.svg)", "", f"*{chart.what}*", ""]
    parts += [
        "## Items per task (share of chains with no bad step)",
        "",
        _table(["task", "items", "all-good share"], by_task),
        "",
        "## Answer balance per task",
        "",
        _table(["task", "answer", "items"], answers),
        "",
        "## Step labels",
        "",
        _table(["label (good)", "verdict", "steps", "share"], step_labels),
        "",
        "## Style, splits, answer keys and images",
        "",
        _table(["style", "split", "answer key", "items", "patients", "answer disputed", "without images"], data),
        "",
        "`style` image: steps are written as reading the film (the report was hidden ground truth); report: "
        "steps reason from the report. Splits are by patient (`patient_id`; IU has none, so the report id). "
        "Images are referenced by path in `image_paths` (frontal view first) and are not part of this "
        "dataset: " + (f"paths look like `{image_example[0][0]}`, relative to where the images were given "
                       "(`--images-root` when mining); fetch the images from their source (IU: Open-i; "
                       "MIMIC-CXR-JPG: PhysioNet, credentialed access)."
                       if image_example else "no item has image paths (mine with --projections)."),
        "",
        "## Provenance",
        "",
        _table(["model", "items"], models),
        "",
        _table(["prompt", "version", "sha256", "items"], prompts),
        "",
        _table(["radprm version", "rules version", "items"], versions),
        "",
        "Writer sessions (run meta as given to the writer):",
        "",
    ]
    for k, run in enumerate(manifest.runs):
        shards = sum(1 for s in manifest.shards if s.run == k)
        parts.append(f"- run {k}, opened {run.opened_at}, {shards} shard(s):")
        meta = json.dumps(run.meta, indent=2, sort_keys=True, default=str)
        parts += ["", "  ```json", *("  " + line for line in meta.splitlines()), "  ```", ""]
    parts += [
        "",
        "## How to load",
        "",
        "```python",
        "import pandas as pd, polars as pl, duckdb, datasets",
        f'df = pd.read_parquet("{directory}/{manifest.data_dir}")',
        f'lf = pl.scan_parquet("{directory}/{shard_glob}")',
        f"duckdb.sql(\"SELECT * FROM '{directory}/{shard_glob}'\")",
        f'ds = datasets.load_dataset("{directory}", split="train")  # uses this card\'s data_files',
        f'ds = datasets.load_dataset("parquet", data_files="{directory}/{shard_glob}", split="train")',
        "```",
        "",
        "Exports for training: `radprm export trl`, `radprm export prm800k`, `radprm export chestx-reasoner`.",
        "",
        *_privacy_section(policies),
        licence_text,
    ]
    return "\n".join(parts)


def write_card(directory: str | Path, *, charts: bool | list[Any] = True) -> Path:
    """Write (atomically) the dataset card `README.md` into a shard directory; returns its path.

    Args:
        directory: shard directory.
        charts: True draws the card's charts into `charts/` (`radprm.qa.charts.build_charts`), a list
            writes those already drawn, False writes a card without charts.
    """
    directory = Path(directory)
    drawn: list[Any] = []
    if charts:
        from radprm.qa.charts import build_charts
        from radprm.qa.report import write_chart_files

        drawn = build_charts(directory, only_card=True) if charts is True else list(charts)
        write_chart_files(drawn, directory / CHARTS_DIR)
    path = directory / CARD_NAME
    write_text_atomic(path, card_text(directory, drawn))
    return path

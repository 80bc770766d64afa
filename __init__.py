"""radprm: mine process-reward training data from radiology reports.

The package root is the public API; every CLI command calls one of these (names load lazily, so
`import radprm` stays fast and does not pull in spaCy or the HTTP client):

```python
import radprm
reports = radprm.read_reports("indiana_reports.csv", limit=10)        # radprm read
findings = radprm.extract_findings("No pneumothorax. Small left effusion.")  # radprm findings
summary = radprm.mine("indiana_reports.csv", run_dir="runs/a", limit=20)      # radprm mine
radprm.validate_file("chains.jsonl", "indiana_reports.csv", "steps.parquet")  # radprm validate
radprm.verify("runs/a/shards"); radprm.qa("runs/a/shards")                     # radprm verify / qa
radprm.label_rollouts("runs/a/shards", run_dir="runs/r", n=8)                  # radprm label rollouts
radprm.export_trl("runs/r/shards", "prm.jsonl", labels="agree")               # radprm export trl
```
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_EXPORTS = {
    # read
    "read_reports": "radprm.readers",
    "canonical_text": "radprm.readers",
    "write_table": "radprm.tables",
    # extract
    "FindingsExtractor": "radprm.validators.findings",
    "extract_findings": "radprm.validators.findings",
    "report_labels": "radprm.validators.findings",
    "LABELSETS": "radprm.validators.findings",
    "label_reports": "radprm.validators.findings.batch",
    "evaluate_labels": "radprm.evaluation.labels",
    # mine
    "build_questions": "radprm.miners.questions",
    "mine": "radprm.miners.job",
    "job_status": "radprm.miners.status",
    "label_rollouts": "radprm.miners.rollouts",
    # validate
    "StepValidator": "radprm.validators.steps",
    "validate_file": "radprm.validators.batch",
    "answer_reward": "radprm.validators.scoring",
    "perturb_file": "radprm.validators.perturb",
    "eval_steps": "radprm.evaluation.steps",
    # shards, QA, exports
    "ShardWriter": "radprm.shards",
    "read_items": "radprm.shards",
    "verify": "radprm.shards",
    "qa": "radprm.qa",
    "export_trl": "radprm.exports",
    "export_prm800k": "radprm.exports",
    "export_chestx_reasoner": "radprm.exports",
    # review
    "build_queue": "radprm.review",
    "apply_decisions": "radprm.review",
    "review_status": "radprm.review",
    # privacy
    "PhiGuard": "radprm.phi.guard",
    "scan_reports": "radprm.phi.scan",
    "rehydrate": "radprm.phi.rehydrate",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'radprm' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

"""Mining: questions from findings, reasoning chains from the LLM, the resumable job (see docs/mining.md).

```python
from radprm.miners import mine
summary = mine("reports.csv", run_dir="runs/a", base_url="http://127.0.0.1:8000/v1", model="smollm2",
               tasks=["single", "binary"], questions_per_report=2, limit=20)
print(summary.render())
```

Names are imported lazily, so `import radprm.miners.questions` does not pull in the HTTP client.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "mine": "radprm.miners.job",
    "MiningJob": "radprm.miners.job",
    "MineConfig": "radprm.miners.config",
    "MineSummary": "radprm.miners.summary",
    "item_id_for": "radprm.miners.items",
    "resolve_server": "radprm.miners.config",
    "Ledger": "radprm.miners.ledger",
    "ChainMiner": "radprm.miners.chains",
    "ChainOutcome": "radprm.miners.chains",
    "build_questions": "radprm.miners.questions",
    "question_id": "radprm.miners.questions",
    "TASKS": "radprm.miners.questions",
    "LLMClient": "radprm.miners.client",
    "SamplingParams": "radprm.miners.client",
    "CallResult": "radprm.miners.client",
    "RequestCache": "radprm.miners.cache",
    "ClientMetrics": "radprm.miners.metrics",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'radprm.miners' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)

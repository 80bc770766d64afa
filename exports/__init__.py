"""Exports of shard directories for PRM training: TRL stepwise supervision, PRM800K-like, ChestX-Reasoner.

```python
from radprm.exports import export_trl
tok = "~/.cache/radprm/models/smollm2-135m-instruct"       # a local HF folder; nothing is downloaded
summary = export_trl("out/shards", "train.jsonl", max_length=1024, tokenizer=tok)
print(summary.render())
```
Every export takes `after_first_bad` = keep | drop | bad and `unsure` = mask | good | bad (steps the
validator could not decide: no label, or a forced one; the summary counts them); items without steps
are quarantined (`<out>.quarantine.jsonl`, reason `no_steps`), never dropped silently.
"""

from radprm.exports.chestx_reasoner import export_chestx_reasoner
from radprm.exports.common import AFTER_FIRST_BAD, UNSURE, ExportSummary, apply_first_bad
from radprm.exports.prm800k import export_prm800k
from radprm.exports.trl import TokenCounter, build_prompt, export_trl

__all__ = [
    "AFTER_FIRST_BAD",
    "ExportSummary",
    "TokenCounter",
    "UNSURE",
    "apply_first_bad",
    "build_prompt",
    "export_chestx_reasoner",
    "export_prm800k",
    "export_trl",
]

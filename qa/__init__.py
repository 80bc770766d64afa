"""QA of shard directories: DuckDB SQL checks (`qa/sql/`), Great Expectations suites (`qa/suites/`), report.

```python
from radprm.qa import qa
report = qa("out/shards")          # writes qa/report.md, qa/report.html, qa/qa.json, qa/gx_docs/, README.md
print(report.render())
```
"""

from radprm.qa.checks import Check, CheckResult, load_checks, run_checks
from radprm.qa.report import QAReport, qa

__all__ = ["Check", "CheckResult", "QAReport", "load_checks", "qa", "run_checks"]

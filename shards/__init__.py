"""Parquet shards of `Item`s: writer (rotation, atomic commit, resume, dedup), manifest, readers, verify.

```python
from radprm.shards import ShardWriter, read_items, verify
with ShardWriter("out/shards", run_meta={"model": "..."}) as w:
    w.write(item)
report = verify("out/shards")
```
"""

from radprm.shards.manifest import Manifest, ShardEntry, load_manifest
from radprm.shards.reader import connect, query, read_items, read_table, shard_paths
from radprm.shards.verify import Problem, VerifyReport, verify
from radprm.shards.writer import CommitInfo, ShardWriter, WriterStats

__all__ = [
    "CommitInfo",
    "Manifest",
    "Problem",
    "ShardEntry",
    "ShardWriter",
    "VerifyReport",
    "WriterStats",
    "connect",
    "load_manifest",
    "query",
    "read_items",
    "read_table",
    "shard_paths",
    "verify",
]

"""Local object stores for the remote-shard tests, each on a free localhost port (no network): moto's S3
server and gcp-storage-emulator's GCS (pure Python; pyarrow's `GcsFileSystem` talks to it over http with
`anonymous=true`).

The fixtures (`moto_endpoint`, `s3_env`, `gcs_endpoint`) are in conftest.py; the helpers here are imported
by the tests. A missing emulator skips, except under RADPRM_REQUIRE_S3=1 / RADPRM_REQUIRE_GCS=1 (CI), where
it fails.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

BUCKET = "radprm-test"
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_EC2_METADATA_DISABLED": "true",
          "AWS_DEFAULT_REGION": "us-east-1"}
"""Credentials moto accepts; no lookup of instance metadata (no network)."""


def free_port() -> int:
    """A TCP port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def uri_on(endpoint: str, prefix: str) -> str:
    """A shard-set URI on the moto server."""
    return f"s3://{BUCKET}/{prefix}?endpoint_override={endpoint}&scheme=http&region=us-east-1"


def gcs_uri_on(endpoint: str, prefix: str) -> str:
    """A shard-set URI on the GCS emulator (no credentials; a dead emulator fails within seconds)."""
    return f"gs://{BUCKET}/{prefix}?endpoint_override={endpoint}&scheme=http&anonymous=true&retry_limit_seconds=5"


def _require(module: str, install: str, switch: str) -> None:
    """Skip when `module` is missing, or fail when the CI switch `switch`=1 says the tests must run."""
    import importlib.util

    if importlib.util.find_spec(module) is None:
        reason = f"{module} is not installed: pip install '{install}' (the test extra has it)"
        if os.environ.get(switch) == "1":
            pytest.fail(f"{reason} [{switch}=1]")
        pytest.skip(reason)


def _wait_http(url: str, proc: subprocess.Popen, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).close()
            return
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{what} did not start ({url})")
            time.sleep(0.2)


@contextmanager
def moto_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 (its own process, stopped on exit) with bucket `BUCKET`; yields host:port."""
    _require("moto", "moto[server]", "RADPRM_REQUIRE_S3")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/moto-api/", proc, f"moto server on port {port}")
        request = urllib.request.Request(f"http://127.0.0.1:{port}/{BUCKET}", method="PUT")
        urllib.request.urlopen(request, timeout=10).close()
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def gcs_server() -> Iterator[str]:
    """gcp-storage-emulator on 127.0.0.1 (its own process, in memory, stopped on exit) with bucket `BUCKET`;
    yields host:port."""
    _require("gcp_storage_emulator", "gcp-storage-emulator", "RADPRM_REQUIRE_GCS")
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "gcp_storage_emulator", "start", "--host=127.0.0.1",
                             f"--port={port}", "--in-memory", f"--default-bucket={BUCKET}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(f"http://127.0.0.1:{port}/storage/v1/b/{BUCKET}", proc, f"GCS emulator on port {port}")
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def kill_writer_mid_shard(uri: str) -> None:
    """Write 15 items to `uri` with 10-row shards in a child process killed (SIGKILL) mid-shard: one shard
    committed, 5 rows spooled locally and never uploaded."""
    script = textwrap.dedent(
        f"""
        import os, signal
        from radprm.shards import ShardWriter
        from radprm.shards.testing import make_items
        w = ShardWriter({uri!r}, max_rows=10, row_group_rows=2)
        w.write_many(make_items(15))
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=dict(os.environ))
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]


def assert_killed_set_resumes_once(uri: str) -> None:
    """After `kill_writer_mid_shard(uri)`: the set verifies with its one committed shard (10 rows), and a
    writer given the same 15 items writes the 5 lost ones and skips the 10 stored, so each id is stored once."""
    from radprm.shards import ShardWriter, read_items, verify
    from radprm.shards.testing import make_items

    report = verify(uri)
    assert report.ok and report.rows == 10, [str(p) for p in report.problems]
    with ShardWriter(uri, max_rows=10) as w:
        w.write_many(make_items(15))
    assert w.stats.written == 5 and w.stats.duplicates_skipped == 10
    ids = [i.item_id for i in read_items(uri)]
    assert len(ids) == len(set(ids)) == 15
    assert verify(uri).ok

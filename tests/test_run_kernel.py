"""The run kernel (`radprm.run`): output paths, atomic writes, progress, the exit policy."""

from __future__ import annotations

import pytest

from radprm import run
from radprm.errors import InputError, RunError


def test_output_paths_default_sidecar_removes_stale_and_refuses_overwrite(tmp_path):
    out = tmp_path / "x.jsonl"
    stale = tmp_path / "x.jsonl.quarantine.jsonl"
    stale.write_text("old\n")
    assert run.output_paths(out) == (out, stale)
    assert not stale.exists()
    with pytest.raises(InputError, match="would overwrite an output"):
        run.output_paths(out, quarantine=tmp_path / "y.csv", others=[tmp_path / "y.csv"])
    with pytest.raises(InputError, match="output must end in .jsonl") as err:
        run.output_paths(tmp_path / "x.csv", suffixes=(".jsonl",))
    assert err.value.field == "out"


def test_atomic_write_leaves_no_temp_and_keeps_the_old_file_on_error(tmp_path):
    path = tmp_path / "sub" / "a.txt"
    run.write_text_atomic(path, "one\n")
    assert path.read_text() == "one\n"
    with pytest.raises(RuntimeError), run.atomic_write(path) as fh:
        fh.write("half")
        raise RuntimeError("crash")
    assert path.read_text() == "one\n"
    assert [p.name for p in path.parent.iterdir()] == ["a.txt"]  # the temp file is gone
    run.write_bytes_atomic(path, b"two")
    assert path.read_bytes() == b"two" and run.file_sha256(path) == (
        "3fc4ccfe745870e2c0d99f71f30ff0656c8dedd41cc1d7d3d376b0dbe685e2f3")


def test_track_disabled_yields_everything_and_progress_disabled_is_a_no_op():
    assert list(run.track(iter(range(3)), "x", enabled=False)) == [0, 1, 2]
    with run.progress("x", total=2, enabled=False) as bar:
        bar.advance()
        assert bar.completed == 0 and bar.total is None


class _Summary:
    def render(self) -> str:
        return "summary"


def test_finish_policy_same_for_every_runner(tmp_path):
    summary = _Summary()
    sink = run.QuarantineSink()
    assert run.finish(summary, produced=0, quarantine=sink) is summary  # nothing in, nothing out: fine
    with pytest.raises(RunError, match="no rows written") as err:
        run.finish(summary, produced=0, quarantine=sink, empty="no rows written")
    assert err.value.summary is summary
    sink.add(stage="s", reason_code="empty_text", source_path="in.csv", source_row=4, field="text", detail="empty")
    assert run.finish(summary, produced=3, quarantine=sink) is summary  # quarantine alone is not a failure
    with pytest.raises(RunError, match=r"1 row\(s\) quarantined and --strict is set; quarantined: 1 \(empty_text=1\)"):
        run.finish(summary, produced=3, quarantine=sink, strict=True)
    with pytest.raises(RunError, match="every row was quarantined") as err:
        run.finish(summary, produced=0, quarantine=sink)
    assert "first: empty_text at in.csv row 4, field 'text': empty" in str(err.value)
    with pytest.raises(RunError, match=r"3 record\(s\) quarantined"):  # counts from a ledger work the same
        run.finish(summary, produced=1, quarantine={"read/empty_text": 3}, strict=True, noun="record")


def test_cli_prints_the_summary_then_one_error_line(tmp_path):
    from typer.testing import CliRunner

    from radprm.cli import app
    from radprm.shards.writer import ShardWriter

    ShardWriter(tmp_path / "s").close()
    result = CliRunner().invoke(app, ["export", "prm800k", str(tmp_path / "s"), "--out", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert lines[0].startswith("prm800k: wrote 0 rows") and lines[-1].startswith("Error: no rows exported to ")
    with pytest.raises(RunError, match="no rows exported"):  # the same call from Python fails the same way
        from radprm.exports import export_prm800k

        export_prm800k(tmp_path / "s", tmp_path / "p.jsonl")

"""The job options shared by `radprm mine`, `radprm batch ...` and `radprm label rollouts` (`commands._job_options`)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from radprm.cli import app


def _interrupted(*args, **kwargs):
    raise KeyboardInterrupt


@pytest.mark.parametrize("command, target", [
    (["mine", "reports.csv"], "radprm.miners.job.mine"),
    (["label", "rollouts", "shards"], "radprm.miners.rollouts.label_rollouts"),
])
def test_job_ctrl_c_prints_the_resume_hint_and_exits_130(monkeypatch, tmp_path, command, target):
    monkeypatch.setattr(target, _interrupted)
    result = CliRunner().invoke(app, [*command, "--run-dir", str(tmp_path / "run")])
    assert result.exit_code == 130, result.output
    assert f"continue with the same command plus --resume (run dir {tmp_path / 'run'})" in result.output


@pytest.mark.parametrize("command", [["mine"], ["label", "rollouts"], ["batch", "prepare"]])
def test_job_commands_share_run_dir_and_options_panels(command):
    result = CliRunner().invoke(app, [*command, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "--run-dir" in result.output and "Job" in result.output and "--base-url" in result.output
    assert ("Continue the job in --run-dir" in result.output) == (command != ["batch", "prepare"])

"""Every command has help text and is documented in the README (docs cannot drift from --help)."""

from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from radprm.cli import app

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def _commands(group, prefix: tuple[str, ...] = ()):
    for name, cmd in sorted(group.commands.items()):
        path = (*prefix, name)
        if getattr(cmd, "commands", None):  # a group (typer vendors click: no isinstance check)
            yield from _commands(cmd, path)
        else:
            yield path, cmd


COMMANDS = list(_commands(typer.main.get_command(app)))


def test_cli_has_commands():
    names = {" ".join(p) for p, _ in COMMANDS}
    assert {"findings", "eval labels"} <= names


@pytest.mark.parametrize("path", [p for p, _ in COMMANDS], ids=[" ".join(p) for p, _ in COMMANDS])
def test_cli_command_has_help_and_is_in_readme(path):
    result = CliRunner().invoke(app, [*path, "--help"])
    assert result.exit_code == 0, result.output
    cmd = dict(COMMANDS)[path]
    assert (cmd.help or "").strip(), f"radprm {' '.join(path)} has no help text"
    assert f"radprm {' '.join(path)}" in README, f"README does not document `radprm {' '.join(path)}`"

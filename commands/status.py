"""`radprm status RUN_DIR`: a mining job's items, open quarantine by reason and re-drive history."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from radprm.commands._app import JsonOpt, app, command


@command(app, "status")
def status_cmd(
    run_dir: Annotated[
        Path, typer.Argument(metavar="RUN_DIR", help="A `radprm mine` job folder (--run-dir).", show_default=False)
    ],
    as_json: JsonOpt = False,
) -> None:
    """Show a mining job's state: items, open quarantine by stage/reason, resolved records, re-drives."""
    from radprm.miners.status import job_status

    status = job_status(run_dir)
    typer.echo(json.dumps(status.as_dict(), indent=2, default=str) if as_json else status.render())

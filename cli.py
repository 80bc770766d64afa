"""Typer CLI: a thin shell over the radprm Python API.

Commands live in `radprm.commands.*` (one module per verb or group) and call one API function each.
"""

from radprm.commands import load_all
from radprm.commands._app import app

load_all()

__all__ = ["app"]

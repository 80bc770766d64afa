"""CLI command modules. Each module registers its commands on the apps in `radprm.commands._app`."""

import importlib
import pkgutil


def load_all() -> None:
    """Import every command module so that its commands register themselves."""
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")

"""Import every module of the product: a missing dependency is an error here, not a user's traceback.

``python -m monitor.selfcheck`` runs it on the installed environment (``make test`` does so on a
runtime-only environment, as ``make run`` installs it) and prints one line per module that
fails, naming the package that is missing. Exit status 1 when any module fails.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from dataclasses import dataclass

#: the product's packages, as ``pyproject.toml`` ships them
PACKAGES = ("monitor", "alerts")
#: packages that do work when imported (Alembic's migration environment); __main__ modules too
SKIPPED = ("monitor.store.migrations",)


@dataclass(frozen=True, slots=True)
class ImportFailure:
    module: str
    error: str


def product_modules() -> list[str]:
    """Every module of the product's packages, by name, without importing them."""
    names: list[str] = []
    for package_name in PACKAGES:
        package = importlib.import_module(package_name)
        names.append(package_name)
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package_name}."):
            if info.name.rsplit(".", 1)[-1] == "__main__" or info.name.startswith(SKIPPED):
                continue
            names.append(info.name)
    return sorted(names)


def import_all() -> tuple[list[str], list[ImportFailure]]:
    """Import each module; the ones that raise are returned with the error, one line each."""
    modules = product_modules()
    failures: list[ImportFailure] = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception as error:  # any import-time error is a finding
            failures.append(ImportFailure(name, f"{type(error).__name__}: {error}"))
    return modules, failures


def main() -> int:
    modules, failures = import_all()
    for failure in failures:
        print(f"error: importing {failure.module}: {failure.error}", file=sys.stderr)
    if failures:
        return 1
    print(f"ok: {len(modules)} modules of {', '.join(PACKAGES)} import")
    return 0


if __name__ == "__main__":
    sys.exit(main())

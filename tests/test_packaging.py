"""What a newcomer and an operator rely on outside the Python code."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from monitor.selfcheck import import_all

ROOT = Path(__file__).resolve().parent.parent


def test_compose_wires_app_postgres_and_mailpit() -> None:
    compose = YAML(typ="safe").load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"app", "db", "mailpit"}
    app = services["app"]
    env = app["environment"]
    assert env["MONITOR_DATABASE_URL"].startswith("postgresql+psycopg://monitor:monitor@db:5432/")
    assert env["MONITOR_SMTP_HOST"] == "mailpit"
    assert set(app["depends_on"]) == {"db", "mailpit"}
    # scaling the app must not collide on a fixed host port
    assert "ports" not in app
    assert "--scale app=3" in (ROOT / "docker-compose.yml").read_text()


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "make test" in readme and "make run" in readme
    assert re.search(r"^make test$", ci, re.MULTILINE)


def test_python_dash_m_monitor_is_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "monitor", "--version"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("news-monitor, version ")


# ---------------------------------------------------------------- the install


def _normalise(name: str) -> str:
    """A distribution name as the lock and the registries compare it (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirement_name(requirement: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    assert match, requirement
    return _normalise(match.group(1))


def _pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_every_module_of_the_product_imports() -> None:
    """A missing indirect dependency fails here, not as a user's traceback."""
    modules, failures = import_all()
    assert len(modules) > 40
    assert failures == []


def test_every_third_party_import_of_the_product_is_a_declared_dependency() -> None:
    """Each package that ``monitor`` or ``alerts`` imports, at any depth of the code, is declared
    in ``[project].dependencies`` itself, not reached through another package's requirements."""
    declared = {_requirement_name(r) for r in _pyproject()["project"]["dependencies"]}
    providers = importlib.metadata.packages_distributions()
    imported: dict[str, set[str]] = {}
    for package in ("monitor", "alerts"):
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic's scripts import alembic and sqlalchemy, both declared
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                for name in names:
                    top = name.split(".")[0]
                    if top in sys.stdlib_module_names or top in ("monitor", "alerts"):
                        continue
                    imported.setdefault(top, set()).add(str(path.relative_to(ROOT)))
    undeclared = {}
    for module, files in sorted(imported.items()):
        distributions = {_normalise(d) for d in providers.get(module, [])}
        if not distributions & declared:
            undeclared[module] = (sorted(distributions) or ["not installed"], sorted(files))
    assert undeclared == {}, "declare these in pyproject.toml, then `make lock`"


def test_the_lock_pins_what_pyproject_asks_for() -> None:
    """``uv.lock`` records pyproject's requirements; ``make lock`` refreshes it (``make test``
    also runs ``uv lock --check``, which compares them the way uv does)."""
    project = _pyproject()
    lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    (root,) = [p for p in lock["package"] if p["name"] == project["project"]["name"]]
    locked_runtime = {_normalise(r["name"]) for r in root["metadata"]["requires-dist"]}
    assert locked_runtime == {_requirement_name(r) for r in project["project"]["dependencies"]}
    for group, requirements in project["dependency-groups"].items():
        locked_group = {_normalise(r["name"]) for r in root["metadata"]["requires-dev"][group]}
        assert locked_group == {_requirement_name(r) for r in requirements}, group
    # every package of the lock is pinned to one version with hashes for each file
    for package in lock["package"]:
        if package["name"] == root["name"]:
            continue
        files = [package.get("sdist", {}), *package.get("wheels", [])]
        assert all(f["hash"].startswith("sha256:") for f in files if f), package["name"]


def test_the_runtime_install_leaves_out_the_development_tools() -> None:
    """``make run`` installs the service's packages only: pytest, mypy and ruff are a group."""
    project = _pyproject()
    runtime = {_requirement_name(r) for r in project["project"]["dependencies"]}
    dev = {_requirement_name(r) for r in project["dependency-groups"]["dev"]}
    assert {"pytest", "mypy", "ruff"} <= dev
    assert not runtime & {"pytest", "mypy", "ruff", "hypothesis", "aiosmtpd"}
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    install = re.search(r"^install: .*\n\t(.*)$", makefile, re.MULTILINE)
    assert install and "--frozen" in install.group(1) and "--no-dev" in install.group(1)
    assert re.search(r"^run: install$", makefile, re.MULTILINE)
    assert re.search(r"^demo: install$", makefile, re.MULTILINE)
    # nothing in the Makefile or the Dockerfile resolves versions anew
    for text in (makefile, (ROOT / "Dockerfile").read_text(encoding="utf-8")):
        assert "pip install -e" not in text and "pip install ." not in text
        for line in re.findall(r"uv sync.*", text):
            assert "--frozen" in line or "--locked" in line, line

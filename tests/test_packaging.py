"""What a newcomer and an operator rely on outside the Python code."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from ruamel.yaml import YAML

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

"""Settings: declared once, read from MONITOR_* variables, all documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from pydantic import ValidationError

from monitor.cli import cli
from monitor.config import Settings

README = Path(__file__).resolve().parent.parent / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    text = README.read_text(encoding="utf-8")
    documented = set(re.findall(r"`(MONITOR_[A-Z0-9_]+)`", text))
    declared = {f"MONITOR_{name.upper()}" for name in Settings.model_fields}
    assert declared - documented == set(), "settings missing from README"
    assert documented - declared - {"MONITOR_TEST_DATABASE_URL"} == set(), (
        "README names unknown settings"
    )


def test_defaults_run_on_a_fresh_machine() -> None:
    settings = Settings()
    assert settings.database_url == "sqlite:///./data/monitor.db"
    assert settings.watchlists_dir == Path("watchlists")
    assert settings.outbox_dir == Path("data/outbox")
    assert settings.smtp_host is None
    assert settings.poll_interval_minutes == 15


def test_environment_and_dotenv_are_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("MONITOR_SMTP_HOST=mail.example.org\nMONITOR_SMTP_PORT=587\n")
    monkeypatch.setenv("MONITOR_SMTP_PORT", "2525")
    settings = Settings()
    assert settings.smtp_host == "mail.example.org"
    assert settings.smtp_port == 2525  # the environment wins over .env


def test_a_bad_setting_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MONITOR_SMTP_SECURITY", "tls")
    with pytest.raises(ValidationError):
        Settings()
    result = CliRunner().invoke(cli, ["db", "upgrade"], prog_name="news-monitor")
    assert result.exit_code == 2
    assert result.output.startswith("Error: invalid setting: MONITOR_SMTP_SECURITY:")


def _commands(group: object, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    import click

    found = [path]
    if isinstance(group, click.Group):
        for name, command in group.commands.items():
            found += _commands(command, (*path, name))
    return found


@pytest.mark.parametrize("path", _commands(cli), ids=lambda p: " ".join(p) or "news-monitor")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"], prog_name="news-monitor")
    assert result.exit_code == 0, result.output
    assert "Usage: news-monitor" in result.output
    # a one-line description is shown for the command itself
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) >= 2

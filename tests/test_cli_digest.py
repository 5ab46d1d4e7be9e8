"""``news-monitor digest|outbox|recipients``: exact output and exit codes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from monitor.cli import cli
from monitor.config import Settings
from tests.servers import SMTPServer, free_port
from tests.test_alerts_support import ALICE, BOB, SAMPLES, make_app, make_watchlist, seed_samples


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, watchlists_dir: Path) -> Settings:
    """Settings in the environment, as a user has them, with the samples stored."""
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{tmp_path / 'monitor.db'}")
    monkeypatch.setenv("MONITOR_WATCHLISTS_DIR", str(watchlists_dir))
    monkeypatch.setenv("MONITOR_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("MONITOR_IMPORT_DEFAULT_FEEDS", "false")
    monkeypatch.setenv("MONITOR_MAIL_FROM", "Monitor <monitor@news.example>")
    settings = Settings()
    app = make_app(settings, [make_watchlist()])
    seed_samples(app)
    app.close()
    return settings


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), prog_name="news-monitor")


def test_preview_writes_the_html(env: Settings, tmp_path: Path) -> None:
    out = tmp_path / "preview" / "digest.html"
    result = run(
        "digest", "preview", "Foreign recruitment", "--since", "2025-08-13 12:00", "-o", str(out)
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"Wrote the preview of foreign-recruitment to {out}\n"
    html = out.read_text(encoding="utf-8")
    assert "Uzbek court jails returning migrant for mercenarism" in html
    assert "Nepal halts exit permits" not in html  # stored before --since
    assert "5 new matches" in html
    assert list((tmp_path / "outbox").glob("*")) == []  # a preview sends nothing


def test_preview_of_an_unknown_watchlist(env: Settings, tmp_path: Path) -> None:
    result = run("digest", "preview", "nope", "--output", str(tmp_path / "x.html"))
    assert result.exit_code == 2
    assert result.output == (
        f"Error: no watchlist 'nope' in {env.watchlists_dir} (known: foreign-recruitment)\n"
    )


def test_send_writes_eml_files_and_then_has_nothing_new(env: Settings) -> None:
    result = run("digest", "send")
    assert result.exit_code == 0, result.output
    subject = (
        "[Foreign recruitment] 6 new matches (Nepal 2, Cuba 1, Kyrgyzstan 1): Nepal asks Moscow "
        "to stop enlisting its citizens after 70 deaths"
    )
    outbox = env.outbox_dir.absolute()
    assert result.output == (
        f"written #1 foreign-recruitment → {ALICE}: {subject}\n"
        f"    file: {outbox / '000001-foreign-recruitment-alice@example.org.eml'}\n"
        f"written #2 foreign-recruitment → {BOB}: {subject}\n"
        f"    file: {outbox / '000002-foreign-recruitment-bob@example.net.eml'}\n"
        "2 written as files (no MONITOR_SMTP_HOST: nothing was sent), 0 failed, "
        "0 waiting to retry.\n"
    )
    listed = run("outbox", "list").output.splitlines()
    assert re.fullmatch(
        rf"#2 written foreign-recruitment → {BOB}  6 matches, 1 attempt, written .* UTC",
        listed[0],
    )
    files = sorted(p.name for p in env.outbox_dir.iterdir())
    assert files == [
        "000001-foreign-recruitment-alice@example.org.eml",
        "000001-foreign-recruitment-alice@example.org.html",
        "000002-foreign-recruitment-bob@example.net.eml",
        "000002-foreign-recruitment-bob@example.net.html",
    ]
    again = run("digest", "send", "--watchlist", "foreign-recruitment")
    assert (again.exit_code, again.output) == (0, "Nothing new to send.\n")


def test_send_to_one_recipient(env: Settings) -> None:
    result = run("digest", "send", "--to", BOB)
    assert result.exit_code == 0
    assert [
        line.split()[4] for line in result.output.splitlines()[:-1] if not line.startswith(" ")
    ] == [BOB + ":"]
    stranger = run("digest", "send", "--to", "stranger@example.org")
    assert stranger.exit_code == 2
    assert stranger.output == (
        "Error: stranger@example.org is not a recipient of foreign-recruitment; "
        "add it under 'recipients:' in the watchlist file first\n"
    )


def test_failed_delivery_is_reported_listed_and_retried(
    env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    port = free_port()
    monkeypatch.setenv("MONITOR_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("MONITOR_SMTP_PORT", str(port))
    result = run("digest", "send")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert lines[0].startswith(f"pending #1 foreign-recruitment → {ALICE}: [Foreign recruitment]")
    assert re.fullmatch(
        rf"    will retry at \d{{4}}-\d\d-\d\d \d\d:\d\d UTC: cannot reach SMTP server "
        rf"127\.0\.0\.1:{port}: connection refused",
        lines[1],
    )
    assert lines[-2:] == [
        "0 sent, 0 failed, 2 waiting to retry.",
        "Error: 2 digests not delivered; see news-monitor outbox list",
    ]
    listing = run("outbox", "list", "--json")
    assert listing.exit_code == 0
    rows = json.loads(listing.output)
    assert [(r["id"], r["status"], r["recipient"], r["attempts"], r["matches"]) for r in rows] == [
        (2, "pending", BOB, 1, 6),
        (1, "pending", ALICE, 1, 6),
    ]
    assert rows[0]["last_error"] == f"cannot reach SMTP server 127.0.0.1:{port}: connection refused"
    text = run("outbox", "list", "--status", "pending").output.splitlines()
    assert re.fullmatch(
        rf"#2 pending foreign-recruitment → {BOB}  6 matches, 1 attempt, next try .* UTC", text[0]
    )
    assert text[2] == f"    error: cannot reach SMTP server 127.0.0.1:{port}: connection refused"
    server = SMTPServer(port).start()
    try:
        retried = run("outbox", "retry", "1")
        assert retried.exit_code == 0, retried.output
        assert retried.output.splitlines()[-1] == "1 sent, 0 failed, 0 waiting to retry."
        assert [rcpt for rcpt, _ in server.messages] == [ALICE]
        rest = run("outbox", "retry")
        assert rest.output.splitlines()[-1] == "1 sent, 0 failed, 0 waiting to retry."
        assert sorted(rcpt for rcpt, _ in server.messages) == [ALICE, BOB]
        nothing = run("outbox", "retry")
        assert (nothing.exit_code, nothing.output) == (0, "Nothing to retry.\n")
        sent_again = run("outbox", "retry", "2")
        assert sent_again.exit_code == 2
        assert re.fullmatch(
            r"Error: digest #2 was already sent at .*; nothing to retry\n", sent_again.output
        )
    finally:
        server.stop()
    missing = run("outbox", "retry", "99")
    assert (missing.exit_code, missing.output) == (
        2,
        "Error: no digest #99 in the outbox; see news-monitor outbox list\n",
    )


def test_outbox_list_when_empty(env: Settings) -> None:
    assert run("outbox", "list").output == "The outbox is empty.\n"
    assert json.loads(run("outbox", "list", "--json").output) == []


def test_unsubscribe(env: Settings) -> None:
    first = run(
        "recipients", "unsubscribe", "Bob@Example.net", "--watchlist", "foreign-recruitment"
    )
    assert (first.exit_code, first.output) == (
        0,
        "Bob@Example.net will no longer receive watchlist foreign-recruitment.\n",
    )
    again = run("recipients", "unsubscribe", BOB, "-w", "Foreign recruitment")
    assert again.output == f"{BOB} was already unsubscribed from watchlist foreign-recruitment.\n"
    everything = run("recipients", "unsubscribe", ALICE)
    assert everything.output == f"{ALICE} will no longer receive any watchlist.\n"
    bad = run("recipients", "unsubscribe", "not an address")
    assert (bad.exit_code, bad.output) == (2, "Error: 'not an address' is not an email address\n")
    sent = run("digest", "send")
    assert (sent.exit_code, sent.output) == (0, "Nothing new to send.\n")


@pytest.mark.parametrize(
    "command",
    [
        ["digest"],
        ["digest", "preview"],
        ["digest", "send"],
        ["outbox"],
        ["outbox", "list"],
        ["outbox", "retry"],
        ["recipients"],
        ["recipients", "unsubscribe"],
    ],
)
def test_help(command: list[str]) -> None:
    result = run(*command, "--help")
    assert result.exit_code == 0
    assert result.output.startswith(f"Usage: news-monitor {' '.join(command)}")


def test_items_of_the_samples_are_all_in_the_eml(env: Settings) -> None:
    run("digest", "send", "--to", ALICE)
    eml = next(env.outbox_dir.glob("*.eml")).read_bytes().decode("ascii")
    from email import message_from_string
    from email.policy import default

    message: Any = message_from_string(eml, policy=default)
    body = message.get_body(("plain",)).get_content()
    assert all(sample.title in body for sample in SAMPLES)

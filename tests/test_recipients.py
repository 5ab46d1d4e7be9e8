"""Recipients who leave and come back: the List-Unsubscribe header as received, one-click
unsubscribe in the web app (RFC 8058), and ``news-monitor recipients …``.

A loopback feed is polled through the CLI, digests go to an aiosmtpd server that keeps the raw
bytes it received, and those bytes are read with Python's ``email`` package.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage, Message
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from click.testing import CliRunner, Result
from fastapi import FastAPI

from alerts.recipients import make_token, read_token
from monitor.app import App
from monitor.cli import cli
from monitor.config import Settings
from monitor.web import create_web_app
from tests.servers import FeedServer, Resource, free_port
from tests.test_ingest_poll import item, rss

WATCHLIST = """\
# Recruitment of Nepali and Uzbek men.
name: Recruitment
recipients:
  - desk@example.org     # the news desk
  - editor@example.org
schedule: immediate
keywords: [recruit*]
countries: [NP, UZ]
"""
DESK, EDITOR = "desk@example.org", "editor@example.org"
MAIL_FROM = "news-monitor@example.org"


class RawSMTP:
    """aiosmtpd keeping (recipients, raw bytes) of every message it accepted."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            self.received.append((list(envelope.rcpt_tos), envelope.original_content or b""))
        return "250 OK"

    def raw_for(self, address: str) -> list[bytes]:
        with self.lock:
            return [raw for rcpts, raw in self.received if address in rcpts]


class Client:
    """A browser of the web app over httpx's ASGI transport."""

    def __init__(self, web: FastAPI, base_url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.http = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=web),
            base_url=base_url,
            headers={"Accept": "text/html"},
        )

    def get(self, url: str) -> httpx.Response:
        return self.loop.run_until_complete(self.http.get(url))

    def post(self, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        return self.loop.run_until_complete(self.http.post(url, data=data))

    def close(self) -> None:
        self.loop.run_until_complete(self.http.aclose())
        self.loop.close()


@pytest.fixture
def smtp() -> Iterator[RawSMTP]:
    server = RawSMTP()
    server.controller.start()
    yield server
    server.controller.stop()


def run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


PUBLIC_URL = "https://monitor.example.org"


@pytest.fixture(params=[pytest.param(None, id="no-url")])
def env(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    watchlists_dir: Path,
    database_url: str,
    feed_server: FeedServer,
    smtp: RawSMTP,
) -> dict[str, str]:
    """Settings, and a store where one matching article was polled (the digest not sent).

    Tests of the web app ask for ``MONITOR_PUBLIC_URL`` from the start (indirect ``env``).
    """
    (watchlists_dir / "recruitment.yaml").write_text(WATCHLIST, encoding="utf-8")
    values = {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_WATCHLISTS_DIR": str(watchlists_dir),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MONITOR_ALLOW_PRIVATE_ADDRESSES": "true",
        "MONITOR_IMPORT_DEFAULT_FEEDS": "false",
        "MONITOR_SMTP_HOST": "127.0.0.1",
        "MONITOR_SMTP_PORT": str(smtp.port),
        "MONITOR_MAIL_FROM": f"News Monitor <{MAIL_FROM}>",
    }
    if request.param:
        values["MONITOR_PUBLIC_URL"] = request.param
    feed_server.add(
        "/rss",
        Resource(
            rss(
                item(
                    "n1",
                    "Agents recruited Nepali men for the army",
                    "Families in Kathmandu say agents recruited their sons with promises of work.",
                    link="https://wire.example.org/n1",
                    date=datetime.now(UTC),
                ),
                title="Hill Wire",
            )
        ),
    )
    assert run(values, "feeds", "add", feed_server.url("/rss")).exit_code == 0
    assert run(values, "poll").exit_code == 0
    return values


def header(raw: bytes, name: str) -> str:
    """The header exactly as sent (unfolded), read with the email package's compat32 policy."""
    message: Message = email.message_from_bytes(raw, policy=email.policy.compat32)
    value = message[name]
    assert value is not None, f"no {name} header"
    return str(value).replace("\r\n", "").replace("\n", "")


def test_list_unsubscribe_reaches_the_server_as_plain_urls(
    env: dict[str, str], smtp: RawSMTP
) -> None:
    env["MONITOR_UNSUBSCRIBE_URL"] = "https://news.example.org/mail/unsubscribe"
    sent = run(env, "digest", "send")
    assert sent.exit_code == 0, sent.output
    (raw,) = smtp.raw_for(DESK)
    value = header(raw, "List-Unsubscribe")
    assert "=?" not in value
    assert value == (
        "<https://news.example.org/mail/unsubscribe?watchlist=recruitment&address="
        f"{quote(DESK)}>, <mailto:{MAIL_FROM}?subject=unsubscribe%20recruitment>"
    )
    assert header(raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert str(parsed["List-Unsubscribe"]) == value


def test_without_any_url_the_header_is_mailto_only(env: dict[str, str], smtp: RawSMTP) -> None:
    assert run(env, "digest", "send").exit_code == 0
    (raw,) = smtp.raw_for(DESK)
    assert header(raw, "List-Unsubscribe") == (
        f"<mailto:{MAIL_FROM}?subject=unsubscribe%20recruitment>"
    )
    assert email.message_from_bytes(raw)["List-Unsubscribe-Post"] is None


def _link(raw: bytes) -> str:
    value = header(raw, "List-Unsubscribe")
    https = value.split(",")[0].strip()
    assert https.startswith("<") and https.endswith(">")
    return https[1:-1]


@pytest.fixture
def web(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    assert env.get("MONITOR_PUBLIC_URL") == PUBLIC_URL, "mark the test with WITH_PUBLIC_URL"
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    app = App.open(Settings())
    client = Client(create_web_app(app), base_url=PUBLIC_URL)
    yield client
    client.close()
    app.close()


WITH_PUBLIC_URL = pytest.mark.parametrize("env", [PUBLIC_URL], indirect=True, ids=["public"])


@WITH_PUBLIC_URL
def test_one_click_unsubscribe_from_the_web_app(
    env: dict[str, str], smtp: RawSMTP, web: Client, feed_server: FeedServer
) -> None:
    assert run(env, "digest", "send").exit_code == 0
    (raw,) = smtp.raw_for(DESK)
    link = _link(raw)
    assert link.startswith(f"{PUBLIC_URL}/unsubscribe/")
    assert header(raw, "List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    path = link.removeprefix(PUBLIC_URL)

    page = web.get(path)  # a GET (a link checker, a click) only asks
    assert page.status_code == 200
    assert "Stop sending the digest <strong>Recruitment</strong> to <strong>desk@example.org" in (
        page.text
    )
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    assert "subscribed" in run(env, "recipients", "list").output.splitlines()[1]

    done = web.post(path, data={"List-Unsubscribe": "One-Click"})  # what mail providers send
    assert done.status_code == 200
    assert "<strong>desk@example.org</strong> will no longer receive" in done.text
    listed = run(env, "recipients", "list").output.splitlines()
    assert listed[0].split() == ["WATCHLIST", "ADDRESS", "STATUS"]
    assert listed[1].startswith("recruitment  desk@example.org    unsubscribed 20")
    assert listed[2] == "recruitment  editor@example.org  subscribed"
    assert "no longer receives" in web.get(path).text
    assert web.post(path, data={"List-Unsubscribe": "One-Click"}).status_code == 200  # twice: ok

    # the next digest goes to the editor only
    feed_server.add(
        "/rss",
        Resource(
            rss(
                item("n2", "Uzbek men recruited at a bazaar", "Recruiters in Uzbekistan again."),
                title="Hill Wire",
            )
        ),
    )
    assert run(env, "poll", "--all").exit_code == 0
    assert run(env, "digest", "send").exit_code == 0
    assert len(smtp.raw_for(DESK)) == 1
    assert len(smtp.raw_for(EDITOR)) == 2


@WITH_PUBLIC_URL
def test_a_changed_or_cut_token_unsubscribes_nobody(env: dict[str, str], web: Client) -> None:
    forged = make_token("not our secret", "recruitment", DESK)
    for token in (forged, forged[:-3], "x"):
        answer = web.post(f"/unsubscribe/{token}", data={"List-Unsubscribe": "One-Click"})
        assert answer.status_code == 400
        assert "this unsubscribe link is not valid" in answer.text
    assert web.get(f"/unsubscribe/{forged}").status_code == 400
    assert "unsubscribed" not in run(env, "recipients", "list").output
    with pytest.raises(ValueError, match="not valid"):
        read_token("a secret", forged)
    assert read_token("a secret", make_token("a secret", "w", " Desk@Example.org")) == ("w", DESK)


@WITH_PUBLIC_URL
def test_a_post_without_the_one_click_field_is_refused(
    env: dict[str, str], smtp: RawSMTP, web: Client
) -> None:
    assert run(env, "digest", "send").exit_code == 0
    path = _link(smtp.raw_for(DESK)[0]).removeprefix(PUBLIC_URL)
    assert web.post(path).status_code == 400
    assert "unsubscribed" not in run(env, "recipients", "list").output


def test_recipients_list_add_remove_resubscribe(env: dict[str, str], watchlists_dir: Path) -> None:
    path = watchlists_dir / "recruitment.yaml"
    assert run(env, "recipients", "list").output == (
        "WATCHLIST    ADDRESS             STATUS\n"
        "recruitment  desk@example.org    subscribed\n"
        "recruitment  editor@example.org  subscribed\n"
    )
    added = run(env, "recipients", "add", "night@example.org", "-w", "recruitment")
    assert added.output == f"Added night@example.org to recruitment; saved {path}\n"
    text = path.read_text(encoding="utf-8")
    assert (
        "  - desk@example.org     # the news desk\n  - editor@example.org\n  - night@example.org\n"
        in text
    )
    again = run(env, "recipients", "add", "Night@example.org", "-w", "recruitment")
    assert again.output == "Night@example.org is already a recipient of recruitment.\n"

    left = run(env, "recipients", "unsubscribe", "night@example.org")
    assert left.output == "night@example.org will no longer receive any watchlist.\n"
    shown = run(env, "watchlist", "show", "recruitment").output
    assert (
        "  recipients:  desk@example.org, editor@example.org, night@example.org (unsubscribed 20"
        in shown
    )
    listed = run(env, "recipients", "list", "--json").output
    assert '"from_every_watchlist": true' in listed

    back = run(env, "recipients", "resubscribe", "night@example.org", "-w", "recruitment")
    assert back.output == "night@example.org receives again: every watchlist.\n"
    assert "unsubscribed" not in run(env, "recipients", "list").output
    nothing = run(env, "recipients", "resubscribe", "night@example.org")
    assert nothing.output == "night@example.org had not unsubscribed.\n"

    removed = run(env, "recipients", "remove", "night@example.org")
    assert removed.output == f"Removed night@example.org from recruitment; saved {path}\n"
    assert path.read_text(encoding="utf-8") == WATCHLIST
    gone = run(env, "recipients", "remove", "night@example.org")
    assert gone.exit_code == 2
    assert gone.output == "Error: night@example.org is not a recipient of any watchlist\n"


@WITH_PUBLIC_URL
def test_the_digest_body_links_the_one_click_unsubscribe_of_the_web_app(
    env: dict[str, str], smtp: RawSMTP
) -> None:
    """MONITOR_PUBLIC_URL without MONITOR_UNSUBSCRIBE_URL: the body's unsubscribe is the
    signed link of the header, not a mailto alone (read from the bytes the server got)."""
    assert run(env, "digest", "send").exit_code == 0
    for address in (DESK, EDITOR):
        (raw,) = smtp.raw_for(address)
        link = _link(raw)
        assert read_token_of(env, link) == ("recruitment", address)
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        text_part = message.get_body(("plain",))
        html_part = message.get_body(("html",))
        assert text_part is not None and html_part is not None
        text, page = text_part.get_content(), html_part.get_content()
        assert f"Unsubscribe:    {link} or write to {MAIL_FROM}" in " ".join(text.split("\n"))
        assert f'<a href="{link}"' in page
        assert "unsubscribe from this watchlist</a>" in page


def read_token_of(env: dict[str, str], link: str) -> tuple[str, str]:
    """The watchlist and address a link's token names, checked with the store's secret."""
    from alerts.recipients import unsubscribe_secret

    app = App.open(Settings(database_url=env["MONITOR_DATABASE_URL"]))
    try:
        with app.sessions() as session:
            secret = unsubscribe_secret(session)
    finally:
        app.close()
    return read_token(secret, link.rsplit("/", 1)[1])

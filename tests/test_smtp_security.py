"""SMTP transport security and login against real aiosmtpd servers on loopback.

A throwaway certificate for 127.0.0.1 (``tls_certificate`` in conftest) is trusted through
``SSL_CERT_FILE`` (which ``ssl.create_default_context`` honours), so the transport's
certificate checks stay on.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from alerts.service import send_digests
from tests.servers import free_port
from tests.test_alerts_support import ALICE, NOW, make_app, make_watchlist, seed_samples


@dataclass
class Inbox:
    recipients: list[str] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:
        self.recipients.extend(envelope.rcpt_tos)
        return "250 OK"


@pytest.fixture
def trusted(tls_certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> ssl.SSLContext:
    cert, key = tls_certificate
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def _authenticator(inbox: Inbox) -> Any:
    def check(
        server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
            b"monitor",
            b"s3cret",
        )
        if ok:
            inbox.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    return check


@pytest.fixture
def servers(trusted: ssl.SSLContext) -> Iterator[tuple[Inbox, int, int]]:
    """A STARTTLS server that requires login, and an implicit-TLS (ssl) server."""
    inbox = Inbox()
    starttls = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=trusted,
        require_starttls=True,
        authenticator=_authenticator(inbox),
        auth_required=True,
    )
    implicit = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        ssl_context=trusted,
        authenticator=_authenticator(inbox),
        auth_require_tls=False,  # aiosmtpd does not see implicit TLS as TLS; it is TLS
    )
    starttls.start()
    implicit.start()
    yield inbox, starttls.port, implicit.port
    for controller in (starttls, implicit):
        controller.stop()
        controller.loop.close()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_secure_transport_with_login(
    make_settings: Any, sqlite_url: str, servers: tuple[Inbox, int, int], security: str
) -> None:
    inbox, starttls_port, ssl_port = servers
    settings = make_settings(
        sqlite_url,
        smtp_host="127.0.0.1",
        smtp_port=starttls_port if security == "starttls" else ssl_port,
        smtp_security=security,
        smtp_username="monitor",
        smtp_password="s3cret",
        smtp_timeout_seconds=5,
    )
    app = make_app(settings, [make_watchlist(recipients=[ALICE])])
    seed_samples(app)
    report = send_digests(app, now=NOW)
    assert [o.status for o in report.outcomes] == ["sent"]
    assert inbox.recipients == [ALICE]
    assert inbox.logins == ["monitor"]
    app.close()


def test_wrong_password_is_a_clear_error_and_waits(
    make_settings: Any, sqlite_url: str, servers: tuple[Inbox, int, int]
) -> None:
    inbox, starttls_port, _ = servers
    settings = make_settings(
        sqlite_url,
        smtp_host="127.0.0.1",
        smtp_port=starttls_port,
        smtp_security="starttls",
        smtp_username="monitor",
        smtp_password="wrong",
        smtp_timeout_seconds=5,
    )
    app = make_app(settings, [make_watchlist()])
    seed_samples(app)
    report = send_digests(app, now=NOW)
    assert {o.status for o in report.outcomes} == {"pending"}
    assert all(
        (o.error or "").startswith(
            f"SMTP server 127.0.0.1:{starttls_port} refused the login of MONITOR_SMTP_USERNAME: 535"
        )
        for o in report.outcomes
    )
    assert inbox.recipients == []
    app.close()


def test_plain_connection_to_a_server_requiring_starttls_is_refused(
    make_settings: Any, sqlite_url: str, servers: tuple[Inbox, int, int]
) -> None:
    inbox, starttls_port, _ = servers
    settings = make_settings(sqlite_url, smtp_host="127.0.0.1", smtp_port=starttls_port)
    app = make_app(settings, [make_watchlist(recipients=[ALICE])])
    seed_samples(app)
    report = send_digests(app, now=NOW)
    assert [o.status for o in report.outcomes] == ["pending"]
    assert inbox.recipients == []
    app.close()

"""Delivery over a real SMTP server on loopback, when the server misbehaves.

In every case each match reaches each recipient exactly once, counted by
Message-ID at the server; the only allowed repeat is the documented crash window
(same Message-ID twice), tested at the end.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from typing import Any

import pytest
from sqlalchemy import select

from alerts import outbox
from alerts.service import deliver_pending, queue_digests, retry, send_digests
from alerts.transport import Outgoing, Transport, make_transport
from monitor.app import App
from monitor.store.models import Delivery, Digest
from tests.servers import SMTPServer, free_port
from tests.test_alerts_support import (
    ALICE,
    BOB,
    NOW,
    SAMPLES,
    add_match,
    make_app,
    make_watchlist,
    seed_samples,
)

MAIL_FROM = "News Monitor <monitor@news.example>"


def _app(make_settings: Any, database_url: str, port: int, **overrides: Any) -> App:
    settings = make_settings(
        database_url,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_timeout_seconds=overrides.pop("timeout", 5.0),
        mail_from=MAIL_FROM,
        **overrides,
    )
    return make_app(settings, [make_watchlist()])


def _titles(message: EmailMessage) -> list[str]:
    text = message.get_body(("plain",))
    assert isinstance(text, EmailMessage)
    body = text.get_content()
    return [s.title for s in SAMPLES if s.title in body]


def assert_exactly_once(app: App, server: SMTPServer, recipients: tuple[str, ...]) -> None:
    """Every stored match reached every recipient in exactly one accepted message."""
    counts = Counter(server.message_ids())
    assert all(n == 1 for n in counts.values()), counts
    with app.sessions() as session:
        rows = session.execute(
            select(Delivery.match_id, Delivery.recipient, Digest.message_id, Digest.status).join(
                Digest, Delivery.digest_id == Digest.id
            )
        ).all()
    for recipient in recipients:
        mine = [r for r in rows if r.recipient == recipient]
        assert {r.status for r in mine} == {"sent"}
        assert all(counts[r.message_id] == 1 for r in mine)
        titles = [t for m in server.to(recipient) for t in _titles(m)]
        assert sorted(titles) == sorted(s.title for s in SAMPLES)


def test_digests_reach_each_recipient_once(
    make_settings: Any, database_url: str, smtp_server: SMTPServer
) -> None:
    app = _app(make_settings, database_url, smtp_server.port)
    seed_samples(app)
    report = send_digests(app, now=NOW)
    assert [o.status for o in report.outcomes] == ["sent", "sent"]
    assert len(smtp_server.messages) == 2
    message = smtp_server.to(ALICE)[0]
    assert str(message["Subject"]).strip() == (  # folded after "Subject:" when long
        "[Foreign recruitment] 6 new matches (Nepal 2, Cuba 1, Kyrgyzstan 1): Nepal asks Moscow "
        "to stop enlisting its citizens after 70 deaths"
    )
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",))
    assert isinstance(html, EmailMessage)
    assert "Two Cubans say a building job ended at a recruitment office</a>" in html.get_content()
    # A second send finds nothing new, and the server sees nothing more.
    again = send_digests(app, now=NOW + timedelta(minutes=1))
    assert again.created == () and again.outcomes == ()
    assert len(smtp_server.messages) == 2
    assert_exactly_once(app, smtp_server, (ALICE, BOB))
    app.close()


def test_server_down_then_up(make_settings: Any, database_url: str) -> None:
    server = SMTPServer()  # not started: connections are refused
    app = _app(make_settings, database_url, server.port)
    seed_samples(app)
    report = send_digests(app, now=NOW)
    assert [o.status for o in report.outcomes] == ["pending", "pending"]
    assert "connection refused" in (report.outcomes[0].error or "")
    assert report.outcomes[0].next_attempt_at == NOW + timedelta(minutes=1)
    # Still down at the first retry: backoff doubles.
    second = deliver_pending(app, now=NOW + timedelta(minutes=1))
    assert [o.next_attempt_at for o in second] == [NOW + timedelta(minutes=3)] * 2
    server.start()
    try:
        assert deliver_pending(app, now=NOW + timedelta(minutes=2)) == []  # not yet due
        third = deliver_pending(app, now=NOW + timedelta(minutes=3))
        assert [o.status for o in third] == ["sent", "sent"]
        assert deliver_pending(app, now=NOW + timedelta(hours=1)) == []
        assert_exactly_once(app, server, (ALICE, BOB))
    finally:
        server.stop()
        app.close()


def test_temporary_451_is_retried(
    make_settings: Any, database_url: str, smtp_server: SMTPServer
) -> None:
    app = _app(make_settings, database_url, smtp_server.port)
    seed_samples(app)
    smtp_server.data_reply = "451 4.3.0 mailbox busy, try again"
    report = send_digests(app, now=NOW)
    assert {o.status for o in report.outcomes} == {"pending"}
    assert "451 4.3.0 mailbox busy" in (report.outcomes[0].error or "")
    smtp_server.data_reply = None
    later = deliver_pending(app, now=NOW + timedelta(minutes=5))
    assert {o.status for o in later} == {"sent"}
    assert_exactly_once(app, smtp_server, (ALICE, BOB))
    app.close()


def test_permanent_550_for_one_recipient_does_not_block_the_other(
    make_settings: Any, database_url: str, smtp_server: SMTPServer
) -> None:
    app = _app(make_settings, database_url, smtp_server.port)
    seed_samples(app)
    smtp_server.rcpt_replies[BOB] = "550 5.1.1 no such mailbox"
    report = send_digests(app, now=NOW)
    by_recipient = {o.recipient: o for o in report.outcomes}
    assert by_recipient[ALICE].status == "sent"
    assert by_recipient[BOB].status == "failed"
    assert by_recipient[BOB].error == "bob@example.net refused: 550 5.1.1 no such mailbox"
    # Failed stays failed: not retried on its own, its matches stay with it.
    assert deliver_pending(app, now=NOW + timedelta(days=1)) == []
    assert send_digests(app, now=NOW + timedelta(days=1)).created == ()
    # The address is fixed; the operator retries: the same message goes out once.
    del smtp_server.rcpt_replies[BOB]
    again = retry(app, now=NOW + timedelta(days=1))
    assert [(o.recipient, o.status) for o in again.outcomes] == [(BOB, "sent")]
    assert smtp_server.to(BOB)[0]["Message-ID"] == by_recipient_message_id(app, BOB)
    assert_exactly_once(app, smtp_server, (ALICE, BOB))
    app.close()


def by_recipient_message_id(app: App, recipient: str) -> str:
    with app.sessions() as session:
        found = session.scalar(select(Digest.message_id).where(Digest.recipient == recipient))
    assert found is not None
    return found


def test_connection_dropped_during_data(
    make_settings: Any, database_url: str, smtp_server: SMTPServer
) -> None:
    app = _app(make_settings, database_url, smtp_server.port)
    seed_samples(app)
    smtp_server.drop_during_data = 1
    report = send_digests(app, now=NOW)
    statuses = sorted(o.status for o in report.outcomes)
    assert statuses == ["pending", "sent"]  # the next digest reconnects and goes through
    dropped = next(o for o in report.outcomes if o.status == "pending")
    assert "SMTP conversation with 127.0.0.1" in (dropped.error or "")
    later = deliver_pending(app, now=NOW + timedelta(minutes=1))
    assert [o.status for o in later] == ["sent"]
    assert_exactly_once(app, smtp_server, (ALICE, BOB))
    app.close()


def test_timeout_is_retried(make_settings: Any, database_url: str, smtp_server: SMTPServer) -> None:
    app = _app(make_settings, database_url, smtp_server.port, timeout=0.3)
    seed_samples(app)
    smtp_server.data_delay = 0.8
    report = send_digests(app, now=NOW)
    assert {o.status for o in report.outcomes} == {"pending"}
    assert any("timed out" in (o.error or "") for o in report.outcomes)
    smtp_server.data_delay = 0.0
    later = deliver_pending(app, now=NOW + timedelta(minutes=5))
    assert {o.status for o in later} == {"sent"}
    assert_exactly_once(app, smtp_server, (ALICE, BOB))
    app.close()


def test_new_matches_after_a_failure_go_in_a_new_digest(
    make_settings: Any, database_url: str, smtp_server: SMTPServer
) -> None:
    app = _app(make_settings, database_url, smtp_server.port)
    seed_samples(app)
    smtp_server.data_reply = "452 4.2.2 over quota"
    send_digests(app, now=NOW)
    smtp_server.data_reply = None
    with app.sessions.begin() as session:
        add_match(
            session,
            title="Nepal brings home bodies of recruits",
            source="The Kathmandu Post",
            countries=["NP"],
            terms=["recruit*"],
            snippet="Families of recruits killed in Ukraine received the bodies.",
            score=1.0,
            published_at=NOW + timedelta(minutes=3),
        )
    later = send_digests(app, now=NOW + timedelta(minutes=10))
    # Two digests per recipient: the retried one and one with only the new match.
    assert sorted(c.matches for c in later.created) == [1, 1]
    assert Counter(o.recipient for o in later.outcomes) == {ALICE: 2, BOB: 2}
    assert all(n == 1 for n in Counter(smtp_server.message_ids()).values())
    assert len(smtp_server.to(ALICE)) == 2
    app.close()


class CrashAfterSend:
    """A transport whose process dies right after the server accepted the message."""

    def __init__(self, inner: Transport) -> None:
        self.inner = inner

    def send(self, digest: Outgoing) -> None:
        self.inner.send(digest)
        raise KeyboardInterrupt("power cut before the commit")

    def close(self) -> None:
        self.inner.close()


def test_crash_between_send_and_commit_resends_once_with_the_same_message_id(
    make_settings: Any, database_url: str, smtp_server: SMTPServer
) -> None:
    app = _app(make_settings, database_url, smtp_server.port)
    seed_samples(app)
    queue_digests(app, to=BOB, now=NOW)
    with pytest.raises(KeyboardInterrupt):
        outbox.deliver_due(
            app.sessions,
            lambda: CrashAfterSend(make_transport(app.settings)),
            NOW,
            lease=timedelta(minutes=5),
        )
    assert len(smtp_server.to(BOB)) == 1
    # While the dead process's lease holds, nobody sends it again…
    assert deliver_pending(app, now=NOW + timedelta(minutes=1)) == []
    # …after it expires, it is sent once more, with the same Message-ID.
    resent = deliver_pending(app, now=NOW + timedelta(minutes=6))
    assert [o.status for o in resent] == ["sent"]
    ids = [str(m["Message-ID"]) for m in smtp_server.to(BOB)]
    assert len(ids) == 2 and len(set(ids)) == 1
    assert deliver_pending(app, now=NOW + timedelta(hours=1)) == []
    app.close()


def test_two_processes_never_send_a_digest_twice(
    make_settings: Any, database_url: str, smtp_server: SMTPServer
) -> None:
    recipients = tuple(f"reader{n}@example.org" for n in range(12))
    settings = make_settings(
        database_url, smtp_host="127.0.0.1", smtp_port=smtp_server.port, mail_from=MAIL_FROM
    )
    watchlist = make_watchlist(recipients=recipients)
    first = make_app(settings, [watchlist])
    second = make_app(settings, [watchlist])
    seed_samples(first)
    assert len(queue_digests(first, now=NOW)) == len(recipients)
    results: list[list[outbox.Outcome]] = []
    errors: list[BaseException] = []

    def work(app: App) -> None:
        try:
            results.append(deliver_pending(app, now=NOW))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(a,)) for a in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    sent = [o.digest_id for batch in results for o in batch if o.status == "sent"]
    assert len(sent) == len(set(sent)) == len(recipients)
    counts = Counter(smtp_server.message_ids())
    assert len(counts) == len(recipients) and set(counts.values()) == {1}
    first.close()
    second.close()


@pytest.mark.parametrize("security", ["starttls", "ssl"])
def test_tls_against_a_plain_server_is_a_clear_error(
    make_settings: Any, sqlite_url: str, smtp_server: SMTPServer, security: str
) -> None:
    app = _app(make_settings, sqlite_url, smtp_server.port, smtp_security=security, timeout=2)
    seed_samples(app)
    report = send_digests(app, now=NOW)
    assert {o.status for o in report.outcomes} == {"pending"}
    assert all(
        (o.error or "").startswith(f"cannot reach SMTP server 127.0.0.1:{smtp_server.port}")
        for o in report.outcomes
    )
    assert smtp_server.messages == []
    app.close()


def test_nothing_listens(make_settings: Any, sqlite_url: str) -> None:
    app = _app(make_settings, sqlite_url, free_port())
    seed_samples(app)
    report = send_digests(app, now=NOW)
    assert [o.error for o in report.outcomes] == [
        f"cannot reach SMTP server 127.0.0.1:{app.settings.smtp_port}: connection refused"
    ] * 2
    app.close()

"""The admin's message: told when the monitor turns ``degraded`` or ``failing``, and when it recovers.

``MONITOR_ADMIN_EMAIL`` receives it through the same transport as digests (SMTP, or an
``.eml`` file in ``MONITOR_OUTBOX_DIR`` when no SMTP server is set). What the admin was
last told is a row of ``operator_notices`` (``monitor.store.health``), so a restart does
not tell them again:

- a problem message when the status or its reasons differ from the last message, at
  most one per ``MONITOR_ADMIN_ALERT_MINUTES`` (counted from the last problem message);
- one recovery message when the monitor is ``ok`` again after a problem message.

:func:`decide` is pure; :func:`notify` reads the last notice, sends, and records it.
A message that cannot be delivered is logged and tried again at the next health tick.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from enum import StrEnum

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts.exceptions import DeliveryError
from alerts.message import mail_domain
from alerts.transport import Outgoing, make_transport
from monitor.config import Settings
from monitor.health import Health, HealthStatus
from monitor.leases import held
from monitor.logs import log_event
from monitor.store import health as store
from monitor.store.db import transaction
from monitor.store.health import NoticeRecord

log = logging.getLogger(__name__)

NOTICE_LEASE_NAME = "admin-notice"
NOTICE_LEASE = timedelta(minutes=5)


class NoticeKind(StrEnum):
    PROBLEM = "problem"
    RECOVERY = "recovery"


def decide(
    health: Health, last: NoticeRecord | None, now: datetime, gap: timedelta
) -> NoticeKind | None:
    """Whether to tell the admin now, and what: pure."""
    if health.ok:
        if last is not None and last.status != HealthStatus.OK.value:
            return NoticeKind.RECOVERY
        return None
    if (
        last is not None
        and last.status == health.status.value
        and set(last.reasons) == set(health.codes)
    ):
        return None  # already told exactly this
    if last is not None and last.last_problem_at is not None and now - last.last_problem_at < gap:
        return None  # rate limit: told of a problem a moment ago
    return NoticeKind.PROBLEM


@dataclass(frozen=True)
class NoticeMessage:
    subject: str
    text: str


def compose(
    kind: NoticeKind, health: Health, last: NoticeRecord | None, now: datetime, host: str
) -> NoticeMessage:
    """The subject and plain text of a notice: what is wrong and what to run."""
    when = now.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    if kind is NoticeKind.RECOVERY:
        before = f"{last.status} ({', '.join(last.reasons)})" if last is not None else "not ok"
        return NoticeMessage(
            subject=f"[news-monitor] ok again on {host}",
            text=(
                f"news-monitor on {host} is ok again at {when}.\n\n"
                f"It was {before}. Every check passes now: polls succeed, watchlists "
                "load and digests go out.\n"
            ),
        )
    first = health.reasons[0].message if health.reasons else health.status.value
    more = f" (+{len(health.reasons) - 1} more)" if len(health.reasons) > 1 else ""
    lines = [f"news-monitor on {host} is {health.status.value} at {when}.", ""]
    for reason in health.reasons:
        lines.append(f"- {reason.status.value}: {reason.message}")
        lines.append(f"  run: {reason.fix}")
    lines += [
        "",
        "news-monitor status shows the same. You will get one message when it is ok again.",
    ]
    return NoticeMessage(
        subject=f"[news-monitor] {health.status.value} on {host}: {first}{more}"[:250],
        text="\n".join(lines) + "\n",
    )


def build_email(
    message: NoticeMessage, *, mail_from: str, to: str, now: datetime, message_id: str
) -> bytes:
    email = EmailMessage()
    email["Subject"] = " ".join(message.subject.split())
    email["From"] = mail_from
    email["To"] = to
    email["Date"] = format_datetime(now)
    email["Message-ID"] = message_id
    email["Auto-Submitted"] = "auto-generated"
    email.set_content(message.text, charset="utf-8", cte="quoted-printable")
    return email.as_bytes(policy=SMTP)


@dataclass(frozen=True)
class Notified:
    """A notice handed over: ``written`` to a file or ``sent`` to the SMTP server."""

    kind: NoticeKind
    status: str
    subject: str
    path: str | None = None


def notify(
    settings: Settings,
    sessions: sessionmaker[Session],
    health: Health,
    now: datetime | None = None,
) -> Notified | None:
    """Tell ``MONITOR_ADMIN_EMAIL`` about ``health`` when :func:`decide` says so.

    Under the ``admin-notice`` lease: of several processes (``run`` on PostgreSQL)
    judging the same health at once, one tells the admin and records it; the others
    find the lease taken (or, after it, the notice recorded) and send nothing.
    """
    address = settings.admin_email
    if not address:
        return None
    now = now or datetime.now(UTC)
    lease = max(NOTICE_LEASE, timedelta(seconds=settings.smtp_timeout_seconds * 6))
    with held(sessions, NOTICE_LEASE_NAME, lease) as taken:
        if not taken:
            return None
        return _notify(settings, sessions, health, address, now)


def _notify(
    settings: Settings,
    sessions: sessionmaker[Session],
    health: Health,
    address: str,
    now: datetime,
) -> Notified | None:
    with sessions() as session:
        last = store.last_notice(session, address)
        notice_id = store.next_notice_id(session)
    kind = decide(health, last, now, timedelta(minutes=settings.admin_alert_minutes))
    if kind is None:
        return None
    host = socket.gethostname()
    message = compose(kind, health, last, now, host)
    data = build_email(
        message,
        mail_from=settings.mail_from,
        to=address,
        now=now,
        message_id=make_msgid(idstring="health", domain=mail_domain(settings.mail_from)),
    )
    outgoing = Outgoing(
        id=notice_id,
        watchlist="health",
        recipient=address,
        message_id="",
        subject=message.subject,
        message=data,
        created_at=now,
    )
    transport = make_transport(settings)
    try:
        written = transport.send(outgoing)
    except DeliveryError as exc:
        log_event(
            log, "admin_notice_failed", logging.ERROR, to=address, kind=kind.value, error=str(exc)
        )
        return None
    finally:
        transport.close()
    status = HealthStatus.OK.value if kind is NoticeKind.RECOVERY else health.status.value
    try:
        with transaction(sessions) as session:
            store.add_notice(
                session,
                notice_id=notice_id,
                address=address,
                status=status,
                reasons=() if kind is NoticeKind.RECOVERY else health.codes,
                subject=message.subject,
                sent_at=now,
            )
    except IntegrityError:  # another process recorded its notice with this id first
        log_event(log, "admin_notice_race", logging.WARNING, to=address, kind=kind.value)
    outcome = "written" if written is not None else "sent"
    log_event(
        log,
        "admin_notified",
        to=address,
        kind=kind.value,
        status=status,
        outcome=outcome,
        path=str(written) if written is not None else "",
    )
    return Notified(kind, outcome, message.subject, str(written) if written else None)

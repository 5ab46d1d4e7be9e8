"""What the scheduler and the CLI call: build due digests, send them, retry the outbox.

    run_due_digests(app, now)   every minute from the scheduler: for each watchlist whose
                                schedule is due, write one digest per subscribed recipient
                                with undelivered matches to the outbox, then deliver
    send_digests(app, …)        ``digest send``: the same, now, whatever the schedule
    deliver_pending(app, now)   retry pending outbox rows whose time has come

Schedules: ``DigestSchedule.last_run_at`` remembers when each watchlist's digest
last ran, so a restart after missed slots sends one digest (coalesced), not one
per slot. ``hourly``/``daily``/``weekly`` record a run even when nothing was new
(and send an empty digest only when the watchlist says ``send_empty``, or once when
feeds are failing that its recipients were not told of: silence means "nothing
matched", never "the monitor was blind");
``immediate`` records a run only when it sent something, so the first match
after a quiet spell goes out at the next tick and later ones are batched for
``MONITOR_DIGEST_BATCH_MINUTES``. A schedule lease keeps two processes from
building the same watchlist's digests at once; the unique delivery rows make a
race harmless anyway (the loser's transaction rolls back, nothing is written).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts import outbox
from alerts.exceptions import DigestNotFound, RecipientError
from alerts.message import build_message, new_message_id, to_bytes
from alerts.outbox import Outcome
from alerts.recipients import one_click_link
from alerts.render import render, subject_line
from alerts.select import build_content, tell_failing, undelivered_items, with_feedback_links
from alerts.transport import make_transport
from monitor.app import App
from monitor.config import Settings
from monitor.logs import log_event
from monitor.relevance.feedback import feedback_link, feedback_secret
from monitor.schedules import parse_timezone
from monitor.store import coverage as covered
from monitor.store import digests as store
from monitor.store.db import transaction
from monitor.watchlists import Watchlist

log = logging.getLogger(__name__)

SCHEDULE_LEASE = timedelta(minutes=10)


@dataclass(frozen=True)
class Created:
    """A digest written to the outbox."""

    digest_id: int
    watchlist: str
    recipient: str
    subject: str
    matches: int


@dataclass(frozen=True)
class DigestReport:
    """What one run did: digests written to the outbox, and what became of each one sent."""

    created: tuple[Created, ...] = ()
    outcomes: tuple[Outcome, ...] = ()

    @property
    def sent(self) -> tuple[Outcome, ...]:
        """Handed to the SMTP server."""
        return tuple(o for o in self.outcomes if o.status == "sent")

    @property
    def written(self) -> tuple[Outcome, ...]:
        """Written as ``.eml`` files (no SMTP server is set): nothing was sent."""
        return tuple(o for o in self.outcomes if o.status == "written")

    @property
    def delivered(self) -> tuple[Outcome, ...]:
        """Sent or written."""
        return tuple(o for o in self.outcomes if o.delivered)

    @property
    def failed(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "failed")

    @property
    def waiting(self) -> tuple[Outcome, ...]:
        return tuple(o for o in self.outcomes if o.status == "pending")


def run_due_digests(app: App, now: datetime | None = None) -> DigestReport:
    """Build the digests whose schedule is due, then deliver everything pending."""
    now = now or datetime.now(UTC)
    owner = outbox.new_owner()
    gap = timedelta(minutes=app.settings.digest_batch_minutes)
    created: list[Created] = []
    for watchlist in app.watchlists.watchlists:
        tz = parse_timezone(watchlist.timezone or "UTC")
        with transaction(app.sessions) as session:
            store.ensure_schedule(session, watchlist.slug)
            last = store.last_run(session, watchlist.slug)
        if not watchlist.schedule.due(last, now, tz, gap):
            continue
        with transaction(app.sessions) as session:
            until = now + _lease(app, SCHEDULE_LEASE)
            if not store.claim_schedule(session, watchlist.slug, owner, now, until):
                continue  # another process is building this watchlist's digests
        try:
            created.extend(_run_watchlist(app, watchlist, owner, now, gap))
        finally:
            with transaction(app.sessions) as session:
                store.release_schedule(session, watchlist.slug, owner)
    outcomes = deliver_pending(app, now=now)
    return DigestReport(tuple(created), tuple(outcomes))


def _run_watchlist(
    app: App, watchlist: Watchlist, owner: str, now: datetime, gap: timedelta
) -> list[Created]:
    tz = parse_timezone(watchlist.timezone or "UTC")
    periodic = watchlist.schedule.kind != "immediate"
    try:
        with transaction(app.sessions) as session:
            # Read again under the lease: another process may have run it a moment ago.
            if not watchlist.schedule.due(store.last_run(session, watchlist.slug), now, tz, gap):
                return []
            created = _write_digests(
                app,
                session,
                watchlist,
                watchlist.recipients,
                now,
                send_empty=periodic and watchlist.send_empty,
            )
            if periodic or created:
                store.release_schedule(session, watchlist.slug, owner, last_run_at=now)
    except IntegrityError:
        log_event(log, "digest_race_lost", logging.WARNING, watchlist=watchlist.slug)
        return []
    return created


def send_digests(
    app: App,
    watchlist: str | None = None,
    to: str | None = None,
    now: datetime | None = None,
) -> DigestReport:
    """Send now what each recipient has not yet received, whatever the schedules say.

    ``watchlist`` limits it to one watchlist (name or slug); ``to`` to one recipient,
    who must be a recipient of the chosen watchlist(s).
    """
    now = now or datetime.now(UTC)
    created = queue_digests(app, watchlist=watchlist, to=to, now=now)
    return DigestReport(tuple(created), tuple(deliver_pending(app, now=now)))


def queue_digests(
    app: App,
    watchlist: str | None = None,
    to: str | None = None,
    now: datetime | None = None,
) -> list[Created]:
    """Write to the outbox, without sending, what each recipient has not yet received."""
    now = now or datetime.now(UTC)
    chosen = (app.watchlists.get(watchlist),) if watchlist else app.watchlists.watchlists
    wanted = to.strip().lower() if to is not None else None
    if wanted is not None and not any(wanted in _addresses(w.recipients) for w in chosen):
        names = ", ".join(w.slug for w in chosen) or "(none)"
        raise RecipientError(
            f"{to} is not a recipient of {names}; add it under 'recipients:' in the "
            "watchlist file first"
        )
    created: list[Created] = []
    for item in chosen:
        recipients = [r for r in item.recipients if wanted in (None, r.strip().lower())]
        try:
            with transaction(app.sessions) as session:
                created.extend(
                    _write_digests(app, session, item, recipients, now, send_empty=False)
                )
        except IntegrityError:
            log_event(log, "digest_race_lost", logging.WARNING, watchlist=item.slug)
    return created


def deliver_pending(app: App, now: datetime | None = None) -> list[Outcome]:
    """Hand over every pending outbox row whose next attempt has come."""
    now = now or datetime.now(UTC)
    lease = _lease(
        app, max(outbox.MIN_LEASE, timedelta(seconds=app.settings.smtp_timeout_seconds * 6))
    )
    return outbox.deliver_due(app.sessions, lambda: make_transport(app.settings), now, lease)


def _lease(app: App, default: timedelta) -> timedelta:
    """``MONITOR_LEASE_SECONDS`` when set, else the built-in ``default``."""
    seconds = app.settings.lease_seconds
    return timedelta(seconds=seconds) if seconds else default


def _feedback_link(
    settings: Settings, key: str, slug: str, match_id: int, relevant: bool
) -> str | None:
    return feedback_link(settings, key, match_id, slug, relevant=relevant)


def _addresses(recipients: Iterable[str]) -> set[str]:
    return {r.strip().lower() for r in recipients}


def _write_digests(
    app: App,
    session: Session,
    watchlist: Watchlist,
    recipients: Iterable[str],
    now: datetime,
    *,
    send_empty: bool,
) -> list[Created]:
    """One digest per subscribed recipient with something new, in the caller's transaction."""
    settings = app.settings
    left = store.unsubscribed(session, watchlist.slug)
    coverage = covered.coverage(session)
    told = covered.failing_told(session, watchlist.slug)
    # silence must mean "nothing matched": once, an empty digest says feeds are failing
    send_empty = send_empty or tell_failing(coverage, told)
    created: list[Created] = []
    seen: set[str] = set()
    for recipient in recipients:
        address = recipient.strip()
        if not address or address.lower() in seen or address.lower() in left:
            continue
        seen.add(address.lower())
        since = store.subscribed_since(session, watchlist.slug, address, now)
        items = undelivered_items(session, watchlist, address, since)
        if settings.public_url and items:
            items = with_feedback_links(
                items,
                partial(_feedback_link, settings, feedback_secret(session, now), watchlist.slug),
            )
        if not items and not send_empty:
            continue
        content = build_content(watchlist, address, items, now, coverage)
        subject = subject_line(content)
        message_id = new_message_id(watchlist, settings.mail_from)
        # the digest and its deliveries: the caller's transaction commits both or neither;
        # the row first, so the message can link to it ("view in browser")
        digest_id = store.add_digest(
            session,
            watchlist=watchlist.slug,
            recipient=address,
            message_id=message_id,
            subject=subject,
            message=b"",
            match_ids=content.match_ids,
            now=now,
        )
        # one link for the body and the List-Unsubscribe header: the signed one of the web
        # app when MONITOR_PUBLIC_URL is set, never a mailto alone in the body then
        one_click = one_click_link(session, settings, watchlist.slug, address, now)
        rendered = render(
            content,
            mail_from=settings.mail_from,
            unsubscribe_url=settings.unsubscribe_url,
            public_url=settings.public_url,
            digest_id=digest_id,
            one_click=one_click,
        )
        message = build_message(
            rendered,
            watchlist=watchlist,
            recipient=address,
            mail_from=settings.mail_from,
            message_id=message_id,
            date=now,
            unsubscribe_url=settings.unsubscribe_url,
            one_click=one_click,
        )
        store.set_digest_message(session, digest_id, to_bytes(message))
        created.append(Created(digest_id, watchlist.slug, address, subject, len(content.match_ids)))
        log_event(
            log,
            "digest_queued",
            digest_id=digest_id,
            watchlist=watchlist.slug,
            recipient=address,
            matches=len(content.match_ids),
        )
    store.ensure_schedule(session, watchlist.slug)
    covered.set_failing_told(
        session, watchlist.slug, coverage.failing_ids if created else told & coverage.failing_ids
    )
    return created


def retry(app: App, digest_id: int | None = None, now: datetime | None = None) -> DigestReport:
    """Make failed digests (or one digest) due now, with the same Message-ID, and deliver.

    Raises ``DigestNotFound`` for an id that is not in the outbox or was already sent.
    """
    now = now or datetime.now(UTC)
    with transaction(app.sessions) as session:
        if digest_id is not None:
            row = store.get_digest(session, digest_id)
            if row is None:
                raise DigestNotFound(
                    f"no digest #{digest_id} in the outbox; see news-monitor outbox list"
                )
            if row.status in outbox.DELIVERED:
                sent_at = row.sent_at.isoformat(timespec="seconds") if row.sent_at else "?"
                raise DigestNotFound(
                    f"digest #{digest_id} was already {row.status} at {sent_at}; nothing to retry"
                )
        store.requeue_digests(session, now, digest_id)
    return DigestReport((), tuple(deliver_pending(app, now=now)))


def unsubscribe(
    app: App, address: str, watchlist: str | None = None, now: datetime | None = None
) -> tuple[str, bool]:
    """Stop sending ``watchlist`` (or every watchlist) to ``address``.

    Returns the watchlist slug (``*`` for all) and whether this was new. Digests
    already waiting in the outbox for that address are not sent (marked failed).
    """
    now = now or datetime.now(UTC)
    cleaned = address.strip()
    if "@" not in cleaned or any(ch.isspace() for ch in cleaned) or len(cleaned) > 320:
        raise RecipientError(f"{address!r} is not an email address")
    slug = app.watchlists.get(watchlist).slug if watchlist else store.ALL_WATCHLISTS
    with transaction(app.sessions) as session:
        added = store.add_unsubscribe(session, cleaned, slug, now)
    log_event(log, "recipient_unsubscribed", address=cleaned.lower(), watchlist=slug, new=added)
    return slug, added

"""Recipients: who gets each watchlist, who left, and the signed one-click unsubscribe links.

A watchlist's recipients are listed in its file (``recipients:``); who asked to stop is in the
store (``unsubscribes``: one watchlist, or ``*`` for all). An unsubscribed address stays in
the file and gets nothing until ``news-monitor recipients resubscribe``.

Unsubscribe links (RFC 8058): each digest's ``List-Unsubscribe`` names an https URL that
unsubscribes with one POST (``List-Unsubscribe=One-Click``), and a mailto: address.

- ``MONITOR_UNSUBSCRIBE_URL`` set: the operator's own page, ``?watchlist=SLUG&address=ADDR``.
- else ``MONITOR_PUBLIC_URL`` set: the web app's ``/unsubscribe/{token}``
  (``monitor.web.unsubscribe``), the token naming the watchlist and the address, signed
  (itsdangerous) with a secret the service makes on first use and keeps in the store, so
  nobody can unsubscribe someone else by editing the link.
- else: mailto only; the operator reads those messages (``unsubscribe SLUG`` in the subject)
  and runs ``news-monitor recipients unsubscribe ADDRESS --watchlist SLUG``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.orm import Session

from alerts.exceptions import RecipientError
from alerts.render import unsubscribe_link as operator_link
from monitor.app import App
from monitor.config import Settings
from monitor.store import digests as digest_store
from monitor.store import recipients as store
from monitor.store.db import transaction
from monitor.watchlists import Watchlist

__all__ = [
    "RecipientStatus",
    "make_token",
    "one_click_link",
    "one_click_unsubscribe",
    "read_token",
    "recipient_statuses",
    "resubscribe",
    "unsubscribe_link",
    "unsubscribe_secret",
]

SECRET_NAME = "unsubscribe"
_SALT = "news-monitor unsubscribe"


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=_SALT)


def make_token(secret: str, slug: str, address: str) -> str:
    """A URL-safe token naming the watchlist and the address, signed with ``secret``."""
    return _serializer(secret).dumps([slug, address.strip().lower()])


def read_token(secret: str, token: str) -> tuple[str, str]:
    """The (watchlist slug, address) a token names; ``RecipientError`` if it is not ours."""
    try:
        value = _serializer(secret).loads(token)
    except BadSignature as exc:
        raise RecipientError(
            "this unsubscribe link is not valid (cut short or changed?); use the link of a "
            "recent digest, or reply to it with 'unsubscribe' in the subject"
        ) from exc
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, str) for part in value)
    ):
        raise RecipientError("this unsubscribe link is not valid")
    return value[0], value[1]


def unsubscribe_secret(session: Session, now: datetime | None = None) -> str:
    return store.secret(session, SECRET_NAME, now or datetime.now(UTC))


def unsubscribe_link(settings: Settings, secret: str, slug: str, address: str) -> str | None:
    """The https link of a digest's ``List-Unsubscribe`` (None: mailto only); see above."""
    if settings.unsubscribe_url:
        return operator_link(settings.unsubscribe_url, slug, address)
    if settings.public_url:
        return f"{settings.public_url}/unsubscribe/{make_token(secret, slug, address)}"
    return None


def one_click_link(
    session: Session, settings: Settings, slug: str, address: str, now: datetime
) -> str | None:
    """:func:`unsubscribe_link` with the store's secret (made on first use)."""
    if not settings.unsubscribe_url and not settings.public_url:
        return None
    return unsubscribe_link(settings, unsubscribe_secret(session, now), slug, address)


def one_click_unsubscribe(
    app: App, token: str, now: datetime | None = None
) -> tuple[str, str, bool]:
    """Unsubscribe the address a token names from its watchlist: (slug, address, was new)."""
    now = now or datetime.now(UTC)
    with transaction(app.sessions) as session:
        slug, address = read_token(unsubscribe_secret(session, now), token)
        added = digest_store.add_unsubscribe(session, address, slug, now)
    return slug, address, added


def token_target(app: App, token: str) -> tuple[str, str, bool]:
    """What a token names, and whether that address already left: (slug, address, left)."""
    with transaction(app.sessions) as session:
        slug, address = read_token(unsubscribe_secret(session), token)
        left = address in digest_store.unsubscribed(session, slug)
    return slug, address, left


@dataclass(frozen=True)
class RecipientStatus:
    watchlist: str
    address: str
    unsubscribed_since: datetime | None = None
    from_every_watchlist: bool = False  # left with ``*``, not this watchlist alone

    @property
    def subscribed(self) -> bool:
        return self.unsubscribed_since is None


def recipient_statuses(
    watchlists: Iterable[Watchlist], records: Iterable[store.UnsubscribeRecord]
) -> list[RecipientStatus]:
    """Every recipient of every watchlist, with whether (and since when) it left (pure)."""
    left: dict[tuple[str, str], datetime] = {}
    for record in records:
        key = (record.address.lower(), record.watchlist)
        left[key] = min(left.get(key, record.since), record.since)
    out: list[RecipientStatus] = []
    for watchlist in watchlists:
        for address in watchlist.recipients:
            own = left.get((address.lower(), watchlist.slug))
            everywhere = left.get((address.lower(), digest_store.ALL_WATCHLISTS))
            since = min((d for d in (own, everywhere) if d is not None), default=None)
            out.append(
                RecipientStatus(
                    watchlist.slug,
                    address,
                    since,
                    from_every_watchlist=own is None and everywhere is not None,
                )
            )
    return out


def statuses(app: App, watchlists: Iterable[Watchlist]) -> list[RecipientStatus]:
    """:func:`recipient_statuses` over the store's unsubscribes."""
    with transaction(app.sessions) as session:
        records = store.unsubscribes(session)
    return recipient_statuses(watchlists, records)


def resubscribe(app: App, address: str, watchlist: str | None = None) -> list[str]:
    """Forget that ``address`` left ``watchlist`` (None: everything it left); the slugs
    (``*`` for all) it had left. An unsubscribe from every watchlist is lifted too when
    resubscribing to one: otherwise it would still get nothing."""
    with transaction(app.sessions) as session:
        records = store.unsubscribes(session, address)
        if watchlist is None:
            slugs = [r.watchlist for r in records]
        else:
            slug = app.watchlists.get(watchlist).slug
            slugs = [
                r.watchlist for r in records if r.watchlist in (slug, digest_store.ALL_WATCHLISTS)
            ]
        if slugs:
            store.remove_unsubscribes(session, address, slugs)
        if watchlist is not None and digest_store.ALL_WATCHLISTS in slugs:
            # it had left everything: it still leaves the others it is a recipient of
            now = datetime.now(UTC)
            for other in app.watchlists.watchlists:
                listed = {r.lower() for r in other.recipients}
                if other.slug != slug and address.strip().lower() in listed:
                    digest_store.add_unsubscribe(session, address, other.slug, now)
    return slugs

"""Feedback links in digests: "relevant" / "not relevant" in one click, no login.

Each link carries a token signed with a secret the service keeps in its store (made on
first use, shared by every process), naming the match, its watchlist and the label, and
expiring after :data:`TOKEN_DAYS`. Opening the link (GET) only shows a confirm button, so a
mail scanner that follows links records nothing; the button's POST records the label. A
token is used once: the digest of each used token is kept with the label it recorded.

    link = feedback_link(settings, secret, match_id, watchlist, relevant=True)
    record = use_token(session, secret, token, now)      # FeedbackTokenError if refused
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from monitor.config import Settings
from monitor.exceptions import MonitorError
from monitor.store import relevance as store
from monitor.store.models import Feedback, Match
from monitor.store.recipients import secret

__all__ = [
    "SECRET_NAME",
    "TOKEN_DAYS",
    "FeedbackTokenError",
    "TokenTarget",
    "feedback_link",
    "feedback_secret",
    "make_token",
    "read_token",
    "use_token",
]

SECRET_NAME = "feedback"
TOKEN_DAYS = 60
_SALT = "news-monitor feedback"


class FeedbackTokenError(MonitorError, ValueError):
    """A feedback link that cannot be used: forged, expired, used, or its match gone."""


@dataclass(frozen=True)
class TokenTarget:
    match_id: int
    watchlist: str
    relevant: bool


def feedback_secret(session: Session, now: datetime) -> str:
    return secret(session, SECRET_NAME, now)


def make_token(key: str, match_id: int, watchlist: str, *, relevant: bool) -> str:
    return URLSafeTimedSerializer(key, salt=_SALT).dumps([match_id, watchlist, relevant])


def feedback_link(
    settings: Settings, key: str, match_id: int, watchlist: str, *, relevant: bool
) -> str | None:
    """The link for a digest, or None when the web app's address (MONITOR_PUBLIC_URL) is unset."""
    if not settings.public_url:
        return None
    base = settings.public_url.rstrip("/")
    return f"{base}/feedback/{make_token(key, match_id, watchlist, relevant=relevant)}"


def read_token(key: str, token: str, *, max_days: int = TOKEN_DAYS) -> TokenTarget:
    """What a token names; :class:`FeedbackTokenError` when it is not ours or too old."""
    try:
        value = URLSafeTimedSerializer(key, salt=_SALT).loads(token, max_age=max_days * 86400)
    except SignatureExpired as error:
        raise FeedbackTokenError(
            f"this feedback link has expired (links last {max_days} days); "
            "label the match in the web app instead"
        ) from error
    except BadSignature as error:
        raise FeedbackTokenError(
            "this feedback link is not valid (cut short or changed?)"
        ) from error
    if (
        not isinstance(value, list)
        or len(value) != 3
        or not isinstance(value[0], int)
        or not isinstance(value[1], str)
        or not isinstance(value[2], bool)
    ):
        raise FeedbackTokenError("this feedback link is not valid")
    return TokenTarget(value[0], value[1], value[2])


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_token(session: Session, key: str, token: str) -> TokenTarget:
    """The token's target, refused when used already or when its match is gone."""
    target = read_token(key, token)
    if session.scalar(select(Feedback.id).where(Feedback.token == _digest(token))) is not None:
        raise FeedbackTokenError("this feedback link has been used already; thank you")
    watchlist = session.scalar(select(Match.watchlist).where(Match.id == target.match_id))
    if watchlist is None:
        raise FeedbackTokenError("the match this link is about no longer exists")
    if watchlist != target.watchlist:
        raise FeedbackTokenError("this feedback link is not valid for that watchlist")
    return target


def use_token(session: Session, key: str, token: str, now: datetime) -> store.FeedbackRecord:
    """Record the label a token carries (once); :class:`FeedbackTokenError` if refused."""
    target = check_token(session, key, token)
    record = store.add_feedback(session, target.match_id, target.relevant, "email", now)
    session.execute(update(Feedback).where(Feedback.id == record.id).values(token=_digest(token)))
    return record

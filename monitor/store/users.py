"""Web accounts, sessions, read-only tokens and refused logins (``news-monitor users``, the web app).

Secrets are stored as digests only: a session cookie's token and an API token are
random strings handed to the user once; the tables keep their SHA-256. Passwords are
hashed with argon2 (argon2-cffi's defaults, re-hashed on login when those change).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from monitor.store.exceptions import NotFoundError, StoreError
from monitor.store.models import ApiToken, LoginFailure, User, UserRole, WebSession

ROLES = tuple(role.value for role in UserRole)
_RANK = {UserRole.VIEWER: 0, UserRole.EDITOR: 1, UserRole.ADMIN: 2}
MIN_PASSWORD_LENGTH = 10
_HASHER = PasswordHasher()


class UserExistsError(StoreError, ValueError):
    """``users add`` for an address that already has an account."""


class PasswordError(StoreError, ValueError):
    """A password too short to set."""


class LastAdminError(StoreError, ValueError):
    """Removing or demoting the only admin: nobody could manage the accounts any more."""


@dataclass(frozen=True)
class UserRecord:
    id: int
    email: str
    role: UserRole
    created_at: datetime
    active_tokens: int = 0
    #: when its newest open session began (``list_users`` only; no older logins are kept)
    last_login: datetime | None = None

    def may(self, role: UserRole) -> bool:
        """Whether this user has ``role`` or a higher one."""
        return _RANK[self.role] >= _RANK[role]


@dataclass(frozen=True)
class SessionRecord:
    """A logged-in browser's user and the CSRF token its forms carry."""

    user: UserRecord
    csrf_token: str
    expires_at: datetime


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def normalise_email(email: str) -> str:
    value = email.strip().lower()
    if "@" not in value or value.startswith("@") or value.endswith("@") or " " in value:
        raise ValueError(f"not an email address: {email!r}")
    return value


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordError(
            f"the password is too short: use at least {MIN_PASSWORD_LENGTH} characters"
        )
    return _HASHER.hash(password)


def _record(user: User, tokens: int = 0, last_login: datetime | None = None) -> UserRecord:
    return UserRecord(user.id, user.email, UserRole(user.role), user.created_at, tokens, last_login)


def generate_password() -> str:
    """A random password of 20 characters for an admin to hand over (shown once)."""
    return secrets.token_urlsafe(15)


def add_user(
    session: Session, email: str, role: UserRole, password: str, now: datetime
) -> UserRecord:
    address = normalise_email(email)
    user = User(
        email=address, role=role.value, password_hash=hash_password(password), created_at=now
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise UserExistsError(
            f"{address} already has an account (news-monitor users list); remove it first"
        ) from exc
    return _record(user)


def _user(session: Session, email: str) -> User:
    address = normalise_email(email)
    user = session.scalar(select(User).where(User.email == address))
    if user is None:
        raise NotFoundError(f"no web user {address} (news-monitor users list)")
    return user


def get_user(session: Session, email: str) -> UserRecord:
    return _record(_user(session, email))


def list_users(session: Session) -> list[UserRecord]:
    tokens = dict(
        session.execute(
            select(ApiToken.user_id, func.count())
            .where(ApiToken.revoked_at.is_(None))
            .group_by(ApiToken.user_id)
        ).all()
    )
    logins = dict(
        session.execute(
            select(WebSession.user_id, func.max(WebSession.created_at)).group_by(WebSession.user_id)
        ).all()
    )
    users = session.scalars(select(User).order_by(User.email))
    return [_record(user, int(tokens.get(user.id, 0)), logins.get(user.id)) for user in users]


def _refuse_last_admin(session: Session, user: User, doing: str) -> None:
    if user.role != UserRole.ADMIN.value:
        return
    admins = session.scalar(
        select(func.count()).select_from(User).where(User.role == UserRole.ADMIN.value)
    )
    if int(admins or 0) <= 1:
        raise LastAdminError(
            f"{user.email} is the only admin and cannot be {doing}: make another account admin first"
        )


def set_role(session: Session, email: str, role: UserRole) -> UserRecord:
    """Give the account ``role``; the only admin cannot be demoted (:class:`LastAdminError`)."""
    user = _user(session, email)
    if role != UserRole.ADMIN:
        _refuse_last_admin(session, user, f"made {role.value}")
    user.role = role.value
    session.flush()
    return _record(user)


def remove_user(session: Session, email: str) -> UserRecord:
    """Delete the account, its sessions and tokens (never the only admin: :class:`LastAdminError`)."""
    user = _user(session, email)
    _refuse_last_admin(session, user, "removed")
    record = _record(user)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    session.delete(user)
    return record


def set_password(session: Session, email: str, password: str) -> UserRecord:
    """A new password; the user's sessions end (their tokens stay)."""
    user = _user(session, email)
    user.password_hash = hash_password(password)
    session.execute(delete(WebSession).where(WebSession.user_id == user.id))
    return _record(user)


def authenticate(session: Session, email: str, password: str) -> UserRecord | None:
    """The user when the password is right, else None (same work for an unknown address)."""
    try:
        address = normalise_email(email)
    except ValueError:
        return None
    user = session.scalar(select(User).where(User.email == address))
    stored = user.password_hash if user is not None else _DUMMY_HASH
    try:
        _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return _record(user)


_DUMMY_HASH = _HASHER.hash("not a password of anyone: equalises timing")


# --- sessions ------------------------------------------------------------------------


def create_session(
    session: Session, user: UserRecord, now: datetime, lifetime: timedelta
) -> tuple[str, SessionRecord]:
    """A new session: (the cookie's token, the record). Expired sessions are swept."""
    session.execute(delete(WebSession).where(WebSession.expires_at <= now))
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        WebSession(
            token_hash=digest(token),
            user_id=user.id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + lifetime,
        )
    )
    return token, SessionRecord(user, csrf, now + lifetime)


def find_session(session: Session, token: str, now: datetime) -> SessionRecord | None:
    row = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == digest(token), WebSession.expires_at > now)
    ).first()
    if row is None:
        return None
    web_session, user = row
    return SessionRecord(_record(user), web_session.csrf_token, web_session.expires_at)


def end_session(session: Session, token: str) -> None:
    session.execute(delete(WebSession).where(WebSession.token_hash == digest(token)))


# --- read-only tokens ----------------------------------------------------------------


def create_token(session: Session, email: str, now: datetime) -> str:
    """A new read-only token for the user (shown once; the table keeps its digest)."""
    user = _user(session, email)
    token = "nm_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=digest(token), created_at=now))
    return token


def revoke_tokens(session: Session, email: str, now: datetime) -> int:
    """Revoke every active token of the user; how many were."""
    user = _user(session, email)
    result = session.execute(
        update(ApiToken)
        .where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def find_token(session: Session, token: str) -> UserRecord | None:
    user = session.scalar(
        select(User)
        .join(ApiToken, ApiToken.user_id == User.id)
        .where(ApiToken.token_hash == digest(token), ApiToken.revoked_at.is_(None))
    )
    return None if user is None else _record(user)


# --- refused logins ------------------------------------------------------------------


def record_login_failure(session: Session, address: str, email: str, now: datetime) -> None:
    session.add(LoginFailure(address=address[:64], email=email.strip().lower()[:320], at=now))


def login_failures(session: Session, address: str, email: str, since: datetime) -> tuple[int, int]:
    """Refused logins since ``since``: (from this address for this account, from this address)."""
    rows = session.execute(
        select(LoginFailure.email, func.count())
        .where(LoginFailure.address == address[:64], LoginFailure.at > since)
        .group_by(LoginFailure.email)
    ).all()
    wanted = email.strip().lower()
    account = sum(int(count) for key, count in rows if key == wanted)
    return account, sum(int(count) for _key, count in rows)


def forget_login_failures(session: Session, before: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at <= before))

"""Handing a stored digest to the world: an SMTP server, or ``.eml`` files in a folder.

Both transports raise only ``alerts.exceptions.DeliveryError`` subclasses, which
say what to do next:

- ``TemporaryDeliveryError``: 4xx replies, a timeout, a connection dropped during
  the conversation (a server that drops during DATA has not accepted the message);
  the digest stays pending and is retried with backoff.
- ``TransportDownError``: the server cannot be reached or refuses our sender or
  login; every digest of the batch waits.
- ``PermanentDeliveryError``: a 5xx for this recipient (RCPT) or this message
  (DATA); the digest is marked failed and the others go on.

One SMTP connection is reused for a batch and reopened after an error.
"""

from __future__ import annotations

import contextlib
import os
import re
import smtplib
import socket
import ssl
from dataclasses import dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Protocol

from alerts.exceptions import (
    PermanentDeliveryError,
    TemporaryDeliveryError,
    TransportDownError,
)
from alerts.render import mail_address
from monitor.config import Settings

_UNSAFE_FILENAME = re.compile(r"[^A-Za-z0-9@._-]+")


@dataclass(frozen=True)
class Outgoing:
    """A digest read back from the outbox, ready to hand over."""

    id: int
    watchlist: str
    recipient: str
    message_id: str
    subject: str
    message: bytes
    created_at: datetime


class Transport(Protocol):
    def send(self, digest: Outgoing) -> Path | None:
        """Hand one digest over: the file written, or None when a server took it.

        Raises a ``DeliveryError`` subclass on failure.
        """

    def close(self) -> None:
        """Release connections."""


def make_transport(settings: Settings) -> Transport:
    """SMTP when ``MONITOR_SMTP_HOST`` is set, else ``.eml`` files in the outbox folder."""
    if settings.smtp_host:
        return SMTPTransport(settings)
    return FileTransport(settings.outbox_dir)


class FileTransport:
    """Writes ``ID-SLUG-RECIPIENT.eml`` (and an ``.html`` preview beside it) atomically.

    The name depends on the digest only, so a retry after a crash rewrites the
    same file instead of adding a second one.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, digest: Outgoing) -> Path:
        stem = f"{digest.id:06d}-{digest.watchlist}-{digest.recipient}"
        return self.folder / (_UNSAFE_FILENAME.sub("_", stem)[:180] + ".eml")

    def send(self, digest: Outgoing) -> Path:
        target = self.path_for(digest)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            _write_atomically(target, digest.message)
            html = _html_part(digest.message)
            if html is not None:
                _write_atomically(target.with_suffix(".html"), html.encode("utf-8"))
        except OSError as exc:
            raise TransportDownError(
                f"cannot write {target}: {exc.strerror or exc}; check MONITOR_OUTBOX_DIR"
            ) from exc
        return target

    def close(self) -> None:
        pass


def _write_atomically(target: Path, data: bytes) -> None:
    temporary = target.with_name(target.name + ".tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, target)


def _html_part(data: bytes) -> str | None:
    message = message_from_bytes(data, policy=default_policy)
    assert isinstance(message, EmailMessage)
    part = message.get_body(preferencelist=("html",))
    if part is None:
        return None
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    return content if isinstance(content, str) else None


class SMTPTransport:
    """One SMTP connection per batch, with the security, login and timeout of the settings."""

    def __init__(self, settings: Settings) -> None:
        assert settings.smtp_host
        self.settings = settings
        self.host = settings.smtp_host
        self.sender = mail_address(settings.mail_from)
        self._smtp: smtplib.SMTP | None = None

    @property
    def where(self) -> str:
        return f"{self.host}:{self.settings.smtp_port}"

    def _connect(self) -> smtplib.SMTP:
        settings = self.settings
        timeout = settings.smtp_timeout_seconds
        smtp: smtplib.SMTP | None = None
        try:
            # Connecting in the constructor lets smtplib remember the host name that
            # STARTTLS checks the certificate against.
            if settings.smtp_security == "ssl":
                smtp = _SMTPSSL(
                    self.host,
                    settings.smtp_port,
                    timeout=timeout,
                    context=ssl.create_default_context(),
                )
            else:
                smtp = smtplib.SMTP(self.host, settings.smtp_port, timeout=timeout)
            smtp.ehlo_or_helo_if_needed()
            if settings.smtp_security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            if settings.smtp_username:
                password = (
                    settings.smtp_password.get_secret_value() if settings.smtp_password else ""
                )
                smtp.login(settings.smtp_username, password)
        except smtplib.SMTPAuthenticationError as exc:
            _close_quietly(smtp)
            raise TransportDownError(
                f"SMTP server {self.where} refused the login of MONITOR_SMTP_USERNAME: "
                f"{_reply(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            _close_quietly(smtp)
            raise TransportDownError(
                f"cannot reach SMTP server {self.where}: {_describe(exc)}"
            ) from exc
        return smtp

    def send(self, digest: Outgoing) -> None:
        """Hand one digest to the server (returns None: nothing was written here)."""
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        try:
            smtp.sendmail(self.sender, [digest.recipient], digest.message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = exc.recipients.get(digest.recipient, (0, b""))
            problem = f"{digest.recipient} refused: {_reply(code, text)}"
            if 500 <= code < 600:
                raise PermanentDeliveryError(problem) from exc
            raise TemporaryDeliveryError(problem) from exc
        except smtplib.SMTPSenderRefused as exc:
            self._reset()
            raise TransportDownError(
                f"SMTP server {self.where} refused the sender {self.sender} "
                f"(MONITOR_MAIL_FROM): {_reply(exc.smtp_code, exc.smtp_error)}"
            ) from exc
        except smtplib.SMTPDataError as exc:
            problem = f"message refused: {_reply(exc.smtp_code, exc.smtp_error)}"
            if 500 <= exc.smtp_code < 600:
                raise PermanentDeliveryError(problem) from exc
            self._reset()
            raise TemporaryDeliveryError(problem) from exc
        except (smtplib.SMTPException, OSError) as exc:
            self._reset()
            raise TemporaryDeliveryError(
                f"SMTP conversation with {self.where} failed: {_describe(exc)}"
            ) from exc

    def _reset(self) -> None:
        smtp, self._smtp = self._smtp, None
        _close_quietly(smtp)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _close_quietly(smtp: smtplib.SMTP | None) -> None:
    if smtp is not None:
        with contextlib.suppress(OSError):
            smtp.close()


class _SMTPSSL(smtplib.SMTP_SSL):
    """``SMTP_SSL`` that closes its socket when the TLS handshake fails (smtplib leaks it)."""

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        raw = socket.create_connection((host, port), timeout, self.source_address)
        try:
            return self.context.wrap_socket(raw, server_hostname=host)
        except BaseException:
            raw.close()
            raise


def _reply(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}".strip()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "timed out (MONITOR_SMTP_TIMEOUT_SECONDS)"
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    message = str(exc) or type(exc).__name__
    return " ".join(message.split())

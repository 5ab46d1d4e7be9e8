"""The email itself: headers and the two MIME parts, built with ``EmailMessage``.

The default policy folds and encodes headers (non-ASCII names and subjects are
RFC 2047-encoded) and refuses CR/LF inside a header value; subjects are cleaned
before they get here anyway. The bytes are produced with the SMTP policy (CRLF
line ends; URL headers such as List-Unsubscribe are never encoded, see ``_MailPolicy``)
and stored in the outbox, so a retry sends exactly the same message.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP, EmailPolicy
from email.utils import format_datetime, make_msgid

from alerts.model import RenderedDigest
from alerts.render import mail_address, unsubscribe_link, unsubscribe_mailto
from alerts.safety import clean_text
from monitor.watchlists import Watchlist

_NOT_ATOM = re.compile(r"[^a-z0-9-]+")
#: headers that carry URLs: folded only at their own commas, never RFC 2047-encoded
_URL_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "list-id"})
_UNFOLDED = SMTP.clone(max_line_length=998)  # RFC 5322's hard limit


class _MailPolicy(EmailPolicy):
    """The SMTP policy, except that URL headers are never encoded.

    The default folder, given a header longer than 78 characters with a token it cannot
    break (a long URL), RFC 2047-encodes it (``=?utf-8?q?=3Chttps…?=``), which no mail
    provider reads as a List-Unsubscribe URL. Those headers are written as they are.
    """

    def fold_binary(self, name: str, value: str) -> bytes:
        if name.lower() in _URL_HEADERS:
            return _UNFOLDED.fold_binary(name, value)
        return super().fold_binary(name, value)


MAIL_POLICY = _MailPolicy(linesep="\r\n")


def mail_domain(mail_from: str) -> str:
    domain = mail_address(mail_from).rpartition("@")[2].strip().lower()
    return domain or "localhost"


def new_message_id(watchlist: Watchlist, mail_from: str) -> str:
    """A fresh, globally unique Message-ID: ``<…digest.SLUG@DOMAIN>``."""
    return make_msgid(idstring=f"digest.{_atom(watchlist.slug)}", domain=mail_domain(mail_from))


def list_id(watchlist: Watchlist, mail_from: str) -> str:
    name = clean_text(watchlist.name, 80).replace('"', "'")
    return f'"{name}" <{_atom(watchlist.slug)}.news-monitor.{mail_domain(mail_from)}>'


def build_message(
    rendered: RenderedDigest,
    *,
    watchlist: Watchlist,
    recipient: str,
    mail_from: str,
    message_id: str,
    date: datetime,
    unsubscribe_url: str | None = None,
    one_click: str | None = None,
) -> EmailMessage:
    """One digest as a ``multipart/alternative`` message (text first, then HTML).

    ``one_click``: the https unsubscribe link (``alerts.recipients.unsubscribe_link``); else
    one is made from ``unsubscribe_url`` (MONITOR_UNSUBSCRIBE_URL); neither: mailto only.
    """
    message = EmailMessage()
    message["Subject"] = rendered.subject
    message["From"] = mail_from
    message["To"] = recipient
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id
    message["List-Id"] = list_id(watchlist, mail_from)
    link = one_click or unsubscribe_link(unsubscribe_url, watchlist.slug, recipient)
    mailto = unsubscribe_mailto(mail_from, watchlist.slug)
    if link:
        message["List-Unsubscribe"] = f"<{link}>, <{mailto}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    else:
        message["List-Unsubscribe"] = f"<{mailto}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text, subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(rendered.html, subtype="html", charset="utf-8", cte="quoted-printable")
    return message


def to_bytes(message: EmailMessage) -> bytes:
    return message.as_bytes(policy=MAIL_POLICY)


def _atom(text: str) -> str:
    return _NOT_ATOM.sub("-", text.lower()).strip("-") or "watchlist"

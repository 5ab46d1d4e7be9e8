"""Making feed-provided strings harmless before they reach a template or a header.

Templates autoescape HTML; these helpers deal with what escaping does not:
control characters and line breaks (which could break headers or the plain-text
layout), bidirectional overrides (which can reorder a line to spoof it), absurd
lengths, and links that are not plain ``http``/``https``.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

#: Bidirectional embedding/override/isolate controls: stripped (text direction is
#: isolated by the templates instead, with ``dir="auto"`` and FSI/PDI in text).
_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))
_WHITESPACE = re.compile(r"\s+")

MAX_TITLE = 300
MAX_SOURCE = 120
MAX_LABEL = 80
MAX_URL = 2048
ELLIPSIS = "…"


def clean_text(value: str | None, max_length: int | None = None) -> str:
    """One line of display text: no control or bidi-override characters, spaces collapsed."""
    if not value:
        return ""
    text = value.translate(_BIDI_CONTROLS)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if unicodedata.category(ch) != "Cs"
    )
    text = _WHITESPACE.sub(" ", text).strip()
    return truncate(text, max_length) if max_length else text


def clean_inline(value: str) -> str:
    """Like ``clean_text`` but keeps leading/trailing spaces (for pieces of a snippet)."""
    text = value.translate(_BIDI_CONTROLS)
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch
        for ch in text
        if unicodedata.category(ch) != "Cs"
    )
    return _WHITESPACE.sub(" ", text)


def truncate(text: str, max_length: int) -> str:
    if len(text) <= max_length:
        return text
    return text[: max_length - 1].rstrip() + ELLIPSIS


def safe_url(value: str | None) -> str | None:
    """The URL if it is a plain absolute http(s) link a mail client may open, else None."""
    if not value:
        return None
    url = value.strip()
    if len(url) > MAX_URL or any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url

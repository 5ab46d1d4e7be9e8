"""Full text: for a feed marked ``--full-text``, each new entry's page, its main text kept.

The entries handed on are those the parser did not know (``claim.KNOWN_IDS``); each
page is fetched with the feed fetcher's limits and its main text extracted
(trafilatura) on a thread. The page's text replaces the feed's when it is at least
``FULL_TEXT_MIN_GAIN`` times longer, and the entry is then matched again (its
matches are reset). A page that cannot be fetched keeps the feed's text (logged); an
extractor that raises is that feed's error, recorded by the per-feed boundary.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace

from monitor.articles import html_to_text
from monitor.feeds.exceptions import FetchError
from monitor.feeds.fetch import PAGE_ACCEPT, Fetcher
from monitor.ingest.analyse import AnalysedEntry, AnalysedFeed
from monitor.logs import log_event

log = logging.getLogger("monitor.ingest.fulltext")

FULL_TEXT_MIN_GAIN = 1.2  # the extracted page replaces the feed text when this much longer


async def add_full_texts(fetcher: Fetcher, feed: AnalysedFeed) -> AnalysedFeed:
    """The feed with each entry's page text where it is longer than the feed's."""
    entries = []
    for item in feed.entries:
        entries.append(await _full_text(fetcher, item))
    return replace(feed, entries=tuple(entries))


async def _full_text(fetcher: Fetcher, item: AnalysedEntry) -> AnalysedEntry:
    url = item.entry.url
    if not url:
        return item
    try:
        page = await fetcher.fetch(url, accept=PAGE_ACCEPT)
    except FetchError as exc:
        log_event(log, "full_text_failed", logging.WARNING, url=url, error_kind=exc.kind)
        return item
    text = await asyncio.to_thread(extract_main_text, page.body, page.final_url)
    if text and len(text) > FULL_TEXT_MIN_GAIN * len(item.text):
        return AnalysedEntry(item.entry, text, None)
    return item


def extract_main_text(body: bytes, url: str) -> str:
    """The main text of an article page (trafilatura), or plain page text if it finds none."""
    import trafilatura

    html = body.decode("utf-8", errors="replace")
    text = trafilatura.extract(html, url=url, include_comments=False, include_tables=False)
    return str(text).strip() if text else html_to_text(html)

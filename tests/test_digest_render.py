"""Digest content and layout: golden files, grouping, counts, hostile feed strings.

Golden files: ``tests/data/digests/*.txt|*.html``. After an intended change of the
templates, regenerate them with ``UPDATE_GOLDEN=1 pytest tests/test_digest_render.py``
and review the diff.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import struct
import subprocess
import zlib
from datetime import timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from alerts.message import build_message, new_message_id, to_bytes
from alerts.model import DigestContent
from alerts.render import render, subject_line
from alerts.safety import clean_inline, safe_url
from alerts.select import build_content, items_from_records, snippet_segments, undelivered_items
from monitor.store.coverage import Coverage, FailingFeed, coverage
from monitor.store.db import transaction
from monitor.store.digests import MatchRecord
from monitor.store.models import Feed
from tests.test_alerts_support import (
    ALICE,
    NOW,
    SLUG,
    add_match,
    make_app,
    make_watchlist,
    seed_samples,
)

GOLDEN = Path(__file__).parent / "data" / "digests"
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
CHROMIUM = Path("/usr/bin/chromium")


def _content(make_settings: Any, **watchlist: Any) -> DigestContent:
    """The samples as one digest; the Meduza feed has been failing for two days."""
    chosen = make_watchlist(**watchlist)
    app = make_app(make_settings(), [chosen])
    seed_samples(app)
    with transaction(app.sessions) as session:
        meduza = session.scalars(select(Feed).where(Feed.title == "Meduza")).one()
        meduza.status, meduza.last_success_at = "failing", NOW - timedelta(days=2)
    with app.sessions() as session:
        items = undelivered_items(session, chosen, ALICE)
        covered = coverage(session)
    app.close()
    return build_content(chosen, ALICE, items, NOW, covered)


def _golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual, encoding="utf-8")
    assert path.exists(), f"{path} missing: run with UPDATE_GOLDEN=1 to create it"
    assert actual == path.read_text(encoding="utf-8")


def test_digest_matches_the_golden_files(make_settings: Any) -> None:
    rendered = render(_content(make_settings), mail_from="Monitor <monitor@news.example>")
    _golden("foreign-recruitment.txt", rendered.text)
    _golden("foreign-recruitment.html", rendered.html)


def test_subject_names_the_count_and_top_countries(make_settings: Any) -> None:
    content = _content(make_settings)
    assert subject_line(content) == (
        "[Foreign recruitment] 6 new matches (Nepal 2, Cuba 1, Kyrgyzstan 1): Nepal asks Moscow "
        "to stop enlisting its citizens after 70 deaths"
    )


def test_items_are_grouped_under_their_first_country_highest_score_first(
    make_settings: Any,
) -> None:
    content = _content(make_settings)
    layout = [(s.name, [i.title for i in s.items]) for s in content.sections]
    assert layout == [
        (
            "Nepal",
            [
                "Nepal asks Moscow to stop enlisting its citizens after 70 deaths",
                "Nepal halts exit permits for work in Russia",
            ],
        ),
        ("Cuba", ["Two Cubans say a building job ended at a recruitment office"]),
        ("Kyrgyzstan", ["Alabuga Start recruits teenagers from O'zbekiston and Kyrgyzstan"]),
        ("Sri Lanka", ["Sri Lanka counts 288 retired soldiers fighting for Russia"]),
        ("Uzbekistan", ["Uzbek court jails returning migrant for mercenarism"]),
    ]
    alabuga = content.sections[2].items[0]
    assert alabuga.country_names == ("Kyrgyzstan", "Uzbekistan")  # listed once, both shown


def test_one_story_from_several_feeds_is_one_item_with_all_sources(make_settings: Any) -> None:
    content = _content(make_settings)
    nepal = content.sections[0].items[0]
    assert nepal.sources == ("The Kathmandu Post", "RFE/RL")
    assert len(nepal.match_ids) == 1  # the later copy is a duplicate: never alerted
    assert ("RFE/RL", 2) in content.source_counts


def test_both_parts_carry_the_same_items_and_the_footer(make_settings: Any) -> None:
    content = _content(make_settings, timezone="Asia/Kathmandu")
    rendered = render(content, mail_from="monitor@news.example")
    for item in content.items:
        assert item.title in rendered.text
        assert item.url is not None and item.url in rendered.text
        assert f'href="{item.url}"' in rendered.html
    assert "+0545" in rendered.text or "+0545" in rendered.html  # Kathmandu time, no abbreviation
    for part in (rendered.text, rendered.html):
        assert 'news-monitor watchlist add-keyword foreign-recruitment "term"' in part.replace(
            "&#34;", '"'
        )
        assert "unsubscribe foreign-recruitment" in part
    assert "*recruiting*" in rendered.text
    assert re.search(r'<span class="hit"[^>]*style="[^"]*background', rendered.html)
    assert "<style" not in rendered.html  # CSS inlined at render time
    assert not re.search(r"<(script|img|link)\b", rendered.html)


def test_hostile_feed_strings_are_rendered_harmless(make_settings: Any) -> None:
    chosen = make_watchlist()
    app = make_app(make_settings(), [chosen])
    long_title = "Nepal " + "recruitment " * 170  # over 2,000 characters
    with transaction(app.sessions) as session:
        for title, url in [
            ('<script>alert("x")</script> Nepal\r\nBcc: victim@example.org', "javascript:alert(1)"),
            (long_title, "https://example.org/long"),
            (
                "\u202eNepal recruits\u202c تجنيد مقاتلين من نيبال",
                "https://example.org/rtl\r\nX: y",
            ),
        ]:
            add_match(
                session,
                title=title,
                source="Evil <b>Feed</b>\r\nX-Injected: 1",
                countries=["NP"],
                terms=["<img src=x onerror=alert(1)>"],
                snippet='</span><script>alert(1)</script> recruited "Nepalese"',
                score=1.0,
                published_at=NOW - timedelta(hours=1),
                url=url,
            )
    with app.sessions() as session:
        items = undelivered_items(session, chosen, ALICE)
    rendered = render(build_content(chosen, ALICE, items, NOW), mail_from="m@news.example")
    html = rendered.html
    assert "<script" not in html and "<img" not in html and "<b>Feed" not in html
    assert "&lt;script&gt;" in html
    assert "javascript:" not in html and "https://example.org/rtl" not in html
    assert "\u202e" not in html and "\u202e" not in rendered.text
    assert 'dir="auto"' in html
    assert "\u2068" in rendered.text  # right-to-left title isolated in the text part
    assert max(len(i.title) for i in items) <= 300
    message = build_message(
        rendered,
        watchlist=chosen,
        recipient=ALICE,
        mail_from="m@news.example",
        message_id=new_message_id(chosen, "m@news.example"),
        date=NOW,
    )
    parsed = message_from_bytes(to_bytes(message), policy=default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Bcc"] is None and parsed["X-Injected"] is None and parsed["X"] is None
    assert "\n" not in str(parsed["Subject"]) and len(str(parsed["Subject"])) <= 200
    app.close()


def test_message_headers(make_settings: Any) -> None:
    content = _content(make_settings, name="Вербовка: Непал")
    rendered = render(content, mail_from="Monitor <monitor@news.example>")
    chosen = content.watchlist
    for base, one_click in [(None, False), ("https://news.example/unsub", True)]:
        message = build_message(
            rendered,
            watchlist=chosen,
            recipient=ALICE,
            mail_from="Monitor <monitor@news.example>",
            message_id="<abc@news.example>",
            date=NOW,
            unsubscribe_url=base,
        )
        raw = to_bytes(message)
        assert raw.isascii()  # non-ASCII subject and names are encoded
        parsed = message_from_bytes(raw, policy=default)
        assert isinstance(parsed, EmailMessage)
        assert str(parsed["Subject"]).startswith("[Вербовка: Непал] 6 new matches (Nepal 2")
        assert parsed["Message-ID"] == "<abc@news.example>"
        assert parsed["Date"] == "Thu, 14 Aug 2025 06:30:00 +0000"
        assert parsed["List-Id"] == (
            '"Вербовка: Непал" <foreign-recruitment.news-monitor.news.example>'
        )
        unsub = str(parsed["List-Unsubscribe"])
        assert "<mailto:monitor@news.example?subject=unsubscribe%20foreign-recruitment>" in unsub
        if one_click:
            assert unsub.startswith(
                "<https://news.example/unsub?watchlist=foreign-recruitment"
                "&address=alice%40example.org>"
            )
            assert parsed["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        else:
            assert parsed["List-Unsubscribe-Post"] is None
        text = parsed.get_body(("plain",))
        html = parsed.get_body(("html",))
        assert text is not None and html is not None
        assert isinstance(text, EmailMessage) and isinstance(html, EmailMessage)
        assert text.get_content().replace("\r\n", "\n") == rendered.text
        assert html.get_content().replace("\r\n", "\n").rstrip() == rendered.html.rstrip()


def test_an_empty_digest_while_feeds_fail_says_so(make_settings: Any) -> None:
    """Silence must mean "nothing matched": the empty digest names the failing feeds."""
    failing = (
        FailingFeed(1, "Steppe Wire", "https://steppe.example/rss", NOW - timedelta(days=2), False),
        FailingFeed(2, "valley.example", "https://valley.example/", NOW - timedelta(days=1), True),
    )
    content = build_content(make_watchlist(), ALICE, [], NOW, Coverage(12, failing))
    rendered = render(content, mail_from="Monitor <monitor@news.example>")
    assert rendered.subject == "[Foreign recruitment] no new matches, 2 feeds failing"
    _golden("foreign-recruitment-feeds-failing.txt", rendered.text)
    assert "From 12 feeds; failing: Steppe Wire (since 2025-08-12), valley.example (since" in (
        rendered.html
    )


def test_empty_digest_says_nothing_is_new(make_settings: Any) -> None:
    content = build_content(make_watchlist(send_empty=True), ALICE, [], NOW)
    rendered = render(content, mail_from="m@news.example")
    assert rendered.subject == "[Foreign recruitment] no new matches"
    assert "Nothing new matched this watchlist" in rendered.text


@settings(max_examples=200, deadline=None)
@given(
    snippet=st.text(max_size=80),
    spans=st.lists(st.tuples(st.integers(-5, 90), st.integers(-5, 90)), max_size=6),
)
def test_snippet_segments_never_lose_or_invent_text(
    snippet: str, spans: list[tuple[int, int]]
) -> None:
    pieces = snippet_segments(snippet, spans)
    joined = "".join(p.text for p in pieces)
    assert " ".join(joined.split()) == " ".join(clean_inline(snippet).split())
    assert all(p.text for p in pieces)
    assert all(not (a.hit and b.hit) for a, b in itertools.pairwise(pieces))
    if not any(min(e, len(snippet)) > max(s, 0) for s, e in spans):
        assert not any(p.hit for p in pieces)


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("https://example.org/a?b=c", True),
        ("http://example.org", True),
        ("javascript:alert(1)", False),
        ("data:text/html,<b>x</b>", False),
        ("//example.org/x", False),
        ("https://exa mple.org", False),
        ("https://example.org/\r\nX: y", False),
        ("ftp://example.org/file", False),
        ("", False),
    ],
)
def test_only_http_links_are_kept(url: str, safe: bool) -> None:
    assert (safe_url(url) == url) is safe


def test_chromium_screenshot_of_the_html_digest(make_settings: Any, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    html = render(_content(make_settings), mail_from="m@news.example").html
    page = tmp_path / "digest.html"
    page.write_text(html, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "digest.png"
    shot.unlink(missing_ok=True)
    subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=720,1400",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    colours = _png_colours(shot.read_bytes())
    assert len(colours) > 20, "the screenshot is blank"
    shutil.copy(page, ARTIFACTS / "digest.html")


CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def test_the_html_digest_reads_on_a_390_px_phone(make_settings: Any, tmp_path: Path) -> None:
    """Chromium at 390 px: nothing wider than the screen, text at a readable size."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    content = _content(make_settings)
    html = render(
        content,
        mail_from="m@news.example",
        public_url="https://monitor.example.org",
        digest_id=7,
    ).html
    page_file = tmp_path / "digest.html"
    page_file.write_text(html, encoding="utf-8")
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "digest-390.png"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(page_file.as_uri())
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, "
                "Math.max(...[...document.querySelectorAll('body *')]"
                ".map(e => e.getBoundingClientRect().right))]"
            )
            smallest = page.evaluate(
                "() => Math.min(...[...document.querySelectorAll('.headline, .snippet, .meta')]"
                ".map(e => parseFloat(getComputedStyle(e).fontSize)))"
            )
            preheader_shown = page.evaluate(
                "() => getComputedStyle(document.querySelector('.preheader')).display"
            )
            links = page.evaluate("() => [...document.querySelectorAll('a')].map(a => a.href)")
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    assert widths[0] <= 390, f"the page scrolls sideways: {widths[0]} px wide"
    assert widths[1] <= 390.5, f"an element sticks out: its right edge at {widths[1]} px"
    assert smallest >= 12
    assert preheader_shown == "none"  # the preview text is for the inbox, not the page
    assert "https://monitor.example.org/digests/7" in links
    assert "https://monitor.example.org/watchlists/foreign-recruitment" in links
    assert len(_png_colours(shot.read_bytes())) > 20, "the screenshot is blank"


def test_web_links_only_with_a_public_url(make_settings: Any) -> None:
    content = _content(make_settings)
    linked = render(
        content, mail_from="m@news.example", public_url="https://monitor.example.org", digest_id=3
    )
    assert "View in browser: https://monitor.example.org/digests/3" in linked.text
    assert "Edit this watchlist: https://monitor.example.org/watchlists/foreign-recruitment" in (
        linked.text
    )
    assert 'href="https://monitor.example.org/digests/3"' in linked.html
    plain = render(content, mail_from="m@news.example")
    for part in (plain.text, plain.html):
        assert "monitor.example.org" not in part
        assert "View in browser" not in part and "Edit this watchlist" not in part
    assert 'news-monitor watchlist add-keyword foreign-recruitment "term"' in plain.text


def test_counts_agree_and_items_say_language_and_age(make_settings: Any) -> None:
    content = _content(make_settings)
    sections = {s.name: len(s.items) for s in content.sections if s.code is not None}
    assert dict(content.country_counts) == sections
    rendered = render(content, mail_from="m@news.example")
    for name, count in sections.items():
        assert f"{name} ({count})" in rendered.text
        assert f"{name} {count}" in rendered.text.split("By source")[0]
    assert "(Nepal 2, Cuba 1, Kyrgyzstan 1)" in rendered.subject
    # the Sri Lanka item was first seen 90 minutes after it was published
    assert (
        "Eurasianet · 2 hours ago, 2025-08-14 06:30 CEST, first seen 2025-08-14 08:00 CEST · English"
        in rendered.text
    )
    assert "Meduza · 12 hours ago, 2025-08-13 20:30 CEST · English" in rendered.text
    # words as found, once each; never the pattern
    assert "Terms: recruiting, contract" in rendered.text
    assert "recruit*" not in rendered.text
    top = "Nepal asks Moscow to stop enlisting its citizens after 70 deaths"
    assert rendered.subject.endswith(top)
    assert '<div class="preheader"' in rendered.html
    assert rendered.html.index(top + " — and 5 more items") < rendered.html.index("<table")


def test_context_words_of_a_rule_are_not_shown_as_keywords(make_settings: Any) -> None:
    record = MatchRecord(
        match_id=1,
        article_id=1,
        story_id=None,
        watchlist=SLUG,
        title="Nepali recruits sent to the Russian army",
        url="https://example.org/a",
        canonical_url=None,
        source="Valley Courier",
        published_at=NOW,
        terms=("recruit*", "Russian army"),
        countries=("NP",),
        snippet="Nepali recruits sent to the Russian army",
        highlights=((7, 15),),
        score=1.0,
        created_at=NOW,
        found=(
            ("recruit*", "recruits"),
            ("recruit*", "Recruits"),
            ("Russian army", "Russian army"),
        ),
    )
    (item,) = items_from_records([record], {}, keywords={"recruit*"})
    assert item.terms == ("recruits",)
    assert item.context == ("Russian army",)


def _png_colours(data: bytes) -> set[bytes]:
    """The distinct pixel colours of an 8-bit RGB(A) PNG (enough to tell blank from not)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        pos += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and colour in (2, 6)
    channels = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    previous = bytearray(stride)
    colours: set[bytes] = set()
    for row in range(height):
        start = row * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                p = left + up - corner
                pa, pb, pc = abs(p - left), abs(p - up), abs(p - corner)
                pred = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + pred) & 0xFF
        if row % 7 == 0:
            colours.update(bytes(line[i : i + 3]) for i in range(0, stride, channels * 5))
        previous = line
    return colours


_ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "table", "tbody", "tr", "td", "div"}
_ALLOWED_TAGS |= {"span", "a", "bdi", "br", "b", "code"}


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        self.hrefs += [value or "" for name, value in attrs if name == "href"]


_PIECES = [
    *"<>&\"'/=:; \r\n\t\x00\x0b\u202e\u2066\u200fabcXYZ",
    "<script>",
    "javascript:",
    "\u05d0",
]
_hostile = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@settings(max_examples=60, deadline=None)
@given(title=_hostile, source=_hostile, snippet=_hostile, url=_hostile)
def test_any_feed_strings_render_harmlessly(
    title: str, source: str, snippet: str, url: str
) -> None:
    record = MatchRecord(
        match_id=1,
        article_id=1,
        story_id=None,
        watchlist=SLUG,
        title=title,
        url=url,
        canonical_url=None,
        source=source,
        published_at=NOW,
        terms=("recruit*",),
        countries=("NP",),
        snippet=snippet,
        highlights=((0, 3),),
        score=1.0,
        created_at=NOW,
    )
    items = items_from_records([record], {})
    rendered = render(build_content(make_watchlist(), ALICE, items, NOW), mail_from="m@x.example")
    parser = _Tags()
    parser.feed(rendered.html)
    assert parser.tags <= _ALLOWED_TAGS
    assert all(h.startswith(("http://", "https://", "mailto:")) for h in parser.hrefs)
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    for line in rendered.text.splitlines():
        assert not any(ch in line for ch in "\x00\x0b\u202e\u2066")
    item_lines = [line for line in rendered.text.splitlines() if line.startswith("1. ")]
    assert len(item_lines) == 1  # a title never spills onto further lines

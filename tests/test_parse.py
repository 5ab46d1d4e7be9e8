"""Parsing real feed files into entries: RSS, Atom, JSON Feed, odd charsets and hostile input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from monitor.articles import BANDS
from monitor.feeds.exceptions import ParseError
from monitor.feeds.parse import parse_feed

DATA = Path(__file__).parent / "data" / "feeds"
NOW = datetime(2025, 7, 11, 12, 0, tzinfo=UTC)
RSS = {"content-type": "application/rss+xml; charset=utf-8"}

RUSSIAN_ITEM = (
    "Суд в Бишкеке приговорил гражданина Киргизии к сроку за участие в боевых действиях "
    "на стороне российской армии по контракту"
)


def russian_feed(declared: str, encoding: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="{declared}"?><rss version="2.0"><channel>'
        f"<title>Лента</title><item><title>Приговор наёмнику</title><guid>ru-1</guid>"
        f"<description>{RUSSIAN_ITEM}</description></item></channel></rss>"
    ).encode(encoding)


def test_rss_entries_are_normalised() -> None:
    feed = parse_feed(
        (DATA / "recruitment.rss").read_bytes(), RSS, "https://steppe.example.org/rss", now=NOW
    )
    assert (feed.format, feed.title, feed.language, feed.ttl_minutes) == (
        "rss20",
        "Steppe Wire",
        "en",
        30,
    )
    first, second, undated = feed.entries
    assert first.entry_id == "steppe-1001"
    assert first.canonical_url == "https://steppe.example.org/news/uzbek-court-mercenary"
    assert first.text.startswith("A court in Tashkent sentenced")
    assert "track()" not in first.text
    assert first.published_at == datetime(2025, 7, 9, 7, 15, tzinfo=UTC)  # +0300 to UTC
    assert first.language == "en"
    assert second.published_at == datetime(2025, 7, 8, 8, 0, tzinfo=UTC)
    assert undated.published_at is None  # the pipeline stores the first-seen time
    assert first.signature is not None and len(first.signature.bands) == BANDS


def test_atom_title_entities_and_offset_dates() -> None:
    feed = parse_feed(
        (DATA / "recruitment.atom").read_bytes(),
        {"content-type": "application/atom+xml"},
        "https://himalaya.example.org/atom",
        now=NOW,
    )
    (entry,) = feed.entries
    assert entry.title == "Families of Nepali recruits & the long wait"
    assert entry.published_at == datetime(2025, 7, 10, 0, 15, tzinfo=UTC)
    assert entry.text.startswith("Relatives of Nepali men")


def test_json_feed() -> None:
    feed = parse_feed(
        (DATA / "recruitment.json").read_bytes(),
        {"content-type": "application/feed+json"},
        "https://island.example.org/feed.json",
        now=NOW,
    )
    assert (feed.format, feed.title) == ("json1.1", "Island Bulletin")
    cuba, weather = feed.entries
    assert cuba.entry_id == "ib-77"
    assert cuba.canonical_url == "https://island.example.org/cuba-recruits"
    assert cuba.published_at == datetime(2023, 9, 5, 16, 0, tzinfo=UTC)
    assert cuba.author == "Staff"
    assert cuba.text.startswith("Havana said")
    assert weather.url is None and weather.published_at is None
    assert weather.text == "Rain is expected on the island this weekend."


@pytest.mark.parametrize(
    ("declared", "encoding"),
    [("utf-8", "windows-1251"), ("windows-1251", "utf-8"), ("windows-1251", "windows-1251")],
)
def test_wrong_declared_charset_is_repaired(declared: str, encoding: str) -> None:
    feed = parse_feed(
        russian_feed(declared, encoding),
        {"content-type": "text/xml"},
        "https://ru.example.org/rss",
        now=NOW,
    )
    (entry,) = feed.entries
    assert entry.title == "Приговор наёмнику"
    assert entry.text == RUSSIAN_ITEM
    assert entry.language == "ru"
    if declared != encoding:
        assert feed.warning is not None and f"declared charset {declared}" in feed.warning
    else:
        assert feed.warning is None


def test_charset_in_http_header_wins_over_declaration_when_it_fits() -> None:
    body = russian_feed("utf-8", "windows-1251")
    feed = parse_feed(
        body,
        {"content-type": "application/rss+xml; charset=windows-1251"},
        "https://ru.example.org/rss",
        now=NOW,
    )
    assert feed.entries[0].title == "Приговор наёмнику"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<rss version="2.0"><channel><title>&lol9;</title><item><title>&lol9;</title><guid>a</guid></item></channel></rss>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE rss [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<rss version="2.0"><channel><title>x</title><item><title>leak &secret;</title><guid>a</guid></item></channel></rss>"""


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["billion-laughs", "xxe"])
def test_hostile_xml_is_refused(body: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(body, RSS, "https://evil.example.org/rss", now=NOW)
    assert caught.value.kind == "hostile_xml"
    assert "https://evil.example.org/rss" in caught.value.message


def test_html_page_names_its_feeds() -> None:
    page = b"""<!DOCTYPE html><html><head><title>News</title>
    <link rel="alternate" type="application/rss+xml" title="All news" href="/rss.xml">
    <link rel="alternate" type="application/atom+xml" href="https://cdn.example.org/atom">
    <link rel="stylesheet" href="/style.css"></head><body><p>Hello</p></body></html>"""
    with pytest.raises(ParseError) as caught:
        parse_feed(page, {"content-type": "text/html"}, "https://site.example.org/news/", now=NOW)
    assert caught.value.kind == "not_a_feed"
    assert caught.value.feed_links == (
        "https://site.example.org/rss.xml",
        "https://cdn.example.org/atom",
    )
    assert (
        "it links to https://site.example.org/rss.xml, https://cdn.example.org/atom"
        in caught.value.message
    )


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        (b"", "empty"),
        (b"  \n", "empty"),
        (b"just some text", "not_a_feed"),
        (b'{"hello": "world"}', "not_a_feed"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": [', "parse_error"),
        (b"<rss><channel><title>broken", "parse_error"),
    ],
)
def test_unusable_bodies(body: bytes, kind: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_feed(body, {"content-type": "application/xml"}, "https://x.example.org/f", now=NOW)
    assert caught.value.kind == kind


def test_bozo_feed_with_usable_entries_is_kept_with_warning() -> None:
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>Kept &nbsp; entry</title><guid>k1</guid><description>Text here</description></item>"
        b"</channel>"
    )
    feed = parse_feed(body, RSS, "https://bozo.example.org/rss", now=NOW)
    assert [e.entry_id for e in feed.entries] == ["k1"]
    assert feed.warning


def test_future_dates_are_dropped_and_duplicate_ids_kept_once() -> None:
    body = (
        b'<rss version="2.0"><channel><title>T</title>'
        b"<item><title>A</title><guid>same</guid><pubDate>Mon, 01 Jan 2035 00:00:00 GMT</pubDate></item>"
        b"<item><title>B</title><guid>same</guid></item>"
        b"</channel></rss>"
    )
    feed = parse_feed(body, RSS, "https://x.example.org/rss", now=NOW)
    (entry,) = feed.entries
    assert entry.title == "A" and entry.published_at is None


@pytest.mark.parametrize(
    ("name", "content_type"),
    [("recruitment.rss", "application/rss+xml"), ("recruitment.atom", "application/atom+xml")],
)
def test_fast_path_and_feedparser_agree(name: str, content_type: str) -> None:
    body = (DATA / name).read_bytes()
    headers = {"content-type": content_type}
    fast = parse_feed(body, headers, "https://example.org/feed", now=NOW)
    slow = parse_feed(body, headers, "https://example.org/feed", now=NOW, fast=False)
    assert fast.entries == slow.entries
    assert (fast.title, fast.language, fast.ttl_minutes) == (
        slow.title,
        slow.language,
        slow.ttl_minutes,
    )


def test_fast_path_agrees_on_a_varied_rss_feed() -> None:
    items = "".join(
        f"<item><title>Item {n} &amp; more</title><link>/a/{n}?utm_source=x</link>"
        f"<guid isPermaLink='false'>id-{n}</guid><dc:creator>Desk {n}</dc:creator>"
        f"<pubDate>Tue, 0{n} Jul 2025 0{n}:30:00 +0500</pubDate>"
        f"<description><![CDATA[<p>Short teaser {n}.</p>]]></description>"
        f"<content:encoded><![CDATA[<p>Full text {n}: recruiters in Moscow offered contracts "
        f"to migrants from Tajikistan and Kyrgyzstan.</p><script>x()</script>]]></content:encoded></item>"
        for n in range(1, 6)
    )
    body = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" '
        'xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Desk</title>'
        f"<language>en-gb</language>{items}</channel></rss>"
    ).encode()
    fast = parse_feed(body, RSS, "https://desk.example.org/rss", now=NOW)
    slow = parse_feed(body, RSS, "https://desk.example.org/rss", now=NOW, fast=False)
    assert fast.entries == slow.entries
    first = fast.entries[0]
    assert first.url == "https://desk.example.org/a/1?utm_source=x"
    assert first.canonical_url == "https://desk.example.org/a/1"
    assert first.author == "Desk 1" and first.language == "en"
    assert first.text.startswith("Full text 1: recruiters")


def test_known_json_feed_items_are_counted_not_normalised() -> None:
    body = (DATA / "recruitment.json").read_bytes()
    headers = {"content-type": "application/feed+json"}
    full = parse_feed(body, headers, "https://ib.example.org/feed.json", now=NOW)
    partial = parse_feed(
        body, headers, "https://ib.example.org/feed.json", now=NOW, known=frozenset({"ib-77"})
    )
    assert [e.entry_id for e in full.entries] == ["ib-77", "ib-78"]
    assert partial.entries == full.entries[1:]
    assert partial.known == 1 and full.known == 0
    assert partial.dates == full.dates  # the known item's date still counts for the schedule


def test_known_entries_are_counted_not_normalised() -> None:
    body = (DATA / "recruitment.rss").read_bytes()
    full = parse_feed(body, RSS, "https://steppe.example.org/rss", now=NOW)
    partial = parse_feed(
        body,
        RSS,
        "https://steppe.example.org/rss",
        now=NOW,
        known=frozenset({"steppe-1001", "other"}),
    )
    assert [e.entry_id for e in partial.entries] == ["steppe-1002", "steppe-1003"]
    assert partial.entries == full.entries[1:]
    assert partial.known == 1
    assert (
        partial.dates
        == full.dates
        == (
            datetime(2025, 7, 9, 7, 15, tzinfo=UTC),
            datetime(2025, 7, 8, 8, 0, tzinfo=UTC),
        )
    )


def test_a_control_character_in_an_entry_does_not_lose_the_feed() -> None:
    # "&amp;#11;" in XML is the HTML "&#11;": a vertical tab, which lxml refused to hold.
    body = (
        b'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        b"<item><guid>c-1</guid><title>Recruiters in Samarkand</title>"
        b"<description>&lt;p&gt;Offers&amp;#11; made&lt;/p&gt;&lt;br&gt;&amp;#11;"
        b"&lt;table&gt;&lt;tr&gt;&lt;td&gt;to migrants&lt;/td&gt;&lt;/tr&gt;&lt;/table&gt;"
        b"</description></item><item><guid>c-2</guid><title>Second</title>"
        b"<description>Plain text</description></item></channel></rss>"
    )
    feed = parse_feed(body, RSS, "https://e.example.org/rss", now=NOW)
    assert [(e.entry_id, e.text) for e in feed.entries] == [
        ("c-1", "Offers made\nto migrants"),
        ("c-2", "Plain text"),
    ]


# ---------------------------------------------------------------- what feedparser reads
# Each class of entry below was seen on real feeds, where the fast path read fewer fields
# than feedparser. The feeds are our own; each is read through both paths.


def both_paths(name: str, content_type: str, url: str) -> list[tuple[object, ...]]:
    """(title, url, entry id, date, text) of each entry, the same through both paths."""
    body = (DATA / name).read_bytes()
    headers = {"content-type": content_type}
    fast = parse_feed(body, headers, url, now=NOW)
    slow = parse_feed(body, headers, url, now=NOW, fast=False)
    seen = [
        [(e.title, e.url, e.entry_id, e.published_at, e.text) for e in feed.entries]
        for feed in (fast, slow)
    ]
    assert seen[0] == seen[1], "the fast path and feedparser read the feed differently"
    return list(seen[0])


def test_dc_title_is_the_title() -> None:
    [entry] = both_paths("dc-title.rss", "application/rss+xml", "https://valley.example.org/rss")
    assert entry == (
        "Recruiters visit the valley's market towns",
        "https://valley.example.org/news/recruiters-market-towns",
        "valley-301",
        datetime(2025, 7, 10, 6, 30, tzinfo=UTC),
        "Men offering army contracts set up stalls beside the grain sellers.",
    )


def test_xhtml_titles_with_and_without_a_div() -> None:
    entries = both_paths("xhtml-titles.atom", "application/atom+xml", "https://ridge.example.org/")
    assert [(title, url, entry_id) for title, url, entry_id, _, _ in entries] == [
        # No link: the id, a URL, is the link (as feedparser reads it).
        ("Plain words in an xhtml title", "https://ridge.example.org/notes/41", entries[0][2]),
        ("Contracts signed in haste", "https://ridge.example.org/notes/42", entries[1][2]),
        ("A title wrapped as the spec asks", "https://ridge.example.org/notes/43", entries[2][2]),
    ]
    assert [e[2] for e in entries] == [
        "https://ridge.example.org/notes/41",
        "tag:ridge.example.org,2025:42",
        "tag:ridge.example.org,2025:43",
    ]
    assert entries[0][3] == datetime(2025, 7, 10, 8, 0, tzinfo=UTC)
    assert entries[1][4] == "The second note's title mixes text and an inline tag."


def test_permalink_guid_and_atom_link_are_links() -> None:
    entries = both_paths("guid-links.rss", "application/rss+xml", "https://ledger.example.org/rss")
    assert [(title, url, entry_id) for title, url, entry_id, _, _ in entries] == [
        (
            "Ferry crews asked about service abroad",
            "https://ledger.example.org/2025/07/ferry-crews",
            "https://ledger.example.org/2025/07/ferry-crews",
        ),
        (
            "A second permalink, marked as one",
            "https://ledger.example.org/2025/07/permalink-marked",
            "https://ledger.example.org/2025/07/permalink-marked",
        ),
        (
            "Linked through the Atom namespace",
            "https://ledger.example.org/2025/07/atom-linked",
            "ledger-7781",
        ),
        ("An opaque guid is no address", None, "https://ledger.example.org/?p=7782"),
        ("A guid that is not a URL", None, "ledger-7783"),  # not resolved against the feed
    ]
    assert entries[2][4] == "Its only link is an atom:link element."


def test_dcterms_dates() -> None:
    entries = both_paths(
        "dcterms-dates.rss", "application/rss+xml", "https://plateau.example.org/rss"
    )
    assert [(title, date) for title, _, _, date, _ in entries] == [
        ("Issued date only", datetime(2025, 7, 8, 7, 45, tzinfo=UTC)),
        ("Modified date only", datetime(2025, 7, 7, 18, 0, tzinfo=UTC)),
        ("Issued wins over the Dublin Core date", datetime(2025, 7, 6, 12, 0, tzinfo=UTC)),
    ]
    assert entries[0][1:3] == ("https://plateau.example.org/a/issued",) * 2


def test_one_guid_on_different_links_is_several_articles() -> None:
    entries = both_paths("shared-guid.rss", "application/rss+xml", "https://lakeside.example.org/")
    # The guid is shared by two stories; the repeat of the first (same guid, same canonical
    # link) is still one article; the item with a guid of its own keeps its plain guid.
    assert [(title, entry_id) for title, _, entry_id, _, _ in entries] == [
        (
            "Bus drivers questioned about the recruiters",
            "lakeside-news https://lakeside.example.org/story/bus-drivers",
        ),
        (
            "Orchard owners short of seasonal workers",
            "lakeside-news https://lakeside.example.org/story/orchard-workers",
        ),
        ("Library opens on Sundays", "lakeside-612"),
    ]
    assert entries[1][1] == "https://lakeside.example.org/story/orchard-workers"
    assert entries[1][4] == "Owners say fewer pickers arrived from abroad this summer."


def test_shared_guid_ids_stay_when_the_feed_stops_sharing() -> None:
    body = (DATA / "shared-guid.rss").read_bytes()
    first = parse_feed(body, RSS, "https://lakeside.example.org/", now=NOW)
    stored = frozenset(e.entry_id for e in first.entries)
    # A later poll: only the orchard story is left with the guid; it is still the one stored.
    start = body.index(b"<item>")
    orchard = body.index(b"<item>", start + 1)
    later = body[:start] + body[orchard : body.index(b"</item>", orchard) + 7] + b"</channel></rss>"
    for fast in (True, False):
        again = parse_feed(
            later, RSS, "https://lakeside.example.org/", now=NOW, fast=fast, known=stored
        )
        assert (again.entries, again.known) == ((), 1)
        fresh = parse_feed(later, RSS, "https://lakeside.example.org/", now=NOW, fast=fast)
        assert [e.entry_id for e in fresh.entries] == ["lakeside-news"]  # a new feed: plain
    assert "lakeside-news https://lakeside.example.org/story/orchard-workers" in stored


def test_undeclared_western_charset_is_read_as_windows_1252() -> None:
    # charset_normalizer guesses cp1250 for this short French feed ("élčves", "fenętre");
    # feedparser's fallback, windows-1252, gives the accents a reader expects.
    [entry] = both_paths("undeclared-cp1252.rss", "text/xml", "https://lac.example.org/rss")
    assert entry[0] == "Les élèves sont très contents"
    assert entry[4] == "Où est la fenêtre?"
    feed = parse_feed(
        (DATA / "undeclared-cp1252.rss").read_bytes(),
        {"content-type": "text/xml"},
        "https://lac.example.org/rss",
        now=NOW,
    )
    assert feed.warning == (
        "no charset declared but the body is windows-1252; read as windows-1252"
    )


def test_undeclared_cyrillic_charset_is_still_detected() -> None:
    body = russian_feed("utf-8", "windows-1251").replace(b' encoding="utf-8"', b"")
    feed = parse_feed(body, {"content-type": "text/xml"}, "https://ru.example.org/rss", now=NOW)
    assert feed.entries[0].title == "Приговор наёмнику"


def test_json_feed_with_the_http_version_url() -> None:
    feed = parse_feed(
        (DATA / "http-version.json").read_bytes(),
        {"content-type": "application/json"},
        "https://canal.example.org/feed.json",
        now=NOW,
    )
    assert (feed.format, feed.title) == ("json1", "Canal Gazette")
    [entry] = feed.entries
    assert (entry.title, entry.url, entry.entry_id, entry.published_at, entry.text) == (
        "Lock keepers asked about work in Russia",
        "https://canal.example.org/posts/lock-keepers",
        "cg-19",
        datetime(2025, 7, 9, 13, 0, tzinfo=UTC),
        "Two lock keepers said they were offered contracts by a man from the city.",
    )


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("<description>don\u0092t</description>".encode(), "text/xml"),  # a C1 control
        (b"<description>don\x92t</description>", "text/xml; charset=iso-8859-1"),
    ],
    ids=["c1-control", "latin-1-label"],
)
def test_windows_1252_quotes_read_as_quotes(body: bytes, content_type: str) -> None:
    feed = b'<rss version="2.0"><channel><title>T</title><item><guid>q-1</guid>%s</item></channel></rss>'
    for fast in (True, False):
        parsed = parse_feed(
            feed % body,
            {"content-type": content_type},
            "https://q.example.org/",
            now=NOW,
            fast=fast,
        )
        assert parsed.entries[0].text == "don\u2019t"


@pytest.mark.parametrize(
    ("name", "content_type", "url", "links"),
    [
        (
            "xml-base.atom",
            "application/atom+xml",
            "https://steppe.example.net/feed.atom",
            [
                "https://steppe.example.net/bulletin/2025/07/bus-depot",
                "https://steppe.example.net/archive/502.html",  # the entry's rooted base
                "https://mirror.example.com/steppe/503",  # the base on the link itself
                "https://steppe.example.net/bulletin/504",  # a javascript: base is ignored
            ],
        ),
        (
            "xml-base.rss",
            "application/rss+xml",
            "https://delta.example.org/rss",
            [
                "https://delta.example.org/stories/river-pilots",
                "https://delta.example.org/longreads/harbour-nights",
            ],
        ),
    ],
)
def test_links_are_resolved_against_xml_base(
    name: str, content_type: str, url: str, links: list[str]
) -> None:
    entries = both_paths(name, content_type, url)
    assert [entry[1] for entry in entries] == links


def test_windows_1252_references_and_double_encoded_utf8_are_repaired() -> None:
    entries = both_paths("mojibake.rss", "application/rss+xml", "https://foothill.example.org/")
    assert [(title, text) for title, _, _, _, text in entries] == [
        # &#146; is a C1 control in XML; feeds mean windows-1252's quote by it.
        (
            "Recruiters\u2019 leaflets at the station",
            "The leaflets promised “good pay” and a quick start.",
        ),
        # UTF-8 read as Latin-1 and written out again: decoded once more.
        ("Contracts signed \u2014 then regretted", "Several men said they had not read the terms…"),
        (
            "Café owners kept their word",
            "Plain Latin text is left as it is: déjà vu, naïve, © 2025.",
        ),
    ]

"""The web app in a real browser (Debian's Chromium, driven by Playwright), served by uvicorn
on loopback over a store filled by a real poll of loopback feeds (tests/test_web_support.py).

A reader logs in, filters the matches, searches a Russian word and finds its inflected form,
opens a story and subscribes to the search's Atom feed (the link the page offers, with its
token, fetched outside the browser and read by feedparser); an editor makes a search a
watchlist. Each step leaves a screenshot in ``test-artifacts/web-flow/`` (the folder is
printed; CI keeps it).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
from sqlalchemy import select

from monitor.store.models import Article
from monitor.web.server import WebServer
from tests.servers import FeedServer
from tests.test_digest_render import CHROMIUM, CHROMIUM_ARGS, _png_colours
from tests.test_web_support import PASSWORD, World, make_world

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts" / "web-flow"
RUSSIAN_TITLE = "Вербовщики и мигранты из Узбекистана"
NEPAL_TITLE = "Agents recruit Nepali men for the front"


def nepal_story(world: World) -> str:
    """The page of the story both feeds carry (its id depends on which feed was stored first)."""
    with world.app.sessions() as session:
        story_id = session.scalars(
            select(Article.story_id).where(Article.title == NEPAL_TITLE)
        ).first()
    assert story_id is not None
    return f"/stories/{story_id}"


def _now() -> datetime:
    return datetime.now(UTC)


@pytest.fixture
def served(tmp_path: Path, feed_server: FeedServer) -> Iterator[tuple[World, str]]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)")
    world = make_world(tmp_path, feed_server)
    server = WebServer(world.web, "127.0.0.1", 0, "127.0.0.1")
    server.start()
    try:
        yield world, server.url.rstrip("/")
    finally:
        server.stop()
        world.app.close()


@pytest.fixture
def page() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(viewport={"width": 1000, "height": 900}).new_page()
        finally:
            browser.close()


class Shots:
    """Numbered full-page screenshots in ARTIFACTS/<test>/, each checked not blank."""

    def __init__(self, page: Any, name: str) -> None:
        self.page = page
        self.folder = ARTIFACTS / name
        self.folder.mkdir(parents=True, exist_ok=True)
        for old in self.folder.glob("*.png"):
            old.unlink()
        self.count = 0
        print(f"screenshots: {self.folder}")

    def take(self, step: str) -> None:
        self.count += 1
        shot = self.folder / f"{self.count:02d}-{step}.png"
        self.page.screenshot(path=str(shot), full_page=True)
        assert len(_png_colours(shot.read_bytes())) > 20, f"{shot} is blank"


def log_in(page: Any, shots: Shots, base: str, email: str, then: str) -> None:
    page.goto(f"{base}{then}")
    assert "/login?next=" in page.url  # nothing but the login answers without a session
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", PASSWORD)
    shots.take("login")
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}{then}")


def test_a_reader_logs_in_filters_searches_opens_a_story_and_subscribes(
    served: tuple[World, str], page: Any
) -> None:
    from playwright.sync_api import expect

    _world, base = served
    shots = Shots(page, "reader")
    log_in(page, shots, base, "viewer@example.org", "/matches")
    results = page.locator("#results")
    expect(results).to_contain_text(NEPAL_TITLE)
    expect(results).to_contain_text(RUSSIAN_TITLE)
    shots.take("matches")

    page.select_option("select[name=language]", "ru")  # htmx swaps the list on change
    page.click("form.filters button[type=submit]")
    page.wait_for_url("**language=ru**")
    expect(results).not_to_contain_text(NEPAL_TITLE)
    expect(results).to_contain_text(RUSSIAN_TITLE)
    shots.take("matches-in-russian")

    page.click("header a:has-text('Search')")
    page.fill("input[name=q]", "вербовщик")
    page.click("form[role=search] button[type=submit]")
    marks = page.locator("ol.items mark")
    expect(marks.first).to_be_visible()
    assert "Вербовщики" in marks.all_inner_texts()  # the plural, found by the singular
    expect(page.locator("ol.items")).not_to_contain_text(NEPAL_TITLE)
    shots.take("search-russian")

    page.click("button:has-text('Subscribe in a feed reader')")
    atom_link = page.locator("#subscribe-atom")
    expect(atom_link).to_be_visible()
    shots.take("subscribe")
    url = atom_link.get_attribute("href")
    assert url is not None and url.startswith(f"{base}/search.atom?q=") and "&token=nm_" in url
    atom = httpx.get(url)  # a feed reader: no cookie, the token in the link
    assert atom.status_code == 200
    feed = feedparser.parse(atom.content)
    assert not feed.bozo, feed.bozo_exception
    assert [entry.title for entry in feed.entries] == [RUSSIAN_TITLE]
    assert httpx.get(url.split("&token=")[0]).status_code == 401

    page.fill("input[name=q]", "Kathmandu")
    page.click("form[role=search] button[type=submit]")
    expect(page.locator("ol.items")).to_contain_text(NEPAL_TITLE)
    page.locator("a.story-link").first.click()
    page.wait_for_url("**/stories/*")
    sources = page.locator("table tbody")
    expect(sources).to_contain_text("Mountain Wire")
    expect(sources).to_contain_text("Valley Daily")
    assert "2 sources" in page.inner_text("main")
    shots.take("story")


def test_an_editor_makes_a_search_a_watchlist(served: tuple[World, str], page: Any) -> None:
    from playwright.sync_api import expect

    world, base = served
    shots = Shots(page, "editor")
    log_in(page, shots, base, "editor@example.org", "/search")
    page.fill("input[name=q]", "вербовщик")
    page.click("form[role=search] button[type=submit]")
    page.click("button:has-text('Make this search a watchlist')")
    backtest = page.locator("#search-backtest")
    expect(backtest).to_contain_text("it would have matched 1")
    expect(page.locator("ol.backtest")).to_contain_text(RUSSIAN_TITLE)
    expect(page.locator("#search-yaml")).to_contain_text("- вербовщик")
    shots.take("draft")
    page.fill("input[name=slug]", "recruiters")
    page.fill("input[name=name]", "Recruiters")
    page.click("button:has-text('Create this watchlist')")
    page.wait_for_url(f"{base}/watchlists/recruiters?saved=1")
    expect(page.locator("main")).to_contain_text("Saved recruiters.yaml")
    shots.take("saved")
    saved = world.app.settings.watchlists_dir / "recruiters.yaml"
    assert saved.read_text(encoding="utf-8") == (
        "# Made from the search: вербовщик\nname: Recruiters\nkeywords:\n  - вербовщик\n"
    )
    assert world.app.watchlists.get("recruiters").keywords[0].text == "вербовщик"


COMMENTED_WATCHLIST = """\
# Recruitment abroad: the desk's list
name: Recruitment abroad
recipients: [desk@example.org]
schedule: immediate
timezone: UTC

# English forms only, for now
keywords:
  - recruit*   # recruiters, recruitment

# Where the men come from
countries: [NP, UZ]
"""


def test_an_editor_adds_a_russian_keyword_after_its_backtest(
    served: tuple[World, str], page: Any
) -> None:
    """Issue 18's editor flow: the backtest lists the inflected Russian article before
    anything is written, Save keeps the file's comments, and the service matches with it."""
    from playwright.sync_api import expect

    world, base = served
    path = world.app.watchlists.get("recruitment").path
    path.write_text(COMMENTED_WATCHLIST, encoding="utf-8")
    world.app.watchlists.reload()
    shots = Shots(page, "editor-keyword")
    log_in(page, shots, base, "editor@example.org", "/watchlists/recruitment")
    page.fill("textarea[name=add_keywords]", "вербовщик")
    page.click("button:has-text('Test the change')")
    page.wait_for_url(f"{base}/watchlists/recruitment/test")
    main = page.locator("main")
    expect(main).to_contain_text("1 added, 0 removed")
    expect(page.locator("ol.backtest")).to_contain_text(RUSSIAN_TITLE)  # «Вербовщики»
    assert path.read_text(encoding="utf-8") == COMMENTED_WATCHLIST  # nothing written yet
    shots.take("backtest")
    page.click("button:has-text('Save')")
    page.wait_for_url(f"{base}/watchlists/recruitment?saved=1")
    expect(main).to_contain_text("Saved recruitment.yaml")
    expect(main).to_contain_text("вербовщик")
    shots.take("saved")
    text = path.read_text(encoding="utf-8")
    assert text == COMMENTED_WATCHLIST.replace(
        "  - recruit*   # recruiters, recruitment\n",
        "  - recruit*   # recruiters, recruitment\n  - вербовщик\n",
    )

    # the running service matches with the saved version: a new article, another form
    from monitor import feedlist
    from monitor.ingest import poll_due_feeds
    from tests.servers import Resource
    from tests.test_web_support import item, rss

    title = "В Самарканде задержали вербовщика"
    body = "Полиция Самарканда сообщила, что задержанный обещал молодым людям работу за границей."
    url = world.feeds.add(
        "/steppe.xml",
        Resource(
            rss("Steppe Post", item("s1", title, body, "https://steppe.example.org/1", _now()))
        ),
    )
    feedlist.add(world.app, url)
    poller = threading.Thread(target=poll_due_feeds, args=(world.app,))  # its own loop
    poller.start()
    poller.join()
    page.goto(f"{base}/matches?language=ru")
    expect(page.locator("#results")).to_contain_text(title)
    shots.take("matched")


def test_the_pages_read_on_a_phone(served: tuple[World, str], page: Any) -> None:
    """At 390 px (a phone) no page is wider than the screen: nothing to scroll sideways."""
    world, base = served
    page.set_viewport_size({"width": 390, "height": 844})
    shots = Shots(page, "phone")
    log_in(page, shots, base, "editor@example.org", "/matches")
    pages = ("/matches", "/search?q=recruit*", "/feeds", "/outbox", "/status", "/recipients")
    for path in (*pages, "/watchlists/recruitment", nepal_story(world)):
        page.goto(f"{base}{path}")
        shots.take(path.strip("/").split("?")[0].replace("/", "-"))
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"{path} is {width} px wide on a 390 px screen"


def test_every_page_works_without_javascript(served: tuple[World, str]) -> None:
    """JavaScript off (htmx never runs): log in, filter, search, subscribe, open a story and
    test a watchlist change, with plain links and forms."""
    from playwright.sync_api import expect, sync_playwright

    world, base = served
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(java_script_enabled=False).new_page()
            shots = Shots(page, "no-javascript")
            log_in(page, shots, base, "editor@example.org", "/matches")
            page.select_option("select[name=language]", "ru")
            page.click("form.filters button[type=submit]")
            page.wait_for_url("**language=ru**")
            expect(page.locator("#results")).to_contain_text(RUSSIAN_TITLE)
            expect(page.locator("#results")).not_to_contain_text(NEPAL_TITLE)
            shots.take("matches-in-russian")
            page.click("header a:has-text('Search')")
            page.fill("input[name=q]", "вербовщик")
            page.click("form[role=search] button[type=submit]")
            expect(page.locator("ol.items")).to_contain_text(RUSSIAN_TITLE)
            page.click("button:has-text('Subscribe in a feed reader')")
            expect(page.locator("#subscribe-atom")).to_be_visible()
            page.goto(f"{base}{nepal_story(world)}")
            expect(page.locator("table tbody")).to_contain_text("Valley Daily")
            page.goto(f"{base}/watchlists/recruitment")
            page.fill("textarea[name=add_keywords]", "harbour")
            page.click("button:has-text('Test the change')")
            expect(page.locator("main")).to_contain_text("0 added, 0 removed")
            shots.take("backtest")
        finally:
            browser.close()

"""The web app through httpx's ASGI transport, on a SQLite store filled by a real poll of
loopback feeds: what a logged-in reader sees, feeds of our own, and the security rules
(no answer without a session or token, CSRF, escaping, roles, the login rate limit)."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
from fastapi.routing import iter_route_contexts
from sqlalchemy import select

from monitor.health import HealthThresholds, assess
from monitor.store.models import Digest, Match
from monitor.web import CONTENT_SECURITY_POLICY
from monitor.web.auth import LIMIT_PER_ACCOUNT
from tests.servers import FeedServer, Resource, SMTPServer, free_port
from tests.test_web_support import (  # noqa: F401  (fixtures)
    HOSTILE_TITLE,
    PASSWORD,
    Client,
    World,
    client,
    editor,
    make_token,
    make_world,
    rss,
    viewer,
    world,
)

OPEN_PATHS = {"/healthz", "/metrics", "/login"}
#: links in digests that carry a signed token of their own (relevance feedback, unsubscribe):
#: a made-up one is refused, never answered with data
SIGNED_LINKS = ("/feedback", "/unsubscribe")


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", lambda m: "recruitment" if "slug" in m.group() else "1", path)


def test_nothing_answers_without_a_session_or_token(world: World, client: Client) -> None:
    """Every route of every router: a page redirects to the login, the rest is 401."""
    checked = 0
    for route in iter_route_contexts(world.web.routes):
        if not route.methods or route.path in OPEN_PATHS or route.path in ("/", None):
            continue
        path = _concrete(route.path)
        for method in route.methods:
            response = (
                client.get(path) if method == "GET" else client.post(path, data={"csrf": "x"})
            )
            checked += 1
            if path.startswith(SIGNED_LINKS):
                assert 400 <= response.status_code < 500, (method, path, response.status_code)
                continue
            assert response.status_code in (303, 401, 403), (method, path, response.status_code)
            if response.status_code == 303:
                assert response.headers["location"].startswith("/login?next="), path
            assert "Recruit" not in response.text and "recruit" not in response.text, path
    assert checked >= 20
    assert client.get("/api/v1/openapi.json").status_code == 401
    assert client.get("/healthz").status_code in (200, 503)
    assert client.get("/metrics").status_code == 200


def test_matches_page_says_why_each_matched_and_where_else_it_ran(viewer: Client) -> None:
    page = viewer.get("/matches")
    assert page.status_code == 200
    html = page.text
    assert "Agents recruit Nepali men for the front" in html
    assert "Recruiters approach migrant workers from Uzbekistan" in html
    assert "Council agrees harbour budget" not in html  # stored, never matched
    assert "<mark>" in html  # the highlighted snippet
    assert "rule:" in html
    assert re.search(r"recruit\*.{0,40}“recruit”", html)  # the term and the word as found
    assert "Valley Daily" in html and "other source" in html  # the story's other source
    assert "desk@example.org" in html  # whom it went to
    assert page.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    assert "'unsafe-inline'" not in CONTENT_SECURITY_POLICY


def test_filters_narrow_the_list(viewer: Client) -> None:
    nepal = viewer.get("/matches", params={"country": "np"}).text
    assert "Agents recruit Nepali men" in nepal
    assert "Uzbekistan" not in nepal.split('id="results"')[1]
    russian = viewer.get("/matches", params={"language": "ru"}).text
    assert "Вербовщики и мигранты из Узбекистана" in russian
    assert "Agents recruit Nepali men" not in russian
    future = viewer.get("/matches", params={"since": "2999-01-01"}).text
    assert "No matches for these filters" in future
    bad = viewer.get("/matches", params={"since": "yesterday"})
    assert bad.status_code == 400 and "since: not a date" in bad.text
    # a region is its members; a name is its country; an unknown one is refused, not empty
    region = viewer.get("/matches", params={"country": "central-asia"}).text
    results = region.split('id="results"')[1]
    assert "Uzbekistan" in results and "Agents recruit Nepali men" not in results
    assert "Agents recruit Nepali men" in viewer.get("/matches", params={"country": "Nepal"}).text
    unknown = viewer.get("/matches", params={"country": "Narnia"})
    assert unknown.status_code == 400 and "unknown country &#39;Narnia&#39;" in unknown.text
    only_list = viewer.get("/matches", params={"country": "UZ"}, headers={"HX-Request": "true"})
    assert "<html" not in only_list.text and "Uzbekistan" in only_list.text


def test_cursor_pages_cover_every_match_once(world: World, viewer: Client) -> None:
    seen: list[int] = []
    cursor = None
    for _ in range(20):
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        body = viewer.get("/api/v1/matches", params=params).json()
        seen += [item["match_id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    with world.app.sessions() as session:
        stored = session.scalars(
            select(Match.id).where(Match.is_duplicate.is_(False)).order_by(Match.id)
        ).all()
    assert sorted(seen) == list(stored) and len(seen) == len(set(seen)) >= 4
    assert viewer.get("/api/v1/matches", params={"cursor": "bogus"}).status_code == 400


def test_story_page_lists_every_source(world: World, viewer: Client) -> None:
    item = next(
        i
        for i in viewer.get("/api/v1/matches").json()["items"]
        if i["title"].startswith("Agents recruit Nepali men")
    )
    assert [s["source"] for s in item["other_sources"]] != []
    page = viewer.get(f"/stories/{item['story_id']}")
    assert page.status_code == 200
    assert "Mountain Wire" in page.text and "Valley Daily" in page.text
    assert "2 sources" in page.text and " in en" in page.text
    assert viewer.get("/stories/999999").status_code == 404


def test_a_hostile_title_is_text_everywhere(world: World, viewer: Client) -> None:
    html = viewer.get("/matches").text
    assert "<script>alert" not in html
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;" in html
    atom = viewer.get("/watchlists/recruitment/matches.atom")
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert HOSTILE_TITLE in [e.title for e in parsed.entries]
    assert b"<script>" not in atom.content
    feed = viewer.get("/watchlists/recruitment/matches.json").json()
    assert HOSTILE_TITLE in [i["title"] for i in feed["items"]]
    rows = list(csv.DictReader(io.StringIO(viewer.get("/matches.csv").text)))
    titles = [row["title"] for row in rows]
    assert "'" + HOSTILE_TITLE in titles  # a spreadsheet shows it, never runs it
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row.values())


def test_atom_and_json_feed_of_a_watchlist_read_in_a_feed_reader(
    world: World, viewer: Client
) -> None:
    token = make_token(world.app, "viewer@example.org")
    reader = Client(world.web)  # a feed reader: no session, only the token
    atom = reader.get("/watchlists/recruitment/matches.atom", params={"token": token})
    assert atom.headers["content-type"].startswith("application/atom+xml")
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo and parsed.version == "atom10"
    assert parsed.feed.title == "Recruitment abroad: matches"
    titles = {e.title for e in parsed.entries}
    assert any(t.startswith("Agents recruit Nepali men for the front") for t in titles)
    assert "Council agrees harbour budget" not in titles
    entry = next(e for e in parsed.entries if e.title.startswith("Agents recruit"))
    assert entry.link == "https://wire.example.org/nepal-recruits"
    assert any(link.href.startswith("http://testserver/stories/") for link in entry.links)
    as_json = reader.get(
        "/watchlists/recruitment/matches.json", headers={"Authorization": f"Bearer {token}"}
    )
    document = json.loads(as_json.content)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert {i["title"] for i in document["items"]} == titles
    # feedparser 6.0 does not read JSON Feed: the spec's required members, checked here
    assert document["title"] and document["feed_url"].startswith("http://testserver/")
    for entry_json in document["items"]:
        assert isinstance(entry_json["id"], str) and entry_json["id"]
        assert "content_text" in entry_json or "content_html" in entry_json
        datetime.fromisoformat(entry_json["date_published"])  # RFC 3339
    assert reader.get("/watchlists/nope/matches.atom", params={"token": token}).status_code == 404
    reader.close()


def test_tokens_read_only_and_revocable(world: World, viewer: Client) -> None:
    token = make_token(world.app, "viewer@example.org")
    reader = Client(world.web)
    headers = {"Authorization": f"Bearer {token}"}
    assert reader.get("/api/v1/feeds", headers=headers).status_code == 200
    assert reader.get("/api/v1/watchlists/recruitment", headers=headers).json()["countries"] == [
        "NP",
        "UZ",
    ]
    # a token never opens the pages, nor changes anything
    assert reader.get("/matches", headers=headers).status_code == 303
    assert reader.post("/feeds", headers=headers, data={"url": "x"}).status_code == 303
    # revoked from the account page (a form with its CSRF token)
    viewer.post("/account/tokens/revoke", data={"csrf": viewer.csrf("/account")})
    assert reader.get("/api/v1/feeds", headers=headers).status_code == 401
    reader.close()


def test_csrf_is_refused(world: World, viewer: Client, editor: Client) -> None:
    for data in ({}, {"csrf": "forged"}, {"csrf": viewer.csrf("/account")}):
        response = editor.post("/feeds", data={"url": world.first_feed, **data})
        assert response.status_code == 403, data
        assert "CSRF" in response.text
    assert editor.post("/logout").status_code == 403
    login = Client(world.web)
    response = login.post(
        "/login", data={"email": "viewer@example.org", "password": PASSWORD, "csrf": "x"}
    )
    assert response.status_code == 403 and "nm_session" not in response.headers.get(
        "set-cookie", ""
    )
    login.close()


def test_a_viewer_cannot_reach_an_editors_action(world: World, viewer: Client) -> None:
    token = viewer.csrf("/feeds")
    added = world.feeds.add("/new.xml", Resource(rss("New feed")))
    response = viewer.post("/feeds", data={"url": added, "csrf": token})
    assert response.status_code == 403 and "needs the editor role" in response.text
    assert "Add feed" not in viewer.get("/feeds").text
    with world.app.sessions() as session:
        digest_id = session.scalars(select(Digest.id)).first()
    assert viewer.post(f"/outbox/{digest_id}/resend", data={"csrf": token}).status_code == 403


def test_an_editor_adds_a_feed_by_its_site_and_imports_opml(world: World, editor: Client) -> None:
    feed = world.feeds.add("/river.xml", Resource(rss("River Post")))
    site = world.feeds.add(
        "/river/",
        Resource(
            b'<html><head><link rel="alternate" type="application/rss+xml" '
            b'href="/river.xml"></head><body>River Post</body></html>',
            content_type="text/html; charset=utf-8",
        ),
    )
    page = editor.post("/feeds", data={"url": site, "csrf": editor.csrf("/feeds")})
    assert page.status_code == 200, page.text
    assert f"its feed {feed} was added" in page.text
    exported = editor.get("/feeds/export.opml")
    assert feed.encode() in exported.content and world.first_feed.encode() in exported.content
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><head><title>x</title></head><body>'
        f'<outline type="rss" text="Lake" xmlUrl="{world.feeds.url("/lake.xml")}"/>'
        "</body></opml>"
    )
    imported = editor.post(
        "/feeds/import",
        data={"csrf": editor.csrf("/feeds")},
        files={"opml": ("mine.opml", opml.encode(), "text/x-opml")},
    )
    assert "1 feeds added, 0 already there" in imported.text
    assert world.feeds.url("/lake.xml") in editor.get("/feeds").text


def test_outbox_shows_the_servers_answer_and_resends(
    tmp_path: Path, feed_server: FeedServer
) -> None:
    port = free_port()  # no SMTP server there yet: the digest waits with the refusal
    made = make_world(tmp_path, feed_server, smtp_host="127.0.0.1", smtp_port=port)
    viewer, editor = Client(made.web), Client(made.web)
    try:
        viewer.login("viewer@example.org")
        editor.login("editor@example.org")
        page = viewer.get("/outbox").text
        assert "desk@example.org" in page and "pending" in page
        assert "refused" in page.lower()  # the transport's answer, as stored
        assert "Resend" not in page  # a viewer may not
        digest_id = int(re.search(r'href="/digests/(\d+)"', page).group(1))  # type: ignore[union-attr]
        shown = viewer.get(f"/digests/{digest_id}")
        assert shown.status_code == 200 and "Agents recruit Nepali men" in shown.text
        policy = shown.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        smtp = SMTPServer(port=port).start()
        try:
            resent = editor.post(
                f"/outbox/{digest_id}/resend", data={"csrf": editor.csrf("/outbox")}
            )
            assert resent.status_code == 200 and f"#{digest_id}: sent" in resent.text
            assert len(smtp.to("desk@example.org")) == 1
        finally:
            smtp.stop()
        again = editor.post(f"/outbox/{digest_id}/resend", data={"csrf": editor.csrf("/outbox")})
        assert again.status_code == 400 and "already" in again.text.lower()
    finally:
        viewer.close()
        editor.close()
        made.app.close()


def test_status_page_says_what_status_says(world: World, viewer: Client) -> None:
    facts_health = assess(
        world.web.state.monitor.facts(datetime.now(UTC)),
        HealthThresholds.from_settings(world.app.settings),
    )
    page = viewer.get("/status").text
    assert f'status-{facts_health.status.value}">{facts_health.status.value}' in page
    assert "recruitment" in page and "Articles" in page
    # the relevance backlog, as `news-monitor status` prints it: nothing scored them yet
    assert (
        "<th>Relevance</th><td>backlog 6 articles to embed and score, the oldest first seen" in page
    )


def test_status_page_says_when_relevance_is_off(tmp_path: Path, feed_server: FeedServer) -> None:
    world = make_world(tmp_path, feed_server, relevance=False)
    reader = Client(world.web)
    try:
        assert reader.login("viewer@example.org").status_code == 303
        page = reader.get("/status").text
        assert "<th>Relevance</th><td>off (MONITOR_RELEVANCE=false): the rules alone</td>" in page
    finally:
        reader.close()
        world.app.close()


def test_session_cookie_flags(world: World) -> None:
    plain = Client(world.web)
    cookie = plain.login("viewer@example.org").headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
    plain.close()
    tls = Client(world.web, base_url="https://testserver")
    cookie = tls.login("viewer@example.org").headers["set-cookie"]
    assert "HttpOnly" in cookie and "Secure" in cookie
    tls.close()


def test_logins_are_rate_limited_per_address_and_account(world: World) -> None:
    client = Client(world.web)
    for _ in range(LIMIT_PER_ACCOUNT):
        assert client.login("viewer@example.org", "wrong password!").status_code == 401
    refused = client.login("viewer@example.org")  # right password, too late
    assert refused.status_code == 429 and "too many refused logins" in refused.text
    assert "nm_session" not in refused.headers.get("set-cookie", "")
    assert client.login("editor@example.org").status_code == 303  # another account is fine
    client.close()


def test_next_after_login_stays_on_this_site(world: World) -> None:
    client = Client(world.web)
    data = {"email": "viewer@example.org", "password": PASSWORD}
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        data["csrf"] = client.csrf("/login")
        response = client.post("/login", data={**data, "next": target})
        assert response.headers["location"] == "/matches", target
    client.close()


def test_logout_ends_the_session(viewer: Client) -> None:
    assert viewer.post("/logout", data={"csrf": viewer.csrf("/matches")}).status_code == 303
    assert viewer.get("/matches").status_code == 303


@pytest.mark.parametrize("path", ["/api/v1/articles", "/api/v1/stories", "/api/v1/watchlists"])
def test_api_lists(viewer: Client, path: str) -> None:
    body = viewer.get(path).json()
    items = body["items"] if isinstance(body, dict) else body
    assert items, path


def test_openapi_describes_the_api(viewer: Client) -> None:
    schema = viewer.get("/api/v1/openapi.json").json()
    paths = set(schema["paths"])
    assert {"/api/v1/matches", "/api/v1/stories/{story_id}", "/api/v1/feeds"} <= paths
    assert not any(p.startswith(("/matches", "/login")) for p in paths)

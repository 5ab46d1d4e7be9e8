"""The search page, its feeds and ``/api/v1/search`` through httpx's ASGI transport, over a
store filled by a real poll (tests/test_web_support.py's world: a hostile title among them)."""

from __future__ import annotations

import html
import json
import re

import feedparser

from tests.test_web_support import (  # noqa: F401  (fixtures)
    HOSTILE_TITLE,
    Client,
    World,
    client,
    make_token,
    viewer,
    world,
)


def test_a_russian_word_finds_its_inflected_form_on_the_page(viewer: Client) -> None:
    page = viewer.get("/search", params={"q": "вербовщик"})
    assert page.status_code == 200
    assert "<mark>Вербовщики</mark> и мигранты из Узбекистана" in page.text
    assert "<mark>вербовщики</mark> предлагали" in page.text
    inflected = viewer.get("/search", params={"q": "завербовать"})
    assert "родственники <mark>завербованных</mark> мужчин" in inflected.text


def test_a_hostile_title_is_text_in_the_results(viewer: Client) -> None:
    page = viewer.get("/search", params={"q": '"messaging channel"'})
    assert page.status_code == 200
    # the feed's title is text that looks like markup: stored as that text, shown escaped
    assert (
        '">=HYPERLINK(&#34;http://evil.example/x&#34;,&#34;click&#34;) '
        "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;</a></h2>" in page.text
    )
    assert "<script>alert" not in page.text
    assert "through a <mark>messaging channel</mark>" in page.text


def test_a_query_that_cannot_be_read_says_why(viewer: Client) -> None:
    page = viewer.get("/search", params={"q": 'NOT "<b>x</b>"'})
    assert page.status_code == 400
    assert (
        '<p class="notice" id="search-error">NOT needs something to find beside it: '
        "write drone NOT game</p>" in page.text
    )
    empty = viewer.get("/search")
    assert empty.status_code == 200
    assert 'name="q"' in empty.text


def test_the_next_page_follows_the_cursor(viewer: Client, world: World) -> None:
    token = make_token(world.app, "viewer@example.org")
    first = viewer.get("/api/v1/search", params={"q": "recruit*", "limit": 2, "token": token})
    assert first.status_code == 200
    body = first.json()
    assert len(body["hits"]) == 2
    assert body["next_cursor"] is not None
    rest = viewer.get(
        "/api/v1/search",
        params={"q": "recruit*", "cursor": body["next_cursor"], "token": token},
    ).json()
    ids = [h["article_id"] for h in body["hits"] + rest["hits"]]
    assert len(ids) == len(set(ids)) == 4  # w1, w2 (its title is not, its text is), v1, v3
    assert ids == sorted(ids, reverse=True)


def test_the_api_needs_a_token_and_refuses_bad_queries(client: Client, world: World) -> None:
    assert client.get("/api/v1/search", params={"q": "recruit*"}).status_code == 401
    assert client.get("/search", params={"q": "recruit*"}).status_code in (302, 303, 401)
    token = make_token(world.app, "viewer@example.org")
    bad = client.get("/api/v1/search", params={"q": "ab*", "token": token})
    assert bad.status_code == 400
    assert bad.json() == {
        "detail": "'ab*': the prefix is too short (at least 3 letters before '*')"
    }
    schema = client.get("/api/v1/openapi.json", params={"token": token}).json()
    assert "/api/v1/search" in schema["paths"]


def test_a_search_is_a_feed_to_follow(client: Client, world: World) -> None:
    token = make_token(world.app, "viewer@example.org")
    atom = client.get("/search.atom", params={"q": "вербовщик", "token": token})
    assert atom.status_code == 200
    parsed = feedparser.parse(atom.content)
    assert not parsed.bozo, parsed.bozo_exception
    assert [e.title for e in parsed.entries] == ["Вербовщики и мигранты из Узбекистана"]
    as_json = client.get("/search.json", params={"q": '"messaging channel"', "token": token})
    assert as_json.headers["content-type"].startswith("application/feed+json")
    document = json.loads(as_json.content)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert [i["title"] for i in document["items"]] == [HOSTILE_TITLE]


def test_subscribe_gives_feed_links_that_carry_a_new_token(client: Client, world: World) -> None:
    assert client.login("viewer@example.org").status_code == 303
    form = client.get("/search", params={"q": "вербовщик"}).text
    assert "Subscribe in a feed reader" in form
    csrf = client.csrf("/search?q=вербовщик")
    links = client.post("/search/subscribe", data={"csrf": csrf, "q": "вербовщик"})
    assert links.status_code == 200
    found = re.search(r'id="subscribe-atom" href="([^"]+)"', links.text)
    assert found is not None
    url = html.unescape(found.group(1))
    assert url.startswith("http://testserver/search.atom?q=")
    stranger = Client(world.web)  # no session: the token alone opens the feed
    try:
        atom = stranger.get(url)
        assert atom.status_code == 200
        parsed = feedparser.parse(atom.content)
        assert [e.title for e in parsed.entries] == ["Вербовщики и мигранты из Узбекистана"]
        without = stranger.get(url.split("&token=")[0])
        assert without.status_code == 401
    finally:
        stranger.close()
    refused = client.post("/search/subscribe", data={"csrf": "wrong", "q": "вербовщик"})
    assert refused.status_code == 403

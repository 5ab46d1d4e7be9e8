"""The recipients page (``/recipients``) over httpx's ASGI transport on a polled store: what
``news-monitor recipients list`` prints, and an editor's add, remove, unsubscribe and
resubscribe, each written where the CLI writes it (the watchlist's file, the database)."""

from __future__ import annotations

import re

from alerts.recipients import statuses
from tests.test_web_support import (  # noqa: F401  (fixtures)
    Client,
    World,
    client,
    editor,
    viewer,
    world,
)


def _row(html: str, address: str) -> str:
    """The table row of ``address`` (exactly one)."""
    mine = [r for r in re.findall(r"<tr>.*?</tr>", html, re.S) if f"<td>{address}</td>" in r]
    assert len(mine) == 1, (address, html)
    return mine[0]


def test_every_reader_sees_who_gets_what_and_who_left(world: World, viewer: Client) -> None:
    page = viewer.get("/recipients")
    assert page.status_code == 200
    assert 'href="/recipients" aria-current="page"' in page.text
    assert "subscribed" in _row(page.text, "desk@example.org")
    assert "Add recipient" not in page.text and "Unsubscribe</button>" not in page.text
    refused = viewer.post(
        "/recipients/unsubscribe",
        data={
            "csrf": viewer.csrf("/recipients"),
            "address": "desk@example.org",
            "watchlist": "recruitment",
        },
    )
    assert refused.status_code == 403
    assert all(s.subscribed for s in statuses(world.app, world.app.watchlists.watchlists))


def test_an_editor_unsubscribes_and_resubscribes(world: World, editor: Client) -> None:
    form = {"address": "desk@example.org", "watchlist": "recruitment"}
    left = editor.post("/recipients/unsubscribe", data={"csrf": editor.csrf("/recipients"), **form})
    assert left.status_code == 200
    assert "desk@example.org will no longer receive recruitment." in left.text
    row = _row(left.text, "desk@example.org")
    assert "unsubscribed" in row and "Resubscribe</button>" in row
    [status] = statuses(world.app, [world.app.watchlists.get("recruitment")])
    assert not status.subscribed  # what `recipients list` and the digests read
    assert "desk@example.org (unsubscribed" in editor.get("/watchlists/recruitment").text
    back = editor.post("/recipients/resubscribe", data={"csrf": editor.csrf("/recipients"), **form})
    assert "desk@example.org receives recruitment again." in back.text
    assert "Unsubscribe</button>" in _row(back.text, "desk@example.org")
    [status] = statuses(world.app, [world.app.watchlists.get("recruitment")])
    assert status.subscribed


def test_an_editor_adds_and_removes_an_address_in_the_file(world: World, editor: Client) -> None:
    path = world.app.watchlists.get("recruitment").path
    path.write_text("# who reads it\n" + path.read_text(encoding="utf-8"), encoding="utf-8")
    added = editor.post(
        "/recipients/add",
        data={
            "csrf": editor.csrf("/recipients"),
            "address": "night-desk@example.org",
            "watchlist": "recruitment",
        },
    )
    assert added.status_code == 200
    assert "Added night-desk@example.org to recruitment; saved recruitment.yaml." in added.text
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# who reads it\n") and "night-desk@example.org" in text
    # the running service sends to it from now on
    assert "night-desk@example.org" in world.app.watchlists.get("recruitment").recipients
    _row(added.text, "night-desk@example.org")
    removed = editor.post(
        "/recipients/remove",
        data={
            "csrf": editor.csrf("/recipients"),
            "address": "desk@example.org",
            "watchlist": "recruitment",
        },
    )
    assert "Removed desk@example.org from recruitment" in removed.text
    assert "desk@example.org" not in path.read_text(encoding="utf-8").replace("night-desk", "")
    assert world.app.watchlists.get("recruitment").recipients == ("night-desk@example.org",)


def test_a_bad_request_is_one_line_and_changes_nothing(world: World, editor: Client) -> None:
    path = world.app.watchlists.get("recruitment").path
    before = path.read_text(encoding="utf-8")
    bad = editor.post(
        "/recipients/add",
        data={
            "csrf": editor.csrf("/recipients"),
            "address": "no at sign",
            "watchlist": "recruitment",
        },
    )
    assert bad.status_code == 400 and "no at sign" in bad.text
    missing = editor.post(
        "/recipients/remove",
        data={
            "csrf": editor.csrf("/recipients"),
            "address": "nobody@example.org",
            "watchlist": "recruitment",
        },
    )
    assert missing.status_code == 400 and "not a recipient here: nobody@example.org" in missing.text
    assert editor.post("/recipients/add", data={"address": "x@example.org"}).status_code == 403
    assert path.read_text(encoding="utf-8") == before

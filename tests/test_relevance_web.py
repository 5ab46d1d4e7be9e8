"""The feedback links of digests, through the web app on a store filled by a real poll."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from monitor.relevance.feedback import feedback_secret, make_token
from monitor.store.db import transaction
from monitor.store.models import Feedback, Match
from tests.test_web_support import (  # noqa: F401  (fixtures)
    Client,
    World,
    client,
    world,
)


def _match(world: World) -> tuple[int, str, str]:
    with transaction(world.app.sessions) as session:
        match_id, slug = session.execute(select(Match.id, Match.watchlist).limit(1)).one()
        key = feedback_secret(session, datetime.now(UTC))
    return match_id, slug, key


def _labels(world: World) -> list[tuple[int | None, bool, str]]:
    with transaction(world.app.sessions) as session:
        return [
            (f.match_id, f.relevant, f.source)
            for f in session.scalars(select(Feedback).order_by(Feedback.id))
        ]


def test_opening_the_link_records_nothing_the_button_records_once(
    world: World, client: Client
) -> None:
    match_id, slug, key = _match(world)
    token = make_token(key, match_id, slug, relevant=False)
    page = client.get(f"/feedback/{token}")  # what a mail scanner does
    assert page.status_code == 200
    assert "Mark this match of" in page.text and "not relevant" in page.text
    assert _labels(world) == []
    done = client.post(f"/feedback/{token}")
    assert done.status_code == 200 and "Recorded" in done.text
    assert _labels(world) == [(match_id, False, "email")]
    again = client.post(f"/feedback/{token}")
    assert again.status_code == 400 and "used already" in again.text
    # the other link of the same item changes the label (a reader changing their mind)
    other = make_token(key, match_id, slug, relevant=True)
    assert client.post(f"/feedback/{other}").status_code == 200
    assert _labels(world) == [(match_id, True, "email")]


def test_forged_foreign_and_orphan_tokens_are_refused_and_record_nothing(
    world: World, client: Client
) -> None:
    match_id, slug, key = _match(world)
    forged = make_token("not-the-key", match_id, slug, relevant=True)
    other_watchlist = make_token(key, match_id, "someone-else", relevant=True)
    gone = make_token(key, 10**9, slug, relevant=True)
    cut = make_token(key, match_id, slug, relevant=True)[:-6]
    for token, words in (
        (forged, "not valid"),
        (other_watchlist, "not valid for that watchlist"),
        (gone, "no longer exists"),
        (cut, "not valid"),
    ):
        for response in (client.get(f"/feedback/{token}"), client.post(f"/feedback/{token}")):
            assert response.status_code == 400, token
            assert words in response.text
    assert _labels(world) == []

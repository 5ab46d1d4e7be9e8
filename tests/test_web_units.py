"""The web app's pure parts, with varied inputs: CSV cells, XML text, highlights, cursors,
filters, the login limit; and the store's accounts on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta

import feedparser
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from monitor.exports import FeedEntry, atom_feed, neutralise, xml_line
from monitor.store import users
from monitor.store.browse import (
    CursorError,
    MatchFilter,
    decode_cursor,
    encode_cursor,
    parse_filter,
    split_highlights,
)
from monitor.store.db import make_engine, session_factory, transaction, upgrade
from monitor.store.models import UserRole
from monitor.web.auth import LIMIT_PER_ACCOUNT, LIMIT_PER_ADDRESS, _safe_next, login_allowed


@given(st.text())
def test_no_csv_cell_reads_as_a_formula(text: str) -> None:
    out = io.StringIO()
    csv.writer(out).writerow([neutralise(text)])
    (cell,) = next(csv.reader(io.StringIO(out.getvalue())))
    assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell in (text, "'" + text)


@given(st.text())
@example("0\r0")  # a carriage return is read back as a newline: titles are one line
def test_any_title_survives_atom_as_text(title: str) -> None:
    moment = datetime(2026, 5, 1, tzinfo=UTC)
    entry = FeedEntry("tag:x,2026:1", title, "https://a.example/1", "https://m.example/s/1",
                      title, moment, moment, "Source")  # fmt: skip
    document = atom_feed(
        "T", "tag:x,2026:feed", "https://m.example/a", "https://m.example/", [entry]
    )
    root = ET.fromstring(document)  # well-formed whatever the title
    found = root.find("{http://www.w3.org/2005/Atom}entry/{http://www.w3.org/2005/Atom}title")
    assert found is not None
    assert found.text == (xml_line(title) or "(no title)")


@pytest.mark.parametrize(
    "title",
    [
        '<script>alert("x")</script>',
        "]]> & <![CDATA[ ok",
        "Tom &amp; Jerry &lt;b&gt;",
        "\x00\x1b control \ufffe end",
        "Узбекистан — O\u02bbzbekiston",
    ],
)
def test_hostile_titles_read_back_by_feedparser(title: str) -> None:
    moment = datetime(2026, 5, 1, tzinfo=UTC)
    entry = FeedEntry("tag:x,2026:1", title, None, "https://m.example/s/1", "", moment, moment, "S")
    parsed = feedparser.parse(atom_feed("T", "tag:x,2026:f", "https://m.example/a", "/", [entry]))
    assert not parsed.bozo
    assert parsed.entries[0].title == xml_line(title)


@given(
    st.text(max_size=60),
    st.lists(st.tuples(st.integers(-5, 70), st.integers(-5, 70)), max_size=6),
)
def test_highlights_cut_the_snippet_without_losing_text(
    text: str, spans: list[tuple[int, int]]
) -> None:
    parts = split_highlights(text, spans)
    assert "".join(piece for piece, _ in parts) == text
    assert all(piece for piece, _ in parts)


def test_highlights_mark_what_they_say() -> None:
    assert split_highlights("agents recruit men", [(7, 14)]) == [
        ("agents ", False),
        ("recruit", True),
        (" men", False),
    ]


@given(st.sampled_from(["newest", "relevance"]), st.floats(allow_nan=False), st.integers(0))
def test_cursors_round_trip(order: str, score: float, row_id: int) -> None:
    assert decode_cursor(encode_cursor(order, score, row_id), order) == (score, row_id)  # type: ignore[arg-type]


@pytest.mark.parametrize("cursor", ["", "bogus", "W10", encode_cursor("relevance", 1.0, 3)])
def test_a_foreign_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(CursorError):
        decode_cursor(cursor, "newest")


def test_a_country_filter_reads_names_and_regions() -> None:
    assert parse_filter(country="Nepal").places == ("NP",)
    assert parse_filter(country="Узбекистан").country == "UZ"
    region = parse_filter(country="central-asia")
    assert region.country == "central-asia" and {"UZ", "KG", "TJ"} <= set(region.places)
    assert region.as_params() == {"country": "central-asia"}
    with pytest.raises(ValueError, match="did you mean KG Kyrgyzstan"):
        parse_filter(country="Kirgizstan")


def test_filters_from_text() -> None:
    f = parse_filter("recruitment", " np ", None, "", "2026-03-01", "2026-03-02", "relevance")
    assert f == MatchFilter(
        watchlist="recruitment",
        country="NP",
        places=("NP",),
        since=datetime(2026, 3, 1, tzinfo=UTC),
        until=datetime(2026, 3, 3, tzinfo=UTC),  # the last day is included
        order="relevance",
    )
    assert f.as_params() == {
        "watchlist": "recruitment",
        "country": "NP",
        "since": "2026-03-01",
        "until": "2026-03-02",  # as given: a next page's link keeps the same days
        "order": "relevance",
    }
    assert parse_filter(**f.as_params()) == f
    with pytest.raises(ValueError, match="until: not a date"):
        parse_filter(until="March")
    with pytest.raises(ValueError, match="order"):
        parse_filter(order="oldest")


def test_the_login_limit() -> None:
    assert login_allowed(0, 0).allowed
    assert login_allowed(LIMIT_PER_ACCOUNT - 1, LIMIT_PER_ADDRESS - 1).allowed
    assert not login_allowed(LIMIT_PER_ACCOUNT, 0).allowed
    assert not login_allowed(0, LIMIT_PER_ADDRESS).allowed
    assert "wait 15 minutes" in login_allowed(LIMIT_PER_ACCOUNT, 0).message


@pytest.mark.parametrize(
    ("target", "followed"),
    [
        ("/stories/3?x=1", "/stories/3?x=1"),
        ("https://evil.example/", "/matches"),
        ("//evil.example", "/matches"),
        ("/\\evil.example", "/matches"),
        ("", "/matches"),
    ],
)
def test_only_local_paths_are_followed_after_login(target: str, followed: str) -> None:
    assert _safe_next(target) == followed


def test_accounts_sessions_and_tokens_in_the_store(database_url: str) -> None:
    engine = make_engine(database_url)
    upgrade(engine)
    sessions = session_factory(engine)
    now = datetime.now(UTC)
    with transaction(sessions) as session:
        users.add_user(session, " Ana@Example.org ", UserRole.EDITOR, "ten chars!!", now)
    with transaction(sessions) as session, pytest.raises(users.UserExistsError):
        users.add_user(session, "ana@example.org", UserRole.VIEWER, "ten chars!!", now)
    with transaction(sessions) as session, pytest.raises(users.PasswordError):
        users.add_user(session, "bo@example.org", UserRole.VIEWER, "short", now)
    with transaction(sessions) as session:
        assert users.authenticate(session, "ana@example.org", "wrong one!!") is None
        assert users.authenticate(session, "nobody@example.org", "ten chars!!") is None
        user = users.authenticate(session, "ANA@example.org", "ten chars!!")
        assert user is not None and user.role is UserRole.EDITOR and user.may(UserRole.VIEWER)
        assert not user.may(UserRole.ADMIN)
        cookie, record = users.create_session(session, user, now, timedelta(hours=1))
        token = users.create_token(session, "ana@example.org", now)
    with transaction(sessions) as session:
        found = users.find_session(session, cookie, now)
        assert found is not None and found.csrf_token == record.csrf_token
        assert users.find_session(session, cookie, now + timedelta(hours=2)) is None  # expired
        assert users.find_token(session, token) == user
        assert users.revoke_tokens(session, "ana@example.org", now) == 1
    with transaction(sessions) as session:
        assert users.find_token(session, token) is None
        users.set_password(session, "ana@example.org", "another ten")
    with transaction(sessions) as session:
        assert users.find_session(session, cookie, now) is None  # a new password logs out
        users.record_login_failure(session, "198.51.100.4", "ana@example.org", now)
        users.record_login_failure(session, "198.51.100.4", "bo@example.org", now)
        failures = users.login_failures(
            session, "198.51.100.4", "ANA@example.org", now - timedelta(minutes=1)
        )
        assert failures == (1, 2)
        users.remove_user(session, "ana@example.org")
        assert users.list_users(session) == []
    engine.dispose()

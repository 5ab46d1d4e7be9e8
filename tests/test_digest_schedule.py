"""Digest schedules: local times across DST, coalesced missed slots, batching, send_empty.

The end-to-end tests run ``run_due_digests`` as the scheduler does (a tick at a
given time) with the default ``.eml`` delivery, and read what landed in the folder.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from alerts.service import queue_digests, run_due_digests, unsubscribe
from monitor.app import App
from monitor.schedules import parse_schedule
from monitor.store.models import Digest
from tests.test_alerts_support import (
    ALICE,
    BOB,
    add_match,
    make_app,
    make_watchlist,
    write_watchlist,
)

BERLIN = ZoneInfo("Europe/Berlin")
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kathmandu", "UTC"]


def _ticks(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    out = []
    while start < end:
        out.append(start)
        start += step
    return out


def _fire_times(schedule: str, tz: ZoneInfo, ticks: list[datetime]) -> list[datetime]:
    parsed = parse_schedule(schedule)
    last: datetime | None = ticks[0]
    fired = []
    for now in ticks[1:]:
        if parsed.due(last, now, tz, timedelta(minutes=5)):
            fired.append(now)
            last = now
    return fired


def test_daily_fires_once_a_day_at_local_time_across_both_dst_changes() -> None:
    for first, last in [
        (date(2026, 3, 26), date(2026, 4, 1)),
        (date(2026, 10, 22), date(2026, 10, 28)),
    ]:
        ticks = _ticks(
            datetime(first.year, first.month, first.day, tzinfo=UTC),
            datetime(last.year, last.month, last.day, tzinfo=UTC),
            timedelta(minutes=15),
        )
        fired = _fire_times("daily 08:00", BERLIN, ticks)
        local = [f.astimezone(BERLIN) for f in fired]
        assert [t.strftime("%H:%M") for t in local] == ["08:00"] * len(local)
        assert [t.date() for t in local] == [
            first + timedelta(days=n) for n in range((last - first).days)
        ]
        assert len({f.utcoffset() for f in local}) == 2  # both offsets were crossed


def test_hourly_fires_every_hour_of_a_25_hour_day() -> None:
    ticks = _ticks(
        datetime(2026, 10, 24, 22, 0, tzinfo=UTC),  # 00:00 local on 25 October
        datetime(2026, 10, 25, 23, 0, tzinfo=UTC),  # 00:00 local on 26 October
        timedelta(minutes=20),
    )
    assert len(_fire_times("hourly", BERLIN, ticks)) == 24  # 25 hours, the first is the start


def test_weekly_fires_once_a_week_on_its_day() -> None:
    ticks = _ticks(
        datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 26, tzinfo=UTC), timedelta(minutes=30)
    )
    fired = [f.astimezone(BERLIN) for f in _fire_times("weekly monday 07:30", BERLIN, ticks)]
    assert len(fired) == 8
    assert {(f.strftime("%A %H:%M")) for f in fired} == {"Monday 07:30"}


@settings(max_examples=25, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    hour=st.integers(0, 23),
    minute=st.sampled_from([0, 10, 30, 50]),
    start_day=st.integers(0, 300),
)
def test_daily_fires_once_per_local_day(zone: str, hour: int, minute: int, start_day: int) -> None:
    tz = ZoneInfo(zone)
    start = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=start_day)
    ticks = _ticks(start, start + timedelta(days=9), timedelta(minutes=10))
    fired = [f.astimezone(tz) for f in _fire_times(f"daily {hour:02d}:{minute:02d}", tz, ticks)]
    days = [f.date() for f in fired]
    assert len(days) == len(set(days))  # never twice on one local day
    assert len(fired) >= 8  # and on every full day in between
    for moment in fired:
        slot = datetime.combine(moment.date(), moment.time().replace(hour=hour, minute=minute))
        late = moment.replace(tzinfo=None) - slot
        exists = (
            datetime.combine(slot.date(), slot.time(), tzinfo=tz)
            .astimezone(UTC)
            .astimezone(tz)
            .replace(tzinfo=None)
            == slot
        )
        # Within one tick of the local time; an hour later when a DST jump skipped it.
        limit = timedelta(minutes=10) if exists else timedelta(minutes=70)
        assert timedelta(0) <= late < limit, (moment, slot)


# --- end to end ---------------------------------------------------------------------------


def _app(make_settings: Any, database_url: str, **watchlist: Any) -> App:
    return make_app(make_settings(database_url), [make_watchlist(**watchlist)])


def _match(app: App, title: str, at: datetime) -> None:
    with app.sessions.begin() as session:
        add_match(
            session,
            title=title,
            source="RFE/RL",
            countries=["UZ"],
            terms=["recruit*"],
            snippet=f"{title}: more migrants recruited.",
            score=1.0,
            published_at=at,
        )


def _emails(folder: Path) -> list[EmailMessage]:
    out = []
    for path in sorted(folder.glob("*.eml")):
        message = message_from_bytes(path.read_bytes(), policy=default)
        assert isinstance(message, EmailMessage)
        out.append(message)
    return out


def test_daily_digest_across_dst_goes_out_once_a_day_at_0800_local(
    make_settings: Any, database_url: str
) -> None:
    app = _app(make_settings, database_url)
    start = datetime(2026, 3, 27, 0, 0, tzinfo=UTC)
    for now in _ticks(start, start + timedelta(days=4), timedelta(minutes=30)):
        if now.hour == 3 and now.minute == 0:
            _match(app, f"Raid on migrants {now:%d %B}", now)
        run_due_digests(app, now=now)
    with app.sessions() as session:
        digests = session.scalars(select(Digest).order_by(Digest.id)).all()
    local = [(d.recipient, d.created_at.astimezone(BERLIN).strftime("%d %H:%M")) for d in digests]
    assert local == [(who, f"{day} 08:00") for day in (27, 28, 29, 30) for who in (ALICE, BOB)]
    assert {d.status for d in digests} == {"written"}
    emails = _emails(app.settings.outbox_dir)
    assert len(emails) == 8
    assert len(list(app.settings.outbox_dir.glob("*.html"))) == 8
    assert Counter(str(e["To"]) for e in emails) == {ALICE: 4, BOB: 4}
    app.close()


def test_missed_slots_are_coalesced_into_one_digest(make_settings: Any, database_url: str) -> None:
    app = _app(make_settings, database_url)
    day1 = datetime(2026, 5, 4, 6, 0, tzinfo=UTC)  # 08:00 in Berlin
    run_due_digests(app, now=day1)
    for n in range(1, 4):
        _match(app, f"Summons handed out, day {n}", day1 + timedelta(days=n, hours=-3))
    # Down for three days; started again on day 4 at noon.
    back = day1 + timedelta(days=3, hours=4)
    report = run_due_digests(app, now=back)
    assert sorted(c.recipient for c in report.created) == [ALICE, BOB]
    assert {c.matches for c in report.created} == {3}
    assert run_due_digests(app, now=back + timedelta(minutes=1)).created == ()
    assert run_due_digests(app, now=back + timedelta(hours=3)).created == ()
    app.close()


def test_immediate_batches_matches(make_settings: Any, database_url: str) -> None:
    app = _app(make_settings, database_url, schedule="immediate", recipients=[ALICE])
    t0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    assert run_due_digests(app, now=t0).created == ()  # nothing yet: no email
    _match(app, "First", t0)
    assert len(run_due_digests(app, now=t0 + timedelta(minutes=1)).created) == 1
    _match(app, "Second", t0 + timedelta(minutes=2))
    _match(app, "Third", t0 + timedelta(minutes=3))
    assert run_due_digests(app, now=t0 + timedelta(minutes=4)).created == ()  # batching
    later = run_due_digests(app, now=t0 + timedelta(minutes=6))
    assert [c.matches for c in later.created] == [2]
    assert len(_emails(app.settings.outbox_dir)) == 2
    app.close()


def test_nothing_new_sends_nothing_unless_send_empty(make_settings: Any, tmp_path: Path) -> None:
    quiet = _app(make_settings, f"sqlite:///{tmp_path / 'quiet.db'}", recipients=[ALICE])
    now = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    assert run_due_digests(quiet, now=now).created == ()
    quiet.close()
    (tmp_path / "watchlists" / "foreign-recruitment.yaml").unlink()
    chatty = _app(
        make_settings, f"sqlite:///{tmp_path / 'chatty.db'}", recipients=[ALICE], send_empty=True
    )
    report = run_due_digests(chatty, now=now)
    assert [c.subject for c in report.created] == ["[Foreign recruitment] no new matches"]
    assert [o.status for o in report.outcomes] == ["written"]
    chatty.close()


def test_unsubscribed_recipients_get_nothing(make_settings: Any, database_url: str) -> None:
    app = _app(make_settings, database_url)
    now = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    _match(app, "Alabuga recruits abroad", now - timedelta(hours=2))
    queue_digests(app, now=now - timedelta(hours=1))  # queued for both, not yet sent
    assert unsubscribe(app, "Bob@Example.net", "Foreign recruitment") == (
        "foreign-recruitment",
        True,
    )
    assert unsubscribe(app, BOB, "foreign-recruitment") == ("foreign-recruitment", False)
    report = run_due_digests(app, now=now)
    outcomes = {o.recipient: (o.status, o.error) for o in report.outcomes}
    assert outcomes == {
        ALICE: ("written", None),
        BOB: ("failed", "recipient unsubscribed before it was sent"),
    }
    _match(app, "More recruits from Kyrgyzstan", now + timedelta(hours=1))
    unsubscribe(app, ALICE)  # every watchlist
    assert run_due_digests(app, now=now + timedelta(days=1)).created == ()
    app.close()


def test_two_schedulers_build_each_digest_once(make_settings: Any, database_url: str) -> None:
    recipients = [f"reader{n}@example.org" for n in range(8)]
    first = _app(make_settings, database_url, recipients=recipients)
    second = make_app(first.settings, [])
    now = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    for n in range(5):
        _match(first, f"Story {n}", now - timedelta(hours=n + 1))
    created: list[int] = []
    errors: list[BaseException] = []

    def tick(app: App) -> None:
        try:
            created.extend(c.digest_id for c in run_due_digests(app, now=now).created)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=tick, args=(a,)) for a in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with first.sessions() as session:
        rows = session.scalars(select(Digest)).all()
    assert sorted(d.recipient for d in rows) == sorted(recipients)
    assert {d.status for d in rows} == {"written"}
    assert len(created) == len(recipients)
    assert len(_emails(first.settings.outbox_dir)) == len(recipients)
    first.close()
    second.close()


def test_a_recipient_whose_case_changes_gets_nothing_twice(
    make_settings: Any, sqlite_url: str
) -> None:
    app = _app(make_settings, sqlite_url, recipients=["Alice@Example.org"])
    now = datetime(2026, 6, 1, 6, 0, tzinfo=UTC)
    _match(app, "Recruiters target Uzbek students", now - timedelta(hours=1))
    assert len(queue_digests(app, now=now)) == 1
    app.close()
    app = _app(make_settings, sqlite_url, recipients=["alice@example.org"])
    assert queue_digests(app, now=now + timedelta(hours=1)) == []
    app.close()


def test_a_recipient_added_later_gets_new_matches_not_the_history(
    make_settings: Any, database_url: str
) -> None:
    """Adding a colleague to a watchlist does not mail them everything it ever matched."""
    settings = make_settings(database_url)
    app = make_app(settings, [make_watchlist(recipients=[ALICE])])
    day = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)  # 08:00 Berlin is 07:00 UTC in March
    _match(app, "Old story from last year", day - timedelta(days=300))
    _match(app, "Yesterday's recruits", day - timedelta(hours=20))
    first = run_due_digests(app, now=day)
    assert [(c.recipient, c.matches) for c in first.created] == [(ALICE, 2)]

    write_watchlist(settings.watchlists_dir, make_watchlist(recipients=[ALICE, BOB]))
    assert app.watchlists.reload() == []
    _match(app, "Today's recruits", day + timedelta(hours=5))
    second = run_due_digests(app, now=day + timedelta(days=1))
    assert sorted((c.recipient, c.matches) for c in second.created) == [(ALICE, 1), (BOB, 1)]
    bob = [m for m in _emails(settings.outbox_dir) if m["To"] == BOB]
    [message] = bob
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    assert "Today's recruits" in body.get_content()
    assert "Old story" not in body.get_content()
    app.close()

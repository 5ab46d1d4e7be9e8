"""The whole loop as a user runs it: feeds on loopback → poll → match → store → email.

The sample feeds of ``make demo`` (``monitor/demo/feeds/``: articles written for the project,
plus unrelated ones) are served by a real HTTP server; a real SMTP server receives the
digest. Runs on a SQLite file and on this machine's PostgreSQL.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from monitor.cli import cli
from monitor.demo.server import StaticFeedServer
from monitor.store.db import make_engine
from monitor.store.models import Article, Match
from tests.servers import SMTPServer

ROOT = Path(__file__).resolve().parent.parent
DEMO = "https://demo.news-monitor.invalid/"

# What the shipped foreign-recruitment watchlist must report from the demo feeds: the item's
# link (path after DEMO) → the countries it is about. Everything else in the feeds must not match.
EXPECTED = {
    "central-asia/2025/07/uzbek-migrant-sms-sentence": ["UZ"],
    "central-asia/2025/10/kazakhstan-mercenary-cases": ["KZ"],
    "central-asia/2025/08/kyrgyz-embassy-refusal": ["KG"],
    "central-asia/2025/11/alabuga-kyrgyz-labour-ministry": ["KG"],
    "central-asia/2025/10/tajik-contracts-628": ["TJ"],
    "central-asia/2025/08/isw-20000-migrants": ["KG", "TJ", "UZ"],
    "central-asia/ru/2025/07/kubanychbek": ["KG"],
    "south-asia/2025/06/nepal-exit-permits": ["NP"],
    "south-asia/2025/02/india-recruitment-ring": ["IN"],
    "south-asia/2025/09/sri-lanka-veterans": ["LK"],
    "south-asia/2025/01/modi-putin-release": ["IN"],
    "south-asia/2026/01/bangladesh-recruiters": ["BD", "IN", "NP"],
    "wire/2026/01/explainer-how-russia-recruits": ["BD", "IN", "IQ", "KE", "KP", "NP", "ZA"],
    "wire/2026/01/iraq-5000-citizens": ["IQ"],
    "wire/2025/11/south-africa-kwazulu-natal": ["ZA"],
    "wire/2025/10/cuba-russia-military-agreement": ["CU"],
    "wire/2025/06/north-korea-troops": ["KP"],
    "wire/2025/08/isw-central-asian-migrants": ["KG", "TJ", "UZ"],
    "wire/2025/12/kenya-recruits": ["BD", "IN", "KE", "NP"],
}
SAME_STORY = {"central-asia/2025/08/isw-20000-migrants", "wire/2025/08/isw-central-asian-migrants"}
RECIPIENT = "analyst@example.org"


@pytest.fixture
def demo_server() -> Iterator[StaticFeedServer]:
    server = StaticFeedServer().start()
    yield server
    server.stop()


@pytest.fixture
def env(
    database_url: str, tmp_path: Path, watchlists_dir: Path, smtp_server: SMTPServer
) -> dict[str, str]:
    shutil.copy(ROOT / "watchlists" / "foreign-recruitment.yaml", watchlists_dir)
    return {
        "MONITOR_DATABASE_URL": database_url,
        "MONITOR_WATCHLISTS_DIR": str(watchlists_dir),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MONITOR_SMTP_HOST": "127.0.0.1",
        "MONITOR_SMTP_PORT": str(smtp_server.port),
        "MONITOR_ALLOW_PRIVATE_ADDRESSES": "true",
        "MONITOR_IMPORT_DEFAULT_FEEDS": "false",
    }


def _run(env: dict[str, str], *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=env, prog_name="news-monitor")
    assert result.exit_code == 0, f"{args}: {result.output}"
    return result.output


def _links(text: str) -> list[str]:
    return [link[len(DEMO) :] for link in re.findall(re.escape(DEMO) + r"[\w/.-]+", text)]


def test_poll_match_store_email_once(
    env: dict[str, str], demo_server: StaticFeedServer, smtp_server: SMTPServer
) -> None:
    for path in demo_server.paths:
        _run(env, "feeds", "add", demo_server.url(path))
    _run(env, "poll", "--all")
    _run(env, "digest", "send")

    # One digest, to the watchlist's recipient, with exactly the articles that should match.
    [message] = smtp_server.to(RECIPIENT)
    plain = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    assert plain is not None and html is not None
    text_links = set(_links(plain.get_content()))
    assert text_links | SAME_STORY == set(EXPECTED)
    assert len(text_links & SAME_STORY) == 1, "one story seen in two feeds is one item"
    assert set(_links(html.get_content())) | SAME_STORY == set(EXPECTED)
    for unrelated in ("Harbour City", "Annapurna", "hydropower", "Georgia school"):
        assert unrelated not in plain.get_content()

    # The stored matches carry the countries each article is about.
    engine = make_engine(env["MONITOR_DATABASE_URL"])
    with engine.connect() as connection:
        rows = connection.execute(
            select(Article.url, Match.countries, Match.terms).join(
                Match, Match.article_id == Article.id
            )
        ).all()
    engine.dispose()
    found = {url[len(DEMO) :]: sorted(countries) for url, countries, _terms in rows}
    assert found == EXPECTED
    assert all(terms for _url, _countries, terms in rows), "every match says which terms hit"
    items = len(EXPECTED) - 1  # the story seen in two feeds is one item
    assert str(message["Subject"]).startswith(f"[Foreign recruitment] {items} new matches (")

    # Polling and sending again delivers nothing new.
    _run(env, "poll", "--all")
    _run(env, "digest", "send")
    assert len(smtp_server.to(RECIPIENT)) == 1
    assert len(smtp_server.messages) == 1

"""``news-monitor match --stored URL``: a stored article matched again, saying which text it was.

Issue 15: an article page that fails to fetch leaves the feed text's verdict standing and says
why in ``match`` explanations. The feed and its article pages are served on loopback; the poll,
the lookup and the match all run through the CLI.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from monitor.cli import cli
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

WATCHLIST = """\
name: Valley recruits
keywords: [recruit*]
countries: [NP]
"""
# teasers: short, cut with an ellipsis, each with a country of the watchlist (a signal)
MATCHED_TEASER = "Agents recruit young men from Nepal for a foreign army…"
QUIET_TEASER = "Mothers in a valley of Nepal wait for word from their sons…"
PAGE = (
    "<html><head><title>Valley</title></head><body><article><h1>Waiting</h1>"
    "<p>Mothers in a valley of Nepal wait for word from their sons, who flew out last spring "
    "on visas an agent in the capital arranged for them.</p>"
    "<p>Two of the young men were recruited into an army there within days of landing, their "
    "families said, and have not called home since the summer.</p>"
    "<p>The district office keeps a list of such families and says it is longer each month.</p>"
    "</article></body></html>"
)


@pytest.fixture
def run(tmp_path: Path, watchlists_dir: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{tmp_path / 'monitor.db'}")
    monkeypatch.setenv("MONITOR_WATCHLISTS_DIR", str(watchlists_dir))
    monkeypatch.setenv("MONITOR_OUTBOX_DIR", str(tmp_path / "outbox"))
    monkeypatch.setenv("MONITOR_ALLOW_PRIVATE_ADDRESSES", "true")
    monkeypatch.setenv("MONITOR_IMPORT_DEFAULT_FEEDS", "false")
    (watchlists_dir / "valley-recruits.yaml").write_text(WATCHLIST, encoding="utf-8")
    return CliRunner()


def ok(run: CliRunner, *args: str) -> str:
    result = run.invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def poll_once(run: CliRunner, feed_server: FeedServer) -> tuple[str, str, str]:
    """A feed of three teasers: two whose pages fail (404, 500), one whose page is fetched."""
    gone = feed_server.add("/story/gone", Resource(b"gone", status=404))
    broken = feed_server.add("/story/broken", Resource(b"oops", status=500))
    fine = feed_server.add(
        "/story/fine", Resource(PAGE.encode(), content_type="text/html; charset=utf-8")
    )
    feed = feed_server.add(
        "/teasers",
        Resource(
            rss(
                item("a", "Agents at work", MATCHED_TEASER, link=gone),
                item("b", "Waiting in the valley", QUIET_TEASER, link=broken),
                item("c", "Still waiting", QUIET_TEASER.replace("Mothers", "Fathers"), link=fine),
            )
        ),
    )
    ok(run, "feeds", "add", feed)
    ok(run, "poll", "--all")
    return gone, broken, fine


def test_a_failed_page_keeps_the_feed_texts_verdict_and_match_says_why(
    run: CliRunner, feed_server: FeedServer
) -> None:
    gone, broken, fine = poll_once(run, feed_server)

    out = ok(run, "match", "--no-model", "--stored", gone)
    assert out.startswith("stored article #1 from Test feed: Agents at work\n")
    assert "valley-recruits: MATCHED" in out
    assert "  text: the feed's text: the article page failed (http_404" in out

    out = ok(run, "match", "--no-model", "--stored", broken)
    assert "valley-recruits: no match" in out
    assert "  text: the feed's text: the article page failed (http_500" in out

    out = ok(run, "match", "--no-model", "--stored", fine)
    assert "valley-recruits: MATCHED" in out  # "recruited" is on the page only
    assert "  text: the article page's text (fetched after the poll)" in out
    assert "failed" not in out


def test_the_json_names_the_text_and_the_reason(run: CliRunner, feed_server: FeedServer) -> None:
    gone, _, _ = poll_once(run, feed_server)
    (verdict,) = json.loads(ok(run, "match", "--no-model", "--json", "--stored", gone))
    assert verdict["matched"] is True
    stored = verdict["stored"]
    assert (stored["url"], stored["matched_on"], stored["full_text_state"]) == (
        gone,
        "feed text",
        "failed",
    )
    assert stored["full_text_error"].startswith("http_404")


def test_an_unknown_link_or_no_database_is_a_one_line_error(
    run: CliRunner, feed_server: FeedServer, tmp_path: Path
) -> None:
    result = run.invoke(cli, ["match", "--stored", "https://news.example.org/nothing"])
    assert result.exit_code == 1  # no database yet: nothing was created
    assert result.output.startswith("Error: no database at ")
    assert not (tmp_path / "monitor.db").exists()

    poll_once(run, feed_server)
    result = run.invoke(cli, ["match", "--stored", "https://news.example.org/nothing"])
    assert result.exit_code == 2
    assert result.output == (
        "Error: no stored article at https://news.example.org/nothing: give the article's link "
        "as `news-monitor matches` or `news-monitor search` shows it, or match the live page "
        "with --url\n"
    )
    result = run.invoke(cli, ["match", "--stored", "x", "--text", "y"])
    assert result.exit_code == 2
    assert "give exactly one of --text, --file, --url or --stored" in result.output

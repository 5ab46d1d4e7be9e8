"""``news-monitor feeds …`` and ``poll`` through click's runner: exact output and exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from monitor.cli import cli
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

DATA = Path(__file__).parent / "data" / "feeds"


@pytest.fixture
def env(tmp_path: Path, watchlists_dir: Path) -> dict[str, str]:
    return {
        "MONITOR_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "MONITOR_WATCHLISTS_DIR": str(watchlists_dir),
        "MONITOR_OUTBOX_DIR": str(tmp_path / "outbox"),
        "MONITOR_ALLOW_PRIVATE_ADDRESSES": "true",
        "MONITOR_IMPORT_DEFAULT_FEEDS": "false",
    }


def run(env: dict[str, str], *args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, input=input, catch_exceptions=False)


def test_add_list_poll_remove(env: dict[str, str], feed_server: FeedServer) -> None:
    url = feed_server.add("/rss", Resource((DATA / "recruitment.rss").read_bytes()))
    added = run(env, "feeds", "add", url, "--folder", "Central Asia")
    assert added.exit_code == 0, added.output
    assert added.output == f"Added {url}: Steppe Wire, 3 entries now\n"

    polled = run(env, "poll")
    assert polled.exit_code == 0, polled.output
    lines = polled.output.splitlines()
    assert lines[0] == f"ok           {url}  3 new"
    assert lines[-1] == "Polled 1 feed: 3 new articles, matches: none, 0 failing."

    again = run(env, "poll")
    assert again.output == "No feeds are due; `news-monitor poll --all` polls every feed now.\n"
    forced = run(env, "poll", "--all")
    assert forced.output.splitlines()[0] == f"unchanged    {url}  not modified"

    listed = run(env, "feeds", "list", "--json")
    (row,) = json.loads(listed.output)
    assert {
        k: row[k]
        for k in (
            "url",
            "title",
            "folder",
            "status",
            "error_kind",
            "consecutive_errors",
            "articles",
        )
    } == {
        "url": url,
        "title": "Steppe Wire",
        "folder": "Central Asia",
        "status": "ok",
        "error_kind": None,
        "consecutive_errors": 0,
        "articles": 3,
    }
    assert row["next_poll_at"] and row["last_polled_at"]
    table = run(env, "feeds", "list").output.splitlines()
    assert table[0].split() == ["STATUS", "ERR", "LAST", "POLL", "NEXT", "POLL", "ARTICLES", "URL"]
    assert table[1].startswith("ok          0  ") and table[1].endswith(f"3  {url}  Steppe Wire")
    assert table[-1] == "1 feed, 0 failing or gone."

    removed = run(env, "feeds", "remove", url)
    assert removed.output == (
        f"Removed {url}: no longer polled. Kept 3 articles, 0 matches and 0 deliveries "
        "(`feeds remove --purge` deletes them).\n"
    )
    assert (
        run(env, "feeds", "list").output == "No feeds. Add one with `news-monitor feeds add URL`.\n"
    )


def test_failing_feed_is_shown_with_its_error(env: dict[str, str], feed_server: FeedServer) -> None:
    url = feed_server.add("/down", Resource(b"nope", status=503, headers={"Retry-After": "600"}))
    refused = run(env, "feeds", "add", url)
    assert refused.exit_code == 2
    assert refused.output == (
        f"Error: {url}: HTTP 503, service unavailable; backing off (http_503); not added: "
        "check the URL, or add it anyway with --anyway\n"
    )
    added = run(env, "feeds", "add", url, "--anyway")
    assert added.exit_code == 0
    assert added.output == (
        f"Warning: http_503: {url}: HTTP 503, service unavailable; backing off; added anyway "
        "as failing, it will be retried on schedule\n"
        f"Added {url}: untitled\n"
    )
    before = run(env, "feeds", "list").output.splitlines()
    assert before[1].startswith("failing     1  never polled")
    assert before[-1] == "1 feed, 1 failing or gone."
    polled = run(env, "poll")
    assert polled.output.splitlines()[0] == (
        f"failing      {url}  http_503: {url}: HTTP 503, service unavailable; backing off"
    )
    table = run(env, "feeds", "list").output.splitlines()
    assert table[1].startswith("failing     2  ")
    assert (
        table[2]
        == f"{'':<15}last error: http_503: {url}: HTTP 503, service unavailable; backing off"
    )


def test_add_discovers_feeds_on_a_page(env: dict[str, str], feed_server: FeedServer) -> None:
    feed_server.add("/news.rss", Resource(rss(item("n", "News", "Text"), title="News")))
    feed_server.add("/atom", Resource(rss(item("a", "Other", "Text"), title="Other")))
    page = (
        b'<html><head><link rel="alternate" type="application/rss+xml" title="All news" href="/news.rss">'
        b'<link rel="alternate" type="application/atom+xml" href="/atom"></head><body></body></html>'
    )
    site = feed_server.add("/", Resource(page, content_type="text/html"))
    asked = run(env, "feeds", "add", site, input="2\n")
    assert asked.exit_code == 0, asked.output
    assert asked.output == (
        f"{site} is a web page that links to 2 feeds:\n"
        f"  1. {feed_server.url('/news.rss')} [RSS] (All news)\n"
        f"  2. {feed_server.url('/atom')} [Atom]\n"
        "Which one [1]: 2\n"
        f"Found the feed {feed_server.url('/atom')} on {site}\n"
        f"Added {feed_server.url('/atom')}: Other, 1 entry now\n"
    )
    first = run(env, "feeds", "add", site, "--first", "--full-text")
    assert (
        first.output.splitlines()[-1]
        == f"Added {feed_server.url('/news.rss')} (full text): News, 1 entry now"
    )
    duplicate = run(env, "feeds", "add", feed_server.url("/atom"))
    assert duplicate.exit_code == 2
    assert duplicate.output == (
        f"Error: {feed_server.url('/atom')} is already polled (see `news-monitor feeds list`)\n"
    )


def test_add_refuses_pages_without_feeds_and_bad_schemes(
    env: dict[str, str], feed_server: FeedServer
) -> None:
    page = feed_server.add(
        "/plain", Resource(b"<html><body>hi</body></html>", content_type="text/html")
    )
    result = run(env, "feeds", "add", page)
    assert (result.exit_code, result.output) == (
        2,
        f"Error: {page}: this is not an RSS, Atom or JSON feed and links to none "
        "(not_a_feed); not added: check the URL, or add it anyway with --anyway\n",
    )
    ftp = run(env, "feeds", "add", "ftp://example.org/feed")
    assert (ftp.exit_code, ftp.output) == (
        2,
        "Error: ftp://example.org/feed: only http and https feeds are polled (got 'ftp')\n",
    )


def test_set_check_and_unknown_feed(env: dict[str, str], feed_server: FeedServer) -> None:
    url = feed_server.add("/rss", Resource((DATA / "recruitment.rss").read_bytes()))
    run(env, "feeds", "add", url)
    result = run(env, "feeds", "set", url, "--full-text", "always", "--interval", "45")
    assert result.output == f"{url}: status ok, full text always, interval every 45 min\n"
    disabled = run(env, "feeds", "set", url, "--disable", "--full-text", "never")
    assert disabled.output == f"{url}: status disabled, full text never, interval every 45 min\n"
    assert run(env, "poll", "--all").output.startswith("No feeds are due")
    assert run(env, "feeds", "set", url, "--enable").output.startswith(f"{url}: status ok")
    nothing = run(env, "feeds", "set", url)
    assert nothing.exit_code == 2
    unknown = run(env, "feeds", "remove", "https://nowhere.example.org/rss")
    assert (unknown.exit_code, unknown.output) == (
        2,
        "Error: no feed https://nowhere.example.org/rss (see `news-monitor feeds list`)\n",
    )

    check = run(env, "feeds", "check", url)
    assert check.exit_code == 0
    lines = check.output.splitlines()
    assert lines[0].startswith(f"GET {url}: HTTP 200 in ")
    assert lines[1].startswith('  validators: ETag "')
    assert lines[2] == "Feed (rss20): Steppe Wire, 3 entries, newest 2025-07-09 07:15 UTC"
    assert lines[3] == "  ttl: 30 minutes"

    missing = run(env, "feeds", "check", feed_server.url("/nothing"))
    assert missing.exit_code == 1
    assert missing.output.endswith(
        f"Error: http_404: {feed_server.url('/nothing')}: HTTP 404, not found; check the URL or remove the feed\n"
    )


def test_opml_import_export_round_trip(env: dict[str, str], tmp_path: Path) -> None:
    source = tmp_path / "in.opml"
    source.write_text(
        """<?xml version="1.0"?>
<opml version="2.0"><head><title>x</title></head><body>
  <outline text="Central Asia">
    <outline text="Kyrgyzstan"><outline type="rss" text="Azattyk" xmlUrl="https://a.example.org/rss" htmlUrl="https://a.example.org/"/></outline>
    <outline type="rss" text="CABAR" title="CABAR.asia" xmlUrl="https://c.example.org/feed"/>
  </outline>
  <outline type="rss" text="Loose &amp; free" xmlUrl="https://l.example.org/atom"/>
</body></opml>""",
        encoding="utf-8",
    )
    imported = run(env, "feeds", "import", str(source))
    assert imported.output == f"Imported 3 feeds from {source} (0 already present).\n"
    assert (
        run(env, "feeds", "import", str(source)).output
        == f"Imported 0 feeds from {source} (3 already present).\n"
    )
    out = tmp_path / "out.opml"
    exported = run(env, "feeds", "export", str(out))
    assert exported.output == f"Wrote 3 feeds to {out}.\n"
    from monitor.feeds.opml import read_opml

    assert set(read_opml(out.read_bytes(), "out")) == set(read_opml(source.read_bytes(), "in"))
    stdout = run(env, "feeds", "export")
    assert stdout.output.startswith(
        "<?xml version='1.0' encoding='utf-8'?>\n<opml version=\"2.0\">"
    )
    broken = tmp_path / "broken.opml"
    broken.write_text("<opml><body><outline", encoding="utf-8")
    result = run(env, "feeds", "import", str(broken))
    assert result.exit_code == 2
    assert result.output.startswith(f"Error: {broken}: not a readable OPML file (")


def test_every_command_has_help() -> None:
    for args in (
        ["feeds"],
        ["feeds", "add"],
        ["feeds", "list"],
        ["feeds", "remove"],
        ["feeds", "import"],
        ["feeds", "export"],
        ["feeds", "check"],
        ["feeds", "set"],
        ["poll"],
    ):
        result = CliRunner().invoke(cli, [*args, "--help"])
        assert result.exit_code == 0 and "Usage: " in result.output, args

"""The relevance model on the real embedding model, and its stage on a real store after a poll."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from monitor.app import App
from monitor.config import Settings
from monitor.ingest import poll_due_feeds
from monitor.relevance.embed import E5Embedder, VectorError, pack, unpack
from monitor.relevance.model import Example, Thresholds, train
from monitor.relevance.stage import RelevanceModels, run_backlog, work_backlog
from monitor.relevance.verdict import Verdict, decide
from monitor.store import feeds as feed_store
from monitor.store import relevance as store
from monitor.store.db import transaction
from monitor.store.models import Article, ArticleVector, Match
from tests.servers import FeedServer, Resource
from tests.test_ingest_poll import item, rss

RELEVANT = [
    "Nepali men recruited into the Russian army ask their government to bring them home",
    "Два гражданина Узбекистана осуждены за участие в боевых действиях на стороне России",
    "Cuban youths lured with contracts to fight for Russia in Ukraine",
    "Kyrgyz migrant handed a military summons at a Moscow market",
    "North Korean soldiers deployed to the Kursk region, intelligence says",
    "Sri Lanka brings home the bodies of veterans who died fighting for Moscow",
    "Індійців завербували до російської армії обманом",
]
NOT_RELEVANT = [
    "Wheat harvest in Kazakhstan breaks a record",
    "Tajikistan opens its spring conscription for its own army",
    "Remittances from Russia to Kyrgyzstan rose five percent",
    "Nepal's football team wins the regional cup",
    "India and Russia sign a deal on oil shipments",
    "Alabuga economic zone reports record tax revenue",
    "Курс узбекского сума укрепился к доллару",
]


@pytest.fixture(scope="module")
def embedder() -> E5Embedder:
    return E5Embedder()


def examples() -> list[Example]:
    return [Example(t, True) for t in RELEVANT] + [Example(t, False) for t in NOT_RELEVANT]


def test_the_shipped_model_embeds_every_language_into_unit_vectors(embedder: E5Embedder) -> None:
    vectors = embedder.embed(["Nepal", "Узбекистан", "Oʻzbekiston", "Cuba y Rusia", ""])
    assert vectors.shape == (5, embedder.dim) and embedder.dim == 384
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    # the same meaning in two languages is nearer than two meanings in one
    en, ru, other = embedder.embed(
        [
            "migrants recruited into the army",
            "мигрантов вербуют в армию",
            "the price of bread went up",
        ]
    )
    assert float(en @ ru) > float(en @ other)


def test_vectors_are_stored_as_float16_and_corrupt_ones_are_refused() -> None:
    vector = np.linspace(-1, 1, 384, dtype=np.float32)
    data = pack(vector)
    assert len(data) == 768
    assert np.allclose(unpack(data, 384), vector, atol=1e-3)
    with pytest.raises(VectorError, match="768"):
        unpack(data[:-2], 384)
    with pytest.raises(VectorError, match="not a number"):
        unpack(np.full(384, np.nan, dtype=np.float16).tobytes(), 384)


def test_a_model_from_examples_ranks_unseen_texts_the_way_a_reader_would(
    embedder: E5Embedder,
) -> None:
    given_examples = examples()
    model = train(given_examples, embedder.embed([e.text for e in given_examples]))
    assert model is not None
    assert 0.5 <= model.thresholds.possible_at <= 1.0
    assert 0.0 <= model.thresholds.doubtful_below <= model.thresholds.possible_at
    assert model.cross_validation.examples == len(given_examples)
    unseen_relevant = [
        "Uzbek labour migrants signed contracts with Russia's defence ministry",
        "Cubanos reclutados por Rusia mueren en el frente de Ucrania",
    ]
    unseen_not = [
        "Kazakhstan's central bank cuts its interest rate",
        "Bishkek hosts a film festival",
    ]
    scores = model.score(embedder.embed(unseen_relevant + unseen_not))
    assert min(scores[:2]) > max(scores[2:])
    nearest = model.nearest(embedder.embed(unseen_relevant[:1])[0])
    assert nearest[0].relevant


def test_too_few_examples_of_either_kind_give_no_model(embedder: E5Embedder) -> None:
    few = [Example(t, True) for t in RELEVANT] + [Example(NOT_RELEVANT[0], False)]
    assert train(few, embedder.embed([e.text for e in few])) is None


def test_a_model_finds_and_doubts_only_after_enough_feedback(embedder: E5Embedder) -> None:
    from monitor.relevance.model import MIN_FEEDBACK_TO_FIND, POSSIBLE_FLOOR

    given = examples()
    vectors = embedder.embed([e.text for e in given])
    model = train(given, vectors)
    assert model is not None and not model.thresholds.finds
    assert model.thresholds.possible_at >= POSSIBLE_FLOOR
    # the examples' own relevant texts score high, yet the model adds none of them itself
    assert decide(False, 1.0, model.thresholds) is Verdict.NONE
    assert decide(True, 0.0, model.thresholds) is Verdict.MATCH  # nor doubts a match
    labelled = [
        Example(e.text, e.relevant, "feedback")
        for e in given[: MIN_FEEDBACK_TO_FIND // 2] + given[-(MIN_FEEDBACK_TO_FIND // 2) :]
    ]
    learnt = train(
        given + labelled, np.concatenate([vectors, embedder.embed([e.text for e in labelled])])
    )
    assert learnt is not None and learnt.thresholds.finds
    assert decide(False, 1.0, learnt.thresholds) is Verdict.POSSIBLE
    assert decide(True, 0.0, learnt.thresholds) is Verdict.DOUBTFUL


@given(
    rules_held=st.booleans(),
    relevance=st.none() | st.floats(0, 1),
    possible_at=st.floats(0.5, 1),
    doubtful_below=st.floats(0, 0.5),
)
def test_a_rule_match_is_never_dropped_by_the_model(
    rules_held: bool, relevance: float | None, possible_at: float, doubtful_below: float
) -> None:
    verdict = decide(rules_held, relevance, Thresholds(possible_at, doubtful_below))
    if rules_held:
        assert verdict in (Verdict.MATCH, Verdict.DOUBTFUL)
    else:
        assert verdict in (Verdict.POSSIBLE, Verdict.NONE)
    assert decide(rules_held, relevance, None) is (Verdict.MATCH if rules_held else Verdict.NONE)


WATCHLIST = """\
name: Foreign recruits
recipients: [analyst@example.org]
description: Foreign nationals recruited into Russia's army, dying or captured at the front.
keywords: [recruit*]
countries: [NP, UZ, KG, CU, LK]
examples:
{examples}
"""


@pytest.fixture
def app(
    make_settings: Callable[..., Settings],
    sqlite_url: str,
    watchlists_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[App]:
    # these examples stand for the feedback a model needs before it finds articles itself
    monkeypatch.setattr("monitor.relevance.model.MIN_FEEDBACK_TO_FIND", 0)
    lines = [f"  - {{text: {t!r}, relevant: true}}" for t in RELEVANT]
    lines += [f"  - {{text: {t!r}, relevant: false}}" for t in NOT_RELEVANT]
    (watchlists_dir / "recruits.yaml").write_text(
        WATCHLIST.format(examples="\n".join(lines)), encoding="utf-8"
    )
    application = App.open(make_settings(sqlite_url, public_url="https://monitor.example.org"))
    yield application
    application.close()


def test_after_a_poll_the_stage_scores_matches_and_finds_what_the_rules_missed(
    app: App, feed_server: FeedServer, embedder: E5Embedder
) -> None:
    url = feed_server.add(
        "/rss",
        Resource(
            rss(
                # the rules hold (recruit* + Nepal) and it is on topic
                item(
                    "a",
                    "Nepal says 40 citizens were recruited by Russia's army",
                    "Families ask for help.",
                ),
                # no recruitment word: the rules miss it; the model should not
                item(
                    "b",
                    "Uzbek migrants killed at the front after signing Russian army contracts",
                    "Relatives in Samarkand received the bodies this week.",
                ),
                # a signal (a country) but nothing to do with the topic
                item(
                    "c", "Kyrgyzstan's apricot exports grow", "Farmers near Osh report a good year."
                ),
                # no signal of any watchlist: looked at, not embedded
                item("d", "Local bakery wins a prize", "The jury liked the rye bread."),
            )
        ),
    )
    with transaction(app.sessions) as session:
        feed_store.add_feed(session, url, now=datetime.now(UTC) - timedelta(seconds=1))
    poll_due_feeds(app)
    models = RelevanceModels(embedder)
    with transaction(app.sessions) as session:
        assert store.backlog_count(session) == 4
        report = work_backlog(
            session, app.watchlists.matcher, app.watchlists.watchlists, models, datetime.now(UTC)
        )
    assert report.looked == 4 and report.embedded == 3
    with transaction(app.sessions) as session:
        assert store.backlog_count(session) == 0
        rows = {
            entry: (verdict, relevance)
            for entry, verdict, relevance in session.execute(
                select(Article.entry_id, Match.verdict, Match.relevance).join(
                    Article, Article.id == Match.article_id
                )
            )
        }
        vectors = session.scalar(
            select(func.count()).select_from(ArticleVector).where(ArticleVector.vector.is_not(None))
        )
    assert vectors == 3
    assert rows["a"][0] == "match" and rows["a"][1] is not None
    assert rows["b"][0] == "possible"
    assert "c" not in rows and "d" not in rows
    # nothing more to do: running again looks at nothing and adds nothing
    with transaction(app.sessions) as session:
        again = work_backlog(
            session, app.watchlists.matcher, app.watchlists.watchlists, models, datetime.now(UTC)
        )
    assert again.looked == 0


def test_the_digest_ranks_by_relevance_and_lists_what_only_the_model_found(
    app: App, feed_server: FeedServer, embedder: E5Embedder, tmp_path: Path
) -> None:
    from email import message_from_bytes, policy

    from alerts.service import send_digests
    from monitor.relevance.feedback import feedback_secret, read_token

    url = feed_server.add(
        "/rss",
        Resource(
            rss(
                item(
                    "a", "Nepal says 40 citizens were recruited by Russia's army", "Families ask."
                ),
                item(
                    "b",
                    "Uzbek migrants killed at the front after signing Russian army contracts",
                    "Relatives in Samarkand received the bodies this week.",
                ),
            )
        ),
    )
    with transaction(app.sessions) as session:
        feed_store.add_feed(session, url, now=datetime.now(UTC) - timedelta(seconds=1))
    poll_due_feeds(app)
    with transaction(app.sessions) as session:
        work_backlog(
            session,
            app.watchlists.matcher,
            app.watchlists.watchlists,
            RelevanceModels(embedder),
            datetime.now(UTC),
        )
    report = send_digests(app)
    assert len(report.created) == 1
    (eml,) = (tmp_path / "outbox").glob("*.eml")
    message = message_from_bytes(eml.read_bytes(), policy=policy.default)
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    matched, _, possible = text.partition("Possibly relevant (1)")
    assert "Nepal says 40 citizens were recruited" in matched
    assert "relevance 0." in matched
    assert "Uzbek migrants killed at the front" in possible
    assert "Like: " in possible  # the examples it resembles
    links = [line.split(": ", 1)[1] for line in text.splitlines() if "/feedback/" in line]
    assert len(links) == 4  # relevant / not relevant, for each item
    with transaction(app.sessions) as session:
        key = feedback_secret(session, datetime.now(UTC))
    targets = [read_token(key, link.rsplit("/", 1)[1]) for link in links]
    assert sorted(t.relevant for t in targets) == [False, False, True, True]
    # each item is delivered once: nothing more to send
    assert send_digests(app).created == ()


# --- news-monitor feedback ------------------------------------------------------------------


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, watchlists_dir: Path) -> Path:
    from tests.test_alerts_support import make_app, make_watchlist, seed_samples

    monkeypatch.setenv("MONITOR_DATABASE_URL", f"sqlite:///{tmp_path / 'monitor.db'}")
    monkeypatch.setenv("MONITOR_WATCHLISTS_DIR", str(watchlists_dir))
    monkeypatch.setenv("MONITOR_IMPORT_DEFAULT_FEEDS", "false")
    application = make_app(Settings(), [make_watchlist()])
    seed_samples(application)
    application.close()
    return tmp_path


def run_cli(*args: str) -> Any:
    from click.testing import CliRunner

    from monitor.cli import cli

    return CliRunner().invoke(cli, list(args), prog_name="news-monitor")


def test_feedback_is_recorded_changed_listed_and_exported(cli_env: Path) -> None:
    import json

    application = App.open(Settings(), migrate=False)
    with transaction(application.sessions) as session:
        match_id, title = session.execute(
            select(Match.id, Article.title).join(Article, Article.id == Match.article_id).limit(1)
        ).one()
    application.close()
    result = run_cli("feedback", str(match_id), "not-relevant")
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"Match {match_id} (foreign-recruitment): not-relevant.")
    assert run_cli("feedback", str(match_id), "relevant").exit_code == 0  # changed, not doubled
    listed = run_cli("feedback", "--list", "--json")
    labels = json.loads(listed.output)
    assert [(r["match_id"], r["label"], r["title"]) for r in labels] == [
        (match_id, "relevant", title)
    ]
    out = cli_env / "labels.jsonl"
    assert run_cli("feedback", "--export", str(out)).output == f"Wrote 1 label to {out}\n"
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0])["source"] == "cli"


def test_feedback_on_a_match_that_does_not_exist_is_one_line_and_records_nothing(
    cli_env: Path,
) -> None:
    result = run_cli("feedback", "999999", "relevant")
    assert result.exit_code == 2
    assert result.output == "Error: no match 999999 (see `news-monitor matches list`)\n"
    assert run_cli("feedback", "--list", "--json").output.strip() == "[]"
    assert run_cli("feedback", "12").exit_code == 2


# --- the stage on a mixed poll --------------------------------------------------------------

# (language, kind, title, text): kind "rules" the rules hold, "topic" on topic but no rule word,
# "other" a listed country and nothing of the topic, "none" no signal at all
MIXED = [
    (
        "en",
        "rules",
        "Nepal asks Moscow to return men recruited for the war",
        "Dozens of families wait.",
    ),
    (
        "en",
        "topic",
        "Uzbek migrants sent to the front after signing army contracts in Moscow",
        "Two have died, their relatives say.",
    ),
    ("en", "other", "Nepal's tea growers expect a record harvest", "Rain came early in the hills."),
    ("en", "none", "City council approves a new tram line", "Work starts in the spring."),
    (
        "ru",
        "topic",
        "Граждан Кыргызстана отправили воевать на Украину после рейда в Москве",
        "Их заставили подписать контракт с армией.",
    ),
    ("ru", "other", "Узбекистан открыл новый аэропорт в Самарканде", "Первые рейсы уже приняты."),
    ("ru", "none", "В парке открылся каток", "Вход для детей бесплатный."),
    (
        "uk",
        "topic",
        "Непальці, яких обманом відправили на фронт, просять допомоги",
        "Вони воюють у складі російської армії.",
    ),
    ("uk", "other", "Куба збільшила експорт цукру", "Урожай цього року кращий."),
    (
        "uz",
        "topic",
        "Rossiya armiyasida halok bo'lgan o'zbekistonlik muhojirning jasadi qaytarildi",
        "Oilasi uni Moskvada ishlagan deb aytdi.",
    ),
    (
        "uz",
        "other",
        "O'zbekiston paxta hosilini yig'ishni boshladi",
        "Dehqonlar yaxshi yil kutmoqda.",
    ),
    ("kk", "none", "Алматыда жаңа кітапхана ашылды", "Оқырмандар көп келді."),
    (
        "ky",
        "topic",
        "Кыргызстандык мигранттар орус армиясына келишим түзүүгө мажбурланган",
        "Алардын бири Украинада курман болду.",
    ),
    ("ky", "other", "Кыргызстанда жаңы жол курулду", "Жол эки шаарды бириктирет."),
    ("tg", "none", "Дар Душанбе фестивали мусиқӣ баргузор шуд", "Ҳазорон нафар омаданд."),
    (
        "es",
        "topic",
        "Jóvenes cubanos enviados a combatir por Rusia en Ucrania",
        "Sus madres piden que vuelvan a casa.",
    ),
    (
        "en",
        "rules",
        "Kyrgyz police detain a man who recruited migrants for Russia's army",
        "He took money from each of them, the court heard.",
    ),
    ("es", "other", "Cuba celebra su festival de cine", "Hay películas de veinte países."),
    (
        "en",
        "topic",
        "Sri Lankan veterans killed fighting for Moscow, ministry says",
        "The bodies of six men were flown home.",
    ),
    ("en", "other", "Sri Lanka's cricket team wins in Colombo", "The crowd cheered until late."),
]


def test_the_stage_works_off_a_mixed_multilingual_poll_of_many_feeds(
    app: App, feed_server: FeedServer, embedder: E5Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    urls = []
    for number in range(0, len(MIXED), 2):  # ten feeds of two items, each of its own language(s)
        entries = [
            item(f"{number + k}", title, text)
            for k, (_, _, title, text) in enumerate(MIXED[number : number + 2])
        ]
        urls.append(feed_server.add(f"/feed{number}", Resource(rss(*entries))))
    urls.append(feed_server.add("/gone", Resource(b"gone", status=500)))
    page = Resource(b"<html><body>We moved.</body></html>", content_type="text/html")
    urls.append(feed_server.add("/moved", page))
    with transaction(app.sessions) as session:
        for url in urls:
            feed_store.add_feed(session, url, now=datetime.now(UTC) - timedelta(seconds=1))
    poll_due_feeds(app)
    matcher = app.watchlists.matcher
    explained: list[str] = []
    real_explain = type(matcher).explain

    def counting_explain(self: Any, title: str, body: str) -> Any:
        explained.append(title)
        return real_explain(self, title, body)

    monkeypatch.setattr(type(matcher), "explain", counting_explain)
    with transaction(app.sessions) as session:
        assert store.backlog_count(session) == len(MIXED)  # the bad feeds hold nothing back
    report = run_backlog(app, RelevanceModels(embedder), batch=8)
    signalled = [m for m in MIXED if m[1] != "none"]
    assert (report.looked, report.embedded) == (len(MIXED), len(signalled))
    with transaction(app.sessions) as session:
        assert store.backlog_count(session) == 0
        rows = session.execute(
            select(Article.title, Match.verdict, Match.relevance).join(
                Article, Article.id == Match.article_id
            )
        ).all()
        with_vector = set(
            session.scalars(
                select(Article.title)
                .join(ArticleVector, ArticleVector.article_id == Article.id)
                .where(ArticleVector.vector.is_not(None))
            )
        )
    kind = {title: k for _, k, title, _ in MIXED}
    assert with_vector == {title for _, k, title, _ in MIXED if k != "none"}
    verdicts = {title: (verdict, relevance) for title, verdict, relevance in rows}
    # every rule match is kept and ranked; the model adds only on-topic articles
    assert {t for t, k in kind.items() if k == "rules"} <= set(verdicts)
    assert all(verdicts[t][1] is not None for t, k in kind.items() if k == "rules")
    possible = {t for t, (verdict, _) in verdicts.items() if verdict == "possible"}
    assert {kind[t] for t in possible} <= {"topic"}
    found_languages = {language for language, _, title, _ in MIXED if title in possible}
    assert len(found_languages) >= 3, possible
    # the rules' full verdict was built only for what the model called possible
    assert sorted(explained) == sorted(possible)


def test_watchlist_show_says_what_the_model_learnt_from_and_how_well_it_does(
    cli_env: Path, watchlists_dir: Path
) -> None:
    import json

    path = watchlists_dir / "foreign-recruitment.yaml"
    lines = [f"  - {{text: {t!r}, relevant: true}}" for t in RELEVANT]
    lines += [f"  - {{text: {t!r}, relevant: false}}" for t in NOT_RELEVANT]
    path.write_text(
        path.read_text(encoding="utf-8") + "examples:\n" + "\n".join(lines) + "\n",
        encoding="utf-8",
    )
    application = App.open(Settings(), migrate=False)
    with transaction(application.sessions) as session:
        match_id = session.scalar(select(Match.id).limit(1))
    application.close()
    assert run_cli("feedback", str(match_id), "relevant").exit_code == 0
    shown = run_cli("watchlist", "show", "foreign-recruitment", "--json")
    assert shown.exit_code == 0, shown.output
    model = json.loads(shown.output)["relevance_model"]
    labels = 1 + len(RELEVANT) + len(NOT_RELEVANT) + 1
    assert (model["labels"], model["description"], model["examples"], model["feedback"]) == (
        labels,
        1,
        len(RELEVANT) + len(NOT_RELEVANT),
        1,
    )
    assert model["trained"] is True
    assert 0.5 <= model["cv_precision"] <= 1 and 0 < model["cv_recall"] <= 1
    text = run_cli("watchlist", "show", "foreign-recruitment").output
    line = next(line for line in text.splitlines() if line.startswith("  relevance:"))
    assert line.startswith(f"  relevance:   learnt from {labels} labels (")
    assert f"cross-validated precision {model['cv_precision']:.2f}, recall" in line
    assert (
        "relevance" not in run_cli("watchlist", "show", "foreign-recruitment", "--no-model").output
    )


def test_status_shows_the_relevance_backlog(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import json

    application = App.open(Settings(), migrate=False)
    with transaction(application.sessions) as session:
        articles = int(session.scalar(select(func.count()).select_from(Article)) or 0)
    application.close()
    assert articles > 0
    facts = json.loads(run_cli("status", "--json").output)["relevance"]
    assert (facts["enabled"], facts["backlog"]) == (True, articles)
    assert facts["oldest_waiting_since"] is not None
    text = run_cli("status").output
    assert (
        f"relevance:  backlog {articles} articles to embed and score, the oldest first seen" in text
    )
    monkeypatch.setenv("MONITOR_RELEVANCE", "false")
    assert "relevance:  off (MONITOR_RELEVANCE=false): the rules alone" in run_cli("status").output

"""Matching benchmark: ~3 KB articles (English, Russian) against 100, 1,000 and 10,000 terms.

    python -m benchmarks.match [--articles 400] [--naive-articles 20] [--repeats 5]

For each size, watchlists are generated with that many terms in total (the topic's real terms,
English and Russian, plus generated ones: words, prefixes ``*``, phrases, Cyrillic words that
inflect), each listing countries. The measured call is ``Matcher.explain(title, body)``: it
normalises title and body, runs the one automaton (terms + every country form + cues), resolves
countries, evaluates every watchlist's rule and builds the score and snippet of each — the full
explanation, for every watchlist. The baseline, in the same run, is the naive approach: one
compiled regular expression per term (``\\b…\\b``, case-insensitive, ``\\w*`` for prefixes)
searched in turn over the raw text, with no countries at all.

Prints, per size and language: articles per second per core (CPU time of this one process:
median of ``--repeats`` runs), the naive loop's articles per second, their ratio, the automaton
build time and the memory the compiled matcher holds (tracemalloc; pyahocorasick allocates
through Python's allocator, so the automaton is counted).
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import time
import tracemalloc
from collections.abc import Sequence
from pathlib import Path

from monitor.matching.gazetteer import load_gazetteer
from monitor.matching.lexicon import Lexicon, default_lexicon
from monitor.matching.matcher import Matcher
from monitor.matching.terms import parse_term
from monitor.watchlists import Watchlist, parse_watchlist

EN_WORDS = [
    "the",
    "of",
    "and",
    "to",
    "in",
    "a",
    "is",
    "that",
    "for",
    "on",
    "was",
    "with",
    "he",
    "it",
    "as",
    "at",
    "by",
    "from",
    "his",
    "an",
    "were",
    "are",
    "which",
    "this",
    "be",
    "or",
    "has",
    "had",
    "not",
    "but",
    "they",
    "have",
    "one",
    "their",
    "also",
    "who",
    "after",
    "been",
    "its",
    "new",
    "more",
    "two",
    "first",
    "than",
    "year",
    "years",
    "said",
    "people",
    "government",
    "minister",
    "report",
    "city",
    "region",
    "court",
    "police",
    "official",
    "army",
    "border",
    "workers",
    "election",
    "market",
    "prices",
    "energy",
    "water",
    "school",
    "hospital",
    "farmers",
    "harvest",
    "bridge",
    "railway",
    "weather",
    "storm",
    "river",
    "mountain",
    "festival",
    "museum",
    "theatre",
    "company",
    "bank",
    "loan",
    "budget",
    "tax",
    "reform",
    "parliament",
    "vote",
    "protest",
    "union",
    "strike",
    "factory",
    "export",
    "import",
    "trade",
    "agreement",
    "talks",
    "summit",
    "delegation",
    "visit",
    "embassy",
    "statement",
    "press",
    "interview",
    "survey",
    "study",
    "university",
    "students",
    "teachers",
    "doctors",
    "patients",
    "clinic",
    "family",
    "families",
    "money",
    "wages",
    "jobs",
    "work",
    "month",
    "week",
    "officials",
    "according",
    "local",
    "national",
    "foreign",
    "ministry",
    "president",
    "security",
    "military",
    "service",
    "law",
    "laws",
    "investigation",
    "journalists",
    "documents",
    "records",
    "case",
    "cases",
    "million",
    "thousands",
    "hundreds",
]
RU_WORDS = [
    "и",
    "в",
    "не",
    "на",
    "что",
    "с",
    "по",
    "как",
    "это",
    "из",
    "за",
    "от",
    "для",
    "о",
    "к",
    "он",
    "его",
    "они",
    "их",
    "был",
    "была",
    "были",
    "году",
    "года",
    "лет",
    "также",
    "после",
    "более",
    "говорит",
    "сообщил",
    "сообщили",
    "правительство",
    "министр",
    "отчет",
    "города",
    "региона",
    "суд",
    "полиция",
    "чиновник",
    "граница",
    "работники",
    "выборы",
    "рынок",
    "цены",
    "энергия",
    "вода",
    "школа",
    "больница",
    "фермеры",
    "урожай",
    "мост",
    "железная",
    "дорога",
    "погода",
    "река",
    "горы",
    "фестиваль",
    "музей",
    "театр",
    "компания",
    "банк",
    "кредит",
    "бюджет",
    "налог",
    "реформа",
    "парламент",
    "голосование",
    "протест",
    "профсоюз",
    "забастовка",
    "завод",
    "экспорт",
    "импорт",
    "торговля",
    "соглашение",
    "переговоры",
    "саммит",
    "делегация",
    "визит",
    "посольство",
    "заявление",
    "пресса",
    "интервью",
    "опрос",
    "исследование",
    "университет",
    "студенты",
    "учителя",
    "врачи",
    "пациенты",
    "семья",
    "семьи",
    "деньги",
    "зарплаты",
    "работа",
    "месяц",
    "неделя",
    "чиновники",
    "по",
    "данным",
    "местные",
    "национальные",
    "министерство",
    "президент",
    "безопасность",
    "закон",
    "законы",
    "расследование",
    "журналисты",
    "документы",
    "дело",
    "дела",
    "миллион",
    "тысячи",
]
EN_TOPIC = [
    "Nepalese men were recruited by the Russian army after agents promised them jobs",
    "a court in Uzbekistan sentenced a migrant for mercenary activity",
    "Cuban citizens signed a military contract with the Ministry of Defence",
    "officials in Kazakhstan opened a criminal case over recruitment",
    "the Alabuga plant in Tatarstan hired young women from Uganda and Kyrgyzstan",
    "Indian nationals were lured to Russia and sent to the front line in Ukraine",
]
RU_TOPIC = [
    "непальских мужчин завербовали в российскую армию обещая работу",
    "суд в Узбекистане приговорил мигранта за наемничество",
    "граждане Кубы подписали контракт с Минобороны России",
    "в Казахстане возбудили уголовное дело о вербовке",
    "завод Алабуга в Татарстане нанял девушек из Уганды и Киргизии",
    "индийцев обманом отправили на фронт на Украине",
]
EN_PLACES = ["in Germany", "in Brazil", "in Nepal", "in Kazakhstan", "in Ohio", "in London"]
RU_PLACES = ["в Германии", "в Бразилии", "в Непале", "в Казахстане", "в Москве", "в Лондоне"]
REAL_TERMS = [
    "recruit*",
    "enlist*",
    "mercenar*",
    "military contract*",
    "signed a contract",
    "Wagner",
    "human trafficking",
    "coerc*",
    "Alabuga",
    "Shahed*",
    "migrant*",
    "deport*",
    "raid*",
    "вербов*",
    "завербовали",
    "наемник",
    "наемничество",
    "мигрантов",
    "контракт с Минобороны",
    "мобилизация",
    "Алабуга",
    "уголовное дело",
    "приговор",
    "повестка",
]
COUNTRIES = ["NP", "IN", "UZ", "KZ", "KG", "TJ", "CU", "KP", "LK", "UG", "IQ", "ZA"]
LATIN = "bcdfghjkqvwxz"
VOWELS = "aeiou"
# generated words use rarer letters so they do not collide with the filler's real words
CYR = "бгджзфхцчшщ"
CYR_VOWELS = "юяэы"


def _word(rng: random.Random, cyrillic: bool) -> str:
    cons, vows = (CYR, CYR_VOWELS) if cyrillic else (LATIN, VOWELS)
    return "".join(rng.choice(cons) + rng.choice(vows) for _ in range(rng.randint(3, 5)))


def make_terms(count: int, rng: random.Random) -> list[str]:
    terms = list(REAL_TERMS[: min(count, len(REAL_TERMS))])
    # a watchlist drops a term equal to an earlier one as a term (the same keys: two generated
    # words a lexicon reads alike), not only as a string: count distinct terms the same way
    seen = {parse_term(term) for term in terms}
    while len(terms) < count:
        cyrillic = rng.random() < 0.4
        kind = rng.random()
        if kind < 0.6:
            term = _word(rng, cyrillic)
        elif kind < 0.8:
            term = _word(rng, cyrillic) + "*"
        else:
            term = f"{_word(rng, cyrillic)} {_word(rng, cyrillic)}"
        spec = parse_term(term)
        if spec not in seen:  # a repeat would be one term less (watchlists drop repeats)
            seen.add(spec)
            terms.append(term)
    return terms


def make_watchlists(total_terms: int, rng: random.Random) -> list[Watchlist]:
    terms = make_terms(total_terms, rng)
    lists = max(1, min(20, total_terms // 50))
    out = []
    for index in range(lists):
        chunk = terms[index::lists]
        countries = rng.sample(COUNTRIES, 4)
        text = "name: Bench {i}\nkeywords:\n{k}\ncountries: [{c}]\n".format(
            i=index,
            k="\n".join(f"  - {t!r}" for t in chunk),
            c=", ".join(countries),
        )
        out.append(parse_watchlist(text, Path(f"bench-{index:02d}.yaml")))
    return out


def make_article(
    rng: random.Random, russian: bool, size: int = 3000, on_topic: bool = True
) -> tuple[str, str]:
    """About ``size`` characters of filler sentences; an on-topic article has about one
    sentence in eight from the topic (names, countries, recruitment words); an off-topic one
    none (general news that mentions places, as most of a feed's articles do)."""
    words, topic = (RU_WORDS, RU_TOPIC) if russian else (EN_WORDS, EN_TOPIC)
    places = RU_PLACES if russian else EN_PLACES
    sentences: list[str] = []
    length = 0
    while length < size:
        if not on_topic and rng.random() < 0.1:
            sentence = " ".join(rng.choice(words) for _ in range(6)) + " " + rng.choice(places)
        elif on_topic and rng.random() < 0.12:
            sentence = rng.choice(topic)
        else:
            sentence = " ".join(rng.choice(words) for _ in range(rng.randint(8, 20)))
        sentence = sentence[0].upper() + sentence[1:] + rng.choice([".", ".", ",", ";"])
        sentences.append(sentence)
        length += len(sentence) + 1
    body = " ".join(sentences)
    title = " ".join(rng.choice(words) for _ in range(8)).capitalize()
    return title, body


def naive_patterns(watchlists: Sequence[Watchlist]) -> list[re.Pattern[str]]:
    patterns = []
    for watchlist in watchlists:
        for term in watchlist.keywords:
            text = term.text.strip("\"'")
            body = r"\s+".join(
                re.escape(word.rstrip("*")) + (r"\w*" if word.endswith("*") else "")
                for word in text.split()
            )
            patterns.append(re.compile(rf"\b{body}\b", re.IGNORECASE))
    return patterns


def term_cost(watchlists: Sequence[Watchlist]) -> tuple[float, int]:
    """CPU seconds to read every term anew (a fresh :class:`Lexicon`, its dictionaries
    already open: lookups and lexemes only), and how many automaton keys the terms make."""
    lexicon = Lexicon()
    lexicon.forms("армия"), lexicon.forms("найманець")  # opens both dictionaries
    terms = [term for watchlist in watchlists for term in watchlist.keywords]
    start = time.process_time()
    for term in terms:
        parse_term(term.text, case_sensitive=term.case_sensitive, lexicon=lexicon)
    return time.process_time() - start, sum(len(term.keys) for term in terms)


def shipped_cost() -> str:
    """What the lexicon costs at start: opening it, then reading and compiling ``watchlists/``."""
    start = time.perf_counter()
    default_lexicon().forms("армия"), default_lexicon().forms("найманець")
    opened = time.perf_counter() - start
    paths = sorted((Path(__file__).resolve().parent.parent / "watchlists").glob("*.yaml"))
    start = time.perf_counter()
    shipped = [parse_watchlist(path.read_text(encoding="utf-8"), path) for path in paths]
    read = time.perf_counter() - start
    start = time.perf_counter()
    matcher = Matcher.compile([watchlist.to_spec() for watchlist in shipped])
    compiled = time.perf_counter() - start
    return (
        f"Shipped watchlists: {len(paths)} files, {matcher.term_count} terms; pymorphy3 and its"
        f" ru and uk dictionaries opened in {opened:.2f} s, the files read in {read:.2f} s,"
        f" compiled in {compiled:.2f} s"
    )


def cpu_rate(function: object, articles: Sequence[tuple[str, str]], repeats: int) -> float:
    rates = []
    for _ in range(repeats):
        start = time.process_time()
        for title, body in articles:
            function(title, body)  # type: ignore[operator]
        elapsed = time.process_time() - start
        rates.append(len(articles) / elapsed)
    return statistics.median(rates)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Matching benchmark")
    parser.add_argument("--articles", type=int, default=400)
    parser.add_argument("--naive-articles", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--sizes", default="100,1000,10000")
    parser.add_argument(
        "--on-topic", type=float, default=0.1, help="share of on-topic articles in the feed mix"
    )
    args = parser.parse_args(argv)

    rng = random.Random(20251122)
    load_gazetteer()  # loaded once per process in real use, not part of a compile

    def make_corpus(russian: bool, share: float) -> list[tuple[str, str]]:
        return [
            make_article(rng, russian=russian, on_topic=rng.random() < share)
            for _ in range(args.articles)
        ]

    corpora = {
        "English": make_corpus(False, args.on_topic),
        "Russian": make_corpus(True, args.on_topic),
        "En-dense": make_corpus(False, 1.0),
        "Ru-dense": make_corpus(True, 1.0),
    }
    for name, corpus in corpora.items():
        mean = statistics.mean(len(t) + len(b) for t, b in corpus)
        print(f"{name}: {len(corpus)} articles, {mean:,.0f} characters on average")
    print(shipped_cost())
    print()
    header = (
        f"{'terms':>6} {'language':<8} {'match() art/s':>14} {'explain() a/s':>12} "
        f"{'naive art/s':>12} {'ratio':>8} "
        f"{'build s':>8} {'memory MB':>10} {'matched':>8} {'terms s':>8} {'keys':>7}"
    )
    print(header)
    print("-" * len(header))
    for size in (int(s) for s in args.sizes.split(",")):
        watchlists = make_watchlists(size, rng)
        specs = [watchlist.to_spec() for watchlist in watchlists]
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        start = time.perf_counter()
        matcher = Matcher.compile(specs)
        build = time.perf_counter() - start
        memory = (tracemalloc.get_traced_memory()[0] - before) / 1e6
        tracemalloc.stop()
        reading, keys = term_cost(watchlists)
        patterns = naive_patterns(watchlists)
        assert len(patterns) == size, (len(patterns), size)

        def naive(title: str, body: str, patterns: list[re.Pattern[str]] = patterns) -> None:
            text = f"{title}\n{body}"
            for pattern in patterns:
                pattern.search(text)

        for language, corpus in corpora.items():
            fast = cpu_rate(matcher.match, corpus, args.repeats)
            full = cpu_rate(matcher.explain, corpus, args.repeats)
            slow = cpu_rate(naive, corpus[: args.naive_articles], 1)
            matched = sum(bool(matcher.match(t, b)) for t, b in corpus) / len(corpus)
            print(
                f"{size:>6} {language:<8} {fast:>14,.0f} {full:>12,.0f} {slow:>12,.1f} "
                f"{fast / slow:>7,.0f}x {build:>8.2f} {memory:>10.1f} {matched:>7.0%} "
                f"{reading:>8.2f} {keys:>7,}"
            )
    print()
    print(
        f"English/Russian: a feed mix, {args.on_topic:.0%} of articles on the topic; "
        "En-dense/Ru-dense: every article on the topic (about 1 sentence in 8)."
    )
    print("art/s: articles per second of CPU time on one core (median of repeats);")
    print(
        "naive: one compiled regex per term over the raw text, no countries; ratio = matcher/naive;"
    )
    print(
        "build: Matcher.compile (terms + gazetteer forms into one automaton); memory: tracemalloc."
    )
    print(
        "terms s: CPU to read every term (parse_term) with a fresh lexicon, dictionaries open;"
        " keys: the terms' automaton keys."
    )


if __name__ == "__main__":
    main()

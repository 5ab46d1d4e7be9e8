"""The compiled matcher: one Aho-Corasick automaton for every term of every watchlist.

CONTRACT (owned by the matching work)::

    Matcher.compile(specs: Sequence[MatchSpec]) -> Matcher        one spec per watchlist
    Matcher.match(title: str, body: str) -> list[MatchResult]     only the matched ones
    Matcher.explain(title: str, body: str) -> list[MatchResult]   every watchlist, matched or not

How it works: title and body are normalised (``normalize``), space-padded, and scanned once by
one ``pyahocorasick`` automaton whose keys are the space-padded normalised watchlist terms, the
gazetteer's country forms and its cue words. A term has one key per combination of the forms
of its first words (``армия`` has nine: армия, армии, армией…; see ``terms.py``). A key with
spaces on both sides matches whole words; a prefix key (``recruit*``, the stem of an unknown
Cyrillic word) has no trailing space and its ending is checked afterwards, as are the remaining
words of a phrase. The gazetteer resolves the country
candidates (longest match, case, cues); each watchlist's rule is then evaluated on the hits.
The matcher is pure: no I/O, no state between calls.

Scoring: a distinct keyword counts 1 (3 in the title); a listed country 1 (2 in the title);
a keyword and a listed country in the same sentence add 2. Repeats add a little (0.25 each,
at most 1 per term). The snippet is the best sentence (most keywords and countries) with the
words highlighted at their real offsets.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import ahocorasick

from monitor.matching.gazetteer import CUE, Candidate, Gazetteer, candidate_at, load_gazetteer
from monitor.matching.normalize import Normalized, normalize_text, same_capitals
from monitor.matching.results import CountryHit, MatchResult, TermHit, Where, country_labels
from monitor.matching.rules import (
    AllOf,
    AnyOf,
    Countries,
    Keywords,
    Near,
    NoneOf,
    Rule,
    Term,
    describe,
    rule_terms,
)
from monitor.matching.spec import MatchSpec
from monitor.matching.terms import TermSpec, WordSpec

__all__ = ["MAX_HITS_PER_TERM", "SNIPPET_LENGTH", "Matcher"]

SNIPPET_LENGTH = 280
#: occurrences of one term kept per article (the score counts at most 5; "Russia" may be 40)
MAX_HITS_PER_TERM = 8
_TERM = 2  # the gazetteer's entries use other kinds (FORM, CUE, FORM_SUFFIXED)
#: a sentence ends after . ! ? … 。 (and closing quotes) and a space, or at a line break
_SENTENCE_MARKS = ".!?…。\n"
_OTHER_MARKS = "!?…。\n"
#: a full stop, one space and not another space: the sentence starts after the space
_PLAIN_STOP = re.compile(r"\. (?!\s)")
_match_end = re.Match.end
#: what follows a mark: closing quotes and brackets, then spaces
_AFTER_MARK = re.compile(r"([\"'”»)\]]*)(\s*)")


def _sentence_starts(text: str) -> list[int]:
    """Offsets where sentences start.

    The marks are found with ``str.find`` (a regular expression with a character class is
    several times slower over a whole article); what follows each one is matched in place.
    """
    for char in _OTHER_MARKS:
        if char in text:
            break
    else:
        # only full stops: when each is followed by one space and a word ("word. Word") or ends
        # the text, one search for the literal ". " finds every start (a plain-text article)
        starts = [0, *map(_match_end, _PLAIN_STOP.finditer(text))]
        if len(starts) - 1 == text.count(".") - text.endswith("."):  # a last "." starts none
            return starts
    marks: list[int] = []
    find = text.find
    for char in _SENTENCE_MARKS:
        if char in text:
            position = find(char)
            while position >= 0:
                marks.append(position)
                position = find(char, position + 1)
    starts = [0]
    if not marks:
        return starts
    marks.sort()
    last = 0
    after = _AFTER_MARK.match
    for mark in marks:
        if text[mark + 1 : mark + 2] == " " and not text[mark + 2 : mark + 3].isspace():
            # the common case, "word. Word": the sentence starts after the one space
            if mark + 2 > last:
                starts.append(mark + 2)
                last = mark + 2
            continue
        found = after(text, mark + 1)
        assert found is not None  # both groups may be empty
        spaces, position = found.span(2)
        if position == spaces:  # no space after the mark (and its closing quotes)
            if text[mark] != "\n":
                continue  # "3.5", "U.S.A": not the end of a sentence
            position = found.end(1)  # a line break ends a sentence anyway
        if position > last:
            starts.append(position)
            last = position
    return starts


_WHITESPACE = re.compile(r"\s")
_OTHER_SPACE = re.compile(r"[^\S ]")


@dataclass(frozen=True, slots=True)
class _TermData:
    """What checking one automaton hit of a term needs, worked out once at compile time."""

    text: str
    prefix: bool  # the keys end with a prefix word (no trailing space)
    max_ending: int | None  # … which may take at most this many more letters
    rest: tuple[WordSpec, ...]  # the words after the keys
    case_sensitive: bool

    @classmethod
    def of(cls, term: TermSpec) -> _TermData:
        head = term.head
        return cls(
            term.text,
            head is not None,
            head.max_ending if head is not None else None,
            term.rest,
            term.case_sensitive,
        )


@dataclass(frozen=True)
class _Plan:
    """A watchlist rule with its terms as ids, as the matcher evaluates it per article.

    ``any``: a hit of one of ``ids`` or a true child; ``all``/``none``: every/no child
    true; ``keywords``, ``countries`` (``codes``, or the watchlist's), ``near`` (the two
    term ids of ``pair`` at most ``within`` words apart). Term children of an ``any`` are
    one set: evaluating the rule objects looked up and hashed every term spec again,
    a third of the matcher's time on the poll benchmark.
    """

    kind: str
    ids: frozenset[int] = frozenset()
    children: tuple[_Plan, ...] = ()
    codes: frozenset[str] | None = None
    pair: tuple[int, int] = (0, 0)
    within: int = 0

    @classmethod
    def of(cls, rule: Rule, term_id: Callable[[TermSpec], int]) -> _Plan:
        if isinstance(rule, Term):
            return cls("any", ids=frozenset({term_id(rule.term)}))
        if isinstance(rule, Keywords):
            return cls("keywords")
        if isinstance(rule, Countries):
            return cls("countries", codes=rule.codes)
        if isinstance(rule, Near):
            return cls("near", pair=(term_id(rule.first), term_id(rule.second)), within=rule.within)
        if isinstance(rule, AnyOf):
            terms = frozenset(term_id(c.term) for c in rule.children if isinstance(c, Term))
            others = tuple(cls.of(c, term_id) for c in rule.children if not isinstance(c, Term))
            return cls("any", ids=terms, children=others)
        kind = "all" if isinstance(rule, AllOf) else "none"
        return cls(kind, children=tuple(cls.of(child, term_id) for child in rule.children))


@dataclass(frozen=True)
class _Compiled:
    spec: MatchSpec
    keywords: frozenset[int]  # term ids
    exclude: frozenset[int]
    terms: frozenset[int]  # every term id this watchlist uses
    plan: _Plan | None  # the watchlist's rule, if it has one


@dataclass
class _Scan:
    """What one article yielded (internal, per call)."""

    texts: dict[Where, Normalized]
    term_hits: dict[int, list[TermHit]]
    countries: list[CountryHit]
    _sentences: dict[Where, list[int]] = field(default_factory=dict)
    _snippets: dict[tuple[Where, int, int], tuple[str, int]] = field(default_factory=dict)
    _ordered: list[tuple[int, TermHit]] | None = None
    _hit_sentences: dict[int, tuple[Where, int]] | None = None

    def ordered_hits(self) -> list[tuple[int, TermHit]]:
        """Every term hit with its term id, title first, then by offset; ties in the order
        the terms were first found (as sorting each watchlist's hits would give)."""
        ordered = self._ordered
        if ordered is None:
            ordered = [(index, hit) for index, found in self.term_hits.items() for hit in found]
            ordered.sort(key=_title_then_offset)
            self._ordered = ordered
        return ordered

    def sentence_keys(self) -> dict[int, tuple[Where, int]]:
        """``id(hit)`` -> (where, sentence index) for every term and country hit."""
        keys = self._hit_sentences
        if keys is None:
            keys = {}
            starts = self._starts
            for found in self.term_hits.values():
                for hit in found:
                    keys[id(hit)] = (hit.where, bisect_right(starts(hit.where), hit.start) - 1)
            for country in self.countries:
                keys[id(country)] = (
                    country.where,
                    bisect_right(starts(country.where), country.start) - 1,
                )
            self._hit_sentences = keys
        return keys

    def _starts(self, where: Where) -> list[int]:
        starts = self._sentences.get(where)
        if starts is None:
            starts = _sentence_starts(self.texts[where].original)
            self._sentences[where] = starts
        return starts

    def snippet_text(
        self, where: Where, start: int, end: int, sentence_start: int, sentence_end: int
    ) -> tuple[str, int]:
        """The snippet's text for a span of a sentence; shared by the watchlists that show it."""
        key = (where, start, end)
        found = self._snippets.get(key)
        if found is None:
            original = self.texts[where].original
            found = _snippet_text(original, start, end, sentence_start, sentence_end)
            self._snippets[key] = found
        return found

    def sentence_span(self, where: Where, index: int) -> tuple[int, int]:
        starts = self._starts(where)
        original = self.texts[where].original
        end = starts[index + 1] if index + 1 < len(starts) else len(original)
        return starts[index], end


def _title_then_offset(item: tuple[int, TermHit]) -> tuple[bool, int]:
    return item[1].where != "title", item[1].start


class Matcher:
    """All watchlists compiled into one automaton. Build with :meth:`compile`."""

    def __init__(
        self,
        compiled: tuple[_Compiled, ...],
        terms: tuple[TermSpec, ...],
        automaton: ahocorasick.Automaton | None,
        gazetteer: Gazetteer,
        wanted: frozenset[str] | None = None,
    ) -> None:
        self._compiled = compiled
        self._terms = terms
        self._data = tuple(_TermData.of(term) for term in terms)
        # term id -> the positions (in ``compiled``) of the watchlists that use it
        users: dict[int, list[int]] = {}
        for position, item in enumerate(compiled):
            for index in item.terms:
                users.setdefault(index, []).append(position)
        shared: dict[tuple[int, ...], tuple[int, ...]] = {}  # one tuple per set of watchlists
        self._users = {
            index: shared.setdefault(key, key)
            for index, key in ((index, tuple(positions)) for index, positions in users.items())
        }
        self._automaton = automaton
        self._gazetteer = gazetteer
        self._wanted = wanted

    @property
    def term_count(self) -> int:
        return len(self._terms)

    @classmethod
    def compile(cls, specs: Sequence[MatchSpec], *, gazetteer: Gazetteer | None = None) -> Matcher:
        """One matcher for these watchlists (``Watchlist.to_spec()``), ordered by slug."""
        gazetteer = gazetteer or load_gazetteer()
        ids: dict[TermSpec, int] = {}
        terms: list[TermSpec] = []

        def term_id(term: TermSpec) -> int:
            if term not in ids:
                ids[term] = len(terms)
                terms.append(term)
            return ids[term]

        compiled: list[_Compiled] = []
        for spec in sorted(specs, key=lambda s: s.slug):
            keywords = frozenset(term_id(t) for t in spec.keywords)
            exclude = frozenset(term_id(t) for t in spec.exclude)
            extra = [term_id(t) for t in rule_terms(spec.rule)] if spec.rule else []
            plan = _Plan.of(spec.rule, term_id) if spec.rule else None
            compiled.append(
                _Compiled(spec, keywords, exclude, frozenset((*keywords, *exclude, *extra)), plan)
            )

        # the countries any watchlist can report: the others need not be resolved at all
        wanted: frozenset[str] | None = None  # a watchlist without countries reports them all
        if all(spec.countries for spec in specs):
            wanted = frozenset(
                code for spec in specs for code in (*spec.countries, *_rule_codes(spec.rule))
            )

        grouped: dict[str, list[tuple[int, int, int]]] = {}
        for key, kind, index in _gazetteer_keys(gazetteer, wanted):
            grouped.setdefault(key, []).append((kind, index, len(key)))
        for index, term in enumerate(terms):
            for key in term.keys:
                grouped.setdefault(key, []).append((_TERM, index, len(key)))
        automaton = ahocorasick.Automaton()
        for key, entries in grouped.items():
            automaton.add_word(key, tuple(entries))
        automaton.make_automaton()
        return cls(tuple(compiled), tuple(terms), automaton, gazetteer, wanted)

    # --- public --------------------------------------------------------------------------

    def match(self, title: str, body: str) -> list[MatchResult]:
        """The watchlists the article matches, each with its reasons."""
        scan = self._scan(title, body, countries_without_terms=False)
        # a watchlist none of whose terms was hit cannot match: no rule holds without a term
        users = self._users
        candidates: set[int] = set()
        for index in scan.term_hits:
            candidates.update(users.get(index, ()))
        results = []
        for position in sorted(candidates):
            result = self._judge(self._compiled[position], scan, matched_only=True)
            if result is not None:
                results.append(result)
        return results

    def explain(self, title: str, body: str) -> list[MatchResult]:
        """Every watchlist's verdict on the article, matched or not, with the rule in words."""
        scan = self._scan(title, body)
        results = []
        for compiled in self._compiled:
            result = self._judge(compiled, scan, matched_only=False)
            assert result is not None
            results.append(result)
        return results

    def countries(self, title: str, body: str) -> list[CountryHit]:
        """The countries recognised in the article (all of them, not only listed ones)."""
        gazetteer = self._gazetteer
        return gazetteer.find(title or "", where="title") + gazetteer.find(body or "")

    def has_signal(self, title: str, body: str) -> bool:
        """True when the article carries a term or a country of any watchlist, rules aside.

        One scan of the automaton, no rule judged: what makes a feed's teaser worth
        fetching the article page for (``monitor.ingest.enrich``).
        """
        scan = self._scan(title, body)
        return bool(scan.term_hits or scan.countries)

    # --- scanning ------------------------------------------------------------------------

    def _scan(self, title: str, body: str, *, countries_without_terms: bool = True) -> _Scan:
        """One pass of the automaton over title and body: term hits and countries.

        ``countries_without_terms=False``: no term hit, no countries resolved (``match``: no
        rule holds without a term, and most articles of a feed hit none, so the gazetteer's
        resolving, a third of a scan, is skipped for them)."""
        texts: dict[Where, Normalized] = {
            "title": normalize_text(title or ""),
            "body": normalize_text(body or ""),
        }
        term_hits: dict[int, list[TermHit]] = {}
        candidates: list[Candidate] = []
        cues: set[int] = set()
        assert self._automaton is not None
        for where, normalized in texts.items():
            if not normalized.text:
                continue
            padded = f" {normalized.text} "
            for end, entries in self._automaton.iter(padded):
                for kind, index, key_len in entries:
                    if kind == _TERM:
                        found = term_hits.get(index)
                        if found is not None and len(found) >= MAX_HITS_PER_TERM:
                            continue  # enough to score and show it
                        hit = self._term_hit(index, where, normalized, padded, end, key_len)
                        if hit is not None:
                            term_hits.setdefault(index, []).append(hit)
                    elif kind == CUE:
                        cues.add(index)
                    else:
                        candidate = candidate_at(kind, index, key_len, where, padded, end)
                        if candidate is not None:
                            candidates.append(candidate)
        wanted = self._wanted
        countries = (
            self._gazetteer.resolve(candidates, texts, cues, wanted)
            if candidates and (term_hits or countries_without_terms)
            else []
        )
        return _Scan(texts, term_hits, countries)

    def _term_hit(
        self, index: int, where: Where, normalized: Normalized, padded: str, end: int, key_len: int
    ) -> TermHit | None:
        data = self._data[index]
        start = end - key_len + 2  # first letter, in ``padded``
        if data.prefix:
            stop = padded.index(" ", end + 1)
            if data.max_ending is not None and stop - (end + 1) > data.max_ending:
                return None
        else:
            stop = end  # the trailing space of the key
        for word in data.rest:
            following = padded.find(" ", stop + 1)
            if following < 0:
                return None  # the text ends before the phrase does
            if not word.accepts(padded[stop + 1 : following]):
                return None
            stop = following
        ostart, oend = normalized.inner_to_original(start - 1, stop - 1)
        surface = normalized.original[ostart:oend]
        if data.case_sensitive and not same_capitals(surface, data.text):
            return None
        return TermHit(data.text, surface, where, ostart, oend)

    # --- judging -------------------------------------------------------------------------

    def _judge(self, compiled: _Compiled, scan: _Scan, *, matched_only: bool) -> MatchResult | None:
        """The watchlist's verdict; with ``matched_only``, None as soon as it cannot match
        (no snippet, score or explanation is built for it)."""
        spec = compiled.spec
        listed = spec.countries
        hits = scan.term_hits
        # iterate over the hits (few), not the watchlist's terms (maybe thousands)
        exclude = compiled.exclude
        excluded = [self._data[i].text for i in hits if i in exclude] if exclude else []
        if matched_only and excluded:
            return None
        keywords = compiled.keywords
        keyword_ids = [i for i in hits if i in keywords]
        country_hits = (
            [c for c in scan.countries if c.code in listed] if listed else list(scan.countries)
        )

        if spec.rule is None:
            ok = bool(keyword_ids) and (not listed or bool(country_hits))
            if matched_only and not ok:
                return None
            # every hit of the keywords, title first, in order (ties: as found)
            term_hits = [hit for index, hit in scan.ordered_hits() if index in keywords]
        else:
            used: set[int] = set()
            assert compiled.plan is not None
            ok = self._evaluate(compiled.plan, compiled, scan, used)
            if matched_only and not ok:
                return None
            used_terms = sorted(used | set(keyword_ids), key=lambda i: hits[i][0].start)
            term_hits = sorted(
                (hit for i in used_terms for hit in hits[i]),
                key=lambda h: (h.where != "title", h.start),
            )
        matched = ok and not excluded
        missing = "" if ok else self._missing(spec, compiled, scan)
        rule = self._verdict_text(spec, matched, ok, keyword_ids, country_hits, excluded, missing)

        terms = tuple(dict.fromkeys([h.term for h in term_hits]))
        codes = tuple(dict.fromkeys([c.code for c in country_hits]))
        counts = _sentence_counts(term_hits, country_hits, scan)
        score = _score(term_hits, country_hits, counts) if matched else 0.0
        snippet, highlights = _snippet(term_hits, country_hits, counts, scan)
        return MatchResult(
            watchlist=spec.slug,
            matched=matched,
            rule=rule,
            terms=terms,
            countries=codes,
            term_hits=tuple(term_hits),
            country_hits=tuple(country_hits),
            score=score,
            snippet=snippet,
            highlights=highlights,
            excluded_by=tuple(excluded),
        )

    def _evaluate(self, plan: _Plan, compiled: _Compiled, scan: _Scan, used: set[int]) -> bool:
        hits = scan.term_hits
        kind = plan.kind
        if kind == "any":
            found = plan.ids.intersection(hits) if plan.ids else ()
            used.update(found)
            results = [self._evaluate(child, compiled, scan, used) for child in plan.children]
            return bool(found) or any(results)
        if kind == "all":
            return all(self._evaluate(child, compiled, scan, used) for child in plan.children)
        if kind == "none":
            scratch: set[int] = set()
            return not any(
                self._evaluate(child, compiled, scan, scratch) for child in plan.children
            )
        if kind == "keywords":
            keywords = [i for i in hits if i in compiled.keywords]
            used.update(keywords)
            return bool(keywords)
        if kind == "countries":
            codes = plan.codes if plan.codes is not None else compiled.spec.countries
            return any(c.code in codes for c in scan.countries)
        assert kind == "near"
        return self._near(plan, scan, used)

    def _missing(self, spec: MatchSpec, compiled: _Compiled, scan: _Scan) -> str:
        """Which part of a rule failed, in words: "no hit for any listed country"."""
        rule, plan = spec.rule, compiled.plan
        if rule is None or plan is None:
            return ""
        # an AllOf's plan has a child per child of the rule, in the same order
        parts = (
            zip(rule.children, plan.children, strict=True)
            if isinstance(rule, AllOf)
            else [(rule, plan)]
        )
        failed = [
            describe(part)
            for part, part_plan in parts
            if not self._evaluate(part_plan, compiled, scan, set())
        ]
        return "nothing for " + "; nothing for ".join(failed)

    def _near(self, plan: _Plan, scan: _Scan, used: set[int]) -> bool:
        first, second = plan.pair
        if first not in scan.term_hits or second not in scan.term_hits:
            return False
        for a in scan.term_hits[first]:
            for b in scan.term_hits[second]:
                if a.where != b.where:
                    continue
                original = scan.texts[a.where].original
                lo, hi = sorted((a, b), key=lambda h: h.start)
                gap = len(original[lo.end : hi.start].split())
                if gap <= plan.within:
                    used.update((first, second))
                    return True
        return False

    def _verdict_text(
        self,
        spec: MatchSpec,
        matched: bool,
        ok: bool,
        keyword_ids: list[int],
        countries: list[CountryHit],
        excluded: list[str],
        missing: str = "",
    ) -> str:
        data = self._data
        found_terms = ", ".join([repr(data[i].text) for i in keyword_ids])
        found_countries = ", ".join(country_labels(countries))
        if ok and excluded:
            return f"rule {spec.rule_text} held, but excluded by {', '.join(map(repr, excluded))}"
        if spec.rule is not None:
            found = f"keywords: {found_terms or 'none'}; countries: {found_countries or 'none'}"
            if matched:
                return f"matched: rule {spec.rule_text} held; {found}"
            return f"not matched: {missing}; {found}"
        if matched:
            if spec.countries:
                return f"matched: keyword {found_terms} and listed country {found_countries}"
            return f"matched: keyword {found_terms}"
        if not keyword_ids:
            return "not matched: no keyword found"
        return f"not matched: keyword {found_terms} but none of the listed countries"


def _gazetteer_keys(
    gazetteer: Gazetteer, wanted: frozenset[str] | None
) -> list[tuple[str, int, int]]:
    """The gazetteer's automaton keys a matcher needs.

    With ``wanted`` countries, forms of other countries are left out of the automaton, except
    those that contain a wanted form ("Papua New Guinea" must still hide "Guinea") and the
    blocking phrases; cues of other countries are left out too. Fewer keys, fewer hits to sort.
    """
    keys = gazetteer.automaton_keys()
    if wanted is None:
        return keys
    inner = ahocorasick.Automaton()
    for key, kind, index in keys:
        if kind != CUE and gazetteer.forms[index].code in wanted:
            inner.add_word(key.strip(), 1)
    if len(inner) == 0:
        return [
            (key, kind, index)
            for key, kind, index in keys
            if kind != CUE and not gazetteer.forms[index].code
        ]
    inner.make_automaton()
    out = []
    for key, kind, index in keys:
        if kind == CUE:
            if gazetteer.cues[index].code in wanted:
                out.append((key, kind, index))
            continue
        code = gazetteer.forms[index].code
        if not code or code in wanted or any(True for _ in inner.iter(key)):
            out.append((key, kind, index))
    return out


def _rule_codes(rule: Rule | None) -> set[str]:
    """Country codes a rule names itself (``countries: [NP, IN]``)."""
    if isinstance(rule, Countries) and rule.codes is not None:
        return set(rule.codes)
    if isinstance(rule, AnyOf | AllOf | NoneOf):
        return {code for child in rule.children for code in _rule_codes(child)}
    return set()


def _sentence_counts(
    terms: list[TermHit], countries: list[CountryHit], scan: _Scan
) -> dict[tuple[Where, int], list[int]]:
    """(where, sentence index) -> [term hits, country hits] in that sentence."""
    keys = scan.sentence_keys()
    counts: dict[tuple[Where, int], list[int]] = {}
    for hit in terms:
        key = keys[id(hit)]
        count = counts.get(key)
        if count is None:
            counts[key] = [1, 0]
        else:
            count[0] += 1
    for country in countries:
        key = keys[id(country)]
        count = counts.get(key)
        if count is None:
            counts[key] = [0, 1]
        else:
            count[1] += 1
    return counts


def _score(
    terms: list[TermHit],
    countries: list[CountryHit],
    counts: dict[tuple[Where, int], list[int]],
) -> float:
    score = 0.0
    seen_terms: dict[str, int] = {}
    for hit in terms:
        count = seen_terms.get(hit.term, 0)
        if count == 0:
            score += 3.0 if hit.where == "title" else 1.0
        elif count <= 4:
            score += 0.25
        seen_terms[hit.term] = count + 1
    seen_codes: set[str] = set()
    for country in countries:
        if country.code not in seen_codes:
            score += 2.0 if country.where == "title" else 1.0
            seen_codes.add(country.code)
    # a keyword and a listed country in one sentence
    if terms and countries and any(t and c for t, c in counts.values()):
        score += 2.0
    return round(score, 2)


def _snippet(
    terms: list[TermHit],
    countries: list[CountryHit],
    counts: dict[tuple[Where, int], list[int]],
    scan: _Scan,
) -> tuple[str, tuple[tuple[int, int], ...]]:
    """The best sentence with every hit in it highlighted (offsets into the snippet)."""
    if not counts:
        return "", ()
    # prefer sentences with both kinds, then more hits, then the body, then earlier
    if len(counts) == 1:
        where, index = next(iter(counts))
    else:
        # (body, -index) names the sentence: no two keys tie
        _, _, body, minus_index = max(
            [((t > 0) + (c > 0), t + c, k[0] == "body", -k[1]) for k, (t, c) in counts.items()]
        )
        where, index = ("body" if body else "title"), -minus_index
    spans = sorted(
        [(h.start, h.end) for h in terms if h.where == where]
        + [(c.start, c.end) for c in countries if c.where == where]
    )
    sentence_start, sentence_end = scan.sentence_span(where, index)
    start, end = sentence_start, sentence_end
    if end - start > SNIPPET_LENGTH:
        original = scan.texts[where].original
        first = next((s for s, e in spans if start <= s and e <= end), start)
        start = max(start, first - SNIPPET_LENGTH // 3)
        end = min(end, start + SNIPPET_LENGTH)
        # do not cut words in half
        if start > 0 and original[start - 1].isalnum():
            space = original.find(" ", start, first if first > start else end)
            start = space + 1 if space != -1 else start
        if end < len(original) and original[end].isalnum():
            space = original.rfind(" ", start, end)
            end = space if space > start else end
    text, shift = scan.snippet_text(where, start, end, sentence_start, sentence_end)
    highlights: list[tuple[int, int]] = []
    for s, e in spans:
        if s >= start and e <= end:
            span = (s - shift, e - shift)
            if highlights and span[0] <= highlights[-1][1]:
                highlights[-1] = (highlights[-1][0], max(highlights[-1][1], span[1]))
            else:
                highlights.append(span)
    return text, tuple(highlights)


def _snippet_text(
    original: str, start: int, end: int, sentence_start: int, sentence_end: int
) -> tuple[str, int]:
    """``original[start:end]`` as shown (one line, trimmed, … where the sentence was cut) and
    the shift from offsets in ``original`` to offsets in the snippet."""
    raw = original[start:end]
    # one character for one: offsets stay valid (isprintable is False for any space but " ")
    text = raw if raw.isprintable() or not _OTHER_SPACE.search(raw) else _WHITESPACE.sub(" ", raw)
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    prefix = "…" if start > 0 and sentence_start < start else ""
    suffix = "…" if end < sentence_end and end < len(original) else ""
    return prefix + text + suffix, start + lead - len(prefix)

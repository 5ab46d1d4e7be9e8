"""Full-text search over every stored article, matched or not: the index and its queries.

One interface, two engines, the same normalised words (:mod:`monitor.matching.lemmas`: case,
diacritics, and Russian and Ukrainian words as their lemmas):

* **SQLite**: an FTS5 table ``article_search`` (rowid = the article's id) with four columns of
  our own tokens: ``title`` and ``body`` (each word's most likely lemma, in order: phrases and
  NEAR), ``alt`` (its other readings) and ``forms`` (words as written where they differ from
  the lemma: a prefix* finds either). Its tokenizer is ``unicode61 remove_diacritics 0``:
  our tokens are already folded, it only splits them at the spaces. A trigger deletes an
  article's row with the article (retention, a removed feed).
* **PostgreSQL**: a table ``article_search (article_id, document tsvector)`` with a GIN index.
  The tsvector is written as a literal of our tokens (no text search configuration touches
  them): title words weight A, body B, other readings C, written forms D, at the same
  positions; the tsquery is a literal too.

:func:`index_articles` writes the rows for new articles (the poll calls it in the transaction
that stores them); :func:`rebuild_index` fills the index for articles stored before it
existed (migration 0010). :func:`search` answers a parsed :class:`~monitor.matching.query.Query`
newest stored first, by cursor, with highlighted snippets on the original text.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.orm import Session

from monitor.matching.lemmas import IndexedText, index_text
from monitor.matching.query import (
    AllOf,
    AnyOf,
    Atom,
    Near,
    Node,
    NoneOf,
    Phrase,
    Query,
    QueryError,
    Word,
    highlight_spans,
)
from monitor.store.models import UTCDateTime

__all__ = [
    "DEFAULT_LIMIT",
    "MAX_LIMIT",
    "SNIPPET_LENGTH",
    "SearchFilters",
    "SearchHit",
    "SearchPage",
    "create_index",
    "drop_index",
    "index_articles",
    "is_index_table",
    "rebuild_index",
    "search",
]

TABLE = "article_search"
#: FTS5 prefix indexes (migration 0013): a prefix* of 2, 3 or 4 characters reads one doclist
#: of its own, newest first and lazily, instead of merging every word's that begins so
PREFIXES = "3 4"
#: every word the FTS5 index holds (SQLite): a longer prefix* is read as the words it
#: begins, ``("festival" OR "festive")``, each read lazily, newest first (FTS5 merges a
#: prefix's doclists in full when no prefix index is that long: 120 ms at 1M articles)
WORDS = f"{TABLE}_words"
#: a prefix that begins more words than this is left to FTS5's own prefix query
MAX_EXPANSION = 64
DEFAULT_LIMIT = 20
MAX_LIMIT = 200
SNIPPET_LENGTH = 240
#: title and body positions apart in PostgreSQL's tsvector, so no phrase or NEAR spans the two
_BODY_OFFSET = 200
#: PostgreSQL keeps at most this many positions of one lexeme, and none past 16,383
_PG_MAX_POSITIONS = 256
_PG_MAX_POSITION = 16_383


def is_index_table(name: str | None) -> bool:
    """Whether a table is the search index's (not in the models: FTS5 and tsvector differ)."""
    return name is not None and (name == TABLE or name.startswith(TABLE + "_"))


# ---------------------------------------------------------------- the index's schema


def create_index(connection: Connection) -> None:
    """Create the (empty) index for the connection's database."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            f"CREATE TABLE {TABLE} (article_id INTEGER PRIMARY KEY "
            "REFERENCES articles (id) ON DELETE CASCADE, document TSVECTOR NOT NULL)"
        )
        connection.exec_driver_sql(
            f"CREATE INDEX ix_{TABLE}_document ON {TABLE} USING GIN (document)"
        )
        return
    _create_fts(connection, TABLE, PREFIXES)
    _create_trigger(connection)
    create_words(connection)


def create_words(connection: Connection) -> None:
    """The list of the index's words (SQLite; empty, :func:`fill_words` fills it)."""
    connection.exec_driver_sql(
        f"CREATE TABLE IF NOT EXISTS {WORDS} (word TEXT PRIMARY KEY) WITHOUT ROWID"
    )


def fill_words(connection: Connection) -> int:
    """Every word of the FTS5 index into the word list, read from FTS5's own vocabulary."""
    vocabulary = f"{TABLE}_vocabulary"
    connection.exec_driver_sql(
        f"CREATE VIRTUAL TABLE temp.{vocabulary} USING fts5vocab(main, {TABLE}, 'row')"
    )
    try:
        result = connection.exec_driver_sql(
            f"INSERT OR IGNORE INTO {WORDS} (word) SELECT term FROM temp.{vocabulary}"
        )
        return int(result.rowcount or 0)
    finally:
        connection.exec_driver_sql(f"DROP TABLE temp.{vocabulary}")


def _create_fts(connection: Connection, name: str, prefixes: str | None) -> None:
    prefix = f", prefix = '{prefixes}'" if prefixes else ""
    connection.exec_driver_sql(
        f"CREATE VIRTUAL TABLE {name} USING fts5(title, body, alt, forms, "
        f"tokenize = 'unicode61 remove_diacritics 0', detail = full{prefix})"
    )


def _create_trigger(connection: Connection) -> None:
    connection.exec_driver_sql(
        f"CREATE TRIGGER {TABLE}_delete AFTER DELETE ON articles BEGIN "
        f"DELETE FROM {TABLE} WHERE rowid = old.id; END"
    )


def fts_prefixes(connection: Connection) -> str | None:
    """The FTS5 table's ``prefix`` option as created (``'2 3 4'``), None without one."""
    sql = connection.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).scalar()
    found = re.search(r"prefix\s*=\s*'([0-9 ]*)'", str(sql or ""))
    return found.group(1) if found else None


def set_fts_prefixes(
    connection: Connection,
    prefixes: str | None,
    progress: Callable[[str], None] | None = None,
) -> bool:
    """Rebuild the FTS5 table with another ``prefix`` option, from its own stored columns
    (no article is read or normalised again); whether it changed. SQLite only."""
    if connection.dialect.name != "sqlite" or fts_prefixes(connection) == prefixes:
        return False
    new = f"{TABLE}_rebuilt"
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {new}")
    _create_fts(connection, new, prefixes)
    if progress is not None:
        progress(f"copying the index's rows into a table with prefix = {prefixes!r}")
    connection.exec_driver_sql(
        f"INSERT INTO {new} (rowid, title, body, alt, forms) "
        f"SELECT rowid, title, body, alt, forms FROM {TABLE}"
    )
    connection.exec_driver_sql(f"INSERT INTO {new} ({new}) VALUES ('optimize')")
    connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {TABLE}_delete")
    connection.exec_driver_sql(f"DROP TABLE {TABLE}")
    connection.exec_driver_sql(f"ALTER TABLE {new} RENAME TO {TABLE}")
    _create_trigger(connection)
    return True


def drop_index(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")
        return
    connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {TABLE}_delete")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {WORDS}")
    connection.exec_driver_sql(f"DROP TABLE IF EXISTS {TABLE}")


# ---------------------------------------------------------------- writing


def _fts_row(article_id: int, title: IndexedText, body: IndexedText) -> tuple[Any, ...]:
    others = [w for _, w in title.others] + [w for _, w in body.others]
    forms = [w for _, w in title.forms] + [w for _, w in body.forms]
    return (
        article_id,
        " ".join(w for w in title.words if w),
        " ".join(w for w in body.words if w),
        " ".join(others),
        " ".join(forms),
    )


def _tsvector(title: IndexedText, body: IndexedText) -> str:
    """The tsvector literal: ``'lexeme':1A,5B …`` (see the module docstring)."""
    positions: dict[str, list[str]] = {}

    def add(lexeme: str, position: int, weight: str) -> None:
        if not lexeme:
            return
        kept = positions.setdefault(lexeme, [])
        if len(kept) < _PG_MAX_POSITIONS:
            kept.append(f"{min(position, _PG_MAX_POSITION)}{weight}")

    for offset, part, weight in ((1, title, "A"), (len(title.words) + _BODY_OFFSET, body, "B")):
        for index, word in enumerate(part.words):
            add(word, offset + index, weight)
        for index, word in part.others:
            add(word, offset + index, "C")
        for index, word in part.forms:
            add(word, offset + index, "D")
    return " ".join(f"{_quote(lexeme)}:{','.join(kept)}" for lexeme, kept in positions.items())


def _quote(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def index_articles(connection: Connection | Session, rows: Iterable[tuple[int, str, str]]) -> int:
    """Index (article id, title, text) rows; how many. In the caller's transaction."""
    if isinstance(connection, Session):
        connection = connection.connection()
    documents = [
        (article_id, index_text(title), index_text(body)) for article_id, title, body in rows
    ]
    if not documents:
        return 0
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(
            f"INSERT INTO {TABLE} (article_id, document) "
            "SELECT * FROM unnest(%s::int[], %s::tsvector[])",
            ([a for a, _, _ in documents], [_tsvector(t, b) for _, t, b in documents]),
        )
    else:
        fts_rows = [_fts_row(*document) for document in documents]
        connection.exec_driver_sql(
            f"INSERT INTO {TABLE} (rowid, title, body, alt, forms) VALUES (?, ?, ?, ?, ?)",
            fts_rows,
        )
        words = fts_tokens(column for row in fts_rows for column in row[1:])
        if words:  # an article of no word at all (an empty title and text) adds none
            connection.exec_driver_sql(
                f"INSERT OR IGNORE INTO {WORDS} (word) VALUES (?)", [(w,) for w in sorted(words)]
            )
    return len(documents)


_plain = re.compile(
    "[0-9a-z\u00df-\u00f6\u00f8-\u017e\u0180-\u024f\u03ac-\u03c1\u03c3-\u03ce"
    "\u0430-\u0481\u048a-\u052f]+"
)
_tokenizer = threading.local()


def fts_tokens(texts: Iterable[str]) -> set[str]:
    """The words FTS5's ``unicode61 remove_diacritics 0`` makes of ``texts``, as it stores
    them: ours are already folded and split at spaces, so a word of lower-case Latin,
    Greek or Cyrillic letters and digits is one; any other goes through FTS5 itself (an
    in-memory table of this thread), whose idea of a letter is older than Python's."""
    words: set[str] = set()
    odd: list[str] = []
    for text_ in texts:
        for word in text_.split():
            if _plain.fullmatch(word) and word.isalnum() and word == word.lower():
                words.add(word)
            else:
                odd.append(word)
    if odd:
        memory = getattr(_tokenizer, "connection", None)
        if memory is None:
            memory = sqlite3.connect(":memory:")
            memory.execute(
                "CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'unicode61 remove_diacritics 0')"
            )
            memory.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'row')")
            _tokenizer.connection = memory
        with memory:
            memory.execute("DELETE FROM t")
            memory.execute("INSERT INTO t (x) VALUES (?)", (" ".join(odd),))
            words.update(term for (term,) in memory.execute("SELECT term FROM v"))
            memory.execute("DELETE FROM t")
    return words


def rebuild_index(
    connection: Connection,
    *,
    batch: int = 2_000,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Index every article not indexed yet, in batches by id; ``progress(done, total)`` after each."""
    if connection.dialect.name == "postgresql":
        missing = (
            f"FROM articles a WHERE a.id > :after AND NOT EXISTS "
            f"(SELECT 1 FROM {TABLE} s WHERE s.article_id = a.id)"
        )
    else:
        missing = (
            f"FROM articles a WHERE a.id > :after AND NOT EXISTS "
            f"(SELECT 1 FROM {TABLE} s WHERE s.rowid = a.id)"
        )
    total = int(connection.execute(text(f"SELECT count(*) {missing}"), {"after": 0}).scalar_one())
    done, after = 0, 0
    while done < total:
        rows = connection.execute(
            text(f"SELECT a.id, a.title, a.text {missing} ORDER BY a.id LIMIT :batch"),
            {"after": after, "batch": batch},
        ).all()
        if not rows:
            break
        done += index_articles(connection, [(r[0], r[1] or "", r[2] or "") for r in rows])
        after = rows[-1][0]
        if progress is not None:
            progress(done, total)
    return done


# ---------------------------------------------------------------- queries


def _fts_string(key: str) -> str:
    return '"' + key.replace('"', '""') + '"'


def _fts_word(word: Word) -> str:
    return _fts_string(word.key) + ("*" if word.prefix else "")


def _fts_atom(atom: Atom) -> str:
    """An atom as an FTS5 phrase of most likely lemmas (for phrases and NEAR)."""
    if isinstance(atom, Word):
        return _fts_word(atom)
    return " + ".join(_fts_word(word) for word in atom.words)


Expand = Callable[[str], "Sequence[str] | None"]


def fts5_query(node: Node, expand: Expand | None = None) -> str:
    """The FTS5 MATCH expression for a query (see the module docstring for the columns);
    ``expand(prefix)``: the words a prefix* begins, None to leave it to FTS5."""
    if isinstance(node, Word):
        if node.prefix:
            words = expand(node.key) if expand is not None else None
            if words is not None:
                if not words:
                    words = [node.key]  # begins no word: finds nothing, as the prefix would
                return "{title body alt forms} : (" + " OR ".join(map(_fts_string, words)) + ")"
            return "{title body alt forms} : " + _fts_word(node)
        keys = " OR ".join(_fts_string(key) for key in node.keys)
        return "{title body alt} : (" + keys + ")"
    if isinstance(node, Phrase):
        return "{title body} : (" + _fts_atom(node) + ")"
    if isinstance(node, Near):
        first, second = _fts_atom(node.first), _fts_atom(node.second)
        return "{title body} : NEAR(" + f"{first} {second}, {node.within})"
    if isinstance(node, AnyOf | NoneOf):  # NoneOf only inside AllOf: its NOT is there
        return " OR ".join(f"({fts5_query(child, expand)})" for child in node.children)
    assert isinstance(node, AllOf)
    positive = [c for c in node.children if not isinstance(c, NoneOf)]
    negative = [c for c in node.children if isinstance(c, NoneOf)]
    out = " AND ".join(f"({fts5_query(child, expand)})" for child in positive)
    for child in negative:
        out = f"({out}) NOT ({fts5_query(child, expand)})"
    return out


def _long_prefix_expander(connection: Connection) -> Expand:
    """Words of the word list a prefix longer than the prefix indexes begins (SQLite)."""
    longest = max(int(n) for n in PREFIXES.split())
    listed: list[bool] = []  # whether the word list exists: asked once, when first needed

    def expand(prefix: str) -> Sequence[str] | None:
        if len(prefix) <= longest or fts_tokens([prefix]) != {prefix}:
            return None
        if not listed:
            found = connection.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (WORDS,)
            ).first()
            listed.append(found is not None)
        if not listed[0]:
            return None
        words = (
            connection.exec_driver_sql(
                f"SELECT word FROM {WORDS} WHERE word >= ? AND word < ? ORDER BY word LIMIT ?",
                (prefix, prefix + "\U0010ffff", MAX_EXPANSION + 1),
            )
            .scalars()
            .all()
        )
        return None if len(words) > MAX_EXPANSION else [str(w) for w in words]

    return expand


def _ts_word(word: Word, weights: str) -> str:
    if word.prefix:
        return f"{_quote(word.key)}:*{weights}"
    return f"{_quote(word.key)}:{weights}"


def _ts_atom(atom: Atom) -> str:
    """An atom as a tsquery phrase of most likely lemmas."""
    if isinstance(atom, Word):
        return _ts_word(atom, "AB")
    return "(" + " <-> ".join(_ts_word(word, "AB") for word in atom.words) + ")"


def tsquery(node: Node) -> str:
    """The tsquery literal for a query: the same meaning as :func:`fts5_query`."""
    if isinstance(node, Word):
        if node.prefix:
            return _ts_word(node, "")
        return "(" + " | ".join(f"{_quote(key)}:ABC" for key in node.keys) + ")"
    if isinstance(node, Phrase):
        return _ts_atom(node)
    if isinstance(node, Near):
        first, second = _ts_atom(node.first), _ts_atom(node.second)
        # ``x <d> y``: y starts d positions after x ends (phrases too), so d - 1 words between
        ways = [f"({first} <{gap}> {second})" for gap in range(1, node.within + 2)]
        ways += [f"({second} <{gap}> {first})" for gap in range(1, node.within + 2)]
        return "(" + " | ".join(ways) + ")"
    if isinstance(node, AnyOf):
        return "(" + " | ".join(tsquery(child) for child in node.children) + ")"
    if isinstance(node, NoneOf):
        return "!(" + " | ".join(tsquery(child) for child in node.children) + ")"
    return "(" + " & ".join(tsquery(child) for child in node.children) + ")"


@dataclass(frozen=True)
class SearchFilters:
    """What narrows a search: articles matched by ``watchlist``, published since ``since``."""

    watchlist: str | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class SearchHit:
    """One article found: its title and a snippet of its text, with ``[start, end)`` highlights."""

    article_id: int
    title: str
    title_highlights: tuple[tuple[int, int], ...]
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    url: str | None
    source: str
    language: str | None
    published_at: datetime
    story_id: int | None

    def title_parts(self) -> list[tuple[str, bool]]:
        """The title as (text, highlighted) pieces, for a template to escape and mark."""
        return _parts(self.title, self.title_highlights)

    def snippet_parts(self) -> list[tuple[str, bool]]:
        """The snippet as (text, highlighted) pieces."""
        return _parts(self.snippet, self.highlights)

    def to_json(self) -> dict[str, Any]:
        return {
            "article_id": self.article_id,
            "title": self.title,
            "title_highlights": [list(s) for s in self.title_highlights],
            "snippet": self.snippet,
            "highlights": [list(s) for s in self.highlights],
            "url": self.url,
            "source": self.source,
            "language": self.language,
            "published_at": self.published_at.isoformat(),
            "story_id": self.story_id,
        }


def _parts(text: str, spans: Sequence[tuple[int, int]]) -> list[tuple[str, bool]]:
    out: list[tuple[str, bool]] = []
    last = 0
    for start, end in spans:
        if start > last:
            out.append((text[last:start], False))
        out.append((text[start:end], True))
        last = end
    if last < len(text):
        out.append((text[last:], False))
    return out


@dataclass(frozen=True)
class SearchPage:
    """A page of hits, newest stored first; ``next_cursor`` asks for the next page (None: last)."""

    query: str
    hits: tuple[SearchHit, ...]
    next_cursor: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "query": self.query,
            "hits": [hit.to_json() for hit in self.hits],
            "next_cursor": self.next_cursor,
        }


def _cursor_id(cursor: str | None) -> int | None:
    if cursor is None or cursor == "":
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise QueryError(f"not a search cursor: {cursor[:40]!r} (use the next_cursor given)")
    return int(cursor)


def search(
    session: Session,
    query: Query,
    filters: SearchFilters | None = None,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> SearchPage:
    """The articles ``query`` finds, newest stored first, ``limit`` at a time after ``cursor``."""
    filters = filters or SearchFilters()
    limit = max(1, min(limit, MAX_LIMIT))
    connection = session.connection()
    params: dict[str, Any] = {"limit": limit + 1}
    if connection.dialect.name == "postgresql":
        key = "s.article_id"
        where = ["s.document @@ CAST(:q AS tsquery)"]
        params["q"] = tsquery(query.root)
    else:
        key = "s.rowid"
        where = [f"{TABLE} MATCH :q"]
        params["q"] = fts5_query(query.root, _long_prefix_expander(connection))
    before = _cursor_id(cursor)
    if before is not None:
        where.append(f"{key} < :before")
        params["before"] = before
    if filters.since is not None:
        where.append("a.published_at >= :since")
        params["since"] = filters.since
    if filters.watchlist is not None:
        where.append(
            "EXISTS (SELECT 1 FROM matches m WHERE m.article_id = a.id AND m.watchlist = :watchlist)"
        )
        params["watchlist"] = filters.watchlist
    statement = text(
        "SELECT a.id, a.title, a.text, a.url, coalesce(f.title, f.url), a.language, "
        f"a.published_at, a.story_id FROM {TABLE} s JOIN articles a ON a.id = {key} "
        f"JOIN feeds f ON f.id = a.feed_id WHERE {' AND '.join(where)} "
        f"ORDER BY {key} DESC LIMIT :limit"
    )
    if filters.since is not None:
        statement = statement.bindparams(bindparam("since", type_=UTCDateTime()))
    rows = connection.execute(statement, params).all()
    hits = tuple(_hit(query, row) for row in rows[:limit])
    next_cursor = str(hits[-1].article_id) if len(rows) > limit and hits else None
    return SearchPage(query.text, hits, next_cursor)


def _hit(query: Query, row: Sequence[Any]) -> SearchHit:
    article_id, title, body, url, source, language, published_at, story_id = row
    title = title or ""
    body = body or ""
    snippet, spans = snippet_of(query, body)
    published = published_at
    if isinstance(published, str):  # SQLite through text(): the stored ISO string
        published = datetime.fromisoformat(published)
    if published.tzinfo is None:
        published = published.replace(tzinfo=UTC)
    return SearchHit(
        article_id=article_id,
        title=title,
        title_highlights=tuple(highlight_spans(query, title)),
        snippet=snippet,
        highlights=tuple(spans),
        url=url,
        source=source or "",
        language=language,
        published_at=published,
        story_id=story_id,
    )


def snippet_of(query: Query, body: str) -> tuple[str, list[tuple[int, int]]]:
    """About :data:`SNIPPET_LENGTH` characters of ``body`` around its first highlight."""
    spans = highlight_spans(query, body)
    if len(body) <= SNIPPET_LENGTH:
        return body, spans
    first = spans[0][0] if spans else 0
    start = max(0, first - SNIPPET_LENGTH // 3)
    if start:
        space = body.find(" ", start, first)
        start = space + 1 if space >= 0 else start
    end = min(len(body), start + SNIPPET_LENGTH)
    if end < len(body):
        space = body.rfind(" ", max(start, first), end)
        end = space if space > first else end
    prefix = "…" if start else ""
    suffix = "…" if end < len(body) else ""
    shift = len(prefix) - start
    kept = [(s + shift, min(e, end) + shift) for s, e in spans if s >= start and s < end]
    return prefix + body[start:end] + suffix, kept

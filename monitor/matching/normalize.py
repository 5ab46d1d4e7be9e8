"""One normalisation for article texts and watchlist terms alike, with offsets back.

``normalize("O’zbekiston-da")`` → ``"o zbekiston da"``. The steps, in order:

* zero-width characters, soft hyphens and BOMs are dropped (``Uzbek\\u00adistan`` → ``uzbekistan``);
* NFKC and casefold (``ﬁ`` → ``fi``, ``ẞ`` → ``ss``); ``ё`` → ``е``;
* Latin diacritics are folded (``Türkiye`` → ``turkiye``); other scripts keep theirs
  (``й`` stays ``й``; Devanagari vowel signs stay);
* every apostrophe variant (’ ‘ ʻ ʼ ´ `), dash and other non-letter, non-digit becomes a
  space, and runs of spaces become one; no leading or trailing space.

:func:`normalize_text` also returns a :class:`Normalized` whose ``to_original`` maps a span of
the normalised text back to the original, so a match can be highlighted where it stands.

Speed matters (every article is normalised): texts made only of "plain" characters (ASCII,
Latin, Greek, Cyrillic, Georgian, Armenian, common punctuation) take a fast path built on
``str.lower``, ``str.translate`` and one regular expression, where each character maps to
exactly one character. A text with any other character takes the general per-character
path. Both give the same result; a test checks every plain character.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import accumulate, count
from operator import add, sub

__all__ = ["Normalized", "normalize", "normalize_text", "same_capitals"]

#: dropped outright: soft hyphen, zero-width space/joiners, word joiner and friends, BOM.
_DROP = frozenset(
    "\u00ad\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u180e\u034f"
)
#: apostrophes and quote-like letters that are letters (Lm) to Unicode but punctuation to us.
_APOSTROPHES = frozenset("'’‘ʻʼʽʹˈ´`′‛ʾʿ")
#: ranges whose characters (minus the exceptions computed below) take the fast path.
_PLAIN_RANGES = (
    (0x0000, 0x024F),  # ASCII, Latin-1, Latin Extended-A/B
    (0x0370, 0x03FF),  # Greek
    (0x0400, 0x052F),  # Cyrillic and supplement
    (0x0530, 0x058F),  # Armenian
    (0x10A0, 0x10FF),  # Georgian
    (0x1E00, 0x1EFF),  # Latin Extended Additional (Vietnamese etc.)
    (0x2000, 0x206F),  # General Punctuation
    (0x20A0, 0x20CF),  # currency signs
)


_MARK_AFTER_SPACE = re.compile(
    r"(?<= )[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]+"
)


def _is_latin(char: str) -> bool:
    return "LATIN" in unicodedata.name(char, "")


def _fold_char(char: str) -> str:
    """What one character (already NFKC + casefolded) becomes: letters, or a space."""
    if char == "ё":
        return "е"
    if char in _APOSTROPHES:
        return " "
    if char.isalnum():
        if ord(char) > 0x7F and _is_latin(char):
            base = "".join(
                c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
            )
            return "".join(_fold_char(c) for c in base) if base != char else char
        return char
    if unicodedata.category(char).startswith("M"):
        return char  # a combining mark: the general path decides whether to keep it
    return " "


@lru_cache(maxsize=4096)
def _full_fold(char: str) -> str:
    """The general rule for one original character (not a combining mark, not dropped)."""
    if char in _APOSTROPHES:
        return " "  # before NFKC, which turns ´ into a space and a combining accent
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", char).casefold())
    folded = unicodedata.normalize("NFKC", folded.casefold())
    out = "".join(_fold_char(c) for c in folded)
    # spacing accents (¨ ˜ ΅) become a space and a combining mark: the mark goes too
    return _MARK_AFTER_SPACE.sub(" ", out) if out.startswith(" ") else out


def _fast_fold(char: str) -> str:
    """What the fast path does to one character: lower, translate, non-word to space."""
    lowered = char.lower().translate(_TABLE)
    return "".join(" " if _NON_WORD.fullmatch(c) else c for c in lowered)


def _build_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for start, end in _PLAIN_RANGES:
        for code in range(start, end + 1):
            char = chr(code)
            lowered = char.lower()
            if len(lowered) != 1:
                continue
            folded = _full_fold(char)
            if folded != lowered and len(folded) == 1 and not _NON_WORD.fullmatch(lowered):
                table[ord(lowered)] = folded
    return table


_NON_WORD = re.compile(r"[\W_]")
_TABLE: dict[int, str] = _build_table()
_NEEDS_TABLE = re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(_TABLE)) + "]")


def _build_unsafe() -> re.Pattern[str]:
    safe: list[str] = []
    for start, end in _PLAIN_RANGES:
        for code in range(start, end + 1):
            char = chr(code)
            if char in _DROP or unicodedata.category(char).startswith(("M", "Cs")):
                continue
            if _fast_fold(char) == _full_fold(char):
                safe.append(re.escape(char))
    return re.compile("[^" + "".join(safe) + "]")


_UNSAFE = _build_unsafe()
_NON_WORD_CHAR = re.compile(r"[^\w\s]|_")
#: the whitespace runs that shift offsets: two or more characters, or any run at either end
_LONG_RUN = re.compile(r"\s\s+")
_LONG_SPACES = re.compile(rb"  +")
#: non-ASCII punctuation common in news, replaced with ``str.replace`` (much faster than a regex)
_COMMON_PUNCTUATION = "’‘“”«»„—–…‐‑‒―•·№"
_ASCII_BYTES = bytes(
    (c + 32 if 65 <= c <= 90 else c) if chr(c).isalnum() else 32 for c in range(256)
)


@dataclass(frozen=True)
class Normalized:
    """A normalised text and the way back to the original's offsets.

    The general path records ``starts[i]``, the original offset of normalised character ``i``.
    The fast path keeps ``folded`` (the original folded one character for one character, before
    runs of non-letters were collapsed) and derives breakpoints from it only when asked.
    """

    original: str
    text: str
    folded_bytes: bytes | None = None  # the fast path's folded text, in ``codec``
    codec: str = ""
    starts: tuple[int, ...] | None = None
    folded_text: str | None = None
    #: the byte road's folded text, stripped, split at its two-space runs (none longer)
    pieces: list[bytes] | None = field(default=None, compare=False, repr=False)

    @cached_property
    def folded(self) -> str:
        """The original folded one character for one character (fast path only)."""
        if self.folded_text is not None:
            return self.folded_text
        assert self.folded_bytes is not None
        return self.folded_bytes.decode(self.codec)

    @cached_property
    def _breakpoints(self) -> tuple[list[int], list[int]]:
        """At normalised offset ``points[k]`` and after, original = normalised + ``shifts[k]``.

        The runs of spaces that were collapsed are found by one regular expression; the sums
        are taken by ``map`` and ``accumulate`` (no Python loop per run: an article has dozens).
        """
        folded: str | bytes = self.folded_bytes if self.folded_bytes is not None else self.folded
        end = len(folded)
        lead = end - len(folded.lstrip())
        tail = len(folded.rstrip())
        if lead == end:
            return [], []
        # runs strictly inside keep one space; the leading and trailing runs keep none
        pieces = self.pieces
        if pieces is not None:
            # the common case: every inner run is two spaces ("word. Word" folded), so the
            # lengths of the pieces between them give the points (no Python loop per run)
            points = [0, *map(add, accumulate(map(len, pieces[:-1])), count(1))]
            shifts = list(range(lead, lead + len(pieces)))
        else:
            points, shifts = self._runs(folded, lead, tail)
        if tail < end:
            points.append(end - (shifts[-1] + end - tail))
            shifts.append(shifts[-1] + end - tail)
        if not lead:
            del points[0], shifts[0]
        return points, shifts

    @staticmethod
    def _runs(folded: str | bytes, lead: int, tail: int) -> tuple[list[int], list[int]]:
        """Points and shifts of the inner runs, with the leading run first (see above)."""
        if isinstance(folded, bytes):  # only spaces are left in the code-page road's bytes
            spans = [match.span() for match in _LONG_SPACES.finditer(folded, lead, tail)]
        else:
            spans = [match.span() for match in _LONG_RUN.finditer(folded, lead, tail)]
        ends = [end for _, end in spans]
        # shift k = lead + (lengths of runs 0..k) - (k + 1 spaces kept)
        lengths = [end - start for start, end in spans]
        shifts = list(map(sub, accumulate(lengths, initial=lead), count()))
        return [0, *map(sub, ends, shifts[1:])], shifts

    def inner_to_original(self, start: int, end: int) -> tuple[int, int]:
        """:meth:`to_original` for a span known to lie inside the text (``0 <= start < end
        <= len(text)``): the matcher's hits. The code-page road's case is done here, quickly."""
        if self.folded_bytes is None:
            return self.to_original(start, end)
        points, shifts = self._breakpoints
        k = bisect_right(points, start) - 1
        ostart = start + shifts[k] if k >= 0 else start
        last = end - 1
        if k + 1 < len(points) and points[k + 1] <= last:  # the span crosses a collapsed run
            k = bisect_right(points, last, k + 1) - 1
        return ostart, last + (shifts[k] if k >= 0 else 0) + 1

    def to_original(self, start: int, end: int) -> tuple[int, int]:
        """The span of the original text that ``text[start:end]`` came from (``end > start``)."""
        if not self.text:
            return 0, 0
        size = len(self.text)
        start = min(max(start, 0), size - 1)
        last = min(max(end - 1, start), size - 1)
        if self.starts is None:
            points, shifts = self._breakpoints
            k = bisect_right(points, start) - 1
            ostart = start + (shifts[k] if k >= 0 else 0)
            k = bisect_right(points, last, max(k, 0)) - 1
            olast = last + (shifts[k] if k >= 0 else 0)
            if self.folded_bytes is not None:
                return ostart, olast + 1  # the code-page road drops and merges nothing
        else:
            ostart = self.starts[start]
            olast = self.starts[last]
        # the original may spell one normalised character with several (ligatures, marks)
        oend = olast + 1
        while oend < len(self.original) and (
            self.original[oend] in _DROP or unicodedata.combining(self.original[oend])
        ):
            oend += 1
        return ostart, oend


def normalize(text: str) -> str:
    """The normalised form of ``text`` (see the module docstring)."""
    return normalize_text(text).text


def normalize_text(text: str) -> Normalized:
    """Normalise ``text`` and keep what is needed to map offsets back to it."""
    if text.isascii():
        return _byte_road(text, text.encode("ascii"), *_BYTE_TABLES[0][:2])
    # English with curly quotes and dashes: those become spaces anyway, one for one
    plain = text
    for char in _ASCII_LOOKALIKES:
        if char in plain:
            plain = plain.replace(char, " ")
    if plain.isascii():
        return _byte_road(text, plain.encode("ascii"), *_BYTE_TABLES[0][:2])
    for codec, table, unsafe in _BYTE_TABLES:
        # Western European and Cyrillic texts: fold as bytes, at C speed, byte for character
        try:
            raw = text.encode(codec)
        except UnicodeEncodeError:
            continue
        if len(raw.translate(None, unsafe)) != len(raw):  # C speed, unlike a regex's class
            break
        return _byte_road(text, raw, codec, table)
    if _UNSAFE.search(text) is None:
        return _fast(text)
    return _general(text)


def _byte_road(text: str, raw: bytes, codec: str, table: bytes) -> Normalized:
    folded = raw.translate(table)
    # most runs of spaces are two long ("word. Word" folded): split on those, join with one;
    # the pieces give the breakpoints later, when a hit must be mapped back
    parts = folded.strip(b" ").split(b"  ")
    collapsed = b" ".join(parts)
    pieces: list[bytes] | None = parts
    # a longer run leaves an empty piece or one that starts with a space; the smallest piece
    # shows it (every other byte of ``folded`` is a letter or digit, above the space)
    if min(parts)[:1] in (b"", b" "):  # runs of three or more spaces: halve until none left
        pieces = None
        while b"  " in collapsed:
            collapsed = collapsed.replace(b"  ", b" ")
    decoded = collapsed.decode("latin-1") if collapsed.isascii() else collapsed.decode(codec)
    return Normalized(text, decoded, folded, codec, pieces=pieces)


#: non-ASCII punctuation of English news; each becomes a space, like any punctuation
_ASCII_LOOKALIKES = "’‘“”–—…\xa0"


def _fast(text: str) -> Normalized:
    # every step maps one character to one character, so the folded text lines up with ``text``
    lowered = text.lower()
    if _NEEDS_TABLE.search(lowered) is not None:
        lowered = _NEEDS_TABLE.sub(_table_char, lowered)
    for char in _COMMON_PUNCTUATION:
        if char in lowered:
            lowered = lowered.replace(char, " ")
    lowered = _NON_WORD_CHAR.sub(" ", lowered)
    return Normalized(text, " ".join(lowered.split()), folded_text=lowered)


def _byte_table(codec: str) -> tuple[str, bytes, bytes]:
    """For a single-byte code page: each byte to the byte of its folded character.

    Also the bytes this road cannot take: characters the general path must handle
    (soft hyphen, ß, ª) and those whose fold is outside the code page (µ → μ).
    """
    out = bytearray(range(256))
    unsafe: list[int] = []
    for byte in range(256):
        try:
            char = bytes([byte]).decode(codec)
        except UnicodeDecodeError:
            continue  # never produced by encoding a str
        if _UNSAFE.search(char):
            unsafe.append(byte)
            continue
        folded = _fast_fold(char)
        if folded.isspace():
            folded = " "  # every whitespace character becomes a plain space
        try:
            out[byte] = folded.encode(codec)[0]
        except UnicodeEncodeError:
            unsafe.append(byte)
    return codec, bytes(out), bytes(unsafe)


#: the code pages tried, in order, before the general character-by-character roads
_BYTE_TABLES = tuple(_byte_table(codec) for codec in ("cp1252", "cp1251"))


def _table_char(match: re.Match[str]) -> str:
    return _TABLE[ord(match.group())]


def _general(text: str) -> Normalized:
    out: list[str] = []
    starts: list[int] = []
    for index, char in enumerate(text):
        if char in _DROP:
            continue
        if unicodedata.combining(char) or unicodedata.category(char).startswith("M"):
            _attach_mark(out, starts, char, index)
            continue
        for piece in _full_fold(char):
            if unicodedata.category(piece).startswith("M"):
                _attach_mark(out, starts, piece, index)  # NFKC may produce marks (ำ → ํา)
                continue
            out.append(piece)
            starts.append(index)
    # collapse runs of spaces, strip the ends
    chars: list[str] = []
    kept: list[int] = []
    for piece, start in zip(out, starts, strict=True):
        if piece == " " and (not chars or chars[-1] == " "):
            continue
        chars.append(piece)
        kept.append(start)
    if chars and chars[-1] == " ":
        chars.pop()
        kept.pop()
    return Normalized(text, "".join(chars), starts=tuple(kept))


def _attach_mark(out: list[str], starts: list[int], mark: str, index: int) -> None:
    """A combining mark joins the letter before it, unless that letter is Latin (folded)."""
    if not out:
        return
    prev = out[-1]
    if unicodedata.category(prev).startswith("M"):
        out.append(mark)  # a cluster of marks on a non-Latin letter
        starts.append(index)
        return
    if not prev.isalpha() or _is_latin(prev):
        return
    composed = unicodedata.normalize("NFC", prev + mark)
    if len(composed) == 1:
        out[-1] = _full_fold(composed)[:1] or prev
    else:
        out.append(mark)
        starts.append(index)


_WORD_SPLIT = re.compile(r"[\W_]+")


def same_capitals(surface: str, written: str) -> bool:
    """Each word capitalised in ``written`` starts with a capital in ``surface`` too.

    For case-sensitive terms and names: ``Chad`` is the country, ``chad`` is not; an
    all-capitals headline (``CHAD``) still counts.
    """
    if written.isalnum() and surface.isalnum():  # one word each (most names): no splitting
        return not written[:1].isupper() or surface[:1].isupper()
    seen = [w for w in _WORD_SPLIT.split(surface) if w]
    for word, found in zip((w for w in _WORD_SPLIT.split(written) if w), seen, strict=False):
        if word[:1].isupper() and not found[:1].isupper():
            return False
        if word[:1].islower() and word[1:2].isupper():
            continue  # "iPhone"-like spellings: only the capitals that are written
    return True

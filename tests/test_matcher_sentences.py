"""Sentence boundaries (for snippets and the same-sentence bonus): the fast scan agrees with
the plain definition, character by character, on any text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from monitor.matching.matcher import _sentence_starts

CLOSING = "\"'”»)]"


def plain_starts(text: str) -> list[int]:
    """The definition, one mark at a time: after . ! ? … 。 (and closing quotes) and spaces,
    or after a line break (and closing quotes)."""
    starts = [0]
    size = len(text)
    for mark, char in enumerate(text):
        if char not in ".!?…。\n":
            continue
        position = mark + 1
        while position < size and text[position] in CLOSING:
            position += 1
        if position < size and text[position].isspace():
            while position < size and text[position].isspace():
                position += 1
        elif char != "\n":
            continue
        if position > starts[-1]:
            starts.append(position)
    return starts


def test_sentences_of_a_short_article() -> None:
    text = 'Nepal said no. "Recruiters lied!" he said.\nU.S. officials… agreed 3.5 times.'
    words = [text[start:].split()[0] for start in _sentence_starts(text)]
    # "U.S." before a space ends a sentence (the snippet may start there); "3.5" does not
    assert words == ["Nepal", '"Recruiters', "he", "U.S.", "officials…", "agreed"]


def test_plain_full_stops() -> None:
    # the one-search road: only ". " between sentences, a last full stop at the very end
    text = "Recruiters came. Nepal protested. Families waited."
    assert _sentence_starts(text) == plain_starts(text) == [0, 17, 34]
    # a full stop before two spaces or inside a number takes the careful road, same answer
    for text in ("Recruiters came.  Nepal protested.", "It cost 3.5 million. Nepal paid."):
        assert _sentence_starts(text) == plain_starts(text)


def test_a_line_break_ends_a_sentence_even_without_a_space() -> None:
    assert _sentence_starts("Tashkent\n»Court") == [0, 10]
    assert _sentence_starts("no marks at all") == [0]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?…。\n\t\"'”»)]")), max_size=40))
def test_the_fast_scan_agrees_with_the_definition(text: str) -> None:
    assert _sentence_starts(text) == plain_starts(text)

"""Stories: which story each new entry of a batch belongs to. Pure: a plan, written by ``write``.

An entry joins the story of the same canonical URL, else of near-identical text (its
MinHash against stored articles sharing a band key, and against the batch's own),
else starts a new one. An entry with the URL of one story and the text of another
joins the two (stored or new: union-find over references). The write stage looks up
the stored stories (by URL, by band key, first seen within ``STORY_WINDOW``), hands
them here, and applies the ``StoryPlan``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from monitor.articles import best_match
from monitor.feeds.parse import Entry

STORY_WINDOW = timedelta(days=30)  # near-duplicates are looked for among this recent past


@dataclass(frozen=True)
class StoryPlan:
    """Per entry (same order): its story reference, and whether it joined a story seen before.

    A reference ``>= 0`` is a stored story id; ``< 0`` a story this batch creates, whose
    fingerprints ``new_stories`` lists (reference -1 first). ``merges`` are stored
    stories found to be one: (the one that goes, the one it joins).
    """

    refs: tuple[int, ...]
    joined: tuple[bool, ...]
    new_stories: tuple[str | None, ...]
    merges: tuple[tuple[int, int], ...]


def plan_stories(
    entries: Sequence[Entry],
    by_url: Mapping[str, int],
    candidates: Mapping[int, Sequence[tuple[int, bytes]]],
) -> StoryPlan:
    """The story of each entry, given stored stories by canonical URL and by band key."""
    stories = _StoryRefs()
    refs: list[int] = []
    joined: list[bool] = []
    batch_urls: dict[str, int] = {}
    # The batch's own signatures by band key, without a list per key (measured: 3.7 %
    # of a first poll's main process went to building one for each band key of an entry).
    batch_pairs: list[tuple[int, bytes]] = []  # (reference, MinHash) of each entry
    batch_bands: dict[int, int] = {}  # band key → the first entry with it
    more_bands: dict[int, list[int]] = {}  # band key → later entries with it (rare)
    for entry in entries:
        url_ref: int | None = None
        text_ref: int | None = None
        if entry.canonical_url:
            url_ref = batch_urls.get(entry.canonical_url, by_url.get(entry.canonical_url))
        if entry.signature is not None:
            pool: list[tuple[int, bytes]] = []
            for band in entry.signature.bands:
                pool.extend(candidates.get(band, ()))
                first = batch_bands.get(band)
                if first is not None:
                    pool.append(batch_pairs[first])
                    pool.extend(batch_pairs[i] for i in more_bands.get(band, ()))
            text_ref = best_match(entry.signature, pool)
        ref = url_ref if url_ref is not None else text_ref
        if url_ref is not None and text_ref is not None:
            stories.join(url_ref, text_ref)  # same URL as one story, same text as another
        joined.append(ref is not None)
        if ref is None:
            ref = stories.new(entry.content_hash)
        refs.append(ref)
        if entry.canonical_url:
            batch_urls.setdefault(entry.canonical_url, ref)
        if entry.signature is not None:
            index = len(batch_pairs)
            batch_pairs.append((ref, entry.signature.values))
            for band in entry.signature.bands:
                if batch_bands.setdefault(band, index) != index:
                    more_bands.setdefault(band, []).append(index)
    roots = [stories.find(ref) for ref in refs]
    # New stories that were joined into another are not created: renumber the roots.
    new_roots = sorted({root for root in roots if root < 0}, reverse=True)
    renumber = {root: -(index + 1) for index, root in enumerate(new_roots)}
    return StoryPlan(
        refs=tuple(renumber.get(root, root) for root in roots),
        joined=tuple(joined),
        new_stories=tuple(stories.fingerprint(root) for root in new_roots),
        merges=tuple(stories.merges),
    )


class _StoryRefs:
    """Story references of one batch: stored story ids (>= 0) and new stories (< 0), joinable."""

    def __init__(self) -> None:
        self._parent: dict[int, int] = {}
        self._fingerprints: list[str | None] = []
        self.merges: list[tuple[int, int]] = []  # stored story → the stored story it joins

    def new(self, fingerprint: str | None) -> int:
        self._fingerprints.append(fingerprint)
        return -len(self._fingerprints)

    def fingerprint(self, ref: int) -> str | None:
        return self._fingerprints[-ref - 1]

    def find(self, ref: int) -> int:
        while (parent := self._parent.get(ref, ref)) != ref:
            self._parent[ref] = self._parent.get(parent, parent)
            ref = parent
        return ref

    def join(self, keep: int, other: int) -> None:
        """One story from two; a stored story is kept over a new one, ``keep`` over ``other``."""
        keep, other = self.find(keep), self.find(other)
        if keep == other:
            return
        if keep < 0 <= other:
            keep, other = other, keep
        self._parent[other] = keep
        if other >= 0:
            self.merges.append((other, keep))

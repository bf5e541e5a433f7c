"""Rows that nearly copy another row: the same conversation up to a few characters.

Two conversation texts are near copies when rapidfuzz's ratio (0–100, from the Indel distance) is at
least `SCORE`. Comparing every pair is quadratic, so candidates come from shared *segments*: a text is
cut at punctuation and line breaks and keeps its `_PER_TEXT` longest pieces (a long piece also its start
and its end); two texts are compared only when they share a segment that at most `BUCKET_CAP` distinct
texts hold (a segment every row has, such as "tell me about hydrogen", says nothing). A near copy
changes a few characters, so it keeps most of its segments.

The index is kept between checks and *updated*: `update` adds the texts that are new and drops the
ones that are gone, and every comparison is remembered by the pair of texts, so an edit in a
100,000-row dataset compares the edited row with its few candidates and nothing else.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from itertools import chain

SCORE = 95.0  # rapidfuzz ratio (0–100) of the conversation text, system prompt left out
BUCKET_CAP = 32  # a segment held by more distinct texts than this produces no candidates
_MIN_SEGMENT = 20  # characters: shorter pieces ("so bright", "number 2") are too common to point anywhere
_PER_TEXT = 4  # segments kept per text: its longest (a near copy keeps most of them)
_LONG = 120  # characters: a longer piece also gives its first and last `_LONG // 2` characters
# Pieces are cut at every ASCII character other than a letter, digit, "_", "'" or a space (punctuation,
# line breaks), by one C-speed `str.translate`.
_CUT = {c: "\n" for c in range(128) if not (chr(c).isalnum() or chr(c) in "_' ")}


def segments(text: str) -> tuple[str, ...]:
    """The pieces of a (normalised) text that candidates are found by: its longest pieces between
    punctuation or line breaks; a long piece also by its start and its end, so an edit in its middle
    still leaves something to find it by."""
    pieces = {p.strip() for p in text.translate(_CUT).split("\n") if len(p) >= _MIN_SEGMENT}
    if len(pieces) > _PER_TEXT:  # the longest, ties in alphabetical order (two C sorts: the second is stable)
        ordered = sorted(pieces)
        ordered.sort(key=len, reverse=True)
        pieces = set(ordered[:_PER_TEXT])
    for piece in [p for p in pieces if len(p) > _LONG]:
        pieces.update((piece[: _LONG // 2], piece[-(_LONG // 2):]))
    whole = text.strip()
    if not pieces and whole:  # only short pieces: the text's first and last characters stand for it
        pieces = {whole[:_MIN_SEGMENT], whole[-_MIN_SEGMENT:]}
    return tuple(pieces)


class NearDuplicateIndex:
    """Segments -> texts, kept up to date with `update`; `pairs` answers for one list of texts."""

    def __init__(self) -> None:
        self._held: Counter[str] = Counter()  # text -> how many rows hold it
        self._segments: dict[str, tuple[str, ...]] = {}
        self._buckets: dict[str, set[str]] = defaultdict(set)
        self._scores: dict[tuple[str, str], float] = {}  # (text, text) sorted -> ratio, 0.0 below SCORE
        self._matches: dict[str, dict[str, float]] = {}  # text -> its near copies, until a bucket of it changes
        self.compared = 0  # rapidfuzz comparisons made so far (tests count them)

    def update(self, texts: Iterable[str], known: Mapping[str, tuple[str, ...]] | None = None) -> None:
        """Make the index hold exactly `texts` (with repeats): add what is new, drop what is gone.
        `known`: texts' segments already worked out (a new text not in it is cut here)."""
        wanted = Counter(texts)
        touched: set[str] = set()  # segments whose texts changed: their texts' matches are out of date
        remember = bool(self._matches)
        for text in self._held.keys() - wanted.keys():
            for segment in self._segments.pop(text, ()):
                if remember:
                    touched.add(segment)
                bucket = self._buckets[segment]
                bucket.discard(text)
                if not bucket:
                    del self._buckets[segment]
            self._matches.pop(text, None)
        for text in wanted.keys() - self._held.keys():
            found = known[text] if known is not None and text in known else segments(text)
            self._segments[text] = found
            for segment in found:
                self._buckets[segment].add(text)
            if remember:
                touched.update(found)
        for segment in touched:
            for text in self._buckets.get(segment, ()):
                self._matches.pop(text, None)
        self._held = wanted
        if len(self._scores) > 4 * len(wanted) + 100_000:  # forget comparisons of texts long gone
            self._scores = {k: v for k, v in self._scores.items() if k[0] in wanted and k[1] in wanted}

    def _score(self, a: str, b: str) -> float:
        if abs(len(a) - len(b)) * 100 > (100 - SCORE) * (len(a) + len(b)):
            return 0.0  # the ratio is at most 100 * (1 - |len a - len b| / (len a + len b)): below SCORE
        key = (a, b) if a < b else (b, a)
        score = self._scores.get(key)
        if score is None:
            from rapidfuzz import fuzz

            self.compared += 1
            score = fuzz.ratio(a, b, score_cutoff=SCORE)
            self._scores[key] = score
        return score

    def candidates(self, text: str) -> set[str]:
        """Other texts sharing a segment with `text` that few texts hold."""
        out: set[str] = set()
        for segment in self._segments[text] if text in self._segments else segments(text):
            bucket = self._buckets.get(segment)
            if bucket and len(bucket) <= BUCKET_CAP:
                out.update(bucket)
        out.discard(text)
        return out

    def matches(self, text: str) -> dict[str, float]:
        """Texts that `text` nearly copies, with their similarity (its candidates at or above SCORE)."""
        found = self._matches.get(text)
        if found is None:
            found = {}
            for other in self.candidates(text):
                score = self._score(text, other)
                if score:
                    found[other] = score
            if text in self._held:
                self._matches[text] = found
        return found

    def pairs(self, texts: Sequence[str | None]) -> dict[int, tuple[int, float]]:
        """For each position j, the earlier position it nearly copies and how alike (0–100): the most
        alike, then the earliest. None marks a row left out (not a conversation, or an exact copy).
        The index must hold these texts (`update`)."""
        first: dict[str, int] = {}
        for j, text in enumerate(texts):
            if text is not None and text not in first:
                first[text] = j
        found: dict[int, tuple[int, float]] = {}
        for j, text in enumerate(texts):
            if text is None:
                continue
            best: tuple[int, float] | None = None
            if first[text] < j:  # the same text earlier: only the system prompt or spacing differs
                best = (first[text], 100.0)
            for other, score in self.matches(text).items():
                i = first.get(other)
                if i is None or i >= j:
                    continue
                if best is None or (score, -i) > (best[1], -best[0]):
                    best = (i, score)
            if best is not None:
                found[j] = best
        return found


def near_pairs(texts: Sequence[str | None],
               found: Sequence[tuple[str, ...] | None] | None = None) -> dict[int, tuple[int, float]]:
    """`NearDuplicateIndex.pairs` on a fresh index (a one-off check, such as the command line's).
    `found`: each text's `segments`, already cut (the command line cuts them on two cores).

    Nothing is kept afterwards, so only what can give a candidate is indexed: a segment two to
    `BUCKET_CAP` texts hold, and the texts holding one (and any text held twice). A text with no such
    segment has no candidate in the full index either; the pairs are the same, found without a bucket
    for every piece of 100,000 texts."""
    cut: dict[str, tuple[str, ...]] = {}
    if found is not None:
        for text, pieces in zip(texts, found, strict=True):
            if text is not None and text not in cut:
                cut[text] = pieces if pieces is not None else segments(text)
    else:
        for text in texts:
            if text is not None and text not in cut:
                cut[text] = segments(text)
    holders = Counter(chain.from_iterable(cut.values()))  # segment -> distinct texts holding it
    useful = {segment for segment, n in holders.items() if 2 <= n <= BUCKET_CAP}
    repeated = Counter(t for t in texts if t is not None)
    kept: dict[str, tuple[str, ...]] = {}
    for text, pieces in cut.items():
        shared = () if useful.isdisjoint(pieces) else tuple(p for p in pieces if p in useful)
        if shared or repeated[text] > 1:
            kept[text] = shared
    index = NearDuplicateIndex()
    index.update((t for t in texts if t is not None and t in kept), kept)
    return index.pairs([t if t is not None and t in kept else None for t in texts])

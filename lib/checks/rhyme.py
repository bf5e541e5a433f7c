"""Do two end words rhyme? "rhyme", "near", "repeat", "no" or "unverified", in plain words.

Two words rhyme when their sounds from the last stressed vowel on match (lib.checks.pronunciation
says how each is said); near rhymes (time/line, Quaker/Jamaica in a British accent,
singular/plural) are accepted and named. Words the dictionary lacks get a guess from dictionary
words spelled alike; a rhyme that cannot be confirmed is "unverified", never "no". An unstressed
pronoun at the end ("please her") rhymes with the word before it.
"""

from __future__ import annotations

import re
from functools import lru_cache

from lib.checks.pronunciation import VOWELS, compound_guess, guessed_pronunciations, is_vowel, pronunciations


@lru_cache(maxsize=100_000)
def _rhyme_tail(phones: str) -> tuple[str, ...]:
    """Sounds from the last stressed vowel on (the last vowel if none is stressed), stress kept."""
    seq = phones.split()
    idx = next((i for i in range(len(seq) - 1, -1, -1) if is_vowel(seq[i]) and seq[i][-1] in "12"), None)
    if idx is None:
        idx = next((i for i in range(len(seq) - 1, -1, -1) if is_vowel(seq[i])), 0)
    return tuple(seq[idx:])


@lru_cache(maxsize=100_000)
def _last_syllables(phones: str, k: int = 1) -> tuple[str, ...]:
    """Phones from the k-th last vowel on; empty when the word has fewer than k syllables."""
    seq = phones.split()
    vowels = [i for i, p in enumerate(seq) if is_vowel(p)]
    return tuple(seq[vowels[-k]:]) if len(vowels) >= k else ()


def _plain(tail: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(p.rstrip("012") for p in tail)


_CONSONANT_CLASS = {
    "M": "N", "NG": "N", "D": "T", "B": "P", "G": "K", "Z": "S", "V": "F", "DH": "TH", "JH": "CH", "ZH": "SH",
}
# Stressed vowels close enough for a near rhyme (cot/caught, hull/bull, look/Luke).
_VOWEL_PAIRS = {frozenset(p) for p in (("AA", "AO"), ("AH", "UH"), ("UH", "UW"))}


@lru_cache(maxsize=100_000)
def _lenient(tail: tuple[str, ...]) -> tuple[str, ...]:
    """A rough form for near rhymes: no R after a vowel (British), R/Y/W glides dropped,
    unstressed vowels alike, voiced~voiceless and m~n~ng alike, a final s/t/d after a consonant
    ignored (sight/sights)."""
    if not tail:
        return tail
    out = [tail[0].rstrip("012")]
    for p in tail[1:]:
        if p in {"R", "Y", "W", "HH"}:
            continue
        if is_vowel(p):
            v = "@" if p.endswith("0") else p.rstrip("012")
            if v == "@" and out[-1] == "@":
                continue
            out.append(v)
        else:
            out.append(_CONSONANT_CLASS.get(p, p))
    while len(out) > 2 and out[-1] in {"S", "T"} and out[-2] not in VOWELS and out[-2] != "@":
        out.pop()
    return tuple(out)


@lru_cache(maxsize=100_000)
def _near(pa: str, pb: str) -> bool:
    la, lb = _lenient(_rhyme_tail(pa)), _lenient(_rhyme_tail(pb))
    if la[1:] == lb[1:] and (la[0] == lb[0] or frozenset((la[0], lb[0])) in _VOWEL_PAIRS):
        return True
    # The same last syllable(s), stressed in one word only: "see" / "chemistry", "museum" / "magnesium".
    for k in (1, 2):
        sa, sb = _last_syllables(pa, k), _last_syllables(pb, k)
        if sa and _plain(sa) == _plain(sb) and ((sa == _rhyme_tail(pa) and sa[0][-1] in "12")
                                                or (sb == _rhyme_tail(pb) and sb[0][-1] in "12")):
            return True
    return False


WEAK_PRONOUNS = {"her": "ER0", "him": "IH0 M", "them": "AH0 M", "em": "AH0 M", "'em": "AH0 M",
                  "it": "IH0 T", "us": "AH0 S"}


def clean_word(word: str) -> str:
    return re.sub(r"[^a-z' \-]", "", word.lower().replace("’", "'")).strip("'- ")


@lru_cache(maxsize=50_000)
def end_pronunciations(word: str) -> tuple[tuple[str, ...], bool]:
    """Pronunciations of an end word (or "please her" phrase) and whether they are only guesses."""
    if " " in word:  # "forsook her" rhymes with "Lucca", and "her" alone with "stir"
        head, pronoun = word.rsplit(" ", 1)
        heads, guessed = end_pronunciations(head)
        weak = WEAK_PRONOUNS.get(pronoun)
        combined = tuple(h + " " + weak for h in heads) if weak else ()
        return (*combined, *pronunciations(pronoun)), guessed
    prons = pronunciations(word)
    if prons:
        return prons, False
    guess = compound_guess(word)
    return tuple(dict.fromkeys((*guess, *guessed_pronunciations(word)))), True

@lru_cache(maxsize=100_000)
def _plain_tail(phones: str) -> tuple[str, ...]:
    return _plain(_rhyme_tail(phones))


def _compare(pa: tuple[str, ...], pb: tuple[str, ...]) -> str:
    tails_a = {_plain_tail(p) for p in pa}
    tails_b = {_plain_tail(p) for p in pb}
    if tails_a & tails_b:
        return "rhyme"
    if any(_near(x, y) for x in pa for y in pb):
        return "near"
    return "no"


def rhyme(a: str, b: str) -> str:
    """How two end words rhyme: "repeat", "rhyme", "near", "no" or "unverified".

    "no" needs both words in the dictionary (or the element table); for an unknown word the
    spelling and look-alike words can confirm a rhyme but never deny one.
    """
    return _rhyme(a, b) if a <= b else _rhyme(b, a)


@lru_cache(maxsize=200_000)
def _rhyme(a: str, b: str) -> str:
    wa, wb = clean_word(a), clean_word(b)
    if not wa or not wb:
        return "no"  # a line without a word has nothing to rhyme with
    if wa == wb:
        return "repeat"
    pa, guess_a = end_pronunciations(wa)
    pb, guess_b = end_pronunciations(wb)
    if pa and pb:
        verdict = _compare(pa, pb)
        if not (guess_a or guess_b) or verdict != "no":
            return verdict
    if _spelling_rhyme(wa, wb):
        return "rhyme"
    return "unverified"


def _spelling_ending(word: str) -> str:
    m = re.search(r"[aeiouy]+[^aeiouy]*(?:[aeiouy]+[^aeiouy]*)?$", word)
    if not m:
        return ""
    return word[max(0, m.start() - 1):] if len(word) - m.start() < 4 else word[m.start():]


def _spelling_rhyme(a: str, b: str) -> bool:
    """Same spelling from the last vowel groups (plus a letter when short) on: Bohemia/Euphemia, Jodd/odd."""
    a, b = a.split()[-1].split("-")[-1], b.split()[-1].split("-")[-1]
    ea, eb = _spelling_ending(a), _spelling_ending(b)
    return (len(ea) >= 3 and b.endswith(ea)) or (len(eb) >= 3 and a.endswith(eb))

"""Is this answer a limerick? Lines, AABBA rhyme, syllables and beats, in plain words.

How it decides:
- Lines: newlines when there are any, else the separator the text uses (" - " as in the app's
  example data, " / ", " | ", "; "). A " - " inside a line ("so bright - it glows") is read as part
  of the line when that is the only way to get five well-formed lines.
- Rhyme: the CMU Pronouncing Dictionary (via `pronouncing`) plus a hand-written ARPAbet table for
  all 118 element names (many, like scandium or oganesson, are missing from CMU). Two words rhyme
  when their sounds from the last stressed vowel on match; near rhymes (time/line, Quaker/Jamaica
  in a British accent, singular/plural) are accepted and named. Words the dictionary lacks get a
  guess from dictionary words spelled alike; a rhyme that cannot be confirmed is "unverified"
  ("?" in the scheme), never "wrong". A repeated end word (Lear's habit) is a warning.
- Meter: lines 1, 2 and 5 have about 7-11 syllables and three beats, lines 3 and 4 about 4-7
  and two beats; the beats are fitted to the stress pattern allowing one or two unstressed
  syllables between beats (anapestic/amphibrachic).

`check(text)` is cached by content, so re-scoring a dataset of thousands of rows is cheap.
"""

from __future__ import annotations

import bisect
import re
import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

# ----------------------------------------------------------------------------- pronunciations

# ARPAbet for every element name (and the other spellings people use). Written by hand where CMU
# has no entry, and fixed where CMU's first entry is unusual (platinum as two syllables).
_ELEMENT_ARPABET = """
hydrogen HH AY1 D R AH0 JH AH0 N
helium HH IY1 L IY0 AH0 M
lithium L IH1 TH IY0 AH0 M
beryllium B ER0 IH1 L IY0 AH0 M
boron B AO1 R AA2 N
carbon K AA1 R B AH0 N
nitrogen N AY1 T R AH0 JH AH0 N
oxygen AA1 K S AH0 JH AH0 N
fluorine F L UH1 R IY2 N
neon N IY1 AA0 N
sodium S OW1 D IY0 AH0 M
magnesium M AE0 G N IY1 Z IY0 AH0 M
aluminum AH0 L UW1 M AH0 N AH0 M
aluminium AE2 L Y UW0 M IH1 N IY0 AH0 M
silicon S IH1 L AH0 K AH0 N
phosphorus F AA1 S F ER0 AH0 S
sulfur S AH1 L F ER0
sulphur S AH1 L F ER0
chlorine K L AO1 R IY2 N
argon AA1 R G AA2 N
potassium P AH0 T AE1 S IY0 AH0 M
calcium K AE1 L S IY0 AH0 M
scandium S K AE1 N D IY0 AH0 M
titanium T AY0 T EY1 N IY0 AH0 M
vanadium V AH0 N EY1 D IY0 AH0 M
chromium K R OW1 M IY0 AH0 M
manganese M AE1 NG G AH0 N IY2 Z
iron AY1 ER0 N
cobalt K OW1 B AO2 L T
nickel N IH1 K AH0 L
copper K AA1 P ER0
zinc Z IH1 NG K
gallium G AE1 L IY0 AH0 M
germanium JH ER0 M EY1 N IY0 AH0 M
arsenic AA1 R S AH0 N IH0 K
selenium S AH0 L IY1 N IY0 AH0 M
bromine B R OW1 M IY2 N
krypton K R IH1 P T AA0 N
rubidium R UW0 B IH1 D IY0 AH0 M
strontium S T R AA1 N T IY0 AH0 M
yttrium IH1 T R IY0 AH0 M
zirconium Z ER0 K OW1 N IY0 AH0 M
niobium N AY0 OW1 B IY0 AH0 M
molybdenum M AH0 L IH1 B D AH0 N AH0 M
technetium T EH0 K N IY1 SH IY0 AH0 M
ruthenium R UW0 TH IY1 N IY0 AH0 M
rhodium R OW1 D IY0 AH0 M
palladium P AH0 L EY1 D IY0 AH0 M
silver S IH1 L V ER0
cadmium K AE1 D M IY0 AH0 M
indium IH1 N D IY0 AH0 M
tin T IH1 N
antimony AE1 N T AH0 M OW2 N IY0
tellurium T EH0 L UH1 R IY0 AH0 M
iodine AY1 AH0 D AY2 N
xenon Z IY1 N AA0 N
cesium S IY1 Z IY0 AH0 M
caesium S IY1 Z IY0 AH0 M
barium B EH1 R IY0 AH0 M
lanthanum L AE1 N TH AH0 N AH0 M
cerium S IH1 R IY0 AH0 M
praseodymium P R EY2 Z IY0 OW0 D IH1 M IY0 AH0 M
neodymium N IY2 OW0 D IH1 M IY0 AH0 M
promethium P R AH0 M IY1 TH IY0 AH0 M
samarium S AH0 M EH1 R IY0 AH0 M
europium Y UH0 R OW1 P IY0 AH0 M
gadolinium G AE2 D AH0 L IH1 N IY0 AH0 M
terbium T ER1 B IY0 AH0 M
dysprosium D IH0 S P R OW1 Z IY0 AH0 M
holmium HH OW1 L M IY0 AH0 M
erbium ER1 B IY0 AH0 M
thulium TH UW1 L IY0 AH0 M
ytterbium IH0 T ER1 B IY0 AH0 M
lutetium L UW0 T IY1 SH IY0 AH0 M
hafnium HH AE1 F N IY0 AH0 M
tantalum T AE1 N T AH0 L AH0 M
tungsten T AH1 NG S T AH0 N
wolfram W UH1 L F R AE2 M
rhenium R IY1 N IY0 AH0 M
osmium AA1 Z M IY0 AH0 M
iridium IH0 R IH1 D IY0 AH0 M
platinum P L AE1 T AH0 N AH0 M
gold G OW1 L D
mercury M ER1 K Y ER0 IY0
thallium TH AE1 L IY0 AH0 M
lead L EH1 D
bismuth B IH1 Z M AH0 TH
polonium P AH0 L OW1 N IY0 AH0 M
astatine AE1 S T AH0 T IY2 N
radon R EY1 D AA2 N
francium F R AE1 N S IY0 AH0 M
radium R EY1 D IY0 AH0 M
actinium AE0 K T IH1 N IY0 AH0 M
thorium TH AO1 R IY0 AH0 M
protactinium P R OW2 T AE0 K T IH1 N IY0 AH0 M
uranium Y UH0 R EY1 N IY0 AH0 M
neptunium N EH0 P T UW1 N IY0 AH0 M
plutonium P L UW0 T OW1 N IY0 AH0 M
americium AE2 M ER0 IH1 S IY0 AH0 M
curium K Y UH1 R IY0 AH0 M
berkelium B ER0 K IY1 L IY0 AH0 M
californium K AE2 L AH0 F AO1 R N IY0 AH0 M
einsteinium AY0 N S T AY1 N IY0 AH0 M
fermium F ER1 M IY0 AH0 M
mendelevium M EH2 N D AH0 L IY1 V IY0 AH0 M
nobelium N OW0 B EH1 L IY0 AH0 M
lawrencium L AO0 R EH1 N S IY0 AH0 M
rutherfordium R AH2 DH ER0 F AO1 R D IY0 AH0 M
dubnium D UW1 B N IY0 AH0 M
seaborgium S IY0 B AO1 R G IY0 AH0 M
bohrium B AO1 R IY0 AH0 M
hassium HH AE1 S IY0 AH0 M
meitnerium M AY0 T N IH1 R IY0 AH0 M
darmstadtium D AA0 R M SH T AA1 T IY0 AH0 M
roentgenium R EH0 N T G EH1 N IY0 AH0 M
copernicium K OW2 P ER0 N IH1 S IY0 AH0 M
nihonium N IH0 HH OW1 N IY0 AH0 M
flerovium F L AH0 R OW1 V IY0 AH0 M
moscovium M AA0 S K OW1 V IY0 AH0 M
livermorium L IH2 V ER0 M AO1 R IY0 AH0 M
tennessine T EH1 N AH0 S IY2 N
oganesson OW2 G AH0 N EH1 S AA0 N
"""

ELEMENT_PRONUNCIATIONS: dict[str, str] = {
    line.split(" ", 1)[0]: line.split(" ", 1)[1].strip()
    for line in _ELEMENT_ARPABET.strip().splitlines()
}

# Other pronunciations worth knowing: the British/older ones of place names that verse relies on.
_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "prague": ("P R EY1 G",),  # rhymed with "vague" in the 19th century
    "slough": ("S L AW1",),  # the town
    "madras": ("M AH0 D R AE1 S",),
    "again": ("AH0 G EY1 N",),
    "been": ("B IY1 N",),
}

# A few words chatbots use in element limericks that CMU lacks or gets oddly.
_EXTRA_ARPABET: dict[str, str] = {
    "ok": "OW2 K EY1",
    "okay": "OW2 K EY1",
    "alkali": "AE1 L K AH0 L AY2",
    "lanthanide": "L AE1 N TH AH0 N AY2 D",
    "lanthanides": "L AE1 N TH AH0 N AY2 D Z",
    "actinide": "AE1 K T AH0 N AY2 D",
    "actinides": "AE1 K T AH0 N AY2 D Z",
    "metalloid": "M EH1 T AH0 L OY2 D",
    "halogen": "HH AE1 L AH0 JH AH0 N",
    "halogens": "HH AE1 L AH0 JH AH0 N Z",
}

_VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
_VOICELESS = {"P", "T", "K", "F", "TH"}
_SIBILANT = {"S", "Z", "SH", "ZH", "CH", "JH"}


_CMU_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _cmu() -> dict[str, list[str]]:
    """CMU's word -> pronunciations, loaded once.

    Under a lock, because `pronouncing.init_cmu` is not thread-safe: it publishes its lookup table
    before filling it, so a second thread (two Playground columns, a page and the engine) could read
    a half-built table and cache "zebra" as an unknown word for the life of the process.
    """
    with _CMU_LOCK:
        import pronouncing

        pronouncing.init_cmu()
        return dict(pronouncing.lookup)


@lru_cache(maxsize=1)
def _reversed_words() -> list[str]:
    """CMU's alphabetic words spelled backwards, sorted: neighbours share the longest endings."""
    return sorted(w[::-1] for w in _cmu() if w.isalpha() and len(w) > 2)


def _is_vowel(phone: str) -> bool:
    return phone[:2] in _VOWELS


def _plural(phones: str) -> str:
    last = phones.split()[-1].rstrip("012")
    if last in _SIBILANT:
        return phones + " IH0 Z"
    return phones + (" S" if last in _VOICELESS else " Z")


def _past(phones: str) -> str:
    last = phones.split()[-1].rstrip("012")
    if last in {"T", "D"}:
        return phones + " IH0 D"
    return phones + (" T" if last in _VOICELESS | {"S", "SH", "CH"} else " D")


_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
                 "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen",
                 "eighteen", "nineteen"]
_TENS_WORDS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def number_to_words(n: int) -> str:
    """How a number is read aloud, for counting syllables ("1790" -> "seventeen ninety")."""
    if n < 0:
        return "minus " + number_to_words(-n)
    if n < 20:
        return _NUMBER_WORDS[n]
    if n < 100:
        return _TENS_WORDS[n // 10] + ("" if n % 10 == 0 else " " + _NUMBER_WORDS[n % 10])
    if 1100 <= n < 2000 and n % 100 != 0 and n % 1000 >= 100:  # years: "eighteen seventy-five"
        return number_to_words(n // 100) + " " + (
            number_to_words(n % 100) if n % 100 >= 10 else "oh " + number_to_words(n % 100))
    if n < 1000:
        rest = n % 100
        return _NUMBER_WORDS[n // 100] + " hundred" + ("" if rest == 0 else " and " + number_to_words(rest))
    if n < 1_000_000:
        rest = n % 1000
        return number_to_words(n // 1000) + " thousand" + ("" if rest == 0 else " " + number_to_words(rest))
    return "a large number"


@lru_cache(maxsize=50_000)
def pronunciations(word: str) -> tuple[str, ...]:
    """ARPAbet pronunciations of a word: element table, CMU, then derived forms. Empty if unknown."""
    w = word.lower().replace("’", "'").strip("'-")
    if not w:
        return ()
    if w in ELEMENT_PRONUNCIATIONS:
        return (ELEMENT_PRONUNCIATIONS[w],)
    if w in _EXTRA_ARPABET:
        return (_EXTRA_ARPABET[w],)
    cmu = _cmu()
    if w in cmu:
        return tuple(dict.fromkeys((*cmu[w], *_ALTERNATIVES.get(w, ()))))
    if "-" in w:
        parts = [p for p in w.split("-") if p]
        prons = [pronunciations(p) for p in parts]
        if parts and all(prons):
            return (" ".join(p[0] for p in prons),)
        return ()
    if w.isdigit():
        return (" ".join(pronunciations(x)[0] for x in number_to_words(int(w)).split()),)
    # Archaic and possessive forms: observ'd, roll'd, Crocodile's.
    if w.endswith("'d") and len(w) > 3:
        for base in (w[:-2] + "ed", w[:-2] + "d", w[:-2]):
            if base in cmu:
                return tuple(cmu[base])
        base_prons = pronunciations(w[:-2])
        if base_prons:
            return tuple(_past(p) for p in base_prons)
    if w.endswith("'s") and len(w) > 3:
        base_prons = pronunciations(w[:-2])
        if base_prons:
            return tuple(_plural(p) for p in base_prons)
    if "'" in w:
        return pronunciations(w.replace("'", ""))
    if not w.isalpha():
        return ()
    # Plurals and past tenses of known words.
    if w.endswith("s") and len(w) > 3:
        for base in (w[:-1], w[:-2] if w.endswith("es") else None):
            if base and (base in cmu or base in ELEMENT_PRONUNCIATIONS):
                return tuple(_plural(p) for p in pronunciations(base))
        if w.endswith("ies") and w[:-3] + "y" in cmu:
            return tuple(_plural(p) for p in cmu[w[:-3] + "y"])
    if w.endswith("ed") and len(w) > 4:
        for base in (w[:-2], w[:-1]):
            if base in cmu:
                return tuple(_past(p) for p in cmu[base])
    if w.endswith("ier") and w[:-3] + "y" in cmu:  # friskier
        return tuple(p + " ER0" for p in cmu[w[:-3] + "y"])
    # Prefixes: unmannerly, ungracious, unpleasing.
    for prefix, phones in (("un", "AH0 N"), ("dis", "D IH0 S"), ("mis", "M IH0 S")):
        if w.startswith(prefix) and w[len(prefix):] in cmu and len(w) - len(prefix) >= 4:
            return tuple(phones + " " + p for p in cmu[w[len(prefix):]])
    return ()


@lru_cache(maxsize=20_000)
def _compound_guess(word: str) -> tuple[str, ...]:
    """A guess for unknown compounds and names (waistcoat, Whitehaven): two dictionary words.

    Only a guess: "Bantry" is not "ban" + "try". Used for syllables and to confirm rhymes, never
    to deny one.
    """
    w = re.sub(r"[^a-z]", "", word.lower())
    cmu = _cmu()
    for cut in range(len(w) - 4, 2, -1):
        head, tail = w[:cut], w[cut:]
        if head in cmu and tail in cmu:
            return (cmu[head][0] + " " + cmu[tail][0],)
    return ()


def _vowel_groups_guess(word: str) -> int:
    """Syllables by spelling, for words no dictionary knows (careful with -ium, -ia, -eon)."""
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    w = re.sub(r"^y(?=[aeiou])", "", w)  # yes, yonder: y is a consonant
    w = w.replace("qu", "q")
    count = len(re.findall(r"[aeiouy]+", w))
    # Vowel pairs that are two syllables: -ium, -ia, -io (not -tion/-sion/-cious), -eo, -ua, -uo, -iet.
    count += len(re.findall(r"iu|eo|ua|uo|ii|iet|ier", w))
    count += len(re.findall(r"(?<![ctsx])i[ao]", w))
    if re.search(r"[^aeiouy]e$", w) and not re.search(r"[^aeiouy]le$", w) and count > 1:
        count -= 1  # silent final e (but 'table')
    if re.search(r"[^aeiouytd]ed$", w) and count > 1:
        count -= 1  # jumped, rolled
    if re.search(r"[^aeiouy]es$", w) and not re.search(r"(s|x|z|ch|sh|ge|ce)es$", w) and count > 1:
        count -= 1  # makes, hopes
    return max(1, count)


@lru_cache(maxsize=50_000)
def syllable_range(word: str) -> tuple[int, int]:
    """(fewest, most) syllables the word is said with."""
    prons = pronunciations(word) or _compound_guess(word)
    if prons:
        counts = [sum(1 for ph in p.split() if _is_vowel(ph)) for p in prons]
        return min(counts), max(counts)
    parts = [p for p in re.split(r"[-']", word) if p]
    n = sum(_vowel_groups_guess(p) for p in parts) or 1
    return n, n


def syllable_count(word: str) -> int:
    """Syllables in a word (its usual pronunciation)."""
    prons = pronunciations(word) or _compound_guess(word)
    if prons:
        return sum(1 for ph in prons[0].split() if _is_vowel(ph))
    return syllable_range(word)[0]


# ----------------------------------------------------------------------------- rhyme

@lru_cache(maxsize=100_000)
def _rhyme_tail(phones: str) -> tuple[str, ...]:
    """Sounds from the last stressed vowel on (the last vowel if none is stressed), stress kept."""
    seq = phones.split()
    idx = next((i for i in range(len(seq) - 1, -1, -1) if _is_vowel(seq[i]) and seq[i][-1] in "12"), None)
    if idx is None:
        idx = next((i for i in range(len(seq) - 1, -1, -1) if _is_vowel(seq[i])), 0)
    return tuple(seq[idx:])


@lru_cache(maxsize=100_000)
def _last_syllables(phones: str, k: int = 1) -> tuple[str, ...]:
    """Phones from the k-th last vowel on; empty when the word has fewer than k syllables."""
    seq = phones.split()
    vowels = [i for i, p in enumerate(seq) if _is_vowel(p)]
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
        if _is_vowel(p):
            v = "@" if p.endswith("0") else p.rstrip("012")
            if v == "@" and out[-1] == "@":
                continue
            out.append(v)
        else:
            out.append(_CONSONANT_CLASS.get(p, p))
    while len(out) > 2 and out[-1] in {"S", "T"} and out[-2] not in _VOWELS and out[-2] != "@":
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


_WEAK_PRONOUNS = {"her": "ER0", "him": "IH0 M", "them": "AH0 M", "em": "AH0 M", "'em": "AH0 M",
                  "it": "IH0 T", "us": "AH0 S"}


def _clean_word(word: str) -> str:
    return re.sub(r"[^a-z' \-]", "", word.lower().replace("’", "'")).strip("'- ")


@lru_cache(maxsize=50_000)
def _end_prons(word: str) -> tuple[tuple[str, ...], bool]:
    """Pronunciations of an end word (or "please her" phrase) and whether they are only guesses."""
    if " " in word:  # "forsook her" rhymes with "Lucca", and "her" alone with "stir"
        head, pronoun = word.rsplit(" ", 1)
        heads, guessed = _end_prons(head)
        weak = _WEAK_PRONOUNS.get(pronoun)
        combined = tuple(h + " " + weak for h in heads) if weak else ()
        return (*combined, *pronunciations(pronoun)), guessed
    prons = pronunciations(word)
    if prons:
        return prons, False
    guess = _compound_guess(word)
    return tuple(dict.fromkeys((*guess, *_guessed_prons(word)))), True


@lru_cache(maxsize=20_000)
def _guessed_prons(word: str) -> tuple[str, ...]:
    """Pronunciations of the word's ending, borrowed from dictionary words that end alike.

    Only the syllables the shared ending covers are kept; an ending shorter than the word's last
    vowel group plus one letter before it is no evidence at all.
    """
    w = re.sub(r"[^a-z]", "", word.lower())
    if len(w) < 3:
        return ()
    last_vowel = re.search(r"[aeiouy]+[^aeiouy]*e?$", w)
    if not last_vowel:
        return ()
    needed = max(3, len(w) - last_vowel.start() + 1)
    rev = w[::-1]
    words = _reversed_words()
    i = bisect.bisect_left(words, rev)
    scored = []
    for j in range(max(0, i - 10), min(len(words), i + 10)):
        cand = words[j]
        k = 0
        while k < min(len(cand), len(rev)) and cand[k] == rev[k]:
            k += 1
        if k >= needed:
            scored.append((k, cand[::-1]))
    scored.sort(reverse=True)
    out = []
    for k, cand in scored[:6]:
        trusted = max(1, len(re.findall(r"[aeiouy]+", re.sub(r"(?<=[^aeiouy])e$", "", w[-k:]))))
        for p in _cmu().get(cand, [])[:1]:
            seq = p.split()
            vowels = [i for i, ph in enumerate(seq) if _is_vowel(ph)]
            if vowels:
                out.append(" ".join(seq[vowels[max(0, len(vowels) - trusted)]:]))
    return tuple(dict.fromkeys(out))


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
    wa, wb = _clean_word(a), _clean_word(b)
    if not wa or not wb:
        return "no"  # a line without a word has nothing to rhyme with
    if wa == wb:
        return "repeat"
    pa, guess_a = _end_prons(wa)
    pb, guess_b = _end_prons(wb)
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


# ----------------------------------------------------------------------------- lines

_DASH_SEP = re.compile(r"\s+(?:-{1,2}|–|—)\s+")
_DASH_SEP_KEEP = re.compile(r"(\s+(?:-{1,2}|–|—)\s+)")
_OTHER_SEPS = [re.compile(r"\s+/\s+|\s*//\s*"), re.compile(r"\s+\|\s+"), re.compile(r"\s*;\s+")]
_LIST_MARKER = re.compile(r"^\s*(?:[-*•]\s+|\(?\d{1,2}[.)]\s+|>\s*)")
_PREAMBLE = re.compile(r"(?:^|\b)(?:here(?:'s| is)|limerick|sure|certainly|of course)\b.*[:!]\s*$", re.I)


def _pieces(text: str, sep: re.Pattern) -> list[str]:
    return [p.strip() for p in sep.split(text) if p.strip()]


def split_lines(text: str) -> list[str]:
    """The answer's lines, however they are separated (newlines, " - ", " / ", " | ", "; ")."""
    if not isinstance(text, str):
        return []
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not text:
        return []
    raw = [_LIST_MARKER.sub("", line).strip() for line in text.split("\n")]
    lines = [line for line in raw if line]
    if len(lines) > 1:
        # "Here's a limerick about gallium:" before the poem is not part of it.
        while len(lines) > 5 and (lines[0].endswith(":") or _PREAMBLE.search(lines[0])):
            lines = lines[1:]
        if len(lines) >= 3:
            return lines
        # Two lines: perhaps each holds several lines joined by a separator.
        for sep in [_DASH_SEP, *_OTHER_SEPS]:
            split = [p for line in lines for p in _pieces(line, sep)]
            if len(split) >= 4:
                return split
        return lines
    line = lines[0]
    best: list[str] = [line]
    for sep in [_DASH_SEP, *_OTHER_SEPS]:
        pieces = _pieces(line, sep)
        if len(pieces) >= 3:
            return pieces
        if len(pieces) > len(best):
            best = pieces
    return best


# ----------------------------------------------------------------------------- meter

_WORD = re.compile(r"\d+(?:st|nd|rd|th)?|[A-Za-z]+(?:['’][A-Za-z]+)*(?:-[A-Za-z]+)*")


def _tokens(line: str) -> list[str]:
    line = line.replace("°F", " degrees fahrenheit").replace("°C", " degrees celsius").replace("°", " degrees")
    out: list[str] = []
    for tok in _WORD.findall(line):
        m = re.fullmatch(r"(\d+)(st|nd|rd|th)?", tok)
        if m:
            words = number_to_words(int(m.group(1))).split() if len(m.group(1)) < 7 else ["number"]
            if m.group(2):
                words[-1] = words[-1] + "th"  # close enough for syllables: "thirty-eighth"
            out.extend(words)
        else:
            out.extend(p for p in tok.split("-") if p)
    return out


def _end_word(line: str) -> str:
    """The rhyme word; with an unstressed pronoun the two last words ("please her")."""
    toks = _WORD.findall(line)
    if not toks:
        return ""
    last = toks[-1]
    if last[0].isdigit():
        return _tokens(last)[-1]
    if last.lower() in _WEAK_PRONOUNS and len(toks) > 1 and not toks[-2][0].isdigit():
        return f"{toks[-2]} {last}"
    return last


@dataclass(frozen=True)
class _LineMeter:
    syllables: int
    low: int
    high: int
    stresses: str  # one character per syllable: "1" stressed, "0" unstressed, "?" either
    beats: int
    fits: bool  # fits the beats expected for its position


@lru_cache(maxsize=100_000)
def _word_pattern(word: str) -> str:
    prons = pronunciations(word)
    if not prons:
        return "?" * syllable_range(word)[0]
    digits = [ph[-1] for ph in prons[0].split() if _is_vowel(ph)]
    if len(digits) <= 1:
        return "?" * len(digits)
    return "".join({"1": "1", "0": "0"}.get(d, "?") for d in digits)


_GAP_COST = [1.0, 0.0, 0.0] + [1.0 + g for g in range(0, 20)]  # gap 0: clash, 1-2: fine, 3+: growing
_MAX_GAP = 6


@lru_cache(maxsize=50_000)
def _beat_costs(pattern: str, max_beats: int = 5) -> tuple[float, ...]:
    """Smallest cost of reading `pattern` with 1..max_beats beats (1-2 slack syllables between beats).

    Costs: a stressed syllable ("1") off the beat or an unstressed one ("0") on it, a clash or a
    long gap between beats, more than two syllables before the first beat or after the last.
    """
    n = len(pattern)
    inf = 1e9
    if n == 0:
        return tuple(99.0 for _ in range(max_beats))
    off = [1.0 if c == "1" else 0.0 for c in pattern]
    on = [1.0 if c == "0" else 0.0 for c in pattern]
    prefix = [0.0]
    for v in off:
        prefix.append(prefix[-1] + v)
    row = [(0.0 if i <= 2 else 0.5 + (i - 3)) + prefix[i] + on[i] for i in range(n)]
    results = []
    for beats in range(1, max_beats + 1):
        if beats > 1:
            new_row = [inf] * n
            for i in range(beats - 1, n):
                best = inf
                for p in range(max(beats - 2, i - 1 - _MAX_GAP), i):
                    cost = row[p] + _GAP_COST[i - p - 1] + prefix[i] - prefix[p + 1]
                    if cost < best:
                        best = cost
                new_row[i] = best + on[i]
            row = new_row
        total = inf
        for i in range(n):
            tail = n - 1 - i
            cost = row[i] + prefix[n] - prefix[i + 1] + (0.0 if tail <= 2 else tail - 2)
            if cost < total:
                total = cost
        results.append(total if total < inf else 99.0)
    return tuple(results)


def _beat_cost(pattern: str, beats: int) -> float:
    return _beat_costs(pattern)[beats - 1] if 1 <= beats <= 5 else 99.0


@lru_cache(maxsize=100_000)
def _line_meter(line: str, expected_beats: int) -> _LineMeter:
    toks = _tokens(line)
    low = sum(syllable_range(t)[0] for t in toks)
    high = sum(syllable_range(t)[1] for t in toks)
    n = sum(syllable_count(t) for t in toks)
    pattern = "".join(_word_pattern(t) for t in toks)
    costs = dict(enumerate(_beat_costs(pattern), start=1))
    beats = min(costs, key=lambda k: (costs[k], abs(k - expected_beats)))
    fits = costs.get(expected_beats, 99) <= min(costs.values()) + 0.5 and costs.get(expected_beats, 99) <= 1.5
    return _LineMeter(n, low, high, pattern, beats, fits)


# ----------------------------------------------------------------------------- the report

LONG_RANGE = (7, 11)  # lines 1, 2, 5: usual syllables
SHORT_RANGE = (4, 7)  # lines 3, 4
LONG_HARD = (6, 13)  # outside these the line is not a limerick line at all
SHORT_HARD = (3, 8)


@dataclass(frozen=True)
class LimerickReport:
    text: str
    lines: tuple[str, ...]
    end_words: tuple[str, ...]
    rhyme_scheme: str
    syllables: tuple[int, ...]
    stresses: tuple[str, ...]
    beats: tuple[int, ...]
    score: int
    is_limerick: bool
    problems: tuple[str, ...]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "lines": list(self.lines),
            "rhyme_scheme": self.rhyme_scheme,
            "syllables": list(self.syllables),
            "score": self.score,
            "is_limerick": self.is_limerick,
            "problems": list(self.problems),
            "warnings": list(self.warnings),
            "stresses": list(self.stresses),
            "beats": list(self.beats),
            "end_words": list(self.end_words),
        }


_GOOD = {"rhyme", "near", "repeat"}


def _scheme(end_words: list[str]) -> str:
    """Letters by confirmed rhymes; "?" for a line whose rhyme nothing could confirm or deny."""
    n = len(end_words)
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    unverified = set()
    for i in range(n):
        any_good = False
        for j in range(i):
            r = rhyme(end_words[j], end_words[i])
            if r in _GOOD:
                parent[root(i)] = root(j)
                any_good = True
        if not any_good and i > 0 and all(rhyme(end_words[j], end_words[i]) == "unverified" for j in range(i)):
            unverified.add(i)
    letters: dict[int, str] = {}
    out = []
    for i in range(n):
        r = root(i)
        if i in unverified and r == i and not any(root(k) == r for k in range(i + 1, n)):
            out.append("?")
            continue
        if r not in letters:
            letters[r] = chr(ord("A") + len(letters))
        out.append(letters[r])
    return "".join(out)


def _q(word: str) -> str:
    return f"'{word}'"


def _analyse(lines: list[str]) -> tuple[int, bool, list[str], list[str], list[_LineMeter], str, list[str]]:
    problems: list[str] = []
    warnings: list[str] = []
    n = len(lines)
    ends = [_end_word(line) for line in lines]
    expected = [3, 3, 2, 2, 3] if n == 5 else [3] * n
    meters = [_line_meter(line, expected[i]) for i, line in enumerate(lines)]
    scheme = _scheme(ends) if n else ""
    if n != 5:
        problems.append(f"found {n} line{'s' if n != 1 else ''}; a limerick has 5")
        line_points = max(0.0, 20 - 8 * abs(n - 5))
        rhyme_pairs = sum(1 for i in range(n) for j in range(i + 1, min(n, i + 3))
                          if rhyme(ends[i], ends[j]) in {"rhyme", "near"})
        score = line_points + (min(20, 7 * rhyme_pairs) if 3 <= n <= 7 else 0)
        return int(round(score)), False, problems, warnings, meters, scheme, ends
    hard = False
    score = 20.0
    # --- rhyme (45 points)
    weights = {(0, 1): 10, (0, 4): 10, (1, 4): 10, (2, 3): 15}
    value = {"rhyme": 1.0, "near": 0.85, "repeat": 0.8, "unverified": 0.6, "no": 0.0}
    status = {pair: rhyme(ends[pair[0]], ends[pair[1]]) for pair in weights}
    score += sum(weights[p] * value[status[p]] for p in weights)
    failed_a = [p for p in ((0, 1), (0, 4), (1, 4)) if status[p] == "no"]
    reported = set()
    for _i, j in failed_a:
        # Name the line that breaks the group: the one failing with both others if there is one.
        culprit = next((x for x in (4, 1, 0) if sum(1 for p in failed_a if x in p) == 2), j)
        if culprit in reported:
            continue
        reported.add(culprit)
        others = [x for x in (0, 1, 4) if x != culprit and status[tuple(sorted((x, culprit)))] == "no"]
        words = " / ".join(_q(ends[x]) for x in others)
        names = " and ".join(str(x + 1) for x in others)
        problems.append(f"line {culprit + 1} does not rhyme with line{'s' if len(others) > 1 else ''} {names}: "
                        f"{_q(ends[culprit])} / {words}")
        hard = True
    if status[(2, 3)] == "no":
        problems.append(f"line 4 does not rhyme with line 3: {_q(ends[3])} / {_q(ends[2])}")
        hard = True
    for (i, j), s in status.items():
        if s == "repeat":
            warnings.append(f"line {j + 1} ends with the same word as line {i + 1} ({_q(ends[j])}): "
                            "Lear did this, but a new rhyme word is better")
        elif s == "near":
            warnings.append(f"{_q(ends[i])} / {_q(ends[j])} is only a near rhyme")
        elif s == "unverified":
            unknown = [w for w in (ends[i], ends[j]) if _end_prons(_clean_word(w))[1]]
            what = ", ".join(_q(w) for w in unknown) or "a word"
            warnings.append(f"could not verify that lines {i + 1} and {j + 1} rhyme ({_q(ends[i])} / "
                            f"{_q(ends[j])}): {what} is not in the pronunciation dictionary")
    # B lines that rhyme outright with the A lines make AAAAA, not AABBA.
    if status[(2, 3)] in {"rhyme", "repeat"} and rhyme(ends[0], ends[2]) in {"rhyme", "repeat"} \
            and rhyme(ends[1], ends[3]) in {"rhyme", "repeat"} and status[(0, 1)] in {"rhyme", "repeat"}:
        problems.append("lines 3 and 4 rhyme with lines 1, 2 and 5 (AAAAA); a limerick's short lines "
                        "have a rhyme of their own")
        score -= 10
        hard = True
    # --- meter (35 points)
    for i, meter in enumerate(meters):
        long_line = i in (0, 1, 4)
        usual = LONG_RANGE if long_line else SHORT_RANGE
        limit = LONG_HARD if long_line else SHORT_HARD
        kind = "lines 1, 2 and 5" if long_line else "lines 3 and 4"
        in_usual = meter.high >= usual[0] and meter.low <= usual[1]
        in_limit = meter.high >= limit[0] and meter.low <= limit[1]
        score += 5 if in_usual else (2.5 if in_limit else 0)
        score += 2 if meter.fits else 0
        if not in_usual:
            sentence = (f"line {i + 1} has {meter.syllables} syllable{'s' if meter.syllables != 1 else ''}; "
                        f"{kind} usually have {usual[0]}-{usual[1]}")
            if in_limit:
                warnings.append(sentence)
            else:
                problems.append(sentence)
                hard = True
        elif not meter.fits:
            beats = 3 if long_line else 2
            warnings.append(f"line {i + 1} does not scan easily with {beats} beats "
                            f"(reads more like {meter.beats})")
    long_min = min(meters[i].high for i in (0, 1, 4))
    short_max = max(meters[i].low for i in (2, 3))
    long_avg = sum(meters[i].syllables for i in (0, 1, 4)) / 3
    short_avg = (meters[2].syllables + meters[3].syllables) / 2
    if short_avg > long_avg - 1.5 or short_max > long_min:
        problems.append("lines 3 and 4 are not shorter than lines 1, 2 and 5; in a limerick they are the "
                        "short lines (two beats against three)")
        score -= 10
        hard = True
    score = max(0.0, min(100.0, score))
    return int(round(score)), not hard, problems, warnings, meters, scheme, ends


def _merge_candidates(text: str) -> list[tuple[list[str], list[int]]]:
    """Ways to read 6 or 7 dash-separated pieces as 5 lines (a " - " inside a line), keeping each dash."""
    from itertools import combinations

    parts = _DASH_SEP_KEEP.split(text.strip())
    pieces, seps = parts[0::2], [sep.strip() for sep in parts[1::2]]
    n = len(pieces)
    out = []
    for cuts in combinations(range(1, n), 4):
        bounds = (0, *cuts, n)
        lines = []
        for k in range(5):
            line = pieces[bounds[k]].strip()
            for m in range(bounds[k] + 1, bounds[k + 1]):
                line += f" {seps[m - 1]} {pieces[m].strip()}"
            lines.append(line)
        merged = [k for k in range(5) if bounds[k + 1] - bounds[k] > 1]
        out.append((lines, merged))
    return out


@lru_cache(maxsize=20_000)
def check(text: str) -> LimerickReport:
    """Check one answer's limerick form. Same text, same (cached) report."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    lines = split_lines(text)
    extra_warnings: list[str] = []
    result = _analyse(lines)
    if len(lines) in (6, 7) and "\n" not in text.strip() and len(_DASH_SEP.split(text.strip())) == len(lines):
        best = None
        for cand, merged in _merge_candidates(text):
            res = _analyse(cand)
            if res[1] and (best is None or res[0] > best[1][0]):
                best = (cand, res, merged)
        if best is not None:
            lines, result = best[0], best[1]
            extra_warnings = [f"read the dash inside line {k + 1} as part of the line" for k in best[2]]
    elif len(lines) == 4:
        split = _split_internal_rhyme(lines)
        if split is not None:
            res = _analyse(split)
            if res[1]:
                lines, result = split, res
                extra_warnings = ["lines 3 and 4 were written as one line (as Lear printed them); read as two"]
    score, ok, problems, warnings, meters, scheme, ends = result
    return LimerickReport(
        text=text,
        lines=tuple(lines),
        end_words=tuple(ends),
        rhyme_scheme=scheme,
        syllables=tuple(m.syllables for m in meters),
        stresses=tuple(m.stresses for m in meters),
        beats=tuple(m.beats for m in meters),
        score=score,
        is_limerick=ok,
        problems=tuple(problems),
        warnings=tuple(extra_warnings + warnings),
    )


def _split_internal_rhyme(lines: list[str]) -> list[str] | None:
    """Lear's layout: lines 3 and 4 printed as one line, split at a comma whose halves rhyme."""
    third = lines[2]
    for m in re.finditer(r"[,;:!?]\s+", third):
        a, b = third[: m.start() + 1].strip(), third[m.end():].strip()
        if a and b and rhyme(_end_word(a), _end_word(b)) in {"rhyme", "near"}:
            return [lines[0], lines[1], a, b, lines[3]]
    return None


def check_many(texts: list[str]) -> list[LimerickReport]:
    return [check(t if isinstance(t, str) else "" if t is None else str(t)) for t in texts]

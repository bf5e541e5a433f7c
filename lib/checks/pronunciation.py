"""How a word is said: its pronunciations and syllables, known or guessed.

The CMU Pronouncing Dictionary (via `pronouncing`) plus a hand-written ARPAbet table for all 118
element names (many, like scandium or oganesson, are missing from CMU) and a few other words verse
relies on. A word the dictionary lacks gets a guess: plural, past tense or prefix of a known word,
two dictionary words run together, or the ending of dictionary words spelled alike; syllables fall
back to counting vowel groups. Numbers are read as words ("1790" -> "seventeen ninety").
Used by lib.checks.rhyme and lib.checks.limerick; every look-up is cached by word.
"""

from __future__ import annotations

import bisect
import re
import threading
from functools import lru_cache

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

VOWELS = {"AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW"}
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


def is_vowel(phone: str) -> bool:
    return phone[:2] in VOWELS


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
def compound_guess(word: str) -> tuple[str, ...]:
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

@lru_cache(maxsize=20_000)
def guessed_pronunciations(word: str) -> tuple[str, ...]:
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
            vowels = [i for i, ph in enumerate(seq) if is_vowel(ph)]
            if vowels:
                out.append(" ".join(seq[vowels[max(0, len(vowels) - trusted)]:]))
    return tuple(dict.fromkeys(out))


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
    prons = pronunciations(word) or compound_guess(word)
    if prons:
        counts = [sum(1 for ph in p.split() if is_vowel(ph)) for p in prons]
        return min(counts), max(counts)
    parts = [p for p in re.split(r"[-']", word) if p]
    n = sum(_vowel_groups_guess(p) for p in parts) or 1
    return n, n


def syllable_count(word: str) -> int:
    """Syllables in a word (its usual pronunciation)."""
    prons = pronunciations(word) or compound_guess(word)
    if prons:
        return sum(1 for ph in prons[0].split() if is_vowel(ph))
    return syllable_range(word)[0]

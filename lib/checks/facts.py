"""Check what an answer claims about an element against element data (lib.checks.elements).

Claims read: atomic number ("number 38", "the 38th element", "it's the fortieth", "the first in
the line"), melting and boiling points (K, °C, °F, or bare "degrees": any unit that fits),
discovery year, atomic mass, group, period and state at room temperature.

Conservative by design: a wrong "contradicted" would teach users to distrust the tool, so a
claim is only read where the wording is clear, lines that talk about another element or about a
compound (salt, oxide, water...) are skipped, tolerances are generous, and anything the data
cannot settle (ancient discoveries, the unmeasured superheavy elements, borderline states such as
gallium's) is "unverifiable".
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lib.checks import elements as E

SUPPORTED, CONTRADICTED, UNVERIFIABLE = "supported", "contradicted", "unverifiable"
PROPERTIES = ("atomic_number", "melting_point", "boiling_point", "discovery_year", "atomic_mass",
              "group", "period", "state")

# ----------------------------------------------------------------------------- numbers in words

def _words(text: str) -> list[str]:
    return text.split()


_UNITS = {w: i for i, w in enumerate(_words(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen"))}
_TENS = {w: 10 * i for i, w in enumerate(_words("_ _ twenty thirty forty fifty sixty seventy eighty ninety")) if i >= 2}
_ORD_UNITS = {w: i for i, w in enumerate(_words(
    "zeroth first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth "
    "fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth"))}
_ORD_TENS = {w: 10 * i for i, w in enumerate(_words(
    "_ _ twentieth thirtieth fortieth fiftieth sixtieth seventieth eightieth ninetieth")) if i >= 2}
_SCALE = {"hundred": 100, "thousand": 1000}
_ORD_SCALE = {"hundredth": 100, "thousandth": 1000}
_ALL_NUMBER_WORDS = {**_UNITS, **_TENS, **_ORD_UNITS, **_ORD_TENS, **_SCALE, **_ORD_SCALE}
_NUM_WORD = "|".join(sorted(_ALL_NUMBER_WORDS, key=len, reverse=True))
NUMBER_WORDS_RE = rf"(?:(?:a|one)[\s-]+)?(?:{_NUM_WORD})(?:(?:[\s-]+|[\s-]+and[\s-]+)(?:{_NUM_WORD}))*"
_DIGITS_RE = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"


def parse_number_words(text: str) -> tuple[int, bool] | None:
    """("thirty-eighth" -> (38, True)), ("one hundred and eighteen" -> (118, False)); None if not a number."""
    words = [w for w in re.split(r"[\s-]+", text.lower().strip()) if w and w != "and"]
    if not words:
        return None
    if words[0] == "a":
        words[0] = "one"
    total, current, ordinal = 0, 0, False
    last_kind = None
    for w in words:
        if ordinal:  # an ordinal ends the number
            return None
        if w in _UNITS or w in _ORD_UNITS:
            if last_kind == "unit":
                return None  # "four five" is not a number
            current += _UNITS.get(w, _ORD_UNITS.get(w, 0))
            ordinal = w in _ORD_UNITS
            last_kind = "unit"
        elif w in _TENS or w in _ORD_TENS:
            if last_kind in ("unit", "tens") or current % 100 >= 10:
                return None
            current += _TENS.get(w, _ORD_TENS.get(w, 0))
            ordinal = w in _ORD_TENS
            last_kind = "tens"
        elif w in _SCALE or w in _ORD_SCALE:
            scale = _SCALE.get(w, _ORD_SCALE.get(w, 1))
            current = max(current, 1) * scale
            if scale == 1000:
                total, current = total + current, 0
            ordinal = w in _ORD_SCALE
            last_kind = "scale"
        else:
            return None
    return total + current, ordinal


_CENTURY_WORDS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty"
_UNIT_WORDS = "one|two|three|four|five|six|seven|eight|nine"
_TEEN_WORDS = "ten|eleven|twelve|thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen"
_TENS_WORDS = "twenty|thirty|forty|fifty|sixty|seventy|eighty|ninety"
YEAR_WORDS_RE = (
    rf"(?:{_CENTURY_WORDS})[\s-]+(?:hundred(?:[\s-]+(?:and[\s-]+)?(?:(?:{_TENS_WORDS})(?:[\s-]+(?:{_UNIT_WORDS}))?|"
    rf"{_TEEN_WORDS}|{_UNIT_WORDS}))?|o(?:h)?[\s-]+(?:{_UNIT_WORDS})|(?:{_TENS_WORDS})(?:[\s-]+(?:{_UNIT_WORDS}))?|"
    rf"(?:{_TEEN_WORDS}))\b"
    rf"|two\s+thousand(?:[\s-]+(?:and[\s-]+)?(?:(?:{_TENS_WORDS})(?:[\s-]+(?:{_UNIT_WORDS}))?|{_TEEN_WORDS}|{_UNIT_WORDS}))?\b"
)


def parse_year_words(text: str) -> int | None:
    """"eighteen seventy-five" -> 1875, "eighteen-oh-seven" -> 1807, "two thousand and two" -> 2002."""
    words = [w for w in re.split(r"[\s-]+", text.lower().strip()) if w and w != "and"]
    if len(words) < 2:
        return None
    if words[0] == "two" and words[1] == "thousand":
        rest = parse_number_words(" ".join(words[2:])) if words[2:] else (0, False)
        return 2000 + rest[0] if rest and rest[0] < 100 else None
    century = _UNITS.get(words[0])
    if century is None or not 10 <= century <= 20:
        if words[0] != "twenty":
            return None
        century = 20
    rest = words[1:]
    if rest[0] == "hundred":
        tail = parse_number_words(" ".join(rest[1:])) if rest[1:] else (0, False)
        return century * 100 + tail[0] if tail and tail[0] < 100 else None
    if rest[0] in ("oh", "o"):
        rest = rest[1:]
        if len(rest) != 1 or rest[0] not in _UNITS or _UNITS[rest[0]] >= 10:
            return None
    tail = parse_number_words(" ".join(rest))
    if not tail or tail[1] or tail[0] >= 100:
        return None
    return century * 100 + tail[0]


def _parse_digits(text: str) -> float:
    return float(text.replace(",", ""))


def _ordinal_digits(text: str) -> int | None:
    m = re.fullmatch(r"(\d+)(?:st|nd|rd|th)", text.lower())
    return int(m.group(1)) if m else None


# ----------------------------------------------------------------------------- finding the element

# Element names that are also everyday words; used only when no other name is present.
_AMBIGUOUS_NAMES = {"lead", "iron", "gold", "silver", "tin", "copper", "mercury", "carbon", "nickel", "zinc"}


_SYMBOL_CONTEXT = re.compile(
    r"\bsymbol(?:\s+is|\s*:|\s*=|\s+of)?\s*['\"“‘(]?\s*([A-Z][a-z]?)(?![A-Za-z])"
    r"|\(\s*([A-Z][a-z]?)\s*\)"
)


# Two-letter symbols that are not English words or common abbreviations: "about Fe" means iron.
_STANDALONE_SYMBOLS = set(_words(
    "Fe Na Mg Sr Zn Cu Ag Au Hg Pb Sn Cl Br Kr Xe Rn Li Si Cr Mn Ni Ge Se Rb Zr Tc Ru Rh Pd Cd Sb Te Cs "
    "Ce Nd Sm Eu Gd Tb Dy Tm Yb Hf Pt Tl Fr Ac Th Np Pu Bk Cf Lr"))
_STANDALONE_RE = re.compile(r"(?<![\w'’-])(" + "|".join(sorted(_STANDALONE_SYMBOLS)) + r")(?![\w'’-])")


@lru_cache(maxsize=100_000)
def _mentions(text: str) -> tuple[tuple[int, E.Element, bool], ...]:
    """(position, element, is_ambiguous_word) for each name or clear symbol mention."""
    if not isinstance(text, str) or not text:
        return ()
    by_name = E.name_index()
    out = []
    for m in _NAME_TOKENS.finditer(text):
        word = m.group(0).lower()
        element = by_name.get(word)
        if element is None and word.endswith("s"):
            element = by_name.get(word[:-1])
            word = word[:-1]
        if element is not None:
            out.append((m.start(), element, word in _AMBIGUOUS_NAMES))
    if "symbol" in text or "(" in text:
        for m in _SYMBOL_CONTEXT.finditer(text):
            symbol = m.group(1) or m.group(2)
            element = E.by_symbol(symbol)
            if element is not None and element.symbol == symbol:
                out.append((m.start(), element, False))
    for m in _STANDALONE_RE.finditer(text):
        element = E.by_symbol(m.group(1))
        if element is not None:
            out.append((m.start(), element, False))
    stripped = text.strip().strip(".?!\"'")
    if re.fullmatch(r"[A-Z][a-z]?", stripped):
        element = E.by_symbol(stripped)
        if element is not None:
            out.append((0, element, False))
    return tuple(sorted(out, key=lambda t: t[0]))


_NAME_TOKENS = re.compile(r"(?<![A-Za-z])[A-Za-z]{3,}(?![A-Za-z])")


def find_element(text: str) -> E.Element | None:
    """The element a text is about: its first name (unambiguous names first), or a symbol used as one.

    Symbols count only in "symbol Sr", "(Sr)" or as the whole text, so "In", "As", "He", "I",
    "No", "At" and "Be" in a sentence are words, not elements.
    """
    found = _mentions(text)
    clear = [m for m in found if not m[2]]
    chosen = (clear or found)
    return chosen[0][1] if chosen else None


def find_elements(text: str) -> list[E.Element]:
    """Every element mentioned, in order of first mention."""
    seen: dict[int, E.Element] = {}
    for _, element, _ in _mentions(text):
        seen.setdefault(element.atomic_number, element)
    return list(seen.values())



def uncovered_elements(questions: Iterable[str], *, order: str = "number", seed: int | None = None,
                       limit: int | None = None) -> list[E.Element]:
    """Elements none of `questions` asks about, in atomic-number order or shuffled (`order="random"`):
    what a dataset does not cover yet, so what to generate rows for or to score a model on."""
    covered = {element.atomic_number for element in (find_element(q) for q in questions if q) if element}
    left = [e for e in E.all_elements() if e.atomic_number not in covered]
    if order == "random":
        random.Random(seed).shuffle(left)
    elif order != "number":
        raise ValueError(f"Unknown order {order!r}: choose 'number' or 'random'.")
    return left[:limit] if limit is not None else left

# ----------------------------------------------------------------------------- reports

@dataclass(frozen=True)
class Claim:
    text: str
    property: str
    stated: Any
    actual: Any
    verdict: str
    unit: str | None = None

    def to_dict(self) -> dict[str, Any]:
        d = {"text": self.text, "property": self.property, "stated": self.stated, "actual": self.actual,
             "verdict": self.verdict}
        if self.unit is not None:
            d["unit"] = self.unit
        return d


def is_contradiction(claim: Any) -> bool:
    """Whether a claim (a `Claim`, or its `to_dict()` as saved in a reply's checks) contradicts the element data."""
    verdict = claim.get("verdict") if isinstance(claim, dict) else getattr(claim, "verdict", None)
    return verdict == CONTRADICTED


@dataclass(frozen=True)
class FactReport:
    element: str | None
    symbol: str | None
    claims: tuple[Claim, ...]

    @property
    def contradicted(self) -> list[Claim]:
        return [c for c in self.claims if is_contradiction(c)]

    @property
    def supported(self) -> list[Claim]:
        return [c for c in self.claims if c.verdict == SUPPORTED]

    def to_dict(self) -> dict[str, Any]:
        return {"element": self.element, "claims": [c.to_dict() for c in self.claims]}


def _num(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# ----------------------------------------------------------------------------- claim readers

_COMPOUND_WORDS = set(_words(
    "carbonate nitrate sulfate sulphate phosphate silicate acid salt alloy steel brass bronze amalgam compound "
    "water ice steam glass ore solution mixture molecule body skin oven lava sun star flame fire core"))
_NOT_COMPOUND = {"side", "wide", "pride", "tide", "ride", "hide", "guide", "inside", "outside", "beside",
                 "aside", "decide", "provide", "divide", "collide", "glide", "slide", "bride", "stride",
                 "worldwide", "abide", "reside", "override", "ides", "sides", "rides", "tides", "guides",
                 "slides", "provides", "decides", "hides", "strides", "glides"}
_WORDS = re.compile(r"[a-z]+")


@lru_cache(maxsize=100_000)
def _mentions_compound(line: str) -> bool:
    """Does the line talk about a compound or something hot (salt, oxide, water, the sun...)?"""
    for w in _WORDS.findall(line.lower()):
        if w in _COMPOUND_WORDS or (w.endswith("s") and w[:-1] in _COMPOUND_WORDS):
            return True
        if (w.endswith("ide") or w.endswith("ides")) and len(w) > 5 and w not in _NOT_COMPOUND:
            return True
    return False


_NUMBER = rf"(?P<num>{_DIGITS_RE}|{NUMBER_WORDS_RE})"
_ORD_ANY = rf"(?P<ord>\d+(?:st|nd|rd|th)|{NUMBER_WORDS_RE})"


def _value(text: str) -> tuple[float, bool] | None:
    """A number written in digits, digits+suffix or words -> (value, is_ordinal)."""
    text = text.strip()
    if re.fullmatch(_DIGITS_RE, text):
        return _parse_digits(text), False
    od = _ordinal_digits(text)
    if od is not None:
        return float(od), True
    parsed = parse_number_words(text)
    return (float(parsed[0]), parsed[1]) if parsed else None


_ATOMIC_NUMBER_PATTERNS = [
    # 0-3: cardinal numbers in a clear frame
    re.compile(rf"\batomic\s+(?:number|no\.?)\s*(?:is|of|:|=|—|-|,)?\s*(?:just\s+|only\s+)?{_NUMBER}(?![\w.]*\d)", re.I),
    re.compile(rf"\belement\s+(?:number\s+|no\.?\s*|#\s*)?{_NUMBER}(?![\w.]*\d)(?!\s+(?:of|in|to|and|or)\b)", re.I),
    re.compile(rf"(?<!\ba\s)(?<!\bthe\s)\b(?:number(?:\s+is)?|no\.|#)\s*{_NUMBER}(?![\w.]*\d)"
               r"(?!\s+(?:of|in\s+(?:my|your|our|their|his|her)|choice|fan|priority|hit|spot\s+for))", re.I),
    re.compile(rf"(?<![\w.-]){_NUMBER}\s+protons\b", re.I),
    # 4-5: ordinals, with a word that makes them a place in the table, or alone after "it's the"
    re.compile(rf"\b(?:the\s+)?{_ORD_ANY}\s+(?:element|in\s+the\s+(?:periodic\s+)?table|on\s+the\s+(?:periodic\s+)?table|"
               rf"in\s+(?:the\s+)?line|in\s+the\s+list|in\s+order|in\s+the\s+count)\b", re.I),
    re.compile(rf"(?:\b(?:it's|it\s+is|is|i'm|i\s+am|that's|ranks?|comes|sits|stands|placed|at|in)|\w['’]s)\s+"
               rf"(?:the\s+|at\s+)?{_ORD_ANY}(?:\s+(?:place|spot|position|slot|one))?(?=\s*(?:[,.;:!?)\-–—\"']|$))", re.I),
]
# "There's a metal that's ten," / "a gas that is number eighteen;": the element the answer is about,
# called by its kind, and a bare number after it (the limerick style the sample data teaches).
_KIND_NUMBER = re.compile(
    rf"\b(?:metal|element|gas|halogen|solid|liquid)\s+(?:that['’]s|that\s+is|which\s+is|who['’]s)\s+"
    rf"(?:number\s+|no\.\s*)?{_NUMBER}(?=\s*(?:[,;:!.?)–—]|\s-|$|and\b))", re.I)
# An ordinal with nothing after it ranks something else when the line talks of these.
_OTHER_RANKING = re.compile(
    r"\b(?:most|least|\w+est\s+(?:metal|gas|element|liquid|solid)|abundant|common|noble\s+gas|halogen|"
    r"alkali|lanthanide|actinide|in\s+(?:its|the)\s+(?:group|row|period|column|family|series)|to\s+be|"
    r"discover|isolat|found|named|use|prize|place\s+in)", re.I)


_APPOSITIVE = re.compile(
    rf"(?<![A-Za-z])(?P<name>[A-Za-z]{{3,}})(?:['’]s\b|\s+is\b|\s*,\s*(?:that's|that\s+is|it's|it\s+is)\b|\s*,|\s*\(|"
    rf"\s*–|\s*—|\s+-)\s*(?P<pre>the\s+|number\s+|no\.\s*)?(?P<n>\d+(?:st|nd|rd|th)?|{NUMBER_WORDS_RE})"
    rf"(?=\s*(?:[,;:)–—!.]|\s-|$|and\b))", re.I)


def _appositive_number(line: str, element: E.Element) -> list[tuple[str, bool]]:
    """A number right after the element's name: "Calcium, the twentieth," / "Uranium, ninety-two," /
    "Gold (79)" / "Iron's twenty-six," / "Gold is seventy-nine, so I'm told" / "neon, that's ten"."""
    if not any(name in line.lower() for name in element.names):
        return []
    return [(m.group("n"), bool(m.group("pre"))) for m in _APPOSITIVE.finditer(line)
            if m.group("name").lower() in element.names]


_ATOMIC_HINT = re.compile(r"\d|number|no\.|#|element|proton|atomic|first|second|third|th\b|one|two|three|four|"
                          r"five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|sixty|seventy|"
                          r"eighty|ninety|hundred", re.I)
_TEMP_HINT = re.compile(r"°|º|℃|℉|degree|\bdeg\b|kelvin|\bK\b", re.I)
_GROUP_HINT = re.compile(r"group|period|row", re.I)
_MASS_HINT = re.compile(r"mass|weigh|amu|dalton|g\s*/\s*mol|mole|\d\s*u\b", re.I)


def _atomic_number_claims(line: str, element: E.Element) -> list[Claim]:
    if not _ATOMIC_HINT.search(line):
        return []
    found: list[tuple[str, int]] = []
    for i, pattern in enumerate(_ATOMIC_NUMBER_PATTERNS):
        for m in pattern.finditer(line):
            raw = m.group("num") if "num" in m.groupdict() and m.group("num") else m.group("ord")
            found.append((raw, i))
    found += [(raw, 6 if not framed else 7) for raw, framed in _appositive_number(line, element)]
    found += [(m.group("num"), 6) for m in _KIND_NUMBER.finditer(line)]
    claims = []
    for raw, i in found:
        parsed = _value(raw)
        if parsed is None:
            continue
        value, is_ordinal = parsed
        if i in (4, 5) and not is_ordinal:
            continue
        if not float(value).is_integer() or not 1 <= value <= 200:
            continue
        if i == 5 and (value == 1 or _OTHER_RANKING.search(line)):
            continue  # "it's the first (to be found)", "the second most abundant"
        if i == 6 and value == 1 and not is_ordinal:
            continue  # "Tin, one of..." (a bare "one" is too vague; "number one" is fine)
        if i == 2 and raw.lower() in ("one", "a"):
            continue  # "number one" is an idiom
        stated = int(value)
        verdict = SUPPORTED if stated == element.atomic_number else CONTRADICTED
        claims.append(Claim(line.strip(), "atomic_number", stated, element.atomic_number, verdict))
    return claims


# Temperatures ------------------------------------------------------------------------------

_TEMP = re.compile(
    rf"(?P<hedge>\b(?:about|around|roughly|nearly|almost|approximately|some|close\s+to|near|just\s+under|"
    rf"just\s+over|over|above|more\s+than|beyond|exceeding|below|under|less\s+than)\s+|~\s*)?"
    rf"(?P<sign>minus\s+|negative\s+|-|−)?(?P<num>{_DIGITS_RE}|{NUMBER_WORDS_RE})\s*"
    r"(?P<unit>°\s*[CFK]\b|º\s*[CFK]\b|°\s*(?:celsius|centigrade|fahrenheit)|℃|℉|º|°|"
    r"(?:degrees?|deg\.?)\s+(?:celsius|centigrade|fahrenheit|kelvin|c\b|f\b)|degrees?\b|kelvins?\b|K\b)?",
    re.I,
)
_MELT = re.compile(r"\b(?:melt(?:s|ing|ed)?|m\.p\.|freez(?:es|ing)|liquef(?:y|ies)|turns?\s+(?:to\s+)?liquid)", re.I)
_BOIL = re.compile(r"\b(?:boil(?:s|ing|ed)?|b\.p\.|vapou?ri[sz](?:es|ing)|evaporat(?:es|ing))", re.I)


def _unit_of(raw: str | None) -> str | None:
    if not raw:
        return None
    u = raw.lower().replace("º", "°").replace("℃", "°c").replace("℉", "°f").replace(" ", "").replace("deg.", "degrees")
    if u.startswith("deg") and not u.startswith("degree"):
        u = "degrees" + u[3:]
    if u in ("k", "kelvin", "kelvins", "°k", "degreeskelvin", "degreekelvin"):
        return "K"
    if u.endswith("c") or "celsius" in u or "centigrade" in u:
        return "°C"
    if u.endswith("f") or "fahrenheit" in u:
        return "°F"
    return "degrees"  # degrees of an unknown scale


def _from_kelvin(kelvin: float, unit: str) -> float:
    if unit == "°C":
        return kelvin - 273.15
    if unit == "°F":
        return (kelvin - 273.15) * 9 / 5 + 32
    return kelvin


def _temperature_verdict(stated: float, unit: str | None, hedge: str, actuals: tuple[float, ...]
                         ) -> tuple[str, float, str]:
    """(verdict, actual in the claim's unit, unit) for a temperature; any allotrope's value counts."""
    units = [unit] if unit in ("K", "°C", "°F") else (["°C", "°F"] if unit == "degrees" else ["K", "°C", "°F"])
    hedge = (hedge or "").strip().lower()
    loose = 2.0 if hedge and hedge not in ("over", "above", "more than", "beyond", "exceeding", "below",
                                            "under", "less than") else 1.0
    best = None
    for u in units:
        for kelvin in actuals:
            actual = _from_kelvin(kelvin, u)
            tol = max(5.0, 0.03 * kelvin) * loose * (1.8 if u == "°F" else 1.0)
            if hedge in ("over", "above", "more than", "beyond", "exceeding", "just over"):
                ok = actual >= stated - tol
            elif hedge in ("below", "under", "less than", "just under"):
                ok = actual <= stated + tol
            else:
                ok = abs(actual - stated) <= tol
            diff = abs(actual - stated)
            if best is None or (ok, -diff) > (best[0], -best[1]):
                best = (ok, diff, actual, u)
    assert best is not None
    ok, _, actual, u = best
    if not ok and unit not in ("K", "°C", "°F"):
        # Unknown scale and nothing fits: report in Celsius (or Fahrenheit when the text said °/degrees
        # and Celsius is not closer).
        u = "°C" if "°C" in units else units[0]
        actual = _from_kelvin(actuals[0], u)
    return (SUPPORTED if ok else CONTRADICTED), round(actual, 1), u


def _temperature_claims(lines: list[str], element: E.Element) -> list[Claim]:
    claims = []
    for li, line in enumerate(lines):
        if not line or not _TEMP_HINT.search(line) or _mentions_compound(line):
            continue
        for m in _TEMP.finditer(line):
            unit = _unit_of(m.group("unit"))
            raw = m.group("num")
            if unit is None:
                continue  # a bare number is not a temperature ("86 of them")
            if re.fullmatch(NUMBER_WORDS_RE, raw, re.I) and parse_number_words(raw) is None:
                continue
            parsed = _value(raw)
            if parsed is None or parsed[1]:
                continue
            stated = parsed[0] * (-1 if m.group("sign") else 1)
            if not -500 <= stated <= 100_000:
                continue  # not a temperature anything melts or boils at
            # The nearest melt/boil word before the number on this line, else after it on this line,
            # else on one of the two lines before (the seed style: "Melts in your hand ... At 86 degrees").
            prop, where = None, None
            before = [(k.end(), "melting_point") for k in _MELT.finditer(line[: m.start()])] + \
                     [(k.end(), "boiling_point") for k in _BOIL.finditer(line[: m.start()])]
            after = [(k.start(), "melting_point") for k in _MELT.finditer(line[m.end():])] + \
                    [(k.start(), "boiling_point") for k in _BOIL.finditer(line[m.end():])]
            if before:
                prop = max(before)[1]
                where = line.strip()
            elif after:
                prop = min(after)[1]
                where = line.strip()
            else:
                for back in (1, 2):
                    if li - back < 0:
                        break
                    prev = lines[li - back]
                    if _mentions_compound(prev) or _TEMP_WITH_UNIT.search(prev):
                        break
                    found = [(k.end(), "melting_point") for k in _MELT.finditer(prev)] + \
                            [(k.end(), "boiling_point") for k in _BOIL.finditer(prev)]
                    if found:
                        prop = max(found)[1]
                        where = " ... ".join(x.strip() for x in lines[li - back: li + 1])
                        break
            if prop is None:
                continue
            actuals = element.melting_points if prop == "melting_point" else element.boiling_points
            hedge = m.group("hedge") or ""
            if not hedge and _WARM_CONTEXT.search(where or line):
                hedge = "below"  # "melts in your hand at 86 degrees": the melting point is at most that
            shown_unit = unit if unit in ("K", "°C", "°F") else None
            if not actuals:
                claims.append(Claim(where or line.strip(), prop, _num(stated), None, UNVERIFIABLE,
                                    shown_unit or "degrees"))
                continue
            verdict, actual, used = _temperature_verdict(stated, unit, hedge, actuals)
            claims.append(Claim(where or line.strip(), prop, _num(stated), _num(actual), verdict, used))
    return claims


_WARM_CONTEXT = re.compile(r"\b(?:body|hand|hands|palm|palms|room\s+temperature|warm|summer|hot\s+day|coffee|tea|"
                           r"mouth|fingers?|sun)\b", re.I)
_TEMP_WITH_UNIT = re.compile(rf"(?:{_DIGITS_RE})\s*(?:°|º|degrees?\b|kelvins?\b|K\b)", re.I)

# Discovery year ----------------------------------------------------------------------------

_DISCOVERY = re.compile(r"\b(?:discover(?:ed|y|er|ers|s)?|found|first\s+(?:identified|seen|spotted|observed)|"
                        r"identified|came\s+to\s+light|unveiled|first\s+made|synthesi[sz]ed|created)\b", re.I)
_OTHER_EVENT = re.compile(r"\b(?:isolat(?:ed|ion)|purif(?:ied|y)|named|produced|mined|used|patented|sold|"
                          r"invented|built|died|born|won|prize|century|banned)\b", re.I)


_YEAR_ANY = re.compile(rf"(?<![\d.,])(?P<digits>1[0-9]{{3}}|20[0-9]{{2}})(?![\d.,]*\d)(?!s\b)|\b(?P<words>{YEAR_WORDS_RE})",
                       re.I)


def _discovery_claims(line: str, element: E.Element) -> list[Claim]:
    if not _DISCOVERY.search(line):
        return []
    claims = []
    for m in _YEAR_ANY.finditer(line):
        year = int(m.group("digits")) if m.group("digits") else parse_year_words(m.group("words"))
        if year is None or not 1000 <= year <= 2100:
            continue
        before = line[max(0, m.start() - 60): m.start()]
        after = line[m.end(): m.end() + 40]
        events_before = [(k.end(), "d") for k in _DISCOVERY.finditer(before)] + \
                        [(k.end(), "o") for k in _OTHER_EVENT.finditer(before)]
        events_after = [(k.start(), "d") for k in _DISCOVERY.finditer(after)] + \
                       [(k.start(), "o") for k in _OTHER_EVENT.finditer(after)]
        if events_before:
            kind = max(events_before)[1]
        elif events_after:
            kind = min(events_after)[1]
        else:
            continue
        if kind != "d":
            continue
        if element.discovery_year is None:
            claims.append(Claim(line.strip(), "discovery_year", year, None, UNVERIFIABLE))
            continue
        accepted = (element.discovery_year, *E.ALTERNATIVE_DISCOVERY_YEARS.get(element.symbol, ()))
        nearest = min(accepted, key=lambda y: abs(year - y))
        distance = abs(year - nearest)
        verdict = SUPPORTED if distance <= 1 else (CONTRADICTED if distance > 3 else UNVERIFIABLE)
        shown = nearest if verdict == SUPPORTED else element.discovery_year
        claims.append(Claim(line.strip(), "discovery_year", year, shown, verdict))
    return claims


# Atomic mass -------------------------------------------------------------------------------

_MASS_PATTERNS = [
    re.compile(rf"\b(?:atomic|molar|relative\s+atomic)\s+(?:mass|weight)\s*(?:is|of|:|=|,)?\s*(?:just\s+|about\s+|around\s+|"
               rf"roughly\s+|nearly\s+|some\s+|close\s+to\s+)?(?P<num>{_DIGITS_RE}|{NUMBER_WORDS_RE})(?![\w.]*\d)", re.I),
    re.compile(rf"(?<![\w.-])(?P<num>{_DIGITS_RE})\s*(?:amu|u|da|daltons?|g\s*/\s*mol|grams?\s+per\s+mole)\b", re.I),
    re.compile(rf"\bweighs?\s+(?:in\s+at\s+)?(?:just\s+|about\s+|around\s+|roughly\s+|nearly\s+)?"
               rf"(?P<num>{_DIGITS_RE}|{NUMBER_WORDS_RE})(?=\s*(?:[,.;:!?)\-–—]|$|amu|u\b|daltons?|atomic))", re.I),
]


def _mass_claims(line: str, element: E.Element) -> list[Claim]:
    if not _MASS_HINT.search(line):
        return []
    claims = []
    for pattern in _MASS_PATTERNS:
        for m in pattern.finditer(line):
            parsed = _value(m.group("num"))
            if parsed is None or parsed[1]:
                continue
            stated = parsed[0]
            actual = element.atomic_mass
            if actual is None:
                claims.append(Claim(line.strip(), "atomic_mass", _num(stated), None, UNVERIFIABLE))
                continue
            diff = abs(stated - actual)
            if diff <= max(0.6, 0.01 * actual):
                verdict = SUPPORTED
            elif diff > max(2.0, 0.025 * actual):
                verdict = CONTRADICTED
            else:
                verdict = UNVERIFIABLE
            claims.append(Claim(line.strip(), "atomic_mass", _num(stated), round(actual, 3), verdict))
    return claims


# Group and period ---------------------------------------------------------------------------

_ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5, "VI": 6, "VII": 7, "VIII": 8}
_GROUP = re.compile(
    rf"\b[Gg]roup\s+(?:number\s+|no\.?\s*)?(?P<val>\d{{1,2}}[AB]?\b|(?:VIII|VII|VI|IV|V|III|II|I)[AB]?\b|"
    rf"{NUMBER_WORDS_RE})|\b(?:the\s+)?(?P<ord>\d{{1,2}}(?:st|nd|rd|th)|{NUMBER_WORDS_RE})\s+[Gg]roup\b")
_PERIOD = re.compile(
    rf"\b(?:period|row)\s+(?:number\s+)?(?P<val>\d\b|{NUMBER_WORDS_RE})|"
    rf"\b(?:the\s+)?(?P<ord>\d(?:st|nd|rd|th)|{NUMBER_WORDS_RE})\s+(?:period|row)\b", re.I)


def _group_candidates(raw: str) -> set[int] | None:
    raw = raw.strip()
    m = re.fullmatch(r"(\d{1,2})([AB])?", raw, re.I)
    if m:
        n = int(m.group(1))
        if m.group(2) is None:
            return {n} if 1 <= n <= 18 else None
        letter = m.group(2).upper()
        return _old_groups(f"{n}{letter}")
    m = re.fullmatch(r"(VIII|VII|VI|IV|V|III|II|I)([AB])?", raw)
    if m:
        if m.group(2):
            return _old_groups(m.group(0))
        n = _ROMAN[m.group(1)]
        return {g for g, names in E.OLD_GROUP_NAMES.items() if any(x.rstrip("AB") == m.group(1) for x in names)} | {n}
    parsed = parse_number_words(raw)
    if parsed and not parsed[1] and 1 <= parsed[0] <= 18:
        return {parsed[0]}
    return None


def _old_groups(label: str) -> set[int] | None:
    found = {g for g, names in E.OLD_GROUP_NAMES.items() if label.upper() in names}
    return found or None


def _group_period_claims(line: str, element: E.Element) -> list[Claim]:
    if not _GROUP_HINT.search(line):
        return []
    claims = []
    for m in _GROUP.finditer(line):
        if re.search(r"\bgroup\s+of\b", m.group(0), re.I):
            continue
        if m.group("val"):
            if not re.match(r"group", m.group(0), re.I):
                continue
            cands = _group_candidates(m.group("val"))
            stated_label: Any = m.group("val")
        else:
            parsed = _value(m.group("ord"))
            if parsed is None or not parsed[1] or not 1 <= parsed[0] <= 18:
                continue
            cands = {int(parsed[0])}
            stated_label = int(parsed[0])
        if not cands:
            continue
        stated = stated_label if not isinstance(stated_label, str) else (
            int(stated_label) if stated_label.isdigit() else stated_label)
        if element.group is None:
            claims.append(Claim(line.strip(), "group", stated, None, UNVERIFIABLE))
        else:
            verdict = SUPPORTED if element.group in cands else CONTRADICTED
            claims.append(Claim(line.strip(), "group", stated, element.group, verdict))
    for m in _PERIOD.finditer(line):
        raw = m.group("val") or m.group("ord")
        parsed = _value(raw)
        if parsed is None:
            continue
        if m.group("ord") and not parsed[1]:
            continue
        if m.group("val") and parsed[1]:
            continue
        stated = int(parsed[0])
        if not 1 <= stated <= 7:
            continue
        verdict = SUPPORTED if stated == element.period else CONTRADICTED
        claims.append(Claim(line.strip(), "period", stated, element.period, verdict))
    return claims


# State at room temperature --------------------------------------------------------------------

_STATE_ROOM = re.compile(r"\b(gas|gaseous|liquid|solid)\s+(?:at|in)\s+room\s+temperature\b", re.I)
_STATE_PLAIN = re.compile(
    r"\b(?:is|it's|it\s+is|'s|i'm|i\s+am|remains?|stays?|exists?\s+as)\s+(?:a\s+|an\s+)?"
    r"(?:(?:colou?rless|odou?rless|invisible|pale|yellow(?:ish)?|green(?:ish)?|noble|inert|toxic|heavy|light|"
    r"shiny|silvery|soft|hard|brittle|dense|reactive|poisonous|radioactive|rare|precious|greenish-yellow)[\s,]+){0,2}"
    r"(gas|gaseous|liquid|solid)(?=\s*(?:[,.;:!?)\-–—]|$|metal\b|element\b|and\b|but\b|so\b|that\b|which\b|you\b|"
    r"too\b|indeed\b|all\b|form\b|state\b))",
    re.I,
)
_STATE_CHANGE = re.compile(r"\b(?:when|if|once|heated|heat|warm|cool(?:ed)?|froze|frozen|freez|melt|boil|turns?|"
                           r"becomes?|hand|pressure|compress|degrees?|°|kelvin|above|below|under|over)\b", re.I)


def _borderline(element: E.Element, stated: str, actual: str) -> bool:
    """Solid/liquid when the melting point is near room temperature (gallium, caesium), liquid/gas
    when the boiling point is: both readings are defensible, so neither is called wrong."""
    near = lambda t: t is not None and abs(t - E.ROOM_TEMPERATURE_K) < 20  # noqa: E731
    pair = {stated, actual}
    return (pair == {"solid", "liquid"} and near(element.melting_point)) or \
        (pair == {"liquid", "gas"} and near(element.boiling_point))


def _state_claims(line: str, element: E.Element) -> list[Claim]:
    claims = []
    matches = [(m, True) for m in _STATE_ROOM.finditer(line)]
    if not matches and not _STATE_CHANGE.search(line) and not _mentions_compound(line):
        matches = [(m, False) for m in _STATE_PLAIN.finditer(line)]
    for m, _explicit in matches:
        stated = m.group(1).lower()
        stated = "gas" if stated == "gaseous" else stated
        actual = element.state
        if actual is None or (stated != actual and _borderline(element, stated, actual)):
            verdict = UNVERIFIABLE
        else:
            verdict = SUPPORTED if stated == actual else CONTRADICTED
        claims.append(Claim(line.strip(), "state", stated, actual, verdict))
    return claims


# ----------------------------------------------------------------------------- check

def _lines(answer: str) -> list[str]:
    from lib.checks.limerick import split_lines

    lines = split_lines(answer)
    # Sentences inside long lines are read separately (prose answers).
    out = []
    for line in lines:
        out.extend(p for p in re.split(r"(?<=[.!?])\s+(?=[A-Z])", line) if p.strip())
    return out


def _about_other_element(line: str, element: E.Element) -> bool:
    return any(e.atomic_number != element.atomic_number for e in find_elements(line))


@lru_cache(maxsize=20_000)
def _check(question: str, answer: str) -> FactReport:
    element = find_element(question) or find_element(answer)
    if element is None:
        return FactReport(None, None, ())
    lines = [line for line in _lines(answer)]
    usable = [line if not _about_other_element(line, element) else "" for line in lines]
    claims: list[Claim] = []
    for line in usable:
        if not line:
            continue
        claims += _atomic_number_claims(line, element)
        claims += _discovery_claims(line, element)
        claims += _mass_claims(line, element)
        claims += _group_period_claims(line, element)
        claims += _state_claims(line, element)
    claims += _temperature_claims(usable, element)
    unique: dict[tuple, Claim] = {}
    for claim in claims:
        unique.setdefault((claim.property, str(claim.stated), claim.text), claim)
    return FactReport(element.name, element.symbol, tuple(unique.values()))


def check(question: str, answer: str) -> FactReport:
    """Read the answer's claims about the element the question (else the answer) is about."""
    q = question if isinstance(question, str) else ""
    a = answer if isinstance(answer, str) else ""
    return _check(q, a)

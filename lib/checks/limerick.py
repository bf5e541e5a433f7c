"""Is this answer a limerick? Lines, AABBA rhyme, syllables and beats, in plain words.

How it decides:
- Lines: newlines when there are any, else the separator the text uses (" - " as in the app's
  example data, " / ", " | ", "; "). A " - " inside a line ("so bright - it glows") is read as part
  of the line when that is the only way to get five well-formed lines.
- Rhyme: AABBA, each pair of end words judged by lib.checks.rhyme (sounds from lib.checks.pronunciation:
  CMU plus a table of all 118 element names). Near rhymes are accepted and named; a rhyme that cannot
  be confirmed is "unverified" ("?" in the scheme), never "wrong". A repeated end word (Lear's habit)
  is a warning.
- Meter: lines 1, 2 and 5 have about 7-11 syllables and three beats, lines 3 and 4 about 4-7
  and two beats; the beats are fitted to the stress pattern allowing one or two unstressed
  syllables between beats (anapestic/amphibrachic).

`check(text)` is cached by content, so re-scoring a dataset of thousands of rows is cheap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lib.checks.pronunciation import is_vowel, number_to_words, pronunciations, syllable_count, syllable_range
from lib.checks.rhyme import WEAK_PRONOUNS, clean_word, end_pronunciations, rhyme

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
    if last.lower() in WEAK_PRONOUNS and len(toks) > 1 and not toks[-2][0].isdigit():
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
    digits = [ph[-1] for ph in prons[0].split() if is_vowel(ph)]
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
            unknown = [w for w in (ends[i], ends[j]) if end_pronunciations(clean_word(w))[1]]
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

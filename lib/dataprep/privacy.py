"""Personal data and secrets in training data: e-mail addresses, phone numbers, API keys and tokens.

A fine-tuned model can repeat what it was trained on, so these are worth removing before upload. The
scan only warns (it cannot know whether support@example.com is meant to be there), and it never
repeats a secret in full: messages show a masked form such as "sk-p…, 51 characters".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

from lib.dataprep.validation import Issue

_EMAIL = re.compile(r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}(?![\w-])")
# Groups of 2–4 digits separated by a space, dot, dash or brackets, optionally after "+CC": at least
# 9 digits in all (so years, melting points and dates do not match), at most 15 (E.164).
_PHONE = re.compile(
    r"(?<![\w.,+-])(?:\+\d{1,3}[\s.-]?)?(?:\(\d{1,4}\)[\s.-]?)?\d{2,4}(?:[\s.-]\d{2,4}){1,5}(?![\w.,-]?\d)"
)
# (what, literals one of which every match contains, shortest match, pattern). A match never spans
# whitespace (but the private-key armour), so a text whose longest word is shorter than a secret's
# shortest match, or that lacks its literal, cannot hold it: most answers skip every pattern.
_SECRETS: tuple[tuple[str, tuple[str, ...], int, re.Pattern[str]], ...] = (
    ("a private key", ("-----BEGIN",), 0, re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")),
    ("an OpenAI API key", ("sk-",), 23, re.compile(r"(?<![\w-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
    ("an AWS access key", ("AKIA", "ASIA"), 20, re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[0-9A-Z]{16}(?![A-Z0-9])")),
    ("a GitHub token", ("_",), 34,
     re.compile(r"(?<!\w)(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})")),
    ("a Slack token", ("xox",), 15, re.compile(r"(?<!\w)xox[abposr]-[A-Za-z0-9-]{10,}")),
    ("a Google API key", ("AIza",), 39, re.compile(r"(?<!\w)AIza[0-9A-Za-z_-]{35}")),
    ("a long hexadecimal token", (), 32, re.compile(r"(?<![0-9A-Za-z])[0-9a-fA-F]{32,}(?![0-9A-Za-z])")),
    ("a long token", (), 32,
     re.compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{32,}={0,2}(?![A-Za-z0-9+/_=-])")),
)
_DIGIT = re.compile(r"\d")


def _strings(value: Any, path: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, f"{path}[{index}]")


def _looks_random(token: str) -> bool:
    """A long run of letters is a word or a URL slug; a key mixes upper case, lower case and digits."""
    return sum((any(c.isdigit() for c in token), any(c.islower() for c in token),
                any(c.isupper() for c in token))) >= 3


def mask_secret(secret: str) -> str:
    """First four characters and the length: enough to find it, not enough to use it."""
    return f"{secret[:4]}…, {len(secret)} characters"


def mask_email(address: str) -> str:
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}"


def mask_phone(number: str) -> str:
    digits = re.sub(r"\D", "", number)
    return f"…{digits[-2:]}, {len(digits)} digits"


@lru_cache(maxsize=200_000)
def _findings(text: str) -> tuple[tuple[str, str, str], ...]:
    """`_find`, remembered per text: after one edit, a 10,000-row scan re-reads one row, not all."""
    return tuple(_find(text))


def _find(text: str) -> Iterator[tuple[str, str, str]]:
    """(code, what, masked) for each finding in one string."""
    taken: list[tuple[int, int]] = []

    def free(match: re.Match[str]) -> bool:
        return all(match.end() <= a or match.start() >= b for a, b in taken)

    longest = max(map(len, text.split()), default=0)
    for what, literals, shortest, pattern in _SECRETS:
        if longest < shortest or (literals and not any(literal in text for literal in literals)):
            continue
        for match in pattern.finditer(text):
            token = match.group(0)
            if not free(match) or (what == "a long token" and not _looks_random(token)):
                continue
            taken.append(match.span())
            shown = "-----BEGIN … PRIVATE KEY-----" if what == "a private key" else mask_secret(token)
            yield "privacy_secret", what, shown
    for match in _EMAIL.finditer(text) if "@" in text else ():
        if free(match):
            taken.append(match.span())
            yield "privacy_email", "an e-mail address", mask_email(match.group(0))
    for match in _PHONE.finditer(text) if _DIGIT.search(text) else ():
        digits = re.sub(r"\D", "", match.group(0))
        if free(match) and 9 <= len(digits) <= 15 and re.search(r"[\s()+-]", match.group(0)):
            taken.append(match.span())
            yield "privacy_phone", "a phone number", mask_phone(match.group(0))


_ADVICE = {
    "privacy_email": "remove it or replace it with a made-up one (name@example.com) before training",
    "privacy_phone": "remove it or replace it with a made-up one before training",
    "privacy_secret": "remove it before training, and revoke the key if it is real",
}


_SPACED_DIGITS = re.compile(r"\d(?:[\s.-]|\\[nrtfb]|\\u00[01][0-9a-fA-F])\d")  # also across a JSON escape


# For `_maybe`, on the text's UTF-8 bytes (two C-speed passes instead of splitting the text into words:
# 0.4 s against 1.6 s for 100,000 rows): ASCII spacing and the backslash become a space, every other byte an
# "x" (a run of 15 characters without a space is a run of at least 15 such bytes); and every byte that is
# not an ASCII digit is dropped (in UTF-8 the bytes 0-9 are only ever digits).
_RUN_BYTES = bytes(32 if c in b" \t\n\r\x0b\x0c\\" else 120 for c in range(256))
_NOT_DIGITS = bytes(c for c in range(256) if not 48 <= c <= 57)
_RUN = b"x" * 15


def _maybe(text: str) -> bool:
    """Whether `text` can hold a finding at all. Every finding contains an "@", a private key's armour,
    two digits apart by one space, dot or dash (every phone number) or a run of 15+ characters without a
    space (the shortest secret); most texts have none, and these tests run at C speed. It may say yes
    where nothing is found (other Unicode spaces do not break a run here), never no where something
    would be. Run on an example's JSON, it can only say yes more often (quotes and escapes join words)."""
    if "@" in text or "-----BEGIN" in text:
        return True
    raw = text.encode("utf-8", "surrogatepass")
    if len(raw.translate(None, _NOT_DIGITS)) >= 9 and _SPACED_DIGITS.search(text) is not None:  # 9+ digits
        return True
    return _RUN in raw.translate(_RUN_BYTES)  # no secret has a backslash


def _plain_strings(example: Any) -> str | None:
    """Every string of a plain chat row ({"messages": [{"role": ..., "content": ...}, ...]}) joined by spaces,
    None for any other shape. `_maybe` says yes to it whenever it says yes to one of its strings (each
    string is whole in it), and it is quicker to make than the row's JSON."""
    if type(example) is not dict or len(example) != 1 or type(messages := example.get("messages")) is not list:
        return None
    parts: list[str] = []
    for message in messages:
        if type(message) is not dict:
            return None
        for value in message.values():
            if type(value) is not str:
                return None
            parts.append(value)
    return " ".join(parts)


def scan_example(example: Any, row: int) -> list[Issue]:
    """Warnings for one example (row number `row`): one per finding; a value repeated in one field counts once."""
    issues: list[Issue] = []
    text = _plain_strings(example)
    if not _maybe(text if text is not None else json.dumps(example, ensure_ascii=False, default=str)):
        return issues  # one C-speed pass for most rows
    for path, text in _strings(example, ""):
        if not _maybe(text):
            continue
        seen: set[tuple[str, str]] = set()
        for code, what, masked in _findings(text):
            if (code, masked) in seen:
                continue
            seen.add((code, masked))
            issues.append(Issue(row, path or "line", code, "warning",
                                f"Row {row} contains what looks like {what} ({masked}) in {path or 'the line'}: "
                                f"{_ADVICE[code]}."))
    return issues


def scan(examples: Sequence[Any], *, line_numbers: Sequence[int] | None = None) -> list[Issue]:
    """Warnings for personal data and secrets in every example, in order (see `scan_example`)."""
    lines = list(line_numbers) if line_numbers is not None and len(line_numbers) == len(examples) else None
    issues: list[Issue] = []
    for i, example in enumerate(examples):
        issues.extend(scan_example(example, lines[i] if lines else i + 1))
    return issues

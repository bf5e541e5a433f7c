"""lib.dataprep.privacy: e-mail addresses, phone numbers and secrets are flagged as warnings, secrets never echoed."""

from __future__ import annotations

import pytest

from lib.dataprep.dataset import make_example
from lib.dataprep.privacy import scan
from lib.dataprep.readers import load_file

# Built at run time so that no key-shaped string sits in the repository.
OPENAI_KEY = "sk-" + "proj-" + "Xy7" * 16
AWS_KEY = "AKIA" + "Q3EXAMPLE7TESTKY"
HEX_TOKEN = "9f86d081884c7d659a2feaa0c55ad015" + "a3bf4f1b2b0b822cd15d6c15b0f00a08"
RANDOM_TOKEN = "Zq8" + "Lm2Rt7Wv4Xy1Pn6Ks3Hd9Gf5Jb0Cc"


def found(text: str, where: str = "assistant") -> list[tuple[int, str, str, str]]:
    examples = [make_example("Tell me about Neon", "Neon glows")] * 2
    examples.append(make_example(text, "ok") if where == "user" else make_example("q", text))
    return [(i.line, i.field, i.code, i.severity) for i in scan(examples)]


def test_email():
    assert found("Write to jane.doe@example.com for more") == [
        (3, "messages[2].content", "privacy_email", "warning")]


@pytest.mark.parametrize("number", ["+1 (555) 123-4567", "555-123-4567", "020 7946 0958", "+44 20 7946 0958"])
def test_phone_numbers(number):
    assert found(f"Call me on {number} tonight", "user") == [(3, "messages[1].content", "privacy_phone", "warning")]


@pytest.mark.parametrize("secret", [OPENAI_KEY, AWS_KEY, HEX_TOKEN, RANDOM_TOKEN])
def test_secrets_are_flagged_and_masked(secret):
    (issue,) = scan([make_example("q", f"my key is {secret} ok")])
    assert (issue.line, issue.code, issue.severity) == (1, "privacy_secret", "warning")
    assert secret not in issue.message and secret[:4] + "…" in issue.message
    assert f"{len(secret)} characters" in issue.message


@pytest.mark.parametrize("secret,what", [
    ("xox" + "b-" + "a" * 10, "a Slack token"),  # the shortest secret the scan knows: 15 characters
    ("gh" + "p_" + "aB3" * 10, "a GitHub token"),
    ("AI" + "za" + "Sy" + "x" * 33, "a Google API key"),
    ("-----BEGIN " + "RSA PRIVATE KEY-----", "a private key"),
    (AWS_KEY, "an AWS access key"),
])
def test_the_shortest_secret_of_each_kind_is_found(secret, what):
    # The scan skips text that cannot hold any finding; each kind at its minimum length still gets through.
    (issue,) = scan([make_example("q", f"{secret}")])
    assert what in issue.message


def test_masking_of_email_and_phone():
    (email,) = scan([make_example("q", "jane.doe@example.com")])
    assert "jane.doe@" not in email.message and "j…@example.com" in email.message
    (phone,) = scan([make_example("q", "555-123-4567")])
    assert "123-4567" not in phone.message and "…67, 10 digits" in phone.message


@pytest.mark.parametrize(
    "text",
    [
        "Gold melts at 1337.33 K, boils at 3129 K; discovered 1766, 1,234.93 K, density 19.282",
        "Gallium melts at 29.76 degrees (85.57 F) - atomic mass 69.723 - 2024-01-05",
        "Avogadro's number is 6.022 140 76 × 10^23",
        "See https://en.wikipedia.org/wiki/Periodic_table_of_the_elements",
        "a-really-long-hyphenated-slug-with-only-lowercase-words",
    ],
)
def test_numbers_and_words_in_element_facts_are_not_flagged(text):
    assert found(text) == []


def test_the_sample_dataset_is_clean():
    assert scan(load_file("sample_data/elements_limericks.jsonl").examples) == []


def test_every_string_is_scanned_with_its_field_and_file_lines():
    example = {"input": {"messages": [{"role": "user", "content": "mail bob@example.org"}]},
               "preferred_output": [{"role": "assistant", "content": "ok"}], "metadata": {"owner": "bob@example.org"}}
    issues = scan(["not an object", example], line_numbers=[3, 9])
    assert [(i.line, i.field) for i in issues] == [(9, "input.messages[0].content"), (9, "metadata.owner")]


def test_the_quick_pre_check_never_says_no_where_a_word_by_word_reading_would_say_yes():
    """`_maybe` reads bytes, not words: it may say yes more often (other Unicode spaces), never less."""
    import random

    from lib.dataprep import privacy

    def by_words(text: str) -> bool:  # the rule as it reads: 9+ digits with two spaced, or a 15+ character word
        return ("@" in text or "-----BEGIN" in text
                or (sum(map(text.count, "0123456789")) >= 9 and privacy._SPACED_DIGITS.search(text) is not None)
                or max(map(len, text.replace("\\", " ").split()), default=0) >= 15)

    rng = random.Random(4)
    alphabet = "ab1 2.-\\\t\n\u00a0\u2003é中\x1c"
    texts = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60))) for _ in range(5000)]
    texts += ["key sk-" + "a1" * 8, "ring 020 7946 0958", "café" * 4, "x" * 14, "x" * 15]
    for text in texts:
        assert privacy._maybe(text) or not by_words(text), text
    assert sum(map(by_words, texts)) > 100  # the sample has texts the rule says yes to

"""lib.checks.rhyme: how two end words rhyme, near rhymes named, unknown words never "no"."""

from __future__ import annotations

import pytest

from lib.checks.rhyme import rhyme


@pytest.mark.parametrize("a,b,expected", [
    ("bright", "sight", "rhyme"),
    ("see", "key", "rhyme"),
    ("nose", "nose", "repeat"),
    ("Nose!", "nose,", "repeat"),
    ("time", "line", "near"),  # m ~ n
    ("Quaker", "Jamaica", "near"),  # British: no final r
    ("sight", "sights", "near"),
    ("bright", "ease", "no"),
    ("sodium", "podium", "rhyme"),
    ("scandium", "tandem", "near"),  # scan-dee-um / tan-dem: unstressed endings alike
    ("oganesson", "lesson", "near"),  # from the element table (-son with a full vowel)
    ("ytterbium", "bright", "no"),
    ("Bohemia", "Euphemia", "rhyme"),  # unknown words, same spelling from the stressed vowel
])
def test_rhyme(a, b, expected):
    assert rhyme(a, b) == expected
    assert rhyme(b, a) == expected


def test_weak_pronoun_end_rhymes_with_the_word_before():
    assert rhyme("Pisa", "please her") in {"rhyme", "near"}

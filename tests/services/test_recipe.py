"""The local engine's measured recipe: what "automatic" trains with on this computer."""

from __future__ import annotations

from lib.services import recipe


def test_a_small_set_gets_enough_passes_and_a_large_one_openais_three_epochs() -> None:
    assert recipe.epochs(12) == 12  # the sample: the recipe measured (README, "The default recipe")
    assert recipe.epochs(9) == 16
    assert recipe.epochs(1) == 25 and recipe.epochs(0) == 3
    assert recipe.epochs(48) == 3 and recipe.epochs(10_000) == 3


def test_the_page_says_what_automatic_means_in_plain_words() -> None:
    words = recipe.describe(12)
    assert "12 epochs for 12 examples" in words and "three times the base learning rate" in words

"""benchmarks/explain_faithfulness.py: the probability drops, on a classifier whose answers are known."""

import numpy as np
import pytest

from .helpers import benchmark_script


@pytest.fixture(scope="module")
def faithfulness():
    return benchmark_script("explain_faithfulness")


class CardCounter:
    """Two classes; each "card" adds 0.1 to class 0's probability and is its whole explanation."""

    def explain(self, texts):
        return [[(word, float(word == "card")) for word in text.split()] for text in texts]

    def predict_proba(self, texts):
        card = np.array([0.5 + 0.1 * text.split().count("card") for text in texts])
        return np.column_stack([card, 1 - card])


def test_without_leaves_out_the_given_positions(faithfulness):
    assert faithfulness.without(["a", "b", "c", "d"], [3, 1]) == "a c"
    assert faithfulness.without(["a", "b"], []) == "a b"


def test_top_words_drop_is_their_contribution_and_never_below_random(faithfulness):
    texts = ["card my card is late", "where is the card", "card card card please help"]
    top, random = faithfulness.probability_drops(CardCounter(), texts, k=2)
    # The top 2 words hold min(2, number of cards) of each text's cards.
    np.testing.assert_allclose(top, [0.2, 0.1, 0.2])
    assert np.all(random <= top + 1e-12)
    cards_removed = np.round(random / 0.1, 6)
    assert np.all((cards_removed >= 0) & (cards_removed <= 2) & (cards_removed % 1 == 0))


def test_random_words_are_drawn_by_seed(faithfulness):
    texts = [" ".join(["card"] * 3 + ["x"] * 3)] * 20
    _, first = faithfulness.probability_drops(CardCounter(), texts, k=3, seed=0)
    _, again = faithfulness.probability_drops(CardCounter(), texts, k=3, seed=0)
    _, other = faithfulness.probability_drops(CardCounter(), texts, k=3, seed=1)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)

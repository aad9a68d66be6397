"""PosDis and BosDis against a Python-loop reference and hand languages (Chaabouni et al.
2020, arXiv 2004.09124)."""

import itertools

import numpy as np
import pytest

from jaxml import language
from tests.language import reference

MEANINGS = np.array(list(itertools.product(range(4), repeat=2)))  # every (a0, a1), a_i in 0..3


def test_position_i_encoding_attribute_i_has_posdis_one():
    assert float(language.positional_disentanglement(MEANINGS, MEANINGS, 4)) == pytest.approx(1.0)


def test_a_position_naming_two_attributes_lowers_posdis():
    # Position 0 says a0, position 1 says (a0 + a1) mod 4, which is about both: a gap of 0 there.
    messages = np.stack([MEANINGS[:, 0], (MEANINGS[:, 0] + MEANINGS[:, 1]) % 4], axis=1)
    got = float(language.positional_disentanglement(MEANINGS, messages, 4))
    assert got == pytest.approx(reference.positional_disentanglement(MEANINGS, messages), abs=1e-5)
    assert got == pytest.approx(0.5, abs=1e-5)


def _bag_of_symbols_code(seed=0):
    # a0 by symbols 0..3, a1 by 4..7, in a random order per message.
    messages = np.stack([MEANINGS[:, 0], MEANINGS[:, 1] + 4], axis=1)
    swap = np.random.default_rng(seed).random(len(messages)) < 0.5
    messages[swap] = messages[swap][:, ::-1]
    return messages


def test_a_bag_of_symbols_code_has_bosdis_one_and_posdis_below_one():
    messages = _bag_of_symbols_code()
    assert float(language.bag_of_symbols_disentanglement(MEANINGS, messages, 8)) == pytest.approx(
        1.0
    )
    posdis = float(language.positional_disentanglement(MEANINGS, messages, 8))
    assert posdis == pytest.approx(
        reference.positional_disentanglement(MEANINGS, messages), abs=1e-5
    )
    assert posdis < 0.5


def test_a_constant_message_scores_zero():
    constant = np.full((len(MEANINGS), 3), 2)
    assert float(language.positional_disentanglement(MEANINGS, constant, 4)) == 0.0
    assert float(language.bag_of_symbols_disentanglement(MEANINGS, constant, 4)) == 0.0
    assert reference.positional_disentanglement(MEANINGS, constant) == 0.0


def test_constant_positions_are_left_out_of_the_average():
    # Position 1 is constant: PosDis averages over positions 0 and 2 only, both perfect.
    messages = np.stack([MEANINGS[:, 0], np.zeros(16, int), MEANINGS[:, 1]], axis=1)
    assert float(language.positional_disentanglement(MEANINGS, messages, 4)) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("n", "m", "num_values", "length", "vocab", "seed"),
    [(200, 3, 5, 4, 4, 0), (50, 2, 2, 6, 3, 1), (300, 4, 3, 3, 6, 2), (20, 2, 10, 2, 2, 3)],
)
def test_match_the_reference_on_random_and_noisy_languages(n, m, num_values, length, vocab, seed):
    rng = np.random.default_rng(seed)
    meanings = rng.integers(0, num_values, (n, m))
    noisy = np.clip(meanings[:, rng.integers(0, m, length)], 0, vocab - 1)
    messages = np.where(rng.random((n, length)) < 0.4, rng.integers(0, vocab, (n, length)), noisy)
    np.testing.assert_allclose(
        language.positional_disentanglement(meanings, messages, vocab),
        reference.positional_disentanglement(meanings, messages),
        atol=1e-5,
    )
    np.testing.assert_allclose(
        language.bag_of_symbols_disentanglement(meanings, messages, vocab),
        reference.bag_of_symbols_disentanglement(meanings, messages, vocab),
        atol=1e-5,
    )


def test_sparse_attribute_values_are_renumbered():
    # ScoreG meanings: scores 5, 10, ..., 250 and positions; the metric sees only the partition.
    rng = np.random.default_rng(7)
    meanings = np.stack([5 * rng.integers(1, 51, 100), rng.integers(0, 5, 100)], axis=1)
    messages = rng.integers(0, 5, (100, 4))
    dense = np.stack([meanings[:, 0] // 5 - 1, meanings[:, 1]], axis=1)  # the same partition
    got = float(language.positional_disentanglement(meanings, messages, 5))
    assert got == pytest.approx(float(language.positional_disentanglement(dense, messages, 5)))
    assert got == pytest.approx(reference.positional_disentanglement(meanings, messages), abs=1e-5)


def test_excluded_tokens_are_left_out_of_bosdis():
    rng = np.random.default_rng(8)
    meanings = rng.integers(0, 3, (80, 2))
    messages = rng.integers(0, 4, (80, 5))
    np.testing.assert_allclose(
        language.bag_of_symbols_disentanglement(meanings, messages, 4, exclude_tokens=(0, 3)),
        reference.bag_of_symbols_disentanglement(meanings, messages, 4, exclude=(0, 3)),
        atol=1e-5,
    )


def test_symbol_counts():
    counts = language.symbol_counts(np.array([[0, 2, 2], [1, 1, 1]]), 3)
    np.testing.assert_array_equal(counts, [[1, 0, 2], [0, 3, 0]])


@pytest.mark.parametrize(
    ("meanings", "messages", "vocab_size", "match"),
    [
        (MEANINGS[:, :1], MEANINGS, 4, "M >= 2"),
        (MEANINGS, MEANINGS, 3, r"messages: expected tokens in \[0, vocab_size\) = \[0, 3\)"),
        (MEANINGS, MEANINGS - 1, 4, "messages: expected tokens in"),
        (MEANINGS, MEANINGS, 0, "vocab_size: expected an integer > 0"),
        (MEANINGS, MEANINGS.astype(float), 4, "messages: expected an integer array"),
        (MEANINGS, MEANINGS[:3], 4, "messages: expected the same N"),
    ],
)
def test_bad_inputs_raise(meanings, messages, vocab_size, match):
    with pytest.raises(ValueError, match=match):
        language.positional_disentanglement(meanings, messages, vocab_size)
    with pytest.raises(ValueError, match=match):
        language.bag_of_symbols_disentanglement(meanings, messages, vocab_size)


def test_bad_excluded_tokens_raise():
    with pytest.raises(ValueError, match="exclude_tokens: expected tokens in"):
        language.bag_of_symbols_disentanglement(MEANINGS, MEANINGS, 4, exclude_tokens=(4,))
    with pytest.raises(ValueError, match="exclude_tokens: expected to keep at least one token"):
        language.bag_of_symbols_disentanglement(MEANINGS, MEANINGS, 4, exclude_tokens=range(4))


def test_a_random_code_is_near_zero():
    rng = np.random.default_rng(10)
    meanings = rng.integers(0, 4, (4000, 3))
    messages = rng.integers(0, 4, (4000, 5))
    assert float(language.positional_disentanglement(meanings, messages, 4)) < 0.02
    assert float(language.bag_of_symbols_disentanglement(meanings, messages, 4)) < 0.02

"""Topographic similarity and edit distance against Python/scipy references and hand languages."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from jaxml import language
from tests.language import reference


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=5, max_size=5),
    st.lists(st.integers(0, 3), min_size=7, max_size=7),
)
def test_edit_distance_matches_the_full_table(a, b):
    got = int(language.edit_distance(jnp.array(a), jnp.array(b)))
    assert got == reference.edit_distance(a, b)


def test_batched_edit_distance_matches_per_pair_and_vmap():
    rng = np.random.default_rng(9)
    a, b = rng.integers(0, 3, (40, 6)), rng.integers(0, 3, (40, 4))
    expected = [reference.edit_distance(x, y) for x, y in zip(a, b, strict=True)]
    np.testing.assert_array_equal(language.edit_distance(a, b), expected)
    np.testing.assert_array_equal(jax.vmap(language.edit_distance)(a, b), expected)
    grid = language.edit_distance(a.reshape(4, 10, 6), b.reshape(4, 10, 4))
    np.testing.assert_array_equal(grid, np.reshape(expected, (4, 10)))


def test_edit_distance_to_an_empty_sequence_is_the_length():
    assert int(language.edit_distance(jnp.zeros(0, int), jnp.arange(5))) == 5
    assert int(language.edit_distance(jnp.arange(3), jnp.zeros(0, int))) == 3


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("kitten", "sitting", 3),
        ("flaw", "lawn", 2),
        ("abc", "abc", 0),
        ("abcd", "dcba", 4),
        ("a", "bbbb", 4),
    ],
)
def test_edit_distance_hand_cases(a, b, expected):
    codes = lambda s: jnp.array([ord(c) for c in s])  # noqa: E731
    assert int(language.edit_distance(codes(a), codes(b))) == expected
    assert reference.edit_distance(a, b) == expected


@pytest.mark.parametrize(
    ("n", "m", "num_values", "length", "vocab", "seed"),
    [
        (40, 3, 4, 6, 5, 0),
        (60, 2, 2, 3, 2, 1),  # tie-heavy: distances take 3 and 4 values over 1,770 pairs
        (30, 4, 2, 2, 2, 2),  # tie-heavy: message distances 0, 1, 2 only
        (25, 1, 3, 8, 3, 3),
    ],
)
def test_matches_scipy_spearman_on_random_languages(n, m, num_values, length, vocab, seed):
    rng = np.random.default_rng(seed)
    meanings = rng.integers(0, num_values, (n, m))
    messages = rng.integers(0, vocab, (n, length))
    expected = reference.topographic_similarity(meanings, messages)
    got = float(language.topographic_similarity(meanings, messages))
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_matches_scipy_on_a_partly_compositional_language():
    # Messages that follow the meaning with noise: a mid-range rho, where a wrong rank shows.
    rng = np.random.default_rng(4)
    meanings = rng.integers(0, 3, (50, 3))
    messages = np.where(rng.random((50, 3)) < 0.3, rng.integers(0, 3, (50, 3)), meanings)
    expected = reference.topographic_similarity(meanings, messages)
    assert 0.2 < expected < 0.9
    np.testing.assert_allclose(
        language.topographic_similarity(meanings, messages), expected, atol=1e-5
    )


def _all_meanings(num_attributes=3, num_values=3):
    return np.array(list(itertools.product(range(num_values), repeat=num_attributes)))


def test_a_perfectly_compositional_language_has_topsim_one():
    meanings = _all_meanings()
    # Position i says attribute i with its own symbols: the edit distance is the Hamming distance.
    messages = meanings + 3 * np.arange(3)[None, :]
    assert float(language.topographic_similarity(meanings, messages)) == pytest.approx(1.0)


def test_permuting_a_compositional_language_lowers_topsim():
    meanings = _all_meanings()
    messages = meanings + 3 * np.arange(3)[None, :]
    permuted = messages[np.random.default_rng(0).permutation(len(messages))]
    got = float(language.topographic_similarity(meanings, permuted))
    np.testing.assert_allclose(got, reference.topographic_similarity(meanings, permuted), atol=1e-5)
    assert got < 0.5


def test_constant_distances_give_zero_where_scipy_says_nan():
    meanings = _all_meanings(2, 3)
    constant = np.zeros((len(meanings), 4), int)
    assert np.isnan(reference.topographic_similarity(meanings, constant))
    assert float(language.topographic_similarity(meanings, constant)) == 0.0
    assert float(language.topographic_similarity(np.zeros_like(meanings), meanings)) == 0.0


def test_jittable_and_the_batch_size_does_not_change_the_result():
    rng = np.random.default_rng(5)
    meanings = jnp.asarray(rng.integers(0, 4, (45, 3)))
    messages = jnp.asarray(rng.integers(0, 4, (45, 5)))
    eager = language.topographic_similarity(meanings, messages, batch_size=None)
    jitted = jax.jit(language.topographic_similarity, static_argnames="batch_size")
    for batch_size in (None, 7, 990, 10_000):
        np.testing.assert_allclose(jitted(meanings, messages, batch_size=batch_size), eager)


def test_spearman_from_table_matches_scipy_on_expanded_pairs():
    rng = np.random.default_rng(6)
    table = rng.integers(0, 20, (4, 5))
    x = np.repeat(np.arange(4)[:, None], 5, axis=1).ravel()
    y = np.repeat(np.arange(5)[None, :], 4, axis=0).ravel()
    counts = table.ravel()
    expected = reference.scipy.stats.spearmanr(np.repeat(x, counts), np.repeat(y, counts))
    np.testing.assert_allclose(language.spearman_from_table(table), expected.statistic, atol=1e-6)


@pytest.mark.parametrize(
    ("meanings", "messages", "match"),
    [
        (
            np.zeros((5, 2), int),
            np.zeros((5,), int),
            r"messages: expected an integer array of shape \[N, L\]",
        ),
        (np.zeros((5, 2), int), np.zeros((5, 3)), "messages: expected an integer array"),
        (np.zeros((5, 2), float), np.zeros((5, 3), int), "meanings: expected an integer array"),
        (np.zeros((1, 2), int), np.zeros((1, 3), int), "N >= 2"),
        (np.zeros((5, 2), int), np.zeros((4, 3), int), r"messages: expected the same N \(5\)"),
    ],
)
def test_bad_inputs_raise(meanings, messages, match):
    with pytest.raises(ValueError, match=match):
        language.topographic_similarity(meanings, messages)


def test_bad_batch_size_raises():
    with pytest.raises(ValueError, match="batch_size: expected an integer > 0"):
        language.topographic_similarity(np.zeros((4, 2), int), np.zeros((4, 2), int), batch_size=0)


def test_a_random_code_is_near_zero_and_a_compositional_one_high():
    rng = np.random.default_rng(11)
    meanings = rng.integers(0, 4, (400, 3))
    random_code = rng.integers(0, 4, (400, 3))
    assert abs(float(language.topographic_similarity(meanings, random_code))) < 0.05
    # The plain compositional code (shared symbols, so edits can shift) is high, not exactly 1.
    assert float(language.topographic_similarity(meanings, meanings)) > 0.9

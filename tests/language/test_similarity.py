"""Language similarity, its matrices and chance level, and cross-play summaries."""

import jax
import numpy as np
import pytest

from jaxml import language
from tests.language import reference


def test_identical_languages_have_similarity_one():
    messages = np.random.default_rng(0).integers(0, 4, (30, 6))
    assert float(language.language_similarity(messages, messages)) == 1.0


def test_hand_case():
    a = np.array([[0, 1, 2, 3], [1, 1, 1, 1]])
    b = np.array([[0, 1, 0, 0], [2, 2, 2, 2]])
    # Episode 0: 2 of 4 positions agree; episode 1: none. LS = (0.5 + 0) / 2.
    assert float(language.language_similarity(a, b)) == pytest.approx(0.25)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_the_loop_reference(seed):
    rng = np.random.default_rng(seed)
    a = rng.integers(0, 3, (40, 7))
    b = np.where(rng.random((40, 7)) < 0.5, a, rng.integers(0, 3, (40, 7)))
    expected = reference.language_similarity(a, b)
    np.testing.assert_allclose(language.language_similarity(a, b), expected, rtol=1e-6)
    np.testing.assert_allclose(jax.jit(language.language_similarity)(a, b), expected, rtol=1e-6)


def test_matrix_entries_are_pairwise_similarities():
    rng = np.random.default_rng(3)
    population = rng.integers(0, 4, (3, 20, 5))
    other = rng.integers(0, 4, (2, 20, 5))
    within = np.asarray(language.language_similarity_matrix(population))
    across = np.asarray(language.language_similarity_matrix(population, other))
    assert within.shape == (3, 3) and across.shape == (3, 2)
    np.testing.assert_allclose(np.diag(within), 1.0)
    for i in range(3):
        for j in range(3):
            expected = reference.language_similarity(population[i], population[j])
            np.testing.assert_allclose(within[i, j], expected, rtol=1e-6)
        for j in range(2):
            expected = reference.language_similarity(population[i], other[j])
            np.testing.assert_allclose(across[i, j], expected, rtol=1e-6)


def test_chance_is_the_mean_over_all_episode_pairings():
    rng = np.random.default_rng(4)
    # Skewed per-position frequencies, and a different number of episodes on each side.
    a = np.minimum(rng.geometric(0.5, (25, 4)) - 1, 3)
    b = np.minimum(rng.geometric(0.3, (18, 4)) - 1, 3)
    expected = reference.language_similarity_all_pairings(a, b)
    np.testing.assert_allclose(language.language_similarity_chance(a, b, 4), expected, rtol=1e-5)


def test_independent_random_languages_are_near_chance():
    rng = np.random.default_rng(5)
    a, b = rng.integers(0, 4, (2, 2000, 8))
    ls = float(language.language_similarity(a, b))
    chance = float(language.language_similarity_chance(a, b, 4))
    assert chance == pytest.approx(0.25, abs=0.01)
    assert ls == pytest.approx(chance, abs=0.01)


def test_cross_play_matrix_and_summary():
    rng = np.random.default_rng(6)
    returns = rng.uniform(-1.0, 2.0, (3, 3, 50))
    matrix = np.asarray(language.cross_play_matrix(returns))
    success = np.asarray(language.cross_play_matrix(returns, success_threshold=0.0))
    for i in range(3):
        for j in range(3):
            assert matrix[i, j] == pytest.approx(np.mean(returns[i, j]), rel=1e-5)
            assert success[i, j] == pytest.approx(np.mean(returns[i, j] > 0.0))
    summary = language.cross_play_summary(matrix)
    off_diagonal = [matrix[i, j] for i in range(3) for j in range(3) if i != j]
    assert float(summary.self_play) == pytest.approx(np.mean(np.diag(matrix)), rel=1e-5)
    assert float(summary.cross_play) == pytest.approx(np.mean(off_diagonal), rel=1e-5)


def test_within_population_summary_of_similarity():
    population = np.stack([np.zeros((4, 2), int), np.zeros((4, 2), int), np.ones((4, 2), int)])
    summary = language.cross_play_summary(language.language_similarity_matrix(population))
    # Pairs (0, 1) and (1, 0) agree fully, the other four off-diagonal pairs not at all.
    assert float(summary.self_play) == 1.0
    assert float(summary.cross_play) == pytest.approx(2 / 6)


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (
            lambda: language.language_similarity(np.zeros((3, 4), int), np.zeros((3, 5), int)),
            r"messages_b: expected the \(E, L\) = \(3, 4\) of messages_a",
        ),
        (
            lambda: language.language_similarity(np.zeros((3, 4)), np.zeros((3, 4), int)),
            r"messages_a: expected an integer array of shape \[E, L\]",
        ),
        (
            lambda: language.language_similarity_matrix(np.zeros((3, 4), int)),
            r"messages_a: expected an integer array of shape \[A, E, L\]",
        ),
        (
            lambda: language.language_similarity_matrix(
                np.zeros((2, 3, 4), int), np.zeros((2, 4, 4), int)
            ),
            r"messages_b: expected the \(E, L\) = \(3, 4\)",
        ),
        (
            lambda: language.language_similarity_chance(
                np.zeros((3, 4), int), np.full((3, 4), 4), 4
            ),
            "messages_b: expected tokens in",
        ),
        (
            lambda: language.language_similarity_chance(
                np.zeros((3, 4), int), np.zeros((3, 3), int), 4
            ),
            "messages_b: expected the message length L = 4",
        ),
        (
            lambda: language.cross_play_matrix(np.zeros((3, 2, 5))),
            r"outcomes: expected shape \[N, N, E\]",
        ),
        (lambda: language.cross_play_summary(np.zeros((1, 1))), "matrix: expected a square"),
    ],
)
def test_bad_inputs_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_matrices_chance_and_cross_play_are_jittable():
    rng = np.random.default_rng(7)
    population = rng.integers(0, 4, (3, 10, 5))
    returns = rng.uniform(-1.0, 2.0, (3, 3, 8))
    np.testing.assert_allclose(
        jax.jit(language.language_similarity_matrix)(population),
        language.language_similarity_matrix(population),
        rtol=1e-6,
    )
    chance = jax.jit(language.language_similarity_chance, static_argnums=2)
    np.testing.assert_allclose(
        chance(population[0], population[1], 4),
        language.language_similarity_chance(population[0], population[1], 4),
        rtol=1e-6,
    )
    matrix = jax.jit(lambda r: language.cross_play_matrix(r, success_threshold=0.0))(returns)
    np.testing.assert_allclose(
        matrix, language.cross_play_matrix(returns, success_threshold=0.0), rtol=1e-6
    )
    summary = jax.jit(language.cross_play_summary)(matrix)
    np.testing.assert_allclose(
        summary.cross_play, language.cross_play_summary(matrix).cross_play, rtol=1e-6
    )

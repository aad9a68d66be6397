import itertools

import jax
import numpy as np
import scipy.spatial.distance
import scipy.stats

from jaxml import diffusion


def test_wasserstein_1d_matches_scipy():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=300), rng.gamma(2.0, size=300)
    np.testing.assert_allclose(
        diffusion.wasserstein_1d(a, b), scipy.stats.wasserstein_distance(a, b), rtol=1e-5
    )


def test_exact_w1_matches_brute_force_over_permutations():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 2)) + 1.0
    cost = np.linalg.norm(x[:, None] - y[None], axis=-1)
    brute = min(cost[np.arange(6), list(p)].mean() for p in itertools.permutations(range(6)))
    np.testing.assert_allclose(diffusion.wasserstein_1_exact(x, y), brute, rtol=1e-10)


def test_exact_w1_on_a_line_equals_the_1d_distance_and_bounds_the_sliced_one():
    rng = np.random.default_rng(2)
    t, u = rng.normal(size=200), rng.normal(size=200) * 2
    direction = np.array([0.6, 0.8])
    x, y = t[:, None] * direction, u[:, None] * direction
    exact = diffusion.wasserstein_1_exact(x, y)
    np.testing.assert_allclose(exact, scipy.stats.wasserstein_distance(t, u), rtol=1e-6)
    x2, y2 = rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) * 1.5
    sliced = diffusion.sliced_wasserstein_1(jax.random.PRNGKey(0), x2, y2, 64)
    # Projections are 1-Lipschitz, so every sliced term is at most the exact W1.
    assert 0 < float(sliced) <= diffusion.wasserstein_1_exact(x2, y2)


def test_mean_pairwise_distance_matches_scipy():
    x = np.random.default_rng(3).normal(size=(50, 3, 2))
    expected = scipy.spatial.distance.pdist(x.reshape(50, -1)).mean()
    np.testing.assert_allclose(diffusion.mean_pairwise_distance(x), expected, rtol=1e-5)

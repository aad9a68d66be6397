"""The sine benchmark's noise is what it claims to be."""

import jax
import numpy as np
import pytest

from jaxml.data.heteroscedastic import make_sine


def test_shapes_range_and_reproducibility():
    d = make_sine(jax.random.PRNGKey(0), 50)
    assert d.x.shape == (50, 1) and d.y.shape == d.mean.shape == d.noise_variance.shape == (50,)
    assert float(d.x.min()) >= 0.0 and float(d.x.max()) <= 10.0
    np.testing.assert_array_equal(d.y, make_sine(jax.random.PRNGKey(0), 50).y)


def test_empirical_noise_matches_the_stated_variance():
    d = make_sine(jax.random.PRNGKey(1), 200_000)
    x, resid = np.asarray(d.x[:, 0]), np.asarray(d.y - d.mean)
    np.testing.assert_allclose(d.mean, x * np.sin(x), rtol=1e-5, atol=1e-5)
    for low in range(0, 10, 2):  # Per bin, the residual variance matches mean(0.09 (1 + x²)).
        sel = (x >= low) & (x < low + 2)
        want = np.mean(0.09 * (1 + x[sel] ** 2))
        assert abs(resid[sel].var() / want - 1) < 0.03


def test_bad_arguments():
    with pytest.raises(ValueError, match="num_points=0"):
        make_sine(jax.random.PRNGKey(0), 0)
    with pytest.raises(ValueError, match="x_range"):
        make_sine(jax.random.PRNGKey(0), 5, (1.0, 1.0))

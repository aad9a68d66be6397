import jax
import numpy as np
import pytest

from jaxml.data.circle import sample_circle


def test_points_lie_on_the_circle_with_uniform_angles():
    x = np.asarray(sample_circle(jax.random.PRNGKey(0), 20_000, radius=1.5))
    np.testing.assert_allclose(np.linalg.norm(x, axis=1), 1.5, rtol=1e-5)
    angle = np.arctan2(x[:, 1], x[:, 0])
    hist, _ = np.histogram(angle, bins=8, range=(-np.pi, np.pi))
    assert np.all(np.abs(hist / 20_000 - 1 / 8) < 0.01)


def test_radial_noise_sets_the_radius_spread():
    x = np.asarray(sample_circle(jax.random.PRNGKey(1), 20_000, radial_noise=0.1))
    r = np.linalg.norm(x, axis=1)
    assert abs(r.mean() - 1.0) < 0.005 and abs(r.std() - 0.1) < 0.005


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="num_points"):
        sample_circle(jax.random.PRNGKey(0), 0)
    with pytest.raises(ValueError, match="radius"):
        sample_circle(jax.random.PRNGKey(0), 3, radius=-1.0)

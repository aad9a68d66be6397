"""The CAAL benchmarks as active-learning problems: PartMC pools and the sine."""

import jax
import numpy as np

from jaxml.al import partmc_data, sine_data
from jaxml.data.heteroscedastic import make_sine
from jaxml.data.partmc import PartMCTable, chi_to_logit


def _table(groups, chi, seed):
    x = np.random.default_rng(seed).normal(size=(len(groups), 3)).astype(np.float32)
    return PartMCTable(x, np.asarray(chi, np.float32), np.asarray(groups, np.int64))


def test_partmc_pool_ids_never_collide_with_the_labelled_ones():
    labelled = _table([1, 1, 2], [0.2, 0.3, 0.4], 0)
    pool = _table([1, 2, 2, 3], [0.5, 0.6, 0.7, 0.8], 1)  # Ids 1 and 2 also name labelled ones.
    test = _table([9, 9], [0.1, 0.9], 2)
    data = partmc_data(labelled, test, pool)
    np.testing.assert_array_equal(data.initial, [True] * 3 + [False] * 4)
    # Shifted past max(labelled) = 2: pool ids 1, 2, 3 become 3, 4, 5.
    np.testing.assert_array_equal(data.unit, [1, 1, 2, 3, 4, 4, 5])
    np.testing.assert_array_equal(data.x, np.concatenate([labelled.x, pool.x]))
    np.testing.assert_allclose(data.y, chi_to_logit(np.r_[labelled.chi, pool.chi]))
    np.testing.assert_allclose(data.y_test, chi_to_logit(test.chi))
    np.testing.assert_array_equal(data.y_test_raw, test.chi)
    assert data.target_transform == "logit"


def test_partmc_without_a_pool_labels_whole_scenarios():
    labelled = _table(np.repeat(np.arange(10), 3), np.linspace(0.1, 0.9, 30), 0)
    data = partmc_data(labelled, labelled, initial_scenarios=4, split_seed=5)
    chosen = np.unique(data.unit[data.initial])
    assert len(chosen) == 4
    np.testing.assert_array_equal(data.initial, np.isin(data.unit, chosen))
    again = partmc_data(labelled, labelled, initial_scenarios=4, split_seed=5)
    np.testing.assert_array_equal(again.initial, data.initial)


def test_sine_data_scores_rmse_against_the_noise_free_function():
    key = jax.random.PRNGKey(3)
    data = sine_data(key, pool_size=50, test_size=20, initial_points=7)
    pool_key, test_key = jax.random.split(key)
    pool, test = make_sine(pool_key, 50), make_sine(test_key, 20)
    np.testing.assert_array_equal(data.x, pool.x)
    np.testing.assert_array_equal(data.y, pool.y)
    np.testing.assert_array_equal(data.initial, np.arange(50) < 7)
    np.testing.assert_array_equal(data.unit, np.arange(50))
    np.testing.assert_array_equal(data.y_test, test.y)
    np.testing.assert_array_equal(data.y_test_raw, test.mean)
    assert data.target_transform == "identity"

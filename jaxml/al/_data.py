"""The benchmarks of CAAL as active-learning problems: PartMC scenarios and a heteroscedastic sine.

From "Confidence-Aware Active Learning for Heteroscedastic Atmospheric Regression" (CAAL, Jiang et
al., arXiv 2602.11825): PartMC aerosol scenarios are labelled whole (group mode) with the mixing
state χ fitted in logit space; the sine's known noise shows where each strategy labels.
"""

from __future__ import annotations

import jax
import numpy as np

from jaxml.al._loop import ActiveLearningData
from jaxml.data.heteroscedastic import make_sine
from jaxml.data.partmc import PartMCTable, chi_to_logit, split_groups


def partmc_data(
    labelled: PartMCTable,
    test: PartMCTable,
    pool: PartMCTable | None = None,
    *,
    initial_scenarios: int = 20,
    split_seed: int = 0,
) -> ActiveLearningData:
    """PartMC as a pool of scenarios (the units of labelling) with logit-χ targets.

    Args:
      labelled: with ``pool``, the initial labelled set; without, the scenarios that are split
        into ``initial_scenarios`` labelled ones (drawn with ``split_seed``) and the pool.
      test: the test set; RMSE is reported on its χ.
      pool: the unlabelled pool, or None.
      initial_scenarios: scenarios labelled at round 0 when there is no ``pool``.
      split_seed: seed of that split.
    """
    if pool is not None:
        # Scenario ids of two files may collide: shift the pool's past the labelled ones.
        shift = labelled.group.max() - pool.group.min() + 1
        x = np.concatenate([labelled.x, pool.x])
        chi = np.concatenate([labelled.chi, pool.chi])
        group = np.concatenate([labelled.group, pool.group + shift])
        initial = np.arange(len(chi)) < len(labelled.chi)
    else:
        x, chi, group = labelled.x, labelled.chi, labelled.group
        initial, _ = split_groups(group, initial_scenarios, split_seed)
    return ActiveLearningData(
        x, chi_to_logit(chi), group, initial, test.x, chi_to_logit(test.chi), test.chi, "logit"
    )


def sine_data(
    key: jax.Array, pool_size: int, test_size: int, initial_points: int
) -> ActiveLearningData:
    """A pool of ``pool_size`` noisy sine points whose first ``initial_points`` start labelled.

    RMSE/MAE/R² are against the noise-free function (how well the mean is learned); the NLL is
    against the noisy test targets.
    """
    pool_key, test_key = jax.random.split(key)
    pool, test = make_sine(pool_key, pool_size), make_sine(test_key, test_size)
    return ActiveLearningData(
        np.asarray(pool.x),
        np.asarray(pool.y),
        np.arange(pool_size),
        np.arange(pool_size) < initial_points,
        np.asarray(test.x),
        np.asarray(test.y),
        np.asarray(test.mean),
    )

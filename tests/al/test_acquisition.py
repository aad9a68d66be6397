"""Acquisition scores on fixed arrays, BALD, group-mode aggregation and the diversity baselines."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

from jaxml.al import (
    bald_score,
    caal_score,
    group_mean,
    kcenter_greedy,
    kmeans_pp,
    minmax_normalise,
    point_scores,
    random_units,
    top_k,
)
from jaxml.al._loop import _acquire

UE = jnp.array([0.0, 1.0, 2.0, 3.0])
UA = jnp.array([3.0, 0.0, 1.0, 2.0])


def test_minmax_normalise_over_the_pool_only():
    u = jnp.array([5.0, 1.0, 3.0, 100.0])
    pool = jnp.array([True, True, True, False])
    np.testing.assert_allclose(minmax_normalise(u, pool)[:3], [1.0, 0.0, 0.5])
    np.testing.assert_allclose(minmax_normalise(jnp.ones(3)), [0.0, 0.0, 0.0])


def test_caal_score_by_hand():
    # ũ_e = [0, 1/3, 2/3, 1], ũ_a = [1, 0, 1/3, 2/3].
    expected = np.array([1e-8 * 1e-8, 1 / 3, (2 / 3) * (2 / 3), 1 / 3])
    np.testing.assert_allclose(caal_score(UE, UA), expected, rtol=1e-5, atol=1e-12)
    # α = 2, β = 0 ranks by epistemic only.
    np.testing.assert_allclose(
        caal_score(UE, UA, alpha=2.0, beta=0.0), (np.array([0, 1 / 3, 2 / 3, 1]) + 1e-8) ** 2
    )
    # α = 0 is the "confidence" baseline 1 - ũ_a.
    conf = point_scores("confidence", jnp.stack([UE, -UE]), jnp.stack([UA, UA]), jnp.ones(4, bool))
    np.testing.assert_allclose(conf, 1 - np.array([1, 0, 1 / 3, 2 / 3]) + 1e-8, rtol=1e-6)
    with pytest.raises(ValueError, match="beta=-1"):
        caal_score(UE, UA, beta=-1.0)


def test_caal_prefers_reliable_uncertainty():
    # Same epistemic uncertainty, different predicted noise: the quieter point wins under CAAL,
    # the noisier one under total variance.
    means = jnp.array([[0.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
    variances = jnp.array([[0.1, 5.0, 0.1], [0.1, 5.0, 0.1]])
    pool = jnp.ones(3, bool)
    assert int(jnp.argmax(point_scores("caal", means, variances, pool))) == 0
    assert int(jnp.argmax(point_scores("total_variance", means, variances, pool))) == 1
    assert int(jnp.argmax(point_scores("aleatoric", means, variances, pool))) == 1
    np.testing.assert_allclose(point_scores("epistemic", means, variances, pool), [0.25, 0.25, 0])


def test_bald_matches_gaussian_entropies():
    rng = np.random.default_rng(1)
    means, variances = rng.normal(size=(5, 7)), rng.uniform(0.2, 3.0, size=(5, 7))
    total = means.var(0) + variances.mean(0)
    expected = norm(scale=np.sqrt(total)).entropy() - np.mean(
        norm(scale=np.sqrt(variances)).entropy(), axis=0
    )
    np.testing.assert_allclose(
        bald_score(jnp.asarray(means), jnp.asarray(variances)), expected, rtol=1e-4
    )
    # Identical members: no mutual information.
    same = jnp.ones((3, 4))
    np.testing.assert_allclose(bald_score(same, 2 * same), 0.0, atol=1e-6)


def test_group_mean_matches_a_loop():
    rng = np.random.default_rng(2)
    values = rng.normal(size=(10,))
    unit = np.array([0, 0, 1, 3, 3, 3, 1, 0, 3, 1])
    got = np.asarray(group_mean(jnp.asarray(values), jnp.asarray(unit), 5))
    for g in range(5):
        want = values[unit == g].mean() if (unit == g).any() else 0.0
        np.testing.assert_allclose(got[g], want, rtol=1e-6)
    vec = rng.normal(size=(10, 3))
    got = np.asarray(group_mean(jnp.asarray(vec), jnp.asarray(unit), 4))
    np.testing.assert_allclose(got[3], vec[unit == 3].mean(0), rtol=1e-6)


def test_group_mode_labels_the_group_with_the_best_mean_score():
    # Point 2 alone has the top epistemic score, but group 1 has the best mean.
    means = jnp.array([[0.0, 0.0, 0.0, 0.0, 0.0], [0.4, 0.4, 1.0, 0.0, 0.6]])
    variances = jnp.ones((2, 5))
    unit = jnp.array([0, 0, 1, 1, 2])  # Groups: {0, 1}, {2, 3}, {4}.
    labelled = np.array([False, False, False])
    emb = jnp.zeros((2, 5, 1))
    # Epistemic point scores [.04, .04, .25, 0, .09]; group means [.04, .125, .09].
    got = _acquire(
        "epistemic", jax.random.PRNGKey(0), means, variances, emb, unit, labelled, 1, 1.0, 1.0
    )
    np.testing.assert_array_equal(got, [1])
    got = _acquire(
        "epistemic",
        jax.random.PRNGKey(0),
        means,
        variances,
        emb,
        unit,
        np.array([False, True, False]),
        1,
        1.0,
        1.0,
    )
    np.testing.assert_array_equal(got, [2])  # A labelled group is never picked again.


def test_top_k_and_random_skip_labelled():
    scores = jnp.array([5.0, 4.0, 3.0, 2.0])
    cand = jnp.array([False, True, True, True])
    np.testing.assert_array_equal(top_k(scores, cand, 2), [1, 2])
    for s in range(5):
        picks = np.asarray(random_units(jax.random.PRNGKey(s), cand, 3))
        assert sorted(picks.tolist()) == [1, 2, 3]


def _kcenter_reference(vectors, labelled, candidates, k):
    picked, centres = [], list(np.flatnonzero(labelled))
    for _ in range(k):
        best, best_d = None, -1.0
        for i in np.flatnonzero(candidates):
            if i in picked:
                continue
            d = min(np.sum((vectors[i] - vectors[c]) ** 2) for c in centres)
            if d > best_d:
                best, best_d = i, d
        picked.append(best)
        centres.append(best)
    return picked


def test_kcenter_greedy_matches_a_slow_reference():
    rng = np.random.default_rng(3)
    vectors = rng.normal(size=(30, 4)).astype(np.float32)
    labelled = np.zeros(30, bool)
    labelled[[0, 5]] = True
    candidates = ~labelled
    candidates[7] = False
    got = kcenter_greedy(jnp.asarray(vectors), jnp.asarray(labelled), jnp.asarray(candidates), 6)
    assert np.asarray(got).tolist() == _kcenter_reference(vectors, labelled, candidates, 6)


def test_kmeans_pp_picks_distinct_candidates_first_the_largest_norm():
    rng = np.random.default_rng(4)
    vectors = rng.normal(size=(20, 3))
    vectors[9] *= 10.0
    cand = np.ones(20, bool)
    cand[3] = False
    picks = np.asarray(kmeans_pp(jax.random.PRNGKey(0), jnp.asarray(vectors), jnp.asarray(cand), 8))
    assert picks[0] == 9
    assert len(set(picks.tolist())) == 8 and 3 not in picks
    # Duplicated vectors (zero distances) still give k distinct picks.
    picks = kmeans_pp(jax.random.PRNGKey(1), jnp.zeros((6, 2)), jnp.ones(6, bool), 4)
    assert len(set(np.asarray(picks).tolist())) == 4


def test_unknown_strategy_is_rejected():
    with pytest.raises(ValueError, match="strategy='max'"):
        point_scores("max", jnp.ones((2, 3)), jnp.ones((2, 3)), jnp.ones(3, bool))

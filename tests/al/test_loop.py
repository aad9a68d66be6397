"""The active-learning loop on tiny problems: bookkeeping, group mode, reproducibility, errors."""

import jax
import ml_collections
import numpy as np
import pytest

from jaxml.al import STRATEGIES, ActiveLearningData, default_config, run_active_learning
from jaxml.data.heteroscedastic import make_sine
from jaxml.data.partmc import LABELLED_CSV, chi_to_logit, load_partmc_csv
from jaxml.utils.metrics import MetricsWriter, read_metrics


def tiny_config(**overrides) -> ml_collections.ConfigDict:
    c = default_config()
    c.strategies = STRATEGIES
    c.num_rounds = 1
    c.acquire_per_round = 5
    c.group_mode = False
    c.ensemble.update(
        num_members=2,
        trunk="mlp",
        width=8,
        depth=1,
        batch_size=16,
        max_epochs=3,
        patience=2,
        learning_rate=1e-2,
    )
    c.update(overrides)
    return c


def sine_data() -> ActiveLearningData:
    pool, test = make_sine(jax.random.PRNGKey(0), 40), make_sine(jax.random.PRNGKey(1), 30)
    initial = np.arange(40) < 10
    return ActiveLearningData(
        np.asarray(pool.x),
        np.asarray(pool.y),
        np.arange(40),
        initial,
        np.asarray(test.x),
        np.asarray(test.y),
        np.asarray(test.y),
    )


def test_point_mode_rows_every_strategy_and_reproducible(tmp_path):
    config = tiny_config()
    writer = MetricsWriter(tmp_path, tensorboard=False)
    rows = run_active_learning(config, sine_data(), jax.random.PRNGKey(3), seed=3, writer=writer)
    writer.close()
    assert len(rows) == len(STRATEGIES) * 2
    for row in rows:
        assert row["n_labelled"] == 10 + 5 * row["round"] and row["seed"] == 3
        for name in ("test_rmse", "test_mae", "test_r2", "test_nll"):
            assert np.isfinite(row[name])
    assert {r["strategy"] for r in rows} == set(STRATEGIES)
    # Round 0 is the same model for every strategy (same data, same keys).
    first = [r for r in rows if r["round"] == 0]
    assert len({r["test_rmse"] for r in first}) == 1
    # After acquiring, strategies differ.
    last = [r for r in rows if r["round"] == 1]
    assert len({r["test_rmse"] for r in last}) > 1
    logged = read_metrics(tmp_path)
    assert [{k: v for k, v in r.items() if k != "step"} for r in logged] == rows
    assert [r["step"] for r in logged] == [r["round"] for r in rows]
    again, labelled = run_active_learning(
        config, sine_data(), jax.random.PRNGKey(3), seed=3, return_labelled=True
    )
    assert again == rows
    assert labelled.shape == (len(STRATEGIES), 40)
    np.testing.assert_array_equal(labelled.sum(1), [r["n_labelled"] for r in last])
    assert labelled[:, :10].all()  # The initial set stays labelled.


@pytest.mark.slow
def test_group_mode_labels_whole_scenarios():
    t = load_partmc_csv(LABELLED_CSV)
    keep = np.isin(t.group, np.unique(t.group)[:10])
    x, chi, group = t.x[keep], t.chi[keep], t.group[keep]
    initial = np.isin(group, np.unique(group)[:4])
    test = ~np.isin(group, np.unique(group)[:8])
    data = ActiveLearningData(
        x, chi_to_logit(chi), group, initial, x[test], chi_to_logit(chi[test]), chi[test], "logit"
    )
    config = tiny_config(
        strategies=("caal", "coreset", "random"), acquire_per_round=2, num_rounds=2, group_mode=True
    )
    rows = run_active_learning(config, data, jax.random.PRNGKey(0))
    for row in rows:
        assert row["n_labelled"] == 25 * row["n_labelled_units"]
        assert row["n_labelled_units"] == 4 + 2 * row["round"]
        assert 0.0 <= row["test_rmse"] < 1.0  # chi space.
    partial = initial.copy()
    partial[np.flatnonzero(group == np.unique(group)[5])[0]] = True
    with pytest.raises(ValueError, match="partly labelled"):
        run_active_learning(config, data._replace(initial=partial), jax.random.PRNGKey(0))


def test_bad_configs_name_the_field():
    data = sine_data()
    with pytest.raises(ValueError, match="pool holds only 30"):
        run_active_learning(tiny_config(num_rounds=7), data, jax.random.PRNGKey(0))
    with pytest.raises(
        ValueError, match=r"--config.strategies: expected a non-empty tuple of caal"
    ):
        run_active_learning(tiny_config(strategies=("caal", "greedy")), data, jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="--config.strategies: expected each strategy once"):
        run_active_learning(tiny_config(strategies=("caal", "caal")), data, jax.random.PRNGKey(0))
    with pytest.raises(
        ValueError, match="ensemble.trunk: expected one of mlp, ft_transformer, got 'cnn'"
    ):
        c = tiny_config()
        c.ensemble.trunk = "cnn"
        run_active_learning(c, data, jax.random.PRNGKey(0))
    with pytest.raises(
        ValueError, match="data.target_transform: expected one of identity, logit, got 'log'"
    ):
        run_active_learning(
            tiny_config(), data._replace(target_transform="log"), jax.random.PRNGKey(0)
        )


@pytest.mark.slow
def test_ft_transformer_trunk_runs_in_the_loop():
    config = tiny_config(strategies=("caal", "badge"))
    config.ensemble.update(trunk="ft_transformer", width=8, depth=1, num_heads=2, ffn_width=16)
    rows = run_active_learning(config, sine_data(), jax.random.PRNGKey(0))
    assert len(rows) == 4 and all(np.isfinite(r["test_nll"]) for r in rows)

"""Settings × seeds sweeps: the setting-major reshape and the best-setting choice."""

import numpy as np
import pytest

from jaxml.utils.sweep import SweepChoice, best_setting, setting_metric
from jaxml.utils.trainer import member_grid


def _row(step, val, alive):
    # Six members: settings 0, 1, 2 with two seeds each, setting-major.
    return {
        "step": step,
        "val_loss": float(np.mean(val)),
        "val_loss_per_seed": list(val),
        "alive": float(np.mean(alive)),
        "alive_per_seed": list(alive),
    }


def test_setting_metric_follows_member_grids_order():
    _, settings = member_grid(0, 2, np.array([10.0, 20.0, 30.0]))
    history = [{"step": 1, "s": 0.0, "s_per_seed": np.asarray(settings).tolist()}]
    got = setting_metric(history, "s", 3)
    assert got.shape == (1, 3, 2)
    np.testing.assert_array_equal(got[0], [[10, 10], [20, 20], [30, 30]])
    with pytest.raises(ValueError, match="num_settings"):
        setting_metric(history, "s", 4)


def test_best_setting_skips_settings_with_a_diverged_seed():
    history = [
        _row(1, [1.0] * 6, [1.0] * 6),
        # Setting 2 has the lowest validation loss but one seed diverged: it must not win.
        _row(2, [0.9, 0.9, 0.5, 0.7, 0.1, 0.1], [1, 1, 1, 1, 1, 0]),
    ]
    assert best_setting(history, "val_loss", 3) == SweepChoice(1, (2,))
    assert best_setting(history, "val_loss", 3, alive=None) == SweepChoice(2, ())


def test_divergence_inside_the_last_chunk_counts():
    # A member that died mid-chunk reports alive 0.4 and a zeroed (frozen) objective.
    history = [_row(1, [0.9, 0.9, 0.0, 0.5, 0.8, 0.8], [1, 1, 0.4, 1, 1, 1])]
    assert best_setting(history, "val_loss", 3) == SweepChoice(2, (1,))


def test_every_setting_diverged_and_ties():
    history = [_row(1, [1.0] * 6, [0, 1, 1, 0, 0, 1])]
    assert best_setting(history, "val_loss", 3) == SweepChoice(None, (0, 1, 2))
    tied = [_row(1, [0.5, 0.7, 0.6, 0.6, 0.2, 1.0], [1] * 6)]
    assert best_setting(tied, "val_loss", 3) == SweepChoice(0, ())  # First of the equal means.


def test_best_setting_matches_a_loop_on_random_sweeps():
    rng = np.random.default_rng(0)
    for _ in range(20):
        settings, seeds = int(rng.integers(1, 5)), int(rng.integers(1, 4))
        val = rng.random(settings * seeds)
        alive = (rng.random(settings * seeds) > 0.2).astype(float)
        history = [_row(1, val, alive)]
        ok = [all(alive[i * seeds : (i + 1) * seeds]) for i in range(settings)]
        means = [val[i * seeds : (i + 1) * seeds].mean() for i in range(settings)]
        want = min((i for i in range(settings) if ok[i]), key=lambda i: means[i], default=None)
        got = best_setting(history, "val_loss", settings)
        assert got.best == want
        assert got.diverged == tuple(i for i in range(settings) if not ok[i])

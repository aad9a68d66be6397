"""The chunked runner against a plain Python loop, and its resume and NaN-guard contracts."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.utils import runner
from jaxml.utils.checkpoint import Checkpointer
from jaxml.utils.metrics import read_metrics

FAST = dict(tensorboard=False, progress_bar=False)


def noisy_decay_step(carry):
    """A contraction with noise: the value depends on every earlier key split."""
    x, key = carry
    key, sub = jax.random.split(key)
    x = 0.9 * x + jax.random.normal(sub, x.shape)
    return (x, key), {"mean": jnp.mean(x), "norm": jnp.linalg.norm(x)}


def init_carry(seed=0):
    return (jnp.ones(3), jax.random.PRNGKey(seed))


def python_loop(num_steps, seed=0):
    carry, per_step = init_carry(seed), []
    for _ in range(num_steps):
        carry, m = noisy_decay_step(carry)
        per_step.append({k: float(v) for k, v in m.items()})
    return carry, per_step


def test_run_matches_python_loop_and_logs_chunk_means(tmp_path):
    result = runner.run(
        noisy_decay_step, init_carry(), num_steps=25, chunk_size=10, workdir=tmp_path, **FAST
    )
    ref_carry, per_step = python_loop(25)
    np.testing.assert_allclose(result.carry[0], ref_carry[0], rtol=1e-5)
    np.testing.assert_array_equal(result.carry[1], ref_carry[1])
    assert [r["step"] for r in result.history] == [10, 20, 25]
    for row, (lo, hi) in zip(result.history, [(0, 10), (10, 20), (20, 25)], strict=True):
        np.testing.assert_allclose(
            row["mean"], np.mean([m["mean"] for m in per_step[lo:hi]]), rtol=1e-5
        )
    assert read_metrics(tmp_path) == result.history


def test_resume_ends_where_an_uninterrupted_run_ends(tmp_path):
    full = runner.run(
        noisy_decay_step, init_carry(), num_steps=60, chunk_size=10, workdir=tmp_path / "a", **FAST
    )
    # A run stopped after 30 steps, then debris a kill can leave: rows past the last checkpoint, a
    # torn last line, and an unfinished orbax save.
    part = tmp_path / "b"
    runner.run(noisy_decay_step, init_carry(), num_steps=30, chunk_size=10, workdir=part, **FAST)
    with (part / "metrics.jsonl").open("a") as f:
        f.write(json.dumps({"step": 40, "mean": 123.0}) + "\n" + '{"step": 50, "me')
    (part / "checkpoints" / "40.orbax-checkpoint-tmp").mkdir()
    resumed = runner.run(
        noisy_decay_step,
        init_carry(seed=99),  # Ignored on resume: only its structure is used.
        num_steps=60,
        chunk_size=10,
        workdir=part,
        resume=True,
        **FAST,
    )
    np.testing.assert_array_equal(resumed.carry[0], full.carry[0])
    np.testing.assert_array_equal(resumed.carry[1], full.carry[1])
    assert resumed.history == full.history
    assert (part / "metrics.jsonl").read_text() == (tmp_path / "a" / "metrics.jsonl").read_text()


def test_fresh_run_discards_an_earlier_runs_state(tmp_path):
    runner.run(
        noisy_decay_step, init_carry(1), num_steps=20, chunk_size=10, workdir=tmp_path, **FAST
    )
    again = runner.run(
        noisy_decay_step, init_carry(), num_steps=20, chunk_size=10, workdir=tmp_path, **FAST
    )
    ref_carry, _ = python_loop(20)
    np.testing.assert_allclose(again.carry[0], ref_carry[0], rtol=1e-5)
    assert [r["step"] for r in again.history] == [10, 20]


def test_resume_of_a_finished_run_changes_nothing(tmp_path):
    first = runner.run(
        noisy_decay_step, init_carry(), num_steps=20, chunk_size=10, workdir=tmp_path, **FAST
    )
    again = runner.run(
        noisy_decay_step,
        init_carry(),
        num_steps=20,
        chunk_size=10,
        workdir=tmp_path,
        resume=True,
        **FAST,
    )
    np.testing.assert_array_equal(again.carry[0], first.carry[0])
    assert again.history == first.history


def nan_at_step(bad_step, where):
    """A counter step that turns its metric (or its state) NaN at ``bad_step`` (1-based)."""

    def step(carry):
        count, x = carry
        count = count + 1
        poison = jnp.where(count == bad_step, jnp.nan, 0.0)
        if where == "state":
            x = x + poison
            return (count, x), {"loss": jnp.float32(1.0)}
        return (count, x + 1.0), {"loss": x + poison}

    return step


@pytest.mark.parametrize(("where", "reported_step"), [("metric", 137), ("state", 140)])
def test_nan_guard_stops_with_step_and_keeps_last_good_checkpoint(tmp_path, where, reported_step):
    carry = (jnp.int32(0), jnp.float32(0.0))
    with pytest.raises(runner.NonFiniteError, match=f"at step {reported_step}") as err:
        runner.run(
            nan_at_step(137, where), carry, num_steps=300, chunk_size=20, workdir=tmp_path, **FAST
        )
    # The state is checked once a chunk: a NaN in it is reported at the chunk's end (step 140).
    assert err.value.last_good_step == 120
    ckpt = Checkpointer(tmp_path)
    assert ckpt.latest_step() == 120
    count, x = ckpt.restore(120, carry)
    assert int(count) == 120 and np.isfinite(x)
    assert read_metrics(tmp_path)[-1]["step"] == 120


def test_seed_axis_rows_hold_the_mean_and_each_seed(tmp_path):
    init, step, _ = runner.vmap_seeds(lambda k: (jnp.ones(3), k), noisy_decay_step)
    carry = init(runner.seed_keys(5, 3))
    result = runner.run(
        step, carry, num_steps=10, chunk_size=10, workdir=tmp_path, num_seeds=3, **FAST
    )
    row = result.history[-1]
    assert len(row["mean_per_seed"]) == 3
    np.testing.assert_allclose(row["mean"], np.mean(row["mean_per_seed"]), rtol=1e-6)
    # Seed 6 of a multi-seed run is the single run with seed 6.
    single = runner.run(
        noisy_decay_step, init_carry(6), num_steps=10, chunk_size=10, workdir=tmp_path / "s", **FAST
    )
    np.testing.assert_allclose(row["mean_per_seed"][1], single.history[-1]["mean"], rtol=1e-5)


def test_metric_shape_mismatch_is_a_clear_error(tmp_path):
    step = lambda c: (c, {"v": jnp.zeros(2)})  # Not a scalar and no seed axis declared.
    with pytest.raises(ValueError, match="metric 'v' has shape"):
        runner.run(step, jnp.zeros(()), num_steps=1, chunk_size=1, workdir=tmp_path, **FAST)


def test_tensorboard_events_are_written(tmp_path):
    runner.run(
        noisy_decay_step,
        init_carry(),
        num_steps=10,
        chunk_size=5,
        workdir=tmp_path,
        progress_bar=False,
    )
    assert list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))

"""The GRNG sweep: typed config checks, best-lr bookkeeping, the lr written into the state."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from experiments.grng import report
from experiments.grng.config import ADAPTIVE, get_config
from experiments.grng.main import Task, make_trainer, summarize_sweep, train_and_evaluate, validate
from jaxml import optim
from jaxml.models import ResidualMLP
from jaxml.utils.config import ConfigError
from jaxml.utils.runner import RunResult
from jaxml.utils.trainer import TrainerRun


def row(step, val, alive, test=1.0):
    # Members: lr 0 (seeds a, b), lr 1 (a, b), lr 2 (a, b).
    return {
        "step": step,
        "val_loss_per_seed": val,
        "alive_per_seed": alive,
        "test_loss_per_seed": [test] * 6,
        "train_loss_per_seed": [2.0] * 6,
        "grad_norm_per_seed": [0.5, 0.5, 1.0, 3.0, 2.0, 2.0],
        "test_accuracy_per_seed": [0.9] * 6,
        "val_loss": 0.0,
        "alive": 0.0,
        "test_loss": 0.0,
        "train_loss": 0.0,
        "grad_norm": 0.0,
        "test_accuracy": 0.0,
    }


def _run(history, steps_per_second):
    return TrainerRun(RunResult(None, history, steps_per_second), 2, 1, 6)


def test_best_lr_by_validation_loss_among_the_lrs_that_never_diverged():
    task = Task("digits", None, None, None, {}, "accuracy", 2)
    history = [
        row(1, [1.0] * 6, [1.0] * 6),
        # lr 0.1 has the lowest validation loss but one seed diverged: it must not win.
        row(2, [0.9, 0.9, 0.5, 0.7, 0.1, 0.1], [1, 1, 1, 1, 1, 0]),
    ]
    record = summarize_sweep(task, "adamw", (0.001, 0.01, 0.1), _run(history, 10.0))
    assert record["best_lr"] == 0.01
    assert record["diverged_lrs"] == [0.1]
    assert record["avg_grad_norm"] == 2.0  # Mean over steps of the seed mean (1.0 + 3.0) / 2.
    assert record["final_test_loss_per_seed"] == [1.0, 1.0]
    assert record["avg_grad_norm_per_seed"] == [1.0, 3.0]  # Seed a, seed b of lr 0.01.
    assert record["final_quality_per_seed"] == [0.9, 0.9]
    assert record["ms_per_member_step"] == 1e3 / 10.0 / 6


def test_every_lr_diverged_gives_no_best():
    task = Task("digits", None, None, None, {}, "accuracy", 1)
    history = [row(1, [1.0] * 6, [0, 1, 1, 0, 0, 1])]
    record = summarize_sweep(task, "kfac", (0.1, 0.3, 1.0), _run(history, None))
    assert record["best_lr"] is None and record["diverged_lrs"] == [0.1, 0.3, 1.0]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("optimizers", ("adamw", "lion"), "--config.optimizers: expected a non-empty tuple of sgd"),
        # A comma string inside the tuple is one (unknown) name, not two.
        ("optimizers", ("adamw,ring",), "--config.optimizers: expected a non-empty tuple"),
        (
            "tasks",
            (),
            "--config.tasks: expected a non-empty tuple of digits, charlm, digits_cnn, got ()",
        ),
        ("lr_grid.sgd", (0.1, -1.0), "--config.lr_grid.sgd: expected a non-empty tuple of numbers"),
        ("charlm.width", 30, "--config.charlm.width: expected a multiple of"),
        ("skip.digits", ("kfac", "lion"), "--config.skip.digits: expected a tuple of optimizer"),
        ("adaptive_damping", 0.0, "--config.adaptive_damping: expected"),
        (
            "digits.val_fraction",
            1.0,
            "--config.digits.val_fraction: expected a value in (0.0,",
        ),
    ],
)
def test_validate_rejects_bad_values(field, value, message):
    config = get_config("quick")
    config.update_from_flattened_dict({field: value})
    with pytest.raises(ConfigError, match="^" + re.escape(message)):
        validate(config)


def test_presets_validate_with_tuples():
    for preset in ("quick", "full"):
        config = get_config(preset)
        validate(config)
        assert isinstance(config.tasks, tuple) and isinstance(config.optimizers, tuple)


def test_each_member_starts_with_its_learning_rate_and_the_same_params_per_seed():
    config = get_config("quick")
    x = jnp.zeros((4, 3))
    task = Task(
        "toy",
        ResidualMLP(2, width=4, num_blocks=1),
        x[:1],
        lambda key: (x, jnp.zeros((4,), jnp.int32)),
        {"val": (x, jnp.zeros((4,), jnp.int32))},
        "accuracy",
        1,
    )
    trainer = make_trainer(task, "adamw", config)
    key = jax.random.PRNGKey(0)
    a, b = trainer.init(key, jnp.float32(1e-3)), trainer.init(key, jnp.float32(3e-3))
    assert float(a.opt_state.hyperparams["learning_rate"]) == pytest.approx(1e-3)
    assert float(b.opt_state.hyperparams["learning_rate"]) == pytest.approx(3e-3)
    for pa, pb in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params), strict=True):
        np.testing.assert_array_equal(pa, pb)
    _, metrics = trainer.step(a)
    assert set(metrics) == {"train_loss", "grad_norm", "alive"} and float(metrics["alive"]) == 1.0


def _adaptive_state(opt_state):
    """The ScaleByQuadraticModelState inside an inject_hyperparams state, or None."""
    kind = optim.ScaleByQuadraticModelState
    leaves = jax.tree.leaves(opt_state, is_leaf=lambda s: isinstance(s, kind))
    found = [s for s in leaves if isinstance(s, kind)]
    return found[0] if found else None


@pytest.mark.parametrize("name", ADAPTIVE)
def test_an_adaptive_form_takes_the_quadratic_models_step_scaled_by_its_rate(name):
    config = get_config("quick")
    x = jax.random.normal(jax.random.PRNGKey(3), (8, 3))
    y = jnp.arange(8) % 2
    task = Task("toy", ResidualMLP(2, width=4, num_blocks=1), x[:1], lambda key: (x, y),
                {"val": (x, y)}, "accuracy", 1)  # fmt: skip
    trainer = make_trainer(task, name, config)
    key = jax.random.PRNGKey(0)
    full, half = trainer.init(key, jnp.float32(1.0)), trainer.init(key, jnp.float32(0.5))
    assert _adaptive_state(full.opt_state) is not None  # The quadratic-model step, not the fixed.
    step = jax.jit(trainer.step)
    (new_full, metrics), (new_half, _) = step(full), step(half)
    assert np.isfinite(float(metrics["train_loss"])) and float(metrics["alive"]) == 1.0
    inner = _adaptive_state(new_full.opt_state)
    assert int(inner.count) == 1 and int(inner.rejected) == 0
    assert float(inner.damping) == pytest.approx(config.adaptive_damping)  # λ starts there.
    assert float(inner.learning_rate) > 0  # α from the model (the 1-D solve at the first step).
    # Same params, batch and key: the first step is lr·αΔ, so lr 0.5 moves half as far as 1.0.
    moved = 0.0
    for a, b, p in zip(jax.tree.leaves(new_full.params), jax.tree.leaves(new_half.params),
                       jax.tree.leaves(full.params), strict=True):  # fmt: skip
        np.testing.assert_allclose(b - p, 0.5 * (a - p), rtol=1e-3, atol=1e-7)
        moved += float(jnp.sum((a - p) ** 2))
    assert moved > 1e-8
    if name != "kfac_adaptive":  # RING and RENG get the experiment's rho.
        assert float(full.opt_state.hyperparams["rho"]) == pytest.approx(config.rho)


def _record(name, seeds, grad=1.0, best_lr=0.1):
    return {"optimizer": name, "best_lr": best_lr, "diverged_lrs": [],
            "final_test_loss": float(np.mean(seeds)), "final_test_loss_per_seed": seeds,
            "final_quality": 0.9, "final_quality_per_seed": [0.9] * len(seeds),
            "avg_grad_norm": grad, "ms_per_member_step": 1.0}  # fmt: skip


def test_claims_seed_by_seed_and_against_every_baseline(tmp_path):
    records = [
        _record("adamw", [0.10, 0.12]),
        _record("sophia", [0.20, 0.20], grad=2.0),
        _record("kfac_adaptive", [0.05, 0.05]),
        # Below AdamW in the mean (0.1075 < 0.11) but not on seed 1; adaptive K-FAC is better.
        _record("ring", [0.09, 0.125], grad=0.5),
        # Below every baseline on both seeds, but a higher gradient norm than AdamW's.
        _record("reng_adaptive", [0.04, 0.045], grad=1.5),
        {**_record("rkalman", [0.01, 0.01], grad=0.1), "best_lr": None},  # Diverged: never holds.
    ]
    found = {c.statement: c for c in report.task_claims("digits", records)}
    expected = {
        "RING's test loss is below AdamW's on every seed": False,
        "RING's mean test loss is below every baseline's": False,
        "RING's average gradient norm is below AdamW's and Sophia's": True,
        "adaptive RENG's test loss is below AdamW's on every seed": True,
        "adaptive RENG's mean test loss is below every baseline's": True,
        "adaptive RENG's average gradient norm is below AdamW's and Sophia's": False,
        "R-Kalman's test loss is below AdamW's on every seed": False,
        "R-Kalman's mean test loss is below every baseline's": False,
        "R-Kalman's average gradient norm is below AdamW's and Sophia's": False,
    }
    assert {k.removeprefix("digits: "): c.held for k, c in found.items()} == expected
    assert (
        "lower on 1 of 2"
        in found["digits: RING's test loss is below AdamW's on every seed"].evidence
    )
    assert (
        "adaptive K-FAC 0.05"
        in found["digits: RING's mean test loss is below every baseline's"].evidence
    )
    report.write_claims({"digits": records}, tmp_path)  # Every claim is well-formed JSON.
    report.write_summary(get_config("quick"), {"digits": records}, tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "0.1075 (0.0900, 0.1250)" in text  # The seed mean and each seed.
    assert "lower on 1 of 2 seeds); best baseline adaptive K-FAC 0.0500" in text


@pytest.mark.slow
def test_quick_preset_on_digits_trains_every_optimizer_without_divergence(tmp_path):
    # The digits half of the quick preset (~1 min on 2 cores): with the Newton–Schulz divergence
    # guard and KL clipping, no Kronecker method may diverge at any learning rate of its grid, and
    # every optimizer's best learning rate must reach 90% test accuracy.
    config = get_config("quick")
    config.tasks = ("digits",)
    config.progress_bar = False
    results = train_and_evaluate(config, tmp_path, resume=False)
    for record in results["digits"]:
        if record["optimizer"] in ("kfac", "ring", "reng"):
            assert record["diverged_lrs"] == [], record["optimizer"]
        assert record["final_quality"] > 0.9, (record["optimizer"], record["final_quality"])

"""The GRNG sweep's bookkeeping: diverged learning rates are excluded, the best is kept."""

import pytest

from experiments.grng.config import get_config
from experiments.grng.main import Task, summarize_sweep, train_and_evaluate
from jaxml.utils.runner import RunResult


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


def test_best_lr_by_validation_loss_among_the_lrs_that_never_diverged():
    task = Task("digits", None, None, None, {}, "accuracy", 2)
    history = [
        row(1, [1.0] * 6, [1.0] * 6),
        # lr 0.1 has the lowest validation loss but one seed diverged: it must not win.
        row(2, [0.9, 0.9, 0.5, 0.7, 0.1, 0.1], [1, 1, 1, 1, 1, 0]),
    ]
    record = summarize_sweep(task, "adamw", (0.001, 0.01, 0.1), 2, RunResult(None, history, 10.0))
    assert record["best_lr"] == 0.01
    assert record["diverged_lrs"] == [0.1]
    assert record["avg_grad_norm"] == 2.0  # Mean over steps of the seed mean (1.0 + 3.0) / 2.
    assert record["ms_per_member_step"] == 1e3 / 10.0 / 6


def test_every_lr_diverged_gives_no_best():
    task = Task("digits", None, None, None, {}, "accuracy", 1)
    history = [row(1, [1.0] * 6, [0, 1, 1, 0, 0, 1])]
    record = summarize_sweep(task, "kfac", (0.1, 0.3, 1.0), 2, RunResult(None, history, None))
    assert record["best_lr"] is None and record["diverged_lrs"] == [0.1, 0.3, 1.0]


@pytest.mark.slow
def test_quick_preset_on_digits_trains_every_optimizer_without_divergence(tmp_path):
    # The digits half of the quick preset (~1 min on 2 cores): with the Newton–Schulz divergence
    # guard and KL clipping, no Kronecker method may diverge at any learning rate of its grid, and
    # every optimizer's best learning rate must reach 90% test accuracy.
    config = get_config("quick")
    config.tasks = "digits"
    config.progress_bar = False
    results = train_and_evaluate(config, tmp_path, resume=False)
    for record in results["digits"]:
        if record["optimizer"] in ("kfac", "ring", "reng"):
            assert record["diverged_lrs"] == [], record["optimizer"]
        assert record["final_quality"] > 0.9, (record["optimizer"], record["final_quality"])

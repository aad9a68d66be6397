"""The GRNG CNN task: digits as 8x8 images, a forward pass checked against numpy loops, Kronecker
statistics for both convolutions, config checks, and (slow) every optimizer trained on it."""

import re

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from sklearn.datasets import load_digits

from experiments.grng import report
from experiments.grng.config import ADAPTIVE, get_config
from experiments.grng.main import (
    DigitsCNN,
    digits_cnn_task,
    make_trainer,
    task_optimizers,
    train_and_evaluate,
    validate,
)
from jaxml import optim
from jaxml.utils.config import ConfigError


def _conv_same(x, kernel, bias, stride):
    """SAME-padded 2-D cross-correlation of ``x [H, W, C]`` by explicit loops (XLA's padding:
    the extra row/column, if any, goes after)."""
    h, w, _ = x.shape
    kh, kw, _, c_out = kernel.shape
    out_h, out_w = -(-h // stride), -(-w // stride)
    pad_h = max((out_h - 1) * stride + kh - h, 0)
    pad_w = max((out_w - 1) * stride + kw - w, 0)
    padded = np.pad(x, ((pad_h // 2, pad_h - pad_h // 2), (pad_w // 2, pad_w - pad_w // 2), (0, 0)))
    out = np.zeros((out_h, out_w, c_out))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[i * stride : i * stride + kh, j * stride : j * stride + kw]
            out[i, j] = np.einsum("abc,abcd->d", window, kernel) + bias
    return out


def test_forward_is_the_conv_net_on_sklearns_8x8_images():
    digits = load_digits()
    x = jnp.asarray(digits.data[:3] / 16.0, jnp.float32)
    model = DigitsCNN(10, channels=(4, 6))
    params = model.init(jax.random.PRNGKey(0), x)
    logits = np.asarray(model.apply(params, x))
    p = jax.tree.map(np.asarray, params["params"])
    for n in range(3):
        # sklearn's own images (not our reshape) through the loops above.
        h = digits.images[n][..., None] / 16.0
        h = np.maximum(_conv_same(h, p["Conv_0"]["kernel"], p["Conv_0"]["bias"], 1), 0)
        h = np.maximum(_conv_same(h, p["Conv_1"]["kernel"], p["Conv_1"]["bias"], 2), 0)
        expected = h.reshape(-1) @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
        np.testing.assert_allclose(logits[n], expected, rtol=1e-4, atol=1e-5)
    with pytest.raises(AssertionError):
        model.apply(params, jnp.zeros((2, 63)))


def test_kronecker_statistics_cover_both_convolutions_and_the_head():
    config = get_config("quick")
    task = digits_cnn_task(config)
    x, y = task.sample_batch(jax.random.PRNGKey(0))
    assert x.shape == (config.digits_cnn.batch_size, 64)
    params = task.model.init(jax.random.PRNGKey(1), task.example_input)
    ci = optim.loss_grads_and_stats(task.model, params, x, y, jax.random.PRNGKey(2))
    assert set(ci.layer_stats["params"]) == {"Conv_0", "Conv_1", "Dense_0"}


RKALMAN_OVERSHOOT = pytest.mark.xfail(
    strict=True,
    reason="R-Kalman's first step raises the CNN's loss 2.4 -> 11.6 at lr 0.3 (-> 122 at 1.0; "
    "the residual MLP: 2.45 -> 3.1), and 8 steps do not bring it back below the start",
)


def _assert_eight_steps_train(trainer, state):
    """Eight jitted steps from ``state`` stay finite and bring the training loss down."""
    step = jax.jit(trainer.step)
    losses = []
    for _ in range(8):
        state, metrics = step(state)
        losses.append(float(metrics["train_loss"]))
    assert np.isfinite(losses).all() and float(metrics["alive"]) == 1.0
    assert np.mean(losses[-3:]) < losses[0], losses  # Starts at ~log 10; must go down.


@pytest.mark.parametrize("name", ["ring", pytest.param("rkalman", marks=RKALMAN_OVERSHOOT)])
def test_a_grng_optimizer_trains_the_cnn(name):
    config = get_config("quick")
    # Channels 16 and 32, where the overshoot was recorded: with the quick preset's 8 and 16
    # R-Kalman's loss is back below its start within the 8 steps (2026-12-02).
    config.digits_cnn.channels = (16, 32)
    task = digits_cnn_task(config)._replace(num_steps=8)
    trainer = make_trainer(task, name, config)
    # The smallest rate of its grid: R-Kalman at 1.0 took the loss from 2.4 to 122 in one step.
    state = trainer.init(jax.random.PRNGKey(0), jnp.float32(config.lr_grid[name][0]))
    _assert_eight_steps_train(trainer, state)


@pytest.mark.parametrize(
    ("value", "message"),
    [((), "got ()"), ((16, 0), "got (16, 0)"), ((16, 2.5), "got (16, 2.5)")],
)
def test_validate_rejects_bad_channels(value, message):
    config = get_config("quick")
    config.digits_cnn.channels = value
    expected = "--config.digits_cnn.channels: expected a non-empty tuple of ints > 0, " + message
    with pytest.raises(ConfigError, match="^" + re.escape(expected)):
        validate(config)


def test_the_cnn_and_the_adaptive_forms_run_in_both_presets():
    for preset in ("quick", "full"):
        config = get_config(preset)
        assert "digits_cnn" in config.tasks, preset
        for task_name in ("digits", "digits_cnn"):
            assert set(ADAPTIVE) <= set(task_optimizers(config, task_name)), (preset, task_name)
    # The quick preset leaves them out of the char LM only (its time budget: the README).
    assert not set(ADAPTIVE) & set(task_optimizers(get_config("quick"), "charlm"))
    assert set(ADAPTIVE) <= set(task_optimizers(get_config("full"), "charlm"))
    config = get_config("quick")
    config.tasks = ("digits_cnn",)
    validate(config)


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=[] if n == "ring_adaptive" else pytest.mark.slow) for n in ADAPTIVE],
)
def test_an_adaptive_form_trains_the_cnn(name):
    # The quick preset's CNN (batch 64, channels 8 and 16), 8 steps at the grid's rate 1.0. At
    # batch 16 and channels (4, 6) adaptive K-FAC's loss rose 2.3 -> 8.3 in 6 steps (one batch's
    # Gauss-Newton matrix has rank <= 16 * 9 against 1,232 parameters there).
    config = get_config("quick")
    task = digits_cnn_task(config)._replace(num_steps=8)
    trainer = make_trainer(task, name, config)
    state = trainer.init(jax.random.PRNGKey(0), jnp.float32(config.lr_grid[name][-1]))
    _assert_eight_steps_train(trainer, state)


def test_summary_reports_accuracy_for_the_cnn(tmp_path):
    record = {"optimizer": "adamw", "best_lr": 1e-3, "diverged_lrs": [], "final_test_loss": 0.1,
              "final_quality": 0.97, "avg_grad_norm": 1.0, "ms_per_member_step": 1.0}  # fmt: skip
    report.write_summary(get_config("quick"), {"digits_cnn": [record]}, tmp_path)
    text = (tmp_path / "summary.md").read_text()
    assert "### digits_cnn" in text and "test accuracy" in text and "perplexity" not in text


@pytest.mark.slow
def test_quick_settings_train_every_optimizer_on_the_cnn(tmp_path):
    config = get_config("quick")
    config.tasks = ("digits_cnn",)
    config.progress_bar = False
    results = train_and_evaluate(config, tmp_path, resume=False)
    for record in results["digits_cnn"]:
        assert record["best_lr"] is not None, record["optimizer"]
        assert record["final_quality"] > 0.9, (record["optimizer"], record["final_quality"])

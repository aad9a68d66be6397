"""Digits: a residual MLP on scikit-learn's handwritten digits, trained with optax AdamW.

The skeleton's proof experiment: it exercises the runner (scan chunks, metrics, checkpoints, exact
resume, NaN guard), ``--mesh`` data parallelism and ``--num_seeds`` vmapped seeds.

  python -m experiments.digits.main --preset=quick --workdir=results/digits/quick
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments.digits.config import get_config
from jaxml.data.digits import NUM_CLASSES, Digits, load_digits_split
from jaxml.models import ResidualMLP
from jaxml.utils import runner, sharding
from jaxml.utils.config import ConfigError, check_base, check_positive
from jaxml.utils.plotting import plot_curves

NAME = "digits"
FIGURE = "learning_curves.png"


class TrainState(NamedTuple):
    params: Any  # flax parameter pytree.
    opt_state: optax.OptState
    key: jax.Array  # [2] uint32, consumed one split per step for minibatch sampling.


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.learning_rate,
        warmup_steps=config.warmup_steps,
        decay_steps=config.num_steps,
    )
    return optax.adamw(schedule, weight_decay=config.weight_decay)


def make_train(
    config: ml_collections.ConfigDict, data: Digits, mesh: jax.sharding.Mesh | None
) -> tuple[Callable, runner.StepFn, runner.EvalFn]:
    """Pure ``init(key)``, ``step(state)`` and ``evaluate(state)`` for one seed."""
    model = ResidualMLP(NUM_CLASSES, width=config.model.width, num_blocks=config.model.num_blocks)
    optimizer = make_optimizer(config)
    x_train, y_train = jnp.asarray(data.train.x), jnp.asarray(data.train.y)
    x_test, y_test = jnp.asarray(data.test.x), jnp.asarray(data.test.y)
    num_train = x_train.shape[0]

    def loss_fn(params, x, y):
        logits = model.apply(params, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, jnp.mean(jnp.argmax(logits, -1) == y)

    def init(key: jax.Array) -> TrainState:
        init_key, data_key = jax.random.split(key)
        params = model.init(init_key, x_train[:1])
        return TrainState(params, optimizer.init(params), data_key)

    def step(state: TrainState) -> tuple[TrainState, dict[str, jax.Array]]:
        key, batch_key = jax.random.split(state.key)
        idx = jax.random.randint(batch_key, (config.batch_size,), 0, num_train)
        x, y = sharding.shard_batch((x_train[idx], y_train[idx]), mesh)
        (loss, acc), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params, x, y)
        updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        return TrainState(params, opt_state, key), {"train_loss": loss, "train_accuracy": acc}

    def evaluate(state: TrainState) -> dict[str, jax.Array]:
        loss, acc = loss_fn(state.params, x_test, y_test)
        return {"test_loss": loss, "test_accuracy": acc}

    return init, step, evaluate


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_positive(config, ("batch_size", "num_steps", "learning_rate", "eval_every_chunks"))
    check_positive(config, ("model.width", "model.num_blocks"))
    if not 0 <= config.warmup_steps < config.num_steps:
        raise ConfigError(
            f"--config.warmup_steps={config.warmup_steps}: must be in [0, --config.num_steps="
            f"{config.num_steps})"
        )
    if not 0.0 < config.test_fraction < 1.0:
        raise ConfigError(f"--config.test_fraction={config.test_fraction}: must be in (0, 1)")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    """Trains ``config.num_seeds`` seeds through the runner and writes the figure and summary."""
    validate(config)
    workdir = Path(workdir)
    mesh = sharding.make_data_mesh(config.mesh)
    sharding.check_batch_divisible(config.batch_size, mesh, "--config.batch_size")
    data = load_digits_split(config.test_fraction, config.split_seed)
    init, step, evaluate = runner.vmap_seeds(*make_train(config, data, mesh))
    keys = runner.seed_keys(config.seed, config.num_seeds)
    init_state = sharding.replicate(jax.jit(init)(keys), mesh)

    start = time.perf_counter()
    result = runner.run(
        step,
        init_state,
        num_steps=config.num_steps,
        workdir=workdir,
        chunk_size=config.chunk_size,
        eval_fn=evaluate,
        eval_every_chunks=config.eval_every_chunks,
        resume=resume,
        **runner.options_from_config(config),
        num_seeds=config.num_seeds,
        description=NAME,
    )
    seconds = time.perf_counter() - start
    summary = write_summary(config, workdir, result.history, seconds)
    return summary


def write_summary(config, workdir: Path, history: list[dict], seconds: float) -> dict:
    """Writes ``learning_curves.png`` and ``summary.md``; returns the headline numbers."""
    plot_curves(
        history,
        [("train_loss", "train loss", True), ("test_accuracy", "test accuracy", False)],
        workdir / FIGURE,
        title=f"digits: ResidualMLP + AdamW, {config.num_seeds} seed(s)",
    )
    last = history[-1]
    per_seed = last.get("test_accuracy_per_seed", [last["test_accuracy"]])
    summary = {
        "test_accuracy": last["test_accuracy"],
        "test_accuracy_min_seed": float(np.min(per_seed)),
        "train_loss": last["train_loss"],
        "steps": last["step"],
        "seconds": seconds,
    }
    lines = [
        f"Residual MLP (width {config.model.width}, {config.model.num_blocks} blocks) trained with "
        f"AdamW for {last['step']} steps of batch {config.batch_size} on scikit-learn digits "
        f"({config.num_seeds} seed(s), seed {config.seed}).",
        "",
        "| metric | value |",
        "| --- | --- |",
        f"| test accuracy (mean over seeds) | {summary['test_accuracy']:.4f} |",
        f"| test accuracy (worst seed) | {summary['test_accuracy_min_seed']:.4f} |",
        f"| final train loss | {summary['train_loss']:.4g} |",
        f"| wall time of this process (s) | {seconds:.1f} |",
        "",
        f"Claim checked: test accuracy >= 0.95 -> "
        f"{'holds' if summary['test_accuracy_min_seed'] >= 0.95 else 'does NOT hold'}.",
        "",
        f"![learning curves]({FIGURE})",
    ]
    (workdir / "summary.md").write_text("\n".join(lines) + "\n")
    return summary


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)

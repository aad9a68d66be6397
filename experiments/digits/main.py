"""Digits: a residual MLP on scikit-learn's handwritten digits, trained with optax AdamW.

The skeleton's proof experiment: it exercises the runner (scan chunks, metrics, checkpoints, exact
resume, NaN guard), ``--mesh`` data parallelism and ``--num_seeds`` vmapped seeds.

  python -m experiments.digits.main --preset=quick --workdir=results/digits/quick
"""

from __future__ import annotations

import time
from pathlib import Path

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments.digits.config import get_config
from jaxml.data.digits import NUM_CLASSES, Digits, load_digits_split
from jaxml.models import ResidualMLP
from jaxml.utils import is_primary, sharding
from jaxml.utils.claims import Claim, write_claims
from jaxml.utils.config import check_base, check_in_range, check_positive
from jaxml.utils.plotting import plot_curves
from jaxml.utils.supervised import supervised_trainer
from jaxml.utils.trainer import Trainer, run_options, run_trainer

NAME = "digits"
FIGURE = "learning_curves.png"


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    schedule = optax.warmup_cosine_decay_schedule(
        init_value=0.0,
        peak_value=config.learning_rate,
        warmup_steps=config.warmup_steps,
        decay_steps=config.num_steps,
    )
    return optax.adamw(schedule, weight_decay=config.weight_decay)


def make_trainer(
    config: ml_collections.ConfigDict, data: Digits, mesh: jax.sharding.Mesh | None
) -> Trainer:
    """The supervised ``Trainer`` of one seed (minibatches drawn with replacement)."""
    model = ResidualMLP(NUM_CLASSES, width=config.model.width, num_blocks=config.model.num_blocks)
    x_train, y_train = jnp.asarray(data.train.x), jnp.asarray(data.train.y)
    x_test, y_test = jnp.asarray(data.test.x), jnp.asarray(data.test.y)

    def loss_fn(params, batch, key=None, setting=None):
        x, y = batch
        logits = model.apply(params, x)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()
        return loss, {"train_accuracy": jnp.mean(jnp.argmax(logits, -1) == y)}

    def sample_batch(key, setting):
        idx = jax.random.randint(key, (config.batch_size,), 0, x_train.shape[0])
        return x_train[idx], y_train[idx]

    def evaluate(params, setting):
        loss, aux = loss_fn(params, (x_test, y_test))
        return {"test_loss": loss, "test_accuracy": aux["train_accuracy"]}

    return supervised_trainer(
        init_params=lambda key, setting: model.init(key, x_train[:1]),
        sample_batch=sample_batch,
        loss_fn=loss_fn,
        optimizer=make_optimizer(config),
        num_steps=config.num_steps,
        evaluate=evaluate,
        mesh=mesh,
    )


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_positive(config, ("batch_size", "num_steps", "learning_rate", "eval_every_chunks"))
    check_positive(config, ("model.width", "model.num_blocks"))
    check_in_range(config, "warmup_steps", 0, config.num_steps, closed=(True, False))
    check_in_range(config, "test_fraction", 0.0, 1.0, closed=(False, False))


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    """Trains ``config.num_seeds`` seeds through the runner and writes the figure and summary."""
    validate(config)
    workdir = Path(workdir)
    mesh = sharding.make_data_mesh(config.mesh)
    sharding.check_batch_divisible(config.batch_size, mesh, "--config.batch_size")
    data = load_digits_split(config.test_fraction, config.split_seed)
    trainer = make_trainer(config, data, mesh)
    start = time.perf_counter()
    run = run_trainer(
        trainer,
        workdir,
        **run_options(config),
        chunk_size=config.chunk_size,
        eval_every_chunks=config.eval_every_chunks,
        resume=resume,
        description=NAME,
    )
    result = run.result
    seconds = time.perf_counter() - start
    summary = write_summary(config, workdir, result.history, seconds)
    worst = summary["test_accuracy_min_seed"]
    evidence = f"worst-seed test accuracy {worst:.4f} ({config.num_seeds} seed(s))"
    write_claims(workdir, [Claim("test accuracy >= 0.95 on every seed", worst >= 0.95, evidence)])
    return summary


def write_summary(config, workdir: Path, history: list[dict], seconds: float) -> dict:
    """Writes ``learning_curves.png`` and ``summary.md`` (process 0 of a ``--distributed``
    job); returns the headline numbers."""
    if is_primary():
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
    if is_primary():
        (workdir / "summary.md").write_text("\n".join(lines) + "\n")
    return summary


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)

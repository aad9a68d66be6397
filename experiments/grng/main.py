"""GRNG (arXiv 2601.18420): do gradient-regularized natural gradients beat the baselines?

For each task and optimizer, one ``run_trainer`` job trains every (learning rate, seed) member at
once: the learning rate is the member's setting, written into the ``inject_hyperparams`` state, so
every member has the same initial params and batch sequence per seed. A member whose loss or params
go non-finite is frozen and reported as diverged (``freeze_non_finite``). The learning rate with the
best final validation loss is kept; its test loss, accuracy or perplexity, average gradient norm and
measured time per step are reported, with the paper's three claims checked against AdamW.

  python -m experiments.grng.main --preset=quick --workdir=results/grng/quick
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections

from experiments.grng import report
from experiments.grng.config import ADAPTIVE, OPTIMIZERS, TASKS, get_config
from jaxml import optim
from jaxml.data.digits import NUM_CLASSES, load_digits_split
from jaxml.data.sampling import sample_rows, sample_windows, spaced_windows
from jaxml.data.text import load_char_corpus
from jaxml.models import CharTransformer, ResidualMLP
from jaxml.optim._curvature import per_example_nll
from jaxml.utils import checks
from jaxml.utils.config import (
    ConfigError,
    check_base,
    check_choices,
    check_in_range,
    check_positive,
)
from jaxml.utils.supervised import supervised_trainer
from jaxml.utils.sweep import best_setting, setting_metric
from jaxml.utils.trainer import Trainer, TrainerRun, run_options, run_trainer

NAME = "grng"
FIGURE = "digits_curves.png"


class DigitsCNN(nn.Module):
    """A small convolutional classifier of the 8x8 digits: image classification in miniature.

    GRNG ("Gradient Regularized Natural Gradients", arXiv 2601.18420) reports image
    classification (CIFAR-10/100, ImageNet-100, ...; its models are not stated in what we could
    read, ``shared/papers/grng.md``); this is a convolutional stand-in small enough for a 2-core
    CPU. The Kronecker methods precondition each 2-D convolution by its patch factors
    (Grosse & Martens 2016, "A Kronecker-factored approximate Fisher matrix for convolution
    layers", arXiv 1602.01407), which ``jaxml.optim`` records for every ``nn.Conv``.

    Input: flattened images ``[N, 64]`` (as ``load_digits_split`` gives them) or
    ``[N, 8, 8, 1]``. Layers: ``channels[0]`` 3x3 conv (SAME, stride 1), ReLU, then each further
    entry a 3x3 conv of stride 2, ReLU; flattened into a dense head of ``num_classes`` logits.
    """

    num_classes: int
    channels: tuple[int, ...] = (16, 32)

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        chex.assert_equal(x[0].size, 64)  # One 8x8 grey image per row.
        x = x.reshape(x.shape[0], 8, 8, 1)  # The digits' pixels, row-major.
        for i, c in enumerate(self.channels):
            x = nn.relu(nn.Conv(c, (3, 3), strides=1 if i == 0 else 2, padding="SAME")(x))
        return nn.Dense(self.num_classes)(x.reshape(x.shape[0], -1))


class Task(NamedTuple):
    name: str
    model: nn.Module
    example_input: jax.Array
    sample_batch: Callable[[jax.Array], tuple[jax.Array, jax.Array]]  # key -> (inputs, targets)
    eval_sets: dict[str, tuple[jax.Array, jax.Array]]  # "val", "test" -> (inputs, targets)
    quality: str  # "accuracy" (higher is better) or "perplexity" (lower is better).
    num_steps: int


def _digits_data(c: ml_collections.ConfigDict):
    """Train / val / test arrays of the digits split (the first ``val_fraction`` of the training
    rows validate) and the batch sampler, shared by the MLP and the CNN task."""
    data = load_digits_split(test_fraction=0.2, split_seed=0)
    n_val = int(len(data.train.x) * c.val_fraction)  # The first n_val training points validate.
    train = (jnp.asarray(data.train.x[n_val:]), jnp.asarray(data.train.y[n_val:]))
    val = (jnp.asarray(data.train.x[:n_val]), jnp.asarray(data.train.y[:n_val]))
    test = (jnp.asarray(data.test.x), jnp.asarray(data.test.y))
    sample = functools.partial(sample_rows, arrays=train, batch_size=c.batch_size)
    return train, {"val": val, "test": test}, sample


def digits_task(config: ml_collections.ConfigDict) -> Task:
    c = config.digits
    train, eval_sets, sample = _digits_data(c)
    model = ResidualMLP(NUM_CLASSES, width=c.width, num_blocks=c.num_blocks)
    return Task("digits", model, train[0][:1], sample, eval_sets, "accuracy", c.num_steps)


def digits_cnn_task(config: ml_collections.ConfigDict) -> Task:
    """The digits as 8x8 images through ``DigitsCNN``: the same split, validation rows and
    batch sampler as the ``digits`` task, so the two differ only in the network."""
    c = config.digits_cnn
    train, eval_sets, sample = _digits_data(c)
    model = DigitsCNN(NUM_CLASSES, channels=tuple(c.channels))
    return Task("digits_cnn", model, train[0][:1], sample, eval_sets, "accuracy", c.num_steps)


def charlm_task(config: ml_collections.ConfigDict) -> Task:
    c = config.charlm
    corpus = load_char_corpus(c.corpus_chars, test_fraction=0.1)
    n_val = len(corpus.train) // 9  # The last ninth of the training text validates.
    train = jnp.asarray(corpus.train[:-n_val])
    val = spaced_windows(corpus.train[-n_val:], c.eval_windows, c.context)
    test = spaced_windows(corpus.test, c.eval_windows, c.context)
    model = CharTransformer(len(corpus.alphabet), c.context, c.width, c.num_layers, c.num_heads)
    sample = functools.partial(sample_windows, tokens=train, batch_size=c.batch_size,
                               length=c.context)  # fmt: skip
    return Task("charlm", model, val[0][:1], sample, {"val": val, "test": test},
                "perplexity", c.num_steps)  # fmt: skip


TASK_BUILDERS = {"digits": digits_task, "charlm": charlm_task, "digits_cnn": digits_cnn_task}


def base_optimizer(name: str) -> str:
    """The ``jaxml.optim`` name behind a sweep name: ``kfac_adaptive`` is ``kfac`` with
    ``adaptive=True``."""
    return name.removesuffix("_adaptive") if name in ADAPTIVE else name


def hyperparams(config: ml_collections.ConfigDict, name: str, learning_rate: float) -> dict:
    common = {"learning_rate": learning_rate}
    if name in ADAPTIVE:
        # Martens & Grosse's full step (arXiv 1503.05671, §6–7), as benchmarks/kfac_jax.py
        # configures it: learning_rate scales the quadratic model's step, damping is the initial λ.
        extra = {"damping": config.adaptive_damping, "adaptive": True,
                 "inverse_update_every": config.inverse_update_every}  # fmt: skip
        return {**common, **extra, **({"rho": config.rho} if name != "kfac_adaptive" else {})}
    if name == "sgd":
        return {**common, "momentum": config.momentum}
    if name == "adamw":
        return {**common, "weight_decay": config.weight_decay}
    if name in ("kfac", "ring", "reng"):
        extra = {"damping": config.damping, "inverse_update_every": config.inverse_update_every,
                 "kl_clip": config.kl_clip}  # fmt: skip
        return {**common, **extra, **({"rho": config.rho} if name != "kfac" else {})}
    if name == "rkalman":
        return {**common, "fading": config.kalman_fading, "rho": config.rho,
                "prior_precision": config.kalman_prior_precision}  # fmt: skip
    return common


def make_trainer(task: Task, name: str, config: ml_collections.ConfigDict) -> Trainer:
    """The supervised trainer of optimizer ``name``; each member's setting is its learning rate."""
    base = base_optimizer(name)
    tx = optim.make(base, **hyperparams(config, name, config.lr_grid[name][0]))

    def init_optimizer(params, learning_rate):
        opt_state = tx.init(params)
        # inject_hyperparams keeps the rate in the state: one compiled step serves every member.
        opt_state.hyperparams["learning_rate"] = jnp.asarray(learning_rate, jnp.float32)
        return opt_state

    def update(params, opt_state, batch, key, learning_rate):
        # train_step feeds each optimizer its curvature extra args (layer stats, loss_fn, obj_fn).
        params, opt_state, m = optim.train_step(
            base, tx, task.model, params, opt_state, *batch, key
        )
        return params, opt_state, {"train_loss": m["loss"], "grad_norm": m["grad_norm"]}

    def evaluate(params, learning_rate):
        out = {}
        for split, (x, y) in task.eval_sets.items():
            logits = task.model.apply(params, x)
            loss = per_example_nll(logits, y, "categorical").mean()
            out[f"{split}_loss"] = loss
            if task.quality == "accuracy":
                out[f"{split}_accuracy"] = jnp.mean(jnp.argmax(logits, -1) == y)
            else:
                out[f"{split}_perplexity"] = jnp.exp(loss)
        return out

    return supervised_trainer(
        init_params=lambda key, _: task.model.init(key, task.example_input),
        sample_batch=lambda key, _: task.sample_batch(key),
        optimizer=tx,
        num_steps=task.num_steps,
        update_fn=update,
        evaluate=evaluate,
        init_optimizer=init_optimizer,
        freeze_non_finite=True,  # A diverged learning rate is reported, not a stopped sweep.
    )


def run_sweep(task: Task, name: str, config, workdir: Path, resume: bool) -> dict:
    """Trains every (lr, seed) member of one optimizer on one task; returns its best-lr record."""
    lrs = tuple(config.lr_grid[name])
    run = run_trainer(
        make_trainer(task, name, config),
        workdir,
        **run_options(config),
        settings=jnp.asarray(lrs, jnp.float32),
        chunk_size=config.chunk_size,
        resume=resume,
        description=f"{task.name}/{name}",
    )
    return summarize_sweep(task, name, lrs, run)


def summarize_sweep(task: Task, name: str, lrs: tuple[float, ...], run: TrainerRun) -> dict:
    """The best learning rate's curves (seed means) and final numbers; None if all diverged."""
    history = run.result.history
    choice = best_setting(history, "val_loss", len(lrs))
    record = {
        "optimizer": name,
        "diverged_lrs": [lrs[i] for i in choice.diverged],
        "lrs": list(lrs),
    }
    if choice.best is None:
        return {**record, "best_lr": None}

    def seeds(key):  # [rows, seeds] of the best learning rate.
        return setting_metric(history, key, len(lrs))[:, choice.best]

    curve = lambda key: seeds(key).mean(axis=1)  # noqa: E731
    quality = f"test_{task.quality}"
    # The vmapped job trains all members at once; per-member cost is its time over the members.
    warm = run.result.warm_steps_per_second
    return {
        **record,
        "best_lr": lrs[choice.best],
        "steps": [r["step"] for r in history],
        "train_loss": curve("train_loss").tolist(),
        "test_loss": curve("test_loss").tolist(),
        quality: curve(quality).tolist(),
        "avg_grad_norm": float(curve("grad_norm").mean()),
        "avg_grad_norm_per_seed": seeds("grad_norm").mean(axis=0).tolist(),
        "final_test_loss": float(curve("test_loss")[-1]),
        "final_test_loss_per_seed": seeds("test_loss")[-1].tolist(),
        "final_quality": float(curve(quality)[-1]),
        "final_quality_per_seed": seeds(quality)[-1].tolist(),
        "ms_per_member_step": 1e3 / warm / run.num_members if warm else None,
    }


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_choices(config, "tasks", TASKS)
    check_choices(config, "optimizers", OPTIMIZERS)
    for task_name in TASKS:
        skip = config.skip[task_name]
        ok = isinstance(skip, tuple) and all(name in OPTIMIZERS for name in skip)
        checks.expect(ok, f"--config.skip.{task_name}",
                      f"a tuple of optimizer names among {', '.join(OPTIMIZERS)}", skip,
                      ConfigError)  # fmt: skip
    for name in config.optimizers:
        lrs = config.lr_grid[name]
        ok = isinstance(lrs, tuple) and bool(lrs)
        ok = ok and all(
            isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in lrs
        )
        checks.expect(ok, f"--config.lr_grid.{name}", "a non-empty tuple of numbers > 0", lrs,
                      ConfigError)  # fmt: skip
    check_positive(config, ("damping", "rho", "inverse_update_every", "kalman_prior_precision"))
    check_positive(config, ("adaptive_damping",))
    check_positive(config, ("kl_clip", "digits.num_steps", "digits.batch_size", "digits.width"))
    check_positive(config, ("digits.num_blocks", "charlm.num_steps", "charlm.batch_size"))
    check_positive(config, ("charlm.context", "charlm.eval_windows", "charlm.num_heads"))
    check_in_range(config, "digits.val_fraction", 0.0, 1.0, closed=(False, False))
    check_positive(config, ("digits_cnn.num_steps", "digits_cnn.batch_size"))
    check_in_range(config, "digits_cnn.val_fraction", 0.0, 1.0, closed=(False, False))
    channels = config.digits_cnn.channels
    ok = isinstance(channels, tuple) and bool(channels)
    ok = ok and all(isinstance(c, int) and not isinstance(c, bool) and c > 0 for c in channels)
    checks.expect(ok, "--config.digits_cnn.channels", "a non-empty tuple of ints > 0", channels,
                  ConfigError)  # fmt: skip
    heads = config.charlm.num_heads
    checks.expect(config.charlm.width % heads == 0, "--config.charlm.width",
                  f"a multiple of --config.charlm.num_heads={heads}", config.charlm.width,
                  ConfigError)  # fmt: skip


def task_optimizers(config: ml_collections.ConfigDict, task_name: str) -> tuple[str, ...]:
    """The optimizers swept on ``task_name``: ``config.optimizers`` less ``config.skip``."""
    return tuple(n for n in config.optimizers if n not in config.skip[task_name])


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    results = {}
    for task_name in config.tasks:
        task = TASK_BUILDERS[task_name](config)
        results[task_name] = [
            run_sweep(task, name, config, workdir / "runs" / task_name / name, resume)
            for name in task_optimizers(config, task_name)
        ]
        report.plot_task(task.name, task.quality, results[task_name],
                         workdir / f"{task_name}_curves.png")  # fmt: skip
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    report.write_summary(config, results, workdir)
    report.write_claims(results, workdir)
    return results


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)

"""Depth-uniform ResNet bounds (arXiv 2602.20921) vs BFT (arXiv 1706.08498), measured gaps.

For each dataset and each model (a discrete ResNet per depth L at the same horizon T, and the
continuous-time model) one ``run_trainer`` job trains every (training-set size S, seed) member at
once: S is the member's setting, so one jit serves them all. Each member then gets the paper's
bound (every term), BFT's spectrally-normalised margin bound and its measured gaps:

* the paper's bound is for the ramp loss ℓ_γ = clip(1 − margin/γ, 0, 1) (bounded by 1,
  √2/γ-Lipschitz in the logits), so its gap is ``test ramp − train ramp``;
* BFT bounds the 0-1 test error by the training margin loss plus its terms; its gap is compared
  with ``test error − train error``.

  python -m experiments.resnet_bounds.main --preset=quick --workdir=results/resnet_bounds/quick
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from experiments.resnet_bounds import report
from experiments.resnet_bounds.config import DATASETS, get_config
from jaxml.data.digits import NUM_CLASSES as DIGITS_CLASSES
from jaxml.data.digits import Split, load_digits_split
from jaxml.data.moons import NUM_CLASSES as MOONS_CLASSES
from jaxml.data.moons import load_moons_split
from jaxml.data.sampling import nested_order, prefix_mask, sample_rows
from jaxml.models.resnet import SOLVERS, NeuralODE, ResNet, ode_weights, resnet_weights
from jaxml.theory import (
    margin_statistics,
    ramp_loss_lipschitz,
    residual_bound,
    spectral_margin_bound,
)
from jaxml.utils import checks
from jaxml.utils.config import (
    ConfigError,
    check_base,
    check_choice,
    check_choices,
    check_in_range,
    check_positive,
)
from jaxml.utils.supervised import supervised_trainer
from jaxml.utils.trainer import Trainer, member_metric, run_options, run_trainer

NAME = "resnet_bounds"
FIGURE = report.FIGURE
ODE = "ode"


class Dataset(NamedTuple):
    name: str
    train: Split  # The training pool in one fixed random order: its first S rows are nested.
    test: Split
    num_classes: int


def load_dataset(name: str, config: ml_collections.ConfigDict) -> Dataset:
    if name == "digits":
        data = load_digits_split(config.digits_test_fraction, config.split_seed)
        classes = DIGITS_CLASSES
    else:
        data = load_moons_split(
            config.moons_train, config.moons_test, config.moons_noise, config.split_seed
        )
        classes = MOONS_CLASSES
    return Dataset(name, nested_order(data.train, config.split_seed), data.test, classes)


def make_model(config: ml_collections.ConfigDict, depth: int | None, num_classes: int):
    """A discrete ResNet with ``depth`` layers, or the continuous-time model for None."""
    m = config.model
    common = {"width": m.width, "horizon": m.horizon, "alpha": m.alpha, "beta": m.beta,
              "learn_thresholds": m.learn_thresholds, "init_scale": m.init_scale}  # fmt: skip
    if depth is None:
        return NeuralODE(num_classes, num_nodes=m.ode_nodes, solver=m.ode_solver,
                         num_steps=m.ode_steps, **common)  # fmt: skip
    return ResNet(num_classes, num_layers=depth, **common)


def make_trainer(config, model: nn.Module, train: Split, test: Split) -> Trainer:
    """Adam on cross-entropy over the first S training points; S is each member's setting."""
    x_train, y_train = jnp.asarray(train.x), jnp.asarray(train.y)
    x_test, y_test = jnp.asarray(test.x), jnp.asarray(test.y)
    batch_size = config.batch_size

    def loss_fn(params, batch, key, size):
        x, y = batch
        logits = model.apply(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean(), {}

    def evaluate(params, size):
        # The training statistics count the first S points only: a mask keeps shapes static.
        mask = prefix_mask(x_train.shape[0], size)
        stats = {
            "train": margin_statistics(model.apply(params, x_train), y_train, config.margin, mask),
            "test": margin_statistics(model.apply(params, x_test), y_test, config.margin),
        }
        return {f"{split}_{k}": v for split, s in stats.items() for k, v in s.items()}

    return supervised_trainer(
        init_params=lambda key, size: model.init(key, x_train[:1]),
        # Draws below S: member S trains on x_train[:S] only.
        sample_batch=lambda key, size: sample_rows(key, (x_train, y_train), batch_size, size),
        loss_fn=loss_fn,
        optimizer=optax.adam(config.learning_rate),
        num_steps=config.train_steps,
        evaluate=evaluate,
    )


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    check_positive(config, ("train_steps", "batch_size", "learning_rate", "margin"))
    check_positive(config, ("model.width", "model.horizon", "model.alpha", "model.beta"))
    check_positive(config, ("model.init_scale",))
    check_positive(config, ("model.ode_nodes", "model.ode_steps", "moons_train", "moons_test"))
    check_choice(config, "model.ode_solver", SOLVERS)
    check_in_range(config, "delta", 0.0, 1.0, closed=(False, False))
    check_in_range(config, "digits_test_fraction", 0.0, 1.0, closed=(False, False))
    check_choices(config, "datasets", DATASETS)
    checks.positive_ints(config.depths, "--config.depths", ConfigError)
    sizes = checks.positive_ints(config.train_sizes, "--config.train_sizes", ConfigError)
    pools = {"digits": int(1797 * (1 - config.digits_test_fraction)), "moons": config.moons_train}
    for name in config.datasets:
        checks.expect(max(sizes) <= pools[name], "--config.train_sizes",
                      f"sizes <= {pools[name]} (the training points of {name})", sizes,
                      ConfigError)  # fmt: skip


def member_records(config, data: Dataset, depth: int | None, workdir: Path, resume) -> list[dict]:
    """Trains every (size, seed) member of one model in one job; returns one record per member."""
    name, train, test, classes = data
    sizes = sorted(set(config.train_sizes))
    model = make_model(config, depth, classes)
    label = ODE if depth is None else f"L{depth}"
    start = time.perf_counter()
    run = run_trainer(
        make_trainer(config, model, train, test),
        workdir / "runs" / name / label,
        **run_options(config),
        settings=jnp.asarray(sizes, jnp.int32),
        chunk_size=config.chunk_size,
        resume=resume,
        description=f"{name}/{label}",
    )
    train_seconds = time.perf_counter() - start
    # The runner evaluated the final state: its last row holds every member's metrics (no eager
    # re-evaluation, which would compile op by op).
    history = run.result.history
    names = [k for k in history[-1] if k.startswith(("train_", "test_")) and "_per_seed" not in k]
    final = {k: member_metric(history, k)[-1] for k in names}
    all_params = jax.device_get(run.result.carry.params)  # numpy: slicing costs no compiles.
    records = []
    for r in range(run.num_members):
        size = sizes[r // config.num_seeds]
        weights = (ode_weights if depth is None else resnet_weights)(
            model, jax.tree.map(lambda p, r=r: p[r], all_params)
        )
        x, key = train.x[:size], jax.random.PRNGKey(r)
        paper = residual_bound(weights, x, key=key, loss_bound=1.0, delta=config.delta,
                               loss_lipschitz=ramp_loss_lipschitz(config.margin))  # fmt: skip
        row = {k: float(v[r]) for k, v in final.items()}
        record = {
            "dataset": name,
            "model": label,
            "depth": depth,
            "size": size,
            "seed": config.seed + r % config.num_seeds,
            **row,
            "gap_error": row["test_error"] - row["train_error"],
            "gap_ramp": row["test_ramp"] - row["train_ramp"],
            "alpha": float(weights.alpha),
            "beta": float(weights.beta),
            "paper": {k: v for k, v in paper.items() if k != "notes"},
            "train_seconds_job": train_seconds,
        }
        if depth is not None:  # BFT's covering is for discrete layers only.
            record["bft"] = spectral_margin_bound(weights, x, key=key, margin=config.margin,
                                                  train_margin_loss=row["train_margin_loss"],
                                                  delta=config.delta)  # fmt: skip
        records.append(record)
    return records


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    depths: list[int | None] = sorted(set(config.depths))
    if config.include_ode:
        depths.append(None)
    start = time.perf_counter()
    records = []
    for name in config.datasets:
        data = load_dataset(name, config)
        for depth in depths:
            records.extend(member_records(config, data, depth, workdir, resume))
            (workdir / "results.json").write_text(json.dumps(records, indent=1))
    seconds = time.perf_counter() - start
    table = report.aggregate(records)
    report.plot(table, config, workdir / FIGURE)
    out = report.write_summary(table, config, workdir, seconds)
    report.write_claims(out["verdicts"], workdir)
    return out


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)

"""GRNG (arXiv 2601.18420): do gradient-regularized natural gradients beat the baselines?

For each task and optimizer, one runner job trains every (learning rate, seed) pair at once with
vmap: the same initial params and batch sequence per seed for every optimizer. A member whose loss
or params go non-finite is frozen and reported as diverged. The learning rate with the best final
validation loss is kept; its test loss, accuracy or perplexity, average gradient norm and measured
time per step are reported, with the paper's three claims checked against AdamW.

  python -m experiments.grng.main --preset=quick --workdir=results/grng/quick
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from experiments.grng.config import OPTIMIZERS, TASKS, get_config
from jaxml import optim
from jaxml.data.digits import NUM_CLASSES, load_digits_split
from jaxml.data.text import load_char_corpus
from jaxml.models import CharTransformer, ResidualMLP
from jaxml.optim._curvature import per_example_nll
from jaxml.utils import runner
from jaxml.utils.config import ConfigError, check_base, check_positive
from jaxml.utils.plotting import plt

NAME = "grng"
FIGURE = "digits_curves.png"
GRNG = ("ring", "reng", "rkalman")


class Task(NamedTuple):
    name: str
    model: nn.Module
    example_input: jax.Array
    sample_batch: Callable[[jax.Array], tuple[jax.Array, jax.Array]]  # key -> (inputs, targets)
    eval_sets: dict[str, tuple[jax.Array, jax.Array]]  # "val", "test" -> (inputs, targets)
    quality: str  # "accuracy" (higher is better) or "perplexity" (lower is better).
    num_steps: int


def digits_task(config: ml_collections.ConfigDict) -> Task:
    c = config.digits
    data = load_digits_split(test_fraction=0.2, split_seed=0)
    n_val = int(len(data.train.x) * c.val_fraction)
    x_train, y_train = jnp.asarray(data.train.x[n_val:]), jnp.asarray(data.train.y[n_val:])
    val = (jnp.asarray(data.train.x[:n_val]), jnp.asarray(data.train.y[:n_val]))
    test = (jnp.asarray(data.test.x), jnp.asarray(data.test.y))

    def sample_batch(key):
        idx = jax.random.randint(key, (c.batch_size,), 0, x_train.shape[0])
        return x_train[idx], y_train[idx]

    model = ResidualMLP(NUM_CLASSES, width=c.width, num_blocks=c.num_blocks)
    return Task("digits", model, x_train[:1], sample_batch, {"val": val, "test": test},
                "accuracy", c.num_steps)  # fmt: skip


def windows(tokens: np.ndarray, count: int, length: int) -> tuple[jax.Array, jax.Array]:
    """``count`` evenly spaced windows: inputs ``[count, length]`` and next-token targets."""
    starts = np.linspace(0, len(tokens) - length - 1, count).astype(int)
    chunk = np.stack([tokens[s : s + length + 1] for s in starts])
    return jnp.asarray(chunk[:, :-1]), jnp.asarray(chunk[:, 1:])


def charlm_task(config: ml_collections.ConfigDict) -> Task:
    c = config.charlm
    corpus = load_char_corpus(c.corpus_chars, test_fraction=0.1)
    n_val = len(corpus.train) // 9  # The last ninth of the training text validates.
    train = jnp.asarray(corpus.train[:-n_val])
    val = windows(corpus.train[-n_val:], c.eval_windows, c.context)
    test = windows(corpus.test, c.eval_windows, c.context)

    def sample_batch(key):
        starts = jax.random.randint(key, (c.batch_size,), 0, train.shape[0] - c.context - 1)
        idx = starts[:, None] + jnp.arange(c.context + 1)[None]
        chunk = train[idx]
        return chunk[:, :-1], chunk[:, 1:]

    model = CharTransformer(len(corpus.alphabet), c.context, c.width, c.num_layers, c.num_heads)
    return Task("charlm", model, val[0][:1], sample_batch, {"val": val, "test": test},
                "perplexity", c.num_steps)  # fmt: skip


TASK_BUILDERS = {"digits": digits_task, "charlm": charlm_task}


class Member(NamedTuple):
    params: Any
    opt_state: Any
    key: jax.Array  # [2] uint32.
    alive: jax.Array  # [] bool: False once the member's loss or params went non-finite.


def hyperparams(config: ml_collections.ConfigDict, name: str, learning_rate: float) -> dict:
    common = {"learning_rate": learning_rate}
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


def make_sweep(task: Task, name: str, config: ml_collections.ConfigDict):
    """Pure per-member ``init(key, lr)``, ``step(member)`` and ``evaluate(member)``."""
    tx = optim.make(name, **hyperparams(config, name, config.lr_grid[name][0]))

    def init(key, learning_rate):
        init_key, data_key = jax.random.split(key)
        params = task.model.init(init_key, task.example_input)
        opt_state = tx.init(params)
        opt_state.hyperparams["learning_rate"] = jnp.asarray(learning_rate, jnp.float32)
        return Member(params, opt_state, data_key, jnp.asarray(True))

    def step(member):
        key, batch_key, fisher_key = jax.random.split(member.key, 3)
        x, y = task.sample_batch(batch_key)
        params, opt_state, metrics = optim.train_step(
            name, tx, task.model, member.params, member.opt_state, x, y, fisher_key
        )
        ok = member.alive & jnp.isfinite(metrics["loss"]) & runner.all_finite(params)
        keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)
        logged = {
            "train_loss": jnp.where(ok, metrics["loss"], 0.0),
            "grad_norm": jnp.where(ok, metrics["grad_norm"], 0.0),
            "alive": ok.astype(jnp.float32),
        }
        return Member(
            keep(params, member.params), keep(opt_state, member.opt_state), key, ok
        ), logged

    def evaluate(member):
        out = {}
        for split, (x, y) in task.eval_sets.items():
            logits = task.model.apply(member.params, x)
            loss = per_example_nll(logits, y, "categorical").mean()
            out[f"{split}_loss"] = jnp.where(member.alive, loss, 0.0)
            if task.quality == "accuracy":
                acc = jnp.mean(jnp.argmax(logits, -1) == y)
                out[f"{split}_accuracy"] = jnp.where(member.alive, acc, 0.0)
            else:
                out[f"{split}_perplexity"] = jnp.where(member.alive, jnp.exp(loss), 0.0)
        return out

    return init, step, evaluate


def run_sweep(task: Task, name: str, config, workdir: Path, resume: bool) -> dict:
    """Trains every (lr, seed) member of one optimizer on one task; returns its best-lr record."""
    lrs, seeds = tuple(config.lr_grid[name]), config.num_seeds
    init, step, evaluate = make_sweep(task, name, config)
    keys = jnp.tile(runner.seed_keys(config.seed, seeds), (len(lrs), 1))  # Member i: lr i // seeds.
    lr_values = jnp.repeat(jnp.asarray(lrs, jnp.float32), seeds)
    members = len(lrs) * seeds
    result = runner.run(
        jax.vmap(step),
        jax.jit(jax.vmap(init))(keys, lr_values),
        num_steps=task.num_steps,
        workdir=workdir,
        chunk_size=config.chunk_size,
        eval_fn=jax.vmap(evaluate),
        resume=resume,
        **runner.options_from_config(config),
        num_seeds=members,
        description=f"{task.name}/{name}",
    )
    return summarize_sweep(task, name, lrs, seeds, result)


def _per_member(history, key, members):
    return np.array([row.get(f"{key}_per_seed", [row[key]] * members) for row in history])


def summarize_sweep(task: Task, name: str, lrs, seeds: int, result: runner.RunResult) -> dict:
    history, members = result.history, len(lrs) * seeds
    alive = _per_member(history, "alive", members)[-1].reshape(len(lrs), seeds)
    val = _per_member(history, "val_loss", members)[-1].reshape(len(lrs), seeds)
    diverged = [lr for lr, a in zip(lrs, alive, strict=True) if not a.all()]
    candidates = [i for i in range(len(lrs)) if alive[i].all()]
    record = {"optimizer": name, "diverged_lrs": diverged, "lrs": list(lrs)}
    if not candidates:
        return {**record, "best_lr": None}
    best = min(candidates, key=lambda i: val[i].mean())
    cols = slice(best * seeds, (best + 1) * seeds)
    curve = lambda key: _per_member(history, key, members)[:, cols].mean(axis=1)
    quality = f"test_{task.quality}"
    # The vmapped job trains all members at once; per-member cost is its time over the members.
    ms = 1e3 / result.warm_steps_per_second / members if result.warm_steps_per_second else None
    return {
        **record,
        "best_lr": lrs[best],
        "steps": [r["step"] for r in history],
        "train_loss": curve("train_loss").tolist(),
        "test_loss": curve("test_loss").tolist(),
        quality: curve(quality).tolist(),
        "avg_grad_norm": float(curve("grad_norm").mean()),
        "final_test_loss": float(curve("test_loss")[-1]),
        "final_test_loss_per_seed": _per_member(history, "test_loss", members)[-1, cols].tolist(),
        "final_quality": float(curve(quality)[-1]),
        "ms_per_member_step": ms,
    }


def validate(config: ml_collections.ConfigDict) -> None:
    check_base(config)
    for field, allowed in (("tasks", TASKS), ("optimizers", OPTIMIZERS)):
        for value in config[field].split(","):
            if value not in allowed:
                raise ConfigError(f"--config.{field}: {value!r} is not one of {', '.join(allowed)}")
    for name in config.optimizers.split(","):
        if not config.lr_grid[name] or min(config.lr_grid[name]) <= 0:
            raise ConfigError(f"--config.lr_grid.{name}: must be positive learning rates")
    check_positive(config, ("damping", "rho", "inverse_update_every", "kalman_prior_precision"))
    check_positive(config, ("digits.num_steps", "digits.batch_size", "charlm.num_steps"))
    check_positive(config, ("charlm.batch_size", "charlm.context", "charlm.eval_windows"))
    if config.charlm.width % config.charlm.num_heads:
        raise ConfigError("--config.charlm.width: must be divisible by --config.charlm.num_heads")


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    results = {}
    for task_name in config.tasks.split(","):
        task = TASK_BUILDERS[task_name](config)
        results[task_name] = [
            run_sweep(task, name, config, workdir / "runs" / task_name / name, resume)
            for name in config.optimizers.split(",")
        ]
        plot_task(task, results[task_name], workdir / f"{task_name}_curves.png")
    (workdir / "results.json").write_text(json.dumps(results, indent=1))
    write_summary(config, results, workdir)
    return results


def plot_task(task: Task, records: list[dict], path: Path) -> None:
    """Train/test loss against steps and wall-clock, test accuracy or perplexity, gradient norm."""
    fig, axes = plt.subplots(2, 3, figsize=(15, 7.5))
    quality = f"test_{task.quality}"
    ran = [r for r in records if r["best_lr"] is not None]
    for r in ran:
        label = f"{r['optimizer']} (lr {r['best_lr']:g})"
        style = {"lw": 2.0} if r["optimizer"] in GRNG else {"lw": 1.0, "ls": "--"}
        axes[0, 0].plot(r["steps"], r["train_loss"], label=label, **style)
        axes[0, 1].plot(r["steps"], r["test_loss"], label=label, **style)
        axes[0, 2].plot(r["steps"], r[quality], label=label, **style)
        if r["ms_per_member_step"]:
            seconds = np.asarray(r["steps"]) * r["ms_per_member_step"] / 1e3
            axes[1, 0].plot(seconds, r["train_loss"], label=label, **style)
            axes[1, 1].plot(seconds, r["test_loss"], label=label, **style)
    axes[0, 0].set(xlabel="step", ylabel="train loss", yscale="log")
    axes[0, 1].set(xlabel="step", ylabel="test loss", yscale="log")
    axes[0, 2].set(xlabel="step", ylabel=f"test {task.quality}",
                   yscale="log" if task.quality == "perplexity" else "linear")  # fmt: skip
    axes[1, 0].set(xlabel="wall-clock per member (s)", ylabel="train loss", yscale="log")
    axes[1, 1].set(xlabel="wall-clock per member (s)", ylabel="test loss", yscale="log")
    names = [r["optimizer"] for r in ran]
    axes[1, 2].bar(names, [r["avg_grad_norm"] for r in ran],
                   color=["tab:red" if n in GRNG else "tab:gray" for n in names])  # fmt: skip
    axes[1, 2].set(ylabel="average gradient norm", yscale="log")
    axes[1, 2].tick_params(axis="x", rotation=45)
    axes[0, 0].legend(fontsize=7)
    for ax in axes.flat:
        ax.grid(alpha=0.3)
    fig.suptitle(f"GRNG on {task.name}: best learning rate per optimizer, mean over seeds")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def _fmt(x, spec=".4g"):
    return "—" if x is None else format(x, spec)


def claims(records: list[dict], quality: str) -> list[str]:
    """The paper's three claims at our scale, each against AdamW, with the numbers."""
    by = {r["optimizer"]: r for r in records if r["best_lr"] is not None}
    if "adamw" not in by:
        return ["AdamW did not run (or diverged at every lr): no claim can be checked."]
    adam = by["adamw"]
    lines = []
    for name in GRNG:
        if name not in by:
            lines.append(f"- {name}: diverged at every learning rate or not run.")
            continue
        r = by[name]
        loss_ok = r["final_test_loss"] <= adam["final_test_loss"]
        grad_ok = r["avg_grad_norm"] < adam["avg_grad_norm"]
        ratio = (
            r["ms_per_member_step"] / adam["ms_per_member_step"]
            if r["ms_per_member_step"] and adam["ms_per_member_step"]
            else math.nan
        )
        time_note = (
            f"step time {ratio:.2f}x AdamW's ({'<=' if ratio <= 1.5 else '>'} 1.5x)"
            if name != "reng"
            else f"step time {ratio:.2f}x AdamW's (no target for RENG)"
        )
        lines.append(
            f"- {name}: test loss {r['final_test_loss']:.4f} vs AdamW "
            f"{adam['final_test_loss']:.4f} "
            f"({'holds' if loss_ok else 'does NOT hold'}); avg grad norm {r['avg_grad_norm']:.4g} "
            f"vs {adam['avg_grad_norm']:.4g} ({'lower' if grad_ok else 'NOT lower'}); {time_note}."
        )
    return lines


def write_summary(config, results: dict, workdir: Path) -> None:
    lines = [
        f"Equal budgets per task, {config.num_seeds} vmapped seeds, a learning-rate grid per "
        "optimizer (best final validation loss kept). GRNG hyper-parameters are our choices "
        f"(rho {config.rho}, damping {config.damping}, inverses every "
        f"{config.inverse_update_every} steps). Step times are per (lr, seed) member of the "
        "vmapped job on this machine; `benchmarks/optim_step.py` times one model at a time.",
        "",
    ]
    for task_name, records in results.items():
        quality = "accuracy" if task_name == "digits" else "perplexity"
        lines += [
            f"### {task_name}",
            "",
            f"| optimizer | best lr | diverged lrs | test loss | test {quality} | "
            "avg grad norm | ms/step |",
            "| --- | --- | --- | --- | --- | --- | --- |",
        ]
        for r in records:
            lines.append(
                f"| {r['optimizer']} | {_fmt(r['best_lr'], 'g')} | "
                f"{', '.join(f'{x:g}' for x in r['diverged_lrs']) or '—'} | "
                f"{_fmt(r.get('final_test_loss'))} | {_fmt(r.get('final_quality'))} | "
                f"{_fmt(r.get('avg_grad_norm'))} | {_fmt(r.get('ms_per_member_step'), '.2f')} |"
            )
        lines += ["", "Claims at this scale:", *claims(records, quality), "",
                  f"![{task_name}]({task_name}_curves.png)", ""]  # fmt: skip
    (workdir / "summary.md").write_text("\n".join(lines))


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)

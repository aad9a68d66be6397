"""Softly constrained denoisers (arXiv 2512.14980) against a plain EDM denoiser, PIDM-style loss
regularisation and DPS-style sampling guidance, with correct and misspecified constraints.

For each task (circle toy, Darcy flow) one plain denoiser is trained; for each constraint a softly
constrained denoiser (SCD) and a loss-regularised one (PIDM) are trained, and the plain denoiser
is sampled with DPS guidance. Every model is an EDM denoiser (Karras et al., arXiv 2206.00364)
sampled with the same deterministic Heun sampler; ``jaxml.diffusion`` holds the trainer, the
sampler and the metrics (exact and sliced W1 to held-out data, mean |residual| of the true
constraint and of the one given to the method, diversity).

The models of all constraints of one method train together through ``run_trainer`` with the
constraint parameter theta as the member setting (``num_constraints * num_seeds`` members,
setting-major), so ``<metric>_per_seed`` lists in ``runs/<task>/<method>/metrics.jsonl`` hold
entry ``c * num_seeds + s`` for constraint c, seed s.

  python -m experiments.scd.main --preset=quick --workdir=results/quick/scd
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from experiments.scd import report
from experiments.scd.claims import write_scd_claims
from experiments.scd.config import TASKS, get_config, validate
from jaxml import diffusion
from jaxml.data.circle import sample_circle
from jaxml.data.darcy import generate_darcy
from jaxml.models.unet import UNet
from jaxml.utils import runner
from jaxml.utils.trainer import member_metric, run_trainer

NAME = "scd"
FIGURE = report.FIGURE


class Task(NamedTuple):
    name: str
    x_train: jax.Array  # [N, ...] normalised training data.
    x_test: jax.Array  # [num_eval, ...] normalised held-out data.
    x_fresh: jax.Array  # [num_eval, ...] other data: W1(x_fresh, x_test) is the floor of a model.
    net: Callable[[], nn.Module]  # Fresh raw network F.
    family: diffusion.ResidualFamily  # theta [P] -> residual of one normalised sample.
    constraints: dict[str, np.ndarray]  # Name -> theta [P]; the data satisfy the first one.
    true_residual_physical: Callable  # Residual in physical units of one normalised sample.
    num_seeds: int


def circle_family(theta: jax.Array) -> Callable:
    # theta = semi-axes (a, b); a = b = R gives ||x||/R - 1, the circle residual divided by R, so
    # every member is scale-free.
    return lambda x: diffusion.ellipse_residual(x, (theta[0], theta[1]))


def circle_name(a: float, b: float) -> str:
    return f"radius_{a}" if a == b else f"ellipse_{a}_{b}"


def circle_task(config: ml_collections.ConfigDict, key: jax.Array) -> Task:
    cfg = config.circle
    k_train, k_test = jax.random.split(key)
    sample = lambda k, n: sample_circle(k, n, cfg.radius, cfg.radial_noise)  # noqa: E731
    names = [circle_name(float(a), float(b)) for a, b in cfg.constraints]
    return Task(
        name="circle",
        x_train=sample(k_train, cfg.num_train),
        x_test=sample(k_test, cfg.num_eval),
        x_fresh=sample(jax.random.PRNGKey(config.seed + 2000), cfg.num_eval),
        net=lambda: diffusion.MLPDenoiserNet(width=cfg.width, depth=cfg.depth),
        family=circle_family,
        constraints=dict(zip(names, np.asarray(cfg.constraints, np.float32), strict=True)),
        true_residual_physical=lambda x: diffusion.circle_residual(x, cfg.radius),
        num_seeds=config.num_seeds,
    )


def darcy_task(config: ml_collections.ConfigDict, key: jax.Array) -> Task:
    cfg = config.darcy
    size = cfg.num_train + cfg.num_eval
    fields = generate_darcy(
        key, size, cfg.grid, cfg.length_scale, cfg.num_modes, cfg.log_k_std, cfg.source_magnitude
    )
    # Per-channel standardisation to std sigma_data; the residual maps back to physical units.
    mean = jnp.mean(fields, axis=(0, 1, 2))
    scale = jnp.std(fields, axis=(0, 1, 2)) / config.edm.sigma_data
    normed = (fields - mean[None, None, None, :]) / scale[None, None, None, :]
    source = diffusion.darcy_source(cfg.grid, cfg.source_magnitude)
    physical = partial(diffusion.standardised_darcy_residual, source=source, mean=mean, scale=scale)
    return Task(
        name="darcy",
        x_train=normed[: cfg.num_train],
        x_test=normed[cfg.num_train :],
        x_fresh=normed[: cfg.num_eval],
        net=lambda: UNet(cfg.channels, tuple(cfg.channel_mult), embed_dim=4 * cfg.channels),
        family=diffusion.darcy_source_family(source, mean, scale, grad_log_k=cfg.grad_log_k),
        constraints={f"source_{float(s)}": np.array([s], np.float32) for s in cfg.constraints},
        true_residual_physical=physical,
        num_seeds=cfg.num_seeds,
    )


def model_fn(config: ml_collections.ConfigDict, task: Task, method: str) -> diffusion.ModelFn:
    """``theta -> denoiser`` of ``method`` (plain EDM for plain, pidm and dps)."""
    # config.soft's fields are make_denoiser's gamma_mode, gamma_init, gamma_max, stop_gradient.
    soft = dict(config.soft.to_dict(), sigma_data=config.edm.sigma_data)
    return lambda theta: diffusion.make_denoiser(method, task.net(), task.family(theta), **soft)


def train(config, task: Task, method: str, thetas: jax.Array, workdir: Path, resume: bool):
    """Trains ``len(thetas) x num_seeds`` members at once; returns their params and the rows."""
    cfg = config[task.name]
    schedule = optax.cosine_decay_schedule(cfg.learning_rate, cfg.num_steps, alpha=0.05)
    optimizer = optax.chain(optax.clip_by_global_norm(1.0), optax.adam(schedule))
    losses = {"pidm_weight": cfg.pidm_weight, "pidm_sigma_weighting": config.pidm_sigma_weighting}
    trainer = diffusion.denoiser_trainer(
        method,
        model_fn(config, task, method),
        task.family,
        task.x_train,
        optimizer=optimizer,
        num_steps=cfg.num_steps,
        batch_size=cfg.batch_size,
        **config.edm.to_dict(),
        **losses,
    )
    # eval_every_chunks: the soft denoiser's gamma(sigma) is read at the end only.
    options = {"eval_every_chunks": 1_000_000, **runner.options_from_config(config)}
    run = run_trainer(
        trainer,
        workdir / "runs" / task.name / method,
        seed=config.seed,
        settings=thetas,
        num_seeds=task.num_seeds,
        chunk_size=cfg.chunk_size,
        resume=resume,
        description=f"{task.name}/{method}",
        **options,
    )
    return run.result.carry.params, run.result.history


def sample(config, task: Task, method: str, params, members: jax.Array) -> jax.Array:
    """``[M, num_eval, ...]`` samples of M members; member ``c * num_seeds + s`` uses seed s."""
    s, num_s = config.sampler, task.num_seeds
    sigmas = diffusion.karras_sigmas(s.num_steps, s.sigma_min, s.sigma_max, s.rho)
    keys = jax.random.split(jax.random.PRNGKey(config.seed + 7), num_s)
    keys = jnp.tile(keys, (len(members) // num_s, 1))
    dps = diffusion.DPSGuidance(task.family, config[task.name].dps_scale, config.dps_weighting)
    shape = (config[task.name].num_eval, *task.x_train.shape[1:])
    dps = dps if method == "dps" else None
    return diffusion.heun_sample_models(
        model_fn(config, task, method), params, members, keys, shape, sigmas, dps
    )


def method_records(config, task: Task, method: str, params, thetas, history, start) -> list:
    """``(record, sample key, seed-0 samples)`` per constraint (one, ``-``, for plain)."""
    num_s = task.num_seeds
    members = jnp.repeat(thetas, num_s, axis=0)
    samples = sample(config, task, method, params, members)
    seconds = time.perf_counter() - start
    eval_key = jax.random.PRNGKey(config.seed + 1000)
    given = lambda m: None if method == "plain" else task.family(members[m])  # noqa: E731
    rows = [
        diffusion.sample_metrics(eval_key, x, task.x_test, task.true_residual_physical, given(m))
        for m, x in enumerate(samples)
    ]
    out = []
    for c, name in enumerate([None] if method == "plain" else task.constraints):
        seeds = slice(c * num_s, (c + 1) * num_s)
        record = {
            "task": task.name,
            "method": method,
            "constraint": name or "-",
            "misspecified": name not in (None, next(iter(task.constraints))),
            "seconds": seconds,
            **{k: [r[k] for r in rows[seeds]] for k in rows[0]},
        }
        if history:
            record["train_loss"] = member_metric(history, "train_loss")[-1, seeds].tolist()
        for p in diffusion.GAMMA_PROBES if method == "soft" else ():
            gamma = member_metric(history, f"gamma_sigma_{p:g}")[-1, seeds]
            record.setdefault("gamma", {})[f"{p:g}"] = float(np.mean(gamma))
        out.append((record, (method, name), np.asarray(samples[c * num_s])))
    return out


def run_task(config, task: Task, workdir: Path, resume: bool) -> tuple[list[dict], dict]:
    """Every method of ``config.methods`` on one task: records and the report's extras."""
    methods, out = config.methods, []
    thetas = jnp.asarray(np.stack(list(task.constraints.values())))
    if "plain" in methods or "dps" in methods:
        start = time.perf_counter()
        params, history = train(config, task, "plain", thetas[:1], workdir, resume)
        if "plain" in methods:
            out += method_records(config, task, "plain", params, thetas[:1], history, start)
        if "dps" in methods:  # The plain members once per constraint, setting-major.
            tile = lambda p: jnp.tile(p, (len(thetas),) + (1,) * (p.ndim - 1))  # noqa: E731
            params = jax.tree.map(tile, params)
            out += method_records(config, task, "dps", params, thetas, [], time.perf_counter())
    for method in (m for m in ("soft", "pidm") if m in methods):
        start = time.perf_counter()
        params, history = train(config, task, method, thetas, workdir, resume)
        out += method_records(config, task, method, params, thetas, history, start)
    names = ["-", *task.constraints]
    order = lambda r: (names.index(r["constraint"]), diffusion.METHODS.index(r["method"]))  # noqa: E731
    samples = {"data": np.asarray(task.x_test)} | {key: x for _, key, x in out}
    reference = diffusion.reference_metrics(task.x_fresh, task.x_test, task.true_residual_physical)
    extra = {"reference": reference, "samples": samples, "constraints": task.constraints}
    return sorted((r for r, _, _ in out), key=order), extra


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: Path, resume: bool) -> dict:
    validate(config)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    records, extras = [], {}
    for name in config.tasks:
        key = jax.random.PRNGKey(config.seed + 100 * (1 + TASKS.index(name)))
        task = circle_task(config, key) if name == "circle" else darcy_task(config, key)
        task_records, extras[name] = run_task(config, task, workdir, resume)
        records += task_records
        reference = {k: v["reference"] for k, v in extras.items()}
        results = json.dumps({"records": records, "reference": reference}, indent=1)
        (workdir / "results.json").write_text(results)
    seconds = time.perf_counter() - start
    report.write_figures(config, records, extras, workdir)
    report.write_summary(config, records, extras, workdir, seconds)
    write_scd_claims(workdir, records)
    return {"records": records, "seconds": seconds}


if __name__ == "__main__":
    from jaxml.utils.cli import launch

    launch(NAME, train_and_evaluate, get_config)

"""The supervised training loop as a :class:`jaxml.utils.trainer.Trainer`.

One step: split the state's key into (next, batch, loss) keys, draw a batch, take one optimizer
step on the loss, and report ``train_loss`` with the loss's auxiliary metrics. A sweep passes a
per-member ``setting`` (a learning rate, a training-set size, a constraint parameter) to every
callback; ``run_trainer(..., settings=...)`` builds the settings × seeds grid. With
``freeze_non_finite`` a member whose loss or parameters go NaN/inf keeps its last finite
parameters and reports zeros and ``alive = 0`` from then on, so one diverged learning rate does
not stop a sweep (the runner's NaN stop still guards every other trainer).

Digits, the GRNG sweeps, the ResNet bounds and the diffusion models train through it::

    trainer = supervised_trainer(
        init_params=lambda key, _: model.init(key, x[:1]),
        sample_batch=lambda key, _: sample(key),
        loss_fn=lambda params, batch, key, _: (loss(params, batch), {}),
        optimizer=optax.adamw(1e-3),
        num_steps=1000,
    )
    run = run_trainer(trainer, workdir, num_seeds=3, chunk_size=100)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh

from jaxml.utils import runner, sharding
from jaxml.utils.trainer import Metrics, Trainer

Params = Any
Setting = Any
# loss_fn(params, batch, key, setting) -> (loss [], aux metrics {name: []}).
LossFn = Callable[[Params, Any, jax.Array, Setting], tuple[jax.Array, Metrics]]
# update_fn(params, opt_state, batch, key, setting) -> (params, opt_state, {"train_loss", ...}).
UpdateFn = Callable[[Params, Any, Any, jax.Array, Setting], tuple[Params, Any, Metrics]]


class SupervisedState(NamedTuple):
    params: Params
    opt_state: optax.OptState
    key: jax.Array  # [2] uint32: split once per step into (next, batch, loss) keys.
    setting: Setting  # This member's setting (None for a plain run).
    alive: jax.Array | None  # [] bool with freeze_non_finite: False once it went non-finite.


def gradient_update(loss_fn: LossFn, optimizer: optax.GradientTransformation) -> UpdateFn:
    """The plain ``update_fn``: one ``optimizer`` step on ``loss_fn``'s gradient."""

    def update(params, opt_state, batch, key, setting):
        value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)
        (loss, aux), grads = value_and_grad(params, batch, key, setting)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, {"train_loss": loss, **aux}

    return update


def supervised_trainer(
    *,
    init_params: Callable[[jax.Array, Setting], Params],
    sample_batch: Callable[[jax.Array, Setting], Any],
    optimizer: optax.GradientTransformation,
    num_steps: int,
    loss_fn: LossFn | None = None,
    update_fn: UpdateFn | None = None,
    evaluate: Callable[[Params, Setting], Metrics] | None = None,
    init_optimizer: Callable[[Params, Setting], Any] | None = None,
    freeze_non_finite: bool = False,
    mesh: Mesh | None = None,
) -> Trainer:
    """A ``Trainer`` over ``SupervisedState``.

    Args:
      init_params: ``(key, setting) -> params``.
      sample_batch: ``(key, setting) -> batch`` (a pytree whose leaves lead with the batch axis).
      optimizer: the optax transformation (``init_optimizer`` may replace its ``init``).
      num_steps: optimizer steps of the run.
      loss_fn: ``(params, batch, key, setting) -> (loss, aux)``; the step is ``gradient_update``.
      update_fn: a whole update instead (curvature optimizers that need more than a gradient);
        its metrics must hold ``train_loss``. Give exactly one of ``loss_fn`` and ``update_fn``.
      evaluate: ``(params, setting) -> metrics``, run by ``run_trainer`` between chunks.
      init_optimizer: ``(params, setting) -> opt_state`` (e.g. a swept learning rate written into
        ``inject_hyperparams``'s state); default ``optimizer.init(params)``.
      freeze_non_finite: keep a diverged member frozen instead of stopping the run (see above).
      mesh: split every batch's leading axis over the mesh's ``"data"`` devices.

    Raises:
      ValueError: naming ``loss_fn``/``update_fn`` unless exactly one is given.
    """
    if (loss_fn is None) == (update_fn is None):
        raise ValueError("loss_fn, update_fn: expected exactly one of them, got both or neither")
    update = update_fn or gradient_update(loss_fn, optimizer)

    def init(key: jax.Array, setting: Setting = None) -> SupervisedState:
        init_key, data_key = jax.random.split(key)
        params = init_params(init_key, setting)
        opt_state = (
            optimizer.init(params) if init_optimizer is None else init_optimizer(params, setting)
        )
        alive = jnp.asarray(True) if freeze_non_finite else None
        return SupervisedState(params, opt_state, data_key, setting, alive)

    def step(state: SupervisedState) -> tuple[SupervisedState, Metrics]:
        # Split in three even when the loss draws nothing: the first two keys are the same as a
        # two-way split's, so batches do not depend on whether the loss is stochastic.
        key, batch_key, loss_key = jax.random.split(state.key, 3)
        batch = sharding.shard_batch(sample_batch(batch_key, state.setting), mesh)
        params, opt_state, metrics = update(
            state.params, state.opt_state, batch, loss_key, state.setting
        )
        if state.alive is None:
            return SupervisedState(params, opt_state, key, state.setting, None), metrics
        ok = state.alive & jnp.isfinite(metrics["train_loss"]) & runner.all_finite(params)
        keep = lambda new, old: jax.tree.map(lambda a, b: jnp.where(ok, a, b), new, old)
        metrics = {name: jnp.where(ok, value, 0.0) for name, value in metrics.items()}
        metrics["alive"] = ok.astype(jnp.float32)
        params, opt_state = keep(params, state.params), keep(opt_state, state.opt_state)
        return SupervisedState(params, opt_state, key, state.setting, ok), metrics

    def evaluate_state(state: SupervisedState) -> Metrics:
        metrics = evaluate(state.params, state.setting)
        if state.alive is None:
            return metrics
        return {name: jnp.where(state.alive, value, 0.0) for name, value in metrics.items()}

    return Trainer(
        init=init,
        step=step,
        num_steps=num_steps,
        evaluate=evaluate_state if evaluate is not None else None,
    )

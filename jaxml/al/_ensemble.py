"""Deep ensembles of heteroscedastic nets, trained by one jitted function vmapped over members.

From "Confidence-Aware Active Learning for Heteroscedastic Atmospheric Regression" (Jiang et al.,
arXiv 2602.11825): M members (default 6) are trained from scratch with AdamW, gradient-norm
clipping and early stopping on validation MSE; epistemic ``u_e = Var_m[μ_m]``, aleatoric
``u_a = Mean_m[σ²_m]``.

Data are padded to a fixed number of rows and selected with 0/1 weights, so the labelled set can
grow from round to round without recompiling: one compile serves every round, strategy and seed.
A member's training is a ``lax.while_loop`` over epochs that stops once validation MSE has not
improved for ``patience`` epochs; the best parameters are carried along by masking
(``where(improved, new, best)``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from jaxml.al._losses import LossFn, mse
from jaxml.al._models import Prediction


class TrainSettings(NamedTuple):
    """Optimisation settings of one member (the paper's: AdamW 1e-4, batch 128, ≤100 epochs)."""

    learning_rate: float = 1e-4
    weight_decay: float = 1e-4
    batch_size: int = 128
    max_epochs: int = 100
    patience: int = 10
    clip_norm: float = 1.0


class MemberFit(NamedTuple):
    params: Any  # The parameters with the best validation MSE (leading [M] axis for an ensemble).
    best_val_mse: jax.Array  # [] (or [M]) validation MSE of those parameters.
    epochs: jax.Array  # [] (or [M]) int32 epochs run before early stopping.
    best_epoch: jax.Array  # [] (or [M]) int32 epoch of the best parameters (0: initialisation).


class _EpochState(NamedTuple):
    epoch: jax.Array  # [] int32 epochs done.
    params: Any
    opt_state: Any
    best_params: Any
    best_val: jax.Array  # [] float32 best validation MSE so far.
    bad_epochs: jax.Array  # [] int32 epochs since the last improvement.
    best_epoch: jax.Array  # [] int32 epoch whose parameters are best_params.
    key: jax.Array  # [2] uint32 for minibatch order.


def make_optimizer(settings: TrainSettings) -> optax.GradientTransformation:
    return optax.chain(
        optax.clip_by_global_norm(settings.clip_norm),
        optax.adamw(settings.learning_rate, weight_decay=settings.weight_decay),
    )


def make_member_trainer(
    model: nn.Module, loss_fn: LossFn, settings: TrainSettings
) -> Callable[..., MemberFit]:
    """A pure ``train(key, x, y, train_weight, val_weight, steps_per_epoch) -> MemberFit``.

    Args of ``train``:
      key: [2] PRNG key for initialisation and minibatch order.
      x: [N, F] inputs (all rows, padded; unlabelled rows get weight 0).
      y: [N] targets (values of weight-0 rows are ignored).
      train_weight: [N] 0/1 rows to train on.
      val_weight: [N] 0/1 rows for early stopping (needs at least one row).
      steps_per_epoch: [] int32 minibatch steps per epoch, ceil(#train rows / batch_size).
    """
    optimizer = make_optimizer(settings)
    batch = settings.batch_size

    def loss_of(params, xb, yb, wb):
        pred: Prediction = model.apply(params, xb)
        return loss_fn(pred.mean, pred.variance, yb, wb)

    grad_fn = jax.grad(loss_of)

    def train(key, x, y, train_weight, val_weight, steps_per_epoch) -> MemberFit:
        chex.assert_rank([x, y, train_weight, val_weight], [2, 1, 1, 1])
        num_rows = x.shape[0]
        # Pad so that the last minibatch of an epoch can always be sliced.
        pad = (-num_rows) % batch + batch
        x_p = jnp.concatenate([x, jnp.zeros((pad, x.shape[1]), x.dtype)])
        y_p = jnp.concatenate([y, jnp.zeros((pad,), y.dtype)])
        w_p = jnp.concatenate([train_weight, jnp.zeros((pad,), train_weight.dtype)])
        init_key, key = jax.random.split(key)
        params = model.init(init_key, x[:1])
        opt_state = optimizer.init(params)

        def val_mse(p):
            return mse(model.apply(p, x).mean, y, val_weight)

        def epoch_body(s: _EpochState) -> _EpochState:
            key, order_key = jax.random.split(s.key)
            # Training rows first, in random order; padding and unlabelled rows last (weight 0).
            u = jax.random.uniform(order_key, (x_p.shape[0],))
            order = jnp.argsort(jnp.where(w_p > 0, u, 2.0 + u))

            def step(i, carry):
                p, o = carry
                idx = jax.lax.dynamic_slice(order, (i * batch,), (batch,))
                g = grad_fn(p, x_p[idx], y_p[idx], w_p[idx])
                updates, o = optimizer.update(g, o, p)
                return optax.apply_updates(p, updates), o

            p, o = jax.lax.fori_loop(0, steps_per_epoch, step, (s.params, s.opt_state))
            val = val_mse(p)
            improved = val < s.best_val
            best = jax.tree.map(lambda n, b: jnp.where(improved, n, b), p, s.best_params)
            return _EpochState(
                s.epoch + 1,
                p,
                o,
                best,
                jnp.where(improved, val, s.best_val),
                jnp.where(improved, 0, s.bad_epochs + 1),
                jnp.where(improved, s.epoch + 1, s.best_epoch),
                key,
            )

        def keep_going(s: _EpochState) -> jax.Array:
            return (s.epoch < settings.max_epochs) & (s.bad_epochs < settings.patience)

        init = _EpochState(
            jnp.int32(0),
            params,
            opt_state,
            params,
            val_mse(params),
            jnp.int32(0),
            jnp.int32(0),
            key,
        )
        final = jax.lax.while_loop(keep_going, epoch_body, init)
        return MemberFit(final.best_params, final.best_val, final.epoch, final.best_epoch)

    return train


def make_ensemble_trainer(
    model: nn.Module, loss_fn: LossFn, settings: TrainSettings
) -> Callable[..., MemberFit]:
    """Jitted ``train(keys [M, 2], x, y, train_weight, val_weight, steps_per_epoch)``, vmapped.

    Every member sees the same data and differs by its key (initialisation and minibatch order).
    """
    member = make_member_trainer(model, loss_fn, settings)
    return jax.jit(jax.vmap(member, in_axes=(0, None, None, None, None, None)))


def steps_per_epoch(num_train_rows: int, batch_size: int) -> int:
    return max(1, -(-int(num_train_rows) // batch_size))


def predict_ensemble(model: nn.Module, params: Any, x: jax.Array) -> Prediction:
    """Each member's prediction on ``x [N, F]``.

    Returns mean/variance ``[M, N]`` and embedding ``[M, N, D]``.
    """
    return jax.vmap(lambda p: model.apply(p, x))(params)


class Uncertainty(NamedTuple):
    mean: jax.Array  # [N] ensemble mean Mean_m[μ_m].
    epistemic: jax.Array  # [N] Var_m[μ_m].
    aleatoric: jax.Array  # [N] Mean_m[σ²_m].

    @property
    def total(self) -> jax.Array:
        return self.epistemic + self.aleatoric


def ensemble_uncertainty(means: jax.Array, variances: jax.Array) -> Uncertainty:
    """Decomposes an ensemble's predictive variance; ``means``/``variances`` are ``[M, N]``."""
    chex.assert_equal_shape([means, variances])
    chex.assert_rank(means, 2)
    return Uncertainty(means.mean(0), means.var(0), variances.mean(0))

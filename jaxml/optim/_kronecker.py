"""Kronecker-factored natural gradients: K-FAC, and GRNG's RING and RENG.

K-FAC: Martens & Grosse, "Optimizing Neural Networks with Kronecker-factored Approximate Curvature",
ICML 2015 (arXiv 1503.05671). RING and RENG: Dash, Abdi, Pan, Kaski, Sun, "Gradient Regularized
Natural Gradients", AISTATS 2026 (arXiv 2601.18420).

For a dense layer ``s = a W + b`` (flax ``kernel`` ``[d_in, d_out]``), the Fisher block is
approximated by ``A ⊗ G`` with ``A = E[â âᵀ]`` (``â = [a, 1]`` when the layer has a bias) and
``G = E[e eᵀ]``, ``e = ∂ℓ/∂s`` for labels sampled from the model (the true Fisher). The natural
direction of the stacked gradient ``Ĝ = [∇W; ∇b]`` is ``(A + π√λ I)⁻¹ Ĝ (G + √λ/π I)⁻¹`` (factored
Tikhonov damping, ``π² = (tr A / dim A) / (tr G / dim G)``). Inverses come from warm-started
Newton–Schulz iterations. GRNG regularizes the gradient norm, ``ℓ + (ρ/2)‖∇ℓ‖²``:

* RING (implicit) folds it into the damping: ``λ_t = λ + ρ‖ḡ_t‖²``;
* RENG (explicit) preconditions the regularized gradient ``g + ρ H g`` (a Hessian-vector product);

with ρ = 0 both are K-FAC.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax
from flax import traverse_util

from jaxml.optim._newton_schulz import newton_schulz_inverse
from jaxml.optim._rank1 import _value


class LayerStats(NamedTuple):
    """What one dense layer contributes to its Kronecker factors, for a batch of N uses."""

    inputs: jax.Array  # [N, d_in] layer inputs a.
    output_grads: jax.Array  # [N, d_out] ∂ℓ_n/∂s_n of the per-example loss at sampled labels.


class LayerFactors(NamedTuple):
    a: jax.Array  # [d_in (+1 with bias), same] EMA of E[â âᵀ].
    g: jax.Array  # [d_out, d_out] EMA of E[e eᵀ].
    a_inv: jax.Array  # Damped inverse of a, refreshed every `inverse_update_every` steps.
    g_inv: jax.Array  # Damped inverse of g.


class ScaleByKroneckerState(NamedTuple):
    count: chex.Array  # [] int32: updates so far.
    damping: chex.Array  # [] float32: the (RING: gradient-scaled) damping of the current inverses.
    factors: dict[str, LayerFactors]  # Keyed by the layer's path in params, "/"-joined.


def _is_stats(_, value) -> bool:
    return isinstance(value, LayerStats)


def kronecker_layers(params: Any) -> dict[tuple, bool]:
    """Paths of every layer with a Kronecker-factored block, mapped to "has a bias".

    Those are the modules holding a 2-D ``kernel`` ``[d_in, d_out]`` (``nn.Dense``) or a 4-D one
    ``[kh, kw, c_in, c_out]`` (``nn.Conv`` in two spatial dimensions, Grosse & Martens 2016,
    arXiv 1602.01407), whose kernel acts as the matrix ``[kh·kw·c_in, c_out]`` on patches.
    3-D kernels (``nn.DenseGeneral``, 1-D convolutions) are ambiguous and pass through.
    """
    flat = traverse_util.flatten_dict(params)
    layers = {}
    for path, leaf in flat.items():
        if path[-1] == "kernel" and jnp.ndim(leaf) in (2, 4):
            layers[path[:-1]] = path[:-1] + ("bias",) in flat
    return layers


def kernel_matrix_shape(kernel_shape: tuple[int, ...]) -> tuple[int, int]:
    """``(d_in, d_out)`` of a kernel seen as a matrix: all axes but the last are inputs."""
    return math.prod(kernel_shape[:-1]), kernel_shape[-1]


def _key(path: tuple) -> str:
    return "/".join(str(p) for p in path)


def flat_layer_stats(layer_stats: Any, params: Any) -> dict[tuple, LayerStats]:
    """Checks ``layer_stats`` against the dense layers of ``params``; returns them by path."""
    if layer_stats is None:
        raise ValueError(
            "layer_stats: this optimizer needs the extra arg layer_stats (per dense layer: inputs "
            "and sampled-label output gradients); compute it with jaxml.optim.loss_grads_and_stats"
        )
    flat = traverse_util.flatten_dict(layer_stats, is_leaf=_is_stats)
    layers = kronecker_layers(params)
    missing = sorted(_key(p) for p in layers if p not in flat)
    extra = sorted(_key(p) for p in flat if p not in layers)
    if missing or extra:
        raise ValueError(
            f"layer_stats: no entry for dense layers {missing}; entries for unknown layers {extra}"
        )
    kernels = traverse_util.flatten_dict(params)
    for path, stats in flat.items():
        if not isinstance(stats, LayerStats):
            raise ValueError(f"layer_stats[{_key(path)}]: expected LayerStats, got {type(stats)}")
        d_in, d_out = kernel_matrix_shape(kernels[path + ("kernel",)].shape)
        if stats.inputs.ndim != 2 or stats.inputs.shape[1] != d_in:
            raise ValueError(
                f"layer_stats[{_key(path)}].inputs: shape {stats.inputs.shape}, "
                f"expected [N, {d_in}]"
            )
        if stats.output_grads.shape != (stats.inputs.shape[0], d_out):
            raise ValueError(
                f"layer_stats[{_key(path)}].output_grads: shape {stats.output_grads.shape}, "
                f"expected [{stats.inputs.shape[0]}, {d_out}]"
            )
    return flat


def layer_factors(stats: LayerStats, has_bias: bool) -> tuple[jax.Array, jax.Array]:
    """This batch's ``(E[â âᵀ], E[e eᵀ])`` of one layer."""
    a = stats.inputs.astype(jnp.float32)
    if has_bias:
        a = jnp.concatenate([a, jnp.ones((a.shape[0], 1), a.dtype)], axis=1)
    e = stats.output_grads.astype(jnp.float32)
    n = a.shape[0]
    return a.T @ a / n, e.T @ e / n


def damped_inverses(
    a: jax.Array,
    g: jax.Array,
    damping: jax.Array,
    warm: LayerFactors | None,
    num_iters: int,
    tol,
    active: jax.Array | None = None,
) -> tuple[jax.Array, jax.Array]:
    """Newton–Schulz inverses of ``A + π√λ I`` and ``G + √λ/π I`` (factored Tikhonov damping).

    With ``active`` False no iteration runs (see ``newton_schulz_inverse``).
    """
    mean_eig_a = jnp.trace(a) / a.shape[0]
    mean_eig_g = jnp.trace(g) / g.shape[0]
    pi = jnp.sqrt(jnp.maximum(mean_eig_a, 1e-12) / jnp.maximum(mean_eig_g, 1e-12))
    root = jnp.sqrt(damping)
    a_damped = a + pi * root * jnp.eye(a.shape[0], dtype=a.dtype)
    g_damped = g + root / pi * jnp.eye(g.shape[0], dtype=g.dtype)
    a_warm = None if warm is None else warm.a_inv
    g_warm = None if warm is None else warm.g_inv
    a_inv = newton_schulz_inverse(a_damped, num_iters, a_warm, tol, active)
    g_inv = newton_schulz_inverse(g_damped, num_iters, g_warm, tol, active)
    return a_inv, g_inv


def unflatten_like(flat: dict[tuple, Any], like: Any) -> Any:
    """A ``flatten_dict``-style dict back in the pytree structure of ``like``."""
    leaves = jax.tree.leaves(traverse_util.unflatten_dict(flat))
    return jax.tree.unflatten(jax.tree.structure(like), leaves)


def gradient_regularization_term(loss_fn, params, grads) -> Any:
    """``H g``: the gradient of ``½‖∇ℓ‖²`` at ``params``, by forward-over-reverse differentiation.

    ``grads`` must be ``∇ℓ(params)``; the GR-regularized gradient is ``g + ρ·H g``.
    """
    return jax.jvp(jax.grad(loss_fn), (params,), (grads,))[1]


def regularized_gradient(
    grads, params, loss_fn, rho: optax.ScalarOrSchedule, count, who: str
) -> Any:
    """``g + ρ·H g``, the gradient of ``ℓ + (ρ/2)‖∇ℓ‖²`` (GRNG's explicit regularization).

    ``who`` names the optimizer in the error raised when the extra arg ``loss_fn`` is missing.
    """
    if loss_fn is None:
        raise ValueError(f"loss_fn: {who} with explicit_rho set needs the extra arg loss_fn")
    hg = gradient_regularization_term(loss_fn, params, grads)
    weight = _value(rho, count)
    return jax.tree.map(lambda g, h: g + weight * h.astype(g.dtype), grads, hg)


def scale_by_kronecker_natural_gradient(
    damping: optax.ScalarOrSchedule = 1e-3,
    implicit_rho: optax.ScalarOrSchedule = 0.0,
    explicit_rho: optax.ScalarOrSchedule | None = None,
    factor_decay: float = 0.95,
    inverse_update_every: int = 1,
    newton_schulz_iters: int = 30,
    newton_schulz_tol: float | None = 1e-2,
    kl_clip: float | None = None,
) -> optax.GradientTransformationExtraArgs:
    """The shared core of :func:`scale_by_kfac`, :func:`scale_by_ring` and :func:`scale_by_reng`.

    Args:
      damping: λ, the base Tikhonov damping (a float or a schedule).
      implicit_rho: RING's ρ; the damping of the inverses becomes ``λ + ρ‖ḡ‖²`` (``ḡ``: the
        incoming gradient, i.e. the mini-batch mean gradient).
      explicit_rho: RENG's ρ; the preconditioned gradient becomes ``g + ρ H g``; needs the extra
        arg ``loss_fn`` (params -> mean loss of the batch ``g`` was computed on). None (off) is
        not 0: ``optax.inject_hyperparams`` makes numbers traced arrays, and a traced 0 would
        still pay for the Hessian-vector product.
      factor_decay: EMA decay of the Kronecker factors (GRNG notes' proposed default 0.95; the
        first update takes the batch factors as they are).
      inverse_update_every: refresh the damped inverses every this many steps (and at step 0);
        in between the last inverses are reused (RING's damping is then that of the refresh).
      newton_schulz_iters: maximum Newton–Schulz iterations per refresh.
      newton_schulz_tol: stop iterating at this RMS residual ``‖I − M X‖_F / √n`` (None: always
        iterate ``newton_schulz_iters`` times). Warm starts usually need 1–2 iterations.
      kl_clip: if set (κ), the direction ``d`` is scaled by ``min(1, sqrt(κ / dᵀF̂d))`` so that a
        step of learning rate η changes the model's predictions by a quadratic KL of at most
        ``½η²κ`` (K-FAC's KL clipping, Ba, Grosse & Martens 2017, written here without η so that
        it composes with ``scale_by_learning_rate``). ``dᵀF̂d = dᵀg`` for the preconditioned
        gradient ``g``; parameters outside dense layers count with ``F̂ = I``. None: off.

    Extra args of ``update``: ``layer_stats`` (required; see :class:`LayerStats` and
    ``loss_grads_and_stats``) and ``loss_fn`` (required when ``explicit_rho`` is set).
    Parameters outside dense layers (LayerNorm scales, embeddings) pass through unchanged.
    """

    def init_fn(params):
        factors = {}
        flat_params = traverse_util.flatten_dict(params)
        for path, has_bias in kronecker_layers(params).items():
            d_in, d_out = kernel_matrix_shape(flat_params[path + ("kernel",)].shape)
            eye_a = jnp.eye(d_in + int(has_bias), dtype=jnp.float32)
            eye_g = jnp.eye(d_out, dtype=jnp.float32)
            factors[_key(path)] = LayerFactors(eye_a, eye_g, eye_a, eye_g)
        return ScaleByKroneckerState(
            count=jnp.zeros([], jnp.int32), damping=jnp.zeros([], jnp.float32), factors=factors
        )

    def update_fn(updates, state, params=None, *, layer_stats=None, loss_fn=None, **extra_args):
        del extra_args
        if params is None:
            raise ValueError("params: Kronecker-factored updates need params (layer shapes)")
        stats = flat_layer_stats(layer_stats, params)
        layers = kronecker_layers(params)
        count = state.count
        lam = _value(damping, count).astype(jnp.float32)
        rho_implicit = _value(implicit_rho, count).astype(jnp.float32)

        grads = updates
        if explicit_rho is not None:
            grads = regularized_gradient(updates, params, loss_fn, explicit_rho, count, "RENG")

        # RING's damping: the squared norm of the mini-batch mean gradient, before regularization.
        step_damping = lam + rho_implicit * optax.tree.norm(updates, squared=True).astype(
            jnp.float32
        )
        first = count == 0
        refresh = count % inverse_update_every == 0

        new_factors = {}
        for path, has_bias in layers.items():
            key = _key(path)
            old = state.factors[key]
            batch_a, batch_g = layer_factors(stats[path], has_bias)
            a = jnp.where(first, batch_a, factor_decay * old.a + (1 - factor_decay) * batch_a)
            g = jnp.where(first, batch_g, factor_decay * old.g + (1 - factor_decay) * batch_g)

            # Not lax.cond: under vmap (seeds, sweeps) its predicate is batched and both branches
            # would run every step. Gated iterations cost nothing between refreshes.
            a_inv, g_inv = damped_inverses(
                a, g, step_damping, old, newton_schulz_iters, newton_schulz_tol, refresh
            )
            a_inv = jnp.where(refresh, a_inv, old.a_inv)
            g_inv = jnp.where(refresh, g_inv, old.g_inv)
            new_factors[key] = LayerFactors(a, g, a_inv, g_inv)

        flat_grads = traverse_util.flatten_dict(grads)
        flat_out = dict(flat_grads)
        for path, has_bias in layers.items():
            f = new_factors[_key(path)]
            kernel_grad = flat_grads[path + ("kernel",)]
            stacked = kernel_grad.reshape(kernel_matrix_shape(kernel_grad.shape))
            stacked = stacked.astype(jnp.float32)
            if has_bias:
                bias_grad = flat_grads[path + ("bias",)]
                stacked = jnp.concatenate([stacked, bias_grad[None].astype(jnp.float32)], axis=0)
            direction = f.a_inv @ stacked @ f.g_inv
            d_in = stacked.shape[0] - int(has_bias)
            flat_out[path + ("kernel",)] = (
                direction[:d_in].reshape(kernel_grad.shape).astype(kernel_grad.dtype)
            )
            if has_bias:
                flat_out[path + ("bias",)] = direction[-1].astype(bias_grad.dtype)
        out = unflatten_like(flat_out, updates)
        if kl_clip is not None:
            # dᵀF̂d >= 0 as F̂ is SPD; the floor keeps a zero gradient from dividing by zero.
            quadratic = optax.tree.vdot(out, grads).astype(jnp.float32)
            scale = jnp.minimum(1.0, jnp.sqrt(kl_clip / jnp.maximum(quadratic, 1e-20)))
            out = jax.tree.map(lambda d: (scale * d).astype(d.dtype), out)
        damping_now = jnp.where(refresh, step_damping, state.damping)
        return out, ScaleByKroneckerState(optax.safe_increment(count), damping_now, new_factors)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)

"""Curvature extra args from a flax model, its params and a batch, in one forward pass.

Every ``nn.Dense`` and 2-D ``nn.Conv`` call is intercepted: its input (a conv's patches) is
recorded, and a zero perturbation is added to its output so that one backward pass gives the
per-example gradients ``∂ℓ_n/∂s_n`` at labels sampled from the model (the true Fisher, as GRNG's
notes state). A second backward pass from the
same forward gives the gradient at the real labels.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax
from flax import traverse_util

from jaxml.optim._kronecker import LayerStats

LIKELIHOODS = ("categorical", "gaussian")
_INPUTS = "kronecker_inputs"
_OUTPUTS = "kronecker_outputs"


class CurvatureInputs(NamedTuple):
    loss: jax.Array  # [] mean loss at the real targets.
    grads: Any  # Gradient of ``loss``, shaped like params.
    layer_stats: Any  # Per dense layer LayerStats, nested like params (extra arg ``layer_stats``).
    loss_fn: Callable[
        [Any], jax.Array
    ]  # params -> mean loss on this batch (extra arg ``loss_fn``).
    # (v_1, ..., v_k) of params-shaped tangents -> [k, k] Gram matrix [v_iᵀ C v_j] of the exact
    # Fisher (= Gauss–Newton here) C of the mean loss; extra arg ``curvature_gram``.
    curvature_gram: Callable[[Sequence[Any]], jax.Array]


def conv_patches(module: nn.Conv, inputs: jax.Array) -> jax.Array:
    """The patches ``[N, H', W', kh·kw·c_in]`` a 2-D ``nn.Conv`` multiplies by its kernel.

    Ordered like ``kernel.reshape(-1, c_out)``, so ``patches @ that + bias`` is the conv output
    (Grosse & Martens 2016, arXiv 1602.01407: the input factor is ``E[patch patchᵀ]``).
    """
    kernel_size = tuple(module.kernel_size)
    name = f"model: conv layer {module.name}"
    if len(kernel_size) != 2 or inputs.ndim != 4:
        raise ValueError(f"{name}: Kronecker factors support 2-D convs on [N, H, W, C] inputs")
    if module.feature_group_count != 1:
        raise ValueError(f"{name}: feature_group_count must be 1 for Kronecker factors")
    padding = module.padding
    if isinstance(padding, str) and padding not in ("SAME", "VALID", "SAME_LOWER"):
        raise ValueError(f"{name}: padding {padding!r}; Kronecker factors need SAME or VALID")
    if isinstance(padding, int):
        padding = ((padding, padding),) * 2

    def pair(value):
        return (1, 1) if value is None else (value,) * 2 if isinstance(value, int) else value

    patches = jax.lax.conv_general_dilated_patches(
        inputs,
        kernel_size,
        pair(module.strides),
        padding,
        lhs_dilation=pair(module.input_dilation),
        rhs_dilation=pair(module.kernel_dilation),
        dimension_numbers=("NHWC", "HWIO", "NHWC"),
    )
    n, h, w, _ = patches.shape
    c_in = inputs.shape[-1]
    # XLA orders a patch's features (c_in, kh, kw); the kernel flattens as (kh, kw, c_in).
    patches = patches.reshape(n, h, w, c_in, *kernel_size).transpose(0, 1, 2, 4, 5, 3)
    return patches.reshape(n, h, w, -1)


def _record_layer(next_fun, args, kwargs, context):
    module = context.module
    if context.method_name != "__call__" or not isinstance(module, nn.Dense | nn.Conv):
        return next_fun(*args, **kwargs)
    recorded = conv_patches(module, args[0]) if isinstance(module, nn.Conv) else args[0]
    module.sow(_INPUTS, "inputs", recorded)
    return module.perturb(_OUTPUTS, next_fun(*args, **kwargs))


def per_example_nll(outputs: jax.Array, targets: jax.Array, likelihood: str) -> jax.Array:
    """Negative log-likelihood per example: ``[...]`` from outputs ``[..., K]``."""
    if likelihood == "categorical":
        return optax.softmax_cross_entropy_with_integer_labels(outputs, targets)
    # Unit-variance Gaussian, up to a constant.
    return 0.5 * jnp.sum((outputs - targets) ** 2, axis=-1)


def sample_targets(key: jax.Array, outputs: jax.Array, likelihood: str) -> jax.Array:
    """Targets drawn from the model's predictive distribution ``p(y | x, θ)``."""
    outputs = jax.lax.stop_gradient(outputs)
    if likelihood == "categorical":
        return jax.random.categorical(key, outputs)
    return outputs + jax.random.normal(key, outputs.shape, outputs.dtype)


def loss_grads_and_stats(
    model: nn.Module,
    params: Any,
    inputs: jax.Array,
    targets: jax.Array,
    key: jax.Array,
    *,
    likelihood: str = "categorical",
) -> CurvatureInputs:
    """Loss, gradient and the curvature extra args of ``model`` on one batch.

    Args:
      model: a flax module whose dense layers are ``nn.Dense`` and whose convolutions are 2-D
        ``nn.Conv`` (each called once per forward); a conv layer's stats hold its patches.
      params: the variables passed to ``model.apply`` and optimized, e.g. ``{"params": ...}``.
      inputs: the batch ``model.apply(params, inputs)`` takes.
      targets: ``[...]`` int labels (categorical) or ``[..., K]`` (gaussian), matching the outputs.
      key: PRNG key for the sampled labels of the true Fisher.
      likelihood: ``"categorical"`` (softmax cross-entropy) or ``"gaussian"`` (unit variance).

    Returns:
      :class:`CurvatureInputs`; each position along the leading axes of a layer's input
      (batch, time, ...) counts as one example in its ``LayerStats``.
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood={likelihood!r}: must be one of {', '.join(LIKELIHOODS)}")

    def forward(params, perturbations):
        with nn.intercept_methods(_record_layer):
            outputs, recorded = model.apply(
                {**params, "perturbations": perturbations}, inputs, mutable=[_INPUTS]
            )
        return outputs, recorded[_INPUTS]

    def shapes():
        with nn.intercept_methods(_record_layer):
            return model.apply(params, inputs, mutable=["perturbations"])[1]["perturbations"]

    perturbations = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(shapes))
    # Linearize once, then transpose (what jax.vjp does inside): the same forward pass serves the
    # backward passes and the Jacobian-vector products of ``curvature_gram``.
    outputs, linear, recorded = jax.linearize(forward, params, perturbations, has_aux=True)
    transposed = jax.linear_transpose(linear, params, perturbations)

    def pullback(cotangent):
        return transposed(cotangent.astype(outputs.dtype))

    def curvature_gram(vectors):
        # J v for every v at once (vmap batches the tangent matmuls), perturbations held at 0.
        stacked = jax.tree.map(lambda *v: jnp.stack(v), *vectors)
        tangents = jax.vmap(lambda v: linear(v, perturbations))(stacked)
        return output_gram(outputs, tangents, likelihood)

    def mean_loss(outputs):
        return jnp.mean(per_example_nll(outputs, targets, likelihood))

    loss, loss_cotangent = jax.value_and_grad(mean_loss)(outputs)
    sampled = sample_targets(key, outputs, likelihood)
    # Per-example losses summed, not averaged: each row of e is then ∂ℓ_n/∂s_n itself.
    sampled_cotangent = jax.grad(lambda o: jnp.sum(per_example_nll(o, sampled, likelihood)))(
        outputs
    )
    grads = pullback(loss_cotangent)[0]
    output_grads = pullback(sampled_cotangent)[1]

    layer_stats = _layer_stats(params, recorded, output_grads)

    def loss_fn(p):
        return mean_loss(model.apply(p, inputs))

    return CurvatureInputs(loss, grads, layer_stats, loss_fn, curvature_gram)


def output_gram(outputs: jax.Array, tangents: jax.Array, likelihood: str) -> jax.Array:
    """``[k, k]`` ``[u_iᵀ H u_j]`` averaged over positions, ``H`` the NLL's Hessian in outputs.

    ``outputs`` ``[..., K]``; ``tangents`` ``[k, ..., K]`` (``u_i = J v_i``). For the softmax
    cross-entropy ``H = diag(p) − p pᵀ``, for the unit Gaussian ``H = I``: both are canonical
    links, so the Gauss–Newton matrix ``Jᵀ H J`` equals the Fisher (Martens & Grosse 2015,
    arXiv 1503.05671, §7 computes the quadratic model with these exact products).
    """
    positions = max(1, outputs.size // outputs.shape[-1])
    u = tangents.astype(jnp.float32)
    if likelihood == "gaussian":
        flat = u.reshape(u.shape[0], -1)
        return flat @ flat.T / positions
    p = jax.nn.softmax(jax.lax.stop_gradient(outputs).astype(jnp.float32), axis=-1)
    flat_p = p.reshape(-1, p.shape[-1])
    flat_u = u.reshape(u.shape[0], -1, u.shape[-1])
    weighted = flat_u * flat_p[None]
    pu = jnp.sum(weighted, axis=-1)  # [k, positions]: pᵀu per position.
    gram = jnp.einsum("inc,jnc->ij", weighted, flat_u) - pu @ pu.T
    return gram / positions


def curvature_vector_product(
    model: nn.Module, params: Any, inputs: jax.Array, *, likelihood: str = "categorical"
) -> Callable[[Any], Any]:
    """``v -> C v``, the exact Fisher (= Gauss–Newton) of the mean NLL of ``model`` on ``inputs``.

    ``C = (1/N) Σ_n J_nᵀ H_n J_n`` (``H_n``: see :func:`output_gram`), by one ``jax.jvp`` and one
    ``jax.vjp`` through the model (Schraudolph 2002; Martens & Grosse 2015, arXiv 1503.05671, §7).
    """
    if likelihood not in LIKELIHOODS:
        raise ValueError(f"likelihood={likelihood!r}: must be one of {', '.join(LIKELIHOODS)}")

    def apply(p):
        return model.apply(p, inputs)

    outputs, pullback = jax.vjp(apply, params)
    positions = max(1, outputs.size // outputs.shape[-1])

    def product(v):
        u = jax.jvp(apply, (params,), (v,))[1].astype(jnp.float32)
        if likelihood == "gaussian":
            hu = u
        else:
            p = jax.nn.softmax(outputs.astype(jnp.float32), axis=-1)
            hu = p * u - p * jnp.sum(p * u, axis=-1, keepdims=True)
        return pullback((hu / positions).astype(outputs.dtype))[0]

    return product


def _layer_stats(params: Any, recorded: Any, output_grads: Any) -> Any:
    """``LayerStats`` per intercepted layer from its recorded inputs and output gradients."""
    flat_inputs = traverse_util.flatten_dict(recorded)
    flat_grads = traverse_util.flatten_dict(output_grads)
    stats = {}
    for path, recorded_inputs in flat_inputs.items():
        module = path[:-1]
        if len(recorded_inputs) != 1:
            raise ValueError(
                f"model: layer {'/'.join(module)} is called {len(recorded_inputs)} times per "
                "forward; Kronecker factors need one call per layer"
            )
        (layer_in,) = recorded_inputs
        e = flat_grads[module + (_OUTPUTS,)]
        stats[module] = LayerStats(
            layer_in.reshape(-1, layer_in.shape[-1]), e.reshape(-1, e.shape[-1])
        )
    # A bare nn.Dense model is the root module: its path is empty.
    layer_stats = stats[()] if () in stats else traverse_util.unflatten_dict(stats)
    if "params" in params:  # Mirror the variables dict the optimizer sees.
        layer_stats = {"params": layer_stats}
    return layer_stats


def sampled_layer_stats(
    model: nn.Module,
    params: Any,
    inputs: Any,
    sampled_loss: Callable[[Any, jax.Array], jax.Array],
    key: jax.Array,
) -> Any:
    """The ``layer_stats`` extra arg of any model, from a loss at targets sampled from it.

    ``sampled_loss(outputs, key) -> []`` is the sum over examples of ``-log p(y_n | x_n)`` at
    ``y_n`` drawn (under ``stop_gradient``) from the model's own predictive distribution, so
    the Kronecker factors estimate the true Fisher (Martens & Grosse 2015, arXiv 1503.05671).
    Outputs may be any pytree, e.g. an actor-critic's ``(policy distribution, value)``: ACKTR
    (Wu et al. 2017, arXiv 1708.05144) samples an action from the policy and a Gaussian target
    around the value.
    """

    def forward(perturbations):
        with nn.intercept_methods(_record_layer):
            outputs, recorded = model.apply(
                {**params, "perturbations": perturbations}, inputs, mutable=[_INPUTS]
            )
        return sampled_loss(outputs, key), recorded[_INPUTS]

    def shapes():
        with nn.intercept_methods(_record_layer):
            return model.apply(params, inputs, mutable=["perturbations"])[1]["perturbations"]

    perturbations = jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), jax.eval_shape(shapes))
    output_grads, recorded = jax.grad(forward, has_aux=True)(perturbations)
    return _layer_stats(params, recorded, output_grads)

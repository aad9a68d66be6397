"""Training, sampling and evaluation of plain, softly constrained, PIDM and DPS denoisers.

The comparison of "Softly Constrained Denoisers for Diffusion Models" (Yeom-Song et al., arXiv
2512.14980): every method is an EDM denoiser (Karras et al., arXiv 2206.00364) trained with the EDM
loss and sampled with the deterministic Heun sampler; they differ only in where the constraint
enters:

* ``plain``: nowhere (the reference);
* ``soft``: inside the denoiser (:class:`SoftConstrainedDenoiser`), trained with the plain loss;
* ``pidm``: in the training loss (PIDM-style residual penalty, arXiv 2403.14404);
* ``dps``: in the sampler (DPS-style guidance of the plain denoiser, arXiv 2209.14687).

A sweep over constraints is one constraint family ``theta -> residual_fn`` and a per-member
setting ``theta``, so the models of all constraints train, compile and sample together (vmapped).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxml.diffusion._constraints import ResidualFn, mean_abs_residual
from jaxml.diffusion._denoisers import (
    DPS_WEIGHTINGS,
    GAMMA_MODES,
    EDMDenoiser,
    SoftConstrainedDenoiser,
    apply_fn,
    dps_guided,
    regularised_denoising_loss,
)
from jaxml.diffusion._edm import SIGMA_DATA, DenoiseFn, denoising_loss, heun_sample
from jaxml.diffusion._metrics import (
    mean_pairwise_distance,
    sliced_wasserstein_1,
    wasserstein_1_exact,
)
from jaxml.utils import checks
from jaxml.utils.supervised import supervised_trainer
from jaxml.utils.trainer import Trainer

METHODS = ("plain", "soft", "pidm", "dps")
# theta [P] -> residual of one sample: one member of a family of constraints.
ResidualFamily = Callable[[jax.Array], ResidualFn]
# theta [P] -> the denoiser module of the member with that constraint.
ModelFn = Callable[[jax.Array], nn.Module]
# The noise levels at which the soft denoiser's gamma(sigma) is reported after training.
GAMMA_PROBES = (0.01, 0.1, 1.0, 10.0)


class DPSGuidance(NamedTuple):
    """DPS-style sampling guidance (arXiv 2209.14687) of a member with constraint theta."""

    family: ResidualFamily  # theta [P] -> the residual that guides the member's sampler.
    scale: float  # Guidance scale (see dps_guided).
    weighting: str = "sigma_squared"  # One of DPS_WEIGHTINGS.


def make_denoiser(
    method: str,
    net: nn.Module,
    residual_fn: ResidualFn | None = None,
    *,
    sigma_data: float = SIGMA_DATA,
    gamma_mode: str = "learned",
    gamma_init: float = 0.5,
    gamma_max: float = 1.0,
    stop_gradient: bool = False,
) -> nn.Module:
    """The denoiser a method trains: SCD (arXiv 2512.14980) for ``soft``, else plain EDM.

    ``pidm`` and ``dps`` use the plain EDM denoiser (arXiv 2206.00364): PIDM changes only the
    loss, DPS only the sampler. ``residual_fn`` and the ``gamma_*``/``stop_gradient`` options
    (see :class:`SoftConstrainedDenoiser`) are used by ``soft`` only.
    """
    checks.choice(method, "method", METHODS)
    if method != "soft":
        return EDMDenoiser(net, sigma_data)
    checks.choice(gamma_mode, "gamma_mode", GAMMA_MODES)
    if residual_fn is None:
        raise ValueError("residual_fn: expected a constraint for method 'soft', got None")
    return SoftConstrainedDenoiser(
        net, residual_fn, gamma_mode, gamma_init, gamma_max, stop_gradient, sigma_data
    )


def method_loss(
    method: str,
    denoise_fn: DenoiseFn,
    residual_fn: ResidualFn,
    key: jax.Array,
    x0: jax.Array,
    *,
    sigma_data: float = SIGMA_DATA,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    pidm_weight: float = 1.0,
    pidm_sigma_weighting: str = "edm",
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """A method's training loss on a batch ``x0 [B, ...]``: ``(loss, aux metrics)``.

    The EDM loss (arXiv 2206.00364) for ``plain``, ``soft`` (SCD trains with the unchanged loss,
    arXiv 2512.14980) and ``dps`` (a plain denoiser); ``pidm`` adds the residual penalty of
    :func:`regularised_denoising_loss` and reports ``denoise_loss`` and ``penalty``.
    """
    checks.choice(method, "method", METHODS)
    if method == "pidm":
        loss, aux = regularised_denoising_loss(
            denoise_fn,
            residual_fn,
            pidm_weight,
            key,
            x0,
            sigma_data,
            p_mean,
            p_std,
            pidm_sigma_weighting,
        )
        return loss, {"denoise_loss": aux["denoise_loss"], "penalty": aux["residual_penalty"]}
    loss, _ = denoising_loss(denoise_fn, key, x0, sigma_data, p_mean, p_std)
    return loss, {}


def gamma_profile(
    model: nn.Module, params: Any, sigmas: Sequence[float] = GAMMA_PROBES
) -> dict[str, jax.Array]:
    """``{"gamma_sigma_<s>": gamma(s)}`` of a soft denoiser (SCD, arXiv 2512.14980)."""
    gamma = model.apply(params, jnp.asarray(sigmas), method="gamma_value")
    return {f"gamma_sigma_{s:g}": g for s, g in zip(sigmas, gamma, strict=True)}


def denoiser_trainer(
    method: str,
    model_fn: ModelFn,
    residual_family: ResidualFamily,
    x_train: jax.Array,
    *,
    optimizer: optax.GradientTransformation,
    num_steps: int,
    batch_size: int,
    sigma_data: float = SIGMA_DATA,
    p_mean: float = -1.2,
    p_std: float = 1.2,
    pidm_weight: float = 1.0,
    pidm_sigma_weighting: str = "edm",
) -> Trainer:
    """The supervised trainer of one method's denoiser; the member setting is the constraint theta.

    Batches are ``batch_size`` training samples drawn with replacement; the loss is
    :func:`method_loss`. A ``soft`` trainer evaluates :func:`gamma_profile` (SCD, arXiv
    2512.14980). Run it with ``run_trainer(trainer, workdir, settings=thetas [C, P], ...)``.

    Args:
      model_fn: ``theta -> denoiser`` (e.g. :func:`make_denoiser` of this method).
      residual_family: ``theta -> residual_fn`` of one sample.
      x_train: ``[N, ...]`` normalised training data.
    """
    checks.choice(method, "method", METHODS)

    def init_params(key, theta):
        return model_fn(theta).init(key, x_train[:2], jnp.ones((2,)))

    def sample_batch(key, theta):
        return x_train[jax.random.randint(key, (batch_size,), 0, x_train.shape[0])]

    def loss_fn(params, x0, key, theta):
        denoise = apply_fn(model_fn(theta), params)
        return method_loss(
            method,
            denoise,
            residual_family(theta),
            key,
            x0,
            sigma_data=sigma_data,
            p_mean=p_mean,
            p_std=p_std,
            pidm_weight=pidm_weight,
            pidm_sigma_weighting=pidm_sigma_weighting,
        )

    def evaluate(params, theta):
        return gamma_profile(model_fn(theta), params)

    return supervised_trainer(
        init_params=init_params,
        sample_batch=sample_batch,
        loss_fn=loss_fn,
        optimizer=optimizer,
        num_steps=num_steps,
        evaluate=evaluate if method == "soft" else None,
    )


def heun_sample_models(
    model_fn: ModelFn,
    params: Any,
    thetas: jax.Array,
    keys: jax.Array,
    shape: tuple[int, ...],
    sigmas: jax.Array,
    dps: DPSGuidance | None = None,
) -> jax.Array:
    """``[M, *shape]`` Heun samples (EDM Algorithm 1, arXiv 2206.00364) of M models at once.

    Member ``m`` is ``model_fn(thetas[m])`` with parameters ``params[m]``, sampled from
    ``keys[m]``; with ``dps`` its denoiser is DPS-guided (arXiv 2209.14687) by the constraint
    ``dps.family(thetas[m])`` (see :func:`dps_guided`).

    Args:
      params: parameter pytree whose leaves lead with the member axis ``[M, ...]``.
      thetas: ``[M, P]`` constraint parameters.
      keys: ``[M, 2]`` PRNG keys.
      shape: ``(B, ...)`` samples per member.
      sigmas: decreasing noise levels ending in 0 (:func:`karras_sigmas`).
      dps: optional guidance of every member's sampler.
    """
    if dps is not None:
        checks.choice(dps.weighting, "dps.weighting", DPS_WEIGHTINGS)

    def one(p, theta, key):
        denoise = apply_fn(model_fn(theta), p)
        if dps is not None:
            denoise = dps_guided(denoise, dps.family(theta), dps.scale, dps.weighting)
        # sigmas stays a closed-over constant of the compiled sampler.
        return heun_sample(denoise, key, shape, sigmas)

    return jax.jit(jax.vmap(one))(params, thetas, keys)


def sample_metrics(
    key: jax.Array,
    x: jax.Array,
    x_test: jax.Array,
    true_residual_fn: ResidualFn,
    given_residual_fn: ResidualFn | None = None,
) -> dict[str, Any]:
    """One model's metrics row, as compared in arXiv 2512.14980.

    ``finite`` (all samples finite; non-finite entries count as 0 below), ``w1`` (exact W1 to the
    held-out data), ``sliced_w1`` (from ``key``), ``residual_true`` (mean |c| of the constraint the
    data satisfy), ``diversity`` (mean pairwise distance) and, with ``given_residual_fn``,
    ``residual_given`` (mean |c| of the constraint the method was given). Runs eagerly on host.

    Args:
      x: ``[N, ...]`` samples; ``x_test``: ``[N, ...]`` held-out data.
    """
    finite = bool(jnp.all(jnp.isfinite(x)))
    x = jnp.where(jnp.isfinite(x), x, 0.0)
    row = {
        "finite": finite,
        "w1": wasserstein_1_exact(np.asarray(x), np.asarray(x_test)),
        "sliced_w1": float(sliced_wasserstein_1(key, x, x_test)),
        "residual_true": float(mean_abs_residual(true_residual_fn, x)),
        "diversity": float(mean_pairwise_distance(x)),
    }
    if given_residual_fn is not None:
        row["residual_given"] = float(mean_abs_residual(given_residual_fn, x))
    return row


def reference_metrics(
    x_fresh: jax.Array, x_test: jax.Array, true_residual_fn: ResidualFn
) -> dict[str, float]:
    """What the data themselves score on :func:`sample_metrics`' scale (arXiv 2512.14980).

    ``w1_data_vs_data`` (exact W1 between two data sets of the same size: the floor any model can
    reach), ``residual_true_data`` and ``diversity_data`` of ``x_test``.

    Args:
      x_fresh: ``[N, ...]`` data not in ``x_test``; ``x_test``: ``[N, ...]`` held-out data.
    """
    return {
        "residual_true_data": float(mean_abs_residual(true_residual_fn, x_test)),
        "diversity_data": float(mean_pairwise_distance(x_test)),
        "w1_data_vs_data": wasserstein_1_exact(np.asarray(x_fresh), np.asarray(x_test)),
    }

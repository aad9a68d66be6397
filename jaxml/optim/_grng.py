"""GRNG's frequentist variants, RING and RENG, as optax transforms.

Dash, Abdi, Pan, Kaski, Sun. "Gradient Regularized Natural Gradients", AISTATS 2026 (arXiv
2601.18420). Both regularize the gradient norm, ``ℓ + (ρ/2)‖∇ℓ‖²``, and precondition with
Kronecker-factored Fisher blocks inverted by warm-started Newton–Schulz iterations.

Inferred choices (the paper's algorithm boxes were not available; see shared/papers/grng.md):
RING takes the quadratic model's curvature ``F + ρ‖ḡ‖² I`` and applies it as factored Tikhonov
damping ``λ + ρ‖ḡ‖²``; RENG computes ``H g`` by forward-over-reverse differentiation of the batch
loss; both keep a base damping λ, factor EMA decay 0.95 and inverse refresh period as arguments.
"""

from __future__ import annotations

import optax

from jaxml.optim._adaptive import QuadraticModelOptions, step_rule
from jaxml.optim._kronecker import scale_by_kronecker_natural_gradient
from jaxml.optim._rank1 import _value


def _gradient_norm_damping(rho: optax.ScalarOrSchedule):
    """``(grads, count) -> ρ‖ḡ‖²``: RING's curvature term, for the adaptive step's 2-D model."""

    def damping(grads, count):
        return _value(rho, count) * optax.tree.norm(grads, squared=True)

    return damping


# The factories repeat the core's arguments on purpose: optax.inject_hyperparams binds them by
# signature, and forwarding **kwargs breaks it (the conformance test checks this).


def scale_by_ring(
    rho: optax.ScalarOrSchedule = 0.05,
    damping: optax.ScalarOrSchedule = 1e-3,
    factor_decay: float = 0.95,
    inverse_update_every: int = 1,
    newton_schulz_iters: int = 30,
    newton_schulz_tol: float | None = 1e-2,
    kl_clip: float | None = None,
) -> optax.GradientTransformationExtraArgs:
    """RING: K-FAC whose damping grows with the gradient norm, ``λ_t = λ + ρ‖ḡ_t‖²``.

    One backward pass, no Hessian-vector product. Extra arg: ``layer_stats``. ρ = 0 is K-FAC.
    """
    return scale_by_kronecker_natural_gradient(
        damping=damping,
        implicit_rho=rho,
        factor_decay=factor_decay,
        inverse_update_every=inverse_update_every,
        newton_schulz_iters=newton_schulz_iters,
        newton_schulz_tol=newton_schulz_tol,
        kl_clip=kl_clip,
    )


def scale_by_reng(
    rho: optax.ScalarOrSchedule = 0.05,
    damping: optax.ScalarOrSchedule = 1e-3,
    factor_decay: float = 0.95,
    inverse_update_every: int = 1,
    newton_schulz_iters: int = 30,
    newton_schulz_tol: float | None = 1e-2,
    kl_clip: float | None = None,
) -> optax.GradientTransformationExtraArgs:
    """RENG: K-FAC applied to the gradient-regularized gradient ``g + ρ H g``.

    ``H g`` is the gradient of ``½‖∇ℓ‖²`` (double backprop, about one more backward pass).
    Extra args: ``layer_stats`` and ``loss_fn`` (params -> mean batch loss). ρ = 0 is K-FAC.
    """
    return scale_by_kronecker_natural_gradient(
        damping=damping,
        explicit_rho=rho,
        factor_decay=factor_decay,
        inverse_update_every=inverse_update_every,
        newton_schulz_iters=newton_schulz_iters,
        newton_schulz_tol=newton_schulz_tol,
        kl_clip=kl_clip,
    )


def ring(
    learning_rate: optax.ScalarOrSchedule,
    rho: optax.ScalarOrSchedule = 0.05,
    damping: optax.ScalarOrSchedule = 1e-3,
    factor_decay: float = 0.95,
    inverse_update_every: int = 1,
    newton_schulz_iters: int = 30,
    newton_schulz_tol: float | None = 1e-2,
    kl_clip: float | None = None,
    adaptive: bool | QuadraticModelOptions = False,
    momentum: optax.ScalarOrSchedule | None = None,
    damping_adaptation_every: int = 5,
    damping_decay: float | None = None,
    min_damping: float = 1e-8,
    max_damping: float = 1e4,
    min_preconditioner_damping: float = 0.0,
    model_damping: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """RING (arXiv 2601.18420): ``chain(scale_by_ring(...), scale_by_learning_rate(lr))``.

    ``adaptive=True``: the quadratic-model step of :func:`jaxml.optim.kfac` around the same
    preconditioner (the Levenberg–Marquardt λ replaces the base damping). RING's ``ρ‖ḡ‖²`` is
    added to λ both in the Kronecker factors and in the 2-D model, whose curvature is then
    RING's ``C + ρ‖ḡ‖² I`` (``model_damping`` False: λ alone, as before): without it the model,
    damped by a λ that falls to ``min_damping``, took huge momentum steps on high-gradient
    batches and diverged (docs/kfac_adaptive.md).
    """
    return step_rule(
        lambda damping: scale_by_ring(
            rho,
            damping,
            factor_decay,
            inverse_update_every,
            newton_schulz_iters,
            newton_schulz_tol,
            kl_clip,
        ),
        learning_rate,
        damping,
        adaptive,
        momentum,
        damping_adaptation_every,
        damping_decay,
        min_damping,
        max_damping,
        min_preconditioner_damping,
        model_damping_fn=_gradient_norm_damping(rho) if model_damping else None,
    )


def reng(
    learning_rate: optax.ScalarOrSchedule,
    rho: optax.ScalarOrSchedule = 0.05,
    damping: optax.ScalarOrSchedule = 1e-3,
    factor_decay: float = 0.95,
    inverse_update_every: int = 1,
    newton_schulz_iters: int = 30,
    newton_schulz_tol: float | None = 1e-2,
    kl_clip: float | None = None,
    adaptive: bool | QuadraticModelOptions = False,
    momentum: optax.ScalarOrSchedule | None = None,
    damping_adaptation_every: int = 5,
    damping_decay: float | None = None,
    min_damping: float = 1e-8,
    max_damping: float = 1e4,
    min_preconditioner_damping: float = 0.0,
    model_damping: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """RENG (arXiv 2601.18420): ``chain(scale_by_reng(...), scale_by_learning_rate(lr))``.

    ``adaptive=True``: the quadratic-model step of :func:`jaxml.optim.kfac` around the same
    preconditioner (the Levenberg–Marquardt λ replaces the base damping). With
    ``model_damping`` (default) its 2-D model's curvature is RING's ``C + ρ‖ḡ‖² I``: both
    regularize the same ``ℓ + (ρ/2)‖∇ℓ‖²``, and RING's term stands in for the regularizer's
    curvature, which the model would otherwise lack (and took huge momentum steps without).
    """
    return step_rule(
        lambda damping: scale_by_reng(
            rho,
            damping,
            factor_decay,
            inverse_update_every,
            newton_schulz_iters,
            newton_schulz_tol,
            kl_clip,
        ),
        learning_rate,
        damping,
        adaptive,
        momentum,
        damping_adaptation_every,
        damping_decay,
        min_damping,
        max_damping,
        min_preconditioner_damping,
        model_damping_fn=_gradient_norm_damping(rho) if model_damping else None,
    )

"""K-FAC as an optax transform (Martens & Grosse 2015, arXiv 1503.05671), the GRNG baseline."""

from __future__ import annotations

import optax

from jaxml.optim._adaptive import QuadraticModelOptions, step_rule
from jaxml.optim._kronecker import scale_by_kronecker_natural_gradient


def scale_by_kfac(
    damping: optax.ScalarOrSchedule = 1e-3,
    factor_decay: float = 0.95,
    inverse_update_every: int = 1,
    newton_schulz_iters: int = 30,
    newton_schulz_tol: float | None = 1e-2,
    kl_clip: float | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Preconditions dense-layer gradients by damped Kronecker-factored Fisher inverses.

    Needs the extra arg ``layer_stats`` (``jaxml.optim.loss_grads_and_stats`` computes it); see
    :func:`jaxml.optim.scale_by_kronecker_natural_gradient` for the arguments.
    """
    return scale_by_kronecker_natural_gradient(
        damping=damping,
        factor_decay=factor_decay,
        inverse_update_every=inverse_update_every,
        newton_schulz_iters=newton_schulz_iters,
        newton_schulz_tol=newton_schulz_tol,
        kl_clip=kl_clip,
    )


def kfac(
    learning_rate: optax.ScalarOrSchedule,
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
) -> optax.GradientTransformationExtraArgs:
    """K-FAC: ``chain(scale_by_kfac(...), scale_by_learning_rate(learning_rate))``.

    With ``adaptive=True``, Martens & Grosse's full step instead (§6.3, §6.5, §7): learning rate
    and momentum from the 2-D quadratic model, ``damping`` the initial Levenberg–Marquardt λ,
    ``learning_rate`` a multiplier of that step (1.0: the paper's); see
    :func:`jaxml.optim.scale_by_quadratic_model` for the other arguments and the extra args
    (``curvature_gram``, ``loss_fn``, ``value``) it then needs. ``adaptive`` may also be a
    :class:`jaxml.optim.QuadraticModelOptions`: the keyword settings above and the guard's
    (``reject_steps``, ``loss_check_every``) in one object; the keywords then stay default.
    """
    return step_rule(
        lambda damping: scale_by_kfac(
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
    )

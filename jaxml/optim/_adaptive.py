"""Learning rate, momentum and damping chosen from the quadratic model, as an optax wrapper.

Martens & Grosse, "Optimizing Neural Networks with Kronecker-factored Approximate Curvature",
ICML 2015 (arXiv 1503.05671):

* §7: the update is ``δ = α Δ + μ δ₀`` (``Δ``: this step's preconditioned direction, ``−F̂⁻¹g``;
  ``δ₀``: the last update), with ``(α, μ)`` minimising the damped quadratic model
  ``M(δ) = ½ δᵀ(C + λI)δ + gᵀδ`` over that plane. ``C`` is the exact Fisher / Gauss–Newton
  matrix, used only through the products ``vᵢᵀ C vⱼ`` (Jacobian-vector products through the
  model: the extra arg ``curvature_gram``). The 2×2 system is

      [ΔᵀCΔ + λ‖Δ‖²     ΔᵀCδ₀ + λΔᵀδ₀ ] [α]     [gᵀΔ ]
      [ΔᵀCδ₀ + λΔᵀδ₀   δ₀ᵀCδ₀ + λ‖δ₀‖²] [μ] = − [gᵀδ₀].

* §6.5: Levenberg–Marquardt adaptation of λ every ``T`` steps from the reduction ratio
  ``ρ = (L(θ+δ) − L(θ)) / (M(δ) − M(0))`` on the same batch: ``λ ← ωλ`` when ``ρ > 3/4``,
  ``λ ← λ/ω`` when ``ρ < 1/4``, ``ω = (19/20)^T``. As in the paper (and kfac-jax's default)
  ``M`` in ``ρ`` leaves the damping out.

* A guard (not in §6–7; the trust-region practice of Levenberg–Marquardt and of Martens'
  Hessian-free optimisation, ICML 2010, §4.6 "backtracking"): a proposed step that is not finite
  (a nan/inf gradient, curvature, ``(α, μ)``, model change or update) or, where ρ was measured,
  did not lower the batch loss (``ρ < 0`` or nan) is rejected: the update is zero, ``δ₀`` is
  reset to zero, λ is raised by ``1/ω``, and a non-finite preconditioner state is not kept.

* §6.3: the preconditioner is rebuilt at every step with the same λ as its ``damping``; the
  Kronecker blocks split it between their two factors (factored Tikhonov damping:
  ``(A + π√λ I) ⊗ (G + √λ/π I)``, ``π² = (tr A / dim A) / (tr G / dim G)``).

A method may add its own curvature term to λ in the 2-D model (``model_damping_fn``): adaptive
RING and RENG add RING's ``ρ‖ḡ‖²``, without which λ's fall to ``min_damping`` let the model take
huge momentum steps on high-gradient batches (docs/kfac_adaptive.md).

The wrapper is optimizer-agnostic: any preconditioner whose ``update`` returns ``F̂⁻¹g`` (the
sign optax's ``scale_by_*`` blocks use) fits, ``optax.identity()`` included, which gives
the quadratic-model-tuned SGD with momentum. ``kfac``, ``ring`` and ``reng`` pass theirs as a
factory ``damping -> scale_by_*(damping, ...)``, whose state does not depend on the damping.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import optax

from jaxml.optim._rank1 import _value
from jaxml.utils import checks

# Thresholds on ρ of Martens & Grosse 2015, §6.5.
LOWER_RATIO = 0.25
UPPER_RATIO = 0.75


class ScaleByQuadraticModelState(NamedTuple):
    count: chex.Array  # [] int32: updates so far.
    damping: chex.Array  # [] float32: λ, the Levenberg–Marquardt damping.
    last_update: Any  # Like params: δ₀, the update returned last step (zeros at first).
    learning_rate: chex.Array  # [] float32: α of the last update (before any ``scale``).
    momentum: chex.Array  # [] float32: μ of the last update (before any ``scale``).
    reduction_ratio: chex.Array  # [] float32: ρ at the last damping adaptation (nan before).
    inner_state: optax.OptState  # The preconditioner's state.
    rejected: chex.Array  # [] int32: proposed steps rejected by the guard so far.


def quadratic_model_coefficients(
    gram: jax.Array,
    overlap: jax.Array,
    grad_dots: jax.Array,
    damping: jax.Array,
    momentum: jax.Array | float | None = None,
) -> jax.Array:
    """``[α, μ]`` minimising ``½ xᵀ(K + λO)x + bᵀx`` (Martens & Grosse 2015, §7).

    Args:
      gram: ``[2, 2]`` ``K = [vᵢᵀ C vⱼ]`` for ``(v₀, v₁) = (Δ, δ₀)``.
      overlap: ``[2, 2]`` ``O = [vᵢᵀ vⱼ]``.
      grad_dots: ``[2]`` ``b = [gᵀΔ, gᵀδ₀]``.
      damping: ``[]`` λ.
      momentum: None: μ is solved for too; a number: μ is that, and only α is solved for.

    ``δ₀ = 0`` (the first step) or ``Δ ∥ δ₀`` make the system singular; then the 1-D solution
    ``α = −b₀ / Q₀₀``, ``μ = 0`` is returned.
    """
    chex.assert_shape((gram, overlap), (2, 2))
    chex.assert_shape(grad_dots, (2,))
    q = (gram + damping * overlap).astype(jnp.float32)
    b = grad_dots.astype(jnp.float32)
    tiny = jnp.finfo(jnp.float32).tiny
    if momentum is not None:
        mu = jnp.asarray(momentum, jnp.float32)
        alpha = -(b[0] + mu * q[0, 1]) / jnp.maximum(q[0, 0], tiny)
        return jnp.stack([alpha, mu])
    det = q[0, 0] * q[1, 1] - q[0, 1] ** 2
    # Relative test: det / (q00 q11) = 1 − cos² of the angle between Δ and δ₀ in the Q metric.
    solvable = det > 1e-6 * q[0, 0] * q[1, 1]
    safe_det = jnp.where(solvable, det, 1.0)
    alpha_2d = (-b[0] * q[1, 1] + b[1] * q[0, 1]) / safe_det
    mu_2d = (-b[1] * q[0, 0] + b[0] * q[0, 1]) / safe_det
    alpha_1d = -b[0] / jnp.maximum(q[0, 0], tiny)
    return jnp.stack([jnp.where(solvable, alpha_2d, alpha_1d), jnp.where(solvable, mu_2d, 0.0)])


def quadratic_model_change(
    coefficients: jax.Array, gram: jax.Array, grad_dots: jax.Array
) -> jax.Array:
    """``M(δ) − M(0) = ½ xᵀ K x + bᵀ x`` for ``δ = x₀Δ + x₁δ₀`` (pass ``K + λO`` to damp it)."""
    x = coefficients.astype(jnp.float32)
    return 0.5 * x @ gram.astype(jnp.float32) @ x + grad_dots.astype(jnp.float32) @ x


def reduction_ratio(new_loss: jax.Array, loss: jax.Array, model_change: jax.Array) -> jax.Array:
    """``ρ = (L(θ+δ) − L(θ)) / (M(δ) − M(0))`` (Martens & Grosse 2015, §6.5).

    A model change that is not negative (no predicted decrease) gives ρ = −inf when the loss
    went up and +inf when it went down, so the damping still moves the right way.
    """
    actual = jnp.asarray(new_loss - loss, jnp.float32)
    predicted = jnp.asarray(model_change, jnp.float32)
    safe = jnp.where(predicted < 0, predicted, -1.0)
    fallback = jnp.where(actual > 0, -jnp.inf, jnp.inf)
    return jnp.where(predicted < 0, actual / safe, fallback)


def levenberg_marquardt_damping(
    damping: jax.Array,
    ratio: jax.Array,
    decay: jax.Array | float,
    min_damping: jax.Array | float = 1e-8,
    max_damping: jax.Array | float = 1e4,
) -> jax.Array:
    """``λ·ω`` when ``ρ > 3/4``, ``λ/ω`` when ``ρ < 1/4`` or ρ is nan, else λ; clipped.

    Martens & Grosse 2015, §6.5, with ``decay`` = ω (< 1; the paper's ``(19/20)^T``).
    """
    up = ~(ratio >= LOWER_RATIO)  # nan (a non-finite new loss) counts as a poor model.
    down = ratio > UPPER_RATIO
    new = jnp.where(up, damping / decay, jnp.where(down, damping * decay, damping))
    return jnp.clip(new, min_damping, max_damping).astype(jnp.float32)


def step_accepted(finite: jax.Array, ratio: jax.Array, measured: jax.Array) -> jax.Array:
    """``[]`` bool: the guard's verdict on a proposed step.

    Rejected when it is not ``finite`` (any of gradient, curvature, ``(α, μ)``, model change,
    update), or when ρ was ``measured`` on this step and is below 0 (the batch loss went up) or
    nan (the new loss is not finite). An unmeasured ρ passes: only the finiteness test applies.
    """
    ratio = jnp.asarray(ratio, jnp.float32)
    loss_went_up = ~(ratio >= 0.0)  # nan counts as up.
    return jnp.asarray(finite, bool) & ~(jnp.asarray(measured, bool) & loss_went_up)


def guarded_damping(
    accepted: jax.Array,
    damping: jax.Array,
    adapted: jax.Array,
    decay: jax.Array | float,
    min_damping: jax.Array | float = 1e-8,
    max_damping: jax.Array | float = 1e4,
) -> jax.Array:
    """λ after the guard: ``adapted`` (the Levenberg–Marquardt λ) if accepted, else ``λ/ω``.

    A rejected step always raises λ, also between adaptation steps and when λ's own rule would
    have kept it (a non-finite step with a fine ρ cannot happen; one with no ρ can). Clipped.
    """
    raised = jnp.clip(damping / decay, min_damping, max_damping).astype(jnp.float32)
    return jnp.where(accepted, adapted, raised).astype(jnp.float32)


def _all_finite(tree: Any) -> jax.Array:
    """``[]`` bool: every float leaf of ``tree`` is finite (integer leaves are)."""
    checks = [
        jnp.all(jnp.isfinite(leaf))
        for leaf in jax.tree.leaves(tree)
        if jnp.issubdtype(jnp.asarray(leaf).dtype, jnp.inexact)
    ]
    return jnp.all(jnp.stack(checks)) if checks else jnp.asarray(True)


def scale_by_quadratic_model(
    preconditioner: optax.GradientTransformation
    | Callable[[jax.Array], optax.GradientTransformation],
    initial_damping: float = 1e-3,
    momentum: optax.ScalarOrSchedule | None = None,
    scale: optax.ScalarOrSchedule = 1.0,
    adapt_damping: bool = True,
    damping_adaptation_every: int = 5,
    damping_decay: float | None = None,
    min_damping: float = 1e-8,
    max_damping: float = 1e4,
    min_preconditioner_damping: float = 0.0,
    reject_steps: bool = True,
    loss_check_every: int | None = None,
    model_damping_fn: Callable[[Any, jax.Array], jax.Array] | None = None,
) -> optax.GradientTransformationExtraArgs:
    """Wraps a preconditioner: its direction, scaled and mixed with the last update by §7.

    Martens & Grosse 2015 (arXiv 1503.05671), §6.3, §6.5 and §7; see the module docstring.
    The returned updates are the parameter increments themselves (the sign ``apply_updates``
    adds): do not chain ``scale_by_learning_rate`` after it.

    Args:
      preconditioner: ``update(g) -> F̂⁻¹g`` (it gets every extra arg), or a factory
        ``damping -> `` such a transformation, called with the current λ at every step (its
        state must not depend on the damping, as the Kronecker blocks' does not).
      initial_damping: λ at step 0; with ``adapt_damping`` False, λ for good.
      momentum: None: μ from the 2-D model; a number or schedule: that μ, α alone solved for.
      scale: multiplies the model's step ``α Δ + μ δ₀`` (1: the paper's; < 1 is more careful).
        The scaled step is what the next update's ``δ₀`` is.
      adapt_damping: the Levenberg–Marquardt rule of §6.5 (needs the extra arg ``loss_fn``).
      damping_adaptation_every: T, in steps; λ changes after steps T−1, 2T−1, ...
      damping_decay: ω; None: ``(19/20)^T`` (§6.5).
      min_damping, max_damping: λ is clipped to this range.
      min_preconditioner_damping: the preconditioner gets ``max(λ, this)``, the 2-D model λ
        itself: the preconditioner's own damping γ, kept apart from λ as in §6.6 (there chosen
        by a search; here a floor). A floor keeps the Kronecker factors well conditioned, so
        their warm-started Newton–Schulz inverses need few iterations when λ becomes tiny
        (on digits: cheaper refreshes, worse final loss; see docs/kfac_adaptive.md).

    Extra args of ``update``: ``curvature_gram`` (required: ``(v₁, ..., v_k) -> [k, k]``
    ``[vᵢᵀ C vⱼ]``, from ``jaxml.optim.loss_grads_and_stats``), ``loss_fn`` (params -> mean
    loss of the batch ``g`` is from; required with ``adapt_damping``), ``value`` (optional
    ``[]``: that loss at ``params``, saves a forward pass), and the preconditioner's own.
    """

    def preconditioner_at(damping):
        # A GradientTransformation is a NamedTuple, hence not callable: a factory is.
        tx = preconditioner(damping) if callable(preconditioner) else preconditioner
        return optax.with_extra_args_support(tx)

    if isinstance(loss_check_every, int | float):  # Not when inject_hyperparams traced it.
        checks.positive_int(loss_check_every, "loss_check_every")
    decay = (19.0 / 20.0) ** damping_adaptation_every if damping_decay is None else damping_decay

    def init_fn(params):
        return ScaleByQuadraticModelState(
            count=jnp.zeros([], jnp.int32),
            damping=jnp.asarray(initial_damping, jnp.float32),
            last_update=optax.tree.zeros_like(params),
            learning_rate=jnp.zeros([], jnp.float32),
            momentum=jnp.zeros([], jnp.float32),
            reduction_ratio=jnp.full([], jnp.nan, jnp.float32),
            inner_state=preconditioner_at(
                jnp.maximum(jnp.asarray(initial_damping, jnp.float32), min_preconditioner_damping)
            ).init(params),
            rejected=jnp.zeros([], jnp.int32),
        )

    def update_fn(
        updates, state, params=None, *, curvature_gram=None, loss_fn=None, value=None, **extra
    ):
        if curvature_gram is None:
            raise ValueError(
                "curvature_gram: the quadratic-model step needs the extra arg curvature_gram "
                "(exact curvature Gram matrix of directions); jaxml.optim.loss_grads_and_stats "
                "returns it"
            )
        if (adapt_damping or (reject_steps and loss_check_every is not None)) and (
            loss_fn is None or params is None
        ):
            raise ValueError(
                "loss_fn: Levenberg–Marquardt damping and the guard's loss check need params "
                "and the extra arg loss_fn (params -> mean loss of this batch)"
            )
        count = state.count
        lam = state.damping
        grads = updates
        gamma = jnp.maximum(lam, min_preconditioner_damping)
        preconditioned, inner_state = preconditioner_at(gamma).update(
            grads, state.inner_state, params, loss_fn=loss_fn, **extra
        )
        direction = jax.tree.map(jnp.negative, preconditioned)  # Δ = −F̂⁻¹g.
        last = state.last_update
        vectors = (direction, last)
        gram = curvature_gram(vectors).astype(jnp.float32)
        chex.assert_shape(gram, (2, 2))
        dots = [[optax.tree.vdot(u, v).astype(jnp.float32) for v in vectors] for u in vectors]
        overlap = jnp.array(dots)
        grad_dots = jnp.stack([optax.tree.vdot(grads, v).astype(jnp.float32) for v in vectors])
        mu = None if momentum is None else _value(momentum, count)
        model_lam = lam
        if model_damping_fn is not None:
            model_lam = lam + jnp.asarray(model_damping_fn(grads, count), jnp.float32)
        coefficients = quadratic_model_coefficients(gram, overlap, grad_dots, model_lam, mu)
        x = jnp.asarray(_value(scale, count), jnp.float32) * coefficients
        new_update = jax.tree.map(
            lambda d, v: (x[0] * d + x[1] * v).astype(v.dtype), direction, last
        )

        change = quadratic_model_change(x, gram, grad_dots)
        # ρ is measured where λ adapts, and where the guard checks the loss (loss_check_every).
        adapt = jnp.asarray(adapt_damping) & ((count + 1) % damping_adaptation_every == 0)
        check = reject_steps and loss_check_every is not None
        measure = adapt | (
            jnp.asarray(check)
            & ((count + 1) % (1 if loss_check_every is None else loss_check_every) == 0)
        )
        if adapt_damping or check:

            def measured_ratio(_):
                # One more forward pass, on measuring steps only (a cond, not a select: under
                # vmap both branches would run, as they would anyway for a batched predicate).
                loss = loss_fn(params) if value is None else value
                new_loss = loss_fn(optax.apply_updates(params, new_update))
                return reduction_ratio(new_loss, loss, change)

            measured = jax.lax.cond(
                measure, measured_ratio, lambda _: jnp.full([], jnp.nan, jnp.float32), None
            )
        else:
            measured = jnp.full([], jnp.nan, jnp.float32)
        ratio = jnp.where(adapt, measured, state.reduction_ratio)
        new_lam = jnp.where(
            adapt, levenberg_marquardt_damping(lam, measured, decay, min_damping, max_damping), lam
        )

        rejected = state.rejected
        if reject_steps:
            inner_finite = _all_finite(inner_state)
            finite = (
                jnp.all(jnp.isfinite(coefficients))
                & jnp.isfinite(change)
                & jnp.isfinite(optax.tree.vdot(new_update, new_update))
                & inner_finite
            )
            accepted = step_accepted(finite, measured, measure)
            new_lam = guarded_damping(accepted, lam, new_lam, decay, min_damping, max_damping)
            new_update = jax.tree.map(
                lambda u: jnp.where(accepted, u, jnp.zeros_like(u)), new_update
            )
            # A poisoned preconditioner state (non-finite statistics) would stay poisoned.
            inner_state = jax.tree.map(
                lambda new, old: jnp.where(inner_finite, new, old), inner_state, state.inner_state
            )
            rejected = rejected + (~accepted).astype(jnp.int32)
        new_state = ScaleByQuadraticModelState(
            count=optax.safe_increment(count),
            damping=new_lam,
            last_update=new_update,
            learning_rate=coefficients[0],
            momentum=coefficients[1],
            reduction_ratio=ratio,
            inner_state=inner_state,
            rejected=rejected,
        )
        return new_update, new_state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


@dataclasses.dataclass(frozen=True)
class QuadraticModelOptions:
    """The adaptive step's settings in one object: ``kfac(lr, adaptive=QuadraticModelOptions())``.

    Passing it as ``adaptive`` to :func:`jaxml.optim.kfac`, ``ring`` or ``reng`` turns the
    adaptive step on with these settings; ``adaptive=True`` with the separate keyword arguments
    (``momentum``, ``damping_adaptation_every``, ...) still works and means the same. The fields
    are :func:`scale_by_quadratic_model`'s (see there); ``reject_steps`` and
    ``loss_check_every`` are reachable from the aliases only through this object. Frozen and
    not a pytree, so ``optax.inject_hyperparams`` keeps it static.
    """

    momentum: optax.ScalarOrSchedule | None = None
    damping_adaptation_every: int = 5
    damping_decay: float | None = None
    min_damping: float = 1e-8
    max_damping: float = 1e4
    min_preconditioner_damping: float = 0.0
    reject_steps: bool = True
    loss_check_every: int | None = None

    def __post_init__(self):
        # Only Python numbers are checked: inject_hyperparams passes arrays (traced in update).
        def number(value):
            return isinstance(value, int | float) and not isinstance(value, bool)

        if not isinstance(self.damping_adaptation_every, jax.Array):
            checks.positive_int(self.damping_adaptation_every, "damping_adaptation_every")
        if self.loss_check_every is not None:
            checks.positive_int(self.loss_check_every, "loss_check_every")
        if number(self.min_damping) and number(self.max_damping):
            checks.expect(
                0.0 <= self.min_damping <= self.max_damping,
                "min_damping, max_damping",
                "0 <= min_damping <= max_damping",
                (self.min_damping, self.max_damping),
            )


# The keyword arguments of kfac/ring/reng that QuadraticModelOptions also holds.
_KEYWORDS = (
    "momentum",
    "damping_adaptation_every",
    "damping_decay",
    "min_damping",
    "max_damping",
    "min_preconditioner_damping",
)


def _is_default(value: Any, default: Any) -> bool:
    if default is None or value is None:
        return value is default
    if isinstance(value, bool) or not isinstance(value, int | float | jax.Array):
        return False
    try:
        # optax.inject_hyperparams passes every numeric argument, defaults included, as an
        # array: concrete in init (compared here), traced in update (already checked in init).
        return bool(value == default)
    except jax.errors.ConcretizationTypeError:
        return True


def step_rule(
    block: Callable[[optax.ScalarOrSchedule], optax.GradientTransformation],
    learning_rate: optax.ScalarOrSchedule,
    damping: optax.ScalarOrSchedule,
    adaptive: bool | QuadraticModelOptions,
    momentum: optax.ScalarOrSchedule | None,
    damping_adaptation_every: int,
    damping_decay: float | None,
    min_damping: float,
    max_damping: float,
    min_preconditioner_damping: float = 0.0,
    model_damping_fn: Callable[[Any, jax.Array], jax.Array] | None = None,
) -> optax.GradientTransformationExtraArgs:
    """The alias of a preconditioner ``block(damping)``: fixed learning rate, or the adaptive step.

    ``adaptive`` False: ``chain(block(damping), scale_by_learning_rate(learning_rate))``
    (``momentum`` and the damping-adaptation arguments are unused). True:
    :func:`scale_by_quadratic_model` around ``block`` with ``damping`` as the initial λ,
    ``learning_rate`` as its ``scale`` and the keyword arguments as its settings. A
    :class:`QuadraticModelOptions`: the same with its settings; the separate keyword arguments
    must then be left at their defaults (one place per setting). ``model_damping_fn``: see
    :func:`scale_by_quadratic_model` (the alias's own, not a user setting).
    """
    keywords = {
        "momentum": momentum,
        "damping_adaptation_every": damping_adaptation_every,
        "damping_decay": damping_decay,
        "min_damping": min_damping,
        "max_damping": max_damping,
        "min_preconditioner_damping": min_preconditioner_damping,
    }
    if isinstance(adaptive, QuadraticModelOptions):
        defaults = QuadraticModelOptions()
        clash = [k for k in _KEYWORDS if not _is_default(keywords[k], getattr(defaults, k))]
        if clash:
            raise ValueError(
                f"{', '.join(clash)}: expected the default with adaptive=QuadraticModelOptions"
                f"(...) (set it in the options), got {', '.join(repr(keywords[k]) for k in clash)}"
            )
        options = adaptive
    elif isinstance(adaptive, bool):
        if not adaptive:
            return optax.chain(block(damping), optax.scale_by_learning_rate(learning_rate))
        options = QuadraticModelOptions(**keywords)
    else:
        raise ValueError(f"adaptive: expected a bool or a QuadraticModelOptions, got {adaptive!r}")
    if callable(damping):
        raise ValueError(
            "damping: expected a number with adaptive=True (the initial Levenberg–Marquardt "
            f"damping), got {damping!r}"
        )
    return scale_by_quadratic_model(
        block,
        initial_damping=damping,
        scale=learning_rate,
        model_damping_fn=model_damping_fn,
        **dataclasses.asdict(options),
    )

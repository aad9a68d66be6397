"""Actor-critic networks for the policy-gradient trainers (PPO, A2C, and the ones built on them).

``ActorCritic`` maps a flat observation ``[..., obs_dim]`` to a distrax policy over actions with
batch shape ``[...]`` and a value ``[...]``. The actor and the critic are separate MLPs by default
(PureJaxRL's choice), or share one torso; hidden layers use orthogonal initialisation with gain
√2 and zero biases, the policy head gain 0.01 (a near-uniform initial policy) and the value head
gain 1, as in "What Matters in On-Policy RL" (Andrychowicz et al., arXiv 2006.05990).

Heads, chosen from an environment's ``action_spec`` by ``make_actor_critic``:

- ``DiscreteArray(n)``: ``distrax.Categorical`` over ``n`` logits; actions ``[...]`` int32.
- a float ``Array``/``BoundedArray`` of shape ``S``: a diagonal Gaussian
  (``distrax.MultivariateNormalDiag``) over ``d = prod(S)`` flat dimensions with a learned,
  state-independent log standard deviation; actions ``[..., d]``. The environment sees them
  reshaped to ``S`` and clipped to the bounds (``jaxml.rl.to_env_action``), while the
  log-probabilities stay those of the unclipped sample.
- the same with ``squash="tanh"`` (a ``BoundedArray`` with finite bounds): a ``TanhGaussian``,
  the Gaussian pushed through ``low + (high − low)·(tanh(u) + 1)/2``, so every action lies
  inside the bounds and its log-probability carries the change of variables (as in SAC, Haarnoja
  et al., arXiv 1801.01290, appendix C). ``TanhGaussian.raw()`` is the same policy over the
  pre-squash actions (``RawTanhGaussian``), whose log-probabilities stay exact where tanh
  saturates; the on-policy trainers' rollouts keep those (``jaxml.rl._collect.forward``).

Parameters live under ``params["params"]["actor"]`` (hidden layers, policy head, log-std) and
``params["params"]["critic"]`` (hidden layers, value head), plus ``["torso"]`` when shared, so an
actor and a critic can get different optimizers through ``optax.multi_transform`` labelled by
the top-level key (as natural-gradient actors with an Adam critic do).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import distrax
import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
from jumanji import specs

from jaxml.models._init import orthogonal

# "silu" is brax's swish (x·sigmoid(x)).
ACTIVATIONS = {"tanh": nn.tanh, "relu": nn.relu, "gelu": nn.gelu, "silu": nn.silu}
# Kernel initialisations: "orthogonal" (PureJaxRL's gains: √2 hidden, 0.01 policy head, 1 value
# head) or "lecun_uniform" (brax's PPO networks: every layer, heads included, no gain).
KERNEL_INITS = ("orthogonal", "lecun_uniform")
# Gaussian heads' standard deviation: "log_param" (a learned state-independent log-std, PureJaxRL)
# or "softplus" (the policy head outputs 2·d numbers, loc and a state-dependent raw scale,
# std = softplus(raw) + min_std: brax's NormalTanhDistribution).
STD_PARAMETRISATIONS = ("log_param", "softplus")
ACTION_KINDS = ("discrete", "continuous", "tanh_gaussian")
SQUASHES = ("clip", "tanh")
# Squashed actions are kept this far inside (−1, 1) before atanh: tanh(u) rounds to ±1 in
# float32 once |u| > 9, and atanh(±1) = ±inf would make the log-probability of a sampled action
# infinite when a later update re-evaluates it.
_TANH_EDGE = 1e-6
# Gauss–Hermite nodes of TanhGaussian.entropy: measured error against 4e6-sample Monte Carlo,
# 1e-4 nats per dimension at σ ≤ 1, 3e-3 at σ = 3 (16 nodes: 2e-2 at σ = 3).
ENTROPY_NODES = 32


class ScaledTanh(distrax.Bijector):
    """``y = low + (high − low)·(tanh(u) + 1)/2`` elementwise, with a stable log-Jacobian."""

    def __init__(self, low: jax.Array, high: jax.Array):
        super().__init__(event_ndims_in=0)
        self.low, self.high = jnp.asarray(low), jnp.asarray(high)
        self._log_half_range = jnp.log((self.high - self.low) / 2.0)

    @staticmethod
    def log_tanh_derivative(u: jax.Array) -> jax.Array:
        """``log(1 − tanh²u) = 2·(log 2 − u − softplus(−2u))``, exact for large ``|u|``."""
        return 2.0 * (jnp.log(2.0) - u - jax.nn.softplus(-2.0 * u))

    def forward_log_det_jacobian(self, u: jax.Array) -> jax.Array:
        return self.log_tanh_derivative(u) + self._log_half_range

    def forward_and_log_det(self, u: jax.Array) -> tuple[jax.Array, jax.Array]:
        y = self.low + (self.high - self.low) * (jnp.tanh(u) + 1.0) / 2.0
        return y, self.forward_log_det_jacobian(u)

    def inverse_and_log_det(self, y: jax.Array) -> tuple[jax.Array, jax.Array]:
        unit = 2.0 * (y - self.low) / (self.high - self.low) - 1.0
        u = jnp.arctanh(jnp.clip(unit, -1.0 + _TANH_EDGE, 1.0 - _TANH_EDGE))
        return u, -self.forward_log_det_jacobian(u)


class TanhGaussian(distrax.Transformed):
    """A diagonal Gaussian squashed into ``[low, high]`` by ``ScaledTanh`` (event shape ``[d]``).

    ``sample`` and ``log_prob`` are exact. The entropy of a squashed Gaussian has no closed form:
    ``entropy()`` is ``H(N(μ, σ²)) + Σ_d E[log |dy_d/du_d|]`` with each expectation over
    ``u_d ~ N(μ_d, σ_d²)`` by ``ENTROPY_NODES``-point Gauss–Hermite quadrature (deterministic,
    no key; brax's PPO estimates the same term from one sample). ``pre_squash_entropy()`` is the
    Gaussian's alone. ``kl_divergence`` between two of them with the same bounds is that of their
    Gaussians, which a bijection leaves unchanged (exact).
    """

    def __init__(self, loc: jax.Array, scale_diag: jax.Array, low: jax.Array, high: jax.Array):
        base = distrax.MultivariateNormalDiag(loc=loc, scale_diag=scale_diag)
        super().__init__(base, distrax.Block(ScaledTanh(low, high), ndims=1))

    def pre_squash_entropy(self) -> jax.Array:
        return self.distribution.entropy()

    def entropy(self) -> jax.Array:
        nodes, weights = np.polynomial.hermite.hermgauss(ENTROPY_NODES)
        # E_{z~N(0,1)} f(z) = Σ_i w_i f(√2 x_i) / √π.
        base, tanh = self.distribution, self.bijector.bijector
        z = np.reshape(np.sqrt(2.0) * nodes, (-1,) + (1,) * base.loc.ndim)
        u = base.loc[None] + base.scale_diag[None] * z  # [n, ..., d]
        expected = jnp.tensordot(weights / np.sqrt(np.pi), tanh.log_tanh_derivative(u), axes=1)
        expected = expected + jnp.broadcast_to(tanh._log_half_range, expected.shape)  # [..., d]
        return base.entropy() + jnp.sum(expected, axis=-1)

    def kl_divergence(self, other_dist, **kwargs) -> jax.Array:
        if not isinstance(other_dist, TanhGaussian):
            raise ValueError(f"other_dist: expected a TanhGaussian, got {type(other_dist)}")
        return self.distribution.kl_divergence(other_dist.distribution, **kwargs)

    def raw(self) -> RawTanhGaussian:
        """The same policy over its pre-squash actions ``u`` (``RawTanhGaussian``)."""
        tanh, base = self.bijector.bijector, self.distribution
        return RawTanhGaussian(base.loc, base.scale_diag, tanh.low, tanh.high)


class RawTanhGaussian(distrax.MultivariateNormalDiag):
    """A ``TanhGaussian`` over its pre-squash actions ``u ~ N(μ, σ²)`` (event shape ``[d]``), the
    environment's action being ``squash(u)``: how brax's PPO keeps actions in its rollouts (its
    ``raw_action``, with ``NormalTanhDistribution.log_prob`` of it).

    ``log_prob(u)`` is the log-density of the squashed action ``y = squash(u)`` under the
    ``TanhGaussian``, ``log N(u; μ, σ²) − Σ_d log |dy_d/du_d|``, computed from ``u`` itself. The
    ``TanhGaussian`` has to invert ``y``, which loses ``u`` once ``tanh(u)`` rounds to ±1
    (``|u| > 9`` in float32; ``_TANH_EDGE`` clips it to 7.25): the log-probability of such a
    sample is then off by ``(u − 7.25)(u + 7.25 − 2μ)/2σ²`` nats, thousands at a small σ, and so
    are the ratios and scores trainers take from it. The Jacobian term does not depend on the
    policy's parameters, so ratios, scores, Fisher products and KLs are those of the squashed
    policy. ``entropy()`` is the squashed one (``TanhGaussian.entropy``), ``kl_divergence`` the
    Gaussians' (as for ``TanhGaussian``), ``mode()``/``mean()`` the pre-squash μ.
    """

    def __init__(self, loc: jax.Array, scale_diag: jax.Array, low: jax.Array, high: jax.Array):
        super().__init__(loc=loc, scale_diag=scale_diag)
        self.tanh = ScaledTanh(low, high)

    def squash(self, u: jax.Array) -> jax.Array:
        """The environment's action ``low + (high − low)·(tanh(u) + 1)/2`` of ``u [..., d]``."""
        return self.tanh.forward(u)

    def squashed(self) -> TanhGaussian:
        """The same policy over the squashed actions."""
        return TanhGaussian(self.loc, self.scale_diag, self.tanh.low, self.tanh.high)

    def log_prob(self, value: jax.Array) -> jax.Array:
        log_det = jnp.sum(self.tanh.forward_log_det_jacobian(value), axis=-1)
        return super().log_prob(value) - log_det

    def sample_and_log_prob(self, *, seed, sample_shape=()):
        u = self.sample(seed=seed, sample_shape=sample_shape)
        return u, self.log_prob(u)

    def entropy(self) -> jax.Array:
        return self.squashed().entropy()

    def pre_squash_entropy(self) -> jax.Array:
        return super().entropy()

    def kl_divergence(self, other_dist, **kwargs) -> jax.Array:
        if not isinstance(other_dist, RawTanhGaussian):
            raise ValueError(f"other_dist: expected a RawTanhGaussian, got {type(other_dist)}")
        return super().kl_divergence(other_dist, **kwargs)


def softplus_loc_scale(outputs: jax.Array, min_std: float) -> tuple[jax.Array, jax.Array]:
    """``(loc, std)`` of a head's outputs ``[..., 2d]``: ``loc = outputs[..., :d]``,
    ``std = softplus(outputs[..., d:]) + min_std`` (brax's NormalTanhDistribution)."""
    loc, raw_scale = jnp.split(outputs, 2, axis=-1)
    return loc, jax.nn.softplus(raw_scale) + min_std


def orthogonal_dense(
    features: int, gain: float, name: str | None = None, kernel_init: str = "orthogonal"
) -> nn.Dense:
    """``nn.Dense`` with orthogonal kernel init of ``gain`` and zero bias (PureJaxRL's init);
    ``kernel_init="lecun_uniform"`` ignores ``gain`` (brax's init)."""
    init = nn.initializers.lecun_uniform() if kernel_init == "lecun_uniform" else orthogonal(gain)
    return nn.Dense(
        features,
        kernel_init=init,
        bias_init=nn.initializers.zeros,
        name=name,
    )


class Torso(nn.Module):
    """``Dense -> activation`` for each hidden width, orthogonal init with gain √2."""

    hidden: Sequence[int]
    activation: str = "tanh"
    kernel_init: str = "orthogonal"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        act = ACTIVATIONS[self.activation]
        for width in self.hidden:
            x = act(orthogonal_dense(width, math.sqrt(2.0), kernel_init=self.kernel_init)(x))
        return x


class Actor(nn.Module):
    """Hidden layers (none when fed a shared torso's features), then the policy head."""

    action_kind: str
    action_dim: int
    hidden: Sequence[int] = ()
    activation: str = "tanh"
    log_std_init: float = 0.0
    # tanh_gaussian only: the flat action bounds, [d] each.
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()
    kernel_init: str = "orthogonal"
    std: str = "log_param"  # Gaussian heads: one of STD_PARAMETRISATIONS.
    min_std: float = 1e-3  # std="softplus" only.

    @nn.compact
    def __call__(self, x: jax.Array) -> distrax.Distribution:
        if self.hidden:
            x = Torso(self.hidden, self.activation, self.kernel_init, name="torso")(x)
        softplus = self.action_kind != "discrete" and self.std == "softplus"
        width = 2 * self.action_dim if softplus else self.action_dim
        out = orthogonal_dense(width, 0.01, name="policy_head", kernel_init=self.kernel_init)(x)
        if self.action_kind == "discrete":
            return distrax.Categorical(logits=out)
        if softplus:
            out, scale = softplus_loc_scale(out, self.min_std)
        else:
            log_std = self.param(
                "log_std", nn.initializers.constant(self.log_std_init), (self.action_dim,)
            )
            scale = jnp.broadcast_to(jnp.exp(log_std), out.shape)
        if self.action_kind == "tanh_gaussian":
            low = jnp.broadcast_to(jnp.asarray(self.action_low, out.dtype), out.shape)
            high = jnp.broadcast_to(jnp.asarray(self.action_high, out.dtype), out.shape)
            return TanhGaussian(out, scale, low, high)
        return distrax.MultivariateNormalDiag(loc=out, scale_diag=scale)


class Critic(nn.Module):
    """Hidden layers (none when fed a shared torso's features), then a scalar value head."""

    hidden: Sequence[int] = ()
    activation: str = "tanh"
    kernel_init: str = "orthogonal"

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        if self.hidden:
            x = Torso(self.hidden, self.activation, self.kernel_init, name="torso")(x)
        return orthogonal_dense(1, 1.0, name="value_head", kernel_init=self.kernel_init)(x)[..., 0]


class ActorCritic(nn.Module):
    """Policy and value of a flat observation.

    Attributes:
      action_kind: ``"discrete"`` (Categorical head), ``"continuous"`` (diagonal Gaussian) or
        ``"tanh_gaussian"`` (``TanhGaussian`` inside ``action_low``/``action_high``).
      action_dim: number of actions (discrete) or flat action size ``d`` (continuous).
      hidden: hidden widths of each torso.
      activation: a name in ``ACTIVATIONS``.
      shared_torso: one torso feeds both heads (else separate actor and critic MLPs).
      log_std_init: initial log standard deviation of the Gaussian head.
      action_low, action_high: flat action bounds ``[d]`` of the tanh-Gaussian head.

    ``__call__(obs [..., obs_dim]) -> (policy with batch shape [...], value [...])``. Parameters:
    ``{"actor": {...}, "critic": {...}}`` (plus ``"torso"`` when shared), each network's head
    and log-std inside its own subtree.
    """

    action_kind: str
    action_dim: int
    hidden: Sequence[int] = (64, 64)
    activation: str = "tanh"
    shared_torso: bool = False
    log_std_init: float = 0.0
    action_low: tuple[float, ...] = ()
    action_high: tuple[float, ...] = ()
    # Separate networks only: the actor's and the critic's own widths (None: ``hidden``).
    actor_hidden: Sequence[int] | None = None
    critic_hidden: Sequence[int] | None = None
    kernel_init: str = "orthogonal"
    std: str = "log_param"
    min_std: float = 1e-3

    @nn.compact
    def __call__(self, obs: jax.Array) -> tuple[distrax.Distribution, jax.Array]:
        if self.shared_torso:
            obs = Torso(self.hidden, self.activation, self.kernel_init, name="torso")(obs)
            actor_own, critic_own = (), ()
        else:
            actor_own = tuple(self.hidden if self.actor_hidden is None else self.actor_hidden)
            critic_own = tuple(self.hidden if self.critic_hidden is None else self.critic_hidden)
        actor = Actor(
            self.action_kind, self.action_dim, actor_own, self.activation, self.log_std_init,
            self.action_low, self.action_high, self.kernel_init, self.std, self.min_std,
            name="actor",
        )  # fmt: skip
        critic = Critic(critic_own, self.activation, self.kernel_init, name="critic")
        return actor(obs), critic(obs)


def action_head(action_spec: specs.Spec) -> tuple[str, int]:
    """``(action_kind, action_dim)`` for an environment's ``action_spec``.

    Raises:
      ValueError: for specs without a head here (multi-discrete, nested, integer boxes).
    """
    if isinstance(action_spec, specs.DiscreteArray):
        return "discrete", int(action_spec.num_values)
    if (
        isinstance(action_spec, specs.Array)
        and not isinstance(action_spec, specs.MultiDiscreteArray)
        and jnp.issubdtype(action_spec.dtype, jnp.floating)
    ):
        return "continuous", max(1, math.prod(action_spec.shape))
    raise ValueError(
        f"action_spec: no actor-critic head for {action_spec!r}; accepted: DiscreteArray "
        "(Categorical) or a float Array/BoundedArray (diagonal Gaussian)"
    )


def check_torso(hidden: Sequence[int], activation: str) -> tuple[int, ...]:
    """The torso widths as a tuple; ``ValueError`` names a bad ``hidden`` or ``activation``."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: got {activation!r}; accepted: {', '.join(ACTIVATIONS)}")
    hidden = tuple(int(h) for h in hidden)
    if not hidden or min(hidden) <= 0:
        raise ValueError(f"hidden: expected positive widths, got {hidden}")
    return hidden


def _flat_bounds(action_spec: specs.Spec) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Finite flat bounds ``([d], [d])`` of a float ``BoundedArray`` (for the tanh head)."""
    if not isinstance(action_spec, specs.BoundedArray):
        raise ValueError(
            f"squash: 'tanh' needs a BoundedArray action_spec with finite bounds, got "
            f"{action_spec!r}; use squash='clip'"
        )
    shape = tuple(action_spec.shape)
    low = np.broadcast_to(np.asarray(action_spec.minimum, np.float64), shape).reshape(-1)
    high = np.broadcast_to(np.asarray(action_spec.maximum, np.float64), shape).reshape(-1)
    if not (np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)):
        raise ValueError(
            f"squash: 'tanh' needs finite bounds with maximum > minimum, got {action_spec!r}"
        )
    return tuple(low.tolist()), tuple(high.tolist())


def make_actor_critic(
    action_spec: specs.Spec,
    hidden: Sequence[int] = (64, 64),
    activation: str = "tanh",
    shared_torso: bool = False,
    log_std_init: float = 0.0,
    squash: str = "clip",
    *,
    actor_hidden: Sequence[int] | None = None,
    critic_hidden: Sequence[int] | None = None,
    kernel_init: str = "orthogonal",
    std: str = "log_param",
    min_std: float = 1e-3,
) -> ActorCritic:
    """An ``ActorCritic`` whose head fits ``action_spec`` (see ``action_head``).

    ``squash`` (continuous actions only): ``"clip"`` samples a Gaussian and clips it to the bounds
    on the way to the environment; ``"tanh"`` uses a ``TanhGaussian`` inside the bounds.
    """
    hidden = check_torso(hidden, activation)
    actor_hidden = None if actor_hidden is None else check_torso(actor_hidden, activation)
    critic_hidden = None if critic_hidden is None else check_torso(critic_hidden, activation)
    if kernel_init not in KERNEL_INITS:
        raise ValueError(f"kernel_init: got {kernel_init!r}; accepted: {', '.join(KERNEL_INITS)}")
    if std not in STD_PARAMETRISATIONS:
        raise ValueError(f"std: got {std!r}; accepted: {', '.join(STD_PARAMETRISATIONS)}")
    if not min_std >= 0:
        raise ValueError(f"min_std: expected >= 0, got {min_std!r}")
    if squash not in SQUASHES:
        raise ValueError(f"squash: got {squash!r}; accepted: {', '.join(SQUASHES)}")
    kind, dim = action_head(action_spec)
    low, high = (), ()
    if kind == "continuous" and squash == "tanh":
        kind = "tanh_gaussian"
        low, high = _flat_bounds(action_spec)
    return ActorCritic(
        kind, dim, hidden, activation, bool(shared_torso), float(log_std_init), low, high,
        actor_hidden, critic_hidden, kernel_init, std, float(min_std),
    )  # fmt: skip


def flatten_observation(obs: Any, batch_ndim: int) -> jax.Array:
    """Concatenates every leaf of ``obs`` into one float32 vector per batch element.

    Args:
      obs: an array or pytree of arrays, each ``[*batch, ...]``.
      batch_ndim: number of leading batch axes (e.g. 1 for ``[B, ...]``, 2 for ``[T, B, ...]``).

    Returns:
      ``[*batch, obs_dim]`` float32.
    """
    leaves = jax.tree.leaves(obs)
    batch = leaves[0].shape[:batch_ndim]
    flat = [
        jnp.reshape(x, batch + (int(np.prod(x.shape[batch_ndim:])),)).astype(jnp.float32)
        for x in leaves
    ]
    return flat[0] if len(flat) == 1 else jnp.concatenate(flat, axis=-1)

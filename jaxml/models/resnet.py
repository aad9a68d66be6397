"""Discrete- and continuous-time residual networks with the dead-zone activation.

From "On the Generalization Behavior of Deep Residual Networks From a Dynamical System
Perspective" (Huang, Sun, Wu; arXiv 2602.20921):

* discrete time, L layers over the horizon T: ``x_l = x_{l-1} + (T/L) f(x_{l-1}; θ_l)``;
* continuous time: ``dx/dt = f(x(t); θ(t))`` on ``[0, T]``, θ(t) piecewise linear between
  ``num_nodes + 1`` equally spaced nodes (so θ ∈ C([0,T]) ∩ H¹(0,T), the paper's class);

with the block ``f(x; θ) = ψ(x A + b) W`` (a weight matrix on each side of the activation, which
is what the paper's ``exp(T Lip_ψ B_Θ²)`` factor implies) and the activation class 𝒜(ℝ):
``ψ(x) = φ₁(x − α) − φ₂(−x − β)`` with α, β > 0, zero on the dead zone ``[−β, α]``. Both models
have a linear pre-layer ``x_0 = d P + p`` and a linear head ``y = x_L K + c``.

Kernels follow flax's ``[in, out]`` convention (``x @ kernel``). :func:`resnet_weights` and
:func:`ode_weights` return the parameters as a :class:`ResidualWeights` tuple, which is what the
bound calculators in ``jaxml.theory`` read.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import chex
import diffrax
import flax.linen as nn
import jax
import jax.numpy as jnp

Activation = Callable[[jax.Array], jax.Array]
SOLVERS = ("euler", "rk4", "diffrax")
# Learned α, β are floored here: softplus alone underflows to exactly 0 in float32, and the paper's
# class (and its structure term) needs α, β > 0.
MIN_THRESHOLD = 1e-3


def dead_zone(
    x: jax.Array,
    alpha: jax.Array | float,
    beta: jax.Array | float,
    phi1: Activation = jax.nn.relu,
    phi2: Activation = jax.nn.relu,
) -> jax.Array:
    """The paper's activation ψ(x) = φ₁(x − α) − φ₂(−x − β) (elementwise), zero on [−β, α]."""
    return phi1(x - alpha) - phi2(-x - beta)


class Block(NamedTuple):
    """Parameters of residual blocks; a leading axis stacks layers (or time nodes)."""

    A: jax.Array  # [..., d, d] inner kernel (x @ A).
    b: jax.Array  # [..., d] inner bias.
    W: jax.Array  # [..., d, d] outer kernel (ψ(.) @ W).


class ResidualWeights(NamedTuple):
    """Everything the bound calculators need from a trained discrete or continuous model."""

    pre_kernel: jax.Array  # [n_d, d]
    pre_bias: jax.Array  # [d]
    blocks: Block  # A, W: [L, d, d], b: [L, d]; layers (discrete) or time nodes (continuous).
    head_kernel: jax.Array  # [d, n]
    head_bias: jax.Array  # [n]
    alpha: jax.Array  # [] dead-zone right edge (> 0).
    beta: jax.Array  # [] dead-zone left edge (> 0).
    horizon: float  # T.
    continuous: bool  # True: blocks are time nodes of θ(t); False: the L layers.


def residual_field(block: Block, x: jax.Array, alpha, beta) -> jax.Array:
    """``f(x; θ) = ψ(x A + b) W`` for one block (unstacked). x: [..., d] -> [..., d]."""
    # The bias is reshaped to x's rank: silent rank promotion is an error in jaxml's tests.
    bias = jnp.reshape(block.b, (1,) * (x.ndim - 1) + block.b.shape)
    return dead_zone(x @ block.A + bias, alpha, beta) @ block.W


def resnet_flow(blocks: Block, x: jax.Array, horizon: float, alpha, beta) -> jax.Array:
    """Runs ``x_l = x_{l-1} + (T/L) f(x_{l-1}; θ_l)`` over the L stacked blocks (a lax.scan)."""
    chex.assert_rank(blocks.A, 3)
    num_layers = blocks.A.shape[0]
    tau = horizon / num_layers

    def layer(h, block):
        return h + tau * residual_field(block, h, alpha, beta), None

    out, _ = jax.lax.scan(layer, x, blocks)
    return out


def block_at(nodes: Block, t: jax.Array, horizon: float) -> Block:
    """θ(t): linear interpolation between the ``K + 1`` nodes at times ``k T / K``."""
    num_intervals = nodes.A.shape[0] - 1
    s = jnp.clip(t / horizon * num_intervals, 0.0, num_intervals)
    k = jnp.clip(jnp.floor(s), 0, num_intervals - 1).astype(jnp.int32)
    w = s - k
    return jax.tree.map(lambda p: (1.0 - w) * p[k] + w * p[k + 1], nodes)


def ode_vector_field(nodes: Block, alpha, beta, horizon: float) -> Callable:
    """``(t, x) -> f(x; θ(t))`` with θ(t) interpolated from ``nodes``."""

    def field(t, x):
        return residual_field(block_at(nodes, t, horizon), x, alpha, beta)

    return field


def odeint_fixed(field: Callable, x0: jax.Array, horizon: float, num_steps: int, method: str):
    """Fixed-step explicit Euler or classical RK4 from t=0 to t=horizon (a lax.scan)."""
    if method not in ("euler", "rk4"):
        raise ValueError(f"method={method!r}: must be one of euler, rk4")
    h = horizon / num_steps

    def step(x, i):
        t = i * h
        if method == "euler":
            return x + h * field(t, x), None
        k1 = field(t, x)
        k2 = field(t + h / 2, x + h / 2 * k1)
        k3 = field(t + h / 2, x + h / 2 * k2)
        k4 = field(t + h, x + h * k3)
        return x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4), None

    out, _ = jax.lax.scan(step, x0, jnp.arange(num_steps, dtype=x0.dtype))
    return out


def odeint_diffrax(
    field: Callable, x0: jax.Array, horizon: float, rtol: float = 1e-6, atol: float = 1e-6
):
    """Adaptive Tsit5 solve with diffrax (the reference the scan solvers are tested against)."""
    solution = diffrax.diffeqsolve(
        diffrax.ODETerm(lambda t, y, args: field(t, y)),
        diffrax.Tsit5(),
        t0=0.0,
        t1=horizon,
        dt0=horizon / 16,
        y0=x0,
        stepsize_controller=diffrax.PIDController(rtol=rtol, atol=atol),
        saveat=diffrax.SaveAt(t1=True),
        max_steps=100_000,
    )
    return solution.ys[0]


def _inverse_softplus(y: float) -> float:
    return math.log(math.expm1(y))  # Python floats: this runs at init, possibly under jit.


class _Thresholds(nn.Module):
    """α, β > 0: fixed, or learned as ``MIN_THRESHOLD + softplus(raw)`` so they stay positive."""

    alpha: float
    beta: float
    learnable: bool

    @nn.compact
    def __call__(self) -> tuple[jax.Array, jax.Array]:
        if not self.learnable:
            return jnp.asarray(self.alpha), jnp.asarray(self.beta)
        if min(self.alpha, self.beta) <= MIN_THRESHOLD:
            raise ValueError(
                f"alpha={self.alpha}, beta={self.beta}: learned thresholds start above "
                f"MIN_THRESHOLD={MIN_THRESHOLD}"
            )
        a = self.param("alpha_raw", _constant(_inverse_softplus(self.alpha - MIN_THRESHOLD)), ())
        b = self.param("beta_raw", _constant(_inverse_softplus(self.beta - MIN_THRESHOLD)), ())
        return threshold_from_raw(a), threshold_from_raw(b)


def _constant(value: float):
    return nn.initializers.constant(value)


def threshold_from_raw(raw: jax.Array) -> jax.Array:
    """A learned threshold (α or β) from its unconstrained parameter."""
    return MIN_THRESHOLD + jax.nn.softplus(raw)


def _check_common(width: int, horizon: float, alpha: float, beta: float) -> None:
    if width <= 0:
        raise ValueError(f"width={width}: must be > 0")
    if not horizon > 0:
        raise ValueError(f"horizon={horizon}: must be > 0")
    if not (alpha > 0 and beta > 0):
        raise ValueError(f"alpha={alpha}, beta={beta}: both must be > 0 (the paper's 𝒜(ℝ))")


def _block_params(module: nn.Module, stack: int, width: int, init_scale: float) -> Block:
    # Each matrix starts at variance init_scale/width: the flow is well conditioned at any L
    # because the step T/L shrinks as L grows, so no per-depth rescaling is needed.
    init = nn.initializers.variance_scaling(init_scale, "fan_in", "normal", in_axis=-2, out_axis=-1)
    return Block(
        A=module.param("A", init, (stack, width, width)),
        b=module.param("b", nn.initializers.zeros, (stack, width)),
        W=module.param("W", init, (stack, width, width)),
    )


class ResNet(nn.Module):
    """Discrete-time ResNet ``x_l = x_{l-1} + (T/L) ψ(x_{l-1} A_l + b_l) W_l`` (arXiv 2602.20921).

    Input ``[..., n_d]`` gives output ``[..., num_outputs]``.
    """

    num_outputs: int
    width: int = 32
    num_layers: int = 8
    horizon: float = 1.0
    alpha: float = 0.1
    beta: float = 0.1
    learn_thresholds: bool = False
    init_scale: float = 1.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_common(self.width, self.horizon, self.alpha, self.beta)
        if self.num_layers <= 0:
            raise ValueError(f"num_layers={self.num_layers}: must be > 0")
        alpha, beta = _Thresholds(self.alpha, self.beta, self.learn_thresholds, name="thresholds")()
        h = nn.Dense(self.width, name="pre")(x)
        blocks = _block_params(self, self.num_layers, self.width, self.init_scale)
        h = resnet_flow(blocks, h, self.horizon, alpha, beta)
        return nn.Dense(self.num_outputs, name="head")(h)


class NeuralODE(nn.Module):
    """Continuous-time ResNet ``dx/dt = ψ(x A(t) + b(t)) W(t)`` on [0, T] (arXiv 2602.20921).

    θ(t) is piecewise linear between ``num_nodes + 1`` nodes. ``solver`` is ``"rk4"`` or
    ``"euler"`` (fixed ``num_steps``, a lax.scan: fast inside a training jit) or ``"diffrax"``
    (adaptive Tsit5). Input ``[..., n_d]`` gives output ``[..., num_outputs]``.
    """

    num_outputs: int
    width: int = 32
    num_nodes: int = 8
    horizon: float = 1.0
    alpha: float = 0.1
    beta: float = 0.1
    learn_thresholds: bool = False
    init_scale: float = 1.0
    solver: str = "rk4"
    num_steps: int = 16

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        _check_common(self.width, self.horizon, self.alpha, self.beta)
        if self.solver not in SOLVERS:
            raise ValueError(f"solver={self.solver!r}: must be one of {', '.join(SOLVERS)}")
        if self.num_nodes <= 0 or self.num_steps <= 0:
            raise ValueError(
                f"num_nodes={self.num_nodes}, num_steps={self.num_steps}: both must be > 0"
            )
        alpha, beta = _Thresholds(self.alpha, self.beta, self.learn_thresholds, name="thresholds")()
        h = nn.Dense(self.width, name="pre")(x)
        nodes = _block_params(self, self.num_nodes + 1, self.width, self.init_scale)
        field = ode_vector_field(nodes, alpha, beta, self.horizon)
        if self.solver == "diffrax":
            h = odeint_diffrax(field, h, self.horizon)
        else:
            h = odeint_fixed(field, h, self.horizon, self.num_steps, self.solver)
        return nn.Dense(self.num_outputs, name="head")(h)


def _weights(module: nn.Module, params: Any, continuous: bool) -> ResidualWeights:
    p = params["params"] if "params" in params else params
    if module.learn_thresholds:
        alpha = threshold_from_raw(p["thresholds"]["alpha_raw"])
        beta = threshold_from_raw(p["thresholds"]["beta_raw"])
    else:
        alpha, beta = jnp.asarray(module.alpha), jnp.asarray(module.beta)
    return ResidualWeights(
        pre_kernel=p["pre"]["kernel"],
        pre_bias=p["pre"]["bias"],
        blocks=Block(p["A"], p["b"], p["W"]),
        head_kernel=p["head"]["kernel"],
        head_bias=p["head"]["bias"],
        alpha=alpha,
        beta=beta,
        horizon=float(module.horizon),
        continuous=continuous,
    )


def resnet_weights(module: ResNet, params: Any) -> ResidualWeights:
    """The parameters of a :class:`ResNet` as a :class:`ResidualWeights` (blocks = layers)."""
    return _weights(module, params, continuous=False)


def ode_weights(module: NeuralODE, params: Any) -> ResidualWeights:
    """The parameters of a :class:`NeuralODE` as a :class:`ResidualWeights` (blocks = nodes)."""
    return _weights(module, params, continuous=True)


def sample_nodes(nodes: Block, horizon: float, num_layers: int) -> Block:
    """θ(t_l) at ``t_l = l T / L`` (l = 0..L-1): the discrete ResNet whose flow is the explicit
    Euler scheme of the ODE (the paper's sampling of the continuous controls)."""
    times = jnp.arange(num_layers) * (horizon / num_layers)
    return jax.vmap(lambda t: block_at(nodes, t, horizon))(times)

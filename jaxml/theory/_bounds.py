"""Generalization bounds for trained discrete- and continuous-time residual networks.

* :func:`residual_bound`: the depth-uniform bound of Theorem 5 (discrete) / Theorem 9
  (continuous) of "On the Generalization Behavior of Deep Residual Networks From a Dynamical
  System Perspective" (Huang, Sun, Wu; arXiv 2602.20921), every term returned separately:

      gen. error ≤ 2√2 n B_κ · M / √S                                (complexity, O(1/√S))
                 + 4 B_ℓ √(2 log(4/δ) / S)                            (confidence)
                 − 2√2 n B_κ B_Θ (Lip_φ1 α + Lip_φ2 β) e^{T Lip_ψ B_Θ²} / S · τ Σ_l C_S^l
                                                                     (structure, ≤ 0)

  The confidence term is the paper's; it exceeds McDiarmid's B_ℓ√(log(1/δ)/(2S)), so it is valid
  with our M as well. Two constants are not available in closed form, and the output says so in
  ``notes``:
  - the C_S^l are only shown to *exist* (0 ≤ C_S^l ≤ min{√S(1+2Lip_ψB_Θ)/(2(Lip_φ1α+Lip_φ2β)), S});
    the always-valid value C_S^l = 0 makes the structure term 0, which is what ``bound`` uses.
    ``structure_term_at_cap`` is the term with every C_S^l at its cap: how much the paper's term
    could at best subtract. It is NOT a valid bound (the true C_S^l are unknown).
  - the closed form of M(T, Lip_ψ, n_d, B_in, B_Θ) was not retrieved. We use our own
    derivation of the same Rademacher route (symmetrisation, Maurer's vector contraction,
    Ledoux–Talagrand contraction per unit, Grönwall over the layers), which is valid for the
    norms we measure:

      M = e^{2 T Lip_ψ B_W B_A} (B_P B_in + B_p) + (B_b / B_A)(e^{2 T Lip_ψ B_W B_A} − 1)
          + B_c / B_κ,

    with B_W = max_l ‖W_l‖₂, B_A = max_l ‖A_l‖_{2,1} (sum of the units' incoming-weight norms;
    the class fixes each unit's radius at its measured value, so the contraction can be applied
    unit by unit),
    B_b = max_l ‖b_l‖₁, B_P = ‖P‖₂, B_p = ‖p‖₂ (pre-layer), B_κ = max_k ‖K[:, k]‖₂ and
    B_c = max_k |c_k| (head), B_in = max_i ‖d_i‖₂ and the loss's Lipschitz constant folded into
    B_κ. The discrete recursion G_l ≤ (1 + 2τ Lip_ψ B_W B_A) G_{l−1} + 2τ Lip_ψ B_W B_b √S is
    summed in closed form with (1 + x/L)^L ≤ e^x, so M does not depend on L (depth-uniform);
    for the continuous model the same holds with the maxima over the time nodes (θ(t) is a convex
    combination of nodes, so its norms are at most the nodes' maxima).

* :func:`spectral_margin_bound`: the classical comparison, Bartlett–Foster–Telgarsky's
  spectrally-normalised margin bound ("Spectrally-normalized margin bounds for neural networks",
  arXiv 1706.08498; the form with fixed norm levels from their appendix, constants 8, 72 and
  3√(ln(2/δ)/2S) as we read them), applied to the residual network with
  their covering argument: every block is a layer of Lipschitz constant ρ_l = 1 + τ Lip_ψ‖A_l‖‖W_l‖
  and each of its two matrices is covered with the Lipschitz constant of the rest of the network.

Both bounds plug in the norms of the trained network (post hoc); a union bound over a grid of norm
levels, which would make that rigorous, adds logarithmic terms that are left out of both alike.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.theory._norms import (
    dead_zone_lipschitz,
    max_column_norm,
    norm_21,
    spectral_norm,
    spectral_norms,
)

NOTE_C = (
    "C_S^l: the paper proves only that they exist; bound uses the always-valid C_S^l = 0 "
    "(structure term = 0). The structure term at the cap (every C_S^l at its upper cap) is NOT a "
    "valid bound."
)
NOTE_M = (
    "M: the paper's closed form was not retrieved; M here is our own derivation of the same "
    "Rademacher route (vector contraction, per-unit Ledoux-Talagrand contraction, Groenwall), "
    "valid for the measured norms."
)
NOTE_POSTHOC = (
    "Norms are measured on the trained network (post hoc; norm-level union bound omitted)."
)


def _log_expm1(x: float) -> float:
    """log(e^x − 1) for x > 0 without overflow."""
    return x + math.log1p(-math.exp(-x)) if x > 0 else -math.inf


def _logsumexp(*logs: float) -> float:
    finite = [v for v in logs if v != -math.inf]
    if not finite:
        return -math.inf
    top = max(finite)
    return top + math.log(sum(math.exp(v - top) for v in finite))


def _exp10(log10_value: float) -> float:
    return math.inf if log10_value > 300 else 10.0**log10_value


@jax.jit
def _array_norms(pre_kernel, pre_bias, blocks, head_kernel, head_bias, key) -> dict:
    # One jitted call (eager power iterations would dispatch op by op); the data stay out of it
    # so that one compile serves every training-set size.
    k1, k2, k3, k4 = jax.random.split(key, 4)
    return {
        "B_P": spectral_norm(pre_kernel, key=k3),
        "B_p": jnp.linalg.norm(pre_bias),
        "pre_21": norm_21(pre_kernel),
        "spec_A": spectral_norms(blocks.A, key=k1),  # [L] per layer (or time node).
        "spec_W": spectral_norms(blocks.W, key=k2),
        "A_21": norm_21(blocks.A),
        "W_21": norm_21(blocks.W),
        "b_1": jnp.sum(jnp.abs(blocks.b), axis=-1),
        "b_2": jnp.linalg.norm(blocks.b, axis=-1),
        "B_kappa": max_column_norm(head_kernel),
        "B_c": jnp.max(jnp.abs(head_bias)),
        "head_spec": spectral_norm(head_kernel, key=k4),
        "head_21": norm_21(head_kernel),
    }


def measure_norms(weights: Any, x: jax.Array, *, key: jax.Array, lip_psi: float = 1.0) -> dict:
    """Every norm the two bounds use, as Python floats.

    Args:
      weights: a ``jaxml.models.resnet.ResidualWeights``.
      x: [S, n_d] the training inputs (for B_in and ‖X‖_F).
      key: PRNG key for the power iterations' start vectors.
      lip_psi: Lipschitz constant of the activation ψ.
    """
    arrays = jax.device_get(
        _array_norms(
            weights.pre_kernel, weights.pre_bias, weights.blocks, weights.head_kernel,
            weights.head_bias, key,
        )
    )  # fmt: skip
    blocks = weights.blocks
    out = {
        name: (np.asarray(v, np.float64) if np.ndim(v) else float(v)) for name, v in arrays.items()
    }
    x64 = np.asarray(x, np.float64)
    return {
        **out,
        "B_in": float(np.max(np.linalg.norm(x64, axis=-1))),
        "X_frobenius": float(np.linalg.norm(x64)),
        "alpha": float(weights.alpha),
        "beta": float(weights.beta),
        "lip_psi": float(lip_psi),
        "horizon": float(weights.horizon),
        "num_blocks": int(blocks.A.shape[0]),
        "continuous": bool(weights.continuous),
        "width": int(blocks.A.shape[-1]),
        "num_inputs": int(weights.pre_kernel.shape[0]),
        "num_outputs": int(weights.head_kernel.shape[-1]),
    }


def log_complexity_constant(norms: dict) -> float:
    """log M (natural log) of the reconstructed depth-uniform constant (module docstring)."""
    b_w = float(np.max(norms["spec_W"]))
    b_a = float(np.max(norms["A_21"]))
    b_b = float(np.max(norms["b_1"]))
    rate = 2.0 * norms["horizon"] * norms["lip_psi"] * b_w * b_a
    pre = norms["B_P"] * norms["B_in"] + norms["B_p"]
    terms = [rate + math.log(pre) if pre > 0 else -math.inf]
    if b_b > 0 and b_a > 0:
        terms.append(math.log(b_b / b_a) + _log_expm1(rate))
    if norms["B_c"] > 0 and norms["B_kappa"] > 0:
        terms.append(math.log(norms["B_c"] / norms["B_kappa"]))
    return _logsumexp(*terms)


def residual_bound(
    weights: Any,
    x: jax.Array,
    *,
    key: jax.Array,
    num_samples: int | None = None,
    loss_bound: float = 1.0,
    loss_lipschitz: float = 1.0,
    delta: float = 0.05,
    lip_phi1: float = 1.0,
    lip_phi2: float = 1.0,
) -> dict:
    """The paper's bound on ``E ℓ − Ê ℓ`` for a trained discrete or continuous ResNet.

    Args:
      weights: ``ResidualWeights`` of the trained network (``jaxml.models.resnet``).
      x: [S, n_d] training inputs (B_in is their largest norm).
      key: PRNG key for the power iterations.
      num_samples: S (defaults to ``x.shape[0]``).
      loss_bound: B_ℓ, the loss takes values in [0, B_ℓ].
      loss_lipschitz: Lipschitz constant of the loss in the network output (ℓ2), e.g. √2/γ for
        the ramp loss at margin γ.
      delta: the bound holds with probability ≥ 1 − δ.
      lip_phi1, lip_phi2: Lipschitz constants of φ₁, φ₂ (1 for ReLU).

    Returns:
      A dict of floats: ``complexity_term``, ``confidence_term``, ``structure_term`` (0, the
      always-valid value), ``bound`` (their sum), ``log10_*`` versions (the terms overflow float64
      for large norms), ``structure_term_at_cap`` (log10 of its magnitude; illustrative only),
      the norms used, and ``notes`` (a list of strings) flagging the reconstructed constants.
    """
    s = int(x.shape[0] if num_samples is None else num_samples)
    if s <= 0:
        raise ValueError(f"num_samples={s}: must be > 0")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta={delta}: must be in (0, 1)")
    if loss_bound <= 0 or loss_lipschitz <= 0:
        raise ValueError(f"loss_bound={loss_bound}, loss_lipschitz={loss_lipschitz}: must be > 0")
    lip_psi = dead_zone_lipschitz(lip_phi1, lip_phi2)
    norms = measure_norms(weights, x, key=key, lip_psi=lip_psi)
    n = norms["num_outputs"]
    log_m = log_complexity_constant(norms)
    b_kappa = loss_lipschitz * norms["B_kappa"]
    log_complexity = math.log(2 * math.sqrt(2) * n * b_kappa) + log_m - 0.5 * math.log(s)
    confidence = 4.0 * loss_bound * math.sqrt(2.0 * math.log(4.0 / delta) / s)

    # The paper's structure term with every C_S^l at its cap (our reading: B_Θ is the largest
    # spectral norm or bias norm among the blocks). τ Σ_l C_S^l = T · cap.
    b_theta = float(max(np.max(norms["spec_A"]), np.max(norms["spec_W"]), np.max(norms["b_2"])))
    zone = lip_phi1 * norms["alpha"] + lip_phi2 * norms["beta"]
    cap = min(math.sqrt(s) * (1 + 2 * lip_psi * b_theta) / (2 * zone), s)
    log10_cap_term = math.log10(
        2 * math.sqrt(2) * n * b_kappa * b_theta * zone * norms["horizon"] * cap / s
    ) + norms["horizon"] * lip_psi * b_theta**2 / math.log(10)
    log10_complexity = log_complexity / math.log(10)
    log10_bound = _logsumexp(log_complexity, math.log(confidence)) / math.log(10)
    return {
        "complexity_term": _exp10(log10_complexity),
        "log10_complexity_term": log10_complexity,
        "confidence_term": confidence,
        "structure_term": 0.0,
        "bound": _exp10(log10_complexity) + confidence,
        "log10_bound": log10_bound,
        "log10_structure_term_at_cap_magnitude": log10_cap_term,
        "log10_M": log_m / math.log(10),
        "num_samples": s,
        "B_W": float(np.max(norms["spec_W"])),
        "B_A21": float(np.max(norms["A_21"])),
        "B_b1": float(np.max(norms["b_1"])),
        "B_theta": b_theta,
        "B_kappa": norms["B_kappa"],
        "B_in": norms["B_in"],
        "notes": [NOTE_C, NOTE_M, NOTE_POSTHOC],
    }


def log_spectral_complexity(norms: dict) -> float:
    """log R_A of BFT (natural log) for a discrete residual network (module docstring).

    R_A = ‖P‖ ∏_l ρ_l ‖K‖ · ( (‖P‖_{2,1}/‖P‖)^{2/3} + Σ_l [(τ Lip ‖W_l‖ ‖A_l‖_{2,1}/ρ_l)^{2/3}
          + (τ Lip ‖A_l‖ ‖W_l‖_{2,1}/ρ_l)^{2/3}] + (‖K‖_{2,1}/‖K‖)^{2/3} )^{3/2}
    """
    if norms["continuous"]:
        raise ValueError("weights.continuous=True: BFT's bound needs a finite number of layers")
    tau = norms["horizon"] / norms["num_blocks"]
    lip = norms["lip_psi"]
    rho = 1.0 + tau * lip * norms["spec_A"] * norms["spec_W"]
    log_product = math.log(norms["B_P"]) + float(np.sum(np.log(rho))) + math.log(norms["head_spec"])
    ratio_sum = (
        (norms["pre_21"] / norms["B_P"]) ** (2 / 3)
        + float(np.sum((tau * lip * norms["spec_W"] * norms["A_21"] / rho) ** (2 / 3)))
        + float(np.sum((tau * lip * norms["spec_A"] * norms["W_21"] / rho) ** (2 / 3)))
        + (norms["head_21"] / norms["head_spec"]) ** (2 / 3)
    )
    return log_product + 1.5 * math.log(ratio_sum)


def spectral_margin_bound(
    weights: Any,
    x: jax.Array,
    *,
    key: jax.Array,
    margin: float,
    train_margin_loss: float,
    delta: float = 0.05,
    lip_psi: float = 1.0,
) -> dict:
    """BFT's spectrally-normalised margin bound (arXiv 1706.08498) on the 0-1 test error:

        P[error] ≤ R̂_γ + 8/S + 72 ‖X‖_F ln(2W) ln(S) R_A / (γ S) + 3 √(ln(2/δ) / (2S)).

    Args:
      weights: ``ResidualWeights`` of a *discrete* ResNet.
      x: [S, n_d] training inputs.
      key: PRNG key for the power iterations.
      margin: γ > 0.
      train_margin_loss: R̂_γ, the fraction of training points with margin ≤ γ.
      delta: confidence.
      lip_psi: Lipschitz constant of ψ.

    Returns:
      ``complexity_term``, ``confidence_term`` (3√(ln(2/δ)/2S) + 8/S), ``bound`` and their log10s.
      Biases are left out of the covering (BFT's networks have none), which can only understate it.
    """
    if margin <= 0:
        raise ValueError(f"margin={margin}: must be > 0")
    if not 0.0 < delta < 1.0:
        raise ValueError(f"delta={delta}: must be in (0, 1)")
    norms = measure_norms(weights, x, key=key, lip_psi=lip_psi)
    s = int(x.shape[0])
    width = max(norms["width"], norms["num_inputs"], norms["num_outputs"])
    log_r = log_spectral_complexity(norms)
    log10_complexity = (
        math.log(72 * norms["X_frobenius"] * math.log(2 * width) * math.log(s) / (margin * s))
        + log_r
    ) / math.log(10)
    confidence = 8.0 / s + 3.0 * math.sqrt(math.log(2.0 / delta) / (2 * s))
    complexity = _exp10(log10_complexity)
    return {
        "complexity_term": complexity,
        "log10_complexity_term": log10_complexity,
        "confidence_term": confidence,
        "bound": train_margin_loss + complexity + confidence,
        "log10_bound": math.log10(train_margin_loss + complexity + confidence)
        if math.isfinite(complexity)
        else log10_complexity,
        "log10_spectral_complexity": log_r / math.log(10),
        "num_samples": s,
    }

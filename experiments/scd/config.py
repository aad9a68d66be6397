"""Softly constrained denoisers (arXiv 2512.14980) vs a plain EDM denoiser, PIDM-style loss
regularisation and DPS-style guidance, on the circle toy and on Darcy flow, with correct and
misspecified constraints.

  python -m experiments.scd.main --preset=quick --workdir=results/quick/scd
      # Circle: 7 MLP denoisers x 2 seeds, 1500 steps; Darcy 16x16: 5 small U-Nets x 1 seed,
      # 200 steps (under-trained: a pipeline check, not a result). Measured 2026-11-25 on 2 shared
      # CPU cores: 3m52s. Circle W1 (seed mean; data-vs-data floor 0.043): plain 0.053; correct
      # radius: SCD 0.046 (residual 0.0004 vs plain 0.0185), PIDM 0.065, DPS 0.047; radius 1.2:
      # SCD 0.055, PIDM 0.403, DPS 0.172; ellipse 1.2x0.8: SCD 0.056, PIDM 0.286, DPS 0.136.
  python -m experiments.scd.main --preset=full
      # Longer training, 3 seeds, 32x32 Darcy, more samples; meant for an accelerator. Not run.

Lists are tuples; override them with a Python literal (quote it for the shell), e.g.
  --config.methods="('plain','soft')"   --config.tasks=circle   (one name is a 1-tuple)
  --config.circle.constraints="((1.0,1.0),(1.5,0.5))"   --config.darcy.channel_mult="(1,2,2)"

Constraints (the first one of each task is the one the data satisfy):
  circle.constraints: semi-axes ``(a, b)`` of ``sqrt((x/a)^2 + (y/b)^2) - 1``; ``a == b == R``
    is the circle of radius R (named ``radius_R`` in the summary, else ``ellipse_a_b``);
  darcy.constraints: source scales ``S`` of the PDE residual with the source magnitude times S
    (named ``source_S``).
"""

from __future__ import annotations

import ml_collections

from jaxml import diffusion
from jaxml.utils import checks
from jaxml.utils.config import (
    ConfigError,
    base_config,
    check_base,
    check_choice,
    check_choices,
    check_in_range,
    check_positive,
    check_preset,
)


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
    check_preset(preset)
    config = base_config()
    config.num_seeds = 2
    config.tensorboard = False
    config.checkpoint_every_chunks = 100  # Each sub-run is short; checkpoint at its end.
    config.tasks = ("circle", "darcy")
    config.methods = ("plain", "soft", "pidm", "dps")
    config.edm = ml_collections.ConfigDict({"sigma_data": 0.5, "p_mean": -1.2, "p_std": 1.2})
    config.sampler = ml_collections.ConfigDict(
        {"num_steps": 18, "sigma_min": 0.002, "sigma_max": 80.0, "rho": 7.0}
    )
    # Choices the paper leaves open (see jaxml/diffusion/_denoisers.py):
    config.soft = ml_collections.ConfigDict(
        {
            "gamma_mode": "learned",  # learned | scheduled | constant
            "gamma_init": 0.5,  # learned: initial gamma; scheduled: gamma_0; constant: gamma.
            "gamma_max": 1.0,  # learned: gamma in [0, gamma_max].
            "stop_gradient": False,  # True: no training gradient through D_theta in the correction.
        }
    )
    # constant: D - scale * grad_x 1/2||c(D)||^2 (swirl-dynamics style, acts until sigma = 0);
    # sigma_squared: the Tweedie-exact scaling, which vanishes as sigma -> 0.
    config.dps_weighting = "constant"
    # edm: the PIDM penalty gets the EDM weight lambda(sigma) of the denoising term; none: w = 1.
    config.pidm_sigma_weighting = "edm"
    config.circle = ml_collections.ConfigDict(
        {
            "radius": 1.0,
            "radial_noise": 0.0,
            "constraints": ((1.0, 1.0), (1.2, 1.2), (1.2, 0.8)),
            "num_train": 10_000,
            "num_eval": 1000,
            "width": 128,
            "depth": 3,
            "batch_size": 256,
            "num_steps": 1500,
            "learning_rate": 2e-3,
            "chunk_size": 1000,
            "pidm_weight": 1.0,
            "dps_scale": 0.5,
        }
    )
    config.darcy = ml_collections.ConfigDict(
        {
            "grid": 16,
            "length_scale": 0.2,
            "num_modes": 32,
            "log_k_std": 1.0,
            "source_magnitude": 10.0,
            "constraints": (1.0, 2.0),
            # Let the constraint gradient move log K too (False: it moves the pressure only).
            "grad_log_k": False,
            "num_train": 500,
            "num_eval": 32,
            "channels": 8,
            "channel_mult": (1, 2),
            "batch_size": 16,
            "num_steps": 200,
            "learning_rate": 2e-3,
            "chunk_size": 200,
            "num_seeds": 1,
            "pidm_weight": 1.0,
            "dps_scale": 0.5,
        }
    )
    if preset == "full":
        config.num_seeds = 3
        config.circle.num_steps = 20_000
        config.circle.num_eval = 2000
        config.circle.chunk_size = 1000
        config.darcy.grid = 32
        config.darcy.num_modes = 64
        config.darcy.num_train = 5000
        config.darcy.num_eval = 256
        config.darcy.channels = 32
        config.darcy.batch_size = 64
        config.darcy.channel_mult = (1, 2, 2)
        config.darcy.num_steps = 20_000
        config.darcy.chunk_size = 1000
        config.darcy.num_seeds = 3
    return config


TASKS = ("circle", "darcy")


def _check_constraints(config: ml_collections.ConfigDict) -> None:
    def positive(values, size=None):
        return (
            isinstance(values, tuple)
            and bool(values)
            and (size is None or len(values) == size)
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
            and min(values) > 0
        )

    circle, darcy = config.circle.constraints, config.darcy.constraints
    ok = isinstance(circle, tuple) and bool(circle) and all(positive(c, 2) for c in circle)
    expected = "a non-empty tuple of semi-axes (a, b) > 0, e.g. ((1.0, 1.0), (1.2, 0.8))"
    checks.expect(ok, "--config.circle.constraints", expected, circle, ConfigError)
    expected = "a non-empty tuple of source scales > 0, e.g. (1.0, 2.0)"
    checks.expect(positive(darcy), "--config.darcy.constraints", expected, darcy, ConfigError)


def validate(config: ml_collections.ConfigDict) -> None:
    """Raises ConfigError ``--config.<field>: expected <accepted>, got <value>`` on a bad field."""
    check_base(config)
    check_choices(config, "tasks", TASKS)
    check_choices(config, "methods", diffusion.METHODS)
    check_choice(config, "soft.gamma_mode", diffusion.GAMMA_MODES)
    check_choice(config, "dps_weighting", diffusion.DPS_WEIGHTINGS)
    check_choice(config, "pidm_sigma_weighting", diffusion.PIDM_WEIGHTINGS)
    check_positive(config, ("edm.sigma_data", "edm.p_std", "sampler.num_steps"))
    check_positive(config, ("sampler.sigma_min", "sampler.sigma_max", "sampler.rho"))
    if config.soft.gamma_mode == "learned":
        check_in_range(config, "soft.gamma_init", 0.0, config.soft.gamma_max, (False, False))
    for task in TASKS:
        fields = ("num_train", "num_eval", "batch_size", "num_steps", "learning_rate", "chunk_size")
        check_positive(config, tuple(f"{task}.{field}" for field in fields))
    check_positive(config, ("darcy.num_seeds", "darcy.grid", "darcy.num_modes"))
    check_in_range(config, "circle.num_eval", 2, float("inf"))
    # Darcy's data-vs-data W1 floor uses num_eval training fields.
    check_in_range(config, "darcy.num_eval", 2, config.darcy.num_train)
    _check_constraints(config)
    mult = checks.positive_ints(
        config.darcy.channel_mult, "--config.darcy.channel_mult", ConfigError
    )
    factor = 2 ** (len(mult) - 1)  # The U-Net halves the grid at every level but the first.
    expected = f"a multiple of 2^(len(darcy.channel_mult) - 1) = {factor}"
    checks.expect(
        config.darcy.grid % factor == 0,
        "--config.darcy.grid",
        expected,
        config.darcy.grid,
        ConfigError,
    )

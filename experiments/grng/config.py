"""GRNG (arXiv 2601.18420): SGD, AdamW, Sophia, K-FAC, RING, RENG and R-Kalman, and K-FAC, RING
and RENG in their adaptive forms (``kfac_adaptive``, ``ring_adaptive``, ``reng_adaptive``), on
vision tasks (scikit-learn digits: a residual MLP, and as 8x8 images a small CNN, ``digits_cnn``)
and a language task (character transformer on stdlib text).

Every optimizer gets the same steps, batches and seeds; its learning rates x seeds are trained at
once (vmap), the learning rate with the best final validation loss is kept, and its test numbers
are reported.

  python -m experiments.grng.main --preset=quick    # the three tasks; times: the README
  python -m experiments.grng.main --preset=full     # 3 seeds, 10-20x the steps; for an accelerator
  python -m experiments.grng.main --preset=quick --config.tasks="('digits_cnn',)"   # the CNN

Override any field, e.g. ``--config.optimizers="('adamw','ring')" --config.tasks="('digits',)"
--config.lr_grid.ring="(0.1,0.3)" --config.skip.charlm="()"``: a tuple is a Python literal,
quoted for the shell, with quotes around each string and a trailing comma for one element.
"""

from __future__ import annotations

import ml_collections

from jaxml.utils.config import base_config, check_preset

# K-FAC, RING and RENG also in their adaptive forms (``adaptive=True``: learning rate and
# momentum from the 2-D quadratic model, Levenberg–Marquardt damping; Martens & Grosse 2015,
# arXiv 1503.05671, §6–7; docs/kfac_adaptive.md): "every optimizer at its best settings".
ADAPTIVE = ("kfac_adaptive", "ring_adaptive", "reng_adaptive")
OPTIMIZERS = ("sgd", "adamw", "sophia", "kfac", "ring", "reng", "rkalman", *ADAPTIVE)
TASKS = ("digits", "charlm", "digits_cnn")


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
    check_preset(preset)
    config = base_config()
    config.tasks = TASKS
    config.optimizers = OPTIMIZERS
    # Optimizers left out of a task (task -> tuple of names). The quick preset leaves the
    # adaptive forms out of the char LM, whose sweep is the slowest of the three (time budget:
    # experiments/grng/README.md); the full preset runs everything everywhere.
    config.skip = ml_collections.ConfigDict({task: () for task in TASKS})
    config.skip.charlm = ADAPTIVE
    config.num_seeds = 2
    config.chunk_size = 25
    config.checkpoint_every_chunks = 4
    # Learning-rate grids, swept per optimizer (vmapped with the seeds).
    config.lr_grid = ml_collections.ConfigDict(
        {
            "sgd": (0.03, 0.1, 0.3),
            "adamw": (3e-4, 1e-3, 3e-3),
            "sophia": (3e-4, 1e-3, 3e-3),
            "kfac": (0.03, 0.1, 0.3),
            "ring": (0.03, 0.1, 0.3),
            "reng": (0.03, 0.1, 0.3),
            "rkalman": (0.3, 1.0, 3.0),
            # The adaptive forms' rate multiplies the quadratic model's step (1.0: its minimiser),
            # so its grid is around 1, not around the fixed forms' rates.
            "kfac_adaptive": (0.5, 1.0),
            "ring_adaptive": (0.5, 1.0),
            "reng_adaptive": (0.5, 1.0),
        }
    )
    # Fixed hyper-parameters. GRNG's values are not public: rho and damping are our choices
    # (shared/papers/grng.md proposes rho in {0.01, 0.05, 0.1}, factors refreshed every 10 steps).
    config.momentum = 0.9  # SGD.
    config.weight_decay = 1e-4  # AdamW.
    config.damping = 1e-2  # K-FAC, RING, RENG base damping.
    config.rho = 0.05  # RING, RENG, R-Kalman gradient-regularization strength.
    config.inverse_update_every = 10
    # K-FAC's KL clipping for K-FAC, RING and RENG: the direction d is scaled so that
    # dᵀF̂d <= kl_clip. Without it RENG diverged at 2 of 3 learning rates (rho 0.05, damping 1e-2);
    # with 0.1 none of the three diverged on digits (2026-11-25).
    config.kl_clip = 0.1
    # The adaptive forms: `damping` is the initial Levenberg–Marquardt λ (benchmarks/kfac_jax.py's
    # 1e-2); no KL clip (the model's α already sizes the step); inverses as the fixed forms.
    config.adaptive_damping = 1e-2
    config.kalman_fading = 0.01
    config.kalman_prior_precision = 1.0

    config.digits = ml_collections.ConfigDict(
        {"num_steps": 200, "batch_size": 64, "width": 64, "num_blocks": 2, "val_fraction": 0.25}
    )
    config.charlm = ml_collections.ConfigDict(
        {
            "num_steps": 100,
            "batch_size": 8,
            "context": 32,
            "width": 64,
            "num_layers": 2,
            "num_heads": 4,
            "corpus_chars": 200_000,
            "eval_windows": 64,
        }
    )
    # The CNN is the slowest task per step on a CPU (its convolutions under vmap, and the Kronecker
    # methods' patch factors): the quick preset halves its steps and its channels, and gives the
    # adaptive forms their model-scale rate alone, to keep the preset within make run's budget.
    config.digits_cnn = ml_collections.ConfigDict(
        {"num_steps": 100, "batch_size": 64, "channels": (8, 16), "val_fraction": 0.25}
    )
    for name in ADAPTIVE:
        config.lr_grid[name] = (1.0,)
    if preset == "full":
        config.skip.charlm = ()
        config.num_seeds = 3
        config.chunk_size = 100
        config.digits.num_steps = 2000
        config.digits.width = 128
        config.digits_cnn.num_steps = 2000
        config.digits_cnn.channels = (32, 64)
        for name in ADAPTIVE:
            config.lr_grid[name] = (0.5, 1.0)
        config.charlm.num_steps = 1000
        config.charlm.batch_size = 32
        config.charlm.width = 128
        config.charlm.num_layers = 4
        config.charlm.context = 128
    return config

"""Depth-uniform generalization bounds for ResNets (arXiv 2602.20921) against BFT's spectral bound.

On scikit-learn digits and make_moons, discrete ResNets at several depths L (fixed horizon T) and
the continuous-time model are trained at several training-set sizes S, seeds vmapped together with
the sizes (one jit per depth); the bound's terms, the classical bound and the measured test–train
gap are plotted against L and against S.

  python -m experiments.resnet_bounds.main --preset=quick --workdir=results/resnet_bounds/quick
    # Measured 2026-11-25: 3m33s wall on 2 shared CPU cores (load ~5). At S=1000, L=4 -> 64:
    # paper bound (C=0, our M) digits 10^30.0 -> 10^30.0 (10^27.2..10^30.0 between), moons
    # 10^29.1 -> 10^38.7; BFT digits 10^6.6 -> 10^7.4, moons 10^5.7 -> 10^6.5; measured 0-1 gap
    # digits 0.059 -> 0.052, moons 0.018 -> 0.017. All bounds vacuous.
  python -m experiments.resnet_bounds.main --preset=full
    # Wider nets, more sizes and seeds, longer training: for an accelerator; not measured.

Override any field, e.g. ``--config.depths="(4,16,64)" --config.train_sizes="(100,1000)"
--config.datasets="('moons',)"``: a tuple is a Python literal, quoted for the shell, with quotes
around each string and a trailing comma for one element. Depths and sizes are sorted, deduplicated.
"""

from __future__ import annotations

import ml_collections

from jaxml.utils.config import base_config, check_preset

DATASETS = ("digits", "moons")


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
    check_preset(preset)
    config = base_config()
    config.datasets = DATASETS
    config.depths = (4, 8, 16, 32, 64)  # Discrete ResNets, all at the same horizon T.
    config.include_ode = True  # Also train the continuous-time model (neural ODE).
    config.train_sizes = (100, 300, 1000)  # S; nested subsets of one fixed permutation.
    config.num_seeds = 2  # Seeds × sizes are trained at once with vmap.
    config.model = ml_collections.ConfigDict(
        {
            "width": 16,
            "horizon": 1.0,  # T
            "alpha": 0.1,
            "beta": 0.1,
            "learn_thresholds": True,  # The paper suggests learning the dead zone.
            # Variance of each block matrix at init is init_scale / width: small, so the bound's
            # norms are set by training rather than by the random start.
            "init_scale": 0.1,
            "ode_nodes": 8,  # θ(t) piecewise linear between ode_nodes + 1 nodes.
            "ode_solver": "rk4",
            "ode_steps": 16,
        }
    )
    config.train_steps = 400
    config.batch_size = 64
    config.learning_rate = 3e-3
    config.chunk_size = 200
    config.margin = 1.0  # γ of the ramp loss (paper bound) and of BFT's margin loss.
    config.delta = 0.05
    config.split_seed = 0
    config.digits_test_fraction = 0.2
    config.moons_train = 1000  # Training pool of make_moons (test set separate).
    config.moons_test = 2000
    config.moons_noise = 0.3
    config.checkpoint_every_chunks = 3
    config.tensorboard = False
    if preset == "full":
        config.train_sizes = (50, 100, 200, 400, 800, 1400)
        config.moons_train = 1400
        config.num_seeds = 5
        config.model.width = 64
        config.model.ode_nodes = 16
        config.model.ode_steps = 64
        config.train_steps = 5000
        config.chunk_size = 500
    return config

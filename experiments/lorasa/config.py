"""LoRASA (Zhang, Kapoor, Sun, arXiv 2502.05573) on SMAX: shared parameters (PS, with and without
the one-hot agent id), one network per agent (NPS) and PS + per-agent LoRA adapters (LoRASA,
two-phase: PS, then adapters on the frozen backbone), with IPPO (``jaxml.rl.mappo``).

  python -m experiments.lorasa.main --preset=quick --workdir=results/quick/lorasa
      # SMAX 3m, 120k env steps per run (LoRASA: 60k PS + 60k adapters), 2 vmapped seeds,
      # four runs. A few minutes on 2 CPU cores (README: the measured time and figures).
  python -m experiments.lorasa.main --preset=full
      # SMAX 3s5z (the paper's map), 1e7 steps, 5 seeds, plus the rank (1, 4, 8, 16),
      # placement (head, last 2) and switch-time (25%, 75%) ablations. For an accelerator; not run.
  python -m experiments.lorasa.mabrax --preset=full
      # MABrax ant_4x2, halfcheetah_6x1, walker2d_2x3 (``config.mabrax``): PS, PS+id, NPS and
      # LoRASA with per-agent tanh-Gaussian heads, 1e7 steps, 5 seeds. For an accelerator; not
      # run. The quick preset has no MABrax task (compiling one takes 40-125 s on 2 CPU cores).

Every run trains ``config.runs.<run>`` (a ``mappo.default_config("ippo")`` with the run's
``parameter_sharing``, ``agent_id`` and ``lora.*``); override any field,
``--config.runs.lorasa.lora.rank=4``. ``run_names`` picks the runs.
"""

from __future__ import annotations

from typing import NamedTuple

import ml_collections

from jaxml.rl import mappo
from jaxml.utils.config import base_config, check_preset


class Run(NamedTuple):
    label: str  # For plots and tables.
    parameter_sharing: str  # mappo's config.parameter_sharing.
    agent_id: bool
    lora: dict  # Overrides of config.lora (rank, placement, ...).
    switch: float = 0.5  # LoRASA: share of total_timesteps trained as PS before the adapters.


RUNS = {
    "ps": Run("PS", "shared", False, {}),
    "ps_id": Run("PS+id", "shared", True, {}),
    "nps": Run("NPS", "independent", False, {}),
    "lorasa": Run("LoRASA r=8", "lora", True, {}),
    "lorasa_r1": Run("LoRASA r=1", "lora", True, {"rank": 1, "alpha": 1.0}),
    "lorasa_r4": Run("LoRASA r=4", "lora", True, {"rank": 4, "alpha": 4.0}),
    "lorasa_r16": Run("LoRASA r=16", "lora", True, {"rank": 16, "alpha": 16.0}),
    "lorasa_head": Run("LoRASA head only", "lora", True, {"placement": "head"}),
    "lorasa_last2": Run("LoRASA last 2", "lora", True, {"placement": "last_k", "last_k": 2}),
    "lorasa_switch25": Run("LoRASA switch 25%", "lora", True, {}, 0.25),
    "lorasa_switch75": Run("LoRASA switch 75%", "lora", True, {}, 0.75),
}


def run_config(run: Run, total_timesteps) -> ml_collections.ConfigDict:
    """IPPO at ``experiments.marl``'s SMAX settings (64 envs x 64 steps, 4 x 4 minibatches, lr
    5e-4 annealed linearly to 0, ReLU 64-64, entropy 0.01) in the run's parameter mode; LoRASA at
    the authors' r = α = 8 on every actor layer, backbone frozen in phase 2, the critic trained
    throughout, and its two phases on one learning-rate decay over the whole budget."""
    config = mappo.default_config("ippo")
    config.update(num_envs=64, num_steps=64, total_timesteps=total_timesteps)
    config.eval_max_steps = 128  # SMAX's limit: 100 steps.
    config.parameter_sharing = run.parameter_sharing
    config.agent_id = run.agent_id
    config.lora.update(run.lora)
    # lora.phase1_timesteps 0: the launcher sets it to the run's switch share of its budget.
    return config


# MABrax splits (jaxmarl) and the adapter's padding each needs (None: equal per-agent sizes).
MABRAX_TASKS = {"ant_4x2": None, "halfcheetah_6x1": "max", "walker2d_2x3": "max"}


def mabrax_run_config(run: Run, total_timesteps, episode_length) -> ml_collections.ConfigDict:
    """IPPO with per-agent tanh-squashed Gaussian heads at the paper's MAMuJoCo settings (lr
    3e-4, entropy 0, clip 0.2, 3 epochs, GAE λ 0.95; its 4 000 steps per update as 40 envs x 100
    steps), tanh 64-64, observations standardised, in the run's parameter mode.

    The learning rate is constant (``anneal_lr=False``) in every mode, the default of the MAPPO
    ``onpolicy`` codebase the paper builds on (its ``use_linear_lr_decay`` is off unless passed;
    our notes do not say whether its scripts pass it). (With annealing, as on SMAX, LoRASA's two
    phases follow one decay: ``mappo.phase_configs``.)"""
    config = run_config(run, total_timesteps)
    config.update(
        num_envs=40,
        num_steps=100,
        update_epochs=3,
        num_minibatches=4,
        learning_rate=3e-4,
        anneal_lr=False,
        ent_coef=0.0,
        activation="tanh",
        normalize_observations=True,
    )
    config.eval_max_steps = episode_length
    return config


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
    check_preset(preset)
    config = base_config()
    config.scenario = "3m"
    config.run_names = ("ps", "ps_id", "nps", "lorasa")
    config.num_seeds = 2
    # Per run and seed (LoRASA: both phases together); every run's total_timesteps refers to it.
    config.total_timesteps = ml_collections.FieldReference(120_000)
    config.num_chunks = 4
    config.checkpoint_every_chunks = 4
    # Evaluate the policy every this many chunks (and at the end); 1 gives an evaluated curve.
    # A plain int, not a reference to num_chunks: setting a reference sets num_chunks too.
    config.eval_every_chunks = config.num_chunks
    # Fresh episodes per seed for the final policy (argmax actions); every run refers to it.
    config.eval_episodes = ml_collections.FieldReference(32)
    config.tensorboard = False
    if preset == "full":
        config.scenario = "3s5z"
        config.run_names = tuple(RUNS)
        config.num_seeds = 5
        config.total_timesteps = 10_000_000
        config.num_chunks = 50
        config.eval_every_chunks = 50
    config.runs = ml_collections.ConfigDict(
        {name: run_config(run, config.get_ref("total_timesteps")) for name, run in RUNS.items()}
    )
    for name in RUNS:
        config.runs[name].eval_episodes = config.get_ref("eval_episodes")
    # MABrax (experiments/lorasa/mabrax.py): the same runs with continuous heads, per task in
    # ``tasks`` (quick: none), each run's config under ``mabrax.runs.<run>``.
    mabrax = ml_collections.ConfigDict()
    mabrax.tasks = ()
    mabrax.run_names = ("ps_id", "lorasa")
    mabrax.total_timesteps = ml_collections.FieldReference(100_000)
    mabrax.episode_length = ml_collections.FieldReference(100)
    mabrax.backend = "positional"  # jaxmarl's default physics pipeline.
    if preset == "full":
        mabrax.tasks = tuple(MABRAX_TASKS)
        mabrax.run_names = ("ps", "ps_id", "nps", "lorasa")
        mabrax.total_timesteps = 10_000_000
        mabrax.episode_length = 1000  # MAMuJoCo's episodes.
    mabrax.runs = ml_collections.ConfigDict(
        {
            name: mabrax_run_config(
                run, mabrax.get_ref("total_timesteps"), mabrax.get_ref("episode_length")
            )
            for name, run in RUNS.items()
        }
    )
    for name in RUNS:
        mabrax.runs[name].eval_episodes = config.get_ref("eval_episodes")
    config.mabrax = mabrax
    return config

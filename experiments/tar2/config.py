"""TAR² (Kapoor et al., arXiv 2502.04864) on sparse SMAX and LBF: every method, IPPO and MAPPO.

  python -m experiments.tar2.main --preset=quick --workdir=results/quick/tar2
      # SMAX 3m, horizon 20 (21 transitions), team reward released at the episode's end.
      # IPPO with four methods as slots of one compiled program: sparse, dense (the ceiling),
      # TAR² and AREL; 2 vmapped seeds, 40,320 env steps per run. STAS, MAPPO and the
      # ablations (uniform, temporal-only, agent-only) are left out for make run's 120 s
      # (README.md has the profile and the timings); add them with
      # --config.algorithms="('ippo','mappo')" (MAPPO: sparse and TAR²) and
      # --config.ippo.tar2.methods="('sparse','dense','uniform','tar2','tar2_temporal',
      # 'tar2_agent','arel','stas')".
  python -m experiments.tar2.main --preset=quick --config.scenarios="('lbf',)" \
      --config.total_timesteps=96000 --config.num_chunks=6 \
      --config.ippo.tar2.methods="('sparse','dense','tar2','arel','stas')"
      # The second task: cooperative Level-Based Foraging (6x6, 2 agents, 2 items that need
      # both, 20 steps) with the team reward released at the end (experiments.tar2.lbf);
      # about 6 min on a loaded 2-core CPU, so not in the quick preset (README.md: results).
  python -m experiments.tar2.main --preset=quick --config.scenarios="('halfcheetah_6x1',)" \
      --config.total_timesteps=64000 --config.num_chunks=4 --config.checkpoint_every_chunks=4
      # The continuous-action task: MABrax halfcheetah_6x1 (6 agents, one joint each),
      # episodes of 100 steps with the team return released at the end
      # (experiments.tar2.mabrax), IPPO with tanh-Gaussian heads at LoRASA's MAMuJoCo PPO
      # settings; about 25 min on a loaded 2-core CPU (README.md: results).
  python -m experiments.tar2.main --preset=full
      # The paper's SMAC maps in SMAX (5m_vs_6m, 10m_vs_11m, 3s5z) at horizon 50, LBF
      # (8x8, 3 agents, 3 items, 50 steps) and MABrax halfcheetah_6x1 (episodes of 100
      # steps), the authors' return-model size and schedule
      # (3 blocks, 64 wide, 4 heads; warm-up 200 episodes, an update every 100 of 200 epochs,
      # batch 64, buffer 5000), every method for IPPO and MAPPO, 5 seeds, 1.5e6 env steps
      # per run (30 000 episodes of 50 steps, the authors' SMACLite budget). For an
      # accelerator; not run.

What the quick preset shrinks, and why: the map (3m: 3 marines a side, the smallest), the
horizon (20 instead of 50: most 3m episodes under a learning policy end earlier), the return
model (1 block, 16 wide, 2 heads), its schedule (warm-up 32 episodes, an update every 32 of
8 epochs on batches of 16, buffer 256 episodes), the policy budget (2 seeds, 16
environments, 120 updates), the evaluation (16 episodes per seed), the algorithms (IPPO only;
the full preset runs MAPPO too, so the claim "with TAR², IPPO does as well as MAPPO" is
tested there or with the override above, not by the quick run) and IPPO's methods (no STAS,
no uniform and no ablations; the full preset runs all eight for IPPO and MAPPO). Every field
is overridable (``--config.ippo.tar2.num_epochs=50``). ``elapsed_time`` adds ``t / T`` to
every agent's observation (README: why, and the run without it).
"""

from __future__ import annotations

import ml_collections

from experiments.tar2 import mabrax
from jaxml.rl import tar2_train
from jaxml.utils.config import base_config, check_preset

LABELS = {
    "sparse": "sparse",
    "dense": "dense (ceiling)",
    "uniform": "uniform R/T",
    "tar2": "TAR²",
    "tar2_temporal": "TAR² temporal-only",
    "tar2_agent": "TAR² agent-only",
    "arel": "AREL",
    "stas": "STAS",
}


def trainer_config(algorithm: str, methods, horizon, total_timesteps, eval_episodes):
    """IPPO/MAPPO at ``experiments.marl``'s SMAX settings (ReLU 64-64, lr 5e-4, entropy 0.01),
    rollouts of one whole episode (``horizon + 1`` transitions; the launcher sets it from
    ``config.horizon``), 4 epochs of 2 minibatches."""
    config = tar2_train.default_config(algorithm)
    config.update(
        num_envs=16,
        num_steps=horizon + 1,
        total_timesteps=total_timesteps,
        update_epochs=4,
        num_minibatches=2,
    )
    config.eval_episodes = eval_episodes
    config.eval_max_steps = horizon + 2
    config.tar2.update(
        methods=methods,
        width=16,
        depth=1,
        num_heads=2,
        batch_size=16,
        buffer_size=256,
        warmup_episodes=32,
        update_every_episodes=32,
        num_epochs=8,
        num_coalitions=2,
    )
    return config


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
    check_preset(preset)
    config = base_config()
    config.scenarios = ("3m",)
    config.horizon = 20
    # The second task (scenario "lbf"; experiments.tar2.lbf): cooperative Level-Based Foraging
    # with the team reward; episodes of at most time_limit transitions.
    config.lbf = ml_collections.ConfigDict(
        {"grid_size": 6, "num_agents": 2, "num_food": 2, "time_limit": 20}
    )
    # The continuous-action task (scenarios in experiments.tar2.mabrax.TASKS, e.g.
    # "halfcheetah_6x1"): MABrax with the team return released at the episode's end; episodes
    # of episode_length transitions, and the PPO fields in mabrax.ppo replace the SMAX ones.
    config.mabrax = mabrax.default_config()
    # Observe t / horizon (tar2_train.ElapsedTime), every method alike: without it a
    # feed-forward critic cannot see the time left, which redistributed returns depend on.
    config.elapsed_time = True
    # One job: every (scenario, algorithm) job compiles SMAX's rollout, the evaluator and the
    # return models afresh (about 35 s on a quiet 2-core CPU), which two jobs cannot afford
    # within make run's 120 s per experiment. MAPPO runs in the full preset.
    config.algorithms = ("ippo",)
    config.num_seeds = 2
    # Per run (every slot and seed); the algorithms' configs refer to it.
    config.total_timesteps = ml_collections.FieldReference(16 * 21 * 120)  # 120 updates.
    config.num_chunks = 4
    config.checkpoint_every_chunks = 4
    config.eval_episodes = ml_collections.FieldReference(16)
    config.tensorboard = False
    # TAR², two of the claims' rivals (AREL, sparse) and the ceiling. STAS is a second
    # return-model network, whose compilation and updates cost about a quarter of the run
    # (README.md: the profile); it runs in the full preset, with uniform and both ablations.
    ippo_methods = ("sparse", "dense", "tar2", "arel")
    mappo_methods = ("sparse", "tar2")
    if preset == "full":
        config.scenarios = ("5m_vs_6m", "10m_vs_11m", "3s5z", "lbf", "halfcheetah_6x1")
        config.lbf.update(grid_size=8, num_agents=3, num_food=3, time_limit=50)
        config.algorithms = ("ippo", "mappo")
        config.horizon = 50
        config.num_seeds = 5
        config.total_timesteps = 1_500_000
        config.num_chunks = 30
        config.eval_episodes = 64
        ippo_methods = mappo_methods = tar2_train.METHODS
    steps, episodes = config.get_ref("total_timesteps"), config.get_ref("eval_episodes")
    config.ippo = trainer_config("ippo", ippo_methods, config.horizon, steps, episodes)
    config.mappo = trainer_config("mappo", mappo_methods, config.horizon, steps, episodes)
    if preset == "full":  # The authors' return model and schedule (tar2.default_config).
        for name in ("ippo", "mappo"):
            config[name].num_envs = 64
            config[name].tar2.update(
                width=64, depth=3, num_heads=4, batch_size=64, buffer_size=5000,
                warmup_episodes=200, update_every_episodes=100, num_epochs=200,
                num_coalitions=5,
            )  # fmt: skip
    return config

"""Emergent language on ScoreG and TemporalG ("From Grunts to Lexicons", Piriyajitakonkij et
al., arXiv 2505.12872): populations of independent IPPO-LSTM agents (``jaxml.rl.population``,
the authors' agent ``jaxml.models.foraging_agent``), the messages-zeroed ablation, cultural
transmission, and every language property ``jaxml.language`` measures.

  python -m experiments.language.main --preset=quick --workdir=results/quick/language
      # ScoreG, the CPU agent (grid MLP 32-16, LSTM 32), 2 runs (a pair with messages, a pair
      # with messages zeroed) and the pair's newcomer run (cultural transmission), 2 vmapped
      # seeds, 86k env steps per run, lr 1e-3. ~92 s wall with a warm compilation cache
      # (README); expected: newcomer reaches 0.1 unseen-score success in fewer steps.
      # Shrunk from the paper to aim at <= 120 s on 2 quiet CPU cores: the agent, the budget
      # (3e8 steps in the paper), the rollout (48 envs x 16 steps, not 128 x 32), the learning
      # rate (2.5e-4 in the paper), the runs, the evaluation and record sizes. README: the
      # measured times and figures.
  python -m experiments.language.main --preset=full
      # The paper's scale: the authors' agent (256-256-128-16, LSTM 128), 128 envs x 32 steps,
      # lr 2.5e-4 annealed, 3e8 env steps per run, populations of 2, 3, 6, 9, 12, 15, the
      # TemporalG pair, zeroed pair and population of 3, a newcomer in the population of 3,
      # 3 seeds.
      # For an accelerator; not run. Expected (paper): >= 0.9 success on unseen scores.

Every run is ``config.runs.<run>``: a ``population.default_config()`` at the paper's PPO settings
(clip 0.1 with value clipping, entropy 0.01 on moves and 0.002 on messages, 4 epochs x 4
minibatches, gamma 0.99, lambda 0.95, grad norm 0.5, Adam eps 1e-5) with the run's population
size, channel (``messages``: ``"learned"`` or ``"zero"``) and game (``game``); override any field,
``--config.runs.pop6.population.graph=ring``.
"""

from __future__ import annotations

from typing import NamedTuple

import ml_collections

from jaxml.models import foraging_agent
from jaxml.rl import population
from jaxml.utils.config import base_config, check_preset

SCOREG, TEMPORALG = "ForagingScoreG-v0", "ForagingTemporalG-v0"


class Run(NamedTuple):
    label: str
    size: int  # Population size N.
    messages: str  # "learned" or "zero" (the no-communication ablation).
    game: str = SCOREG  # SCOREG or TEMPORALG.


RUNS = {
    "pair": Run("pair (N=2)", 2, "learned"),
    "zero": Run("pair, messages zeroed", 2, "zero"),
    "pop3": Run("population N=3", 3, "learned"),
    "pop6": Run("population N=6", 6, "learned"),
    "pop9": Run("population N=9", 9, "learned"),
    "pop12": Run("population N=12", 12, "learned"),
    "pop15": Run("population N=15", 15, "learned"),
    # TemporalG: pick the two items up in the order they appeared during the frozen start;
    # evaluated on the unseen appearance times (appearance_split "test").
    "temporal": Run("TemporalG pair (N=2)", 2, "learned", TEMPORALG),
    "temporal_zero": Run("TemporalG pair, messages zeroed", 2, "zero", TEMPORALG),
    "temporal_pop3": Run("TemporalG population N=3", 3, "learned", TEMPORALG),
}


def run_config(run: Run, preset: str, total_timesteps) -> ml_collections.ConfigDict:
    """One run's trainer config (population fields plus ``agent``, the network's)."""
    quick = preset == "quick"
    config = population.default_config()
    config.update(
        num_envs=48 if quick else 128 * max(1, run.size // 2),
        num_steps=16 if quick else 32,
        total_timesteps=total_timesteps,
        update_epochs=4,
        num_minibatches=4,
        learning_rate=1e-3 if quick else 2.5e-4,
        anneal_lr=not quick,
        clip_eps=0.1,
        clip_value=True,
        vf_coef=0.5,
        ent_coef=0.01,
        max_grad_norm=0.5,
        gamma=0.99,
        gae_lambda=0.95,
    )
    config.head_ent_coefs = (0.01, 0.002)  # Moves, messages (the authors' entropy weights).
    config.agent = foraging_agent.agent_config("cpu" if quick else "paper")
    config.agent.messages = run.messages
    config.rnn_size = config.agent.get_ref("rnn_size")
    config.population.size = run.size
    config.game = run.game
    return config


def get_config(preset: str = "quick") -> ml_collections.ConfigDict:
    check_preset(preset)
    config = base_config()
    quick = preset == "quick"
    # Quick: two runs (each run compiles its own programs, ~60-80 s of CPU cold; README);
    # --config.run_names="('pair','zero','pop3','pop6')" adds the populations of 3 and 6.
    config.run_names = ("pair", "zero") if quick else tuple(RUNS)
    config.num_seeds = 2 if quick else 3
    # Env steps per run (all its pairs together); every run refers to it.
    config.total_timesteps = ml_collections.FieldReference(86_016 if quick else 300_000_000)
    # Quick: 8 evaluation points per curve (14 rounds per chunk; the training is the same as with
    # 4 chunks), so steps-to-threshold has a resolution of 1/8 of the budget.
    config.num_chunks = 8 if quick else 50
    config.checkpoint_every_chunks = 4 if quick else 5
    # Unseen-score evaluation of the last round's pairs after every chunk (argmax actions).
    config.eval_episodes = ml_collections.FieldReference(32 if quick else 256)
    # The analysis of each final population: every (slot 0, slot 1) pairing on both score splits
    # (cross_play_episodes each) and language records of team (0, 1) on the unseen scores.
    config.cross_play_episodes = 64 if quick else 512
    # Quick: the unseen scores only (training scores: the training curve), one compile less.
    config.cross_play_splits = ("test",) if quick else ("train", "test")
    config.language_episodes = 300 if quick else 2000
    config.tensorboard = False
    # A GIF of one unseen-score episode of the first run's trained team (seed 0, members 0 and
    # 1) with the tokens drawn beside the agents (`language.render`), written to
    # `<workdir>/episode.gif`.
    config.episode_gif = True
    # Cultural transmission (item 3 of issue 16; the protocol is inferred, foraging.md): after each
    # run in `runs`, member `member` of every seed's final population is replaced by a fresh
    # init (`population.newcomer_state`) and the population trains for the run's budget again.
    # The from-scratch baseline is the run itself: the same trainer, budget and seed keys, and
    # the newcomer is bitwise its member `member` at the start. Steps to threshold: the first
    # evaluation at which the unseen-score success (the evaluator, trailing mean of `window`
    # evaluations, seed mean) reaches `threshold`. Thresholds fixed before any newcomer run:
    # quick 0.1 (below the from-scratch pair's final unseen-score success in earlier quick runs,
    # 0.16 +- 0.10, README), full 0.8 (below the paper's >= 0.9). `runs=()` turns it off.
    config.transmission = ml_collections.ConfigDict(
        {
            "runs": ("pair",) if quick else ("pop3",),
            "member": 0,
            "threshold": 0.1 if quick else 0.8,
            "window": 2,
        }
    )
    config.runs = ml_collections.ConfigDict(
        {
            name: run_config(run, preset, config.get_ref("total_timesteps"))
            for name, run in RUNS.items()
        }  # fmt: skip
    )
    for name in RUNS:
        config.runs[name].eval_episodes = config.get_ref("eval_episodes")
    return config

"""Emergent-language speed: the Foraging Games stepped as an agent sees them, and training.

"From Grunts to Lexicons: Emergent Language from Cooperative Foraging" (Piriyajitakonkij et al.,
arXiv 2505.12872). Two tables, each measured side by side in one process, after compilation and
a warm-up run, timed in turns (so load drifts hit every row alike), median of ``--repeats``:

(a) **Env steps/s with the timestep consumed.** ``benchmarks/env_throughput.py`` drops each
    step's timestep, so XLA removes the observer and its rows time state transitions only. Here
    every step's observation (every leaf) and reward are summed into a checksum that the scan
    carries and returns, so each step pays for what an agent gets. Both sides run jumanji's
    ``AutoResetWrapper`` under ``VmapWrapper`` with uniformly random actions
    (``jaxml.envs.sample_action``, one ``jax.random.bits`` per env and step) at the same size:
    ``--num_envs`` (1,024) envs, 5x5 grid, 2 agents, a 3x3 view, the same horizon. The peer is
    jumanji's ``LevelBasedForaging`` (fov 1: a 3x3 window, grid observations, 1 food: its
    generator cannot place 2 on a 5x5 grid). A "floor" row steps a null environment through the
    same wrapper and sampler (its step and reset only copy their input into an observation of
    ScoreG's shapes): what any env pays here for the wrapper, the sampler, the checksum and the
    scan.

(b) **Training throughput** of the population trainer (``jaxml.rl.population``, the language
    experiment's ``pop6`` run: ``--population`` members, ``P = N / 2`` pairs trained at once,
    the agent of ``jaxml.models.foraging_agent``: ``--agent=cpu`` (grid MLP 32-16, LSTM 32) or
    ``paper`` (256-256-128-16, LSTM 128)): env steps per second of ``trainer.step`` (collect and
    PPO-LSTM update, ``--rounds`` rounds in one jitted scan), beside random stepping of the same
    ScoreG through (a)'s rollout at the trainer's env count and rollout length, and the memory
    per member (its parameters and Adam state; the jitted scan of rounds' temporary buffers / N,
    from XLA's memory analysis).

  python -m benchmarks.language_speed
  python -m benchmarks.language_speed --train_envs=1536 --train_steps=32 --agent=paper  # GPU
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from absl import app, flags
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import StepType, TimeStep
from jumanji.wrappers import AutoResetWrapper, VmapWrapper

from benchmarks._peers import lbf
from benchmarks._timing import Builder, interleaved_times
from jaxml import envs

_NUM_ENVS = flags.DEFINE_integer("num_envs", 1024, "(a) parallel environments.")
_NUM_STEPS = flags.DEFINE_integer("num_steps", 100, "(a) steps per jitted scan.")
_REPEATS = flags.DEFINE_integer("repeats", 5, "Timed repetitions (the median is reported).")
_POPULATION = flags.DEFINE_integer("population", 6, "(b) population size N.")
_TRAIN_ENVS = flags.DEFINE_integer("train_envs", 48, "(b) environments of a round (all pairs).")
_TRAIN_STEPS = flags.DEFINE_integer("train_steps", 16, "(b) rollout length per round.")
_ROUNDS = flags.DEFINE_integer("rounds", 4, "(b) training rounds per timed run (0: skip (b)).")
_AGENT = flags.DEFINE_enum("agent", "cpu", ["cpu", "paper"], "(b) the agent network.")
_OUT = flags.DEFINE_string("out", "results/benchmarks/language_speed.json", "JSON output path.")


def checksum(timestep: TimeStep) -> jax.Array:
    """[] float32: the sum of every observation leaf and the rewards (what an agent reads)."""
    leaves = jax.tree.leaves(timestep.observation) + [timestep.reward]
    return sum(jnp.sum(x.astype(jnp.float32)) for x in leaves)


def consumed_rollout(make_env: Callable[[], Environment], jit: Callable = jax.jit) -> Builder:
    """A builder of ``(init, run)``: ``run(carry)`` takes ``num_envs * num_steps`` auto-reset
    steps with random actions and adds each step's ``checksum`` to the carried total.

    The carry is ``(env_state, key, total [] float32)``; ``init`` and ``run`` are ``jit``-ed.
    """

    def build(num_envs: int, num_steps: int):
        env = VmapWrapper(AutoResetWrapper(make_env()))
        spec = env.action_spec
        sample = jax.vmap(envs.sample_action, in_axes=(None, 0))

        def body(carry, _):
            state, key, total = carry
            key, key_act = jax.random.split(key)
            action = sample(spec, jax.random.split(key_act, num_envs))
            state, timestep = env.step(state, action)
            return (state, key, total + checksum(timestep)), None

        def init(key):
            key_reset, key_run = jax.random.split(key)
            state, timestep = env.reset(jax.random.split(key_reset, num_envs))
            return state, key_run, checksum(timestep)

        run = jit(lambda carry: jax.lax.scan(body, carry, None, length=num_steps)[0])
        return jit(init), run

    return build


class NullState(NamedTuple):
    step_count: jax.Array  # [] int32.
    key: jax.Array  # PRNG key (auto-reset splits it).


class NullGame(Environment):
    """The floor: ScoreG's specs, and a step that only writes the action into an observation.

    Reset and step cost a few copies; episodes end every ``horizon`` steps, so the wrapper's
    auto-reset runs as often as ScoreG's at its longest.
    """

    def __init__(self, game: Environment):
        self.game = game
        super().__init__()

    def _timestep(self, state, action, step_type):
        obs = self.game.observation_spec.generate_value()
        first = action.action[:, None].astype(jnp.float32)
        obs = obs._replace(
            view=jnp.broadcast_to(first[:, None, None], obs.view.shape),
            position=jnp.broadcast_to(action.action[:, None], obs.position.shape),
            message=action.message,
        )
        zeros = jnp.zeros((self.game.num_agents,), jnp.float32)
        last = step_type == StepType.LAST
        return TimeStep(
            step_type=step_type,
            reward=zeros + state.step_count.astype(jnp.float32),
            discount=jnp.where(last, 0.0, 1.0 + zeros),
            observation=obs,
        )

    def reset(self, key):
        state = NullState(jnp.zeros((), jnp.int32), key)
        action = self.action_spec.generate_value()
        return state, self._timestep(state, action, StepType.FIRST)

    def step(self, state, action):
        state = NullState(state.step_count + 1, state.key)
        done = state.step_count >= self.game.horizon
        step_type = jnp.where(done, StepType.LAST, StepType.MID)
        return state, self._timestep(state, action, step_type)

    @property
    def observation_spec(self):
        return self.game.observation_spec

    @property
    def action_spec(self):
        return self.game.action_spec

    @property
    def reward_spec(self) -> specs.Array:
        return self.game.reward_spec

    @property
    def discount_spec(self) -> specs.BoundedArray:
        return self.game.discount_spec


class Row(NamedTuple):
    name: str
    builder: Builder
    peer: str  # The row whose rate is this row's denominator ("" for none).


def env_rows(jit: Callable = jax.jit) -> list[Row]:
    """(a): both games, their LBF peers at the same size and horizon, and the floor."""
    rows = []
    for game, horizon in (("ForagingScoreG-v0", 10), ("ForagingTemporalG-v0", 20)):
        peer = f"LevelBasedForaging 5x5, 2 agents, 1 food, fov 1, T {horizon}"
        rows.append(Row(peer, consumed_rollout(lbf(5, 1, 1, horizon, True), jit), ""))
        rows.append(Row(game, consumed_rollout(lambda game=game: envs.make(game), jit), peer))
    floor = consumed_rollout(lambda: NullGame(envs.make("ForagingScoreG-v0")), jit)
    rows.append(Row("floor (null env, ScoreG specs, T 10)", floor, ""))
    return rows


def env_table(num_envs: int, num_steps: int, repeats: int, jit: Callable = jax.jit) -> list[dict]:
    """(a)'s rows: ``{name, steps_per_s, peer, ratio, ratio_min, ratio_max}``: the median rate,
    its ratio over the peer row's median rate, and the extremes of the per-repetition ratios
    (repetition ``r`` of a row against repetition ``r`` of its peer, timed next to each other)."""
    rows = env_rows(jit)
    times = interleaved_times([r.builder for r in rows], num_envs, num_steps, repeats)
    by_name = dict(zip([r.name for r in rows], times, strict=True))
    out = []
    for row, ts in zip(rows, times, strict=True):
        rate = num_envs * num_steps / statistics.median(ts)
        entry = {"name": row.name, "steps_per_s": rate, "peer": row.peer, "ratio": None}
        if row.peer:
            peer = by_name[row.peer]
            paired = [p / t for p, t in zip(peer, ts, strict=True)]
            entry.update(ratio=statistics.median(peer) / statistics.median(ts),
                         ratio_min=min(paired), ratio_max=max(paired))  # fmt: skip
        out.append(entry)
    return out


def tree_bytes(tree: Any) -> int:
    return int(sum(np.asarray(x).nbytes for x in jax.tree.leaves(tree)))


def train_row(
    population_size: int, num_envs: int, num_steps: int, rounds: int, agent: str, repeats: int
) -> dict:
    """(b): the population trainer's env steps/s beside random stepping, and memory per member."""
    from experiments.language import config as language_config
    from experiments.language import main as language_main

    config = language_config.get_config("quick")
    run = config.runs.pop6
    run.population.size = population_size
    run.agent = language_config.foraging_agent.agent_config(agent)
    run.rnn_size = run.agent.rnn_size
    run.num_envs, run.num_steps = num_envs, num_steps
    config.total_timesteps = rounds * num_envs * num_steps
    trainer, _ = language_main.make_trainer(config, "pop6")
    state = jax.block_until_ready(jax.jit(trainer.init)(jax.random.PRNGKey(0)))
    train = jax.jit(
        lambda s: jax.lax.scan(lambda c, _: (trainer.step(c)[0], None), s, None, length=rounds)[0]
    )
    compiled = train.lower(state).compile()
    memory = compiled.memory_analysis()
    temp = getattr(memory, "temp_size_in_bytes", None) if memory is not None else None
    steps = rounds * num_envs * num_steps
    times = []
    state = jax.block_until_ready(compiled(state))  # Warm-up.
    env_builder = consumed_rollout(lambda: language_main.game(config, "pop6", "train"))
    init, run_env = env_builder(num_envs, num_steps * rounds)
    carry = jax.block_until_ready(run_env(jax.block_until_ready(init(jax.random.PRNGKey(1)))))
    env_times = []
    for _ in range(repeats):
        start = time.perf_counter()
        state = jax.block_until_ready(compiled(state))
        times.append(time.perf_counter() - start)
        start = time.perf_counter()
        carry = jax.block_until_ready(run_env(carry))
        env_times.append(time.perf_counter() - start)
    train_rate = steps / statistics.median(times)
    env_rate = steps / statistics.median(env_times)
    per_member = (tree_bytes(state.params) + tree_bytes(state.opt_state)) / population_size
    return {
        "name": f"population N={population_size} ({agent} agent), ScoreG",
        "num_envs": num_envs,
        "num_steps": num_steps,
        "rounds": rounds,
        "pairs_per_round": int(trainer.pairing.num_pairs),
        "train_steps_per_s": train_rate,
        "random_steps_per_s": env_rate,
        "train_over_random": train_rate / env_rate,
        "member_param_and_adam_bytes": per_member,
        "temp_bytes_per_member": None if temp is None else temp / population_size,
    }


def print_train(row: dict) -> None:
    print(f"(b) {row['name']}: {row['num_envs']} envs x {row['num_steps']} steps per round, "
          f"{row['pairs_per_round']} pairs at once, {row['rounds']} rounds per run")  # fmt: skip
    print(f"    train {row['train_steps_per_s']:10.4g} env steps/s   random stepping "
          f"{row['random_steps_per_s']:10.4g} env steps/s   ratio "
          f"{row['train_over_random']:.3f}")  # fmt: skip
    mib = row["member_param_and_adam_bytes"] / 2**20
    temp = row["temp_bytes_per_member"]
    temp = "n/a" if temp is None else f"{temp / 2**20:.2f} MiB"
    print(f"    per member: parameters + Adam {mib:.3f} MiB, "
          f"the jitted rounds' temporary buffers / N {temp}")  # fmt: skip


def main(argv):
    del argv
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"device: {jax.devices()[0].device_kind} ({jax.default_backend()}), "
          f"{platform.machine()}, load average {load:.2f}")  # fmt: skip
    n, t, repeats = _NUM_ENVS.value, _NUM_STEPS.value, _REPEATS.value
    print(f"(a) {n} envs x {t} steps per scan, observation and reward consumed, median of "
          f"{repeats}; env steps per second")  # fmt: skip
    print(f"{'name':52s} {'steps/s':>12s} {'ratio':>6s} {'min':>6s} {'max':>6s}  over")
    env = env_table(n, t, repeats)
    for row in env:
        ratios = " " * 20
        if row["ratio"]:
            ratios = f"{row['ratio']:6.2f} {row['ratio_min']:6.2f} {row['ratio_max']:6.2f}"
        print(f"{row['name']:52s} {row['steps_per_s']:12.4g} {ratios}  {row['peer']}")
    train = None
    if _ROUNDS.value > 0:
        train = train_row(_POPULATION.value, _TRAIN_ENVS.value, _TRAIN_STEPS.value,
                          _ROUNDS.value, _AGENT.value, repeats)  # fmt: skip
        print_train(train)
    out = Path(_OUT.value)
    out.parent.mkdir(parents=True, exist_ok=True)
    config = {"num_envs": n, "num_steps": t, "repeats": repeats, "load_average": load}
    record = {"device": str(jax.devices()[0]), "config": config, "env": env, "train": train}
    out.write_text(json.dumps(record, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    app.run(main)

"""jaxml's PPO next to brax's own PPO trainer at one budget and rollout shape (issue 15).

Both sides: ``--total_timesteps`` env steps (327,680), 256 envs x 128 steps per update (brax:
batch 256 x 8 minibatches x unroll 16), 4 epochs x 8 minibatches, lr 3e-4, γ 0.97, GAE λ 0.95,
entropy 1e-2, observation normalisation. Each run prints one JSON line: the final policy's
return over 128 evaluation episodes of up to 1,000 steps, deterministic (mean action) and
stochastic (brax's own evaluator is stochastic unless ``deterministic_eval``), with the trained
observation normaliser applied, and training steps/s excluding compilation (brax: its
``training/sps`` of the last epoch; jaxml: the compiled ``train`` timed on its own).

``--preset`` picks jaxml's config (``ppo.default_config(preset)``) and ``--set`` overrides
fields (``--set=clip_value=True --set=actor_hidden="(64,64)"``), for ablations. brax 0.14 calls
``jax.device_put_replicated`` (gone in jax 0.10); a stacking drop-in is installed first.

  python -m benchmarks.ppo_brax --side=brax --seeds=1
  python -m benchmarks.ppo_brax --side=jaxml --preset=continuous --seeds=3
"""

from __future__ import annotations

import ast
import functools
import json
import time

import jax
import jax.numpy as jnp
from absl import app, flags

_SIDE = flags.DEFINE_enum("side", "jaxml", ["jaxml", "brax"], "Which trainer.")
_ENV = flags.DEFINE_string("env", "inverted_pendulum", "brax environment name.")
_SEEDS = flags.DEFINE_integer("seeds", 3, "Seeds (jaxml: vmapped; brax: one run each).")
_TOTAL = flags.DEFINE_integer("total_timesteps", 327_680, "Env steps per run.")
_PRESET = flags.DEFINE_string("preset", "continuous", "ppo.default_config preset (jaxml).")
_SET = flags.DEFINE_multi_string("set", [], "jaxml config override field=python_literal (repeat).")
_EPISODES = flags.DEFINE_integer("eval_episodes", 128, "Evaluation episodes per seed.")

SHAPE = dict(num_envs=256, num_steps=128, update_epochs=4, num_minibatches=8)
HYPER = dict(learning_rate=3e-4, gamma=0.97, gae_lambda=0.95, ent_coef=1e-2)


def _literal(text: str):
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def run_jaxml() -> dict:
    from jaxml import envs
    from jaxml.rl import evaluate, ppo
    from jaxml.utils.trainer import make_train

    config = ppo.default_config(_PRESET.value)
    config.update(SHAPE, **HYPER, total_timesteps=_TOTAL.value, normalize_observations=True)
    for item in _SET.value:
        field, value = item.split("=", 1)
        config[field] = _literal(value)
    env = envs.make(f"brax/{_ENV.value}")
    trainer = ppo.make_trainer(config, env)
    train = jax.jit(jax.vmap(make_train(trainer)))  # The same trainer the evaluation reads.
    keys = jax.random.split(jax.random.PRNGKey(0), _SEEDS.value)
    compiled = train.lower(keys).compile()
    start = time.perf_counter()
    out = jax.block_until_ready(compiled(keys))
    seconds = time.perf_counter() - start
    eval_keys = jax.random.split(jax.random.PRNGKey(123), _SEEDS.value)
    row = {"side": "jaxml", "preset": _PRESET.value, "set": _SET.value}
    for mode in (True, False):
        run = functools.partial(
            evaluate, trainer.model, env=env, num_episodes=_EPISODES.value, max_steps=1000,
            deterministic=mode,
        )  # fmt: skip
        returns = jax.jit(jax.vmap(run))(out.state.params, eval_keys, out.state.rollout.normalizer)
        key = "deterministic" if mode else "stochastic"
        row[key] = [round(float(r), 1) for r in returns.returns.mean(-1)]
    row["steps_per_s"] = round(_SEEDS.value * _TOTAL.value / seconds)
    return row


def run_brax(seed: int) -> dict:
    jax.device_put_replicated = lambda x, devices: jax.tree.map(
        lambda a: jnp.stack([a] * len(devices)), x
    )
    from brax import envs
    from brax.training import acting
    from brax.training.agents.ppo import train as brax_ppo

    env = envs.get_environment(_ENV.value, backend="generalized")
    last = {}
    make_policy, params, _ = brax_ppo.train(
        environment=env, num_timesteps=_TOTAL.value, episode_length=1000, num_envs=256,
        batch_size=256, num_minibatches=8, unroll_length=16, num_updates_per_batch=4,
        learning_rate=3e-4, discounting=0.97, gae_lambda=0.95, entropy_cost=1e-2,
        normalize_observations=True, num_evals=3, seed=seed,
        progress_fn=lambda step, metrics: last.update(metrics),
    )  # fmt: skip
    eval_env = envs.training.wrap(env, episode_length=1000)
    row = {"side": "brax", "seed": seed}
    for mode in (True, False):
        evaluator = acting.Evaluator(
            eval_env, functools.partial(make_policy, deterministic=mode),
            num_eval_envs=_EPISODES.value, episode_length=1000, action_repeat=1,
            key=jax.random.PRNGKey(123),
        )  # fmt: skip
        metrics = evaluator.run_evaluation(params, {})
        key = "deterministic" if mode else "stochastic"
        row[key] = round(float(metrics["eval/episode_reward"]), 1)
    row["own_eval_stochastic"] = round(float(last["eval/episode_reward"]), 1)
    row["steps_per_s"] = round(float(last["training/sps"]))
    return row


def main(argv) -> None:
    del argv
    if _SIDE.value == "jaxml":
        print(json.dumps(run_jaxml()), flush=True)
    else:
        for seed in range(_SEEDS.value):
            print(json.dumps(run_brax(seed)), flush=True)


if __name__ == "__main__":
    app.run(main)

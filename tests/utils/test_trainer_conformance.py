"""One suite over every trainer: the contract ``run_trainer`` relies on.

For every registered RL trainer (``jaxml.rl.names()``), the library's supervised trainer and an
off-policy test double with a flashbax replay buffer in its state (``offpolicy_double``):
compiled once for every chunk (no retrace), vmapped seeds equal to the seeds run one by one,
exact resume after an interruption that leaves metric rows past the last checkpoint, and a NaN
metric stopping the run at its step with the last good checkpoint kept. The suite measured
10.5 min for all 8 trainers on one loaded 2-core worker, so A2C, TRPO, NPG and IPPO are slow.
"""

from __future__ import annotations

import dataclasses

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import envs, rl
from jaxml.rl import mappo
from jaxml.utils import runner
from jaxml.utils.checkpoint import Checkpointer
from jaxml.utils.supervised import supervised_trainer
from jaxml.utils.trainer import Trainer, member_metric, run_trainer
from tests.utils.offpolicy_double import make_dqn_trainer

STEPS = 4  # Steps of every run: 4 chunks of 1.
FAST = dict(tensorboard=False, progress_bar=False, num_chunks=STEPS)
TINY_RL = dict(
    num_envs=4, num_steps=8, total_timesteps=4 * 8 * STEPS, update_epochs=1, num_minibatches=2,
    hidden=(8,),
)  # fmt: skip


def rl_trainer(name: str) -> Trainer:
    config = rl.default_config(name)
    config.update(TINY_RL)
    if name == "a2c":  # One gradient step per rollout, by definition.
        config.update(update_epochs=1, num_minibatches=1)
    env = envs.make("gymnax/CartPole-v1")
    return rl.make_trainer(
        name, config, mappo.AsMultiAgent(env) if rl.is_multi_agent(name) else env
    )


def regression_trainer() -> Trainer:
    """Linear regression on a fixed random problem, minibatches drawn with replacement."""
    x = jax.random.normal(jax.random.PRNGKey(0), (64, 3))
    y = x @ jnp.array([1.0, -2.0, 0.5])

    def loss_fn(w, batch, key, setting):
        bx, by = batch
        return jnp.mean((bx @ w - by) ** 2), {}

    def sample_batch(key, setting):
        idx = jax.random.randint(key, (8,), 0, 64)
        return x[idx], y[idx]

    return supervised_trainer(
        init_params=lambda key, _: jax.random.normal(key, (3,)),
        sample_batch=sample_batch,
        loss_fn=loss_fn,
        optimizer=optax.adam(0.1),
        num_steps=STEPS,
        evaluate=lambda w, _: {"test_loss": jnp.mean((x @ w - y) ** 2)},
    )


def sac_trainer() -> Trainer:
    config = rl.default_config("sac")
    config.update(
        num_envs=4, total_timesteps=4 * STEPS, buffer_size=64, batch_size=4, learning_starts=8,
        actor_hidden=(8,), critic_hidden=(8,), eval_episodes=2, eval_max_steps=5,
    )  # fmt: skip
    return rl.make_trainer("sac", config, envs.make("gymnax/Pendulum-v1"))


BUILDERS = {
    **{name: (lambda name=name: rl_trainer(name)) for name in rl.names()},
    "supervised": regression_trainer,
    "dqn_double": lambda: make_dqn_trainer(
        envs.make("gymnax/CartPole-v1"), num_steps=STEPS, batch_size=4
    ),
}


def counting(trainer: Trainer) -> tuple[Trainer, list[int]]:
    """``trainer`` whose ``step`` counts how often it is traced."""
    traces = []

    def step(state):
        traces.append(1)
        return trainer.step(state)

    return dataclasses.replace(trainer, step=step), traces


def poisoned(trainer: Trainer, at_step: int) -> Trainer:
    """``trainer`` whose metrics turn NaN at step ``at_step`` (a counter rides in the state)."""

    def init(*args):
        return trainer.init(*args), jnp.zeros((), jnp.int32)

    def step(state):
        inner, count = state
        inner, metrics = trainer.step(inner)
        poison = jnp.where(count + 1 == at_step, jnp.nan, 0.0)
        return (inner, count + 1), {name: m + poison for name, m in metrics.items()}

    def evaluate(state):
        return trainer.evaluate(state[0])

    return dataclasses.replace(
        trainer,
        init=init,
        step=step,
        evaluate=evaluate if trainer.evaluate is not None else None,
        partition=lambda s, mesh: (trainer.partition(s[0], mesh), jax.sharding.PartitionSpec()),
    )


# The default suite checks one trainer of each kind (on-policy, multi-agent, supervised,
# off-policy); the other on-policy trainers share their loop and run with -m slow.
DEFAULT = ("ppo", "mappo", "supervised", "dqn_double")
# The off-policy trainers (rl.names("off_policy")): DQN runs by default as "dqn_double" (the
# real jaxml.rl.dqn at a tiny size), SAC here on Pendulum.
BUILDERS["sac"] = sac_trainer
DEFAULT += ("sac",)
PARAMS = [
    name if name in DEFAULT else pytest.param(name, marks=pytest.mark.slow) for name in BUILDERS
]


@pytest.fixture(scope="module", params=PARAMS)
def case(request, tmp_path_factory):
    """A trainer and its uninterrupted 2-seed run (traced with a counter)."""
    trainer = BUILDERS[request.param]()
    counted, traces = counting(trainer)
    workdir = tmp_path_factory.mktemp(request.param)
    run = run_trainer(counted, workdir, num_seeds=2, **FAST)
    return request.param, trainer, run, traces, workdir


def test_every_registered_rl_trainer_is_covered():
    assert set(rl.names()) <= set(BUILDERS)
    assert set(rl.names("off_policy")) <= set(BUILDERS) | {"dqn"}  # dqn: as "dqn_double".


def test_compiles_once_for_every_chunk(case):
    _, _, run, traces, _ = case
    assert run.num_steps == STEPS and len(run.result.history) == STEPS
    assert len(traces) == 1  # One trace of the step for all four chunks.


def test_vmapped_seeds_equal_seeds_run_one_by_one(case, tmp_path):
    _, trainer, run, _, _ = case
    single = run_trainer(trainer, tmp_path, seed=1, num_seeds=1, **FAST)
    for name in single.result.history[0]:
        if name == "step":
            continue
        np.testing.assert_allclose(
            member_metric(run.result.history, name)[:, 1],
            member_metric(single.result.history, name)[:, 0],
            rtol=2e-4, atol=1e-5, err_msg=name,
        )  # fmt: skip


class Interrupted(Exception):
    pass


def test_exact_resume_after_an_interruption(case, tmp_path, monkeypatch):
    _, trainer, run, _, workdir = case
    save = Checkpointer.save

    def save_then_die(self, step, state):
        if step == 3:  # Row 3 is written, its checkpoint is not: resume must redo step 3.
            raise Interrupted
        return save(self, step, state)

    monkeypatch.setattr(Checkpointer, "save", save_then_die)
    with pytest.raises(Interrupted):
        run_trainer(trainer, tmp_path, num_seeds=2, **FAST)
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 3
    monkeypatch.setattr(Checkpointer, "save", save)
    resumed = run_trainer(trainer, tmp_path, num_seeds=2, resume=True, **FAST)
    chex.assert_trees_all_equal(
        jax.device_get(resumed.result.carry), jax.device_get(run.result.carry)
    )
    assert (tmp_path / "metrics.jsonl").read_text() == (workdir / "metrics.jsonl").read_text()


def test_nan_stops_the_run_at_its_step_and_keeps_the_last_checkpoint(case, tmp_path):
    _, trainer, _, _, _ = case
    with pytest.raises(runner.NonFiniteError, match="at step 3; last good checkpoint: step 2"):
        run_trainer(poisoned(trainer, at_step=3), tmp_path, num_seeds=1, **FAST)
    assert Checkpointer(tmp_path).latest_step() == 2

"""IPPO/MAPPO on redistributed rewards (``jaxml.rl.tar2_train``), on a tiny 3-agent env.

References: the identity method without alignment against ``mappo``'s own step; the masked PPO
loss against ``mappo.ppo_terms`` (feed-forward) and ``mappo.sequence_objective`` (recurrent);
the redistributed rewards against the episode returns summed by a numpy loop over the withheld
dense rewards; a resumed run against an uninterrupted one.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import StepType, TimeStep

from jaxml.envs.wrappers import SparseReward
from jaxml.models.agent_actor_critic import initial_carry
from jaxml.rl import mappo, tar2
from jaxml.rl import tar2_train as tt
from jaxml.rl._rollout import rollout
from jaxml.utils import runner
from tests.helpers import fast_jit

A, N, OBS, HORIZON = 3, 3, 4, 6


class Obs(NamedTuple):
    agents_view: chex.Array  # [A, OBS]
    world_state: chex.Array  # [A * OBS]


@chex.dataclass
class State:
    x: chex.Array  # [A, OBS]
    t: chex.Array  # [] int32
    dead: chex.Array  # [A] bool
    key: chex.PRNGKey


class Toy(Environment):
    """Agents are rewarded (as a team, every agent the team's reward) for choosing
    ``argmax(x[i, :N])``; agent 2 dies after step 2; an episode terminates with probability 0.2
    per step (a win when the team reward is at least 2) or is truncated at 6 steps."""

    def _obs(self, state):
        return Obs(state.x, jnp.reshape(state.x, (-1,)))

    def reset(self, key):
        key, sub = jax.random.split(key)
        state = State(
            x=jax.random.normal(sub, (A, OBS)),
            t=jnp.zeros((), jnp.int32),
            dead=jnp.zeros((A,), bool),
            key=key,
        )
        extras = {"agent_dead": state.dead, "won": jnp.zeros((), bool)}
        ts = TimeStep(
            step_type=StepType.FIRST,
            reward=jnp.zeros((A,)),
            discount=jnp.ones((A,)),
            observation=self._obs(state),
            extras=extras,
        )
        return state, ts

    def _hits(self, state, action):  # [A] float: each agent's contribution.
        return (action == jnp.argmax(state.x[:, :N], -1)).astype(jnp.float32)

    def step(self, state, action):
        key, sub, end_key = jax.random.split(state.key, 3)
        hit = jnp.where(state.dead, 0.0, self._hits(state, action))
        team = jnp.sum(hit)
        t = state.t + 1
        dead = state.dead | ((jnp.arange(A) == 2) & (t >= 2))
        terminated = jax.random.uniform(end_key) < 0.2
        last = terminated | (t >= HORIZON)
        new = State(x=jax.random.normal(sub, (A, OBS)), t=t, dead=dead, key=key)
        extras = {"agent_dead": dead, "won": terminated & (team >= 2)}
        ts = TimeStep(
            step_type=jnp.where(last, StepType.LAST, StepType.MID),
            reward=jnp.full((A,), team),
            discount=jnp.full((A,), jnp.where(terminated, 0.0, 1.0)),
            observation=self._obs(new),
            extras=extras,
        )
        return new, ts

    @property
    def observation_spec(self):
        return specs.Spec(
            Obs,
            "Obs",
            agents_view=specs.Array((A, OBS), jnp.float32, "agents_view"),
            world_state=specs.Array((A * OBS,), jnp.float32, "world_state"),
        )

    @property
    def action_spec(self):
        return specs.MultiDiscreteArray(np.full((A,), N, np.int32), jnp.int32, "action")

    @property
    def reward_spec(self):
        return specs.Array((A,), jnp.float32, "reward")

    @property
    def discount_spec(self):
        return specs.BoundedArray((A,), jnp.float32, 0.0, 1.0, "discount")


LOW, HIGH, D = -2.0, 2.0, 2  # ContinuousToy's action box: [A, D] in [LOW, HIGH].


class ContinuousToy(Toy):
    """``Toy`` with a continuous action box ``[A, 2]`` in ``[-2, 2]`` (MABrax's kind of spec):
    an agent's contribution is ``1 - |a - x[i, :2]|² / 8``, so the team reward varies with it."""

    def _hits(self, state, action):
        return 1.0 - jnp.sum(jnp.square(action - state.x[:, :D]), axis=-1) / 8.0

    @property
    def action_spec(self):
        return specs.BoundedArray((A, D), jnp.float32, LOW, HIGH, "action")


def tiny_config(algorithm="ippo", methods=("tar2",), align=True, num_updates=3):
    config = tt.default_config(algorithm)
    config.update(
        num_envs=8,
        num_steps=HORIZON,
        total_timesteps=8 * HORIZON * num_updates,
        update_epochs=1,
        num_minibatches=2,
        hidden=(16,),
    )
    config.tar2.update(
        width=8,
        depth=1,
        num_heads=2,
        batch_size=8,
        buffer_size=32,
        warmup_episodes=8,
        update_every_episodes=8,
        num_epochs=2,
        num_coalitions=2,
        methods=methods,
        align_episodes=align,
    )
    return config


def test_identity_method_without_alignment_is_plain_mappo():
    config = tiny_config("mappo", methods=("sparse",), align=False)
    config.bootstrap_truncated = True  # mappo's default: the equivalence covers it.
    ours, plain = tt.make_trainer(config, Toy()), mappo.make_trainer(config, Toy())
    key = jax.random.key(3)

    @fast_jit
    def run(key):
        a, b = ours.init(key), plain.init(key)
        for _ in range(2):
            a, metrics_a = ours.step(a)
            b, metrics_b = plain.step(b)
        return a, b, metrics_a, metrics_b

    a, b, metrics_a, metrics_b = run(key)
    slot = jax.tree.map(lambda x: x[0], a.ppo)
    chex.assert_trees_all_close(slot.params, b.params, rtol=1e-5, atol=1e-6)
    chex.assert_trees_all_equal(slot.rollout.obs, b.rollout.obs)
    chex.assert_trees_all_equal(slot.key, b.key)
    for name in ("loss", "win_rate", "episode_return"):
        np.testing.assert_allclose(metrics_a[name], metrics_b[name], rtol=1e-5, atol=1e-6)


def _toy_batch(key, mask):
    """A random minibatch of the toy's policy ``[Nb, A]`` with the given mask ``[Nb]``."""
    config = tiny_config()
    policy = mappo.make_policy(config, Toy())
    obs = jax.vmap(lambda k: Toy().reset(k)[1].observation)(jax.random.split(key, mask.shape[0]))
    k1, k2 = jax.random.split(jax.random.fold_in(key, 1))
    actor_in, critic_in, _ = mappo.agent_inputs(
        Toy().observation_spec.generate_value(), A, 0, centralised=False, agent_id=True
    )
    params = policy.model.init(k1, None, actor_in, critic_in)
    done = jnp.zeros(mask.shape, bool)
    return config, policy, params, _random_batch(k2, obs, mask, done)


def _random_batch(key, obs, mask, done):
    """A ``MaskedBatch`` with ``obs`` and random actions, log-probabilities, values, advantages
    and targets for every ``[*mask.shape, A]`` entry."""
    k1, k2, k3, k4 = jax.random.split(key, 4)
    shape = mask.shape + (A,)
    transitions = tt.Transition(
        obs=obs,
        action=jax.random.randint(k1, shape, 0, N),
        reward=jnp.zeros(shape),
        discount=jnp.ones(shape),
        done=done,
        log_prob=-jax.random.uniform(k2, shape, minval=0.5, maxval=1.5),
        value=jax.random.normal(k3, shape),
        next_obs=None,
    )
    advantages, targets = jax.random.normal(k4, (2,) + shape)
    return tt.MaskedBatch(transitions, advantages, targets, mask)


def test_masked_ppo_loss_with_a_full_mask_is_mappos_and_ignores_masked_entries():
    config, policy, params, batch = _toy_batch(jax.random.key(0), jnp.ones((16,), bool))

    def ours(params, batch):
        return tt.masked_objective(params, batch, policy=policy, config=config)

    def theirs(params, batch):
        plain = tt.Batch(batch.transitions, batch.advantages, batch.targets)
        return mappo.objective(params, plain, policy=policy, config=config)

    (loss, metrics), grads = jax.value_and_grad(ours, has_aux=True)(params, batch)
    (ref, ref_metrics), ref_grads = jax.value_and_grad(theirs, has_aux=True)(params, batch)
    np.testing.assert_allclose(loss, ref, rtol=1e-5)
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl", "clip_fraction"):
        np.testing.assert_allclose(metrics[name], ref_metrics[name], rtol=1e-5, atol=1e-7)
    chex.assert_trees_all_close(grads, ref_grads, rtol=1e-4, atol=1e-6)
    # Half masked: the loss is the plain loss of the kept half, whatever the masked entries hold.
    mask = jnp.arange(16) < 8
    half = batch._replace(mask=mask)
    noisy_targets = half.targets.at[8:].multiply(7.0)
    noisy = half._replace(advantages=half.advantages.at[8:].set(1e3), targets=noisy_targets)
    kept = jax.tree.map(lambda x: x[:8], batch._replace(mask=jnp.ones((16,), bool)))
    np.testing.assert_allclose(ours(params, noisy)[0], ours(params, half)[0], rtol=1e-6)
    np.testing.assert_allclose(ours(params, half)[0], theirs(params, kept)[0], rtol=1e-5)


def _toy_sequences(key, mask):
    """Random recurrent minibatch ``[Bm, T, A]`` (a GRU policy) with the given mask ``[Bm, T]``
    and a random initial state; one ``done`` mid-sequence, so the replay resets a state."""
    config = tiny_config()
    config.recurrent, config.rnn_size = "gru", 8
    policy = mappo.make_policy(config, Toy())
    num_seqs, num_steps = mask.shape
    flat_keys = jax.random.split(key, num_seqs * num_steps)
    obs = jax.vmap(lambda k: Toy().reset(k)[1].observation)(flat_keys)
    obs = jax.tree.map(lambda x: jnp.reshape(x, (num_seqs, num_steps) + x.shape[1:]), obs)
    k1, k2, k3 = jax.random.split(jax.random.fold_in(key, 1), 3)
    actor_in, critic_in, _ = mappo.agent_inputs(
        Toy().observation_spec.generate_value(), A, 0, centralised=False, agent_id=True
    )
    carry = initial_carry("gru", 8, (A,))
    params = policy.model.init(k1, carry, actor_in, critic_in)
    initial_state = jax.tree.map(lambda x: jax.random.normal(k3, (num_seqs,) + x.shape), carry)
    done = jnp.zeros(mask.shape, bool).at[:, 1].set(True)
    batch = _random_batch(k2, obs, mask, done)
    return config, policy, params, mappo.SequenceBatch(batch, initial_state)


def test_masked_sequence_loss_with_a_full_mask_is_mappos_and_ignores_the_masked_suffix():
    num_seqs, num_steps, kept = 4, 6, 4
    config, policy, params, seqs = _toy_sequences(
        jax.random.key(2), jnp.ones((num_seqs, num_steps), bool)
    )

    def ours(params, seqs):
        return tt.masked_sequence_objective(params, seqs, policy=policy, config=config)

    def theirs(params, seqs):
        b = seqs.batch
        plain = mappo.SequenceBatch(tt.Batch(b.transitions, b.advantages, b.targets),
                                    seqs.initial_state)  # fmt: skip
        return mappo.sequence_objective(params, plain, policy=policy, config=config)

    (loss, metrics), grads = jax.value_and_grad(ours, has_aux=True)(params, seqs)
    (ref, ref_metrics), ref_grads = jax.value_and_grad(theirs, has_aux=True)(params, seqs)
    np.testing.assert_allclose(loss, ref, rtol=1e-5)
    for name in ("policy_loss", "value_loss", "entropy", "approx_kl"):
        np.testing.assert_allclose(metrics[name], ref_metrics[name], rtol=1e-5, atol=1e-7)
    chex.assert_trees_all_close(grads, ref_grads, rtol=1e-4, atol=1e-6)
    # A masked suffix: the loss is the plain loss of the prefix sequences, whatever the suffix
    # holds (its advantages, targets, actions and observations).
    prefix = jnp.arange(num_steps) < kept
    half = seqs._replace(
        batch=seqs.batch._replace(mask=jnp.broadcast_to(prefix, (num_seqs, num_steps)))
    )
    b = half.batch
    later = ~prefix[None, :, None]
    noisy_obs = jax.tree.map(
        lambda x: jnp.where(jnp.reshape(later, later.shape[:2] + (1,) * (x.ndim - 2)), 5.0, x),
        b.transitions.obs,
    )
    noisy = half._replace(
        batch=b._replace(
            advantages=jnp.where(later, 1e3, b.advantages),
            targets=jnp.where(later, -7.0, b.targets),
            transitions=b.transitions._replace(
                obs=noisy_obs, action=jnp.where(later, 0, b.transitions.action)
            ),
        )
    )
    cut = seqs._replace(batch=jax.tree.map(lambda x: x[:, :kept], seqs.batch))
    np.testing.assert_allclose(ours(params, noisy)[0], ours(params, half)[0], rtol=1e-6)
    np.testing.assert_allclose(ours(params, half)[0], theirs(params, cut)[0], rtol=1e-5)


def test_recurrent_policy_trains_on_aligned_episodes_and_keeps_the_sum():
    config = tiny_config(methods=("tar2",), num_updates=2)
    config.recurrent, config.rnn_size = "gru", 8
    trainer = tt.make_trainer(config, SparseReward(Toy()))

    @fast_jit
    def run(key):
        state = trainer.init(key)
        out, metrics = jax.lax.scan(lambda s, _: trainer.step(s), state, None, 2)
        return state, out, metrics

    before, after, metrics = run(jax.random.key(1))
    np.testing.assert_allclose(
        metrics["redistributed_sum"], metrics["episode_return"], rtol=1e-5, atol=1e-5
    )
    assert np.all(np.isfinite(np.asarray(metrics["loss"])))
    moved = jax.tree.map(lambda a, b: float(jnp.max(jnp.abs(a - b))), before.ppo.params,
                         after.ppo.params)  # fmt: skip
    assert max(jax.tree.leaves(moved)) > 0
    # The GRU states (actor's and critic's) are carried: [slots, envs, agents, rnn_size].
    for leaf in jax.tree.leaves(after.ppo.rollout.policy_state):
        assert leaf.shape == (1, config.num_envs, A, 8)


def _reference_returns(dense, done):
    """Numpy loop: each env's first-episode return (team reward summed) and its length."""
    num_steps, num_envs = done.shape
    returns, lengths = np.zeros(num_envs), np.zeros(num_envs, int)
    for b in range(num_envs):
        for t in range(num_steps):
            returns[b] += dense[t, b].mean()
            if done[t, b]:
                lengths[b] = t + 1
                break
    return returns, lengths


def _aligned_rollout(trainer, key, extra_keys):
    """One aligned rollout (fixed keys) of the first seed of ``trainer.init(key)``, keeping
    ``extra_keys`` of the timesteps' extras."""
    state = trainer.init(key)
    ppo = jax.tree.map(lambda x: x[0], state.ppo)
    rollout_state = tt.aligned_reset(trainer.env, ppo.rollout, jax.random.key(9))
    _, traj = rollout(
        trainer.env,
        functools.partial(mappo.act, policy=trainer.model),
        ppo.params,
        rollout_state,
        jax.random.key(4),
        HORIZON,
        extras_fn=lambda ts: {k: ts.extras[k] for k in extra_keys},
    )
    return traj


def test_redistributed_rewards_sum_to_each_episodes_return():
    config = tiny_config(methods=("uniform", "tar2", "arel"))
    env = SparseReward(Toy())
    trainer = tt.make_trainer(config, env)
    policy = trainer.model

    @fast_jit
    def collect(key):
        traj = _aligned_rollout(trainer, key, ("won", "dense_reward", "agent_dead"))
        episodes, step_valid, _ = tt.first_episodes(traj, policy)
        scores = jax.random.normal(jax.random.key(5), episodes.valid.shape) * 3.0
        out = {m: tt._slot_rewards(m, traj, episodes, scores) for m in ("uniform", "tar2")}
        return traj, episodes, step_valid, out

    traj, episodes, step_valid, out = collect(jax.random.key(0))
    done = np.asarray(traj.done)
    returns, lengths = _reference_returns(np.asarray(traj.extras["dense_reward"]), done)
    assert (lengths > 0).all()  # Every env's episode ended inside the rollout.
    np.testing.assert_allclose(episodes.episode_return, returns, rtol=1e-6, atol=1e-6)
    expected_valid = np.arange(HORIZON)[:, None] < lengths[None]
    np.testing.assert_array_equal(step_valid, expected_valid)
    # Agent 2 is dead from step 2 on (valid at steps 0 and 1 only).
    valid = np.asarray(episodes.valid)
    np.testing.assert_array_equal(valid[:, :, 2], expected_valid.T & (np.arange(HORIZON) < 2))
    rewards = np.asarray(out["tar2"])  # [T, B, A]
    np.testing.assert_allclose(rewards.sum((0, 2)), returns, rtol=1e-5, atol=1e-5)
    assert np.all(rewards[~np.swapaxes(valid, 0, 1)] == 0.0)
    # Uniform: every agent alive throughout receives the whole return.
    np.testing.assert_allclose(np.asarray(out["uniform"])[:, :, 0].sum(0), returns, rtol=1e-5)


@pytest.mark.slow  # Six methods' return models: minutes of compilation on 2 shared cores.
def test_train_step_trains_the_return_models_on_schedule_and_keeps_the_sum():
    methods = ("sparse", "dense", "tar2", "tar2_agent", "arel", "stas")
    config = tiny_config(methods=methods, num_updates=3)
    trainer = tt.make_trainer(config, SparseReward(Toy()))

    @fast_jit
    def run(key):
        return jax.lax.scan(lambda s, _: trainer.step(s), trainer.init(key), None, 3)

    state, stacked = run(jax.random.key(1))
    rows = [jax.tree.map(lambda x, u=u: x[u], stacked) for u in range(3)]
    # 8 episodes per update; warm-up 8, then every 8: one model update per step.
    for u, row in enumerate(rows, start=1):
        for m in ("tar2", "tar2_agent", "arel", "stas"):
            assert int(row[f"{m}/model_updates"]) == u
        for m in ("tar2", "tar2_agent"):  # Σ r = R in every episode, so in the mean too.
            np.testing.assert_allclose(
                row[f"{m}/redistributed_sum"], row[f"{m}/episode_return"], rtol=1e-5, atol=1e-6
            )
        # The sparse and dense rewards summed over agents: A times the team return.
        for m in ("sparse", "dense"):
            np.testing.assert_allclose(
                row[f"{m}/redistributed_sum"], A * row[f"{m}/episode_return"], rtol=1e-5,
                atol=1e-5,
            )  # fmt: skip
    np.testing.assert_array_equal(state.models["attention"].buffer.current_index, 3 * 8)
    assert np.all(np.isfinite(np.asarray(jax.tree.leaves(state.models)[0])))


@pytest.mark.slow  # Two chunked programs with a return model.
def test_resume_reproduces_an_uninterrupted_run(tmp_path):
    config = tiny_config(methods=("uniform", "tar2"), num_updates=4)
    trainer = tt.make_trainer(config, SparseReward(Toy()))
    key = jax.random.PRNGKey(7)  # Raw keys, as run_trainer gives (comparable leaves).

    def run(workdir, num_steps, resume=False):
        fast = dict(chunk_size=2, tensorboard=False, progress_bar=False, resume=resume)
        out = runner.run(
            trainer.step, trainer.init(key), num_steps=num_steps, workdir=workdir, **fast
        )
        return jax.device_get(out.carry)

    whole = run(tmp_path / "whole", 4)
    run(tmp_path / "cut", 2)
    resumed = run(tmp_path / "cut", 4, resume=True)
    jax.tree.map(np.testing.assert_array_equal, resumed, whole)


def test_config_errors_name_the_field():
    with pytest.raises(ValueError, match="config.tar2.methods"):
        tt.make_trainer(tiny_config(methods=("tar3",)), SparseReward(Toy()))
    with pytest.raises(ValueError, match="config.tar2.align_episodes"):
        tt.make_trainer(tiny_config(methods=("tar2",), align=False), SparseReward(Toy()))
    with pytest.raises(ValueError, match="env"):
        tt.make_trainer(tiny_config(methods=("tar2",)), Toy())
    config = tiny_config()
    config.tar2.warmup_episodes = 2
    with pytest.raises(ValueError, match="config.tar2.warmup_episodes"):
        tt.make_trainer(config, SparseReward(Toy()))
    _ = tar2  # The module under the trainer.


def test_elapsed_time_adds_the_step_fraction_and_keeps_every_field():
    env = tt.ElapsedTime(SparseReward(Toy()), horizon=HORIZON, num_agents=A)
    state, ts = env.reset(jax.random.key(0))
    assert ts.observation._fields == ("agents_view", "world_state", "elapsed")
    np.testing.assert_array_equal(ts.observation.elapsed, np.zeros((A, 1)))
    inner_state, inner_ts = SparseReward(Toy()).reset(jax.random.key(0))
    np.testing.assert_array_equal(ts.observation.agents_view, inner_ts.observation.agents_view)
    for t in range(1, 3):
        state, ts = env.step(state, jnp.zeros((A,), jnp.int32))
        np.testing.assert_allclose(ts.observation.elapsed, np.full((A, 1), t / HORIZON))
    assert "dense_reward" in ts.extras
    spec = env.observation_spec.generate_value()
    assert jax.tree.map(jnp.shape, spec) == jax.tree.map(jnp.shape, ts.observation)
    actor_in, _, _ = mappo.agent_inputs(ts.observation, A, 0, centralised=False, agent_id=False)
    assert actor_in.shape == (A, OBS + 1)


def _continuous_trainer(methods=("tar2",), num_updates=2):
    config = tiny_config(methods=methods, num_updates=num_updates)
    trainer = tt.make_trainer(config, SparseReward(ContinuousToy()))
    assert trainer.model.continuous
    return trainer


def test_continuous_actions_reach_the_return_model_scaled_and_keep_the_sum():
    """A continuous action box (MABrax's kind): the episodes hold the squashed actions scaled
    from [-2, 2] into [-1, 1], their returns are the withheld dense sums, and TAR²'s rewards
    sum to each episode's return."""
    trainer = _continuous_trainer()
    policy = trainer.model

    @fast_jit
    def collect(key):
        traj = _aligned_rollout(trainer, key, ("dense_reward", "agent_dead"))
        episodes, _, _ = tt.first_episodes(traj, policy)
        scores = jax.random.normal(jax.random.key(5), episodes.valid.shape)
        return traj, episodes, tt._slot_rewards("tar2", traj, episodes, scores)

    traj, episodes, rewards = collect(jax.random.key(0))
    raw = np.asarray(traj.action)  # [T, B, A, D], inside the bounds.
    assert raw.shape[-1] == D and raw.min() >= LOW and raw.max() <= HIGH
    assert np.abs(raw).max() > 1.0  # Scaling matters: some actions are outside [-1, 1].
    np.testing.assert_allclose(
        np.asarray(episodes.actions), np.swapaxes(raw, 0, 1) / HIGH, rtol=1e-6, atol=1e-6
    )
    returns, lengths = _reference_returns(np.asarray(traj.extras["dense_reward"]), traj.done)
    assert (lengths > 0).all()
    np.testing.assert_allclose(episodes.episode_return, returns, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(rewards).sum((0, 2)), returns, rtol=1e-5, atol=1e-5)


@pytest.mark.slow  # Two return models and the PPO update: about 1 CPU min of compilation.
def test_continuous_train_step_updates_the_return_models_on_schedule():
    trainer = _continuous_trainer(methods=("tar2", "arel"))

    @fast_jit
    def run(key):
        return jax.lax.scan(lambda s, _: trainer.step(s), trainer.init(key), None, 2)

    state, metrics = run(jax.random.key(0))
    params = jax.tree.map(lambda x: x[0], state.models["attention"].params)["params"]
    assert params["action_embed"]["kernel"].shape == (D, 8)  # Dense of the d-vector.
    assert params["dynamics_out"]["kernel"].shape[-1] == D  # Predicts the action vector.
    for m in ("tar2", "arel"):  # 8 episodes per update; warm-up 8, then every 8.
        np.testing.assert_array_equal(metrics[f"{m}/model_updates"], [1, 2])
        assert np.all(np.isfinite(np.asarray(metrics[f"{m}/return_mse"])))
    np.testing.assert_allclose(
        metrics["tar2/redistributed_sum"], metrics["tar2/episode_return"], rtol=1e-5, atol=1e-5
    )

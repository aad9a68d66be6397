"""IPPO and MAPPO on redistributed rewards: TAR², its ablations and its baselines in one trainer.

"Redistributing Rewards Across Time and Agents for Multi-Agent Reinforcement Learning" (TAR²;
Kapoor et al., arXiv 2502.04864 v2; earlier arXiv 2412.14779). A team reward that arrives only
at an episode's end (``jaxml.envs.wrappers.SparseReward``) is replaced, before GAE, by dense
per-agent, per-step rewards; the policy update is IPPO's or MAPPO's (``jaxml.rl.mappo``),
unchanged. Everything (rollout, episode buffer, return-model schedule, redistribution, GAE, PPO)
is one jittable ``step``.

**Rollouts and episodes.** A PureJaxRL rollout of fixed length cuts episodes anywhere, but the
redistribution needs an episode's return before GAE reads any of its rewards. Here every
rollout starts from freshly reset environments (``align_episodes``) and lasts the episode's
longest length (SMAX: ``max_steps + 1`` transitions), so each environment's rollout holds one
whole episode from its first step: its return is known when the rollout ends, and the rewards
are replaced once, before GAE, with no delay across rollouts and no second pass over old ones.
The cost: the steps after an episode's end (the start of the next, which the reset abandons)
are collected but masked out of the PPO loss (``masked_ppo_terms``; advantages are normalised
over the valid entries), and the time limit must not exceed the rollout. The alternative,
assigning rewards when an episode completes, would train on rewards of episodes that span
rollouts, i.e. delay updates or revisit stored rollouts.

**Methods** (``config.tar2.methods``, one trainer slot each; ``len(methods) = M``):

- ``"sparse"``: the environment's reward as it is (the sparse baseline; with a dense env and
  ``align_episodes=False`` this trainer is plain IPPO/MAPPO, which a test checks);
- ``"dense"``: ``extras["dense_reward"]``, the reward ``SparseReward`` withheld (the ceiling);
- ``"uniform"``: ``tar2.uniform_redistribute``, ``R / T`` per agent-step;
- ``"tar2"``, ``"tar2_temporal"`` (temporal weights only), ``"tar2_agent"`` (agent weights
  only): the return model's scores through ``tar2.redistribute``;
- ``"arel"``: the same attention model regressed with ``tar2.arel_loss``, its raw scores the
  rewards (AREL, arXiv 2201.04612);
- ``"stas"``: ``STASRewardModel`` (coalition-averaged agent attention) regressed with
  ``tar2.stas_loss``, its raw scores the rewards (STAS, arXiv 2304.07520).

The slots share the compiled rollout and PPO update (vmapped over the slot axis: one program
for every method, where separate trainers would each compile SMAX again); only the return
models differ, and each slot group (``tar2``/``arel`` share one network, ``stas`` has its
own) runs only for its own slots. Every slot starts from the same policy parameters and
environment keys (common random numbers), so the methods differ only in their rewards. Metrics
are named ``<method>/<metric>`` when ``M > 1``.

**Return models** (``config.tar2``, ``tar2.default_config``'s fields, plus
``num_coalitions``): each model slot keeps a flashbax buffer of its episodes; an update of
``num_epochs`` gradient steps is due whenever the count of completed episodes passes
``warmup_episodes + j · update_every_episodes`` (``tar2.updates_due``). Before the first update
the model's score head is zero, so TAR²'s rewards are uniform (``redistribute``'s fallback) and
AREL's and STAS's are 0.

**Episodes the models see.** Observations: each agent's own fields (``mappo.agent_inputs``
without ids; the model adds its own); actions: the first action head (a continuous head,
MABrax's ``BoundedArray [A, d]``: the squashed action vector scaled from its bounds into
``[-1, 1]``, for a model with ``continuous=True``); ``valid``: the steps of
the episode where the agent is alive (``extras["agent_dead"]`` of the previous step, when the env
reports it); the return ``R``: the agents' mean released reward at the episode's last step (the
team reward; SMAX gives it to every agent).
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import ml_collections
import optax
from jumanji import specs
from jumanji.env import Environment
from jumanji.wrappers import Wrapper

from jaxml.models.tar2 import STASRewardModel
from jaxml.rl import mappo, normalization, on_policy, tar2
from jaxml.rl._collect import transition_gae
from jaxml.rl._rollout import RolloutState, Transition, reset_policy_state, rollout
from jaxml.rl.on_policy import Batch, Metrics, OnPolicyTrainer, TrainState
from jaxml.utils import checks

METHODS = ("sparse", "dense", "uniform", "tar2", "tar2_temporal", "tar2_agent", "arel", "stas")
# Which return-model network (and so which slot group) a method trains; None: no model.
MODEL_OF = {
    "sparse": None,
    "dense": None,
    "uniform": None,
    "tar2": "attention",
    "tar2_temporal": "attention",
    "tar2_agent": "attention",
    "arel": "attention",
    "stas": "stas",
}
NEEDS_RETURN = ("uniform", "tar2", "tar2_temporal", "tar2_agent", "arel", "stas")
DENSE_FIELD = "dense_reward"
DEAD_FIELD = "agent_dead"


def default_config(algorithm: str = "ippo") -> ml_collections.ConfigDict:
    """``mappo.default_config(algorithm)`` plus ``config.tar2``: ``tar2.default_config()``'s
    return model and schedule, ``methods`` (``("tar2",)``), ``align_episodes`` (True),
    ``num_coalitions`` (STAS, 5) and ``arel_huber_delta`` (1.0).

    ``bootstrap_truncated`` is False: the sparse return is released at the time limit, so an
    episode cut there is over (nothing is left to bootstrap). ``num_steps`` must be set to the
    episode's longest length (SMAX: ``max_steps + 1``).
    """
    config = mappo.default_config(algorithm)
    config.bootstrap_truncated = False
    config.tar2 = tar2.default_config()
    config.tar2.methods = ("tar2",)
    config.tar2.align_episodes = True
    config.tar2.num_coalitions = 5
    config.tar2.arel_huber_delta = 1.0
    return config


class ReturnModelState(NamedTuple):
    """One slot's return model (stacked ``[G, ...]`` over the slots of its group)."""

    params: Any  # The network's parameters.
    opt_state: optax.OptState
    buffer: Any  # flashbax item-buffer state of ``tar2.Episodes`` [buffer_size, T, A, ...].
    episodes: jax.Array  # [] int32, completed episodes added so far.
    updates: jax.Array  # [] int32, return-model updates done.
    return_mse: jax.Array  # [] float32, the last update's batch MSE of Σ ŝ against R (0 before).


class TAR2State(NamedTuple):
    """The whole state: checkpoint it to resume exactly."""

    ppo: TrainState  # [M, ...]: every slot's IPPO/MAPPO state.
    models: dict[str, ReturnModelState]  # group name -> [G, ...] states of its slots.
    key: jax.Array  # [2] uint32: resets, return-model sampling, STAS's coalitions.


class MaskedBatch(NamedTuple):
    """``on_policy.Batch`` plus the entries the PPO loss averages over (``[T, B]`` or ``[N]``)."""

    transitions: Transition
    advantages: jax.Array  # [T, B, A]
    targets: jax.Array  # [T, B, A]
    mask: jax.Array  # [T, B] bool: the step belongs to the rollout's first (whole) episode.


def masked_ppo_terms(
    logits: tuple[jax.Array, ...],
    value: jax.Array,
    batch: MaskedBatch,
    *,
    policy: mappo.Policy,
    config: ml_collections.ConfigDict,
) -> tuple[jax.Array, Metrics]:
    """``mappo.ppo_terms`` with every mean taken over the entries of ``batch.mask`` only.

    The clipped surrogate, the (clipped) value loss and the entropy are averaged over the
    masked-in (sample, agent) pairs; with ``normalize_advantages`` the advantages are
    standardised by the mean and std of those entries. With an all-True mask this is
    ``mappo.ppo_terms`` (a test checks it).
    """
    unmasked = Batch(batch.transitions, batch.advantages, batch.targets)
    return mappo.ppo_terms(logits, value, unmasked, policy=policy, config=config, mask=batch.mask)


def masked_objective(params: Any, minibatch: MaskedBatch, *, policy, config):
    """Feed-forward PPO loss on a flat minibatch ``[N, A, ...]`` with its mask ``[N]``."""
    return mappo.objective(params, minibatch, policy=policy, config=config, terms=masked_ppo_terms)


def masked_sequence_objective(params: Any, minibatch: mappo.SequenceBatch, *, policy, config):
    """Recurrent PPO loss on a minibatch of whole sequences (``minibatch.batch`` a
    ``MaskedBatch`` ``[Bm, T, ...]``, mask ``[Bm, T]``): ``mappo.sequence_objective``'s replay
    from the rollout's initial state with ``masked_ppo_terms``'s masked means.

    An aligned rollout starts every environment at a reset, so each sequence's masked-in
    prefix is one whole episode; the masked-out suffix (the next episode's start) is replayed,
    since the recurrence runs through it, but adds nothing to the loss and, being later in
    time, cannot change the prefix's outputs.
    """
    return mappo.sequence_objective(
        params, minibatch, policy=policy, config=config, terms=masked_ppo_terms
    )


def aligned_reset(env: Environment, rollout_state: RolloutState, key: jax.Array) -> RolloutState:
    """Every environment of ``rollout_state`` reset with fresh keys (the observation normaliser
    sees the new observations; running episode statistics restart; recurrent states zeroed)."""
    num_envs = rollout_state.episodes.episode_length.shape[0]
    env_state, timestep = jax.vmap(env.reset)(jax.random.split(key, num_envs))
    normalizer, obs = normalization.observe(rollout_state.normalizer, timestep.observation)
    episodes = rollout_state.episodes._replace(
        episode_return=jnp.zeros_like(rollout_state.episodes.episode_return),
        episode_length=jnp.zeros_like(rollout_state.episodes.episode_length),
    )
    policy_state = rollout_state.policy_state
    if policy_state is not None:
        policy_state = reset_policy_state(policy_state, jnp.ones((num_envs,), bool))
    return RolloutState(env_state, obs, episodes, policy_state, normalizer)


def first_episodes(
    traj: Transition, policy: mappo.Policy
) -> tuple[tar2.Episodes, jax.Array, jax.Array]:
    """The first episode of every environment of an aligned rollout ``[T, B, ...]``.

    Returns:
      ``(episodes [B, T, ...], step_valid [T, B], won [B])``: the episodes padded to the
      rollout's ``T`` (``valid`` False after the first episode's last step and for dead agents;
      an environment whose episode did not end within the rollout has no valid entry and
      return 0), which steps belong to them, and whether each was won (False without a
      ``won`` extra).
    """
    num_agents = policy.layout.num_agents
    done = traj.done  # [T, B]
    chex.assert_rank(done, 2)
    ended_before = (jnp.cumsum(done.astype(jnp.int32), axis=0) - done) > 0
    complete = jnp.any(done, axis=0)  # [B]
    step_valid = ~ended_before & complete[None]
    last = done & ~ended_before  # [T, B]: the first episode's last step.
    extras = traj.extras or {}
    if DEAD_FIELD in extras:  # Dead after step t-1: not alive at step t.
        dead = extras[DEAD_FIELD]
        alive = ~jnp.concatenate([jnp.zeros_like(dead[:1]), dead[:-1]], axis=0)
    else:
        alive = jnp.ones(done.shape + (num_agents,), bool)
    valid = step_valid[..., None] & alive  # [T, B, A]
    team_reward = jnp.mean(traj.reward, axis=-1)  # [T, B]
    episode_return = jnp.sum(jnp.where(last, team_reward, 0.0), axis=0)
    won = jnp.any(last & extras["won"], axis=0) if "won" in extras else jnp.zeros_like(complete)
    observations, _, _ = mappo.agent_inputs(
        traj.obs, num_agents, 2, centralised=False, agent_id=False
    )
    if policy.continuous:  # [T, B, A, d] inside [low, high]: scaled into [-1, 1].
        action = jnp.asarray(traj.action, jnp.float32)
        low = jnp.broadcast_to(jnp.asarray(policy.layout.low), action.shape)
        high = jnp.broadcast_to(jnp.asarray(policy.layout.high), action.shape)
        actions = 2.0 * (action - low) / (high - low) - 1.0
        chex.assert_shape(actions, done.shape + (num_agents, low.shape[-1]))
    else:
        actions = policy.heads(traj.action)[0].astype(jnp.int32)
        chex.assert_shape(actions, done.shape + (num_agents,))

    def batch_major(x):
        return jnp.swapaxes(x, 0, 1)

    episodes = tar2.Episodes(
        observations=batch_major(observations),
        actions=batch_major(actions),
        valid=batch_major(valid),
        episode_return=episode_return,
    )
    return episodes, step_valid, won


class _Group(NamedTuple):
    """A return-model network and the slots (indices into ``methods``) that train one."""

    name: str
    model: Any  # TAR2RewardModel | STASRewardModel.
    slots: tuple[int, ...]


def _scores(group: _Group, params: Any, episodes: tar2.Episodes, key: jax.Array) -> jax.Array:
    rngs = {"coalitions": key} if group.name == "stas" else None
    output = group.model.apply(
        params, episodes.observations, episodes.actions, episodes.valid, rngs=rngs
    )
    return output


def _group_loss(group: _Group, config, kinds: jax.Array | None):
    """``loss_fn(params, batch, key, kind)``: the slot's method's return-model loss.

    In the attention group ``kind`` is 1 for AREL's Huber regression and 0 for TAR²'s
    ``return_model_loss``; both come from one forward pass, so the choice costs nothing.
    """

    def loss_fn(params, batch, key, kind):
        output = _scores(group, params, batch, key)
        if group.name == "stas":
            return tar2.stas_loss(output, batch)
        loss, metrics = tar2.return_model_loss(
            output, batch, inverse_dynamics_coef=config.inverse_dynamics_coef
        )
        if kinds is None:  # No AREL slot in this group.
            return loss, {"return_mse": metrics["return_mse"]}
        arel, arel_metrics = tar2.arel_loss(output, batch, huber_delta=config.arel_huber_delta)
        loss = jnp.where(kind == 1, arel, loss)
        predicted = jnp.sum(jnp.where(batch.valid, output.scores, 0.0), axis=(1, 2))
        return loss, {"return_mse": jnp.mean(jnp.square(predicted - batch.episode_return))}

    return loss_fn


def _slot_rewards(method: str, traj, episodes, scores) -> jax.Array:
    """The rewards ``[T, B, A]`` a slot's PPO update sees (0 outside its valid entries)."""

    def time_major(x):
        return jnp.swapaxes(x, 0, 1)

    if method == "sparse":
        return traj.reward
    if method == "dense":
        return traj.extras[DENSE_FIELD]
    if method == "uniform":
        rewards = jax.vmap(tar2.uniform_redistribute)(episodes.episode_return, episodes.valid)
    elif method.startswith("tar2"):
        fn = functools.partial(
            tar2.redistribute,
            temporal=method != "tar2_agent",
            agent=method != "tar2_temporal",
        )
        rewards = jax.vmap(fn)(scores, episodes.episode_return, episodes.valid)
    else:  # arel, stas: the scores themselves.
        rewards = tar2.arel_rewards(scores, episodes.valid)
    return time_major(rewards)


def _check(config: ml_collections.ConfigDict, env: Environment) -> tuple[str, ...]:
    on_policy.require_fields(config, ("tar2",), "tar2 trainer")
    c = config.tar2
    methods = tuple(c.methods)
    checks.expect(len(methods) >= 1, "config.tar2.methods", "at least one method", methods)
    checks.choices(methods, "config.tar2.methods", METHODS)
    checks.expect(
        len(set(methods)) == len(methods), "config.tar2.methods", "distinct methods", methods
    )
    checks.expect(c.align_episodes in (True, False), "config.tar2.align_episodes", "a bool",
                  c.align_episodes)  # fmt: skip
    needs = [m for m in methods if m in NEEDS_RETURN]
    checks.expect(
        c.align_episodes or not needs,
        "config.tar2.align_episodes",
        f"True for the redistributing methods {needs}",
        c.align_episodes,
    )
    checks.expect(
        not config.get("normalize_rewards", False),
        "config.normalize_rewards",
        "False (the return model needs the raw episode returns)",
        config.get("normalize_rewards"),
    )
    checks.positive_int(c.num_coalitions, "config.tar2.num_coalitions")
    checks.positive(c.arel_huber_delta, "config.tar2.arel_huber_delta")
    if any(MODEL_OF[m] for m in methods):
        checks.expect(
            c.warmup_episodes >= c.batch_size,
            "config.tar2.warmup_episodes",
            f">= config.tar2.batch_size = {c.batch_size} (the buffer must hold a batch)",
            c.warmup_episodes,
        )
    extras = jax.eval_shape(env.reset, jax.random.key(0))[1].extras
    if any(m in NEEDS_RETURN or m == "dense" for m in methods):
        checks.expect(
            DENSE_FIELD in extras,
            "env",
            "a jaxml.envs.wrappers.SparseReward env (extras['dense_reward']) for "
            f"{[m for m in methods if m != 'sparse']}",
            type(env).__name__,
        )
    return methods


@chex.dataclass
class ElapsedState:
    env_state: Any  # The wrapped environment's state.
    t: chex.Array  # [] int32, steps taken in this episode.

    @property
    def key(self) -> chex.PRNGKey:
        """The wrapped state's key (jumanji's ``AutoResetWrapper`` reads ``state.key``)."""
        return self.env_state.key


class ElapsedTime(Wrapper):
    """Adds ``elapsed [A, 1] = t / horizon`` (steps taken this episode) to every agent's
    observation, a named field next to the wrapped observation's fields.

    Why: a redistributed reward makes the return still to come depend on the time left
    (uniform: ``R (T - t) / T``), which a feed-forward critic cannot see in SMAX's
    observations; the authors' policies and critics are recurrent (GRU) and can count steps.
    The time-limit literature's remedy (Pardo et al., "Time Limits in Reinforcement
    Learning", arXiv 1712.00378) is to observe the time. Every method of an experiment gets it
    alike. Requires an observation that is a NamedTuple (SMAX's, the Foraging Games').
    """

    def __init__(self, env: Environment, horizon: int, num_agents: int):
        super().__init__(env)
        self.horizon = checks.positive_int(horizon, "horizon")
        self.num_agents = checks.positive_int(num_agents, "num_agents")
        spec = env.observation_spec
        inner = getattr(spec, "_specs", None)
        checks.expect(
            inner is not None, "env", "an env whose observation spec has named fields", spec
        )
        self._fields = tuple(inner)
        self._type = NamedTuple(
            "ElapsedObservation", [(name, Any) for name in self._fields + ("elapsed",)]
        )
        elapsed = specs.BoundedArray((num_agents, 1), jnp.float32, 0.0, 1.0, "elapsed")
        self._spec = specs.Spec(self._type, "ObservationSpec", **inner, elapsed=elapsed)

    def __repr__(self) -> str:
        return f"ElapsedTime({self._env!r}, horizon={self.horizon})"

    def _observe(self, timestep, t):
        obs = timestep.observation
        values = {name: getattr(obs, name) for name in self._fields}
        frac = jnp.asarray(t, jnp.float32) / self.horizon
        elapsed = jnp.full((self.num_agents, 1), jnp.minimum(frac, 1.0))
        return timestep.replace(observation=self._type(**values, elapsed=elapsed))

    def reset(self, key):
        env_state, timestep = self._env.reset(key)
        t = jnp.zeros((), jnp.int32)
        return ElapsedState(env_state=env_state, t=t), self._observe(timestep, t)

    def step(self, state, action):
        env_state, timestep = self._env.step(state.env_state, action)
        t = state.t + 1
        return ElapsedState(env_state=env_state, t=t), self._observe(timestep, t)

    @property
    def observation_spec(self):
        return self._spec


def make_trainer(config: ml_collections.ConfigDict, env: Environment) -> OnPolicyTrainer:
    """The trainer of ``config.tar2.methods`` (one slot each) on the multi-agent ``env``.

    ``init(key) -> TAR2State`` and ``step(state) -> (state, metrics)``; ``evaluate`` (with
    ``config.eval_episodes > 0``) evaluates every slot's policy with ``jaxml.rl.evaluate``.
    ``model``, ``optimizer``, ``sizes`` and ``env`` are mappo's.

    Raises:
      ValueError: naming the config field (or the env) that does not fit.
    """
    methods = _check(config, env)
    base = mappo.make_trainer(config, env)  # Checks the PPO fields, builds policy & optimizer.
    policy, sizes, auto_env = base.model, base.sizes, base.env
    c = config.tar2
    align = bool(c.align_episodes)
    num_slots = len(methods)
    outcome = mappo.outcome_fn(env)

    def extras_fn(timestep):
        out = {} if outcome is None else outcome(timestep)
        for name in (DENSE_FIELD, DEAD_FIELD):
            if name in timestep.extras:
                out[name] = timestep.extras[name]
        return out or None

    # Identity methods without alignment: mappo's own collect extras (equivalence with mappo).
    rollout_extras = extras_fn if align or "dense" in methods else outcome
    if config.recurrent != "none":
        objective = masked_sequence_objective if align else mappo.sequence_objective
        update_fn = functools.partial(
            mappo.sequence_sgd_update,
            objective=functools.partial(objective, policy=policy, config=config),
            optimizer=base.optimizer,
            sizes=sizes,
        )
    else:
        objective = masked_objective if align else mappo.objective
        update_fn = functools.partial(
            mappo.flat_sgd_update,
            objective=functools.partial(objective, policy=policy, config=config),
            optimizer=base.optimizer,
            sizes=sizes,
        )

    num_agents = policy.layout.num_agents
    continuous = policy.continuous
    # A continuous head's width is 2d (mean and std); the return model takes the d actions.
    num_actions = policy.layout.low.shape[-1] if continuous else policy.layout.head_sizes[0]
    model_kwargs = dict(
        num_actions=num_actions,
        max_steps=sizes.num_steps,
        num_agents=num_agents,
        continuous=continuous,
    )
    groups = []
    for name in ("attention", "stas"):
        slots = tuple(i for i, m in enumerate(methods) if MODEL_OF[m] == name)
        if not slots:
            continue
        model = tar2.make_return_model(c, **model_kwargs)
        if name == "stas":
            model = STASRewardModel(
                **model_kwargs,
                width=c.width,
                depth=c.depth,
                num_heads=c.num_heads,
                use_agent_id=bool(c.use_agent_id),
                num_coalitions=c.num_coalitions,
            )
        groups.append(_Group(name, model, slots))
    buffer = tar2.make_episode_buffer(c) if groups else None
    model_optimizer = tar2.make_optimizer(c)
    # 1 where a slot of the attention group is AREL's (its loss), else 0.
    arel_kinds = {
        g.name: jnp.array([int(methods[i] == "arel") for i in g.slots], jnp.int32) for g in groups
    }

    def example_episode():
        def own_obs(key):
            obs = auto_env.reset(key)[1].observation
            return mappo.agent_inputs(obs, num_agents, 0, centralised=False, agent_id=False)[0]

        own = jax.eval_shape(own_obs, jax.random.key(0))
        return tar2.Episodes(
            observations=jnp.zeros((sizes.num_steps,) + own.shape, jnp.float32),
            actions=(
                jnp.zeros((sizes.num_steps, num_agents, num_actions), jnp.float32)
                if continuous
                else jnp.zeros((sizes.num_steps, num_agents), jnp.int32)
            ),
            valid=jnp.ones((sizes.num_steps, num_agents), bool),
            episode_return=jnp.zeros((), jnp.float32),
        )

    def init_group(group: _Group, key: jax.Array) -> ReturnModelState:
        example = jax.tree.map(lambda x: x[None], example_episode())
        key_params, key_coalitions = jax.random.split(key)
        rngs = {"params": key_params, "coalitions": key_coalitions}
        params = group.model.init(rngs, example.observations, example.actions, example.valid)
        state = ReturnModelState(
            params=params,
            opt_state=model_optimizer.init(params),
            buffer=buffer.init(example_episode()),
            episodes=jnp.zeros((), jnp.int32),
            updates=jnp.zeros((), jnp.int32),
            return_mse=jnp.zeros((), jnp.float32),
        )
        # Every slot of the group starts from the same draw (common random numbers).
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (len(group.slots),) + x.shape), state)

    def init(key: jax.Array) -> TAR2State:
        # mappo's init takes the key itself (the identity method is then mappo's run).
        ppo_state = base.init(key)
        key_models, key_next = jax.random.split(jax.random.fold_in(key, 1))
        ppo_state = jax.tree.map(lambda x: jnp.broadcast_to(x, (num_slots,) + x.shape), ppo_state)
        keys = jax.random.split(key_models, max(len(groups), 1))
        models = {g.name: init_group(g, k) for g, k in zip(groups, keys, strict=False)}
        return TAR2State(ppo=ppo_state, models=models, key=key_next)

    def train_group(group: _Group, state: ReturnModelState, episodes, key):
        """Adds a rollout's episodes to each slot's buffer, then runs the due updates."""
        loss_fn = _group_loss(group, c, None if group.name == "stas" else arel_kinds[group.name])

        def one(state: ReturnModelState, episodes, key, kind):
            with jax.numpy_rank_promotion("allow"):  # flashbax broadcasts ranks implicitly.
                buffer_state = buffer.add(state.buffer, episodes)
            complete = jnp.sum(jnp.any(episodes.valid, axis=(1, 2)).astype(jnp.int32))
            due = tar2.updates_due(state.episodes, state.episodes + complete, c)
            slot_update = tar2.buffer_update(
                group.model, c, loss_fn=lambda p, b, k: loss_fn(p, b, k, kind)
            )

            def body(i, carry):
                params, opt_state, _ = carry
                params, opt_state, metrics = slot_update(
                    params, opt_state, buffer_state, jax.random.fold_in(key, i)
                )
                return params, opt_state, metrics["return_mse"]

            params, opt_state, mse = jax.lax.fori_loop(
                0, due, body, (state.params, state.opt_state, state.return_mse)
            )
            return ReturnModelState(
                params, opt_state, buffer_state, state.episodes + complete, state.updates + due,
                mse,
            )  # fmt: skip

        keys = jax.random.split(key, len(group.slots))
        return jax.vmap(one)(state, episodes, keys, arel_kinds[group.name])

    def collect_slot(params, rollout_state, key_reset, key_rollout):
        if align:
            rollout_state = aligned_reset(auto_env, rollout_state, key_reset)
        initial_state = rollout_state.policy_state
        rollout_state, traj = rollout(
            auto_env,
            functools.partial(mappo.act, policy=policy),
            params,
            rollout_state,
            key_rollout,
            sizes.num_steps,
            extras_fn=rollout_extras,
        )
        return rollout_state, traj, initial_state

    def gae_and_update(ppo: TrainState, rollout_state, traj, initial_state, rewards, mask,
                       key, key_update):  # fmt: skip
        reward_scale = float(config.get("reward_scale", 1.0))
        traj = traj._replace(reward=rewards)
        if reward_scale != 1.0:
            traj = traj._replace(reward=traj.reward * reward_scale)
        last_value, final_value = mappo.bootstrap(
            ppo.params,
            rollout_state,
            traj,
            initial_state,
            policy=policy,
            bootstrap_truncated=config.bootstrap_truncated,
        )
        advantages, targets = transition_gae(
            traj, traj.value, last_value, final_value,
            gamma=config.gamma, gae_lambda=config.gae_lambda,
        )  # fmt: skip
        if align:
            batch = MaskedBatch(traj, advantages, targets, mask)
        else:
            batch = Batch(traj, advantages, targets)
        if initial_state is not None:
            batch = mappo.SequenceBatch(batch, initial_state)
        params, opt_state, metrics = update_fn(ppo.params, ppo.opt_state, batch, key_update)
        update = ppo.update + 1
        if not align:
            metrics = {**metrics, **mappo.rollout_metrics(rollout_state, batch)}
        metrics["env_steps"] = update * sizes.batch_size
        return TrainState(params, opt_state, rollout_state, key, update), metrics

    def step(state: TAR2State) -> tuple[TAR2State, Metrics]:
        # The PPO keys follow on_policy.train_step's split, so the identity method with
        # align_episodes=False reproduces mappo's step; resets and models use state.key.
        keys = jax.vmap(lambda k: jax.random.split(k, 3))(state.ppo.key)  # [M, 3, 2]
        key_next, key_rollout, key_update = keys[:, 0], keys[:, 1], keys[:, 2]
        key, key_reset, key_models = jax.random.split(state.key, 3)
        # Common random numbers: every slot resets its environments with the same keys.
        reset_keys = jnp.broadcast_to(key_reset, (num_slots,) + key_reset.shape)
        rollout_states, trajs, initial_states = jax.vmap(collect_slot)(
            state.ppo.params, state.ppo.rollout, reset_keys, key_rollout
        )
        metrics: dict[str, Any] = {}
        models = dict(state.models)
        rewards = [None] * num_slots
        if align:
            episodes, step_valid, won = jax.vmap(functools.partial(first_episodes, policy=policy))(
                trajs
            )
        else:
            episodes = step_valid = won = None
        scores = [None] * num_slots
        for g, k in zip(groups, jax.random.split(key_models, max(len(groups), 1)), strict=False):
            index = jnp.array(g.slots)
            slot_episodes = jax.tree.map(lambda x, index=index: x[index], episodes)
            key_train, key_score = jax.random.split(k)
            models[g.name] = train_group(g, models[g.name], slot_episodes, key_train)
            output = jax.vmap(functools.partial(_scores, g))(
                models[g.name].params,
                slot_episodes,
                jax.random.split(key_score, len(g.slots)),
            )
            for j, i in enumerate(g.slots):
                scores[i] = output.scores[j]
                metrics[f"{methods[i]}/return_mse"] = models[g.name].return_mse[j]
                metrics[f"{methods[i]}/model_updates"] = models[g.name].updates[j]
        for i, method in enumerate(methods):
            slot = jax.tree.map(lambda x, i=i: x[i], (trajs, episodes))
            traj_i, episodes_i = slot
            rewards[i] = _slot_rewards(method, traj_i, episodes_i, scores[i])
            if align:
                rewards[i] = jnp.where(step_valid[i][..., None], rewards[i], 0.0)
        rewards = jnp.stack(rewards)
        mask = step_valid if align else jnp.ones((num_slots,) + trajs.done.shape[1:], bool)
        ppo, ppo_metrics = jax.vmap(gae_and_update)(
            state.ppo, rollout_states, trajs, initial_states, rewards, mask, key_next, key_update
        )
        if align:
            complete = jnp.any(step_valid, axis=1)  # [M, B]
            count = jnp.maximum(jnp.sum(complete, axis=1), 1)
            ppo_metrics["episode_return"] = (
                jnp.sum(jnp.where(complete, episodes.episode_return, 0.0), axis=1) / count
            )
            ppo_metrics["win_rate"] = jnp.sum(won & complete, axis=1) / count
            ppo_metrics["episode_length"] = jnp.sum(step_valid, axis=1).mean(axis=1)
            ppo_metrics["episodes"] = jnp.sum(complete, axis=1)
            ppo_metrics["redistributed_sum"] = jnp.mean(jnp.sum(rewards, axis=(1, 3)), axis=1)
        for name, values in ppo_metrics.items():
            for i, method in enumerate(methods):
                metrics[f"{method}/{name}"] = values[i]
        if num_slots == 1:
            metrics = {k.split("/", 1)[1]: v for k, v in metrics.items()}
        else:
            metrics["env_steps"] = ppo_metrics["env_steps"][0]
        return TAR2State(ppo=ppo, models=models, key=key), metrics

    evaluate = None
    if base.evaluate is not None:
        slot_evaluate = jax.vmap(base.evaluate)

        def evaluate(state: TAR2State) -> Metrics:
            out = slot_evaluate(state.ppo)
            if num_slots == 1:
                return {k: v[0] for k, v in out.items()}
            return {f"{m}/{k}": v[i] for k, v in out.items() for i, m in enumerate(methods)}

    return dataclasses.replace(base, init=init, step=step, evaluate=evaluate, partition=_partition)


def _partition(state: TAR2State, mesh) -> Any:
    """Everything replicated (the slot axis leads the rollout's leaves, so mappo's
    environment-axis split does not apply)."""
    del mesh
    return jax.tree.map(lambda _: jax.sharding.PartitionSpec(), state)


def make_train(config: ml_collections.ConfigDict, env: Environment):
    """PureJaxRL's pure ``train(key) -> TrainOutput``; jit it, vmap it over keys for seeds."""
    return on_policy.make_train(make_trainer(config, env))


__all__ = [
    "METHODS",
    "ElapsedState",
    "ElapsedTime",
    "MaskedBatch",
    "ReturnModelState",
    "TAR2State",
    "aligned_reset",
    "default_config",
    "first_episodes",
    "make_train",
    "make_trainer",
    "masked_objective",
    "masked_ppo_terms",
    "masked_sequence_objective",
]

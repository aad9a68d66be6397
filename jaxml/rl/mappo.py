"""IPPO and MAPPO: PPO for cooperative multi-agent environments with shared parameters.

- MAPPO: Yu, Velu, Vinitsky, Gao, Wang, Bayen, Wu. "The Surprising Effectiveness of PPO in
  Cooperative Multi-Agent Games", arXiv 2103.01955 (centralised critic on the global state).
- IPPO: de Witt, Gupta, Makoviichuk, Makoviychuk, Torr, Sun, Whiteson. "Is Independent Learning
  All You Need in the StarCraft Multi-Agent Challenge?", arXiv 2011.09533 (each agent's critic
  sees only its own observation).

Environments follow jaxml's multi-agent API: the agent axis comes first in every per-agent
array (``[A, ...]``; ``[B, A, ...]`` batched), rewards and discounts are ``[A]``, the episode
ends for all agents at once. By default every agent acts with the same actor parameters; a one-hot
agent id appended to its input (``config.agent_id``) lets the agents' policies differ.

Parameter modes (``config.parameter_sharing``; LoRASA, Zhang, Kapoor, Sun, arXiv 2502.05573;
docs/lorasa.md): ``"shared"`` (PS), ``"independent"`` (NPS: one actor per agent, parameters
stacked on the agent axis, ``jaxml.models.stacked``) and ``"lora"`` (the shared backbone plus
per-agent low-rank adapters, ``jaxml.models.lora``), the critic shared unless
``config.critic_sharing="independent"``. LoRASA's phase 2 starts from phase-1 parameters
(``make_trainer(init_params=...)`` or ``config.lora.phase1_checkpoint``), freezes the actor's
backbone with ``optax.partition`` labels (``parameter_labels``) and continues the update counter;
``make_two_phase_train`` / ``make_two_phase_trainer`` run both phases.

How an environment advertises what the trainer reads (observation fields by name; the
observation is a NamedTuple, a chex dataclass or a dict):

- ``action_mask`` ``[A, n]`` bool (SMAX): unavailable actions of the first action head get
  logit ``MASKED_LOGIT``, so they have probability 0 and are never sampled.
- ``world_state`` ``[S]`` (SMAX, MABrax): the global state. MAPPO's critic
  (``config.critic = "centralised"``) sees ``world_state`` plus the agent's one-hot id; without
  a ``world_state`` field it sees the concatenation of every agent's observation instead.
  IPPO's critic (``"decentralised"``) sees the agent's own observation and id, like the actor.
- every other field is per agent (leading axis ``A``) and is flattened and concatenated into
  the agent's observation.

Actions: the action spec is a ``MultiDiscreteArray`` ``[A, *S]`` or a nested ``Spec`` of them
(the Foraging Games' ``ForagingAction(action=[A], message=[A, L])``). Each leaf is one
categorical head; the policy samples heads independently and its log-probability is their sum
(a factorised categorical), per agent ``[B, A]``. A float ``BoundedArray`` ``[A, d]`` with finite
bounds (MABrax) is one continuous head instead: per agent a tanh-squashed diagonal Gaussian
inside the bounds (``agent_actor_critic.continuous_policy``: ``actor_critic.TanhGaussian`` with
the state-dependent softplus std of single-agent PPO's ``"continuous"`` preset, floor
``config.min_std``); its log-probability sums over ``d``, its entropy is the squashed one
(Gauss–Hermite), and the actions it samples lie inside the bounds. Advantages (GAE, per agent
on ``[T, B, A]``) and the PPO loss are per agent; the loss averages over samples and agents.

Recurrent policies (``config.recurrent = "gru" | "lstm"``): the actor and the critic each end
with a cell whose state is carried through the rollout and zeroed when an episode ends. The
state at the start of each rollout is stored, so the update replays every environment's whole
sequence from it (minibatches are sets of environments, not of time steps: ``num_minibatches``
must divide ``num_envs``); at the first epoch the replay reproduces the rollout's
log-probabilities, so the PPO ratio starts at 1. With one agent this is recurrent PPO
(``as_multi_agent`` gives a single-agent environment an agent axis of 1).

The loop reuses ``jaxml.rl.on_policy`` (sizes, optimizer, ``sgd_update``/``epoch_step``,
episode metrics, ``rollout_and_gae``, ``train_step``, ``Trainer``/``make_train``)::

    import jax
    from jaxml import envs
    from jaxml.rl import mappo

    env = envs.make("jaxmarl/SMAX", scenario="3m")
    train = mappo.make_train(mappo.default_config("mappo"), env)
    out = jax.jit(train)(jax.random.PRNGKey(0))
    out.metrics["win_rate"]  # [num_updates]

Metrics add ``win_rate``: the share of episodes ending in this rollout that were won, as the
environment says in ``extras["won"]`` (SMAX: the enemy team wiped out) or ``extras["success"]``
(the Foraging Games); 0 when none ended, ``episodes`` counts them.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
import orbax.checkpoint as ocp
from jumanji import specs
from jumanji.env import Environment

from jaxml.envs.wrappers import AsMultiAgent
from jaxml.models import lora
from jaxml.models.agent_actor_critic import (
    ACTOR_PREFIXES,
    CRITIC_PREFIXES,
    CRITIC_SHARING,
    SHARING,
    AgentActorCritic,
    continuous_head_size,
    continuous_policy,
    factorised_policy,
    initial_carry,
    make_agent_actor_critic,
    mask_logits,
    merge_lora,
)
from jaxml.rl import on_policy, ppo
from jaxml.rl._evaluate import outcome_names
from jaxml.rl._rollout import RolloutState, auto_reset, reset, reset_policy_state
from jaxml.rl.losses import normalize, ppo_loss
from jaxml.rl.on_policy import Batch, Metrics, OnPolicyTrainer, TrainOutput, TrainState
from jaxml.utils import checks
from jaxml.utils.checkpoint import CHECKPOINT_DIR
from jaxml.utils.partition import partition_labels, path_names
from jaxml.utils.trainer import scan_steps

CRITICS = ("centralised", "decentralised")
RECURRENT = ("none", "gru", "lstm")
ALGORITHMS = {"mappo": "centralised", "ippo": "decentralised"}
MASK_FIELD = "action_mask"
STATE_FIELD = "world_state"


def default_config(algorithm: str = "mappo") -> ml_collections.ConfigDict:
    """PPO's fields (``ppo.default_config``) at multi-agent values, plus:

    ``critic`` (``"centralised"`` for MAPPO, ``"decentralised"`` for IPPO), ``recurrent``
    (``"none"`` | ``"gru"`` | ``"lstm"``), ``rnn_size`` and ``agent_id`` (append a one-hot agent
    id to the inputs).
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm: got {algorithm!r}; accepted: {tuple(ALGORITHMS)}")
    config = ppo.default_config()
    config.update(
        num_envs=64,
        num_steps=128,
        total_timesteps=1_000_000,
        update_epochs=4,
        num_minibatches=4,
        learning_rate=5e-4,
        hidden=(64, 64),
        activation="relu",
        ent_coef=0.01,
    )
    config.critic = ALGORITHMS[algorithm]
    config.recurrent = "none"
    config.rnn_size = 128
    config.agent_id = True
    # Parameter modes (LoRASA, Zhang, Kapoor, Sun, arXiv 2502.05573): "shared" (PS, one actor for
    # every agent), "independent" (NPS, one actor per agent, stacked on the agent axis) or "lora"
    # (PS + per-agent low-rank adapters). The critic is shared unless critic_sharing says so.
    config.parameter_sharing = "shared"
    config.critic_sharing = "shared"  # Or "independent".
    config.identical_init = False  # Independent networks start from one draw (NPS == PS at 0).
    config.lora = ml_collections.ConfigDict(
        {
            "rank": 8,  # r; r >= min(in, out) gives a full-rank ΔW.
            "alpha": 8.0,  # ΔW = (α / r) B A; the authors' scripts: α = r = 8.
            "placement": "all",  # "all" actor layers, the "last_k" layers, or the "head".
            "last_k": 1,
            "bias": False,  # A per-agent bias b_i.
            # Phase 2 trains the adapters and the critic; the actor's backbone W0 is frozen
            # unless train_backbone (co-training). A frozen backbone needs phase-1 weights:
            # make_trainer(init_params=...) or a phase-1 run's workdir here (its latest
            # checkpoint, member phase1_member of its vmapped seeds).
            "train_backbone": False,
            "train_critic": True,
            "phase1_checkpoint": ml_collections.config_dict.placeholder(str),
            "phase1_member": 0,
            # make_two_phase_train: environment steps of the PS phase within total_timesteps.
            "phase1_timesteps": 0,
        }
    )
    return config


class Layout(NamedTuple):
    """What the trainer reads from an environment's specs (static Python values)."""

    num_agents: int  # A.
    head_sizes: tuple[int, ...]  # n_h per action leaf.
    head_shapes: tuple[tuple[int, ...], ...]  # S_h per action leaf (after the agent axis).
    valid: tuple[np.ndarray, ...]  # [A, *S_h, n_h] bool: values inside each leaf's num_values.
    treedef: Any  # Structure of the environment's action (a leaf for a plain array spec).
    # A continuous [A, d] box: one head of width 2d (head_sizes), squashed into [low, high].
    continuous: bool = False
    low: np.ndarray | None = None  # [A, d] float32 (continuous only).
    high: np.ndarray | None = None  # [A, d] float32 (continuous only).


def _leaf_specs(spec: specs.Spec) -> tuple[list[specs.Spec], Any]:
    if isinstance(spec, specs.Array):
        return [spec], jax.tree.structure(0)
    return jax.tree.flatten(spec._constructor(**spec._specs))


def _continuous_layout(leaf: specs.BoundedArray, treedef: Any) -> Layout:
    """One continuous head for a float ``BoundedArray`` ``[A, d]`` with finite bounds."""
    checks.expect(
        len(leaf.shape) == 2 and min(leaf.shape) > 0,
        "action_spec",
        "a continuous BoundedArray of shape [A, d] (agent axis first)",
        leaf,
    )
    low = np.broadcast_to(np.asarray(leaf.minimum, np.float32), leaf.shape)
    high = np.broadcast_to(np.asarray(leaf.maximum, np.float32), leaf.shape)
    checks.expect(
        bool(np.all(np.isfinite(low)) and np.all(np.isfinite(high)) and np.all(high > low)),
        "action_spec",
        "finite bounds with maximum > minimum (a tanh-squashed head)",
        leaf,
    )
    num_agents, dim = (int(n) for n in leaf.shape)
    width = continuous_head_size(dim)
    valid = (np.ones((num_agents, width), bool),)
    return Layout(num_agents, (width,), ((),), valid, treedef, True, low.copy(), high.copy())


def action_layout(action_spec: specs.Spec) -> Layout:
    """The heads of ``action_spec`` (agent axis first): a categorical head per leaf of a
    (nested) multi-discrete spec, or one continuous head for a float ``BoundedArray`` ``[A, d]``.

    Raises:
      ValueError: for leaves that are neither, disagree on the agent axis, or mix a continuous
        box with other leaves.
    """
    leaves, treedef = _leaf_specs(action_spec)
    floats = [
        leaf
        for leaf in leaves
        if isinstance(leaf, specs.Array) and jnp.issubdtype(leaf.dtype, jnp.floating)
    ]
    if floats:
        if len(leaves) != 1 or not isinstance(floats[0], specs.BoundedArray):
            raise ValueError(
                f"action_spec: expected one float BoundedArray [A, d] (a continuous head) or "
                f"MultiDiscreteArray leaves, got {action_spec!r}"
            )
        return _continuous_layout(floats[0], treedef)
    sizes, shapes, valid, agents = [], [], [], set()
    for leaf in leaves:
        if isinstance(leaf, specs.MultiDiscreteArray):
            num_values = np.asarray(leaf.num_values)
        elif isinstance(leaf, specs.DiscreteArray):
            raise ValueError(
                f"action_spec: {leaf!r} has no agent axis; multi-agent trainers need a "
                "MultiDiscreteArray [A, ...] (wrap single-agent envs with as_multi_agent)"
            )
        else:
            raise ValueError(
                f"action_spec: no head for {leaf!r}; accepted: MultiDiscreteArray leaves "
                "(categorical) or one float BoundedArray [A, d] (continuous), agent axis first"
            )
        if num_values.ndim == 0:
            raise ValueError(f"action_spec: {leaf!r} has no agent axis")
        agents.add(num_values.shape[0])
        n = int(num_values.max())
        sizes.append(n)
        shapes.append(tuple(int(s) for s in num_values.shape[1:]))
        valid.append(np.arange(n) < num_values[..., None])
    if len(agents) != 1:
        raise ValueError(f"action_spec: leaves disagree on the agent axis: {sorted(agents)}")
    return Layout(agents.pop(), tuple(sizes), tuple(shapes), tuple(valid), treedef)


def _fields(obs: Any) -> dict[str, Any]:
    if isinstance(obs, Mapping):
        return dict(obs)
    if hasattr(obs, "_asdict"):
        return dict(obs._asdict())
    if dataclasses.is_dataclass(obs):
        return {f.name: getattr(obs, f.name) for f in dataclasses.fields(obs)}
    return {"observation": obs}


def agent_inputs(
    obs: Any, num_agents: int, batch_ndim: int, *, centralised: bool, agent_id: bool
) -> tuple[jax.Array, jax.Array, jax.Array | None]:
    """``(actor_in [*b, A, Da], critic_in [*b, A, Dc], action_mask [*b, A, n] | None)``.

    See the module docstring for the fields read; ``batch_ndim`` leading axes ``*b`` precede the
    agent axis.
    """
    fields = _fields(obs)
    mask = fields.pop(MASK_FIELD, None)
    world = fields.pop(STATE_FIELD, None)
    parts = []
    for name, x in sorted(fields.items()):
        batch = x.shape[:batch_ndim]
        if x.ndim <= batch_ndim or x.shape[batch_ndim] != num_agents:
            raise ValueError(
                f"observation.{name}: expected the agent axis ({num_agents}) after "
                f"{batch_ndim} batch axes, got shape {x.shape}"
            )
        parts.append(jnp.reshape(x, batch + (num_agents, -1)).astype(jnp.float32))
    own = jnp.concatenate(parts, axis=-1)
    batch = own.shape[:batch_ndim]
    ids = [jnp.broadcast_to(jnp.eye(num_agents), batch + (num_agents, num_agents))]
    ids = ids if agent_id else []
    actor_in = jnp.concatenate([own, *ids], axis=-1)
    if not centralised:
        return actor_in, actor_in, mask
    if world is None:
        world = jnp.reshape(own, batch + (-1,))  # Fallback: every agent's observation.
    world = jnp.reshape(world, batch + (-1,)).astype(jnp.float32)
    world = jnp.broadcast_to(world[..., None, :], batch + (num_agents, world.shape[-1]))
    return actor_in, jnp.concatenate([world, *ids], axis=-1), mask


class Policy(NamedTuple):
    """The network with the environment's layout: everything that maps observations to actions."""

    model: AgentActorCritic
    layout: Layout
    centralised: bool
    agent_id: bool
    min_std: float = 1e-3  # Continuous heads: the standard deviation's floor.

    @property
    def continuous(self) -> bool:
        return self.layout.continuous

    def apply(self, params: Any, obs: Any, carry: Any, batch_ndim: int):
        """``(carry, masked logits per head [*b, A, *S_h, n_h], value [*b, A])``; a continuous
        head's outputs ``[*b, A, 2d]`` are returned as they are (one head, nothing masked)."""
        actor_in, critic_in, mask = agent_inputs(
            obs,
            self.layout.num_agents,
            batch_ndim,
            centralised=self.centralised,
            agent_id=self.agent_id,
        )
        carry, logits, value = self.model.apply(params, carry, actor_in, critic_in)
        if self.layout.continuous:
            return carry, logits, value
        masked = []
        for h, (lg, valid) in enumerate(zip(logits, self.layout.valid, strict=True)):
            keep = jnp.broadcast_to(jnp.asarray(valid), lg.shape)
            if h == 0 and mask is not None:
                keep = keep & jnp.broadcast_to(mask.astype(bool), lg.shape)
            masked.append(mask_logits(lg, keep))
        return carry, tuple(masked), value

    def distribution(self, logits: tuple[jax.Array, ...], agent_ndim: int):
        """The policy of ``apply``'s head outputs, batch shape ``[*b, A]`` (``agent_ndim`` axes):
        ``factorised_policy`` (samples a tuple per head) or, for a continuous head,
        ``continuous_policy`` (samples ``[*b, A, d]`` inside the bounds)."""
        if self.layout.continuous:
            return continuous_policy(logits[0], self.layout.low, self.layout.high, self.min_std)
        return factorised_policy(logits, agent_ndim)

    def env_action(self, actions: Any) -> Any:
        if self.layout.continuous:
            return actions  # [*b, A, d] float32, already inside the bounds.
        return jax.tree.unflatten(self.layout.treedef, list(actions))

    def heads(self, action: Any) -> Any:
        """What ``distribution(...).log_prob`` takes: a tuple per categorical head, or the
        continuous action ``[*b, A, d]``."""
        if self.layout.continuous:
            return action
        return tuple(jax.tree.leaves(action))


def act(params: Any, obs: Any, key: jax.Array, carry: Any = None, *, policy: Policy):
    """The rollout policy: ``(action, log_prob [B, A], value [B, A](, carry))`` for ``obs [B]``."""
    new_carry, logits, value = policy.apply(params, obs, carry, 1)
    pi = policy.distribution(logits, 2)  # [B, A]
    actions = pi.sample(seed=key)
    log_prob = pi.log_prob(actions)
    out = (policy.env_action(actions), log_prob, value)
    return out if carry is None else (*out, new_carry)


def unroll(policy: Policy, params: Any, obs: Any, done: jax.Array, carry: Any):
    """Replays ``T`` steps of a recurrent policy from ``carry`` ``[B, ...]``, zeroing it after
    each ``done`` ``[T, B]`` as the rollout does.

    Returns:
      ``(logits per head [T, B, A, ...], values [T, B, A], carries [T, B, ...])``; ``carries[t]``
      is the state after step ``t`` before any reset (what the episode's next observation would
      be evaluated from).
    """

    def body(carry, inputs):
        obs_t, done_t = inputs
        new_carry, logits, value = policy.apply(params, obs_t, carry, 1)
        return reset_policy_state(new_carry, done_t), (logits, value, new_carry)

    _, (logits, values, carries) = jax.lax.scan(body, carry, (obs, done))
    return logits, values, carries


class SequenceBatch(NamedTuple):
    """A recurrent rollout: ``batch`` ``[T, B, ...]`` and the policy state it started from."""

    batch: Batch
    initial_state: Any  # [B, A, H] (LSTM: a pair), the state before the rollout's first step.


def outcome_fn(env: Environment):
    """``timestep -> {"won": [B] bool}`` from the env's own outcome extra (``won`` for SMAX,
    else ``success``; ``jaxml.rl.evaluate`` reads the same ones), or None when it has neither."""
    names = outcome_names(env)
    if not names:
        return None
    name = names[0]
    return lambda timestep: {"won": jnp.asarray(timestep.extras[name], bool)}


def bootstrap(
    params: Any,
    rollout_state: RolloutState,
    traj: Any,
    initial_state: Any,
    *,
    policy: Policy,
    bootstrap_truncated: bool,
) -> tuple[jax.Array, jax.Array]:
    """``on_policy.rollout_and_gae``'s ``bootstrap_fn``: values ``[B, A]`` and ``[T, B, A]``."""
    if initial_state is None:
        return on_policy.feedforward_bootstrap(
            params,
            rollout_state,
            traj,
            initial_state,
            value_fn=lambda p, obs, ndim: policy.apply(p, obs, None, ndim)[2],
            bootstrap_truncated=bootstrap_truncated,
        )
    _, _, last_value = policy.apply(params, rollout_state.obs, rollout_state.policy_state, 1)
    if not bootstrap_truncated:
        return last_value, jnp.zeros_like(traj.value)
    # A final observation continues from the state after its step: replay the rollout for it.
    _, _, carries = unroll(policy, params, traj.obs, traj.done, initial_state)
    _, _, final_value = policy.apply(params, traj.next_obs, carries, 2)
    return last_value, final_value


def collect(
    params: Any,
    rollout_state: RolloutState,
    key: jax.Array,
    *,
    env: Environment,
    policy: Policy,
    config: ml_collections.ConfigDict,
    extras_fn: Any,
) -> tuple[RolloutState, Batch | SequenceBatch]:
    """Rolls out ``num_steps`` steps and computes per-agent advantages and targets."""
    initial_state = rollout_state.policy_state
    rollout_state, batch = on_policy.rollout_and_gae(
        params,
        rollout_state,
        key,
        env=env,
        act_fn=functools.partial(act, policy=policy),
        bootstrap_fn=functools.partial(
            bootstrap, policy=policy, bootstrap_truncated=config.bootstrap_truncated
        ),
        num_steps=config.num_steps,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        extras_fn=extras_fn,
        reward_scale=float(config.get("reward_scale", 1.0)),
        advantage=config.get("advantage", "gae"),
    )
    return rollout_state, batch if initial_state is None else SequenceBatch(batch, initial_state)


def ppo_terms(
    logits: tuple[jax.Array, ...],
    value: jax.Array,
    batch: Batch,
    *,
    policy: Policy,
    config: ml_collections.ConfigDict,
    mask: jax.Array | None = None,
) -> tuple[jax.Array, Metrics]:
    """PPO's loss over every (sample, agent) pair of a minibatch with ``[*b, A]`` leaves; with
    ``mask`` (bool ``[*b]``, broadcast over agents) every mean, the advantages' normalisation
    included, is over the masked-in pairs only (``losses.weighted_mean``)."""
    t = batch.transitions
    ndim = t.log_prob.ndim  # Batch axes plus the agent axis.
    pi = policy.distribution(logits, ndim)
    log_prob = pi.log_prob(policy.heads(t.action))
    entropy, ent_coef = pi.entropy(), config.ent_coef
    head_coefs = config.get("head_ent_coefs")  # Optional: one entropy weight per action head.
    if head_coefs is not None:  # (The foraging agents: 0.01 on moves, 0.002 on messages.)
        parts = zip(head_coefs, pi.distributions, strict=True)
        entropy, ent_coef = sum(c * head.entropy() for c, head in parts), 1.0
    weight = None
    if mask is not None:
        mask = jnp.reshape(mask, mask.shape + (1,) * (ndim - mask.ndim))
        weight = jnp.broadcast_to(mask, log_prob.shape).astype(jnp.float32)
    advantages = batch.advantages
    if config.normalize_advantages:
        advantages = normalize(advantages, weight=weight)

    def flat(x):
        return None if x is None else jnp.reshape(x, (-1,))

    return ppo_loss(
        flat(log_prob),
        flat(t.log_prob),
        flat(advantages),
        flat(value),
        flat(t.value),
        flat(batch.targets),
        flat(entropy),
        clip_eps=config.clip_eps,
        vf_coef=config.vf_coef,
        ent_coef=ent_coef,
        value_clip_eps=config.clip_eps if config.clip_value else None,
        weight=flat(weight),
    )


def objective(
    params: Any, minibatch: Batch, *, policy: Policy, config, terms: Any = None
) -> tuple[Any, Metrics]:
    """Feed-forward: PPO's loss on a flat minibatch ``[N, A, ...]`` (for ``sgd_update``);
    ``terms(logits, value, batch, *, policy, config)`` computes it from the network's outputs
    (default ``ppo_terms``)."""
    _, logits, value = policy.apply(params, minibatch.transitions.obs, None, 1)
    return (terms or ppo_terms)(logits, value, minibatch, policy=policy, config=config)


def sequence_objective(
    params: Any, minibatch: SequenceBatch, *, policy: Policy, config, terms: Any = None
) -> tuple[Any, Metrics]:
    """Recurrent: PPO's loss on whole sequences of a minibatch of environments ``[Bm, T]``
    (``terms`` as in ``objective``)."""
    batch = jax.tree.map(lambda x: jnp.swapaxes(x, 0, 1), minibatch.batch)  # [T, Bm, ...]
    t = batch.transitions
    logits, value, _ = unroll(policy, params, t.obs, t.done, minibatch.initial_state)
    return (terms or ppo_terms)(logits, value, batch, policy=policy, config=config)


def sequence_sgd_update(
    params: Any,
    opt_state: Any,
    batch: SequenceBatch,
    key: jax.Array,
    *,
    objective: Any,
    optimizer: Any,
    sizes: on_policy.Sizes,
) -> tuple[Any, Any, Metrics]:
    """``update_epochs`` passes of shuffled minibatches of environments (``on_policy.run_epochs``
    over the environment axis), each replaying its environments' sequences."""
    transitions = batch.batch.transitions._replace(next_obs=None, extras=None)
    env_major = jax.tree.map(
        lambda x: jnp.swapaxes(x, 0, 1), batch.batch._replace(transitions=transitions)
    )
    return on_policy.run_epochs(
        params,
        opt_state,
        SequenceBatch(env_major, batch.initial_state),
        key,
        objective=objective,
        optimizer=optimizer,
        sizes=sizes,
    )


def flat_sgd_update(params, opt_state, batch: Batch, key, **kwargs):
    """``on_policy.sgd_update`` without the rollout's extras (they are for metrics only)."""
    batch = batch._replace(transitions=batch.transitions._replace(extras=None))
    return on_policy.sgd_update(params, opt_state, batch, key, **kwargs)


def win_metrics(batch: Batch | SequenceBatch) -> Metrics:
    """``win_rate``: the share of this rollout's finished episodes that were won (0 if none)."""
    if isinstance(batch, SequenceBatch):
        batch = batch.batch
    t = batch.transitions
    if t.extras is None:
        return {}
    ended = jnp.sum(t.done.astype(jnp.float32))
    wins = jnp.sum((t.extras["won"] & t.done).astype(jnp.float32))
    return {"win_rate": wins / jnp.maximum(ended, 1.0)}


def _flat(tree: Any) -> dict[tuple[str, ...], Any]:
    return {path_names(p): x for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]}


def load_backbone(params: Any, source: Any) -> Any:
    """``params`` with every non-adapter leaf taken from ``source`` (phase-1 parameters of the
    same network without adapters, e.g. a shared-parameter run's): LoRASA's phase 2 start.

    Raises:
      ValueError: ``init_params`` lacks a leaf of the backbone or has another shape.
    """
    flat = _flat(source)

    def take(path, x):
        names = path_names(path)
        if lora.is_adapter(names):
            return x
        if names not in flat:
            raise ValueError(f"init_params: no leaf {'/'.join(names)} for the backbone")
        if jnp.shape(flat[names]) != x.shape:
            raise ValueError(
                f"init_params: {'/'.join(names)} has shape {jnp.shape(flat[names])}, "
                f"expected {x.shape}"
            )
        return jnp.asarray(flat[names], x.dtype)

    return jax.tree_util.tree_map_with_path(take, params)


def init_state(
    key: jax.Array, *, env: Environment, policy: Policy, optimizer, config, init_params=None
) -> TrainState:
    """Initial parameters, optimizer state, ``num_envs`` reset environments and zero states.

    ``init_params`` (phase 2 of LoRASA): phase-1 parameters, or a phase-1 ``TrainState`` whose
    environments, recurrent states and update counter the run continues; the backbone is
    loaded from them (``load_backbone``), the adapters start at ΔW = 0, the optimizer afresh.
    """
    key_params, key_env, key_next = jax.random.split(key, 3)
    num_agents = policy.layout.num_agents
    example = env.observation_spec.generate_value()
    actor_in, critic_in, _ = agent_inputs(
        example, num_agents, 0, centralised=policy.centralised, agent_id=policy.agent_id
    )
    carry = initial_carry(config.recurrent, config.rnn_size, (num_agents,))
    params = policy.model.init(key_params, carry, actor_in, critic_in)
    rollout_state = reset(env, key_env, config.num_envs, **on_policy.normalization_kwargs(config))
    carry = initial_carry(config.recurrent, config.rnn_size, (config.num_envs, num_agents))
    rollout_state = rollout_state._replace(policy_state=carry)
    update = jnp.zeros((), jnp.int32)
    if isinstance(init_params, TrainState):
        params = load_backbone(params, init_params.params)
        rollout_state, update = init_params.rollout, init_params.update
    elif init_params is not None:
        params = load_backbone(params, init_params)
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        rollout=rollout_state,
        key=key_next,
        update=update,
    )


def rollout_metrics(rollout_state: RolloutState, batch: Batch | SequenceBatch) -> Metrics:
    """``on_policy.episode_metrics`` plus ``win_rate`` (``on_policy.train_step``'s metrics_fn)."""
    plain = batch.batch if isinstance(batch, SequenceBatch) else batch
    return {**on_policy.episode_metrics(rollout_state, plain), **win_metrics(batch)}


def _check(config: ml_collections.ConfigDict) -> None:
    on_policy.require_fields(config, ("critic", "recurrent", "rnn_size", "agent_id"), "mappo")
    if config.critic not in CRITICS:
        raise ValueError(f"config.critic: got {config.critic!r}; accepted: {CRITICS}")
    if config.recurrent not in RECURRENT:
        raise ValueError(f"config.recurrent: got {config.recurrent!r}; accepted: {RECURRENT}")
    on_policy.positive_int_field(config, "rnn_size")
    if config.agent_id not in (True, False):
        raise ValueError(f"config.agent_id: expected a bool, got {config.agent_id!r}")
    checks.choice(config.get("parameter_sharing", "shared"), "config.parameter_sharing", SHARING)
    checks.choice(config.get("critic_sharing", "shared"), "config.critic_sharing", CRITIC_SHARING)
    if config.get("parameter_sharing", "shared") == "lora":
        on_policy.require_fields(config, ("lora",), "mappo")
        for field in ("train_backbone", "train_critic"):
            value = config.lora.get(field)
            checks.expect(value in (True, False), f"config.lora.{field}", "a bool", value)
    ppo._check(config)


def lora_config(config: ml_collections.ConfigDict) -> lora.LoRAConfig:
    """The adapters' settings from ``config.lora`` (checked when the network is built)."""
    if "lora" not in config:
        return lora.LoRAConfig()
    c = config.lora
    return lora.LoRAConfig(c.rank, c.alpha, c.placement, c.last_k, c.bias)


def make_policy(config: ml_collections.ConfigDict, env: Environment) -> Policy:
    """The shared-parameter network and the layout of ``env``'s actions (config checked)."""
    layout = action_layout(env.action_spec)
    try:
        model = make_agent_actor_critic(
            layout.head_sizes,
            layout.head_shapes,
            hidden=config.hidden,
            activation=config.activation,
            cell=config.recurrent,
            rnn_size=config.rnn_size,
            actor_sharing=config.get("parameter_sharing", "shared"),
            critic_sharing=config.get("critic_sharing", "shared"),
            identical_init=config.get("identical_init", False),
            lora=lora_config(config),
        )
    except ValueError as error:
        raise ValueError(f"config.{error}") from error
    obs_fields = _fields(env.observation_spec.generate_value())
    mask = obs_fields.get(MASK_FIELD)
    min_std = config.get("min_std", 1e-3)
    if layout.continuous:
        checks.expect(mask is None, f"observation.{MASK_FIELD}", "none with a continuous head",
                      getattr(mask, "shape", mask))  # fmt: skip
        checks.expect(config.get("head_ent_coefs") is None, "config.head_ent_coefs",
                      "None with a continuous head", config.get("head_ent_coefs"))  # fmt: skip
        checks.expect(isinstance(min_std, int | float) and min_std > 0, "config.min_std",
                      "a positive float", min_std)  # fmt: skip
    if mask is not None and (
        layout.head_shapes[0] != () or mask.shape != (layout.num_agents, layout.head_sizes[0])
    ):
        raise ValueError(
            f"observation.{MASK_FIELD}: shape {mask.shape} does not fit the first action head "
            f"[{layout.num_agents}, {layout.head_sizes[0]}]"
        )
    return Policy(
        model, layout, config.critic == "centralised", bool(config.agent_id), float(min_std)
    )


def parameter_labels(params: Any, config: ml_collections.ConfigDict) -> Any:
    """``"trained"`` / ``"frozen"`` for each leaf (``optax.partition`` labels).

    With adapters (``parameter_sharing="lora"``) the actor's backbone is frozen unless
    ``config.lora.train_backbone``, and the critic unless ``config.lora.train_critic``; every
    other mode trains everything.
    """
    frozen: tuple[str, ...] = ()
    if config.get("parameter_sharing", "shared") == "lora":
        frozen += () if config.lora.train_backbone else ACTOR_PREFIXES
        frozen += () if config.lora.train_critic else CRITIC_PREFIXES

    def is_frozen(path: tuple[str, ...]) -> bool:
        # Prefixes, not whole names: the policy heads are policy_head_0, policy_head_1, ...
        in_frozen = len(path) > 1 and path[0] == "params" and path[1].startswith(frozen)
        return bool(frozen) and in_frozen and not lora.is_adapter(path)

    return partition_labels(params, {"frozen": is_frozen}, default="trained")


def make_parameter_optimizer(
    config: ml_collections.ConfigDict, sizes: on_policy.Sizes
) -> optax.GradientTransformation:
    """``on_policy.make_optimizer``; with frozen groups (``parameter_labels``) it steps only the
    trained leaves (``optax.partition`` with ``optax.set_to_zero`` for the frozen ones: they do
    not move, bitwise, and hold no optimizer state)."""
    base = on_policy.make_optimizer(config, sizes)
    if config.get("parameter_sharing", "shared") != "lora":
        return base
    return optax.partition(
        {"trained": base, "frozen": optax.set_to_zero()},
        functools.partial(parameter_labels, config=config),
    )


def load_phase1(path: str, member: int = 0) -> Any:
    """The phase-1 parameters of member ``member`` from the latest checkpoint in ``path`` (a
    ``run_trainer`` workdir: its carry is the seeds' vmapped ``TrainState``).

    Raises:
      ValueError: naming ``config.lora.phase1_checkpoint`` when it holds no checkpoint.
    """
    # Restored without a target: the saved tree as dicts (a TrainState's fields by name), so
    # the phase-1 run's optimizer and rollout structure need not be rebuilt here.
    manager = ocp.CheckpointManager(Path(path).absolute() / CHECKPOINT_DIR)
    try:
        step = manager.latest_step()
        if step is None:
            raise ValueError(f"config.lora.phase1_checkpoint: no checkpoint in {path!r}")
        carry = manager.restore(step, args=ocp.args.StandardRestore())["carry"]
    finally:
        manager.close()
    return jax.tree.map(lambda x: jnp.asarray(x)[member], carry["params"])


def make_trainer(
    config: ml_collections.ConfigDict, env: Environment, *, init_params: Any = None
) -> OnPolicyTrainer:
    """IPPO's or MAPPO's ``init(key)`` and ``step(state)`` for the multi-agent ``env``.

    ``init_params``: LoRASA's phase-1 parameters or ``TrainState`` (see ``init_state``); else
    ``config.lora.phase1_checkpoint`` names a phase-1 run to load (``parameter_sharing="lora"``).

    Raises:
      ValueError: naming the config field (or the env's spec) that does not fit.
    """
    _check(config)
    sizes = on_policy.derive_sizes(config)
    recurrent = config.recurrent != "none"
    if recurrent and config.num_envs % config.num_minibatches:
        raise ValueError(
            f"config.num_minibatches: {config.num_minibatches} does not divide num_envs = "
            f"{config.num_envs} (recurrent policies minibatch over environments)"
        )
    policy = make_policy(config, env)
    optimizer = make_parameter_optimizer(config, sizes)
    if policy.model.actor_sharing == "lora" and init_params is None:
        path = config.lora.get("phase1_checkpoint")
        if path:
            init_params = load_phase1(path, int(config.lora.phase1_member))
        elif not config.lora.train_backbone:
            raise ValueError(
                "config.lora.phase1_checkpoint: required (or make_trainer(init_params=...)) "
                "when config.lora.train_backbone is False: the frozen backbone comes from a "
                "phase-1 shared-parameter run"
            )
    env = auto_reset(env, config.get("auto_reset", "fresh"))
    loss = sequence_objective if recurrent else objective
    update_fn = functools.partial(
        sequence_sgd_update if recurrent else flat_sgd_update,
        objective=functools.partial(loss, policy=policy, config=config),
        optimizer=optimizer,
        sizes=sizes,
    )
    init = functools.partial(
        init_state,
        env=env,
        policy=policy,
        optimizer=optimizer,
        config=config,
        init_params=init_params,
    )
    collect_fn = functools.partial(
        collect, env=env, policy=policy, config=config, extras_fn=outcome_fn(env)
    )
    step = functools.partial(
        on_policy.train_step,
        collect_fn=collect_fn,
        update_fn=update_fn,
        sizes=sizes,
        metrics_fn=rollout_metrics,
    )
    return OnPolicyTrainer(
        init=init,
        step=step,
        num_steps=sizes.num_updates,
        evaluate=on_policy.make_trainer_evaluate(config, policy, env),
        sizes=sizes,
        model=policy,
        optimizer=optimizer,
        env=env,
    )


def make_train(config: ml_collections.ConfigDict, env: Environment):
    """PureJaxRL's pure ``train(key) -> TrainOutput``; jit it, vmap it over keys for seeds."""
    return on_policy.make_train(make_trainer(config, env))


def merged_policy(policy: Policy, params: Any) -> tuple[Policy, Any]:
    """A LoRA policy as the independent policy with merged per-agent weights
    ``W0 + (α/r) B_i A_i`` (``agent_actor_critic.merge_lora``): same actions, no adapter
    arithmetic at evaluation (``jaxml.rl.evaluate(*merged_policy(policy, params), ...)``)."""
    model, merged = merge_lora(policy.model, params, policy.layout.num_agents)
    return policy._replace(model=model), merged


def phase_configs(
    config: ml_collections.ConfigDict,
) -> tuple[ml_collections.ConfigDict, ml_collections.ConfigDict]:
    """LoRASA's two phases of ``config``: PS for ``lora.phase1_timesteps`` environment steps,
    then the adapters for the rest of ``total_timesteps``. With ``anneal_lr`` both follow one
    linear decay over the two phases' updates (``anneal_span``), so the adapters start at the
    rate the PS run had reached, as a single-phase run's would be at that update.

    Raises:
      ValueError: naming ``config.lora.phase1_timesteps`` when it leaves no room for a phase.
    """
    total, first = int(config.total_timesteps), config.lora.phase1_timesteps
    checks.positive_int(first, "config.lora.phase1_timesteps")
    checks.expect(first < total, "config.lora.phase1_timesteps", f"< total_timesteps ({total})",
                  first)  # fmt: skip
    phase1 = config.copy_and_resolve_references()
    phase1.update(parameter_sharing="shared", total_timesteps=first)
    phase2 = config.copy_and_resolve_references()
    phase2.update(parameter_sharing="lora", total_timesteps=total - first)
    updates1 = on_policy.derive_sizes(phase1).num_updates
    updates = updates1 + on_policy.derive_sizes(phase2).num_updates
    phase1.anneal_span, phase2.anneal_span = (0, updates), (updates1, updates)
    return phase1, phase2


def _two_phase(config: ml_collections.ConfigDict, env: Environment):
    """Phase 1's trainer, phase 2's, and ``phase2_init(key, phase1_state)``."""
    phase1, phase2 = phase_configs(config)
    first = make_trainer(phase1, env)
    # Phase 2's step does not depend on its start; init_params here only passes the checks
    # (a trainer is built outside jit: environment specs are not traceable).
    placeholder = jax.eval_shape(first.init, jax.random.PRNGKey(0))
    second = make_trainer(phase2, env, init_params=placeholder)

    def phase2_init(key: jax.Array, phase1_state: TrainState) -> TrainState:
        return init_state(
            key, env=second.env, policy=second.model, optimizer=second.optimizer,
            config=phase2, init_params=phase1_state,
        )  # fmt: skip

    return first, second, phase2_init


def make_two_phase_train(config: ml_collections.ConfigDict, env: Environment):
    """LoRASA's schedule as one pure ``train(key) -> TrainOutput``: phase 1 trains the shared
    policy, phase 2 continues its environments and update counter with per-agent adapters on
    the frozen (or, with ``lora.train_backbone``, co-trained) backbone. Metrics ``[U1 + U2]``
    (``env_steps`` runs on across the switch); the state is phase 2's."""
    first, second, phase2_init = _two_phase(config, env)

    def train(key: jax.Array) -> TrainOutput:
        key1, key2 = jax.random.split(key)
        out1 = on_policy.make_train(first)(key1)
        out2 = scan_steps(second, phase2_init(key2, out1.state), second.num_steps)
        metrics = jax.tree.map(lambda a, b: jnp.concatenate([a, b]), out1.metrics, out2.metrics)
        return TrainOutput(out2.state, metrics)

    return train


def make_two_phase_trainer(config: ml_collections.ConfigDict, env: Environment) -> OnPolicyTrainer:
    """Phase 2 of LoRASA as a ``Trainer`` whose ``init(key)`` runs all of phase 1 (one scan):
    ``run_trainer`` then chunks, checkpoints and evaluates the adapter phase like any run. Its
    steps are phase 2's (the state's update counter starts at phase 1's end)."""
    first, second, phase2_init = _two_phase(config, env)

    def init(key: jax.Array) -> TrainState:
        key1, key2 = jax.random.split(key)
        return phase2_init(key2, on_policy.make_train(first)(key1).state)

    return dataclasses.replace(second, init=init)


__all__ = [
    "AsMultiAgent",
    "Policy",
    "SequenceBatch",
    "TrainOutput",
    "act",
    "action_layout",
    "agent_inputs",
    "default_config",
    "load_backbone",
    "load_phase1",
    "make_parameter_optimizer",
    "make_policy",
    "make_train",
    "make_trainer",
    "make_two_phase_train",
    "make_two_phase_trainer",
    "merged_policy",
    "parameter_labels",
    "phase_configs",
    "unroll",
]

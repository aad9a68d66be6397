"""The on-policy actor-critic training loop that PPO, A2C and later trainers share.

One update of ``B = num_envs`` environments:

1. ``collect`` (``rollout_and_gae``, which MAPPO shares): roll the policy out for
   ``T = num_steps`` steps (``rollout``), value the observation after the last step and, for
   truncated episodes, their final observations, and compute advantages and λ-return targets
   with ``gae_time_major``. Gives a ``Batch`` ``[T, B]``.
2. ``update_fn(params, opt_state, batch, key)``: the algorithm's parameter update. For
   gradient-based methods ``sgd_update`` runs ``update_epochs`` epochs, each a shuffle of the
   ``T·B`` samples into ``num_minibatches`` minibatches and one optimizer step on each, with the
   algorithm's ``objective(params, minibatch) -> (loss, metrics)``.

``train_step(state) -> (state, metrics)`` does both; ``build_trainer`` closes it over the
environment, model and algorithm, and ``make_train`` turns that into PureJaxRL's pure
``train(key)``: ``init`` then a ``lax.scan`` of ``num_updates`` steps. The same ``init`` and
``step`` drive ``jaxml.utils.runner.run`` in chunks (progress, metrics, checkpoints, resume), and
``jax.vmap(train)`` trains many seeds in one program.

Config fields read here (``base_config`` has them all): ``num_envs``, ``num_steps``,
``total_timesteps``, ``update_epochs``, ``num_minibatches``, ``learning_rate``, ``anneal_lr``,
``optimizer`` (``adam`` | ``rmsprop``), ``max_grad_norm``, ``gamma``, ``gae_lambda``,
``bootstrap_truncated``, ``hidden``, ``activation``, ``shared_torso``, ``log_std_init``,
``action_squash``, ``normalize_observations``, ``normalize_rewards``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import optax
from jumanji.env import Environment
from jumanji.wrappers import AutoResetWrapper

from jaxml.models.actor_critic import ActorCritic, flatten_observation, make_actor_critic
from jaxml.rl import batching, losses
from jaxml.rl._gae import gae_time_major
from jaxml.rl._rollout import RolloutState, Transition, auto_reset, reset, rollout
from jaxml.rl._sharding import rollout_partition
from jaxml.utils import trainer as trainer_lib
from jaxml.utils.trainer import Trainer, TrainOutput

Metrics = dict[str, jax.Array]
OPTIMIZERS = ("adam", "rmsprop")


def base_config() -> ml_collections.ConfigDict:
    """Fields every on-policy trainer reads, at PureJaxRL's CartPole PPO values."""
    return ml_collections.ConfigDict(
        {
            "num_envs": 4,  # B: parallel environments.
            "num_steps": 128,  # T: steps per environment per update.
            "total_timesteps": 500_000,  # Environment steps of the run (all environments).
            "update_epochs": 4,  # Passes over each rollout.
            "num_minibatches": 4,  # Minibatches per pass; must divide num_envs * num_steps.
            "learning_rate": 2.5e-4,
            "anneal_lr": True,  # Linear decay to 0 over the run, stepped once per update.
            "optimizer": "adam",  # One of OPTIMIZERS (eps 1e-5; rmsprop decay 0.99).
            "max_grad_norm": 0.5,  # Global-norm gradient clip.
            "gamma": 0.99,
            "gae_lambda": 0.95,
            # Bootstrap a time-limit truncation from the value of the episode's final observation
            # (False: treat it as a termination, as PureJaxRL does).
            "bootstrap_truncated": True,
            "hidden": (64, 64),
            "activation": "tanh",
            "shared_torso": False,
            "log_std_init": 0.0,  # Gaussian heads only.
            # Continuous actions: "clip" (Gaussian, clipped to the bounds) or "tanh" (a
            # tanh-squashed Gaussian inside the bounds; needs a bounded action spec).
            "action_squash": "clip",
            # Running standardisation of observations and scaling of rewards by the std of the
            # discounted return (``jaxml.rl.normalization``; SB3's VecNormalize, clip 10).
            "normalize_observations": False,
            "normalize_rewards": False,
        }
    )


class Sizes(NamedTuple):
    """Sizes derived from a config (checked by ``derive_sizes``)."""

    num_envs: int  # B.
    num_steps: int  # T.
    num_updates: int  # Rollout + update cycles: total_timesteps // batch_size.
    batch_size: int  # Samples per rollout: num_envs * num_steps.
    minibatch_size: int  # batch_size // num_minibatches.
    num_minibatches: int
    update_epochs: int

    @property
    def grad_steps_per_update(self) -> int:
        return self.update_epochs * self.num_minibatches


def _positive_int(config: ml_collections.ConfigDict, field: str) -> int:
    value = config[field]
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"config.{field}: expected a positive integer, got {value!r}")
    return value


def require_fields(config: ml_collections.ConfigDict, fields: tuple[str, ...], module: str) -> None:
    """Raises ValueError naming the first of ``fields`` the config lacks and where to start from."""
    for field in fields:
        if field not in config:
            raise ValueError(f"config.{field}: missing; start from {module}.default_config()")


def _in_range(config: ml_collections.ConfigDict, field: str, low: float, high: float) -> None:
    value = config[field]
    if not low <= value <= high:
        raise ValueError(f"config.{field}: expected a value in [{low}, {high}], got {value!r}")


def derive_sizes(config: ml_collections.ConfigDict) -> Sizes:
    """Checks the shared config fields and derives the run's sizes.

    Raises:
      ValueError: naming the config field that is out of range.
    """
    num_envs = _positive_int(config, "num_envs")
    num_steps = _positive_int(config, "num_steps")
    total = _positive_int(config, "total_timesteps")
    epochs = _positive_int(config, "update_epochs")
    minibatches = _positive_int(config, "num_minibatches")
    batch = num_envs * num_steps
    if total < batch:
        raise ValueError(
            f"config.total_timesteps: {total} is less than one rollout "
            f"(num_envs * num_steps = {batch})"
        )
    if batch % minibatches:
        raise ValueError(
            f"config.num_minibatches: {minibatches} does not divide num_envs * num_steps = {batch}"
        )
    _in_range(config, "gamma", 0.0, 1.0)
    _in_range(config, "gae_lambda", 0.0, 1.0)
    if not config.learning_rate > 0:
        raise ValueError(f"config.learning_rate: expected > 0, got {config.learning_rate!r}")
    if config.max_grad_norm is not None and not config.max_grad_norm > 0:
        raise ValueError(f"config.max_grad_norm: expected > 0 or None, got {config.max_grad_norm}")
    if config.optimizer not in OPTIMIZERS:
        raise ValueError(f"config.optimizer: got {config.optimizer!r}; accepted: {OPTIMIZERS}")
    return Sizes(
        num_envs, num_steps, total // batch, batch, batch // minibatches, minibatches, epochs
    )


def make_model(config: ml_collections.ConfigDict, env: Environment) -> ActorCritic:
    """The actor-critic network for ``env``'s action spec, shaped by the config."""
    try:
        return make_actor_critic(
            env.action_spec,
            hidden=config.hidden,
            activation=config.activation,
            shared_torso=config.shared_torso,
            log_std_init=config.log_std_init,
            squash=config.action_squash,
        )
    except ValueError as error:
        if str(error).startswith("squash"):
            raise ValueError(f"config.action_{error}") from error
        if str(error).startswith(("activation", "hidden")):  # Config fields: say so.
            raise ValueError(f"config.{error}") from error
        raise


def make_optimizer(config: ml_collections.ConfigDict, sizes: Sizes) -> optax.GradientTransformation:
    """Gradient clipping, then Adam or RMSprop, with PureJaxRL's stepped linear annealing.

    The annealed learning rate is ``lr · (1 − k / num_updates)`` during update ``k``.
    """
    learning_rate = config.learning_rate
    if config.anneal_lr:
        steps, num_updates = sizes.grad_steps_per_update, sizes.num_updates

        def learning_rate(count):
            return config.learning_rate * (1.0 - (count // steps) / num_updates)

    if config.optimizer == "adam":
        opt = optax.adam(learning_rate, eps=1e-5)
    else:
        opt = optax.rmsprop(learning_rate, decay=0.99, eps=1e-5)
    if config.max_grad_norm is None:
        return opt
    return optax.chain(optax.clip_by_global_norm(config.max_grad_norm), opt)


def normalization_kwargs(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """``reset``'s normalisation arguments from a config (fields absent: no normalisation)."""
    return {
        "normalize_observations": bool(config.get("normalize_observations", False)),
        "normalize_rewards": bool(config.get("normalize_rewards", False)),
        "gamma": config.gamma,
    }


class TrainState(NamedTuple):
    """The whole state of a run: checkpoint it to resume exactly."""

    params: Any  # The actor-critic's parameters.
    opt_state: optax.OptState
    rollout: RolloutState  # [B] environments, current observations, episode statistics.
    key: jax.Array  # [2] uint32: PRNG key of the next update.
    update: jax.Array  # [] int32: updates done.


class Batch(NamedTuple):
    """A rollout with its advantages and targets: ``[T, B, ...]``, or ``[N, ...]`` flattened."""

    transitions: Transition
    advantages: jax.Array  # [T, B] (or [T, B, A]): GAE advantages.
    targets: jax.Array  # [T, B] (or [T, B, A]): λ-return value targets.


# objective(params, minibatch [N]) -> (loss [], metrics {name: []}).
Objective = Callable[[Any, Batch], tuple[jax.Array, Metrics]]
# update_fn(params, opt_state, batch [T, B], key) -> (params, opt_state, metrics {name: []}).
UpdateFn = Callable[[Any, Any, Batch, jax.Array], tuple[Any, Any, Metrics]]


def forward(model: ActorCritic, params: Any, obs: Any, batch_ndim: int):
    """``(policy, value)`` of observations with ``batch_ndim`` leading batch axes."""
    return model.apply(params, flatten_observation(obs, batch_ndim))


def minibatch_outputs(model: ActorCritic, params: Any, minibatch: Batch, normalize: bool):
    """``(policy, value [N], advantages [N])`` of a flat minibatch; advantages are normalized
    per minibatch when ``normalize`` (the loss functions' shared preamble)."""
    policy, value = forward(model, params, minibatch.transitions.obs, 1)
    advantages = minibatch.advantages
    if normalize:
        advantages = losses.normalize(advantages)
    return policy, value, advantages


def act(params: Any, obs: Any, key: jax.Array, *, model: ActorCritic):
    """The rollout policy: ``(action [B, ...], log_prob [B], value [B])`` for ``obs [B, ...]``."""
    policy, value = forward(model, params, obs, 1)
    # Not sample_and_log_prob: distrax's broadcasts a sample axis of 1 into the logits' rank.
    action = policy.sample(seed=key)
    return action, policy.log_prob(action), value


def init_state(
    key: jax.Array,
    *,
    env: AutoResetWrapper,
    model: ActorCritic,
    optimizer: optax.GradientTransformation,
    num_envs: int,
    **normalization: Any,
) -> TrainState:
    """Initial parameters, optimizer state and ``num_envs`` freshly reset environments.

    ``normalization``: ``reset``'s ``normalize_observations``, ``normalize_rewards``, ``gamma``.
    """
    key_params, key_env, key_next = jax.random.split(key, 3)
    example = flatten_observation(env.observation_spec.generate_value(), 0)
    params = model.init(key_params, example)
    return TrainState(
        params=params,
        opt_state=optimizer.init(params),
        rollout=reset(env, key_env, num_envs, **normalization),
        key=key_next,
        update=jnp.zeros((), jnp.int32),
    )


def rollout_and_gae(
    params: Any,
    rollout_state: RolloutState,
    key: jax.Array,
    *,
    env: AutoResetWrapper,
    act_fn: Callable[..., Any],
    bootstrap_fn: Callable[..., tuple[jax.Array, jax.Array]],
    num_steps: int,
    gamma: float,
    gae_lambda: float,
    extras_fn: Callable[..., Any] | None = None,
) -> tuple[RolloutState, Batch]:
    """Rolls ``act_fn`` out for ``num_steps`` steps; advantages and targets by GAE (``[T, B]``).

    ``bootstrap_fn(params, rollout_state, traj, initial_policy_state) -> (last_value [B, ...],
    final_value [T, B, ...])`` values the observation after the last step and each step's final
    observation (read by GAE only where an episode was truncated); ``initial_policy_state`` is
    the recurrent state the rollout started from (None for feed-forward policies).
    """
    initial_policy_state = rollout_state.policy_state
    rollout_state, traj = rollout(
        env, act_fn, params, rollout_state, key, num_steps, extras_fn=extras_fn
    )
    last_value, final_value = bootstrap_fn(params, rollout_state, traj, initial_policy_state)
    values = jnp.concatenate([traj.value, last_value[None]], axis=0)
    advantages, targets = gae_time_major(
        traj.reward,
        traj.discount,
        traj.done,
        values,
        final_value,
        gamma=gamma,
        lambda_=gae_lambda,
    )
    return rollout_state, Batch(traj, advantages, targets)


def feedforward_bootstrap(
    params: Any,
    rollout_state: RolloutState,
    traj: Transition,
    initial_policy_state: Any,
    *,
    value_fn: Callable[[Any, Any, int], jax.Array],
    bootstrap_truncated: bool,
) -> tuple[jax.Array, jax.Array]:
    """``bootstrap_fn`` of a feed-forward critic ``value_fn(params, obs, batch_ndim)``."""
    del initial_policy_state
    last_value = value_fn(params, rollout_state.obs, 1)
    if not bootstrap_truncated:
        return last_value, jnp.zeros_like(traj.value)
    # One batched pass over all T·B next observations; gae reads only the episode ends.
    return last_value, value_fn(params, traj.next_obs, 2)


def collect(
    params: Any,
    rollout_state: RolloutState,
    key: jax.Array,
    *,
    env: AutoResetWrapper,
    model: ActorCritic,
    num_steps: int,
    gamma: float,
    gae_lambda: float,
    bootstrap_truncated: bool,
) -> tuple[RolloutState, Batch]:
    """``rollout_and_gae`` for a single-agent ``ActorCritic`` (``Batch [T, B]``)."""
    return rollout_and_gae(
        params,
        rollout_state,
        key,
        env=env,
        act_fn=functools.partial(act, model=model),
        bootstrap_fn=functools.partial(
            feedforward_bootstrap,
            value_fn=lambda p, obs, ndim: forward(model, p, obs, ndim)[1],
            bootstrap_truncated=bootstrap_truncated,
        ),
        num_steps=num_steps,
        gamma=gamma,
        gae_lambda=gae_lambda,
    )


def minibatch_step(
    carry: tuple[Any, Any],
    minibatch: Batch,
    *,
    objective: Objective,
    optimizer: optax.GradientTransformation,
) -> tuple[tuple[Any, Any], Metrics]:
    """One optimizer step on one minibatch (a scan body)."""
    params, opt_state = carry
    (loss, metrics), grads = jax.value_and_grad(objective, has_aux=True)(params, minibatch)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return (params, opt_state), {"loss": loss, **metrics}


def epoch_step(
    carry: tuple[Any, Any],
    key: jax.Array,
    *,
    batch: Batch,
    num_minibatches: int,
    objective: Objective,
    optimizer: optax.GradientTransformation,
) -> tuple[tuple[Any, Any], Metrics]:
    """One pass over a flattened ``batch`` ``[N]`` in shuffled minibatches (a scan body)."""
    if num_minibatches == 1:
        minibatches = jax.tree.map(lambda x: x[None], batch)  # One full batch: no shuffle.
    else:
        minibatches = batching.shuffled_minibatches(key, batch, num_minibatches)
    body = functools.partial(minibatch_step, objective=objective, optimizer=optimizer)
    carry, metrics = jax.lax.scan(body, carry, minibatches)
    return carry, metrics


def sgd_update(
    params: Any,
    opt_state: Any,
    batch: Batch,
    key: jax.Array,
    *,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    sizes: Sizes,
) -> tuple[Any, Any, Metrics]:
    """``update_epochs`` shuffled minibatch passes over a rollout; metrics averaged over steps."""
    # next_obs was only needed for bootstrapping; leave it out of the shuffles.
    batch = batch._replace(transitions=batch.transitions._replace(next_obs=None))
    flat = batching.merge_leading_axes(batch)
    return run_epochs(
        params, opt_state, flat, key, objective=objective, optimizer=optimizer, sizes=sizes
    )


def run_epochs(
    params: Any,
    opt_state: Any,
    samples: Any,
    key: jax.Array,
    *,
    objective: Objective,
    optimizer: optax.GradientTransformation,
    sizes: Sizes,
) -> tuple[Any, Any, Metrics]:
    """``update_epochs`` scanned ``epoch_step``s over ``samples`` (leading axis: what minibatches
    split: samples, or MAPPO's environments); metrics averaged over every optimizer step."""
    body = functools.partial(
        epoch_step,
        batch=samples,
        num_minibatches=sizes.num_minibatches,
        objective=objective,
        optimizer=optimizer,
    )
    keys = jax.random.split(key, sizes.update_epochs)
    (params, opt_state), metrics = jax.lax.scan(body, (params, opt_state), keys)
    return params, opt_state, jax.tree.map(jnp.mean, metrics)


def episode_metrics(rollout_state: RolloutState, batch: Batch) -> Metrics:
    """Episode metrics of an update.

    ``episode_return`` / ``episode_length``: mean over environments of each one's last completed
    episode (PureJaxRL's ``returned_episode_returns``; an environment that has not finished one
    yet counts 0). ``episodes``: episodes completed in this rollout.
    """
    episodes = rollout_state.episodes
    return {
        "episode_return": jnp.mean(episodes.returned_episode_return),
        "episode_length": jnp.mean(episodes.returned_episode_length.astype(jnp.float32)),
        "episodes": jnp.sum(batch.transitions.done.astype(jnp.int32)),
    }


def train_step(
    state: TrainState,
    *,
    collect_fn: Callable[[Any, RolloutState, jax.Array], tuple[RolloutState, Any]],
    update_fn: UpdateFn,
    sizes: Sizes,
    metrics_fn: Callable[[RolloutState, Any], Metrics] = episode_metrics,
) -> tuple[TrainState, Metrics]:
    """One update (a scan body): ``collect_fn(params, rollout_state, key)`` gives a rollout,
    ``update_fn`` the new parameters; ``metrics_fn(rollout_state, batch)`` adds the rollout's
    metrics (``episode_metrics``; MAPPO adds win rates) to the update's."""
    key, key_rollout, key_update = jax.random.split(state.key, 3)
    rollout_state, batch = collect_fn(state.params, state.rollout, key_rollout)
    params, opt_state, metrics = update_fn(state.params, state.opt_state, batch, key_update)
    update = state.update + 1
    metrics = {
        **metrics,
        **metrics_fn(rollout_state, batch),
        "env_steps": update * sizes.batch_size,
    }
    return TrainState(params, opt_state, rollout_state, key, update), metrics


@dataclasses.dataclass(frozen=True, kw_only=True)
class OnPolicyTrainer(Trainer):
    """An on-policy ``Trainer`` (one step = one rollout + update) with the pieces its users read.

    ``num_steps`` is ``sizes.num_updates``; ``partition`` splits the rollout's environment axis.
    """

    sizes: Sizes
    model: Any  # The network (an ``ActorCritic``, or MAPPO's ``Policy``).
    optimizer: optax.GradientTransformation
    env: AutoResetWrapper  # The auto-resetting environment the rollouts use.
    partition: Any = rollout_partition


def build_trainer(
    config: ml_collections.ConfigDict,
    env: Environment,
    *,
    model: ActorCritic,
    optimizer: optax.GradientTransformation,
    update_fn: UpdateFn,
    sizes: Sizes,
) -> OnPolicyTrainer:
    """``init`` and ``step`` around an algorithm's ``update_fn`` (where TRPO and NPG plug in)."""
    env = auto_reset(env)
    init = functools.partial(
        init_state,
        env=env,
        model=model,
        optimizer=optimizer,
        num_envs=sizes.num_envs,
        **normalization_kwargs(config),
    )
    collect_fn = functools.partial(
        collect,
        env=env,
        model=model,
        num_steps=sizes.num_steps,
        gamma=config.gamma,
        gae_lambda=config.gae_lambda,
        bootstrap_truncated=config.bootstrap_truncated,
    )
    step = functools.partial(train_step, collect_fn=collect_fn, update_fn=update_fn, sizes=sizes)
    return OnPolicyTrainer(
        init=init,
        step=step,
        num_steps=sizes.num_updates,
        sizes=sizes,
        model=model,
        optimizer=optimizer,
        env=env,
    )


def make_sgd_trainer(
    config: ml_collections.ConfigDict,
    env: Environment,
    objective: Callable[..., tuple[jax.Array, Metrics]],
) -> OnPolicyTrainer:
    """A trainer whose update is ``sgd_update`` on ``objective(params, minibatch, *, model)``."""
    sizes = derive_sizes(config)
    model = make_model(config, env)
    optimizer = make_optimizer(config, sizes)
    update_fn = functools.partial(
        sgd_update,
        objective=functools.partial(objective, model=model),
        optimizer=optimizer,
        sizes=sizes,
    )
    return build_trainer(
        config, env, model=model, optimizer=optimizer, update_fn=update_fn, sizes=sizes
    )


def make_train(trainer: Trainer) -> Callable[[jax.Array], TrainOutput]:
    """PureJaxRL's pure ``train(key) -> TrainOutput``; jit it, vmap it over keys for seeds."""
    return trainer_lib.make_train(trainer)


# --- Separate actor and critic updates (TRPO, NPG-rank1): a policy step, then an Adam critic. ---


class ActorCriticOptState(NamedTuple):
    """Optimizer states of a trainer that updates the actor and the critic separately."""

    actor: Any  # The actor's optimizer state (an empty tuple when the actor step has none).
    critic: Any  # The critic's optimizer state (``make_optimizer``'s, on the critic subtree).


def check_separate_networks(config: ml_collections.ConfigDict) -> None:
    """Raises ValueError unless the actor and the critic have their own parameters."""
    if config.shared_torso:
        raise ValueError(
            "config.shared_torso: must be False for trainers that update the actor and the critic "
            "with different rules (TRPO, NPG-rank1)"
        )


def actor_params(params: Any) -> Any:
    """The actor subtree ``params["params"]["actor"]`` of an unshared ``ActorCritic``."""
    return params["params"]["actor"]


def critic_params(params: Any) -> Any:
    """The critic subtree ``params["params"]["critic"]`` of an unshared ``ActorCritic``."""
    return params["params"]["critic"]


def with_subtree(params: Any, name: str, subtree: Any) -> Any:
    """``params`` with ``params["params"][name]`` replaced by ``subtree`` (a new dict)."""
    inner = dict(params["params"])
    inner[name] = subtree
    return {**params, "params": inner}


def separate_optimizer(
    actor_init: Callable[[Any], Any], critic: optax.GradientTransformation
) -> optax.GradientTransformation:
    """A transform whose ``init`` gives ``ActorCriticOptState`` for an unshared ``ActorCritic``.

    Only ``init`` is used (by ``init_state``); the trainer's ``update_fn`` steps each part itself.
    """

    def init(params):
        return ActorCriticOptState(
            actor_init(actor_params(params)), critic.init(critic_params(params))
        )

    def update(updates, state, params=None):
        raise NotImplementedError("the trainer's update_fn updates the actor and critic itself")

    return optax.GradientTransformation(init, update)


def flat_batch(batch: Batch) -> Batch:
    """A rollout ``[T, B]`` flattened to ``[N = T·B]``, without ``next_obs`` (used only by GAE)."""
    batch = batch._replace(transitions=batch.transitions._replace(next_obs=None))
    return batching.merge_leading_axes(batch)


def critic_update(
    params: Any,
    critic_state: Any,
    batch: Batch,
    key: jax.Array,
    *,
    model: ActorCritic,
    optimizer: optax.GradientTransformation,
    sizes: Sizes,
) -> tuple[Any, Any, Metrics]:
    """``sgd_update`` of the critic alone on ``½ mean((v − target)²)``; the actor is untouched.

    Returns ``(params, critic_state, {"value_loss": ...})`` with the new critic inside ``params``.
    """

    def objective(critic, minibatch):
        full = with_subtree(params, "critic", critic)
        _, value = forward(model, full, minibatch.transitions.obs, 1)
        loss = losses.value_loss(value, minibatch.targets)
        return loss, {"value_loss": loss}

    critic, critic_state, metrics = sgd_update(
        critic_params(params), critic_state, batch, key,
        objective=objective, optimizer=optimizer, sizes=sizes,
    )  # fmt: skip
    metrics = {"value_loss": metrics["value_loss"]}
    return with_subtree(params, "critic", critic), critic_state, metrics


def policy_kl(model: ActorCritic, params_old: Any, params_new: Any, obs: Any) -> jax.Array:
    """``mean_s KL(π_old(·|s) ‖ π_new(·|s))`` over flat observations ``obs [N, ...]``."""
    old, _ = forward(model, params_old, obs, 1)
    new, _ = forward(model, params_new, obs, 1)
    return jnp.mean(old.kl_divergence(new))

"""TAR²: temporal-agent reward redistribution of an episodic team return.

"Redistributing Rewards Across Time and Agents for Multi-Agent Reinforcement Learning" (Kapoor,
Tessera, Baranwal, Khadilkar, Albrecht, Sun, Peters; arXiv 2502.04864 v2, first titled "TAR²:
Temporal-Agent Reward Redistribution for Optimal Policy Preservation in Multi-Agent
Reinforcement Learning"; earlier version arXiv 2412.14779). A return model
(``jaxml.models.tar2.TAR2RewardModel``) scores every (step, agent) of an episode; a
deterministic normalisation (``redistribute``) turns the scores into dense per-agent, per-step
rewards whose sum is exactly the episode's return, whatever the scores.

Shapes, for one episode (batch with ``jax.vmap`` at the call site): ``T`` steps (padded to a
fixed length), ``A`` agents; ``valid [T, A]`` bool is True where agent ``i`` is alive at a real
(non-padding) step ``t``. Time comes first, as in ``jaxml.rl.gae`` (``[T, ...]``).

Contents:

- ``redistribute(scores, episode_return, valid)``: TAR²'s normalisation.
- ``uniform_redistribute(episode_return, valid)``: the uniform baseline (R / T per agent-step).
- ``return_model_loss``: the return model's loss, MSE(Σ ŝ, R) + 0.05 · CE(inverse dynamics).
- ``model_rewards``: a batch of episodes' redistributed rewards under a trained model.
- Training the return model: ``default_config`` (the authors' schedule), ``make_return_model``,
  ``make_optimizer``; ``return_model_trainer``, a ``jaxml.utils.supervised`` trainer over a
  fixed array of episodes; ``make_episode_buffer`` (a flashbax item buffer of episodes),
  ``buffer_update`` (``num_epochs`` gradient steps on buffer batches) and ``updates_due`` (the
  warm-up / every-k-episodes schedule) for an online loop.
- AREL (Xiao et al., "Agent-Temporal Attention for Reward Redistribution in Episodic
  Multi-Agent Reinforcement Learning", arXiv 2201.04612) as the same attention model with a
  regression loss and unnormalised rewards: ``arel_loss``, ``arel_rewards``.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import chex
import flashbax
import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from jaxml.models.tar2 import TAR2Output, TAR2RewardModel
from jaxml.utils import checks
from jaxml.utils.supervised import supervised_trainer
from jaxml.utils.trainer import Trainer

DEFAULT_EPS = 1e-6  # Relative size below which shifted scores count as all equal.
INVERSE_DYNAMICS_COEF = 0.05  # The authors' weight of the inverse-dynamics cross-entropy.


class Episodes(NamedTuple):
    """A batch of complete episodes, padded to ``T`` steps (time after the batch axis)."""

    observations: jax.Array  # [B, T, A, O] float32, each agent's observation at step t.
    # [B, T, A] int32, the action taken at step t; continuous actions: [B, T, A, d] float32,
    # the (squashed) action vector scaled into [-1, 1].
    actions: jax.Array
    valid: jax.Array  # [B, T, A] bool, agent alive at a real (non-padding) step.
    episode_return: jax.Array  # [B] float32, the episode's team return R.


def _normalised_shift(
    x: jax.Array, mask: jax.Array, axis: int, eps: float
) -> tuple[jax.Array, jax.Array]:
    """Weights ``(x - min x) / Σ (x - min x)`` over the entries of ``mask`` along ``axis``.

    Returns ``(weights, fallback)``: weights are 0 outside ``mask`` and sum to 1 along ``axis``
    wherever ``mask`` has an entry; ``fallback`` (``x`` reduced along ``axis``) is True where the
    shifted values sum to at most ``eps · max |x|``, i.e. all ``x`` are equal up to float32
    rounding, and the weights are then uniform over ``mask`` instead.
    """
    big = jnp.finfo(x.dtype).max
    low = jnp.min(jnp.where(mask, x, big), axis=axis, keepdims=True)
    shifted = jnp.where(mask, x - low, 0.0)
    total = jnp.sum(shifted, axis=axis, keepdims=True)
    scale = jnp.max(jnp.where(mask, jnp.abs(x), 0.0), axis=axis, keepdims=True)
    count = jnp.sum(mask, axis=axis, keepdims=True).astype(x.dtype)
    fallback = total <= eps * scale
    # Divide by 1 where a denominator would be 0, so no NaN enters the unselected branch.
    shifted_w = shifted / jnp.where(fallback, 1.0, total)
    uniform_w = jnp.where(mask, 1.0, 0.0) / jnp.maximum(count, 1.0)
    weights = jnp.where(fallback, uniform_w, shifted_w)
    return weights, jnp.squeeze(fallback, axis)


def redistribute(
    scores: jax.Array,
    episode_return: jax.Array,
    valid: jax.Array,
    *,
    eps: float = DEFAULT_EPS,
    temporal: bool = True,
    agent: bool = True,
) -> jax.Array:
    """TAR²'s deterministic normalisation: per-(step, agent) rewards summing to the return.

    From arXiv 2502.04864 v2 (the ``TAR^2_v2`` branch of the authors' ``reward_model_output``),
    in float32 with masks and without the authors' ``+1e-5`` in the denominators:

    - temporal weights: ``S_t = Σ_{i valid} ŝ_{i,t}``; over the valid steps (those with an alive
      agent), ``w_t = (S_t - min_{t'} S_{t'}) / Σ_{t''} (S_{t''} - min S)``, so ``Σ_t w_t = 1``;
    - agent weights: at each valid step, over its alive agents,
      ``u_{i,t} = (ŝ_{i,t} - min_j ŝ_{j,t}) / Σ_j (ŝ_{j,t} - min_j ŝ_{j,t})``, so
      ``Σ_i u_{i,t} = 1``;
    - ``r_{i,t} = w_t · u_{i,t} · R`` on valid entries and 0 elsewhere; hence
      ``Σ_{t,i} r_{i,t} = R`` by construction, whatever the scores.

    Fallback: where the shifted scores of a normalisation sum to at most ``eps · max |score|``
    (all scores equal, up to rounding; a single valid step or a single alive agent always), that
    normalisation's weights are uniform instead (``1 / #valid steps``, ``1 / #alive agents``), so
    the sum is still ``R``. An episode with no valid entry gets no reward at all (sum 0).

    Shift invariance: adding a constant ``c`` to every score leaves ``u`` unchanged and shifts
    ``S_t`` by ``c · #alive_t``, so the rewards are unchanged when every valid step has the same
    number of alive agents (no deaths, padding only). Note also that the lowest-scoring step and
    agent of each normalisation get weight 0 (the shift by the minimum), as in the paper, and
    that every reward has the sign of ``R`` (the weights are >= 0): with ``R < 0`` the
    highest-scoring entries receive the most negative rewards.

    Ablations (the paper's temporal-only and agent-only variants): ``agent=False`` makes ``u``
    uniform over each step's alive agents, ``temporal=False`` makes ``w`` uniform over the
    valid steps; the sum is ``R`` either way.

    Args:
      scores: ``[T, A]`` float, the return model's unnormalised scores ``ŝ_{i,t}``.
      episode_return: ``[]`` float, the episode's team return ``R``.
      valid: ``[T, A]`` bool, agent alive at a real step.
      eps: the relative tolerance of the fallback.
      temporal: weight the steps by the temporal scores (else uniformly).
      agent: weight each step's agents by their scores (else uniformly).

    Returns:
      ``[T, A]`` float32 rewards.
    """
    chex.assert_rank(scores, 2)
    chex.assert_shape(valid, scores.shape)
    chex.assert_rank(episode_return, 0)
    scores = jnp.asarray(scores, jnp.float32)
    valid = jnp.asarray(valid, bool)
    step_valid = jnp.any(valid, axis=1)  # [T]
    step_scores = jnp.sum(jnp.where(valid, scores, 0.0), axis=1)  # S_t, [T]
    # An ablated normalisation sees constant scores, so it takes the uniform fallback.
    if not temporal:
        step_scores = jnp.zeros_like(step_scores)
    if not agent:
        scores = jnp.zeros_like(scores)
    w, _ = _normalised_shift(step_scores, step_valid, axis=0, eps=eps)  # [T]
    u, _ = _normalised_shift(scores, valid, axis=1, eps=eps)  # [T, A]
    rewards = w[:, None] * u * jnp.asarray(episode_return, jnp.float32)
    return jnp.where(valid, rewards, 0.0)


def uniform_redistribute(episode_return: jax.Array, valid: jax.Array) -> jax.Array:
    """The uniform baseline: ``R / T`` to every alive agent at every valid step.

    The ``uniform_team_redistribution`` arm of the TAR² code (arXiv 2502.04864). ``T`` counts
    the valid steps (those with an alive agent); each agent alive throughout receives ``R`` in
    total, as a team reward gives every agent. Note the scale: TAR² splits ``R`` among the agents
    (``Σ_{t,i} r = R``) while this gives each agent ``R`` (``Σ_{t,i} r = A · R`` with no
    deaths).

    Args:
      episode_return: ``[]`` float, the episode's team return.
      valid: ``[T, A]`` bool, agent alive at a real step.

    Returns:
      ``[T, A]`` float32 rewards, 0 on invalid entries.
    """
    chex.assert_rank(valid, 2)
    chex.assert_rank(episode_return, 0)
    valid = jnp.asarray(valid, bool)
    num_steps = jnp.sum(jnp.any(valid, axis=1)).astype(jnp.float32)
    per_step = jnp.asarray(episode_return, jnp.float32) / jnp.maximum(num_steps, 1.0)
    return jnp.where(valid, per_step, 0.0)


def return_model_loss(
    output: TAR2Output,
    episodes: Episodes,
    *,
    inverse_dynamics_coef: float = INVERSE_DYNAMICS_COEF,
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """TAR²'s return-model loss: ``MSE(Σ_{i,t} ŝ_{i,t}, R) + 0.05 · CE(â, a)``, masked.

    From the authors' ``update_reward_model`` (arXiv 2502.04864): the squared error between the
    sum of the valid scores and the return, averaged over episodes, plus the inverse-dynamics
    cross-entropy averaged over the entries where the agent is valid at ``t`` and ``t+1`` (its
    prediction reads the observation at ``t+1``). Padding and dead agents contribute nothing.

    Continuous actions (float ``actions [B, T, A, d]``, a model with ``continuous=True``; a
    jaxml extension, the paper's actions are discrete): the CE is the negative log-likelihood of
    the taken action under the head's categorical, so its continuous counterpart here is the
    NLL under a unit-variance Gaussian centred on the prediction, without its constant:
    ``½ Σ_d (â_d - a_d)²`` (a scaled MSE), averaged over the same entries. Why not a Gaussian
    NLL with a learned variance: its log-variance term is unbounded below, so on the few
    episodes an update fits it can fall without limit and outweigh the return MSE, which the
    0.05 weight was never tuned against; a fixed variance keeps the auxiliary bounded below by
    0, as the CE is. The metric keeps its name ``inverse_dynamics_ce``.

    Args:
      output: the model's ``TAR2Output`` (scores ``[B, T, A]``, logits ``[B, T, A, N]``).
      episodes: the batch the model saw.
      inverse_dynamics_coef: the cross-entropy's weight (0.05 in the paper's code).

    Returns:
      ``(loss [], metrics)`` with ``return_mse``, ``inverse_dynamics_ce`` and
      ``predicted_return`` (the batch mean of ``Σ ŝ``).
    """
    valid = jnp.asarray(episodes.valid, bool)
    continuous = is_continuous(episodes.actions, valid)
    chex.assert_equal_shape([output.scores, valid])
    chex.assert_shape(episodes.episode_return, valid.shape[:1])
    predicted = jnp.sum(jnp.where(valid, output.scores, 0.0), axis=(1, 2))  # [B]
    mse = jnp.mean(jnp.square(predicted - episodes.episode_return))
    next_valid = jnp.concatenate([valid[:, 1:], jnp.zeros_like(valid[:, :1])], axis=1)
    id_mask = valid & next_valid
    if continuous:
        chex.assert_equal_shape([output.action_logits, episodes.actions])
        # Masked before the square, so no NaN/inf of a padded entry can reach the gradient.
        error = jnp.where(id_mask[..., None], output.action_logits - episodes.actions, 0.0)
        ce = 0.5 * jnp.sum(jnp.square(error), axis=-1)
    else:
        chex.assert_equal_shape([output.scores, episodes.actions])
        ce = optax.softmax_cross_entropy_with_integer_labels(output.action_logits, episodes.actions)
    ce = jnp.sum(jnp.where(id_mask, ce, 0.0)) / jnp.maximum(jnp.sum(id_mask), 1)
    loss = mse + inverse_dynamics_coef * ce
    metrics = {"return_mse": mse, "inverse_dynamics_ce": ce, "predicted_return": predicted.mean()}
    return loss, metrics


def is_continuous(actions: jax.Array, valid: jax.Array) -> bool:
    """Whether ``actions`` are continuous vectors (float, one axis more than ``valid``) or
    discrete indices (integer, ``valid``'s shape). Static: decided from dtypes and ranks."""
    if jnp.issubdtype(actions.dtype, jnp.floating) and actions.ndim == valid.ndim + 1:
        return True
    if jnp.issubdtype(actions.dtype, jnp.integer) and actions.shape == valid.shape:
        return False
    raise ValueError(
        f"actions: expected int {valid.shape} (discrete) or float {valid.shape} + (d,) "
        f"(continuous), got {actions.dtype} {actions.shape}"
    )


def model_rewards(model: nn.Module, params, episodes: Episodes) -> jax.Array:
    """The redistributed rewards ``[B, T, A]`` of a batch: the model's scores, normalised."""
    output = model.apply(params, episodes.observations, episodes.actions, episodes.valid)
    return jax.vmap(redistribute)(output.scores, episodes.episode_return, episodes.valid)


def default_config() -> ml_collections.ConfigDict:
    """The return model and its schedule at the authors' values (``MAPPO/train_agent.py``).

    Model: ``width`` 64, ``depth`` 3 blocks, ``num_heads`` 4, ``use_agent_id``. Optimisation:
    Adam at ``learning_rate`` 5e-4, ``grad_clip`` 0.5 (global norm), ``batch_size`` 64 episodes,
    ``inverse_dynamics_coef`` 0.05. Schedule (an online loop): ``buffer_size`` 5000 episodes,
    no update before ``warmup_episodes`` 200, then one every ``update_every_episodes`` 100
    completed episodes, of ``num_epochs`` 200 gradient steps (each on one sampled batch).
    """
    config = ml_collections.ConfigDict()
    config.width = 64
    config.depth = 3
    config.num_heads = 4
    config.use_agent_id = True
    config.learning_rate = 5e-4
    config.grad_clip = 0.5
    config.batch_size = 64
    config.inverse_dynamics_coef = INVERSE_DYNAMICS_COEF
    config.buffer_size = 5000
    config.warmup_episodes = 200
    config.update_every_episodes = 100
    config.num_epochs = 200
    return config


def _check_config(config: ml_collections.ConfigDict) -> None:
    for name in (
        "width",
        "depth",
        "num_heads",
        "batch_size",
        "buffer_size",
        "update_every_episodes",
        "num_epochs",
    ):
        checks.positive_int(config[name], f"config.{name}")
    checks.positive(config.learning_rate, "config.learning_rate")
    checks.positive(config.grad_clip, "config.grad_clip")
    checks.expect(
        config.width % config.num_heads == 0,
        "config.width",
        f"a multiple of config.num_heads = {config.num_heads}",
        config.width,
    )
    checks.expect(
        isinstance(config.warmup_episodes, int) and config.warmup_episodes >= 0,
        "config.warmup_episodes",
        "an integer >= 0",
        config.warmup_episodes,
    )
    checks.expect(
        config.batch_size <= config.buffer_size,
        "config.batch_size",
        f"at most config.buffer_size = {config.buffer_size}",
        config.batch_size,
    )


def make_return_model(
    config: ml_collections.ConfigDict,
    *,
    num_actions: int,
    max_steps: int,
    num_agents: int,
    continuous: bool = False,
) -> TAR2RewardModel:
    """The ``TAR2RewardModel`` of ``config`` (``ValueError`` names a bad field); with
    ``continuous``, ``num_actions`` is the action vector's dimension ``d``."""
    _check_config(config)
    return TAR2RewardModel(
        num_actions=checks.positive_int(num_actions, "num_actions"),
        max_steps=checks.positive_int(max_steps, "max_steps"),
        num_agents=checks.positive_int(num_agents, "num_agents"),
        width=config.width,
        depth=config.depth,
        num_heads=config.num_heads,
        use_agent_id=bool(config.use_agent_id),
        continuous=bool(continuous),
    )


def make_optimizer(config: ml_collections.ConfigDict) -> optax.GradientTransformation:
    """Adam after global-norm clipping, as the authors train the return model."""
    return optax.chain(
        optax.clip_by_global_norm(config.grad_clip), optax.adam(config.learning_rate)
    )


def _loss_fn(model: nn.Module, config: ml_collections.ConfigDict):
    def loss_fn(params, batch: Episodes, key=None, setting=None):
        output = model.apply(params, batch.observations, batch.actions, batch.valid)
        return return_model_loss(output, batch, inverse_dynamics_coef=config.inverse_dynamics_coef)

    return loss_fn


def return_model_trainer(
    model: TAR2RewardModel,
    episodes: Episodes,
    config: ml_collections.ConfigDict,
    *,
    num_steps: int,
) -> Trainer:
    """The return model's training as a ``supervised_trainer`` over a fixed set of episodes.

    A fixed array is the right store when the episodes are known up front (offline fitting,
    tests, a return model pre-trained on logged data): sampling is an index draw and the set
    is part of the closure, not of the state. The online TAR² loop, where episodes arrive
    while the policy trains, keeps them in a flashbax buffer instead (``make_episode_buffer``,
    ``buffer_update``). Each step draws ``config.batch_size`` episodes uniformly with
    replacement and takes one Adam step on ``return_model_loss``.

    Args:
      model: the return model.
      episodes: ``Episodes`` with a leading axis of ``E`` episodes.
      config: ``default_config()``'s fields.
      num_steps: gradient steps.
    """
    _check_config(config)
    num_episodes = episodes.episode_return.shape[0]

    def sample_batch(key, setting):
        idx = jax.random.randint(key, (config.batch_size,), 0, num_episodes)
        return jax.tree.map(lambda x: x[idx], episodes)

    def init_params(key, setting):
        first = jax.tree.map(lambda x: x[:1], episodes)
        return model.init(key, first.observations, first.actions, first.valid)

    return supervised_trainer(
        init_params=init_params,
        sample_batch=sample_batch,
        loss_fn=_loss_fn(model, config),
        optimizer=make_optimizer(config),
        num_steps=checks.positive_int(num_steps, "num_steps"),
    )


def make_episode_buffer(config: ml_collections.ConfigDict) -> Any:
    """A flashbax item buffer of ``Episodes`` (``config.buffer_size`` of them, FIFO).

    ``buffer.init(example)`` takes one unbatched episode; ``buffer.add(state, episodes)`` a
    batch with a leading episode axis; ``buffer.sample(state, key).experience`` is an
    ``Episodes`` batch of ``config.batch_size``, uniform over the stored episodes. flashbax
    broadcasts ranks implicitly: call ``sample`` under ``jax.numpy_rank_promotion("allow")``
    where rank promotion raises (``buffer_update`` does).
    """
    _check_config(config)
    return flashbax.make_item_buffer(
        max_length=config.buffer_size,
        min_length=config.batch_size,
        sample_batch_size=config.batch_size,
        add_batches=True,
    )


def buffer_update(model: TAR2RewardModel, config: ml_collections.ConfigDict, loss_fn=None):
    """``update(params, opt_state, buffer_state, key) -> (params, opt_state, metrics)``:
    ``config.num_epochs`` gradient steps, each on a batch sampled from the episode buffer
    (the authors' "200 epochs" per update); metrics are the last step's. Jittable.

    ``loss_fn(params, batch, key) -> (loss, metrics)`` replaces TAR²'s ``return_model_loss``
    (AREL's, STAS's; ``key`` seeds e.g. STAS's coalitions)."""
    buffer = make_episode_buffer(config)
    optimizer = make_optimizer(config)
    if loss_fn is None:
        tar2_loss = _loss_fn(model, config)

        def loss_fn(params, batch, key):
            return tar2_loss(params, batch)

    value_and_grad = jax.value_and_grad(loss_fn, has_aux=True)

    def update(params, opt_state, buffer_state, key):
        def epoch(carry, key):
            params, opt_state = carry
            key_sample, key_loss = jax.random.split(key)
            with jax.numpy_rank_promotion("allow"):  # flashbax broadcasts ranks implicitly.
                batch = buffer.sample(buffer_state, key_sample).experience
            (loss, aux), grads = value_and_grad(params, batch, key_loss)
            updates, opt_state = optimizer.update(grads, opt_state, params)
            return (optax.apply_updates(params, updates), opt_state), {"loss": loss, **aux}

        keys = jax.random.split(key, config.num_epochs)
        (params, opt_state), metrics = jax.lax.scan(epoch, (params, opt_state), keys)
        return params, opt_state, jax.tree.map(lambda x: x[-1], metrics)

    return update


def updates_due(
    episodes_before: jax.Array, episodes_after: jax.Array, config: ml_collections.ConfigDict
) -> jax.Array:
    """How many return-model updates fall between two counts of completed episodes.

    An update is due each time the count reaches ``warmup_episodes + j · update_every_episodes``
    for ``j = 0, 1, ...``; an online loop calls ``buffer_update`` that many times (usually 0 or
    1) after adding the episodes that completed in a rollout. Works on ints and int arrays.
    """
    k, warm = config.update_every_episodes, config.warmup_episodes

    def passed(n):  # Number of due points <= n.
        return jnp.where(n >= warm, (n - warm) // k + 1, 0)

    return passed(jnp.asarray(episodes_after)) - passed(jnp.asarray(episodes_before))


def arel_loss(
    output: TAR2Output, episodes: Episodes, *, huber_delta: float = 1.0, variance_coef: float = 0.0
) -> tuple[jax.Array, dict[str, jax.Array]]:
    """AREL's return regression (arXiv 2201.04612) on the same attention model's scores.

    ``Huber(Σ_{i,t} ŝ_{i,t} - R)`` averaged over episodes, minus ``variance_coef`` times the
    variance of the valid scores (the TAR² code's AREL arm subtracts a variance term; its
    coefficient was not retrieved, so the default 0 is plain Huber regression). No inverse
    dynamics and, in ``arel_rewards``, no normalisation.
    """
    valid = jnp.asarray(episodes.valid, bool)
    chex.assert_equal_shape([output.scores, valid])
    predicted = jnp.sum(jnp.where(valid, output.scores, 0.0), axis=(1, 2))
    huber = jnp.mean(optax.huber_loss(predicted, episodes.episode_return, delta=huber_delta))
    count = jnp.maximum(jnp.sum(valid), 1)
    mean = jnp.sum(jnp.where(valid, output.scores, 0.0)) / count
    variance = jnp.sum(jnp.where(valid, jnp.square(output.scores - mean), 0.0)) / count
    loss = huber - variance_coef * variance
    return loss, {"return_huber": huber, "score_variance": variance}


def stas_loss(output: TAR2Output, episodes: Episodes) -> tuple[jax.Array, dict[str, jax.Array]]:
    """STAS's return regression (arXiv 2304.07520): ``MSE(Σ_{valid} ŝ_{i,t}, R)`` on the
    coalition-averaged scores of ``STASRewardModel``; its rewards are those scores
    (``arel_rewards`` applies: the valid scores, unnormalised)."""
    valid = jnp.asarray(episodes.valid, bool)
    chex.assert_equal_shape([output.scores, valid])
    predicted = jnp.sum(jnp.where(valid, output.scores, 0.0), axis=(1, 2))
    mse = jnp.mean(jnp.square(predicted - episodes.episode_return))
    return mse, {"return_mse": mse, "predicted_return": predicted.mean()}


def arel_rewards(scores: jax.Array, valid: jax.Array) -> jax.Array:
    """AREL's rewards: the scores themselves on valid entries (no normalisation, so their sum
    equals the return only as far as the regression fits). ``[T, A]`` or batched."""
    chex.assert_equal_shape([scores, valid])
    return jnp.where(jnp.asarray(valid, bool), jnp.asarray(scores, jnp.float32), 0.0)


__all__ = [
    "Episodes",
    "TAR2RewardModel",
    "arel_loss",
    "arel_rewards",
    "buffer_update",
    "default_config",
    "is_continuous",
    "make_episode_buffer",
    "make_optimizer",
    "make_return_model",
    "model_rewards",
    "return_model_trainer",
    "updates_due",
    "redistribute",
    "return_model_loss",
    "stas_loss",
    "uniform_redistribute",
]

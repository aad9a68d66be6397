"""Populations of independent agents trained in pairs: every pair of a round in one jitted step.

"From Grunts to Lexicons: Emergent Language from Cooperative Foraging" (Piriyajitakonkij et al.,
arXiv 2505.12872; ../shared/papers/foraging.md) trains a population of ``N`` networks, each with
its own Adam optimizer, on a two-player game: at every PPO iteration the authors sample one pair
and loop in Python. Here a round pairs the members by a **partner graph** (``"full"``, ``"ring"``
or Watts-Strogatz ``"small_world"``; v2 "social dynamics") into ``P = N // 2`` disjoint pairs and
trains **all of them at once**: ``jax.vmap`` over pairs of one IPPO update, each pair on its
share ``num_envs / P`` of the environments. With an odd ``N`` one member sits out each round
(``N = 3`` is the authors' one pair per iteration). ``self_play`` lets a pair be one member twice.

One mechanism for per-agent parameters (``jaxml.models.stacked``): the population is the
two-agent independent network's parameter tree with the agent axis widened to ``N``
(``[N, ...]`` leaves); pair ``(i, j)`` is ``stacked.take(params, [i, j])``, exactly the
parameters of mappo's ``parameter_sharing="independent"`` team, trained by mappo's own IPPO
pieces (``mappo.collect``, ``mappo.sequence_objective``/``objective``, the SGD epochs), and
written back with ``stacked.put``. Each member's optimizer state is stacked the same way
(``per_member``: the optimizer ``vmap``-ed over the member axis, so each member clips its own
gradient norm and counts its own steps). A population of 2 is therefore the IPPO run of that
pair (``tests/rl/test_population.py`` checks one step against ``mappo.make_trainer``).

Cultural transmission: ``replace_member`` swaps one member of a trained stack for a fresh
draw and ``newcomer_state`` starts a run from a fresh state whose other members are trained.

Between rounds the environments continue and the recurrent states are zeroed, as the authors do
when they draw a new pair. The trainer is a ``Trainer`` (``init(key)``, ``step(state)``), so
``run_trainer`` vmaps seeds, chunks, checkpoints and resumes it::

    from jaxml import envs
    from jaxml.rl import population

    config = population.default_config()
    trainer = population.make_trainer(config, envs.make("ForagingScoreG-v0"))
    state = trainer.init(jax.random.PRNGKey(0))
    state, metrics = jax.jit(trainer.step)(state)
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from jumanji.env import Environment

from jaxml.models import stacked
from jaxml.models.agent_actor_critic import initial_carry
from jaxml.rl import mappo, on_policy
from jaxml.rl._evaluate import evaluate as evaluate_policy
from jaxml.rl._rollout import RolloutState, auto_reset, reset
from jaxml.rl.on_policy import Metrics, Sizes, TrainState
from jaxml.utils import checks
from jaxml.utils.trainer import Trainer

GRAPHS = ("full", "ring", "small_world")
MAX_MATCHINGS = 20_000  # Enumerated matchings of a sparse graph (the full graph samples in jit).


def default_config() -> ml_collections.ConfigDict:
    """IPPO's fields (``mappo.default_config("ippo")``, an LSTM policy, no agent id, independent
    actor and critic) plus ``population``: ``size`` N, ``graph`` (``GRAPHS``), ``self_play``
    with ``self_play_prob`` (None: ``1 / N``, the chance that two uniform draws coincide),
    ``small_world_k`` / ``small_world_p`` (Watts-Strogatz neighbours per side, rewiring
    probability) and ``graph_seed``."""
    config = mappo.default_config("ippo")
    config.update(
        recurrent="lstm",
        agent_id=False,
        parameter_sharing="independent",
        critic_sharing="independent",
    )
    config.population = ml_collections.ConfigDict(
        {
            "size": 2,
            "graph": "full",
            "self_play": False,
            "self_play_prob": ml_collections.config_dict.placeholder(float),
            "small_world_k": 1,
            "small_world_p": 0.3,
            "graph_seed": 0,
        }
    )
    return config


# ------------------------------------------------------------------------------ partner graphs
def partner_graph(kind: str, size: int, *, k: int = 1, p: float = 0.3, seed: int = 0) -> np.ndarray:
    """``[N, N]`` bool adjacency (symmetric, no self-loops) of who may meet whom.

    ``"full"``: everyone; ``"ring"``: ``i`` meets ``i ± 1`` (mod N); ``"small_world"``: a ring
    lattice with ``k`` neighbours on each side whose edges are rewired with probability ``p``
    (Watts and Strogatz 1998), drawn with numpy's ``default_rng(seed)``.
    """
    checks.choice(kind, "graph", GRAPHS)
    size = checks.positive_int(size, "size")
    checks.expect(size >= 2, "size", "a population of >= 2", size)
    graph = np.zeros((size, size), bool)
    if kind == "full":
        graph[:] = True
    else:
        reach = 1 if kind == "ring" else checks.positive_int(k, "small_world_k")
        for i in range(size):
            for d in range(1, reach + 1):
                graph[i, (i + d) % size] = graph[(i + d) % size, i] = True
        if kind == "small_world":
            checks.in_range(p, "small_world_p", 0.0, 1.0)
            rng = np.random.default_rng(seed)
            for i in range(size):
                for d in range(1, reach + 1):
                    j = (i + d) % size
                    if rng.random() >= p or not graph[i, j]:
                        continue
                    free = [m for m in range(size) if m != i and not graph[i, m]]
                    if free:
                        new = free[rng.integers(len(free))]
                        graph[i, j] = graph[j, i] = False
                        graph[i, new] = graph[new, i] = True
    np.fill_diagonal(graph, False)
    return graph


def matchings(graph: np.ndarray) -> np.ndarray:
    """Every set of ``N // 2`` disjoint edges of ``graph``: ``[K, N // 2, 2]`` int32 (``i < j``).

    For an even N these are the perfect matchings (everyone plays); for an odd N one member sits
    out. Raises ValueError when there is none or more than ``MAX_MATCHINGS``.
    """
    graph = np.asarray(graph, bool)
    size = graph.shape[0]
    need = size // 2
    found: list[list[tuple[int, int]]] = []

    def search(free: list[int], chosen: list[tuple[int, int]], skipped: int) -> None:
        if len(found) > MAX_MATCHINGS:
            return
        if len(chosen) == need:
            found.append(list(chosen))
            return
        if not free:
            return
        i, rest = free[0], free[1:]
        for j in rest:
            if graph[i, j]:
                search([m for m in rest if m != j], chosen + [(i, j)], skipped)
        if skipped < size - 2 * need:  # An odd population: i may sit this round out.
            search(rest, chosen, skipped + 1)

    search(list(range(size)), [], 0)
    if not found:
        raise ValueError(
            f"population.graph: expected a graph with {need} disjoint partner pairs, got none "
            "(try another graph_seed or the full graph)"
        )
    if len(found) > MAX_MATCHINGS:
        raise ValueError(
            f"population.graph: expected at most {MAX_MATCHINGS} matchings to enumerate, got "
            "more (use graph='full', which samples its pairings without a table)"
        )
    return np.asarray(found, np.int32)


class Pairing(NamedTuple):
    """How one round's pairs are drawn (static: built on the host from the config)."""

    size: int  # N.
    num_pairs: int  # P = N // 2.
    table: np.ndarray | None  # [K, P, 2] every matching of a sparse graph; None: the full graph.
    self_play_prob: float  # Chance that a pair becomes one member twice (0: no self-play).


def make_pairing(config: ml_collections.ConfigDict) -> Pairing:
    """The ``Pairing`` of ``config.population`` (fields checked)."""
    c = config.population
    size = checks.positive_int(c.size, "config.population.size")
    checks.expect(size >= 2, "config.population.size", "an int >= 2", size)
    checks.choice(c.graph, "config.population.graph", GRAPHS)
    checks.expect(c.self_play in (True, False), "config.population.self_play", "a bool",
                  c.self_play)  # fmt: skip
    prob = 0.0
    if c.self_play:
        prob = 1.0 / size if c.get("self_play_prob") is None else float(c.self_play_prob)
        checks.in_range(prob, "config.population.self_play_prob", 0.0, 1.0)
    table = None
    if c.graph != "full":
        try:
            graph = partner_graph(
                c.graph, size, k=c.small_world_k, p=c.small_world_p, seed=c.graph_seed
            )
        except ValueError as error:
            raise ValueError(f"config.population.{error}") from error
        table = matchings(graph)
    return Pairing(size, size // 2, table, prob)


def sample_pairs(key: jax.Array, pairing: Pairing) -> tuple[jax.Array, jax.Array]:
    """One round's pairs ``[P, 2]`` int32 (slot 0, slot 1) and which are self-play ``[P]`` bool.

    A uniform matching of the graph (the full graph: a uniform permutation cut into pairs), each
    pair's slot order drawn uniformly, and each pair made ``(i, i)`` with ``self_play_prob``.
    """
    key_match, key_swap, key_self = jax.random.split(key, 3)
    num = pairing.num_pairs
    if pairing.table is None:
        order = jax.random.permutation(key_match, pairing.size)
        pairs = jnp.reshape(order[: 2 * num], (num, 2)).astype(jnp.int32)
    else:
        table = jnp.asarray(pairing.table)
        pairs = table[jax.random.randint(key_match, (), 0, table.shape[0])]
    swap = jax.random.bernoulli(key_swap, 0.5, (num,))
    pairs = jnp.where(swap[:, None], pairs[:, ::-1], pairs)
    self_play = jax.random.bernoulli(key_self, pairing.self_play_prob, (num,))
    pairs = pairs.at[:, 1].set(jnp.where(self_play, pairs[:, 0], pairs[:, 1]))
    return pairs, self_play


# ------------------------------------------------------------------------- per-member optimizer
def per_member(optimizer: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    """``optimizer`` applied to each member of a stacked tree on its own (``jax.vmap`` over axis
    0 of params, updates and state): its own Adam moments, step count and gradient-norm clip.

    Extra arguments (Sophia's ``obj_fn``) are not forwarded: per-member optimizers are the
    elementwise ones (adam, rmsprop) the foraging paper uses.
    """

    def init_fn(params):
        return jax.vmap(optimizer.init)(params)

    def update_fn(updates, state, params=None, **extra_args):
        del extra_args
        if params is None:
            return jax.vmap(lambda g, s: optimizer.update(g, s))(updates, state)
        return jax.vmap(optimizer.update)(updates, state, params)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


# ------------------------------------------------------------------------------------ the state
class PopulationState(NamedTuple):
    """A population's whole run state (checkpoint it to resume exactly)."""

    params: Any  # [N, ...] every member's network (the pair network's tree, agent axis N).
    opt_state: Any  # [N, ...] every member's own optimizer state.
    rollout: RolloutState  # [P, B / P, ...] each pair slot's environments.
    key: jax.Array  # [2] uint32, the next round's key.
    update: jax.Array  # [] int32, rounds done.
    pairs: jax.Array  # [P, 2] int32, the last round's pairs (slot 0, slot 1); -1 before any.


def round_keys(key: jax.Array, num_pairs: int) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(next key, pairing key, pair keys [P, 2])`` of a round from its key."""
    key, key_pairs, key_train = jax.random.split(key, 3)
    return key, key_pairs, jax.random.split(key_train, num_pairs)


def _slot_view(params: Any, slots: jax.Array) -> Any:
    """A pair's network as its two slots see it: ``[0, 1]``, or ``[0, 0]`` for self-play (both
    slots act with member 0, so both slots' gradients reach it; member 1 is a dropped copy)."""
    return stacked.take(params, slots)


def pair_step(
    state: TrainState,
    slots: jax.Array,
    *,
    env: Environment,
    policy: mappo.Policy,
    config: ml_collections.ConfigDict,
    optimizer: optax.GradientTransformation,
    sizes: Sizes,
    extras_fn: Any,
) -> tuple[TrainState, Metrics]:
    """mappo's IPPO update (``on_policy.train_step``) of one pair ``[2, ...]`` on its envs."""
    recurrent = config.recurrent != "none"
    loss = mappo.sequence_objective if recurrent else mappo.objective

    def objective(params, minibatch):
        return loss(_slot_view(params, slots), minibatch, policy=policy, config=config)

    def collect(params, rollout_state, key):
        return mappo.collect(
            _slot_view(params, slots), rollout_state, key, env=env, policy=policy,
            config=config, extras_fn=extras_fn,
        )  # fmt: skip

    update_fn = functools.partial(
        mappo.sequence_sgd_update if recurrent else mappo.flat_sgd_update,
        objective=objective,
        optimizer=optimizer,
        sizes=sizes,
    )
    return on_policy.train_step(
        state, collect_fn=collect, update_fn=update_fn, sizes=sizes,
        metrics_fn=mappo.rollout_metrics,
    )  # fmt: skip


def population_step(
    state: PopulationState,
    *,
    pairing: Pairing,
    step_fn: Any,
    total_batch: int,
) -> tuple[PopulationState, Metrics]:
    """One round: draw the pairs, zero the recurrent states, train every pair at once (vmap),
    write each pair's parameters and optimizer states back (``stacked.put``)."""
    key, key_pairs, pair_keys = round_keys(state.key, pairing.num_pairs)
    pairs, self_play = sample_pairs(key_pairs, pairing)
    # The second slot of a self-play pair trains a copy that is dropped (see _slot_view).
    slots = jnp.where(self_play[:, None], jnp.zeros((1, 2), jnp.int32), jnp.arange(2)[None])
    rollout = state.rollout._replace(
        policy_state=jax.tree.map(jnp.zeros_like, state.rollout.policy_state)
    )
    pair_states = TrainState(
        params=stacked.take(state.params, pairs),  # [P, 2, ...]
        opt_state=stacked.take(state.opt_state, pairs),
        rollout=rollout,
        key=pair_keys,
        update=jnp.broadcast_to(state.update, (pairing.num_pairs,)),
    )
    new, metrics = jax.vmap(step_fn)(pair_states, slots)

    def write(tree, values):
        tree = stacked.put(tree, pairs[:, 0], stacked.take(values, (slice(None), 0)))
        second = stacked.take(values, (slice(None), 1))
        # Self-play: slot 1 is the member written just above; keep it.
        second = jax.tree.map(
            lambda v, old: jnp.where(jnp.reshape(self_play, (-1,) + (1,) * (v.ndim - 1)), old, v),
            second,
            stacked.take(tree, pairs[:, 1]),
        )
        return stacked.put(tree, pairs[:, 1], second)

    update = state.update + 1
    metrics = jax.tree.map(jnp.mean, metrics)
    metrics["env_steps"] = update * total_batch
    metrics["self_play_pairs"] = jnp.sum(self_play.astype(jnp.float32))
    out = PopulationState(
        params=write(state.params, new.params),
        opt_state=write(state.opt_state, new.opt_state),
        rollout=new.rollout,
        key=key,
        update=update,
        pairs=pairs,
    )
    return out, metrics


@dataclasses.dataclass(frozen=True, kw_only=True)
class PopulationTrainer(Trainer):
    """A population ``Trainer`` with the pieces its users read.

    ``policy`` is the pair network (mappo's ``Policy``): a pair's parameters
    ``stacked.take(state.params, [i, j])`` act with it in ``jaxml.rl.evaluate``.
    """

    sizes: Sizes  # Sizes of one pair (its envs; num_updates = rounds).
    pairing: Pairing
    policy: mappo.Policy
    optimizer: optax.GradientTransformation  # per_member(adam ...).
    env: Any  # The auto-resetting environment.

    @property
    def model(self) -> mappo.Policy:
        return self.policy


def pair_config(config: ml_collections.ConfigDict, num_pairs: int) -> ml_collections.ConfigDict:
    """One pair's IPPO config: ``num_envs / P`` environments, the same number of rounds.

    Raises:
      ValueError: naming ``config.num_envs`` when ``P`` does not divide it.
    """
    envs = on_policy.positive_int_field(config, "num_envs")
    steps = on_policy.positive_int_field(config, "num_steps")
    total = on_policy.positive_int_field(config, "total_timesteps")
    checks.expect(envs % num_pairs == 0, "config.num_envs",
                  f"a multiple of the {num_pairs} pairs per round", envs)  # fmt: skip
    rounds = total // (envs * steps)
    checks.expect(rounds >= 1, "config.total_timesteps",
                  f">= one round (num_envs * num_steps = {envs * steps})", total)  # fmt: skip
    out = config.copy_and_resolve_references()
    out.num_envs = envs // num_pairs
    out.total_timesteps = rounds * steps * out.num_envs
    return out


def _member_params(policy: mappo.Policy, key: jax.Array, size: int, env: Environment) -> Any:
    """``size`` independent draws of the pair network's member (agent axis widened to N)."""
    example = env.observation_spec.generate_value()
    actor_in, critic_in, _ = mappo.agent_inputs(
        example, policy.layout.num_agents, 0, centralised=policy.centralised,
        agent_id=policy.agent_id,
    )  # fmt: skip
    rows = jnp.arange(size) % policy.layout.num_agents
    net = policy.model
    carry = initial_carry(net.cell, net.rnn_size, (size,))
    params = net.init(key, carry, actor_in[rows], critic_in[rows])
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if jnp.ndim(leaf) == 0 or jnp.shape(leaf)[0] != size:
            raise ValueError(
                "config.parameter_sharing: expected a network whose every parameter is per agent "
                f"(independent actor and critic), got {jax.tree_util.keystr(path)} with shape "
                f"{jnp.shape(leaf)}"
            )
    return params


def init_state(
    key: jax.Array, *, env, policy, optimizer, config, pairing: Pairing
) -> PopulationState:
    """N members' parameters and optimizer states, ``P`` pair slots of reset environments
    (``config`` is one pair's, ``pair_config``)."""
    key_params, key_env, key_next = jax.random.split(key, 3)
    params = _member_params(policy, key_params, pairing.size, env)
    per_pair = config.num_envs  # One pair's config (pair_config): its share of the envs.
    num_agents = policy.layout.num_agents
    net = policy.model

    def reset_slot(k):
        rollout = reset(env, k, per_pair, **on_policy.normalization_kwargs(config))
        carry = initial_carry(net.cell, net.rnn_size, (per_pair, num_agents))
        return rollout._replace(policy_state=carry)

    rollout = jax.vmap(reset_slot)(jax.random.split(key_env, pairing.num_pairs))
    return PopulationState(
        params=params,
        opt_state=optimizer.init(params),
        rollout=rollout,
        key=key_next,
        update=jnp.zeros((), jnp.int32),
        pairs=jnp.full((pairing.num_pairs, 2), -1, jnp.int32),
    )


def make_evaluate(policy, env, *, num_episodes: int, max_steps: int, deterministic: bool = True):
    """``state -> metrics``: ``jaxml.rl.evaluate`` of every pair of the state's last round
    (``num_episodes`` each on ``env``), averaged; keys folded from the state's key."""

    def evaluate_state(state: PopulationState) -> Metrics:
        pairs = jnp.maximum(state.pairs, 0)
        keys = jax.random.split(jax.random.fold_in(state.key, 0x5EED), pairs.shape[0])

        def one(pair, k):
            result = evaluate_policy(
                policy, stacked.take(state.params, pair), k, None, env=env,
                num_episodes=num_episodes, max_steps=max_steps, deterministic=deterministic,
            )  # fmt: skip
            out = {"eval_return": jnp.mean(result.returns)}
            out.update(
                {
                    f"eval_{name}": jnp.mean(v.astype(jnp.float32))
                    for name, v in result.outcomes.items()
                }  # fmt: skip
            )
            return out

        return jax.tree.map(jnp.mean, jax.vmap(one)(pairs, keys))

    return evaluate_state


def make_trainer(
    config: ml_collections.ConfigDict,
    env: Environment,
    *,
    model: Any = None,
    eval_env: Environment | None = None,
) -> PopulationTrainer:
    """A population's ``init(key)`` and ``step(state)`` (one round) on the two-player ``env``.

    Args:
      config: ``default_config()``'s fields.
      env: a two-agent environment (jaxml's multi-agent API).
      model: the pair network (a flax module with ``AgentActorCritic``'s call signature and
        per-agent parameters, e.g. ``jaxml.models.foraging_agent``); default: mappo's
        independent actor-critic from the config.
      eval_env: the environment ``evaluate`` plays (default ``env``), with
        ``config.eval_episodes > 0``.

    Raises:
      ValueError: naming the config field that does not fit.
    """
    mappo._check(config)
    ippo_critic = "'decentralised' (IPPO: members are independent learners)"
    checks.expect(config.critic == "decentralised", "config.critic", ippo_critic, config.critic)
    for field in ("normalize_observations", "normalize_rewards"):
        checks.expect(not config.get(field, False), f"config.{field}",
                      "False (members share no statistics)", config.get(field))  # fmt: skip
    pairing = make_pairing(config)
    pconfig = pair_config(config, pairing.num_pairs)
    sizes = on_policy.derive_sizes(pconfig)
    if pconfig.recurrent != "none" and pconfig.num_envs % pconfig.num_minibatches:
        raise ValueError(
            f"config.num_minibatches: {pconfig.num_minibatches} does not divide the "
            f"{pconfig.num_envs} environments of a pair (recurrent policies minibatch over them)"
        )
    policy = mappo.make_policy(pconfig, env)
    checks.expect(policy.layout.num_agents == 2, "env", "a two-player environment",
                  policy.layout.num_agents)  # fmt: skip
    if model is not None:
        policy = policy._replace(model=model)
    optimizer = per_member(on_policy.make_optimizer(pconfig, sizes))
    env = auto_reset(env, pconfig.get("auto_reset", "fresh"))
    step_fn = functools.partial(
        pair_step, env=env, policy=policy, config=pconfig, optimizer=optimizer, sizes=sizes,
        extras_fn=mappo.outcome_fn(env),
    )  # fmt: skip
    episodes = config.get("eval_episodes", 0)
    evaluate = None
    if episodes:
        target = env if eval_env is None else eval_env
        evaluate = make_evaluate(
            policy, target, num_episodes=int(episodes),
            max_steps=int(config.get("eval_max_steps", 1000)),
            deterministic=bool(config.get("eval_deterministic", True)),
        )  # fmt: skip
    return PopulationTrainer(
        init=functools.partial(
            init_state, env=env, policy=policy, optimizer=optimizer, config=pconfig, pairing=pairing
        ),  # fmt: skip
        step=functools.partial(
            population_step,
            pairing=pairing,
            step_fn=step_fn,
            total_batch=sizes.batch_size * pairing.num_pairs,
        ),  # fmt: skip
        num_steps=sizes.num_updates,
        evaluate=evaluate,
        sizes=sizes,
        pairing=pairing,
        policy=policy,
        optimizer=optimizer,
        env=env,
    )


def pair_params(params: Any, i: int, j: int) -> Any:
    """Members ``i`` (slot 0) and ``j`` (slot 1) as a two-agent team's parameters."""
    return stacked.take(params, jnp.array([i, j]))


# ------------------------------------------------------------------------ cultural transmission
def replace_member(params: Any, member: int, fresh: Any) -> Any:
    """``params`` (``[N, ...]``) with member ``member``'s leaves taken from ``fresh`` (a
    population stack of the same structure, e.g. ``trainer.init(key).params``); every other
    member is returned bitwise unchanged.

    Raises:
      ValueError: ``member`` outside ``[0, N)`` or trees of different structure or shapes.
    """
    size = {jnp.shape(x)[0] for x in jax.tree.leaves(params)}
    checks.expect(len(size) == 1, "params", "a member-stacked tree (one leading size)", size)
    (size,) = size
    checks.expect(
        isinstance(member, int | np.integer) and not isinstance(member, bool)
        and 0 <= member < size,
        "member", f"an int in [0, {size})", member,
    )  # fmt: skip
    same = jax.tree.structure(params) == jax.tree.structure(fresh) and all(
        jnp.shape(a) == jnp.shape(b)
        for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(fresh), strict=True)
    )
    checks.expect(same, "fresh", "a tree of the same structure and shapes as params",
                  jax.tree.structure(fresh))  # fmt: skip
    return stacked.put(params, int(member), stacked.take(fresh, int(member)))


def newcomer_state(fresh: PopulationState, trained_params: Any, member: int = 0) -> PopulationState:
    """A trained population that a newcomer joins: ``fresh`` (``trainer.init(key)``) with every
    member but ``member`` replaced by ``trained_params``' (``[N, ...]``).

    The newcomer (member ``member``) is therefore bitwise member ``member`` of the population
    that the trainer trains from scratch with the same ``key``; that from-scratch run is the
    baseline of the cultural-transmission test ("From Grunts to Lexicons", arXiv 2505.12872:
    does a fresh agent learn faster among trained agents than a population from scratch?).
    Everything else starts as in the baseline too: the environments, the round keys, the
    round counter (so ``env_steps`` counts from 0) and every member's optimizer state (fresh
    Adam moments and step counts, so the learning-rate schedule matches the baseline's); the
    only difference between the two runs is the trained members' parameters. Taking the fresh
    state rather than a key lets a launcher reuse the baseline's compiled ``init``.
    """
    return fresh._replace(params=replace_member(trained_params, member, fresh.params))


__all__ = [
    "GRAPHS",
    "Pairing",
    "PopulationState",
    "PopulationTrainer",
    "default_config",
    "make_evaluate",
    "make_pairing",
    "make_trainer",
    "matchings",
    "newcomer_state",
    "pair_config",
    "pair_params",
    "pair_step",
    "partner_graph",
    "per_member",
    "population_step",
    "replace_member",
    "round_keys",
    "sample_pairs",
]

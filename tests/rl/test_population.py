"""Populations trained in pairs (arXiv 2505.12872): pairing rules, the N = 2 population against
mappo's IPPO step, per-member optimizers against separate optax updates, exact resume."""

import functools
import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml import envs
from jaxml.models import stacked
from jaxml.rl import mappo, population
from jaxml.utils.checkpoint import Checkpointer


def tiny_config(size=2, graph="full", self_play=False):
    config = population.default_config()
    config.update(
        num_envs=4 * (size // 2),
        num_steps=8,
        total_timesteps=4 * (size // 2) * 8 * 3,
        update_epochs=1,
        num_minibatches=2,
        hidden=(8,),
        rnn_size=8,
    )
    config.population.update(size=size, graph=graph, self_play=self_play)
    return config


def env():
    return envs.make("ForagingScoreG-v0")


# ------------------------------------------------------------------------------- pairing rules
def _pairings(config, rounds=200):
    pairing = population.make_pairing(config)
    keys = jax.random.split(jax.random.PRNGKey(0), rounds)
    pairs, self_play = jax.jit(jax.vmap(lambda k: population.sample_pairs(k, pairing)))(keys)
    return np.asarray(pairs), np.asarray(self_play)


@pytest.mark.parametrize("graph", ["full", "ring", "small_world"])
def test_every_member_plays_each_round_with_a_partner_of_the_graph(graph):
    config = tiny_config(6, graph)
    pairing = population.make_pairing(config)
    adjacency = (
        np.ones((6, 6), bool)
        if graph == "full"
        else population.partner_graph(graph, 6, k=1, p=config.population.small_world_p)
    )
    pairs, self_play = _pairings(config)
    assert pairs.shape == (200, pairing.num_pairs, 2) and not self_play.any()
    for round_pairs in pairs:
        np.testing.assert_array_equal(np.sort(round_pairs.ravel()), np.arange(6))
        for i, j in round_pairs:
            assert i != j and adjacency[i, j]
    if graph == "ring":  # A ring of 6 has exactly two perfect matchings; both are drawn.
        assert len({tuple(sorted(map(tuple, np.sort(p, 1)))) for p in pairs}) == 2


def test_full_graph_draws_every_matching_and_both_slot_orders():
    pairs, _ = _pairings(tiny_config(4), rounds=400)
    matchings = {tuple(sorted(map(tuple, np.sort(p, 1)))) for p in pairs}
    assert len(matchings) == 3  # {01|23, 02|13, 03|12}
    assert (pairs[:, 0, 0] < pairs[:, 0, 1]).any() and (pairs[:, 0, 0] > pairs[:, 0, 1]).any()


def test_odd_population_sits_one_member_out_and_self_play_only_when_on():
    pairs, self_play = _pairings(tiny_config(3))
    assert pairs.shape[1] == 1 and not self_play.any() and (pairs[:, 0, 0] != pairs[:, 0, 1]).all()
    assert set(np.unique(pairs)) == {0, 1, 2}
    pairs, self_play = _pairings(tiny_config(4, self_play=True), rounds=400)
    assert self_play.any() and not self_play.all()
    np.testing.assert_array_equal(pairs[..., 0] == pairs[..., 1], self_play)


def test_matchings_against_brute_force():
    graph = population.partner_graph("small_world", 6, k=2, p=0.5, seed=3)
    table = population.matchings(graph)
    brute = set()
    edges = [(i, j) for i, j in itertools.combinations(range(6), 2) if graph[i, j]]
    for chosen in itertools.combinations(edges, 3):
        if len({m for e in chosen for m in e}) == 6:
            brute.add(tuple(sorted(chosen)))
    assert {tuple(sorted(map(tuple, m))) for m in table} == brute
    with pytest.raises(ValueError, match="population.graph"):
        population.make_pairing(tiny_config(4, "bad"))


def test_each_pair_gets_its_share_of_the_environments():
    config = tiny_config(6)  # 3 pairs, 12 environments.
    trainer = population.make_trainer(config, env())
    state = jax.eval_shape(trainer.init, jax.random.PRNGKey(0))
    assert state.rollout.obs.view.shape[:3] == (3, 4, 2)
    new, _ = jax.eval_shape(trainer.step, state)
    assert new.rollout.obs.view.shape[:3] == (3, 4, 2) and new.pairs.shape == (3, 2)
    assert trainer.sizes.batch_size == 4 * config.num_steps


def test_config_errors_name_the_field():
    config = tiny_config(4)
    config.num_envs = 5
    with pytest.raises(ValueError, match="config.num_envs"):
        population.make_trainer(config, env())
    config = tiny_config(2)
    config.parameter_sharing = "shared"
    with pytest.raises(ValueError, match="config.parameter_sharing"):
        population.make_trainer(config, env()).init(jax.random.PRNGKey(0))


# ---------------------------------------------------------------------------- per-member Adam
def test_per_member_optimizer_equals_separate_optax_updates():
    base = optax.chain(optax.clip_by_global_norm(0.5), optax.adam(1e-2))
    opt = population.per_member(base)
    params = {"w": jax.random.normal(jax.random.PRNGKey(0), (3, 4, 2))}
    state = opt.init(params)
    refs = [base.init(stacked.take(params, i)) for i in range(3)]
    ref_params = [stacked.take(params, i) for i in range(3)]
    for t in range(3):
        grads = {"w": jax.random.normal(jax.random.PRNGKey(t + 1), (3, 4, 2)) * (t + 1)}
        updates, state = opt.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        for i in range(3):
            u, refs[i] = base.update(stacked.take(grads, i), refs[i], ref_params[i])
            ref_params[i] = optax.apply_updates(ref_params[i], u)
    for i in range(3):
        np.testing.assert_allclose(params["w"][i], ref_params[i]["w"], rtol=1e-6, atol=1e-7)


# -------------------------------------------------------------------- N = 2 equals IPPO's step
@pytest.mark.slow  # Two trainers compile (~30 s on a quiet 2-core machine).
def test_population_of_two_steps_as_the_ippo_pair():
    config = tiny_config(2)
    config.max_grad_norm = None  # mappo clips the pair's joint norm, a population each member's.
    foraging = env()
    trainer = population.make_trainer(config, foraging)
    state = trainer.init(jax.random.PRNGKey(0))
    new, metrics = jax.jit(trainer.step)(state)
    pair = np.asarray(new.pairs[0])
    assert sorted(pair.tolist()) == [0, 1]
    ippo = mappo.make_trainer(population.pair_config(config, 1), foraging)
    _, _, pair_keys = population.round_keys(state.key, 1)
    ippo_state = ippo.init(jax.random.PRNGKey(1))
    pair_params = stacked.take(state.params, jnp.asarray(pair))
    ippo_state = ippo_state._replace(
        params=pair_params,
        opt_state=ippo.optimizer.init(pair_params),  # Fresh Adam, as every member's.
        rollout=jax.tree.map(lambda x: x[0], state.rollout),
        key=pair_keys[0],
    )
    ippo_new, ippo_metrics = jax.jit(ippo.step)(ippo_state)
    got = stacked.take(new.params, jnp.asarray(pair))
    for a, b in zip(jax.tree.leaves(got), jax.tree.leaves(ippo_new.params), strict=True):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    moved = jax.tree.leaves(
        jax.tree.map(lambda a, b: jnp.abs(a - b).max(), new.params, state.params)
    )
    assert max(float(m) for m in moved) > 1e-5  # The step did train.
    np.testing.assert_allclose(metrics["loss"], ippo_metrics["loss"], rtol=1e-4, atol=1e-6)
    assert int(metrics["env_steps"]) == int(ippo_metrics["env_steps"])


@functools.cache
def _odd_population():
    """A population of 3 (one member sits out per round) and its jitted round, shared by tests."""
    trainer = population.make_trainer(tiny_config(3), env())
    return trainer, jax.jit(trainer.init), jax.jit(trainer.step)


def test_members_outside_a_round_keep_their_parameters_and_optimizer_state():
    _, init, step = _odd_population()
    state = init(jax.random.PRNGKey(2))
    new, _ = step(state)
    (out,) = set(range(3)) - set(np.asarray(new.pairs).ravel().tolist())
    for a, b in zip(jax.tree.leaves(stacked.take(new.params, out)),
                    jax.tree.leaves(stacked.take(state.params, out)), strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)
    counts = [x for x in jax.tree.leaves(new.opt_state) if x.dtype == jnp.int32]
    played = np.asarray(new.pairs).ravel()
    for count in counts:
        assert int(count[out]) == 0 and (np.asarray(count)[played] > 0).all()


def test_population_resumes_exactly_from_a_checkpoint(tmp_path):
    _, init, step = _odd_population()
    state = init(jax.random.PRNGKey(3))
    first, _ = step(state)
    second, _ = step(first)
    checkpointer = Checkpointer(tmp_path)
    checkpointer.save(1, first)
    restored = checkpointer.restore(1, jax.tree.map(jnp.zeros_like, first))
    checkpointer.close()
    resumed, _ = step(restored)
    for a, b in zip(jax.tree.leaves(second), jax.tree.leaves(resumed), strict=True):
        np.testing.assert_array_equal(a, b)
    # Different rounds pair differently: the pairing key advances with the state.
    keys = np.stack([np.asarray(first.key), np.asarray(second.key)])
    assert not np.array_equal(keys[0], keys[1])


# ------------------------------------------------------------------------ cultural transmission
def _leaves_equal(a, b):
    return all(
        np.array_equal(x, y) for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True)
    )


@pytest.mark.parametrize("member", [0, 2])
def test_newcomer_is_a_fresh_init_and_the_others_are_unchanged(member):
    _, init, step = _odd_population()
    trained, _ = step(init(jax.random.PRNGKey(4)))  # One round: members 0-2 moved off init.
    key = jax.random.PRNGKey(5)
    fresh = init(key)
    params = population.replace_member(trained.params, member, fresh.params)
    assert _leaves_equal(stacked.take(params, member), stacked.take(fresh.params, member))
    for other in set(range(3)) - {member}:
        assert _leaves_equal(stacked.take(params, other), stacked.take(trained.params, other))
    # The fresh draw is not the trained one (the test can fail), and not member-identical.
    assert not _leaves_equal(stacked.take(fresh.params, member),
                             stacked.take(trained.params, member))  # fmt: skip
    # The newcomer state: the from-scratch init with the same key, but the trained members.
    state = jax.jit(functools.partial(population.newcomer_state, member=member))(
        fresh, trained.params
    )
    assert _leaves_equal(state.params, params)
    for field in ("opt_state", "rollout", "key", "update", "pairs"):
        assert _leaves_equal(getattr(state, field), getattr(fresh, field)), field
    # It trains: one round from it is a round of the same trainer.
    new, metrics = step(state)
    assert int(new.update) == 1 and np.isfinite(float(metrics["loss"]))


def test_replace_member_rejects_bad_members_and_trees():
    _, init, _ = _odd_population()
    params = init(jax.random.PRNGKey(0)).params
    for bad in (3, -1, 1.0, True):
        with pytest.raises(ValueError, match=r"member: expected an int in \[0, 3\)"):
            population.replace_member(params, bad, params)
    with pytest.raises(ValueError, match="fresh: expected a tree of the same structure"):
        population.replace_member(params, 0, jax.tree.map(lambda x: x[:2], params))

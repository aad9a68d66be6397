"""MAPPO/IPPO parameter modes (LoRASA, arXiv 2502.05573): shared (PS), independent (NPS) and
LoRA adapters on a frozen PS backbone, the two-phase schedule, phase-1 checkpoints, evaluation
in every mode and the config checks, on test_mappo's tiny multi-agent environment."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.models import lora
from jaxml.models.agent_actor_critic import count_params, independent_from_shared, initial_carry
from jaxml.rl import evaluate, mappo, on_policy
from jaxml.utils.checkpoint import Checkpointer
from jaxml.utils.partition import path_names
from tests.rl.test_mappo import A, ToyMultiAgent, tiny_config, toy_obs
from tests.rl.test_optimizers import learning_rates


def config_for(mode, recurrent="none", **lora_fields):
    config = tiny_config("ippo", recurrent)
    config.update(update_epochs=1, num_minibatches=1, bootstrap_truncated=False)
    config.parameter_sharing = mode
    config.lora.update(rank=2, alpha=2.0, **lora_fields)
    return config


def _flat(tree):
    return {path_names(p): x for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]}


def _same_view(batch=1):
    """Observations in which every agent sees the same view (agent ids off: PS cannot differ)."""
    obs = toy_obs(jax.random.PRNGKey(0), (batch,))
    same = jnp.broadcast_to(obs.agents_view[:, :1], obs.agents_view.shape)
    return obs._replace(agents_view=same, action_mask=jnp.ones_like(obs.action_mask))


def test_two_phase_schedule_freezes_the_backbone_and_trains_per_agent_adapters():
    config = config_for("lora", phase1_timesteps=4 * 8 * 3)
    config.total_timesteps = 4 * 8 * 6
    config.agent_id = False
    env = ToyMultiAgent()
    phase1, phase2 = mappo.phase_configs(config)
    first = jax.jit(mappo.make_train(phase1, env))(jax.random.PRNGKey(0))
    second = mappo.make_trainer(phase2, env, init_params=first.state)
    out = jax.jit(on_policy.make_train(second))(jax.random.PRNGKey(1))
    # The update counter (and env_steps) runs on across the switch.
    np.testing.assert_array_equal(out.metrics["env_steps"], 32 * np.arange(4, 7))
    assert int(out.state.update) == 6
    before, after = _flat(first.state.params), _flat(out.state.params)
    moved = {"adapter": 0, "critic": 0}
    for path, value in after.items():
        if lora.is_adapter(path):
            moved["adapter"] += not np.array_equal(value, 0.0) and "lora_a" in path[-1]
        elif path[1].startswith(("actor_", "policy_head")):
            np.testing.assert_array_equal(value, before[path])  # Frozen: bitwise.
        else:
            moved["critic"] += not np.array_equal(value, before[path])
    assert moved["adapter"] > 0 and moved["critic"] > 0
    # Agents seeing the same view: one shared policy, but per-agent adapters make them differ.
    policy = mappo.make_policy(phase2, env)
    ps_policy = mappo.make_policy(phase1, env)
    obs = _same_view()
    _, ps_logits, _ = ps_policy.apply(first.state.params, obs, None, 1)
    np.testing.assert_array_equal(ps_logits[0][0, 0], ps_logits[0][0, 1])
    _, logits, _ = policy.apply(out.state.params, obs, None, 1)
    assert not np.allclose(logits[0][0, 0], logits[0][0, 1], atol=1e-6)
    assert not np.allclose(logits[0][0, 1], logits[0][0, 2], atol=1e-6)


def test_phase_two_resumes_exactly_from_a_phase_one_checkpoint(tmp_path):
    env = ToyMultiAgent()
    ps = mappo.make_trainer(config_for("shared"), env)
    state = jax.jit(jax.vmap(ps.init))(jax.random.split(jax.random.PRNGKey(1), 2))
    state = state._replace(params=jax.tree.map(lambda x: x + 0.5, state.params))
    checkpointer = Checkpointer(tmp_path)
    checkpointer.save(3, state)  # A run_trainer carry: two vmapped seeds.
    checkpointer.close()
    config = config_for("lora", phase1_checkpoint=str(tmp_path), phase1_member=1)
    from_disk = jax.jit(mappo.make_trainer(config, env).init)(jax.random.PRNGKey(2))
    member = jax.tree.map(lambda x: x[1], state.params)
    config.lora.phase1_checkpoint = None
    in_memory = mappo.make_trainer(config, env, init_params=member)
    from_memory = jax.jit(in_memory.init)(jax.random.PRNGKey(2))
    flat_disk, flat_memory, flat_member = map(_flat, (from_disk.params, from_memory.params, member))
    assert flat_disk.keys() == flat_memory.keys()
    for path, value in flat_disk.items():
        np.testing.assert_array_equal(value, flat_memory[path])
        if not lora.is_adapter(path):
            np.testing.assert_array_equal(value, flat_member[path])
    empty = config_for("lora", phase1_checkpoint=str(tmp_path / "nothing"))
    with pytest.raises(ValueError, match="phase1_checkpoint"):
        mappo.make_trainer(empty, env)


def test_independent_agents_from_shared_weights_act_like_ps_at_the_first_step():
    env = ToyMultiAgent()
    key = jax.random.PRNGKey(3)
    batches = {}
    for mode in ("shared", "independent"):
        config = config_for(mode)
        trainer = mappo.make_trainer(config, env)
        state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
        if mode == "shared":
            shared_params = state.params
        else:
            state = state._replace(params=independent_from_shared(shared_params, A))
        collect = functools.partial(mappo.collect, env=trainer.env, policy=trainer.model,
                                    config=config, extras_fn=mappo.outcome_fn(env))  # fmt: skip
        _, batches[mode] = jax.jit(collect)(state.params, state.rollout, key)
    ps, nps = batches["shared"].transitions, batches["independent"].transitions
    np.testing.assert_array_equal(ps.action, nps.action)
    np.testing.assert_allclose(ps.log_prob, nps.log_prob, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(ps.value, nps.value, rtol=1e-6, atol=1e-6)
    # identical_init: every agent's actor starts from one draw.
    config = config_for("independent")
    config.identical_init = True
    params = jax.jit(mappo.make_trainer(config, env).init)(key).params["params"]["actor"]
    for leaf in jax.tree.leaves(params):
        np.testing.assert_array_equal(leaf, jnp.broadcast_to(leaf[0], leaf.shape))


def test_two_phases_follow_one_learning_rate_decay():
    """With anneal_lr, phase 1's rates then phase 2's are the one-phase run's rates."""
    config = config_for("lora", phase1_timesteps=4 * 8 * 3)
    config.update(total_timesteps=4 * 8 * 7, anneal_lr=True, max_grad_norm=None)
    steps = on_policy.derive_sizes(config).grad_steps_per_update

    def rates(phase, updates):  # Relative to the base rate.
        return learning_rates(phase, updates * steps) / phase.learning_rate

    config.optimizer = "sgd"
    phase1, phase2 = mappo.phase_configs(config)
    assert (phase1.anneal_span, phase2.anneal_span) == ((0, 7), (3, 7))
    np.testing.assert_allclose(
        np.concatenate([rates(phase1, 3), rates(phase2, 4)]), rates(config, 7), rtol=1e-6
    )
    np.testing.assert_allclose(rates(phase2, 1), [1 - 3 / 7], rtol=1e-6)


@pytest.mark.slow
def test_make_two_phase_train_is_phase_one_then_phase_two():
    config = config_for("lora", phase1_timesteps=4 * 8 * 2)
    config.total_timesteps = 4 * 8 * 4
    env = ToyMultiAgent()
    out = jax.jit(mappo.make_two_phase_train(config, env))(jax.random.PRNGKey(0))
    phase1, phase2 = mappo.phase_configs(config)
    key1, key2 = jax.random.split(jax.random.PRNGKey(0))
    first = jax.jit(mappo.make_train(phase1, env))(key1)
    second = mappo.make_trainer(phase2, env, init_params=first.state)
    by_hand = jax.jit(on_policy.make_train(second))(key2)
    np.testing.assert_array_equal(out.metrics["env_steps"], 32 * np.arange(1, 5))
    np.testing.assert_allclose(out.metrics["loss"][:2], first.metrics["loss"], rtol=1e-4)
    np.testing.assert_allclose(out.metrics["loss"][2:], by_hand.metrics["loss"], rtol=1e-4)
    for x, y in zip(jax.tree.leaves(out.state.params), jax.tree.leaves(by_hand.state.params),
                    strict=True):  # fmt: skip
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize(
    ("mode", "recurrent"),
    [("shared", "none"), ("independent", "gru"), ("lora", "none"), ("lora", "gru")],
)
def test_evaluate_works_in_every_mode_and_merged_weights_act_alike(mode, recurrent):
    env = ToyMultiAgent()
    config = config_for(mode, recurrent, train_backbone=True, bias=True)
    config.critic_sharing = "independent" if mode == "independent" else "shared"
    config.update(eval_episodes=3, eval_max_steps=8)
    trainer = mappo.make_trainer(config, env)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    metrics = jax.jit(trainer.evaluate)(state)
    assert np.isfinite(float(metrics["eval_return"]))
    assert 0.0 <= float(metrics["eval_success"]) <= 1.0
    if mode != "lora":
        return
    # Trained-looking adapters: the merged per-agent weights play the same episodes.
    params = jax.tree_util.tree_map_with_path(
        lambda p, x: x + 0.5 * jnp.cos(jnp.arange(x.size).reshape(x.shape))
        if "lora_" in jax.tree_util.keystr(p) else x,
        state.params,
    )  # fmt: skip
    run = functools.partial(evaluate, env=env, num_episodes=3, max_steps=8)
    direct = jax.jit(functools.partial(run, trainer.model))(params, jax.random.PRNGKey(1))
    merged_policy, merged = mappo.merged_policy(trainer.model, params)
    via_merged = jax.jit(functools.partial(run, merged_policy))(merged, jax.random.PRNGKey(1))
    np.testing.assert_array_equal(direct.returns, via_merged.returns)
    np.testing.assert_array_equal(direct.lengths, via_merged.lengths)


def test_parameter_counts_and_labels_per_mode():
    env = ToyMultiAgent()
    counts, params = {}, {}
    for mode in ("shared", "independent", "lora"):
        config = config_for(mode, "gru", train_backbone=True)
        trainer = mappo.make_trainer(config, env)
        params[mode] = jax.eval_shape(trainer.init, jax.random.PRNGKey(0)).params
        counts[mode] = count_params(params[mode])
    inner = params["shared"]["params"]
    actor = sum(count_params(v) for k, v in inner.items() if k.startswith(("actor", "policy")))
    assert counts["independent"] == counts["shared"] + (A - 1) * actor
    # LoRA on every actor layer: torso (7+A)->16->16, the GRU's six 16->8 / 8->8 maps, head 8->4.
    obs_in = 5 + A  # ToyMultiAgent's view plus the agent id.
    layers = [(obs_in, 16), (16, 16)] + [(16, 8)] * 3 + [(8, 8)] * 3 + [(8, 4)]
    formula = A * sum(lora.adapter_size(2, i, o) for i, o in layers)
    assert counts["lora"] == counts["shared"] + formula
    assert counts["shared"] < counts["lora"] < counts["independent"]
    # Labels: the frozen backbone is the actor's non-adapter leaves, nothing else.
    config = config_for("lora", "gru")
    labels = _flat(mappo.parameter_labels(params["lora"], config))
    for path, label in labels.items():
        in_actor = path[1].startswith(("actor_", "policy_head"))
        assert label == ("frozen" if in_actor and not lora.is_adapter(path) else "trained"), path
    config.lora.train_backbone = True
    assert set(_flat(mappo.parameter_labels(params["lora"], config)).values()) == {"trained"}


@pytest.mark.parametrize(
    ("field", "updates"),
    [
        ("parameter_sharing", {"parameter_sharing": "partial"}),
        ("critic_sharing", {"critic_sharing": "lora"}),
        ("lora.rank", {"lora.rank": 0}),
        ("lora.placement", {"lora.placement": "middle"}),
        ("lora.last_k", {"lora.placement": "last_k", "lora.last_k": 5}),
        ("lora.alpha", {"lora.alpha": -1.0}),
        ("lora.phase1_checkpoint", {}),
    ],
)
def test_bad_config_raises_naming_the_field(field, updates):
    config = config_for("lora")
    for name, value in updates.items():
        parent, _, leaf = name.rpartition(".")
        (config[parent] if parent else config)[leaf] = value
    with pytest.raises(ValueError, match=field.replace(".", r"\.")):
        mappo.make_trainer(config, ToyMultiAgent())


def test_two_phase_switch_point_is_checked():
    config = config_for("lora", phase1_timesteps=96)
    with pytest.raises(ValueError, match=r"lora\.phase1_timesteps"):
        mappo.make_two_phase_train(config, ToyMultiAgent())  # total_timesteps is 96.
    config.lora.phase1_timesteps = 0
    with pytest.raises(ValueError, match=r"lora\.phase1_timesteps"):
        mappo.phase_configs(config)


def test_initial_carry_is_shared_by_every_mode():
    # The evaluator reads model.cell / model.rnn_size and starts from initial_carry.
    for mode in ("shared", "independent", "lora"):
        policy = mappo.make_policy(config_for(mode, "gru", train_backbone=True), ToyMultiAgent())
        assert (policy.model.cell, policy.model.rnn_size) == ("gru", 8)
        assert initial_carry(policy.model.cell, 8, (A,))["actor"].shape == (A, 8)

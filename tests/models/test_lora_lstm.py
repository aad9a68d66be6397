"""LoRA on the LSTM cell (LoRASA, arXiv 2502.05573: adapters on the recurrent cell's input and
hidden maps): zero adapters are flax's ``nn.OptimizedLSTMCell`` bitwise, trained adapters match a
float64 per-agent LSTM reference and change only their own agent, the parameter count is
r (in + out) per map per agent, and phase 2 of IPPO with an LSTM actor moves the cell's adapters
while its backbone stays bitwise."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.models import lora
from jaxml.models.agent_actor_critic import count_params, make_agent_actor_critic
from jaxml.rl import evaluate, mappo
from jaxml.utils.partition import path_names
from tests.rl.test_mappo import ToyMultiAgent, init_params, tiny_config, toy_obs

N, B, D, H = 3, 5, 7, 6  # Agents, batch, input and hidden sizes.
GATES = "ifgo"


def _inputs():
    keys = jax.random.split(jax.random.PRNGKey(1), 3)
    x = jax.random.normal(keys[0], (B, N, D))
    c, h = (jax.random.normal(k, (B, N, H)) for k in keys[1:])
    return (c, h), x


def _randomise(params, key, only_agent=None, scale=0.3):
    """Adapters moved from their init (agent ``only_agent``'s alone, if given)."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    out = []
    for (path, x), k in zip(leaves, jax.random.split(key, len(leaves)), strict=True):
        if lora.is_adapter(path_names(path)):
            noise = scale * jax.random.normal(k, x.shape)
            if only_agent is not None:
                noise = noise * (jnp.arange(N) == only_agent).reshape((N,) + (1,) * (x.ndim - 1))
            x = x + noise
        out.append(x)
    return jax.tree.unflatten(treedef, out)


@pytest.mark.parametrize(("rank", "agent_bias"), [(2, False), (3, True), (6, False)])
def test_zero_adapters_are_flax_lstm_cell_bitwise(rank, agent_bias):
    carry, x = _inputs()
    key = jax.random.PRNGKey(0)
    cell = lora.LoRALSTMCell(H, rank=rank, agent_bias=agent_bias)
    params = cell.init(key, carry, x)
    flax_cell = nn.OptimizedLSTMCell(H)
    flax_params = flax_cell.init(key, carry, x)
    # The backbone: every flax leaf, same name and same draw.
    for name, layer in flax_params["params"].items():
        for leaf, value in layer.items():
            np.testing.assert_array_equal(params["params"][name][leaf], value)
    # ΔW = 0 at init: A zero and B random (low rank), or a zero full-rank ΔW (r >= min(D, H)).
    for name in flax_params["params"]:
        layer = params["params"][name]
        if lora.is_full_rank(rank, *layer["kernel"].shape):
            np.testing.assert_array_equal(layer["lora_w"], 0.0)
        else:
            np.testing.assert_array_equal(layer["lora_a"], 0.0)
            assert layer["lora_b"].std() > 0
        assert ("lora_bias" in layer) == (agent_bias and name.startswith("h"))
    out, expected = cell.apply(params, carry, x), flax_cell.apply(flax_params, carry, x)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(expected), strict=True):
        np.testing.assert_array_equal(a, b)
    # nn.LSTMCell has the same parameters (one product per map: equal to rounding).
    unfused = nn.LSTMCell(H).apply(flax_params, carry, x)
    for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(unfused), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_rank_zero_is_the_plain_cell():
    carry, x = _inputs()
    cell = lora.LoRALSTMCell(H, rank=0, agent_bias=True)
    params = cell.init(jax.random.PRNGKey(0), carry, x)
    flax_params = nn.OptimizedLSTMCell(H).init(jax.random.PRNGKey(0), carry, x)
    assert jax.tree.structure(params) == jax.tree.structure(flax_params)
    expected = nn.OptimizedLSTMCell(H).apply(flax_params, carry, x)
    for a, b in zip(jax.tree.leaves(cell.apply(params, carry, x)), jax.tree.leaves(expected),
                    strict=True):  # fmt: skip
        np.testing.assert_array_equal(a, b)


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def _reference(params, carry, x, alpha):
    """A float64 LSTM per agent with merged maps W0 + (α/r) (B_i A_i)ᵀ (or + W_i), b0 + b_i."""
    p = jax.tree.map(lambda v: np.asarray(v, np.float64), params["params"])
    c, h = (np.asarray(v, np.float64) for v in carry)
    x = np.asarray(x, np.float64)
    new_c, new_h = np.zeros_like(c), np.zeros_like(h)
    for n in range(N):

        def weight(layer, n=n):
            if "lora_w" in layer:
                return layer["kernel"] + layer["lora_w"][n]
            rank = layer["lora_a"].shape[1]
            return layer["kernel"] + (alpha / rank) * (layer["lora_b"][n] @ layer["lora_a"][n]).T

        pre = {}
        for g in GATES:
            hi = p[f"h{g}"]
            bias = hi["bias"] + (hi["lora_bias"][n] if "lora_bias" in hi else 0.0)
            pre[g] = x[:, n] @ weight(p[f"i{g}"]) + h[:, n] @ weight(hi) + bias
        new_c[:, n] = _sigmoid(pre["f"]) * c[:, n] + _sigmoid(pre["i"]) * np.tanh(pre["g"])
        new_h[:, n] = _sigmoid(pre["o"]) * np.tanh(new_c[:, n])
    return new_c, new_h


@pytest.mark.parametrize(("rank", "agent_bias"), [(2, False), (3, True), (6, False)])
def test_trained_adapters_match_the_per_agent_lstm_reference_and_merge(rank, agent_bias):
    carry, x = _inputs()
    cell = lora.LoRALSTMCell(H, rank=rank, alpha=4.0, agent_bias=agent_bias)
    params = _randomise(cell.init(jax.random.PRNGKey(0), carry, x), jax.random.PRNGKey(3))
    (new_c, new_h), out = cell.apply(params, carry, x)
    ref_c, ref_h = _reference(params, carry, x, 4.0)
    np.testing.assert_allclose(new_c, ref_c, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(new_h, ref_h, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out, new_h)
    # Merged weights are flax's cell per agent (jax.vmap over the agent axis).
    merged = lora.merge(params["params"], 4.0, N)
    per_agent = jax.vmap(nn.OptimizedLSTMCell(H).apply, in_axes=(0, 1, 1), out_axes=1)
    (merged_c, merged_h), _ = per_agent({"params": merged}, carry, x)
    np.testing.assert_allclose(merged_c, new_c, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(merged_h, new_h, rtol=1e-5, atol=1e-5)


def test_an_agents_adapter_changes_only_that_agents_output():
    carry, x = _inputs()
    cell = lora.LoRALSTMCell(H, rank=2, agent_bias=True)
    params = cell.init(jax.random.PRNGKey(0), carry, x)
    base = cell.apply(params, carry, x)
    moved = cell.apply(_randomise(params, jax.random.PRNGKey(4), only_agent=1), carry, x)
    for before, after in zip(jax.tree.leaves(base), jax.tree.leaves(moved), strict=True):
        np.testing.assert_array_equal(before[:, 0], after[:, 0])
        np.testing.assert_array_equal(before[:, 2], after[:, 2])
        assert np.abs(np.asarray(before[:, 1] - after[:, 1])).min() > 0  # Every entry moved.


@pytest.mark.parametrize(("rank", "agent_bias"), [(2, False), (2, True), (6, False)])
def test_parameter_count_is_r_in_plus_out_per_map_per_agent(rank, agent_bias):
    carry, x = _inputs()
    params = lora.LoRALSTMCell(H, rank=rank, agent_bias=agent_bias).init(
        jax.random.PRNGKey(0), carry, x
    )
    flax_params = nn.OptimizedLSTMCell(H).init(jax.random.PRNGKey(0), carry, x)
    # Four input maps D -> H and four hidden maps H -> H, each r (in + out) (in * out at full
    # rank), and H per hidden map for the agent bias (the input maps have no b0).
    per_map = {"i": lora.adapter_size(rank, D, H), "h": lora.adapter_size(rank, H, H, agent_bias)}
    if rank == 2:
        assert per_map["i"] == 2 * (D + H) and per_map["h"] == 2 * (H + H) + H * agent_bias
    else:
        assert per_map == {"i": D * H, "h": H * H}
    formula = N * 4 * (per_map["i"] + per_map["h"])
    assert lora.num_adapter_params(params) == formula
    assert count_params(params) == count_params(flax_params) + formula
    # Within an actor-critic: the same count under actor_cell, the critic's cell untouched.
    kw = {"hidden": (8,), "activation": "tanh", "cell": "lstm", "rnn_size": H}
    head = lora.LoRAConfig(rank, 2.0, "head", bias=agent_bias)
    model = make_agent_actor_critic((4,), ((),), **kw, actor_sharing="lora", lora=head)
    cell_only = model.clone(lora=lora.LoRAConfig(rank, 2.0, "last_k", 2, bias=agent_bias))
    zeros = (jnp.zeros((1, N, H)), jnp.zeros((1, N, H)))
    args = ({"actor": zeros, "critic": zeros}, jnp.zeros((1, N, 5)), jnp.zeros((1, N, 5)))
    head_only = lora.num_adapter_params(model.init(jax.random.PRNGKey(0), *args))
    with_cell = cell_only.init(jax.random.PRNGKey(0), *args)
    assert lora.num_adapter_params(with_cell) - head_only == N * 4 * (
        lora.adapter_size(rank, 8, H) + per_map["h"]
    )
    assert lora.num_adapter_params(with_cell["params"]["actor_cell"]) > 0
    assert all("lora" not in str(p) for p, _ in jax.tree_util.tree_flatten_with_path(
        with_cell["params"]["critic_cell"])[0])  # fmt: skip


def test_phase_two_with_an_lstm_actor_trains_the_cell_adapters_not_the_backbone():
    config = tiny_config("ippo", "lstm")
    config.update(update_epochs=1, num_minibatches=1, bootstrap_truncated=False, agent_id=False)
    config.lora.update(rank=2, alpha=2.0, placement="all")
    env = ToyMultiAgent()
    # Phase 1's parameters (a fresh PS network: phase 2 does not care how they were trained).
    backbone = init_params(mappo.make_policy(config, env), config)
    config.parameter_sharing = "lora"
    trainer = mappo.make_trainer(config, env, init_params=backbone)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(1))
    new_state, _ = jax.jit(trainer.step)(state)

    def flat(tree):
        return {path_names(p): x for p, x in jax.tree_util.tree_flatten_with_path(tree)[0]}

    before, start, after = flat(backbone), flat(state.params), flat(new_state.params)
    cell_adapters = 0
    for path, value in after.items():
        if lora.is_adapter(path):
            if path[1] == "actor_cell" and path[-1] == "lora_a":
                np.testing.assert_array_equal(start[path], 0.0)
                cell_adapters += not np.array_equal(value, 0.0)
        elif path[1].startswith(("actor_", "policy_head")):
            np.testing.assert_array_equal(value, before[path])  # Frozen backbone: bitwise.
    assert cell_adapters == 8  # Every map of the cell: ii if ig io hi hf hg ho.
    # The adapted LSTM actor makes agents differ on the same observation (no agent id).
    policy = trainer.model
    obs = toy_obs(jax.random.PRNGKey(0), (1,))
    view = jnp.broadcast_to(obs.agents_view[:, :1], obs.agents_view.shape)
    same = obs._replace(agents_view=view, action_mask=jnp.ones_like(obs.action_mask))
    carry = jax.tree.map(lambda v: v[:1], new_state.rollout.policy_state)
    carry = jax.tree.map(lambda v: jnp.broadcast_to(v[:, :1], v.shape), carry)
    _, logits, _ = policy.apply(new_state.params, same, carry, 1)
    assert not np.allclose(logits[0][0, 0], logits[0][0, 1], atol=1e-6)


def test_the_evaluator_plays_the_same_episodes_with_merged_lstm_weights():
    config = tiny_config("ippo", "lstm")
    config.update(update_epochs=1, num_minibatches=1, eval_episodes=3, eval_max_steps=8)
    config.parameter_sharing = "lora"
    config.lora.update(rank=2, alpha=2.0, placement="all", train_backbone=True, bias=True)
    env = ToyMultiAgent()
    trainer = mappo.make_trainer(config, env)
    state = jax.jit(trainer.init)(jax.random.PRNGKey(0))
    params = _randomise(state.params, jax.random.PRNGKey(5))  # Trained-looking adapters.
    run = functools.partial(evaluate, env=env, num_episodes=3, max_steps=8)
    direct = jax.jit(functools.partial(run, trainer.model))(params, jax.random.PRNGKey(1))
    merged_policy, merged = mappo.merged_policy(trainer.model, params)
    assert "lora_a" not in str(jax.tree_util.tree_structure(merged))
    via_merged = jax.jit(functools.partial(run, merged_policy))(merged, jax.random.PRNGKey(1))
    np.testing.assert_array_equal(direct.returns, via_merged.returns)
    np.testing.assert_array_equal(direct.lengths, via_merged.lengths)

"""LoRA adapters (LoRASA, arXiv 2502.05573) and agent-stacked networks, against dense references:
A = 0 is the backbone bitwise, the adapted map is W0 + (α/r) B_i A_i per agent, parameter counts,
full rank, merged weights, placements, and the stacked (independent) networks."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.models import lora, stacked
from jaxml.models.agent_actor_critic import (
    count_params,
    independent_from_shared,
    initial_carry,
    make_agent_actor_critic,
    merge_lora,
)

N, B = 3, 5  # Agents, batch.


def _randomise_adapters(params, key, scale=0.3):
    """Adapters moved away from their zero init (as training would)."""
    leaves, treedef = jax.tree_util.tree_flatten_with_path(params)
    keys = jax.random.split(key, len(leaves))
    out = [
        x + scale * jax.random.normal(k, x.shape) if "lora_" in jax.tree_util.keystr(p) else x
        for (p, x), k in zip(leaves, keys, strict=True)
    ]
    return jax.tree.unflatten(treedef, out)


def test_zero_a_is_the_plain_dense_and_gru_layer_bitwise():
    x = jax.random.normal(jax.random.PRNGKey(1), (B, N, 7))
    h = jax.random.normal(jax.random.PRNGKey(2), (B, N, 6))
    key = jax.random.PRNGKey(0)
    dense, plain = lora.LoRADense(6, rank=2, agent_bias=True), nn.Dense(6)
    params = dense.init(key, x)
    assert params["params"]["lora_b"].std() > 0  # B is random, A is zero.
    np.testing.assert_array_equal(params["params"]["lora_a"], 0.0)
    base = {"params": {k: params["params"][k] for k in ("kernel", "bias")}}
    np.testing.assert_array_equal(base["params"]["kernel"], plain.init(key, x)["params"]["kernel"])
    np.testing.assert_array_equal(dense.apply(params, x), plain.apply(base, x))
    cell, gru = lora.LoRAGRUCell(6, rank=2), nn.GRUCell(6)
    params = cell.init(key, h, x)
    gru_params = gru.init(key, h, x)
    for name, layer in gru_params["params"].items():
        for leaf, value in layer.items():
            np.testing.assert_array_equal(params["params"][name][leaf], value)
    np.testing.assert_array_equal(cell.apply(params, h, x)[0], gru.apply(gru_params, h, x)[0])


@pytest.mark.parametrize(("rank", "agent_bias"), [(2, False), (3, True)])
def test_adapted_dense_matches_the_per_agent_dense_reference(rank, agent_bias):
    x = jax.random.normal(jax.random.PRNGKey(1), (B, N, 7))
    dense = lora.LoRADense(6, rank=rank, alpha=4.0, agent_bias=agent_bias)
    params = _randomise_adapters(dense.init(jax.random.PRNGKey(0), x), jax.random.PRNGKey(3))
    p = jax.tree.map(np.asarray, params["params"])
    expected = np.zeros((B, N, 6), np.float64)
    for i in range(N):  # y_i = x_i (W0 + (α/r) (B_i A_i)ᵀ) + b0 + b_i.
        w = p["kernel"] + (4.0 / rank) * (p["lora_b"][i] @ p["lora_a"][i]).T
        expected[:, i] = (
            np.asarray(x)[:, i] @ w + p["bias"] + (p["lora_bias"][i] if agent_bias else 0)
        )
    np.testing.assert_allclose(dense.apply(params, x), expected, rtol=1e-5, atol=1e-5)
    merged = lora.merge_layer(params["params"], 4.0, N)
    assert merged["kernel"].shape == (N, 7, 6) and merged["bias"].shape == (N, 6)
    np.testing.assert_allclose(
        jnp.einsum("bni,nio->bno", x, merged["kernel"]) + merged["bias"][None], expected, rtol=1e-5,
        atol=1e-5,
    )  # fmt: skip


def test_parameter_count_is_r_in_plus_out_per_adapted_layer_per_agent():
    x = jnp.zeros((1, N, 64))
    params = lora.LoRADense(64, rank=8).init(jax.random.PRNGKey(0), x)
    adapters = lora.num_adapter_params(params)
    assert adapters == N * 8 * (64 + 64) == N * 1024  # The paper's 1,024 per 64x64 layer at r=8.
    assert lora.adapter_size(8, 64, 64) == 1024 and lora.adapter_size(8, 64, 64, True) == 1088
    # A whole actor: every layer adapted (torso 10->16->16, heads 16->4 and 16->3*2).
    hidden = (16, 16)
    model = make_agent_actor_critic((4, 3), ((), (2,)), hidden, "relu", actor_sharing="lora",
                                    lora=lora.LoRAConfig(rank=2))  # fmt: skip
    shared = make_agent_actor_critic((4, 3), ((), (2,)), hidden, "relu")
    a, c = jnp.zeros((1, N, 10)), jnp.zeros((1, N, 12))
    p_lora = model.init(jax.random.PRNGKey(0), None, a, c)
    p_shared = shared.init(jax.random.PRNGKey(0), None, a, c)
    layers = [(10, 16), (16, 16), (16, 4), (16, 6)]
    formula = N * sum(lora.adapter_size(2, i, o) for i, o in layers)
    assert lora.num_adapter_params(p_lora) == formula
    assert count_params(p_lora) == count_params(p_shared) + formula


def test_full_rank_adapter_when_rank_reaches_min_in_out():
    x = jax.random.normal(jax.random.PRNGKey(1), (B, N, 7))
    low = lora.LoRADense(5, rank=2).init(jax.random.PRNGKey(0), x)["params"]
    assert "lora_a" in low and "lora_w" not in low
    full = lora.LoRADense(5, rank=5).init(jax.random.PRNGKey(0), x)["params"]
    assert set(full) == {"kernel", "bias", "lora_w"} and full["lora_w"].shape == (N, 7, 5)
    np.testing.assert_array_equal(full["lora_w"], 0.0)  # ΔW starts at 0.
    assert lora.adapter_size(5, 7, 5) == 35
    # Trained adapters: a low-rank update has rank <= r, a full one reaches min(in, out).
    low = _randomise_adapters({"params": low}, jax.random.PRNGKey(2))["params"]
    full = _randomise_adapters({"params": full}, jax.random.PRNGKey(3))["params"]
    for params, rank in ((low, 2), (full, 5)):
        delta = lora.merge_layer(params, 8.0, N)["kernel"] - params["kernel"][None]
        assert [np.linalg.matrix_rank(np.asarray(d)) for d in delta] == [rank] * N


@pytest.mark.parametrize("cell", ["none", "gru", "lstm"])
def test_merged_weights_give_the_adapted_network_and_zero_adapters_the_backbone(cell):
    kw = {"hidden": (16, 16), "activation": "relu", "cell": cell, "rnn_size": 8}
    shared = make_agent_actor_critic((4, 3), ((), (2,)), **kw)
    adapted = make_agent_actor_critic(
        (4, 3), ((), (2,)), **kw, actor_sharing="lora", lora=lora.LoRAConfig(2, 4.0, bias=True)
    )
    carry = jax.tree.map(
        lambda z: jax.random.normal(jax.random.PRNGKey(9), z.shape), initial_carry(cell, 8, (B, N))
    )
    a = jax.random.normal(jax.random.PRNGKey(1), (B, N, 7))
    c = jax.random.normal(jax.random.PRNGKey(2), (B, N, 9))
    p_shared = shared.init(jax.random.PRNGKey(0), carry, a, c)
    p_lora = adapted.init(jax.random.PRNGKey(0), carry, a, c)
    # At init (A = 0) the adapted network is the shared one with the same backbone, bitwise.
    out_lora, out_shared = adapted.apply(p_lora, carry, a, c), shared.apply(p_shared, carry, a, c)
    for x, y in zip(jax.tree.leaves(out_lora), jax.tree.leaves(out_shared), strict=True):
        np.testing.assert_array_equal(x, y)
    p_lora = _randomise_adapters(p_lora, jax.random.PRNGKey(4))
    merged_model, merged = merge_lora(adapted, p_lora, N)
    assert merged_model.actor_sharing == "independent"
    out, out_merged = adapted.apply(p_lora, carry, a, c), merged_model.apply(merged, carry, a, c)
    for x, y in zip(jax.tree.leaves(out), jax.tree.leaves(out_merged), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-5)
    logits = np.asarray(out[1][0])
    assert not np.allclose(logits[:, 0], logits[:, 1], atol=1e-4)  # Agents now differ.
    # Trained adapters zeroed again (without_adapters): the backbone once more, bitwise.
    out_zeroed = adapted.apply(lora.without_adapters(p_lora), carry, a, c)
    for x, y in zip(jax.tree.leaves(out_zeroed), jax.tree.leaves(out_shared), strict=True):
        np.testing.assert_array_equal(x, y)


def test_placements_choose_the_adapted_layers():
    def adapted_names(placement, last_k=1, cell="gru"):
        model = make_agent_actor_critic(
            (4,), ((),), (8, 8), "tanh", cell, 4, actor_sharing="lora",
            lora=lora.LoRAConfig(2, 2.0, placement, last_k),
        )  # fmt: skip
        params = model.init(
            jax.random.PRNGKey(0), initial_carry(cell, 4, (1, N)), jnp.zeros((1, N, 5)),
            jnp.zeros((1, N, 5)),
        )["params"]  # fmt: skip
        names = set()
        for path, _ in jax.tree_util.tree_flatten_with_path(params)[0]:
            keys = [str(p.key) for p in path]
            if keys[-1].startswith("lora_"):
                names.add("/".join(keys[:-1]))
        return names

    cell_maps = {f"actor_cell/{m}" for m in ("ir", "iz", "in", "hr", "hz", "hn")}
    torso = {"actor_torso/Dense_0", "actor_torso/Dense_1"}
    assert adapted_names("all") == torso | cell_maps | {"policy_head_0"}
    assert adapted_names("head") == {"policy_head_0"}
    assert adapted_names("last_k", 2) == cell_maps | {"policy_head_0"}
    assert adapted_names("last_k", 3, "none") == torso | {"policy_head_0"}
    lstm_maps = {f"actor_cell/{s}{g}" for s in "ih" for g in "ifgo"}
    assert adapted_names("all", cell="lstm") == torso | lstm_maps | {"policy_head_0"}
    assert adapted_names("last_k", 2, "lstm") == lstm_maps | {"policy_head_0"}


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("lora.rank", {"lora": lora.LoRAConfig(rank=0)}),
        ("lora.placement", {"lora": lora.LoRAConfig(placement="middle")}),
        ("lora.last_k", {"lora": lora.LoRAConfig(placement="last_k", last_k=4)}),
        ("lora.alpha", {"lora": lora.LoRAConfig(alpha=0.0)}),
        ("parameter_sharing", {"actor_sharing": "partial"}),
        ("critic_sharing", {"critic_sharing": "lora"}),
    ],
)
def test_bad_arguments_raise_naming_the_field(field, kwargs):
    kwargs = {"actor_sharing": "lora", **kwargs}
    with pytest.raises(ValueError, match=field):
        make_agent_actor_critic((4,), ((),), (8, 8), "tanh", **kwargs)


def test_independent_networks_are_agent_stacks_applied_member_by_member():
    kw = {"hidden": (8,), "activation": "tanh", "cell": "gru", "rnn_size": 4}
    shared = make_agent_actor_critic((4,), ((),), **kw)
    nps = make_agent_actor_critic((4,), ((),), **kw, actor_sharing="independent",
                                  critic_sharing="independent")  # fmt: skip
    carry = initial_carry("gru", 4, (B, N))
    a = jax.random.normal(jax.random.PRNGKey(1), (B, N, 6))
    c = jax.random.normal(jax.random.PRNGKey(2), (B, N, 5))
    params = nps.init(jax.random.PRNGKey(0), carry, a, c)
    kernels = params["params"]["actor"]["actor_torso"]["Dense_0"]["kernel"]
    assert kernels.shape == (N, 6, 8) and not np.allclose(kernels[0], kernels[1])
    out = nps.apply(params, carry, a, c)
    # The functional route: member i's network (take) on agent i's inputs, as a one-agent team.
    for i in range(N):
        member = {"params": {**stacked.take(params["params"]["actor"], i),
                             **stacked.take(params["params"]["critic"], i)}}  # fmt: skip
        one = shared.apply(member, stacked.take(carry, (slice(None), slice(i, i + 1))),
                           a[:, i : i + 1], c[:, i : i + 1])  # fmt: skip
        np.testing.assert_allclose(one[1][0][:, 0], out[1][0][:, i], rtol=1e-6, atol=1e-6)
        np.testing.assert_allclose(one[2][:, 0], out[2][:, i], rtol=1e-6, atol=1e-6)
    # stacked_apply over the same stacks gives the same values.
    members = {"params": {**params["params"]["actor"], **params["params"]["critic"]}}
    one_agent = jax.tree.map(lambda x: x[:, :, None], (carry, a, c))  # [B, N, 1, ...]
    swapped = stacked.to_agent_major(one_agent, 1)  # [N, B, 1, ...]
    values = stacked.stacked_apply(lambda p, *x: shared.apply(p, *x)[2], members, *swapped)
    np.testing.assert_allclose(values[:, :, 0].T, out[2], rtol=1e-6, atol=1e-6)
    # Identical init: every agent starts from the same draw; from shared weights, the same net.
    same = nps.clone(identical_init=True).init(jax.random.PRNGKey(0), carry, a, c)
    for leaf in jax.tree.leaves(same):
        np.testing.assert_array_equal(leaf, jnp.broadcast_to(leaf[0], leaf.shape))
    p_shared = shared.init(jax.random.PRNGKey(0), carry, a, c)
    lifted = independent_from_shared(p_shared, N, critic=True)
    for x, y in zip(jax.tree.leaves(nps.apply(lifted, carry, a, c)),
                    jax.tree.leaves(shared.apply(p_shared, carry, a, c)), strict=True):  # fmt: skip
        # vmap may reorder a dot's sums: equal to rounding, not bitwise.
        np.testing.assert_allclose(x, y, rtol=1e-6, atol=1e-7)


def test_take_and_put_gather_pairs_from_a_population():
    population = {"w": jnp.arange(12.0).reshape(6, 2), "b": jnp.arange(6.0)}
    pair = jnp.array([4, 1])
    taken = stacked.take(population, pair)
    np.testing.assert_array_equal(taken["b"], [4.0, 1.0])
    back = stacked.put(population, pair, jax.tree.map(lambda x: -x, taken))
    np.testing.assert_array_equal(back["b"], [0.0, -1.0, 2.0, 3.0, -4.0, 5.0])
    both = stacked.stack([stacked.take(population, 0), stacked.take(population, 5)])
    np.testing.assert_array_equal(both["w"], population["w"][jnp.array([0, 5])])
    inits = stacked.stacked_init(lambda k: jax.random.normal(k, (2,)), jax.random.PRNGKey(0), 3)
    assert inits.shape == (3, 2) and not np.allclose(inits[0], inits[1])
    same = stacked.stacked_init(
        lambda k: jax.random.normal(k, (2,)), jax.random.PRNGKey(0), 3, identical_init=True
    )
    np.testing.assert_array_equal(same, jnp.broadcast_to(same[0], (3, 2)))

"""Parameter partitions: labels from path predicates, optax.partition over them (a frozen backbone
with trained adapters), and one group stepped alone equal to that group's transform by hand."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxml.optim import rank1_natural_gradient
from jaxml.utils.partition import partition_labels, partition_part, path_names, under


def tree():
    rng = np.random.default_rng(0)
    leaf = lambda *shape: jnp.asarray(rng.normal(size=shape).astype(np.float32))  # noqa: E731
    return {
        "params": {
            "backbone": {"Dense_0": {"kernel": leaf(3, 4), "bias": leaf(4)}},
            "lora": {"a": leaf(3, 2), "b": leaf(2, 4)},
        },
        "stats": [leaf(2), leaf(1)],
    }


def test_path_names_reads_dict_keys_and_sequence_indices():
    paths = [path_names(p) for p, _ in jax.tree_util.tree_leaves_with_path(tree())]
    assert ("params", "backbone", "Dense_0", "kernel") in paths
    assert ("stats", "1") in paths


def test_labels_take_the_first_matching_rule_then_the_default():
    rules = {
        "adapter": under("params", "lora"),
        "bias": lambda path: path[-1] == "bias",
        "never": under("params"),  # Every params leaf matched an earlier rule or this one.
    }
    labels = partition_labels(tree(), rules, default="frozen")
    assert labels["params"]["lora"] == {"a": "adapter", "b": "adapter"}
    assert labels["params"]["backbone"]["Dense_0"] == {"kernel": "never", "bias": "bias"}
    assert labels["stats"] == ["frozen", "frozen"]
    assert jax.tree.structure(labels) == jax.tree.structure(tree())


def test_a_leaf_no_rule_matches_is_named():
    with pytest.raises(ValueError, match="^rules: expected a rule matching every leaf, got none "
                       "for stats/0"):  # fmt: skip
        partition_labels(tree(), {"params": under("params")})


def test_frozen_backbone_and_trained_adapters():
    params = tree()
    labels = partition_labels(params, {"adapter": under("params", "lora")}, default="frozen")
    optimizer = optax.partition({"adapter": optax.adam(0.1), "frozen": optax.set_to_zero()}, labels)
    state = optimizer.init(params)
    adam = optax.adam(0.1)
    adam_state = adam.init(params["params"]["lora"])
    lora = params["params"]["lora"]
    for i in range(3):
        grads = jax.tree.map(lambda x, i=i: jnp.full_like(x, 0.5 + i), params)
        updates, state = optimizer.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        lora_updates, adam_state = adam.update(grads["params"]["lora"], adam_state, lora)
        lora = optax.apply_updates(lora, lora_updates)
    chex.assert_trees_all_equal(params["params"]["lora"], lora)
    chex.assert_trees_all_equal(params["params"]["backbone"], tree()["params"]["backbone"])
    chex.assert_trees_all_equal(params["stats"], tree()["stats"])


def two_groups():
    params = {"a": {"w": jnp.arange(6.0).reshape(2, 3)}, "b": {"w": jnp.ones(4), "u": jnp.ones(2)}}
    transforms = {"a": optax.adam(0.1), "b": optax.sgd(0.5, momentum=0.9)}
    return params, transforms, partition_labels(params, {"a": under("a"), "b": under("b")})


@pytest.mark.parametrize("prefix", [False, True], ids=["leaf_labels", "prefix_labels"])
def test_stepping_each_group_alone_composes_to_the_whole_partition(prefix):
    params, transforms, labels = two_groups()
    if prefix:  # optax.partition also takes labels that are a prefix of the tree.
        labels = {"a": "a", "b": "b"}
    whole = optax.partition(transforms, labels)
    part_a, part_b = (partition_part(transforms, labels, g) for g in ("a", "b"))
    grads = jax.tree.map(lambda x: jnp.cos(x) + 0.3, params)
    state = whole.init(params)
    expected_updates, expected_state = whole.update(grads, state, params)

    updates_a, state_a = part_a.update(grads, state, params)
    # Group a alone: b gets zero updates and keeps its state, a's is what the partition's is.
    chex.assert_trees_all_equal(updates_a["a"], expected_updates["a"])
    chex.assert_trees_all_equal(updates_a["b"], jax.tree.map(jnp.zeros_like, params["b"]))
    chex.assert_trees_all_equal(state_a.inner_states["b"], state.inner_states["b"])
    chex.assert_trees_all_equal(state_a.inner_states["a"], expected_state.inner_states["a"])

    updates_b, state_ab = part_b.update(grads, state_a, params)
    chex.assert_trees_all_equal(updates_b["b"], expected_updates["b"])
    chex.assert_trees_all_equal(updates_b["a"], jax.tree.map(jnp.zeros_like, params["a"]))
    chex.assert_trees_all_equal(state_ab, expected_state)
    chex.assert_trees_all_equal(part_a.init(params), state)  # The partition's own init.


def test_a_group_alone_equals_its_transform_with_masked_extra_args():
    # rank-1 natural gradient on group a with a fisher_vector shaped like the whole tree: the
    # partition masks it to a's leaves, so the step is rank1's on a's subtree alone.
    params, _, labels = two_groups()
    rank1 = rank1_natural_gradient(0.2, damping=0.1)
    transforms = {"a": rank1, "b": optax.adam(0.1)}
    part_a = partition_part(transforms, labels, "a", mask_compatible_extra_args=True)
    grads = jax.tree.map(lambda x: jnp.sin(x) + 0.1, params)
    v = jax.tree.map(lambda x: jnp.cos(2 * x), params)
    updates, state = jax.jit(part_a.update)(grads, part_a.init(params), params, fisher_vector=v)
    expected, _ = rank1.update(
        grads["a"], rank1.init(params["a"]), params["a"], fisher_vector=v["a"]
    )
    chex.assert_trees_all_close(updates["a"], expected, rtol=1e-6)
    assert int(state.inner_states["a"].inner_state[0].count) == 1


def test_an_unknown_group_is_named():
    _, transforms, labels = two_groups()
    with pytest.raises(ValueError, match=r"^label: expected one of \['a', 'b'\], got 'c'"):
        partition_part(transforms, labels, "c")

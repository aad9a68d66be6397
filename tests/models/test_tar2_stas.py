"""STAS's coalition-averaged return model and the agent masks it puts on TAR²'s blocks.

Checks: output shapes; coalition masks (self always in, about half of the others, per sample);
an all-True agent mask is no mask; a query sees nothing outside its mask (changing an excluded
agent's inputs leaves its score unchanged); padding and dead agents do not move STAS's valid
scores; the coalition mean over K draws equals K explicit coalition-masked passes of the body.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxml.models.tar2 import STASRewardModel, TAR2RewardModel, coalition_masks
from tests.helpers import fast_jit

B, T, A, OBS, N = 2, 5, 3, 4, 3


def inputs(key=0):
    k1, k2 = jax.random.split(jax.random.key(key))
    obs = jax.random.normal(k1, (B, T, A, OBS))
    actions = jax.random.randint(k2, (B, T, A), 0, N)
    valid = jnp.ones((B, T, A), bool).at[0, 3:].set(False).at[1, 2:, 2].set(False)
    return obs, actions, valid


def small(cls=TAR2RewardModel, **kw):
    return cls(num_actions=N, max_steps=T, num_agents=A, width=8, depth=2, num_heads=2,
               head_hidden=8, **kw)  # fmt: skip


def randomised(params, key=9):
    """Parameters with the zero-initialised score head drawn at random (scores not all 0)."""
    leaves, treedef = jax.tree.flatten(params)
    keys = jax.random.split(jax.random.key(key), len(leaves))
    moved = [x + 0.3 * jax.random.normal(k, x.shape) for x, k in zip(leaves, keys, strict=True)]
    return jax.tree.unflatten(treedef, moved)


def test_coalition_masks_keep_self_and_about_half_of_the_others():
    masks = np.asarray(coalition_masks(jax.random.key(0), (400, 7, A)))
    assert masks.shape == (400, 7, A, A)
    assert masks[..., np.arange(A), np.arange(A)].all()
    off = masks[..., ~np.eye(A, dtype=bool)]
    assert 0.45 < off.mean() < 0.55
    # Membership is per key column: agent j is in (or out) for every query i != j alike.
    member = masks[..., 0, 1]
    np.testing.assert_array_equal(member, masks[..., 2, 1])


def test_agent_mask_all_true_is_no_mask_and_excluded_agents_are_unseen():
    model = small()
    obs, actions, valid = inputs()
    valid = jnp.ones_like(valid)
    params = randomised(model.init(jax.random.key(1), obs, actions, valid))
    apply = fast_jit(model.apply)
    plain = apply(params, obs, actions, valid).scores
    full = apply(params, obs, actions, valid, jnp.ones((B, T, A, A), bool)).scores
    np.testing.assert_allclose(full, plain, rtol=1e-6, atol=1e-6)
    # Agent 0 sees only itself; changing agent 1's and 2's inputs leaves its scores unchanged.
    alone = jnp.broadcast_to(jnp.eye(A, dtype=bool), (B, T, A, A)).at[..., 1:, :].set(True)
    before = apply(params, obs, actions, valid, alone).scores
    moved = obs.at[:, :, 1:].add(5.0)
    after = apply(params, moved, actions, valid, alone).scores
    np.testing.assert_allclose(after[..., 0], before[..., 0], rtol=1e-5, atol=1e-6)
    assert np.abs(np.asarray(after[..., 1:] - before[..., 1:])).max() > 1e-3
    # Without the mask agent 0 does see them.
    unmasked = apply(params, moved, actions, valid).scores
    assert np.abs(np.asarray(unmasked[..., 0] - plain[..., 0])).max() > 1e-3


def test_stas_shapes_and_invalid_entries_do_not_move_valid_scores():
    model = small(STASRewardModel, num_coalitions=3)
    obs, actions, valid = inputs()
    rngs = {"params": jax.random.key(2), "coalitions": jax.random.key(3)}
    params = randomised(model.init(rngs, obs, actions, valid))
    assert set(params["params"]) == {"body"}

    @fast_jit
    def scores(obs, actions, key):
        out = model.apply(params, obs, actions, valid, rngs={"coalitions": key})
        return out.scores, out.action_logits

    s, logits = scores(obs, actions, jax.random.key(4))
    assert s.shape == (B, T, A) and logits.shape == (B, T, A, N)
    noisy_obs = jnp.where(valid[..., None], obs, 100.0)
    noisy_actions = jnp.where(valid, actions, (actions + 1) % N)
    s2, _ = scores(noisy_obs, noisy_actions, jax.random.key(4))
    v = np.asarray(valid)
    np.testing.assert_allclose(np.asarray(s2)[v], np.asarray(s)[v], rtol=1e-5, atol=1e-6)
    # Other coalitions, other scores: the masks do act.
    s3, _ = scores(obs, actions, jax.random.key(5))
    assert np.abs(np.asarray(s3 - s)[v]).max() > 1e-4


def test_stas_score_is_the_mean_over_its_coalitions_of_masked_body_passes():
    k = 4
    model = small(STASRewardModel, num_coalitions=k)
    body = small()
    obs, actions, valid = inputs(1)
    rngs = {"params": jax.random.key(6), "coalitions": jax.random.key(7)}
    params = randomised(model.init(rngs, obs, actions, valid))
    # The rng the module draws its masks from: flax's make_rng("coalitions") of the top module.
    captured = {}

    def spy(key, shape):
        captured["masks"] = coalition_masks(key, shape)
        return captured["masks"]

    import jaxml.models.tar2 as module

    original = module.coalition_masks
    module.coalition_masks = spy
    try:
        out = model.apply(params, obs, actions, valid, rngs={"coalitions": jax.random.key(8)})
    finally:
        module.coalition_masks = original
    masks = captured["masks"]
    assert masks.shape == (k, B, T, A, A)
    body_params = {"params": params["params"]["body"]}
    passes = [body.apply(body_params, obs, actions, valid, masks[i]).scores for i in range(k)]
    np.testing.assert_allclose(out.scores, np.mean(passes, axis=0), rtol=1e-5, atol=1e-6)

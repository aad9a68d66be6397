"""TAR²'s policy-preservation guarantee on a tabular two-agent MDP, checked by enumeration.

"Redistributing Rewards Across Time and Agents for Multi-Agent Reinforcement Learning" (TAR²;
Kapoor et al., arXiv 2502.04864 v2; earlier arXiv 2412.14779). The paper reads the
redistribution as potential-based reward shaping (Ng, Harada, Russell 1999): with ``r_t`` the
original (sparse) team reward and ``r̃_t = Σ_i r̃_{i,t}`` the redistributed one, put
``Φ_t(τ) = Σ_{t' < t} (r̃_{t'} - r_{t'})``; then ``r̃_t = r_t + Φ_{t+1} - Φ_t``, ``Φ_0 = 0``,
and ``Φ_T = Σ r̃ - R = 0`` because the deterministic normalisation makes ``Σ_{t,i} r̃_{i,t} = R``
for every trajectory, whatever the return model's scores. So every trajectory keeps its return,
every policy keeps its value, and the optimal policy and the policy gradient of the episode's
return do not change. The test checks that consequence with jaxml's own ``tar2.redistribute``
on scores of jaxml's ``TAR2RewardModel``, rather than the identity itself.

The MDP: 3 states, the last one (``GOAL``) absorbing; 2 agents with 2 actions each (4 joint
actions); random known transitions ``P[s, a1, a2, s']`` and dense rewards ``r(s, a1, a2)``; an
episode ends on reaching ``GOAL`` (a bonus) or after ``H = 3`` steps. The original task is
sparse: the episode's sum ``R`` arrives at its last step, as ``SparseReward`` releases it.
Every trajectory is enumerated (804 of them, padded to ``H`` steps), so values and
gradients are exact sums.

What an MDP value iteration can and cannot see: ``r̃_t`` reads every step of the episode (its
weights are normalised over time), so it is not a function of the history up to ``t``. The
redistributed task is therefore value-iterated on the tree of histories with each trajectory's
total ``Σ_{t,i} r̃_{i,t}`` at its leaf (the quantity the guarantee is about), and the original
task both that way and as an ordinary Markov value iteration over ``(t, s)`` with the dense
reward (a check of the tree code). A learner that credits step ``t`` only with the reward still
to come, ``Σ_{t' >= t} r̃_{t'} = R - Φ_t - Σ_{t'<t} r_{t'}``, is not covered exactly: ``Φ_t``
depends on the future, so it is not a baseline. For that learner the test compares
Monte-Carlo gradient directions (cosine with the exact gradient) and prints how often its
backward-induction policy agrees, without asserting agreement.
"""

from __future__ import annotations

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.rl import tar2
from tests.helpers import fast_jit

S, H, AGENTS, ACTIONS = 3, 3, 2, 2
GOAL = S - 1
JOINT = list(itertools.product(range(ACTIONS), repeat=AGENTS))  # 4 joint actions.


def make_mdp(seed: int = 0):
    """Transitions ``P [S, 2, 2, S]``, dense rewards ``r [S, 2, 2]`` and the goal bonus."""
    rng = np.random.default_rng(seed)
    transitions = rng.dirichlet(np.ones(S) * 0.7, size=(S, ACTIONS, ACTIONS))
    # Per-agent contributions plus a coordination term: credit is shared but not additive.
    own = rng.normal(size=(S, AGENTS, ACTIONS))
    reward = own[:, 0, :, None] + own[:, 1, None, :]
    reward = reward + 0.7 * np.eye(ACTIONS)[None] * rng.normal(size=(S, 1, 1))
    bonus = 2.0
    return transitions, reward, bonus


def enumerate_trajectories(transitions, reward, bonus, start: int = 0):
    """Every trajectory from ``start``, padded to ``H`` steps.

    Returns a dict of arrays over trajectories ``E``: ``states [E, H]`` (the state acted in at
    each step, 0 on padding), ``actions [E, H, A]``, ``valid [E, H]``, ``dynamics [E]`` (the
    product of the transition probabilities), ``ret [E]`` (the episode's return ``R``) and
    ``path`` (a tuple of ``(joint action, next state)`` pairs per trajectory: its leaf in the
    history tree).
    """
    out = {k: [] for k in ("states", "actions", "valid", "dynamics", "ret", "path")}

    def grow(state, t, path, states, actions, prob, ret):
        if state == GOAL or t == H:
            pad = H - len(states)
            out["states"].append(states + [0] * pad)
            out["actions"].append(actions + [(0,) * AGENTS] * pad)
            out["valid"].append([True] * len(states) + [False] * pad)
            out["dynamics"].append(prob)
            out["ret"].append(ret)
            out["path"].append(tuple(path))
            return
        for joint in JOINT:
            for nxt in range(S):
                p = transitions[(state, *joint, nxt)]
                r = reward[(state, *joint)] + (bonus if nxt == GOAL else 0.0)
                grow(nxt, t + 1, path + [(joint, nxt)], states + [state], actions + [joint],
                     prob * p, ret + r)  # fmt: skip

    grow(start, 0, [], [], [], 1.0, 0.0)
    arrays = {k: np.asarray(v) for k, v in out.items() if k != "path"}
    arrays["path"] = out["path"]
    return arrays


def markov_value_iteration(transitions, reward, bonus):
    """The dense task's optimal joint action ``[H, S]`` (index into ``JOINT``) and ``V_0``."""
    value = np.zeros(S)
    policy = np.zeros((H, S), int)
    for t in reversed(range(H)):
        cont = np.where(np.arange(S) == GOAL, bonus, value)  # Reaching GOAL ends the episode.
        q = reward + transitions @ cont  # [S, 2, 2]
        q = q.reshape(S, -1)
        q[GOAL] = 0.0
        policy[t] = np.argmax(q, axis=1)
        value = q.max(axis=1)
    return policy, value


def tree_value_iteration(traj, transitions, leaf_value, credit=None):
    """Backward induction over the history tree.

    ``leaf_value [E]``: each trajectory's return (its leaf's value). With ``credit [E, H]`` the
    choice at a step-``t`` history instead maximises the expected ``credit[:, t]`` under the
    continuation policy chosen deeper down (a learner that credits step ``t`` with the reward
    still to come). Returns ``{history: (q [4], chosen joint action)}`` and ``V`` at the root.
    """
    leaf_of = {path: e for e, path in enumerate(traj["path"])}
    decisions = {}

    def visit(path, state, t):
        """Returns ``[(probability, leaf)]`` of the subtree under the policy chosen in it."""
        if tuple(path) in leaf_of:
            return [(1.0, leaf_of[tuple(path)])]
        branches = []
        for joint in JOINT:
            dist = []
            for nxt in range(S):
                p = transitions[(state, *joint, nxt)]
                dist += [(p * q, e) for q, e in visit(path + [(joint, nxt)], nxt, t + 1)]
            branches.append(dist)
        target = leaf_value if credit is None else credit[:, t]
        q = np.array([sum(p * target[e] for p, e in dist) for dist in branches])
        choice = int(np.argmax(q))
        decisions[tuple(path)] = (q, choice, state, t)
        return branches[choice]

    root = visit([], 0, 0)
    return decisions, sum(p * leaf_value[e] for p, e in root)


def model_episodes(traj) -> tar2.Episodes:
    """The enumerated trajectories as ``tar2.Episodes``: every agent observes the one-hot state."""
    obs = np.eye(S, dtype=np.float32)[traj["states"]]  # [E, H, S]
    obs = np.broadcast_to(obs[:, :, None], obs.shape[:2] + (AGENTS, S))
    valid = np.broadcast_to(traj["valid"][:, :, None], traj["valid"].shape + (AGENTS,))
    return tar2.Episodes(
        observations=jnp.asarray(obs),
        actions=jnp.asarray(traj["actions"], jnp.int32),
        valid=jnp.asarray(valid),
        episode_return=jnp.asarray(traj["ret"], jnp.float32),
    )


@pytest.fixture(scope="module")
def setup():
    """The MDP, its trajectories and a TAR² return model fitted to their sparse returns."""
    transitions, reward, bonus = make_mdp()
    traj = enumerate_trajectories(transitions, reward, bonus)
    episodes = model_episodes(traj)
    config = tar2.default_config()
    config.update(width=16, depth=1, num_heads=2, batch_size=64, learning_rate=3e-3)
    model = tar2.make_return_model(config, num_actions=ACTIONS, max_steps=H, num_agents=AGENTS)
    trainer = tar2.return_model_trainer(model, episodes, config, num_steps=400)

    @fast_jit
    def fit(key):
        state = trainer.init(key)
        state, metrics = jax.lax.scan(lambda s, _: trainer.step(s), state, None, 400)
        return state.params, metrics["return_mse"]

    params, mse = fit(jax.random.key(0))
    apply = fast_jit(model.apply)
    scores = np.asarray(apply(params, *episodes[:3]).scores)
    # "Whatever the model outputs": the untrained model with a random score head (its
    # initialiser is zeros, which would make every redistribution the uniform fallback).
    untrained = model.init(jax.random.key(1), *episodes[:3])
    head = untrained["params"]["score_out"]["kernel"]
    untrained["params"]["score_out"]["kernel"] = jax.random.normal(jax.random.key(2), head.shape)
    random_scores = np.asarray(apply(untrained, *episodes[:3]).scores)
    print(f"return model: batch MSE first {float(mse[0]):.3f}, last {float(mse[-1]):.4f}; "
          f"Var(R) {np.var(traj['ret']):.3f}")  # fmt: skip
    return dict(transitions=transitions, reward=reward, bonus=bonus, traj=traj,
                episodes=episodes, scores=scores, random_scores=random_scores)  # fmt: skip


def redistributed(scores, episodes) -> np.ndarray:
    """``[E, H, A]`` rewards of ``tar2.redistribute`` (float64 for the sums below)."""
    fn = jax.jit(jax.vmap(tar2.redistribute))
    return np.asarray(fn(scores, episodes.episode_return, episodes.valid), np.float64)


def test_tree_value_iteration_matches_markov_value_iteration(setup):
    """The sparse task's history-tree optimum is the dense task's Markov optimum (checks the
    enumeration and the tree code that the next test relies on)."""
    policy, value = markov_value_iteration(setup["transitions"], setup["reward"], setup["bonus"])
    decisions, root = tree_value_iteration(
        setup["traj"], setup["transitions"], setup["traj"]["ret"]
    )
    np.testing.assert_allclose(root, value[0], rtol=1e-12)
    assert len(decisions) == 1 + 8 + 64  # Histories that reach t = 0, 1, 2 before GOAL.
    for _, choice, state, t in decisions.values():
        assert choice == policy[t, state]


@pytest.mark.parametrize("which", ["trained", "random"])
def test_value_iteration_on_redistributed_rewards_keeps_the_optimal_policy(setup, which):
    """Value iteration on TAR²'s rewards (each trajectory's Σ_{t,i} r̃_{i,t}) gives the original
    task's Q-values at every history to float32 precision, so the same optimal joint policy;
    the unnormalised scores (AREL's rewards) from the same model do not."""
    traj, transitions = setup["traj"], setup["transitions"]
    scores = setup["scores"] if which == "trained" else setup["random_scores"]
    rewards = redistributed(scores, setup["episodes"])
    original, _ = tree_value_iteration(traj, transitions, traj["ret"])
    shaped, _ = tree_value_iteration(traj, transitions, rewards.sum((1, 2)))
    raw = np.asarray(tar2.arel_rewards(scores, setup["episodes"].valid), np.float64)
    unnormalised, _ = tree_value_iteration(traj, transitions, raw.sum((1, 2)))
    scale = np.abs(traj["ret"]).max()
    gaps = []
    for history, (q, choice, _, _) in original.items():
        q_shaped, choice_shaped, _, _ = shaped[history]
        np.testing.assert_allclose(q_shaped, q, rtol=0, atol=1e-5 * scale)
        gaps.append(np.sort(q)[-1] - np.sort(q)[-2])
        assert choice_shaped == choice
    # The comparison can tell policies apart: the ties are far wider than float32 rounding ...
    assert min(gaps) > 1e-3 * scale
    # ... and raw scores that do not sum to R (untrained: far from it) change the optimum.
    changed = sum(unnormalised[h][1] != original[h][1] for h in original)
    print(f"{which} scores: the raw-score optimum differs at {changed} of {len(original)} "
          f"histories; smallest Q gap {min(gaps):.4f}")  # fmt: skip
    if which == "random":
        assert changed > 0
    # What a reward-to-go learner would pick (not guaranteed; printed, not asserted).
    to_go = np.flip(np.cumsum(np.flip(rewards.sum(2), 1), 1), 1)  # Σ_{t' >= t} r̃_{t'}
    greedy, _ = tree_value_iteration(traj, transitions, rewards.sum((1, 2)), credit=to_go)
    agree = sum(greedy[h][1] == original[h][1] for h in original)
    print(f"{which} scores: a reward-to-go backward induction on TAR² rewards picks the optimal "
          f"joint action at {agree} of {len(original)} histories")  # fmt: skip


def policy_probs(theta):
    """Tabular softmax policies ``π_i(a | t, s)``: ``theta [A, H, S, 2] -> probs``."""
    return jax.nn.softmax(theta, axis=-1)


def trajectory_probs(theta, traj):
    """``p_θ(τ) [E]``: the policies' probabilities of each trajectory's actions times its
    dynamics."""
    probs = policy_probs(theta)
    t = np.arange(H)[None, :, None]
    agent = np.arange(AGENTS)[None, None, :]
    picked = probs[agent, t, traj["states"][:, :, None], traj["actions"]]  # [E, H, A]
    picked = jnp.where(traj["valid"][:, :, None], picked, 1.0)
    return jnp.prod(picked, axis=(1, 2)) * traj["dynamics"]


def test_monte_carlo_policy_gradient_on_redistributed_rewards(setup):
    """REINFORCE from sampled episodes, with TAR²'s rewards, against the exact gradient of the
    original objective ``J(θ) = E[R]`` (``jax.grad`` of the enumerated expectation).

    - Crediting every step with the episode's total ``Σ_{t,i} r̃_{i,t}`` gives, sample by
      sample, the sparse-reward estimate (the shaping terms telescope to 0).
    - Crediting each step with the team reward still to come, and (independent learners, as
      IPPO on TAR² rewards) each agent with its own reward still to come: the estimates
      from 4,096 episodes point the same way as the exact gradient (positive cosine). Their
      exact expectations (enumerated, no sampling noise) are printed with it.
    """
    traj, episodes = setup["traj"], setup["episodes"]
    rewards = redistributed(setup["scores"], episodes)  # [E, H, A]
    theta = 0.5 * jax.random.normal(jax.random.key(3), (AGENTS, H, S, ACTIONS))
    objective = lambda th: jnp.sum(trajectory_probs(th, traj) * traj["ret"])  # noqa: E731
    exact = np.asarray(jax.grad(objective)(theta), np.float64).ravel()

    # ∇_θ log π_i(a_{i,t} | t, s_t) for every trajectory, step and agent: [E, H, A, A·H·S·2].
    probs = np.asarray(policy_probs(theta), np.float64)
    grad_log = np.zeros(traj["actions"].shape + (AGENTS, H, S, ACTIONS))
    for e, t, i in itertools.product(range(len(traj["ret"])), range(H), range(AGENTS)):
        if traj["valid"][e, t]:
            s, a = traj["states"][e, t], traj["actions"][e, t, i]
            grad_log[e, t, i, i, t, s] = np.eye(ACTIONS)[a] - probs[i, t, s]
    grad_log = grad_log.reshape(grad_log.shape[:3] + (-1,))

    def estimate(weights, index=slice(None), p=None):
        """Σ_{t,i} ∇ log π_i · weights[e, t, i], averaged over ``index`` (or weighted by p)."""
        per = np.einsum("etig,eti->eg", grad_log[index], weights[index])
        return per.mean(0) if p is None else p @ per

    def cosine(g):
        return float(g @ exact / np.linalg.norm(g) / np.linalg.norm(exact))

    p = np.asarray(trajectory_probs(theta, traj), np.float64)
    np.testing.assert_allclose(estimate(np.broadcast_to(traj["ret"][:, None, None],
                                                        rewards.shape), p=p), exact,
                               rtol=1e-4, atol=1e-6)  # fmt: skip
    sample = np.random.default_rng(4).choice(len(p), size=4096, p=p / p.sum())
    sparse = np.broadcast_to(traj["ret"][:, None, None], rewards.shape)
    total = np.broadcast_to(rewards.sum((1, 2))[:, None, None], rewards.shape)
    team_to_go = np.flip(np.cumsum(np.flip(rewards.sum(2), 1), 1), 1)[:, :, None]
    team_to_go = np.broadcast_to(team_to_go, rewards.shape)
    own_to_go = np.flip(np.cumsum(np.flip(rewards, 1), 1), 1)
    mc_sparse = estimate(sparse, sample)
    np.testing.assert_allclose(estimate(total, sample), mc_sparse, rtol=1e-5,
                               atol=1e-6 * np.abs(mc_sparse).max())  # fmt: skip
    cos = {
        "sparse": cosine(mc_sparse),
        "team to go": cosine(estimate(team_to_go, sample)),
        "own to go": cosine(estimate(own_to_go, sample)),
    }
    exact_cos = {"team to go": cosine(estimate(team_to_go, p=p)),
                 "own to go": cosine(estimate(own_to_go, p=p))}  # fmt: skip
    print(
        "cos(MC gradient, exact):",
        {k: round(v, 3) for k, v in cos.items()},
        "expectation of the estimator:",
        {k: round(v, 3) for k, v in exact_cos.items()},
    )
    assert cos["team to go"] > 0 and cos["own to go"] > 0

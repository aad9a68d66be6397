"""One contract for every registered environment and adapter (``jaxml.envs.names()``).

Each env is made with its defaults and run as trainers run it: jumanji's ``AutoResetWrapper``
under ``VmapWrapper``, unchanged, jitted, with random actions from
``sample_action(action_spec)``. Every observation, reward, discount and action must validate
against the specs, the wrapped ``step`` (and so the env's ``step``) must trace once, the same keys
must give the same rollout, and reset and step TimeSteps must share one structure, shapes and
dtypes (so a ``lax.scan`` can carry them).

``test_jumanji_smoke`` runs jumanji's own checks (``jumanji.testing.env_not_smoke``:
``check_env_specs_does_not_smoke`` and ``check_env_does_not_smoke``, one whole unwrapped episode
under ``jax.jit(env.step)`` with every action and observation validated and every leaf finite).
Their random-action helper reads one array spec; the Foraging Games' action is a nested spec
(``ForagingAction``: a move head and a message head, each a ``MultiDiscreteArray``, which the
trainers read as two categorical heads with their own entropy weights), so for nested specs the
check gets jumanji's own helper applied to each leaf, as jumanji asks of such specs.

Brax-backed entries take 10-40 s to compile on 2 CPU cores, so they run with ``-m slow``; their
adapter tests step them under jit and vmap by default.
"""

import chex
import jax
import numpy as np
import pytest
from jumanji import specs
from jumanji.testing import env_not_smoke
from jumanji.types import StepType
from jumanji.wrappers import AutoResetWrapper, VmapWrapper

from jaxml import envs
from tests.helpers import fast_jit

NUM_ENVS = 3
NUM_STEPS = 4
# jumanji's smoke check plays one whole episode step by step from Python; HVAC's default episode
# is a year (17,520 steps, ~20 s), so it is made with two days instead.
SMOKE_CONFIG = {"HVAC-v0": {"episode_steps": 96}, "HVACDiscrete-v0": {"episode_steps": 96}}


def make(name, **config):
    """``envs.make(name)``; skips only while an adapter module has not been written yet."""
    try:
        return envs.make(name, **config)
    except ModuleNotFoundError as error:
        if (error.name or "").startswith("jaxml.envs.adapters"):
            pytest.skip(f"{name}: adapter module {error.name} does not exist yet")
        raise


def index(tree, i):
    return jax.tree.map(lambda x: x[i], tree)


def avals(tree):
    leaves = [(np.shape(x), np.asarray(x).dtype) for x in jax.tree.leaves(tree)]
    return jax.tree.structure(tree), leaves


def slow_if_brax(name):
    brax = name.startswith("brax/") or name == "jaxmarl/MABrax"
    return pytest.param(name, marks=pytest.mark.slow) if brax else name


@pytest.mark.parametrize("name", [slow_if_brax(name) for name in envs.names()])
def test_conformance(name):
    env = make(name)
    wrapped = VmapWrapper(AutoResetWrapper(env))
    chex.clear_trace_counter()
    reset = fast_jit(wrapped.reset)
    step = fast_jit(chex.assert_max_traces(wrapped.step, n=1))
    sample = fast_jit(jax.vmap(lambda key: envs.sample_action(env.action_spec, key)))

    def rollout(seed):
        state, first = reset(jax.random.split(jax.random.PRNGKey(seed), NUM_ENVS))
        timesteps, actions = [first], []
        for k in range(NUM_STEPS):
            action = sample(jax.random.split(jax.random.PRNGKey(100 + k), NUM_ENVS))
            state, timestep = step(state, action)
            timesteps.append(timestep)
            actions.append(action)
        return state, timesteps, actions

    state, timesteps, actions = rollout(0)
    assert hasattr(state, "key"), "the state carries its own key (auto-reset needs it)"
    np.testing.assert_array_equal(timesteps[0].step_type, StepType.FIRST)
    for timestep in timesteps:
        assert avals(timestep) == avals(timesteps[0]), "reset and step TimeSteps differ"
        assert np.asarray(timestep.step_type).dtype == np.int8
        for i in range(NUM_ENVS):
            env.observation_spec.validate(index(timestep.observation, i))
            env.reward_spec.validate(index(timestep.reward, i))
            env.discount_spec.validate(index(timestep.discount, i))
            assert np.all(np.isfinite(np.asarray(index(timestep.reward, i))))
    for action in actions:
        for i in range(NUM_ENVS):
            env.action_spec.validate(index(action, i))
    # Same keys, same rollout, and no retrace of step on the second run.
    chex.assert_trees_all_equal((state, timesteps), rollout(0)[:2])


def jumanji_select_action(action_spec):
    """jumanji's random-action helper, leaf by leaf for a nested spec (``None``: its default).

    ``check_env_does_not_smoke`` builds ``make_random_select_action_fn(env.action_spec)`` itself
    for a single ``BoundedArray``/``DiscreteArray`` spec and asks for a ``select_action`` for any
    other; this one draws every leaf with that same helper and rebuilds the nested action.
    """
    if isinstance(action_spec, specs.Array):
        return None
    leaves = {
        name: jumanji_select_action(child) or env_not_smoke.make_random_select_action_fn(child)
        for name, child in action_spec._specs.items()
    }

    def select_action(key, observation):
        keys = jax.random.split(key, len(leaves))
        pairs = zip(leaves.items(), keys, strict=True)
        fields = {name: fn(k, observation) for (name, fn), k in pairs}
        return action_spec._constructor(**fields)

    return select_action


@pytest.mark.parametrize("name", [slow_if_brax(name) for name in envs.names()])
def test_jumanji_smoke(name):
    env = make(name, **SMOKE_CONFIG.get(name, {}))
    env_not_smoke.check_env_specs_does_not_smoke(env)
    select_action = jumanji_select_action(env.action_spec)
    if name.startswith("Foraging"):  # The nested spec that jumanji's default cannot read.
        assert select_action is not None
    env_not_smoke.check_env_does_not_smoke(env, select_action)


def test_jumanji_select_action_draws_every_foraging_head():
    env = envs.make("ForagingScoreG-v0", vocab_size=7, message_length=2)
    select = jax.jit(jax.vmap(jumanji_select_action(env.action_spec), in_axes=(0, None)))
    actions = select(jax.random.split(jax.random.PRNGKey(0), 2000), None)
    for i in range(0, 2000, 500):
        env.action_spec.validate(index(actions, i))
    moves, tokens = np.asarray(actions.action), np.asarray(actions.message)
    assert set(np.unique(moves)) == set(range(5)) and set(np.unique(tokens)) == set(range(7))
    # The heads come from independent keys: moves and tokens are uncorrelated.
    assert abs(np.corrcoef(moves[:, 0], tokens[:, 0, 0])[0, 1]) < 0.08

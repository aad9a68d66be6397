"""jaxmarl's SMAX and MABrax as multi-agent ``jumanji.Environment``s with the agent axis first.

jaxmarl keys observations, actions, rewards and dones by agent name; these adapters stack them
in the fixed order of the wrapped env's ``agents`` list (SMAX: ``ally_0, ally_1, ...`` then, in
self-play, ``enemy_0, ...``; MABrax: ``agent_0, agent_1, ...``), so index ``i`` of every
``[A, ...]`` array is ``env.agents[i]``. Both follow jumanji's LevelBasedForaging for shapes:
reward ``[A]`` float32, discount ``[A]`` float32 with the same value for every agent (0 after a
termination, 1 otherwise), and a scalar ``step_type``. Rewards are jaxmarl's, unchanged: SMAX
and MABrax give every agent its whole team's reward, so a sum over the agent axis counts the
team reward A times (SMAX self-play: per team).

Keys: ``reset(key)`` splits ``key`` into (reset key, state key) and calls jaxmarl's ``reset``
with the reset key. SMAX's ``step`` splits ``state.key`` into (step key, next state key) and
calls ``step_env(step key, ...)``: jaxmarl's public ``step(k, ...)`` uses the first half of
``split(k)`` the same way, so this matches ``env.step(state.key, ...)`` until the episode ends.
MABrax transitions are deterministic and leave ``state.key`` unchanged (it seeds resets only).
jaxmarl's auto-reset is never used; wrap the adapter in jumanji's ``AutoResetWrapper``.
jaxmarl and brax broadcast ranks implicitly; their calls run with rank promotion allowed, so
that ``jax_numpy_rank_promotion="raise"`` (jaxml's test setting) still guards the code around.

SMAX (``SMAXAdapter``):
  - observation ``SMAXObservation``: ``agents_view [A, O]`` float32 (jaxmarl's per-agent
    observation, O = 75 for "3m"), ``action_mask [A, N]`` bool (jaxmarl's
    ``get_avail_actions``, padded with False to the widest action space), ``world_state [S]``
    float32 (jaxmarl's ``obs["world_state"]`` for centralised critics, S = 72 for "3m").
  - action ``[A]`` int32, ``MultiDiscreteArray`` with each agent's number of actions (3m: 8).
  - ``heuristic_enemy=True`` (default) wraps ``HeuristicEnemySMAX``: the agents are the allies
    and jaxmarl's scripted policy moves the enemies. ``False`` wraps ``SMAX`` in self-play:
    the agents are allies then enemies.
  - termination: one team has no unit alive (discount 0); truncation: ``max_steps`` reached
    with both teams alive (discount 1; jaxmarl tests the limit before it increments its step
    counter, so an episode that is not decided earlier has ``max_steps + 1`` steps).
    ``extras["agent_dead"]`` ``[A]`` bool is jaxmarl's per-agent done (the unit is dead; dead
    units keep receiving the team reward); ``extras["won"]`` ``[]`` bool: the episode ended this
    step with the other team wiped out (an agent alive), what trainers report as a win.

MABrax (``MABraxAdapter``):
  - observation ``MABraxObservation``: ``agents_view [A, O]`` float32 (jaxmarl's per-agent
    slices of the brax observation), ``world_state [G]`` float32 (the full brax observation).
  - action ``[A, D]`` float32 in ``[-1, 1]``; jaxmarl scatters it into brax's action vector.
  - termination: brax's ``done`` without ``info["truncation"]`` (discount 0); truncation:
    ``episode_length`` reached (discount 1). ``extras`` holds brax's ``metrics``.
  - agents must share observation and action sizes to stack (ant_4x2: O = 18, D = 2); for
    other splits pass ``homogenisation_method="max"`` or ``"concat"`` (jaxmarl's padding).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Any, NamedTuple

import chex
import jax
import jax.numpy as jnp
import jaxmarl
from jaxmarl.environments.mabrax import mappings as mabrax_mappings
from jaxmarl.environments.smax import SMAX as JaxmarlSMAX
from jaxmarl.environments.smax import HeuristicEnemySMAX
from jaxmarl.environments.smax.smax_env import MAP_NAME_TO_SCENARIO
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import TimeStep

from jaxml.envs.adapters import _common

MABRAX_BACKENDS = ("generalized", "positional", "spring")
MABRAX_HOMOGENISATION = (None, "max", "concat")


@chex.dataclass
class JaxmarlState:
    env_state: Any  # State of the wrapped jaxmarl env.
    key: chex.PRNGKey  # Key for the next transition (and for AutoResetWrapper's resets).


class SMAXObservation(NamedTuple):
    agents_view: chex.Array  # [A, O] float32, each agent's observation.
    action_mask: chex.Array  # [A, N] bool, True where the action is available.
    world_state: chex.Array  # [S] float32, the global state.


class MABraxObservation(NamedTuple):
    agents_view: chex.Array  # [A, O] float32, each agent's observation.
    world_state: chex.Array  # [G] float32, the full brax observation.


class SMAXAdapter(_common.Float32RewardSpecs, Environment):
    """jaxmarl's SMAX (StarCraft multi-agent challenge in JAX) with the agent axis first.

    Args:
      scenario: a jaxmarl SMAX map name, e.g. ``"3m"`` (3 marines a side, the smallest).
      heuristic_enemy: the enemies follow jaxmarl's heuristic policy (``HeuristicEnemySMAX``);
        ``False`` exposes both teams as agents (self-play).
      max_steps: time limit in environment steps (truncation).
      env_kwargs: other keyword arguments of jaxmarl's ``SMAX`` (and, with the heuristic
        enemy, ``HeuristicEnemySMAX``'s ``enemy_shoots`` and ``attack_mode``).
    """

    def __init__(
        self,
        scenario: str = "3m",
        heuristic_enemy: bool = True,
        max_steps: int = 100,
        env_kwargs: Mapping[str, Any] | None = None,
    ):
        _common.check_choice("scenario", scenario, sorted(MAP_NAME_TO_SCENARIO))
        _common.check_choice("heuristic_enemy", heuristic_enemy, (True, False))
        _common.check_positive_int("max_steps", max_steps)
        env_class = HeuristicEnemySMAX if heuristic_enemy else JaxmarlSMAX
        targets = (HeuristicEnemySMAX, JaxmarlSMAX) if heuristic_enemy else (JaxmarlSMAX,)
        kwargs = _common.check_kwargs("env_kwargs", env_kwargs, *targets)
        for taken in ("scenario", "max_steps", "num_allies", "num_enemies"):
            if taken in kwargs:
                raise ValueError(f"env_kwargs: {taken!r} is set by the adapter's arguments")
        if kwargs.get("action_type", "discrete") != "discrete":
            raise ValueError(
                f"env_kwargs: action_type {kwargs['action_type']!r}; accepted: 'discrete'"
            )
        self.scenario = scenario
        self.heuristic_enemy = heuristic_enemy
        self.jaxmarl_env = env_class(
            scenario=MAP_NAME_TO_SCENARIO[scenario], max_steps=max_steps, **kwargs
        )
        self.agents = tuple(self.jaxmarl_env.agents)
        self.num_agents = len(self.agents)
        self._num_actions = tuple(int(self.jaxmarl_env.action_space(a).n) for a in self.agents)
        super().__init__()

    def __repr__(self) -> str:
        return f"SMAXAdapter({self.scenario!r}, heuristic_enemy={self.heuristic_enemy})"

    def _observation(self, obs: dict, env_state: Any) -> SMAXObservation:
        with _common.library_rank_promotion():
            avail = self.jaxmarl_env.get_avail_actions(env_state)
        width = max(self._num_actions)
        mask = jnp.stack(
            [
                jnp.pad(avail[agent].astype(bool), (0, width - n))
                for agent, n in zip(self.agents, self._num_actions, strict=True)
            ]
        )
        return SMAXObservation(
            agents_view=_common.stack_agents(obs, self.agents),
            action_mask=mask,
            world_state=obs["world_state"],
        )

    def _smax_state(self, env_state: Any) -> Any:
        return env_state.state if self.heuristic_enemy else env_state

    def reset(self, key: chex.PRNGKey) -> tuple[JaxmarlState, TimeStep]:
        reset_key, state_key = jax.random.split(key)
        with _common.library_rank_promotion():
            obs, env_state = self.jaxmarl_env.reset(reset_key)
        env_state = _common.strong_types(env_state)
        extras = {"agent_dead": jnp.zeros((self.num_agents,), bool), "won": jnp.asarray(False)}
        timestep = _common.first_timestep(
            self._observation(obs, env_state), extras, (self.num_agents,)
        )
        return JaxmarlState(env_state=env_state, key=state_key), timestep

    def step(self, state: JaxmarlState, action: chex.Array) -> tuple[JaxmarlState, TimeStep]:
        step_key, next_key = jax.random.split(state.key)
        actions = {agent: action[i] for i, agent in enumerate(self.agents)}
        with _common.library_rank_promotion():
            obs, env_state, rewards, dones, _ = self.jaxmarl_env.step_env(
                step_key, state.env_state, actions
            )
        # jaxmarl's done is "a team is wiped out or max_steps reached"; only the former is
        # a terminal state.
        alive = self._smax_state(env_state).unit_alive
        num_allies = self.jaxmarl_env.num_allies
        wiped_out = ~jnp.any(alive[:num_allies]) | ~jnp.any(alive[num_allies:])
        done = dones["__all__"]
        agent_dead = _common.stack_agents(dones, self.agents)
        # Won: the episode ended with the other team wiped out, so one of the agents is alive.
        won = done & wiped_out & ~jnp.all(agent_dead)
        timestep = _common.next_timestep(
            self._observation(obs, env_state),
            _common.stack_agents(rewards, self.agents),
            done & wiped_out,
            done & ~wiped_out,
            {"agent_dead": agent_dead, "won": won},
            (self.num_agents,),
        )
        return JaxmarlState(env_state=_common.strong_types(env_state), key=next_key), timestep

    @cached_property
    def observation_spec(self) -> specs.Spec:
        shapes = jax.eval_shape(self.reset, jax.random.key(0))[1].observation
        space = self.jaxmarl_env.observation_space(self.agents[0])  # Box(-1, 1), every agent.
        return specs.Spec(
            SMAXObservation,
            "ObservationSpec",
            agents_view=specs.BoundedArray(
                shapes.agents_view.shape,
                shapes.agents_view.dtype,
                float(space.low),
                float(space.high),
                name="agents_view",
            ),
            action_mask=specs.BoundedArray(
                shapes.action_mask.shape, bool, False, True, name="action_mask"
            ),
            world_state=specs.Array(
                shapes.world_state.shape, shapes.world_state.dtype, name="world_state"
            ),
        )

    @cached_property
    def action_spec(self) -> specs.MultiDiscreteArray:
        return specs.MultiDiscreteArray(
            jnp.asarray(self._num_actions, jnp.int32), jnp.int32, name="action"
        )


class MABraxAdapter(_common.Float32RewardSpecs, Environment):
    """jaxmarl's multi-agent brax (MABrax) with the agent axis first.

    Args:
      env_name: a MABrax split, e.g. ``"ant_4x2"`` (4 agents, 2 joints each).
      episode_length: time limit in environment steps (truncation).
      backend: brax physics pipeline (jaxmarl's default ``"positional"``; ``"spring"``
        compiles about twice as fast on CPU).
      homogenisation_method: jaxmarl's padding of unequal per-agent sizes; ``None`` needs
        equal sizes.
      action_repeat: physics steps per environment step.
    """

    def __init__(
        self,
        env_name: str = "ant_4x2",
        episode_length: int = 100,
        backend: str = "positional",
        homogenisation_method: str | None = None,
        action_repeat: int = 1,
    ):
        names = [
            name
            for name in mabrax_mappings._agent_action_mapping
            if name in mabrax_mappings._agent_observation_mapping
        ]
        _common.check_choice("env_name", env_name, names)
        _common.check_positive_int("episode_length", episode_length)
        _common.check_choice("backend", backend, MABRAX_BACKENDS)
        _common.check_choice("homogenisation_method", homogenisation_method, MABRAX_HOMOGENISATION)
        _common.check_positive_int("action_repeat", action_repeat)
        if homogenisation_method is None:
            obs_map = mabrax_mappings._agent_observation_mapping[env_name]
            act_map = mabrax_mappings._agent_action_mapping[env_name]
            obs_sizes = {m.size for m in obs_map.values()}
            act_sizes = {m.size for m in act_map.values()}
            if len(obs_sizes) > 1 or len(act_sizes) > 1:
                raise ValueError(
                    f"homogenisation_method: {env_name!r} has unequal per-agent sizes "
                    f"(observations {sorted(obs_sizes)}, actions {sorted(act_sizes)}), which "
                    "cannot be stacked; accepted: 'max', 'concat'"
                )
        self.env_name = env_name
        self.jaxmarl_env = jaxmarl.make(
            env_name,
            episode_length=episode_length,
            action_repeat=action_repeat,
            auto_reset=False,
            homogenisation_method=homogenisation_method,
            backend=backend,
        )
        self.agents = tuple(self.jaxmarl_env.agents)
        self.num_agents = len(self.agents)
        super().__init__()

    def __repr__(self) -> str:
        return f"MABraxAdapter({self.env_name!r})"

    def _observation(self, obs: dict, brax_state: Any) -> MABraxObservation:
        return MABraxObservation(
            agents_view=_common.stack_agents(obs, self.agents), world_state=brax_state.obs
        )

    def reset(self, key: chex.PRNGKey) -> tuple[JaxmarlState, TimeStep]:
        reset_key, state_key = jax.random.split(key)
        with _common.library_rank_promotion():
            obs, brax_state = self.jaxmarl_env.reset(reset_key)
        timestep = _common.first_timestep(
            self._observation(obs, brax_state), dict(brax_state.metrics), (self.num_agents,)
        )
        return JaxmarlState(env_state=brax_state, key=state_key), timestep

    def step(self, state: JaxmarlState, action: chex.Array) -> tuple[JaxmarlState, TimeStep]:
        actions = {agent: action[i] for i, agent in enumerate(self.agents)}
        with _common.library_rank_promotion():
            obs, brax_state, rewards, dones, info = self.jaxmarl_env.step_env(
                state.key, state.env_state, actions
            )
        truncated = info["truncation"] > 0
        timestep = _common.next_timestep(
            self._observation(obs, brax_state),
            _common.stack_agents(rewards, self.agents),
            dones["__all__"] & ~truncated,
            truncated,
            dict(brax_state.metrics),
            (self.num_agents,),
        )
        return JaxmarlState(env_state=brax_state, key=state.key), timestep

    @cached_property
    def observation_spec(self) -> specs.Spec:
        shapes = jax.eval_shape(self.reset, jax.random.key(0))[1].observation
        return specs.Spec(
            MABraxObservation,
            "ObservationSpec",
            agents_view=specs.Array(
                shapes.agents_view.shape, shapes.agents_view.dtype, name="agents_view"
            ),
            world_state=specs.Array(
                shapes.world_state.shape, shapes.world_state.dtype, name="world_state"
            ),
        )

    @cached_property
    def action_spec(self) -> specs.BoundedArray:
        size = self.jaxmarl_env.action_space(self.agents[0]).shape[0]
        return specs.BoundedArray((self.num_agents, size), jnp.float32, -1.0, 1.0, name="action")

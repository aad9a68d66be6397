"""``HVAC-v0``: set-point HVAC control of an urban building whose waste heat warms its canyon.

"Reinforcement Learning Meets Urban Climate Modeling: RL-based HVAC control" (Yu et al.,
arXiv 2505.07045; ``shared/papers/hvac.md``). The physics is ``jaxml.envs.hvac.bem``; the
buildings come from CLM surface data (``jaxml.data.clmu``), the weather from EPW years or a
generator fitted to ERA5 statistics (``jaxml.data.weather``). Conventions:

- **Climates**: ``climates`` names what ``reset`` draws from, uniformly. A city of
  ``weather.CITIES`` means that city's CLM building under generated weather (seasonal and diurnal
  cycles plus AR(1) noise, a new draw every episode); an EPW site of ``weather.sites()`` means
  that real year (deterministic) with the building of ``epw_building``.
- **Time**: a step is 30 minutes; an episode is ``episode_steps`` steps (default a year,
  17,520) from a uniformly random step of the year (``random_start``) or from 1 January. The
  weather year is a cycle, so an episode may wrap past 31 December.
- **Actions**: continuous ``[3]`` float32 (cooling set point 25-35 C, heating 10-20 C,
  ventilation 0.3-0.5 air changes per hour), clipped into range; or, with ``discrete=True``
  (``HVACDiscrete-v0``), one of 8: bit 2 AC on (26 C) / off, bit 1 heating on (15 C) / off, bit 0
  ventilation 0.5 / 0.3 ACH. "Off" is the far end of the range (cooling at 35 C, heating at
  10 C), so both variants share one semantics.
- **Observation**: ``[5]`` float32, the settings in force (cooling C, heating C, ACH), the indoor
  air and the canyon air temperature (C); with ``time_features`` four more: sin/cos of the hour
  of day and of the day of year.
- **Reward** (weight ``w``, in the state): ``-w (P_ac + P_heat) - (1 - w) (|T_in - 24| +
  |T_in - 18|)`` with electric powers in W m-2 of urban area and ``T_in`` in C.
- **Episode end**: there is no termination; the end of ``episode_steps`` is a *truncation*
  (``StepType.LAST`` with discount 1: bootstrap through it).
- **Extras** (every TimeStep, [] float32 unless noted): ``t_indoor``, ``t_canyon``, ``t_air``
  (C, air above the canyon), ``heating``, ``cooling``, ``waste_heat``, ``p_ac``, ``p_heat``
  (W m-2), ``comfort`` (the bracket of the reward, K), ``energy_balance`` (storage minus
  inflows, W m-2; zero up to rounding), ``step_of_year`` and ``step_count`` (int32),
  ``truncated`` (bool).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

import chex
import jax
import jax.numpy as jnp
import numpy as np
from jumanji import specs
from jumanji.env import Environment
from jumanji.types import StepType, TimeStep

from jaxml.data import clmu, weather
from jaxml.envs.hvac import bem
from jaxml.envs.hvac.types import State
from jaxml.utils import checks

STEP_SECONDS = 1800
STEPS_PER_YEAR = weather.HOURS_PER_YEAR * 3600 // STEP_SECONDS  # 17,520.
CELSIUS = weather.CELSIUS
ACTION_LOW = np.array([25.0, 10.0, 0.3], np.float32)  # Cooling C, heating C, ACH.
ACTION_HIGH = np.array([35.0, 20.0, 0.5], np.float32)
DISCRETE_COOLING, DISCRETE_HEATING = 26.0, 15.0  # The paper's "on" set points.
NUM_DISCRETE = 8
DEFAULT_SETTINGS = (DISCRETE_COOLING, DISCRETE_HEATING, 0.5)  # Shown in the first observation.
COMFORT_HIGH, COMFORT_LOW = 24.0, 18.0


def discrete_settings() -> np.ndarray:
    """[8, 3] (cooling C, heating C, ACH) of each discrete action: bits AC, heating, ventilation."""
    a = np.arange(NUM_DISCRETE)
    cool = np.where(a & 4, DISCRETE_COOLING, ACTION_HIGH[0])
    heat = np.where(a & 2, DISCRETE_HEATING, ACTION_LOW[1])
    vent = np.where(a & 1, ACTION_HIGH[2], ACTION_LOW[2])
    return np.stack([cool, heat, vent], axis=1).astype(np.float32)


def setpoint_action(cooling: float, heating: float, ach: float) -> np.ndarray:
    """A continuous action [3] float32 from settings, checked against the ranges.

    Raises:
      ValueError: naming the setting that lies outside its range.
    """
    for name, value, lo, hi in zip(
        ("cooling", "heating", "ach"), (cooling, heating, ach), ACTION_LOW, ACTION_HIGH, strict=True
    ):
        checks.in_range(value, name, float(lo), float(hi))
    return np.array([cooling, heating, ach], np.float32)


class HVAC(Environment[State, specs.Array, jax.Array]):
    """HVAC set-point control in an urban canyon (arXiv 2505.07045); see the module docstring.

    Args:
      climates: names ``reset`` draws from: cities of ``jaxml.data.weather.CITIES`` (generated
        weather) and/or EPW sites of ``jaxml.data.weather.sites()`` (real years).
      weight: the reward's default energy weight ``w`` in [0, 1] (``reset_to`` sets any other).
      episode_steps: steps per episode (17,520 = one year of 30-minute steps).
      random_start: start at a uniformly random step of the year (else 1 January 00:00).
      discrete: the 8-action variant instead of the continuous one.
      time_features: append sin/cos of the hour of day and day of year to the observation.
      density_class: CLM urban class of the buildings, ``numurbl`` 1 (tall building district),
        2 (high density) or 3 (medium density; the class that holds these cells' urban area).
      epw_building: the city whose building stands under EPW weather.
      hvac_capacity: the most heating or cooling, W m-2 of urban area (``None``: unlimited, as in
        CLM's set-point BEM).
    """

    def __init__(
        self,
        climates: tuple[str, ...] = weather.CITIES,
        weight: float = 0.1,
        episode_steps: int = STEPS_PER_YEAR,
        random_start: bool = True,
        discrete: bool = False,
        time_features: bool = False,
        density_class: int = 3,
        epw_building: str = "newyork",
        hvac_capacity: float | None = None,
    ):
        epw_sites = weather.sites()
        climates = checks.choices(
            tuple(climates) if isinstance(climates, list) else climates,
            "climates",
            weather.CITIES + epw_sites,
        )
        checks.in_range(weight, "weight", 0.0, 1.0)
        checks.positive_int(episode_steps, "episode_steps")
        for name, flag in (("random_start", random_start), ("discrete", discrete),
                           ("time_features", time_features)):  # fmt: skip
            checks.expect(isinstance(flag, bool), name, "True or False", flag)
        checks.choice(density_class, "density_class", (1, 2, 3))
        checks.choice(epw_building, "epw_building", clmu.CITIES)
        if hvac_capacity is not None:
            checks.positive(hvac_capacity, "hvac_capacity")
        self.climates = climates
        self.weight = float(weight)
        self.episode_steps = int(episode_steps)
        self.random_start = random_start
        self.discrete = discrete
        self.time_features = time_features
        self.density_class = density_class
        self.epw_building = epw_building
        self.hvac_capacity = hvac_capacity
        bases, buildings, gens = [], [], []
        for name in climates:
            if name in weather.CITIES:
                gen = weather.fit_generator(name, STEP_SECONDS)
                hours = (np.arange(STEPS_PER_YEAR) + 0.5) * (STEP_SECONDS / 3600.0)
                bases.append(np.asarray(weather.cycles(gen, hours)))
                buildings.append(clmu.load_building(name, density_class))
            else:
                site = weather.load_site(name)
                bases.append(weather.hourly_to_steps(site.forcing, STEP_SECONDS))
                # Real weather has no extra noise; the latitude is the site's.
                gen = weather.fit_generator(epw_building, STEP_SECONDS)._replace(
                    noise_std=jnp.zeros((4,), jnp.float32),
                    latitude=jnp.asarray(site.latitude, jnp.float32),
                )
                buildings.append(clmu.load_building(epw_building, density_class))
            gens.append(gen)
        self._base = np.stack(bases).astype(np.float32)  # [Cl, 17520, 5]
        stack = lambda trees: jax.tree.map(lambda *x: np.stack([np.asarray(v) for v in x]), *trees)
        self._buildings = stack([bem.building_params(b) for b in buildings])  # [Cl] leaves.
        self._generators = stack(gens)
        self._discrete_table = discrete_settings()
        super().__init__()

    @property
    def config(self) -> dict[str, Any]:
        """The constructor's keyword arguments, as ``jaxml.envs.make`` accepts them."""
        keys = ("climates", "weight", "episode_steps", "random_start", "discrete")
        keys += ("time_features", "density_class", "epw_building", "hvac_capacity")
        return {k: getattr(self, k) for k in keys}

    def __repr__(self) -> str:
        return f"HVAC({', '.join(f'{k}={v!r}' for k, v in self.config.items())})"

    # ---------------------------------------------------------------------------- weather
    def forcing(self, state: State) -> chex.Array:
        """[5] weather (``weather.CHANNELS``) over the next step of ``state``."""
        idx = (state.start + state.step_count) % STEPS_PER_YEAR
        base = jnp.asarray(self._base)[state.climate, idx]
        return weather.apply_noise(state.weather, base, state.noise)

    # -------------------------------------------------------------------------------- API
    def reset(self, key: chex.PRNGKey) -> tuple[State, TimeStep[jax.Array]]:
        """A building of a random climate (uniform over ``climates``) at the default weight."""
        key, sub = jax.random.split(key)
        climate = jax.random.randint(sub, (), 0, len(self.climates))
        return self.reset_to(key, climate, jnp.float32(self.weight))

    def reset_to(
        self, key: chex.PRNGKey, climate: chex.Array, weight: chex.Array
    ) -> tuple[State, TimeStep[jax.Array]]:
        """Starts an episode in climate index ``climate`` ([] int) with reward weight ``weight``.

        Vmap it over ``climate`` and ``weight`` to run a grid of cities x weights x seeds in one
        program. Exterior nodes start at the air temperature, interior ones at it clipped to the
        comfort band 18-24 C.
        """
        climate = jnp.asarray(climate, jnp.int32)
        chex.assert_shape(climate, ())
        weight = jnp.asarray(weight, jnp.float32)
        chex.assert_shape(weight, ())
        key, start_key, noise_key = jax.random.split(key, 3)
        start = (
            jax.random.randint(start_key, (), 0, STEPS_PER_YEAR)
            if self.random_start
            else jnp.int32(0)
        )
        pick = lambda tree: jax.tree.map(lambda x: jnp.asarray(x)[climate], tree)
        noise = jax.random.normal(noise_key, (len(weather.NOISE_CHANNELS),), jnp.float32)
        state = State(
            temps=jnp.zeros((bem.NUM_NODES,), jnp.float32),
            noise=noise,
            heat_to_canyon=jnp.float32(0.0),
            settings=jnp.asarray(DEFAULT_SETTINGS, jnp.float32),
            climate=climate,
            building=pick(self._buildings),
            weather=pick(self._generators),
            weight=weight,
            start=jnp.asarray(start, jnp.int32),
            step_count=jnp.int32(0),
            key=key,
        )
        t_air = self.forcing(state)[weather.TAIR]
        interior = jnp.clip(t_air, CELSIUS + COMFORT_LOW, CELSIUS + COMFORT_HIGH)
        is_interior = np.zeros(bem.NUM_NODES, bool)
        is_interior[[bem.ROOF_IN, bem.SUNWALL_IN, bem.SHADEWALL_IN, bem.FLOOR, bem.INDOOR]] = True
        state = state.replace(temps=jnp.where(jnp.asarray(is_interior), interior, t_air))
        zero = jnp.float32(0.0)
        fluxes = bem.Fluxes(zero, zero, zero, zero, state.temps[bem.INDOOR], zero, zero)
        timestep = TimeStep(
            step_type=StepType.FIRST,
            reward=zero,
            discount=jnp.float32(1.0),
            observation=self._observe(state),
            extras=self._extras(state, fluxes, t_air, jnp.array(False)),
        )
        return state, timestep

    def settings(self, action: chex.Array) -> chex.Array:
        """[3] (cooling C, heating C, ACH) of an action (an index if discrete, else clipped)."""
        if self.discrete:
            action = jnp.asarray(action, jnp.int32)
            chex.assert_shape(action, ())
            return jnp.asarray(self._discrete_table)[action]
        action = jnp.asarray(action, jnp.float32)
        chex.assert_shape(action, (3,))
        return jnp.clip(action, ACTION_LOW, ACTION_HIGH)

    def step(self, state: State, action: chex.Array) -> tuple[State, TimeStep[jax.Array]]:
        """Applies the settings for 30 minutes (unbatched; vmap or jumanji's VmapWrapper).

        Args:
          state: the current state.
          action: [3] float32 settings, or [] int32 in 0..7 if ``discrete``.
        """
        settings = self.settings(action)
        forcing = self.forcing(state)
        capacity = jnp.float32(np.inf if self.hvac_capacity is None else self.hvac_capacity)
        temps, fluxes = bem.step(
            state.building,
            state.temps,
            forcing,
            heating_setpoint=settings[1] + CELSIUS,
            cooling_setpoint=settings[0] + CELSIUS,
            ach=settings[2],
            waste_heat_in=state.heat_to_canyon,
            capacity=capacity,
            dt=float(STEP_SECONDS),
        )
        key, noise_key = jax.random.split(state.key)
        phi = weather.ar1_coefficients(state.weather, STEP_SECONDS)
        t = state.step_count + 1
        next_state = State(
            temps=temps,
            noise=weather.ar1_step(state.noise, noise_key, phi),
            heat_to_canyon=fluxes.waste_heat + fluxes.cooling,
            settings=settings,
            climate=state.climate,
            building=state.building,
            weather=state.weather,
            weight=state.weight,
            start=state.start,
            step_count=t,
            key=key,
        )
        p_ac, p_heat = bem.electricity(fluxes)
        comfort = self._comfort(temps[bem.INDOOR])
        w = state.weight
        reward = (-w * (p_ac + p_heat) - (1.0 - w) * comfort).astype(jnp.float32)
        truncated = t >= self.episode_steps
        timestep = TimeStep(
            step_type=jnp.where(truncated, StepType.LAST, StepType.MID),
            reward=reward,
            discount=jnp.float32(1.0),
            observation=self._observe(next_state),
            extras=self._extras(next_state, fluxes, forcing[weather.TAIR], truncated),
        )
        return next_state, timestep

    @staticmethod
    def _comfort(t_indoor: chex.Array) -> chex.Array:
        t = t_indoor - CELSIUS
        return jnp.abs(t - COMFORT_HIGH) + jnp.abs(t - COMFORT_LOW)

    def _observe(self, state: State) -> chex.Array:
        temps = state.temps[jnp.array([bem.INDOOR, bem.CANYON])] - CELSIUS
        obs = [state.settings, temps]
        if self.time_features:
            step = (state.start + state.step_count) % STEPS_PER_YEAR
            day = 2 * jnp.pi * (step % 48) / 48.0
            year = 2 * jnp.pi * step / STEPS_PER_YEAR
            obs.append(jnp.stack([jnp.sin(day), jnp.cos(day), jnp.sin(year), jnp.cos(year)]))
        return jnp.concatenate(obs).astype(jnp.float32)

    def _extras(self, state, fluxes, t_air, truncated) -> dict[str, jax.Array]:
        p_ac, p_heat = bem.electricity(fluxes)
        f32 = lambda x: jnp.asarray(x, jnp.float32)
        return {
            "t_indoor": f32(state.temps[bem.INDOOR] - CELSIUS),
            "t_canyon": f32(state.temps[bem.CANYON] - CELSIUS),
            "t_air": f32(t_air - CELSIUS),
            "heating": f32(fluxes.heating),
            "cooling": f32(fluxes.cooling),
            "waste_heat": f32(fluxes.waste_heat),
            "p_ac": f32(p_ac),
            "p_heat": f32(p_heat),
            "comfort": f32(self._comfort(state.temps[bem.INDOOR])),
            "energy_balance": f32(
                fluxes.storage
                - fluxes.boundary
                - fluxes.heating
                + fluxes.cooling
                - fluxes.heat_to_canyon
            ),
            "step_of_year": ((state.start + state.step_count) % STEPS_PER_YEAR).astype(jnp.int32),
            "step_count": state.step_count,
            "truncated": jnp.asarray(truncated),
        }

    # ------------------------------------------------------------------------------ specs
    @cached_property
    def observation_spec(self) -> specs.Array:
        """[5] float32 (cooling C, heating C, ACH, T_in C, T_canyon C), [9] with time features."""
        return specs.Array((9 if self.time_features else 5,), jnp.float32, "observation")

    @cached_property
    def action_spec(self) -> specs.Array:
        """[3] float32 in [25, 10, 0.3]..[35, 20, 0.5], or [] int32 in 0..7 if discrete."""
        if self.discrete:
            return specs.DiscreteArray(NUM_DISCRETE, jnp.int32, "action")
        return specs.BoundedArray((3,), jnp.float32, ACTION_LOW, ACTION_HIGH, "action")

    @cached_property
    def reward_spec(self) -> specs.Array:
        return specs.Array((), jnp.float32, "reward")

    @cached_property
    def discount_spec(self) -> specs.BoundedArray:
        """[] float32, always 1: the episode ends only by truncation."""
        return specs.BoundedArray((), jnp.float32, 0.0, 1.0, "discount")

"""The building energy model: the linear solver, energy balance, steady state, set points, caps."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize

from jaxml.data import clmu
from jaxml.envs.hvac import bem
from tests.envs.hvac import reference
from tests.helpers import fast_jit

DT = 1800.0
INF = jnp.float32(np.inf)


@functools.cache
def stepper():
    """One compiled ``bem.step`` taking every input as an argument (buildings are data)."""

    def fn(p, temps, forcing, heat_sp, cool_sp, ach, heat_in, capacity):
        return bem.step(
            p, temps, forcing, heating_setpoint=heat_sp, cooling_setpoint=cool_sp, ach=ach,
            waste_heat_in=heat_in, capacity=capacity, dt=DT,
        )  # fmt: skip

    return fast_jit(fn)


def run(p, temps, forcing, n, heat_sp=-INF, cool_sp=INF, ach=0.5, capacity=INF):
    """``n`` steps under constant forcing; waste heat fed back as the env does."""
    step = stepper()
    heat_in = jnp.float32(0.0)
    for _ in range(n):
        temps, fl = step(p, temps, forcing, jnp.float32(heat_sp), jnp.float32(cool_sp),
                         jnp.float32(ach), heat_in, jnp.float32(capacity))  # fmt: skip
        heat_in = fl.waste_heat + fl.cooling
    return temps, fl


def params(city="london"):
    return bem.building_params(clmu.load_building(city))


def test_solver_matches_numpy():
    rng = np.random.default_rng(0)
    for _ in range(5):
        m = rng.normal(size=(10, 10))
        m += np.diag(np.abs(m).sum(axis=1) + 0.5)  # Strictly diagonally dominant.
        b = rng.normal(size=(10, 2))
        got = jax.jit(bem.solve_diagonally_dominant)(m.astype(np.float32), b.astype(np.float32))
        np.testing.assert_allclose(got, np.linalg.solve(m, b), rtol=1e-4, atol=1e-5)


def test_geometry_view_factors_are_consistent():
    for city in clmu.CITIES:
        g = {k: float(v) for k, v in bem.geometry(params(city)).items()}
        # Canyon: road and both walls see the opening exactly once (sum rule and reciprocity).
        assert g["a_road"] * g["psi_road"] + 2 * g["a_wall"] * g["psi_wall"] == pytest.approx(
            g["a_road"], rel=1e-5
        )
        assert 0 < g["psi_road"] < 1 and 0 < g["psi_wall"] < 0.5
        assert 0 < g["f_roof_floor"] < 1 and 0 < g["f_wall_wall"] < 1


def test_steady_state_matches_the_nonlinear_balance():
    """Constant forcing, HVAC off: the implicit steps converge to the root of the exact balance
    (longwave as sigma T^4, not linearised), solved with scipy from the numpy reference."""
    p = params("newyork")
    pd = {k: float(v) for k, v in p._asdict().items()}
    forcing = np.array([283.15, 250.0, 80.0, 320.0, 3.0])
    temps, _ = run(p, jnp.full((10,), 290.0), jnp.asarray(forcing, jnp.float32), 3000)

    def residual(t):
        # At a steady state the linearisation point equals the solution, so the linear flows
        # evaluated at t are the exact nonlinear ones.
        links, boundary = reference.paths(pd, t, forcing, 0.5)
        r = np.zeros(10)
        for i, j, g in links:
            r[i] -= g * (t[i] - t[j])
            r[j] += g * (t[i] - t[j])
        for i, g, s in boundary:
            r[i] += s - g * t[i]
        return r

    root = optimize.fsolve(residual, np.full(10, 290.0), xtol=1e-12)
    assert np.max(np.abs(residual(root))) < 1e-6
    np.testing.assert_allclose(temps, root, atol=0.02)


def test_indoor_relaxes_to_steady_state_with_the_envelope_time_constant():
    """HVAC off, no sun, outdoor air stepped down by 10 K: T_in decays monotonically to the new
    steady state, at late times as exp(-t / tau) with tau the slowest time constant of the
    linearised envelope (the smallest eigenvalue of C^-1 K, from the numpy reference)."""
    p = params("london")
    pd = {k: float(v) for k, v in p._asdict().items()}
    warm = jnp.asarray([293.15, 0.0, 0.0, 400.0, 2.0], jnp.float32)
    cold = warm.at[0].set(283.15).at[3].set(330.0)
    t0, _ = run(p, jnp.full((10,), 293.15), warm, 3000)
    steady = np.asarray(run(p, t0, cold, 6000)[0], np.float64)
    links, boundary = reference.paths(pd, steady, np.asarray(cold, np.float64), 0.5)
    k = np.zeros((10, 10))
    for i, j, g in links:
        k[[i, j], [i, j]] += g
        k[i, j] -= g
        k[j, i] -= g
    for i, g, _ in boundary:
        k[i, i] += g
    c = reference.capacities(pd)
    rates = np.linalg.eigvals(np.linalg.solve(np.diag(c), k)).real
    tau_steps = 1.0 / (rates.min() * DT)  # About 25 h for this building.
    # The linear model's prediction of the whole decay: d(t+1) = (C/dt + K)^-1 C/dt d(t).
    propagator = np.linalg.solve(np.diag(c / DT) + k, np.diag(c / DT))
    d, predicted = np.asarray(t0, np.float64) - steady, []
    step = stepper()
    temps, dev = t0, []
    for _ in range(260):
        temps, _ = step(p, temps, cold, -INF, INF, jnp.float32(0.5), jnp.float32(0.0), INF)
        dev.append(float(temps[bem.INDOOR]) - steady[bem.INDOOR])
        d = propagator @ d
        predicted.append(d[bem.INDOOR])
    dev = np.array(dev)
    assert dev[0] > 5.0 and np.all(np.diff(dev) <= 1e-4) and np.all(dev > 0)
    # (Not exact: the interior convection switches regime as surfaces cross the air temperature.)
    np.testing.assert_allclose(dev, predicted, rtol=0.1, atol=0.05)
    # Late in the decay the slowest mode dominates: Backward Euler damps it by 1 / (1 + dt / tau)
    # per step (the next mode, 20 h, still tilts the fit a little: 10 %).
    slope = np.polyfit(np.arange(120, 260), np.log(dev[120:260]), 1)[0]
    assert -1.0 / slope == pytest.approx(1.0 / np.log1p(1.0 / tau_steps), rel=0.1)


def test_heating_raises_indoor_temperature():
    p = params("beijing")
    cold = jnp.asarray([263.15, 0.0, 0.0, 250.0, 4.0], jnp.float32)
    temps0 = jnp.full((10,), 285.0)
    t_in = []
    for sp in (10.0, 15.0, 20.0):
        temps, fl = run(p, temps0, cold, 20, heat_sp=sp + 273.15)
        t_in.append(float(temps[bem.INDOOR]))
        np.testing.assert_allclose(t_in[-1], sp + 273.15, atol=1e-3)
        assert float(fl.heating) > 0 and float(fl.cooling) == 0
    assert t_in[0] < t_in[1] < t_in[2]


def test_setpoints_and_capacity():
    p = params("singapore")
    hot = jnp.asarray([305.15, 800.0, 200.0, 430.0, 1.0], jnp.float32)
    temps, fl = run(p, jnp.full((10,), 300.0), hot, 30, heat_sp=283.15, cool_sp=299.15)
    np.testing.assert_allclose(temps[bem.INDOOR], 299.15, atol=1e-3)
    assert float(fl.cooling) > 0 and float(fl.heating) == 0
    # A capacity below the need: the flux is the capacity and the air ends above the set point.
    temps, fl = run(p, jnp.full((10,), 300.0), hot, 30, heat_sp=283.15, cool_sp=299.15,
                    capacity=1.0)  # fmt: skip
    assert float(fl.cooling) == pytest.approx(1.0)
    assert float(temps[bem.INDOOR]) > 299.2


def test_waste_heat_fractions_and_cap():
    p = params("hongkong")
    step = stepper()
    temps = jnp.full((10,), 300.0)
    hot = jnp.asarray([308.15, 900.0, 200.0, 450.0, 1.0], jnp.float32)
    cold = jnp.asarray([253.15, 0.0, 0.0, 200.0, 8.0], jnp.float32)
    for forcing, heat_sp, cool_sp in ((hot, 283.15, 290.15), (cold, 300.15, 310.15)):
        for cap in (5.0, 50.0, 1e4):  # From below the 100 W/m2 limit to far above it.
            _, fl = step(p, temps, forcing, jnp.float32(heat_sp), jnp.float32(cool_sp),
                         jnp.float32(0.5), jnp.float32(0.0), jnp.float32(cap))  # fmt: skip
            expected = min(0.6 * float(fl.cooling) + 0.2 * float(fl.heating), 100.0)
            assert float(fl.waste_heat) == pytest.approx(expected, rel=1e-5)
            assert float(fl.waste_heat) <= 100.0
    # Cooling the air by 100 K in one step needs far more than 100 / 0.6 W/m2: the cap binds.
    _, fl = step(p, temps, hot, jnp.float32(190.0), jnp.float32(200.0), jnp.float32(0.5),
                 jnp.float32(0.0), jnp.float32(1e4))  # fmt: skip
    assert 0.6 * float(fl.cooling) > 100.0
    assert float(fl.waste_heat) == pytest.approx(100.0)


def test_waste_heat_warms_the_canyon():
    p = params("newyork")
    forcing = jnp.asarray([293.15, 0.0, 0.0, 350.0, 3.0], jnp.float32)
    temps0, _ = run(p, jnp.full((10,), 293.15), forcing, 500)
    step = stepper()
    args = (jnp.float32(-np.inf), INF, jnp.float32(0.5))
    cool, _ = step(p, temps0, forcing, *args, jnp.float32(0.0), INF)
    warm, fl = step(p, temps0, forcing, *args, jnp.float32(100.0), INF)
    assert float(warm[bem.CANYON]) > float(cool[bem.CANYON])
    assert float(fl.storage - fl.boundary - fl.heat_to_canyon) == pytest.approx(0.0, abs=1e-2)


@settings(max_examples=40, deadline=None)
@given(
    city=st.sampled_from(clmu.CITIES),
    density_class=st.sampled_from((1, 2, 3)),
    seed=st.integers(0, 2**31 - 1),
)
def test_random_states_match_the_numpy_reference(city, density_class, seed):
    """Any building, temperatures 260-320 K (both convection regimes), any weather, set points
    and capacity: one step equals the reference, and the energy balance closes."""
    rng = np.random.default_rng(seed)
    p = bem.building_params(clmu.load_building(city, density_class))
    pd = {k: float(v) for k, v in p._asdict().items()}
    temps = rng.uniform(260.0, 320.0, 10)
    sw = rng.uniform(0, 1000)
    forcing = np.array([rng.uniform(250, 315), sw, sw * rng.uniform(0.1, 1), rng.uniform(150, 450),
                        rng.uniform(0, 15)])  # fmt: skip
    heat_sp, cool_sp = rng.uniform(283, 293), rng.uniform(298, 308)
    ach, heat_in, cap = rng.uniform(0.3, 0.5), rng.uniform(0, 150), rng.choice([np.inf, 20.0])
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    new, fl = stepper()(p, f32(temps), f32(forcing), f32(heat_sp), f32(cool_sp), f32(ach),
                        f32(heat_in), f32(cap))  # fmt: skip
    ref, heating, cooling, waste = reference.bem_step(
        pd, temps, forcing, heat_sp, cool_sp, ach, heat_in, cap, DT
    )
    np.testing.assert_allclose(new, ref, atol=5e-3)
    np.testing.assert_allclose([fl.heating, fl.cooling, fl.waste_heat], [heating, cooling, waste],
                               rtol=1e-3, atol=2e-2)  # fmt: skip
    balance = fl.storage - fl.boundary - fl.heating + fl.cooling - fl.heat_to_canyon
    assert abs(float(balance)) < 1e-4 * (abs(float(fl.boundary)) + 100.0)

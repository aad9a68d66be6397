"""A per-step numpy (float64) reference of ``HVAC-v0``: the oracle of the JAX step.

Written as the equations read (an explicit list of heat paths, a dense ``np.linalg.solve``, the
set-point logic as two extra solves with the indoor temperature clamped) rather than as the JAX
code is organised; it shares only the constants of ``jaxml.envs.hvac.bem``.
"""

from __future__ import annotations

import numpy as np

from jaxml.envs.hvac import bem

SIGMA = bem.SIGMA
N = bem.NUM_NODES
CELSIUS = 273.15


def _geometry(p):
    h, hwr, rf = p["height"], p["canyon_hwr"], p["roof_fraction"]
    w = h / hwr
    b = w * rf / (1 - rf)
    return dict(
        a_roof=rf, a_road=1 - rf, a_wall=h / (b + w), v_in=rf * h, v_can=(1 - rf) * h,
        psi_road=np.hypot(hwr, 1) - hwr, psi_wall=0.5 * (hwr + 1 - np.hypot(hwr, 1)) / hwr,
        f_rf=np.hypot(1, h / b) - h / b, f_ww=np.hypot(1, b / h) - b / h,
    )  # fmt: skip


def _eff(e1, e2):
    return 1 / (1 / e1 + 1 / e2 - 1)


def paths(p, temps, forcing, ach):
    """(links [(i, j, G)], boundary [(i, G, T_boundary or None, source)]) linearised at temps."""
    g = _geometry(p)
    t = temps
    t_air, sw, dif, lw, wind = forcing
    lin = lambda a, b: 4 * SIGMA * ((t[a] + t[b]) / 2) ** 3
    ar, aw, ad = g["a_roof"], g["a_wall"], g["a_road"]
    ri, ro, si, so, hi, ho = (bem.ROOF_IN, bem.ROOF_OUT, bem.SUNWALL_IN, bem.SUNWALL_OUT,
                              bem.SHADEWALL_IN, bem.SHADEWALL_OUT)  # fmt: skip
    fl, ind, road, can = bem.FLOOR, bem.INDOOR, bem.ROAD, bem.CANYON
    h_can = bem.H_EXT_0 + bem.H_EXT_WIND * bem.CANYON_WIND_FACTOR * wind
    h_ceiling = bem.H_ROOF_ENHANCED if t[ri] < t[ind] else bem.H_ROOF_STABLE
    h_floor = bem.H_ROOF_ENHANCED if t[fl] > t[ind] else bem.H_ROOF_STABLE
    e9 = _eff(bem.EM_INTERIOR, bem.EM_INTERIOR)
    f_side = (1 - g["f_rf"]) / 2
    links = [
        (ro, ri, ar * p["roof_u"]), (so, si, aw * p["wall_u"]), (ho, hi, aw * p["wall_u"]),
        (ri, ind, ar * h_ceiling), (si, ind, aw * bem.H_WALL_INTERIOR),
        (hi, ind, aw * bem.H_WALL_INTERIOR), (fl, ind, ar * h_floor),
        (ri, fl, ar * g["f_rf"] * e9 * lin(ri, fl)),
        (ri, si, ar * f_side * e9 * lin(ri, si)), (ri, hi, ar * f_side * e9 * lin(ri, hi)),
        (fl, si, ar * f_side * e9 * lin(fl, si)), (fl, hi, ar * f_side * e9 * lin(fl, hi)),
        (si, hi, aw * g["f_ww"] * e9 * lin(si, hi)),
        (ind, can, bem.RHO_AIR * bem.CP_AIR * ach / 3600 * g["v_in"]),
        (so, can, aw * h_can), (ho, can, aw * h_can), (road, can, ad * h_can),
    ]  # fmt: skip
    e_rw = _eff(p["road_emissivity"], p["wall_emissivity"])
    e_ww = _eff(p["wall_emissivity"], p["wall_emissivity"])
    road_wall = ad * (1 - g["psi_road"]) / 2
    links += [
        (road, so, road_wall * e_rw * lin(road, so)),
        (road, ho, road_wall * e_rw * lin(road, ho)),
        (so, ho, aw * (1 - 2 * g["psi_wall"]) * e_ww * lin(so, ho)),
    ]
    direct = max(sw - dif, 0.0)
    hwr = p["canyon_hwr"]
    shortwave = {
        ro: ar * (1 - p["roof_albedo"]) * sw,
        so: (1 - p["wall_albedo"]) * (ad * direct * hwr / (1 + hwr) + aw * g["psi_wall"] * dif),
        ho: (1 - p["wall_albedo"]) * aw * g["psi_wall"] * dif,
        road: (1 - p["road_albedo"]) * ad * (direct / (1 + hwr) + g["psi_road"] * dif),
    }
    sky = {
        ro: ar * p["roof_emissivity"],
        so: aw * g["psi_wall"] * p["wall_emissivity"],
        ho: aw * g["psi_wall"] * p["wall_emissivity"],
        road: ad * g["psi_road"] * p["road_emissivity"],
    }
    boundary = []  # (node, conductance, source): flow = source - conductance * T.
    for i, s in shortwave.items():
        boundary.append((i, 0.0, s))
    for i, e in sky.items():  # Absorbed sky longwave, linearised emission.
        boundary.append((i, 4 * e * SIGMA * t[i] ** 3, e * lw + 3 * e * SIGMA * t[i] ** 4))
    h_roof = ar * (bem.H_EXT_0 + bem.H_EXT_WIND * wind)
    h_top = ad * bem.RHO_AIR * bem.CP_AIR * (bem.TOP_EXCHANGE_WIND * wind + bem.TOP_EXCHANGE_CALM)
    boundary += [(ro, h_roof, h_roof * t_air), (can, h_top, h_top * t_air)]
    return links, boundary


def capacities(p):
    g = _geometry(p)
    c = np.zeros(N)
    c[[bem.ROOF_OUT, bem.ROOF_IN]] = g["a_roof"] * p["roof_c"] / 2
    for i in (bem.SUNWALL_OUT, bem.SUNWALL_IN, bem.SHADEWALL_OUT, bem.SHADEWALL_IN):
        c[i] = g["a_wall"] * p["wall_c"] / 2
    c[bem.FLOOR] = g["a_roof"] * bem.FLOOR_THICKNESS * bem.FLOOR_DENSITY * bem.FLOOR_CP
    c[bem.INDOOR] = bem.RHO_AIR * bem.CP_AIR * g["v_in"]
    c[bem.ROAD] = g["a_road"] * p["road_c"]
    c[bem.CANYON] = bem.RHO_AIR * bem.CP_AIR * g["v_can"]
    return c


def bem_step(p, temps, forcing, heat_sp, cool_sp, ach, heat_in, capacity, dt):
    """One backward-Euler step; returns (temps', heating, cooling, waste)."""
    temps = np.asarray(temps, np.float64)
    links, boundary = paths(p, temps, forcing, ach)
    c = capacities(p) / dt
    a = np.diag(c)
    b = c * temps
    b[bem.CANYON] += heat_in
    for i, j, g in links:
        a[i, i] += g
        a[j, j] += g
        a[i, j] -= g
        a[j, i] -= g
    for i, g, s in boundary:
        a[i, i] += g
        b[i] += s

    def solve(q):
        rhs = b.copy()
        rhs[bem.INDOOR] += q
        return np.linalg.solve(a, rhs)

    free = solve(0.0)
    heating = cooling = 0.0
    if free[bem.INDOOR] < heat_sp or free[bem.INDOOR] > cool_sp:
        target = heat_sp if free[bem.INDOOR] < heat_sp else cool_sp
        # The flux that puts the indoor air exactly at the set point (linear in q: two solves).
        slope = solve(1.0)[bem.INDOOR] - free[bem.INDOOR]
        q = float(np.clip((target - free[bem.INDOOR]) / slope, -capacity, capacity))
        heating, cooling = max(q, 0.0), max(-q, 0.0)
        new = solve(q)
    else:
        new = free
    waste = min(bem.WASTE_AC * cooling + bem.WASTE_HEAT * heating, bem.WASTE_LIMIT)
    return new, heating, cooling, waste


def env_step(env, state, action):
    """(temps', heat_to_canyon', reward, observation[:5]) of ``env.step(state, action)``."""
    p = {k: float(v) for k, v in state.building._asdict().items()}
    forcing = np.asarray(env.forcing(state), np.float64)
    if env.discrete:
        cool, heat, ach = (float(x) for x in env._discrete_table[int(action)])
    else:
        cool, heat, ach = np.clip(np.asarray(action, np.float64), env_low(), env_high())
    cap = np.inf if env.hvac_capacity is None else env.hvac_capacity
    new, heating, cooling, waste = bem_step(
        p, np.asarray(state.temps), forcing, heat + CELSIUS, cool + CELSIUS, ach,
        float(state.heat_to_canyon), cap, 1800.0,
    )  # fmt: skip
    w = float(state.weight)
    t_in = new[bem.INDOOR] - CELSIUS
    p_ac = cooling / bem.COP_AC / bem.ETA_AC
    p_heat = heating / bem.ETA_HEAT_1 / bem.ETA_HEAT_2
    reward = -w * (p_ac + p_heat) - (1 - w) * (abs(t_in - 24) + abs(t_in - 18))
    obs = np.array([cool, heat, ach, t_in, new[bem.CANYON] - CELSIUS])
    return new, waste + cooling, reward, obs


def env_low():
    return np.array([25.0, 10.0, 0.3])


def env_high():
    return np.array([35.0, 20.0, 0.5])

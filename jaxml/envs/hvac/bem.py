"""The building energy model (BEM) and urban canyon of ``HVAC-v0``: one implicit 30-minute step.

"Reinforcement Learning Meets Urban Climate Modeling: RL-based HVAC control" (Yu et al.,
arXiv 2505.07045) controls CLM-Urban's BEM (Oleson & Feddema 2020; Bueno et al. 2012): the
interior surfaces of the roof, the sunlit wall, the shaded wall and the floor exchange longwave
radiation with each other and heat by convection with the indoor air, heat is conducted through
the envelope, the indoor air is ventilated with the canyon air,

    V rho c_p dT_in/dt = sum_s A_s h_s (T_s - T_in) + V' rho c_p (T_can - T_in) + Q_hvac,

and set points decide the heating and cooling fluxes. jaxml lumps the model into ``NUM_NODES``
thermal nodes per unit of urban (plan) area, drives the outer surfaces with weather (air
temperature, shortwave, longwave down, wind) and closes the canyon air with a node that exchanges
heat with the air above, the walls, the road and the building and receives the HVAC waste heat.
All fluxes are W per m2 of urban area (roof + road plan area); temperatures are K.

Numerics: every heat path is a conductance ``G`` (W m-2 K-1) between two nodes or between a node
and a boundary (the air above the canyon, the sky). Longwave exchange ``sigma (T_i^4 - T_j^4)``
is linearised about the previous temperatures (exact at a steady state), and the step is backward
Euler, so the energy balance ``sum_i C_i (T_i' - T_i) / dt = sources + boundary flows`` closes to
rounding each step and any step length is stable. The 10 x 10 system is diagonally dominant and
symmetric, so it is solved by Gaussian elimination without pivoting, unrolled (fast under vmap).
The set-point fluxes follow from linearity: the solve is done for the free-running building and
for a unit heat input to the indoor air, and the heating (cooling) flux is what brings the
free-running indoor temperature up to the heating (down to the cooling) set point, clipped at
the capacity. As in CLM, waste heat computed in one step enters the canyon in the next.
"""

from __future__ import annotations

from typing import NamedTuple

import chex
import jax.numpy as jnp
import numpy as np

from jaxml.data import clmu
from jaxml.data.weather import LW_DOWN, SW_DIFFUSE, SW_GLOBAL, TAIR, WIND

# Nodes.
ROOF_OUT, ROOF_IN, SUNWALL_OUT, SUNWALL_IN, SHADEWALL_OUT, SHADEWALL_IN = range(6)
FLOOR, INDOOR, ROAD, CANYON = range(6, 10)
NUM_NODES = 10
NODE_NAMES = ("roof_out", "roof_in", "sunwall_out", "sunwall_in", "shadewall_out",
              "shadewall_in", "floor", "indoor_air", "road", "canyon_air")  # fmt: skip

# Constants. From CLM (arXiv 2505.07045, shared/papers/hvac.md): interior emissivity and
# convective coefficients, the floor slab, electricity conversions.
SIGMA = 5.670374419e-8  # W m-2 K-4.
RHO_AIR = 1.2  # kg m-3 (chosen: CLM uses the forcing's density; 1.2 is sea level at 20 C).
CP_AIR = 1004.64  # J kg-1 K-1 (CLM's cpair).
EM_INTERIOR = 0.9
H_ROOF_STABLE, H_ROOF_ENHANCED = 0.948, 4.040  # W m-2 K-1; enhanced when the warm side is below.
H_WALL_INTERIOR = 3.076
FLOOR_THICKNESS, FLOOR_DENSITY, FLOOR_CP = 0.1, 2350.0, 880.0  # Concrete floor slab.
WASTE_AC, WASTE_HEAT, WASTE_LIMIT = 0.6, 0.2, 100.0  # CLM's waste heat fractions, W m-2 cap.
COP_AC, ETA_AC = 3.6, 0.43  # P_ac = F_cool / COP / eta.
ETA_HEAT_1, ETA_HEAT_2 = 0.9, 0.96  # P_heat = F_heat / 0.9 / 0.96.
# Chosen where the paper is silent (see docs/hvac.md): exterior convection h = 5.8 + 3.8 U
# (a McAdams-type wind fit), canyon wind 0.5 U, canyon-top exchange velocity 0.02 U + 0.01 m/s
# (a neutral aerodynamic conductance for a canyon ~10-100 m deep, with a 0.1 m/s floor for
# the free convection that keeps a calm, sunlit canyon ventilated).
H_EXT_0, H_EXT_WIND = 5.8, 3.8
CANYON_WIND_FACTOR = 0.5
TOP_EXCHANGE_WIND, TOP_EXCHANGE_CALM = 0.02, 0.1


class BuildingParams(NamedTuple):
    """Geometry and envelope of one building and its canyon ([] float32 each; vmappable).

    Built from CLM surface data by ``building_params`` (see ``jaxml.data.clmu.Building`` for the
    meaning and units of each field).
    """

    height: chex.Array
    canyon_hwr: chex.Array
    roof_fraction: chex.Array
    roof_u: chex.Array
    wall_u: chex.Array
    roof_c: chex.Array
    wall_c: chex.Array
    road_c: chex.Array
    roof_albedo: chex.Array
    wall_albedo: chex.Array
    road_albedo: chex.Array
    roof_emissivity: chex.Array
    wall_emissivity: chex.Array
    road_emissivity: chex.Array


def building_params(building: clmu.Building) -> BuildingParams:
    """``BuildingParams`` (float32 scalars) from a ``jaxml.data.clmu.Building``."""
    return BuildingParams(
        **{f: jnp.asarray(getattr(building, f), jnp.float32) for f in BuildingParams._fields}
    )


class Fluxes(NamedTuple):
    """What a step exchanged (W m-2 of urban area unless noted; [] each).

    Attributes:
      heating: heating flux into the indoor air (>= 0).
      cooling: heat removed from the indoor air by air conditioning (>= 0).
      waste_heat: waste heat ``min(0.6 cooling + 0.2 heating, 100)`` released to the canyon on
        the next step (CLM's order).
      heat_to_canyon: heat put into the canyon air this step (the previous step's waste heat plus
        the heat its air conditioning removed, which the condensers reject outdoors).
      free_indoor: K, indoor air temperature this step would reach without HVAC.
      storage: rate of change of the stored heat, ``sum_i C_i (T_i' - T_i) / dt``.
      boundary: net heat gained from the boundaries (air above the canyon, the sky, the sun).
    """

    heating: chex.Array
    cooling: chex.Array
    waste_heat: chex.Array
    heat_to_canyon: chex.Array
    free_indoor: chex.Array
    storage: chex.Array
    boundary: chex.Array


def geometry(p: BuildingParams) -> dict[str, chex.Array]:
    """Areas and view factors per unit urban area of a 2-D canyon of infinite length.

    The canyon has width W = H / hwr; the building has width B = W rf / (1 - rf), so roof and
    floor cover ``rf``, the road ``1 - rf`` and each wall ``H / (B + W)`` per unit urban area.
    View factors are the 2-D (infinitely long) crossed-string results.
    """
    hwr, rf = p.canyon_hwr, p.roof_fraction
    width = p.height / hwr
    bwidth = width * rf / (1.0 - rf)
    hb = p.height / bwidth  # Indoor H / B.
    return {
        "a_roof": rf,
        "a_road": 1.0 - rf,
        "a_wall": p.height / (bwidth + width),
        "v_in": rf * p.height,  # m3 per m2 urban.
        "v_canyon": (1.0 - rf) * p.height,
        "psi_road": jnp.sqrt(hwr**2 + 1.0) - hwr,  # Road -> sky.
        "psi_wall": 0.5 * (hwr + 1.0 - jnp.sqrt(hwr**2 + 1.0)) / hwr,  # Wall -> sky (= -> road).
        "f_roof_floor": jnp.sqrt(1.0 + hb**2) - hb,  # Interior ceiling -> floor.
        "f_wall_wall": jnp.sqrt(1.0 + 1.0 / hb**2) - 1.0 / hb,  # Interior wall -> other wall.
    }


def capacities(p: BuildingParams) -> chex.Array:
    """[NUM_NODES] heat capacities, J K-1 per m2 urban (slabs split half and half)."""
    g = geometry(p)
    floor_c = FLOOR_THICKNESS * FLOOR_DENSITY * FLOOR_CP
    air = RHO_AIR * CP_AIR
    half_roof, half_wall = 0.5 * g["a_roof"] * p.roof_c, 0.5 * g["a_wall"] * p.wall_c
    return jnp.stack(
        [half_roof, half_roof, half_wall, half_wall, half_wall, half_wall,
         g["a_roof"] * floor_c, air * g["v_in"], g["a_road"] * p.road_c, air * g["v_canyon"]]
    )  # fmt: skip


def _eff(e1, e2):
    """Two-surface grey exchange emissivity (parallel-plate formula, applied pairwise)."""
    return 1.0 / (1.0 / e1 + 1.0 / e2 - 1.0)


# The links: (node i, node j) pairs, in the order ``links`` returns their conductances.
LINKS = (
    (ROOF_OUT, ROOF_IN), (SUNWALL_OUT, SUNWALL_IN), (SHADEWALL_OUT, SHADEWALL_IN),  # Conduction.
    (ROOF_IN, INDOOR), (SUNWALL_IN, INDOOR), (SHADEWALL_IN, INDOOR), (FLOOR, INDOOR),  # Conv.
    (ROOF_IN, FLOOR), (ROOF_IN, SUNWALL_IN), (ROOF_IN, SHADEWALL_IN),  # Interior longwave ...
    (FLOOR, SUNWALL_IN), (FLOOR, SHADEWALL_IN), (SUNWALL_IN, SHADEWALL_IN),
    (INDOOR, CANYON),  # Ventilation.
    (SUNWALL_OUT, CANYON), (SHADEWALL_OUT, CANYON), (ROAD, CANYON),  # Canyon convection.
    (ROAD, SUNWALL_OUT), (ROAD, SHADEWALL_OUT), (SUNWALL_OUT, SHADEWALL_OUT),  # Canyon longwave.
)  # fmt: skip
_INCIDENCE = np.zeros((len(LINKS), NUM_NODES), np.float32)  # [K, N]: +1 at i, -1 at j.
for _k, (_i, _j) in enumerate(LINKS):
    _INCIDENCE[_k, _i], _INCIDENCE[_k, _j] = 1.0, -1.0


def link_conductances(
    p: BuildingParams, temps: chex.Array, wind: chex.Array, ach: chex.Array
) -> chex.Array:
    """[len(LINKS)] conductances (W m-2 K-1) between node pairs, linearised at ``temps``."""
    g = geometry(p)
    t = temps
    rad = lambda i, j: 4.0 * SIGMA * (0.5 * (t[i] + t[j])) ** 3  # d(sigma T^4)/dT at the mean.
    a_r, a_w, a_d = g["a_roof"], g["a_wall"], g["a_road"]
    e_in = _eff(EM_INTERIOR, EM_INTERIOR)
    f_rf, f_ww = g["f_roof_floor"], g["f_wall_wall"]
    f_rw = 0.5 * (1.0 - f_rf)  # Ceiling (floor) -> each wall.
    f_ww_out = 1.0 - 2.0 * g["psi_wall"]  # Canyon wall -> opposite wall.
    # Ceiling is "enhanced" when colder than the air below it (unstable), the floor when warmer.
    h_roof = jnp.where(t[ROOF_IN] < t[INDOOR], H_ROOF_ENHANCED, H_ROOF_STABLE)
    h_floor = jnp.where(t[FLOOR] > t[INDOOR], H_ROOF_ENHANCED, H_ROOF_STABLE)
    h_can = H_EXT_0 + H_EXT_WIND * CANYON_WIND_FACTOR * wind
    e_rw = _eff(p.road_emissivity, p.wall_emissivity)
    e_ww = _eff(p.wall_emissivity, p.wall_emissivity)
    # Road -> each wall view factor (1 - psi_road) / 2 times the road area.
    road_wall = a_d * 0.5 * (1.0 - g["psi_road"])
    return jnp.stack(
        [
            a_r * p.roof_u,
            a_w * p.wall_u,
            a_w * p.wall_u,
            a_r * h_roof,
            a_w * H_WALL_INTERIOR,
            a_w * H_WALL_INTERIOR,
            a_r * h_floor,
            a_r * f_rf * e_in * rad(ROOF_IN, FLOOR),
            a_r * f_rw * e_in * rad(ROOF_IN, SUNWALL_IN),
            a_r * f_rw * e_in * rad(ROOF_IN, SHADEWALL_IN),
            a_r * f_rw * e_in * rad(FLOOR, SUNWALL_IN),
            a_r * f_rw * e_in * rad(FLOOR, SHADEWALL_IN),
            a_w * f_ww * e_in * rad(SUNWALL_IN, SHADEWALL_IN),
            RHO_AIR * CP_AIR * ach / 3600.0 * g["v_in"],
            a_w * h_can,
            a_w * h_can,
            a_d * h_can,
            road_wall * e_rw * rad(ROAD, SUNWALL_OUT),
            road_wall * e_rw * rad(ROAD, SHADEWALL_OUT),
            a_w * f_ww_out * e_ww * rad(SUNWALL_OUT, SHADEWALL_OUT),
        ]
    )


def boundary_terms(
    p: BuildingParams, temps: chex.Array, forcing: chex.Array
) -> tuple[chex.Array, chex.Array]:
    """Boundary conductances [N] (W m-2 K-1) and sources [N] (W m-2), linearised at ``temps``.

    A node's boundary flow is ``source_i - g_i T_i``: absorbed shortwave and sky longwave,
    convection with the air above the canyon (roof and canyon air), and emission to the sky
    ``e sigma T^4 ~ e sigma (4 T0^3 T - 3 T0^4)``. Shortwave: the roof takes the global flux; of
    the direct beam entering the canyon a share ``hwr / (1 + hwr)`` hits the sunlit wall and the
    rest the road; diffuse light reaches each canyon surface by its sky view factor; reflected
    light leaves the canyon (no inter-reflection).
    """
    g = geometry(p)
    t_air, sw, dif, lw, wind = (forcing[c] for c in (TAIR, SW_GLOBAL, SW_DIFFUSE, LW_DOWN, WIND))
    direct = jnp.maximum(sw - dif, 0.0)
    hwr = p.canyon_hwr
    a_r, a_w, a_d = g["a_roof"], g["a_wall"], g["a_road"]
    zero = jnp.zeros_like(t_air)
    sw_abs = jnp.stack(
        [
            a_r * (1.0 - p.roof_albedo) * sw,
            zero,
            (1.0 - p.wall_albedo) * (a_d * direct * hwr / (1.0 + hwr) + a_w * g["psi_wall"] * dif),
            zero,
            (1.0 - p.wall_albedo) * a_w * g["psi_wall"] * dif,
            zero, zero, zero,
            (1.0 - p.road_albedo) * a_d * (direct / (1.0 + hwr) + g["psi_road"] * dif),
            zero,
        ]
    )  # fmt: skip
    # Sky exchange weight e * A * psi of each surface.
    sky = jnp.stack(
        [a_r * p.roof_emissivity, zero, a_w * g["psi_wall"] * p.wall_emissivity, zero,
         a_w * g["psi_wall"] * p.wall_emissivity, zero, zero, zero,
         a_d * g["psi_road"] * p.road_emissivity, zero]
    )  # fmt: skip
    h_roof = a_r * (H_EXT_0 + H_EXT_WIND * wind)
    h_top = a_d * RHO_AIR * CP_AIR * (TOP_EXCHANGE_WIND * wind + TOP_EXCHANGE_CALM)
    conv = jnp.zeros((NUM_NODES,), temps.dtype).at[ROOF_OUT].set(h_roof).at[CANYON].set(h_top)
    g_lw = sky * 4.0 * SIGMA * temps**3
    conductance = conv + g_lw
    source = sw_abs + sky * lw + sky * 3.0 * SIGMA * temps**4 + conv * t_air
    return conductance, source


def solve_diagonally_dominant(matrix: chex.Array, rhs: chex.Array) -> chex.Array:
    """Solves ``matrix @ x = rhs`` ([N, N], [N, M]) by Gauss-Jordan elimination without pivoting.

    Stable for the strictly diagonally dominant matrices of the BEM. Written as N rank-1 updates
    of the whole system (unrolled over N), which compiles in a fraction of a second and
    vectorises across a vmapped batch better than a batched LAPACK call.
    """
    n = matrix.shape[0]
    a, b = matrix, rhs
    for k in range(n):
        pivot_row, pivot_rhs = a[k] / a[k, k], b[k] / a[k, k]
        # Eliminate column k from every other row, and normalise row k.
        factor = jnp.where(jnp.arange(n) == k, 0.0, a[:, k])  # [N]
        a = (a - factor[:, None] * pivot_row[None, :]).at[k].set(pivot_row)
        b = (b - factor[:, None] * pivot_rhs[None, :]).at[k].set(pivot_rhs)
    return b


def step(
    p: BuildingParams,
    temps: chex.Array,
    forcing: chex.Array,
    *,
    heating_setpoint: chex.Array,
    cooling_setpoint: chex.Array,
    ach: chex.Array,
    waste_heat_in: chex.Array,
    capacity: chex.Array,
    dt: float,
) -> tuple[chex.Array, Fluxes]:
    """One backward-Euler step of the building and canyon (unbatched; vmap for many).

    Args:
      p: the building.
      temps: [NUM_NODES] K, the node temperatures now.
      forcing: [5] weather over the step (``jaxml.data.weather.CHANNELS``: K, W m-2, m/s).
      heating_setpoint, cooling_setpoint: [] K; the indoor air is kept in between.
      ach: [] ventilation, air changes per hour (with the canyon air).
      waste_heat_in: [] W m-2 put into the canyon this step (the last step's ``waste_heat``,
        plus the heat its air conditioning removed).
      capacity: [] W m-2, the most heating or cooling one step can deliver (``inf``: unlimited).
      dt: step length in seconds.

    Returns:
      (temps' [NUM_NODES], ``Fluxes``).
    """
    chex.assert_shape(temps, (NUM_NODES,))
    chex.assert_shape(forcing, (5,))
    c = capacities(p) / dt
    g_links = link_conductances(p, temps, forcing[WIND], ach)
    inc = jnp.asarray(_INCIDENCE)
    laplacian = inc.T @ (g_links[:, None] * inc)  # [N, N], symmetric, rows sum to 0.
    g_b, s_b = boundary_terms(p, temps, forcing)
    matrix = jnp.diag(c + g_b) + laplacian
    # Solve for the change d = T' - T (small numbers, so the balance closes to float32
    # rounding): (C/dt + G) d = sources - G T, with G the boundary and link conductances.
    inject = jnp.zeros((NUM_NODES,), temps.dtype).at[CANYON].set(waste_heat_in)
    rhs_free = s_b - g_b * temps - laplacian @ temps + inject
    unit = jnp.zeros((NUM_NODES,), temps.dtype).at[INDOOR].set(1.0)
    x = solve_diagonally_dominant(matrix, jnp.stack([rhs_free, unit], axis=1))
    free, response = x[:, 0], x[:, 1]  # response: K per (W m-2) into the indoor air.
    t_free = temps[INDOOR] + free[INDOOR]
    heating = jnp.clip((heating_setpoint - t_free) / response[INDOOR], 0.0, capacity)
    cooling = jnp.clip((t_free - cooling_setpoint) / response[INDOOR], 0.0, capacity)
    delta = free + (heating - cooling) * response
    new = temps + delta
    waste = jnp.minimum(WASTE_AC * cooling + WASTE_HEAT * heating, WASTE_LIMIT)
    storage = jnp.sum(c * delta)
    boundary = jnp.sum(s_b - g_b * temps - g_b * delta)
    fluxes = Fluxes(
        heating=heating,
        cooling=cooling,
        waste_heat=waste,
        heat_to_canyon=waste_heat_in,
        free_indoor=t_free,
        storage=storage,
        boundary=boundary,
    )
    return new, fluxes


def electricity(fluxes: Fluxes) -> tuple[chex.Array, chex.Array]:
    """(P_ac, P_heat) W m-2: ``cooling / 3.6 / 0.43`` and ``heating / 0.9 / 0.96``."""
    return (
        fluxes.cooling / COP_AC / ETA_AC,
        fluxes.heating / ETA_HEAT_1 / ETA_HEAT_2,
    )

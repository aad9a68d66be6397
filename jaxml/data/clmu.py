"""CLM-Urban building parameters of five cities, from their CLM5 surface datasets.

"Reinforcement Learning Meets Urban Climate Modeling: RL-based HVAC control" (Yu et al.,
arXiv 2505.07045) takes each city's urban geometry and envelope from CLM surface data
(``surfdata_<city>.nc``). ``scripts/convert_clmu.py`` (h5py, run once) writes the fields jaxml
uses to ``jaxml/data/clmu/buildings.json``; this module reads that JSON only (no NetCDF at run
time) and derives the lumped envelope properties of ``jaxml.envs.hvac``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from jaxml.utils import checks

DATA_DIR = Path(__file__).parent / "clmu"
BUILDINGS_JSON = DATA_DIR / "buildings.json"
CITIES = ("london", "newyork", "beijing", "hongkong", "singapore")
# CLM's urban density classes, numurbl = 1, 2, 3.
DENSITY_CLASSES = ("tall_building_district", "high_density", "medium_density")
NUM_LAYERS = 10  # nlevurb: roof and wall layers, each 1/10 of the thickness (CLM's uniform grid).
# CLM5 soil layer thicknesses (m) of the top levels; the impervious road layers are the first
# NLEV_IMPROAD of them.
CLM5_SOIL_DZ = (0.02, 0.04, 0.06, 0.08, 0.12, 0.16, 0.20, 0.24, 0.28, 0.32)
ROAD_SLAB_DEPTH = 0.5  # m of road column lumped into one node (chosen; see docs/hvac.md).
SOIL_CV = 2.0e6  # J m-3 K-1 under the impervious layers (a moist-soil value; chosen).


class Building(NamedTuple):
    """The lumped building and canyon of one city and density class (SI units).

    Attributes:
      city, density_class: where the numbers come from.
      height: H, roof height (m) = wall height = canyon depth.
      canyon_hwr: H / W, canyon height-to-width ratio.
      roof_fraction: B / (B + W), the roof's share of the urban area.
      roof_u, wall_u: W m-2 K-1, conductance through the roof / wall (layers in series).
      roof_c, wall_c: J m-2 K-1, heat capacity per area of the roof / wall.
      road_c: J m-2 K-1, heat capacity of the top ``ROAD_SLAB_DEPTH`` m of road.
      roof_albedo, wall_albedo, road_albedo: shortwave albedos (mean of the two bands, direct).
      roof_emissivity, wall_emissivity, road_emissivity: outer-surface emissivities.
      t_building_min: K, CLM's minimum interior temperature for this class (kept for reference).
      latitude, longitude: the CLM grid cell (deg north, deg east).
    """

    city: str
    density_class: int
    height: float
    canyon_hwr: float
    roof_fraction: float
    roof_u: float
    wall_u: float
    roof_c: float
    wall_c: float
    road_c: float
    roof_albedo: float
    wall_albedo: float
    road_albedo: float
    roof_emissivity: float
    wall_emissivity: float
    road_emissivity: float
    t_building_min: float
    latitude: float
    longitude: float


@cache
def _table() -> dict[str, Any]:
    return json.loads(BUILDINGS_JSON.read_text())


def raw_fields(city: str) -> dict[str, Any]:
    """The surface-data fields of ``city`` as stored (per class [3], per layer/band [3][L])."""
    checks.choice(city, "city", CITIES)
    return _table()["cities"][city]


def load_building(city: str, density_class: int = 3) -> Building:
    """The building of ``city`` in CLM density class ``density_class`` (numurbl 1, 2 or 3).

    Roof and wall layers (10 of equal thickness) are lumped into a series conductance
    ``1 / sum(dz / k)`` and a capacity ``sum(cv dz)``; the road into a 0.5 m slab.

    Raises:
      ValueError: for an unknown city or a density class outside 1..3.
    """
    fields = raw_fields(city)["fields"]
    checks.choice(density_class, "density_class", (1, 2, 3))
    i = density_class - 1

    def envelope(kind: str) -> tuple[float, float]:
        thick = fields[f"THICK_{kind}"][i]
        dz = thick / NUM_LAYERS
        tk = np.asarray(fields[f"TK_{kind}"][i])
        cv = np.asarray(fields[f"CV_{kind}"][i])
        return float(1.0 / np.sum(dz / tk)), float(np.sum(cv * dz))

    roof_u, roof_c = envelope("ROOF")
    wall_u, wall_c = envelope("WALL")
    nlev = int(fields["NLEV_IMPROAD"][i])
    dz = np.asarray(CLM5_SOIL_DZ[:nlev])
    cv = np.asarray(fields["CV_IMPROAD"][i][:nlev])
    road_c = float(np.sum(cv * dz) + SOIL_CV * max(ROAD_SLAB_DEPTH - dz.sum(), 0.0))
    albedo = lambda name: float(np.mean(np.asarray(fields[name][i])))
    info = raw_fields(city)
    return Building(
        city=city,
        density_class=density_class,
        height=float(fields["HT_ROOF"][i]),
        canyon_hwr=float(fields["CANYON_HWR"][i]),
        roof_fraction=float(fields["WTLUNIT_ROOF"][i]),
        roof_u=roof_u,
        wall_u=wall_u,
        roof_c=roof_c,
        wall_c=wall_c,
        road_c=road_c,
        roof_albedo=albedo("ALB_ROOF_DIR"),
        wall_albedo=albedo("ALB_WALL_DIR"),
        road_albedo=albedo("ALB_IMPROAD_DIR"),
        roof_emissivity=float(fields["EM_ROOF"][i]),
        wall_emissivity=float(fields["EM_WALL"][i]),
        road_emissivity=float(fields["EM_IMPROAD"][i]),
        t_building_min=float(fields["T_BUILDING_MIN"][i]),
        latitude=float(info["latitude"]),
        longitude=float(info["longitude"]),
    )

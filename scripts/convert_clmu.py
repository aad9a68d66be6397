"""Writes ``jaxml/data/clmu/buildings.json`` from the five CLM surface datasets (run once).

  pip install h5py   # the "dev" extra; the runtime reads only the JSON
  python scripts/convert_clmu.py [--clmu-dir ../shared/data/clmu]

Keeps, for each city and each of CLM's three urban density classes (``numurbl`` 1..3: tall
building district, high density, medium density), the urban fields the HVAC environment uses
(geometry, envelope layers, radiative properties; see ``jaxml/data/clmu/README.md``), as plain
lists in the file's own units. ``jaxml.data.clmu`` reads the JSON.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import h5py
import numpy as np

from jaxml.data import clmu

DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "clmu"
# Fields with a [numurbl] axis (first after any layer/band axis), then per-layer [nlevurb, numurbl]
# and per-band [numrad, numurbl] ones.
PER_CLASS = ("PCT_URBAN", "CANYON_HWR", "HT_ROOF", "WTLUNIT_ROOF", "WTROAD_PERV", "THICK_ROOF",
             "THICK_WALL", "T_BUILDING_MIN", "EM_ROOF", "EM_WALL", "EM_IMPROAD", "EM_PERROAD",
             "WIND_HGT_CANYON", "NLEV_IMPROAD")  # fmt: skip
PER_LAYER = ("TK_ROOF", "TK_WALL", "TK_IMPROAD", "CV_ROOF", "CV_WALL", "CV_IMPROAD")
PER_BAND = ("ALB_ROOF_DIR", "ALB_ROOF_DIF", "ALB_WALL_DIR", "ALB_WALL_DIF", "ALB_IMPROAD_DIR",
            "ALB_IMPROAD_DIF", "ALB_PERROAD_DIR", "ALB_PERROAD_DIF")  # fmt: skip


def _attr(ds, name):
    value = ds.attrs.get(name, b"")
    return value.decode() if isinstance(value, bytes) else str(value)


def convert(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        out = {
            "latitude": float(np.asarray(f["LATIXY"]).ravel()[0]),
            "longitude": float(np.asarray(f["LONGXY"]).ravel()[0]),
            "urban_region_id": int(np.asarray(f["URBAN_REGION_ID"]).ravel()[0]),
            "fields": {},
            "units": {},
        }
        for name in PER_CLASS:  # [numurbl, 1, 1] -> [3]
            out["fields"][name] = np.asarray(f[name])[:, 0, 0].tolist()
        for name in PER_LAYER + PER_BAND:  # [L, numurbl, 1, 1] -> [3][L]
            out["fields"][name] = np.asarray(f[name])[:, :, 0, 0].T.astype(float).tolist()
        for name in PER_CLASS + PER_LAYER + PER_BAND:
            out["units"][name] = _attr(f[name], "units")
        out["source"] = {k: _attr(f, k) for k in ("Source", "Version", "History_Log")}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clmu-dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    data = {"density_classes": list(clmu.DENSITY_CLASSES), "cities": {}}
    for city in clmu.CITIES:
        path = args.clmu_dir / f"surfdata_{city}.nc"
        if not path.exists():
            raise SystemExit(f"--clmu-dir: expected {path.name} in {args.clmu_dir}")
        data["cities"][city] = convert(path)
    clmu.BUILDINGS_JSON.write_text(json.dumps(data, indent=1) + "\n")
    print(f"wrote {clmu.BUILDINGS_JSON} ({clmu.BUILDINGS_JSON.stat().st_size} bytes)")


if __name__ == "__main__":
    main()

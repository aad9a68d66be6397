"""Writes ``jaxml/data/weather/epw_hourly.npz`` from the 14 EPW files (run once; not at runtime).

  python scripts/convert_weather.py [--epw-dir ../shared/data/weather]

Only the five hourly columns the HVAC environment uses are kept (dry-bulb temperature, global
and diffuse horizontal irradiance, horizontal infrared, wind speed; see
``jaxml.data.weather.EPW_COLUMNS``), as int16 tenths, which store EPW's one-decimal values
exactly. ``jaxml.data.weather.load_site`` reads the archive back; ``tests/data/test_weather.py``
checks it against a direct parse of the EPW files. Also copies ``LICENSE.sinergym``.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from jaxml.data import weather

DEFAULT_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "weather"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epw-dir", type=Path, default=DEFAULT_DIR)
    args = parser.parse_args()
    paths = sorted(args.epw_dir.glob("*.epw"))
    if not paths:
        raise SystemExit(f"--epw-dir: expected a folder with .epw files, got {args.epw_dir}")
    names, location, tenths = [], [], []
    for path in paths:
        epw = weather.read_epw(path)
        values = epw.forcing.astype(np.float64)
        values[:, weather.TAIR] -= weather.CELSIUS
        scaled = np.round(values * 10.0)
        # float32 parsing then K->C round-trips every one-decimal value to within 1e-4.
        assert np.all(np.abs(scaled - values * 10.0) < 1e-2), path
        names.append(epw.name)
        location.append((epw.latitude, epw.longitude, epw.timezone))
        tenths.append(scaled.astype(np.int16))
    weather.WEATHER_DIR.mkdir(exist_ok=True)
    np.savez_compressed(
        weather.EPW_NPZ,
        sites=np.array(names),
        location=np.array(location, np.float64),  # [S, 3] latitude, longitude, timezone.
        forcing_tenths=np.stack(tenths),  # [S, 8760, 5] int16, CHANNELS, tair in C.
        channels=np.array(weather.CHANNELS),
    )
    shutil.copy(args.epw_dir / "LICENSE.sinergym", weather.WEATHER_DIR / "LICENSE.sinergym")
    print(f"wrote {weather.EPW_NPZ} ({weather.EPW_NPZ.stat().st_size} bytes, {len(names)} sites)")


if __name__ == "__main__":
    main()

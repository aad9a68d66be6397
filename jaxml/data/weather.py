"""Weather for the HVAC environment: 14 real EPW years and a stochastic generator for five cities.

"Reinforcement Learning Meets Urban Climate Modeling: RL-based HVAC control" (Yu et al.,
arXiv 2505.07045) drives its building model with ERA5 forcing for London, New York, Beijing,
Hong Kong and Singapore. jaxml ships two offline substitutes (provenance in
``jaxml/data/weather/README.md``):

- **EPW years** (``load_site``): the hourly columns the building model uses from the 14 EPW files
  that sinergym distributes (MIT licence), stored exactly (``int16`` in tenths) in one ``.npz``.
  ``read_epw`` parses an EPW file directly (it is what the conversion script and the tests use).
- **A generator** (``fit_generator`` / ``generate``) for the five cities, fitted to the mean and
  standard deviation of their ERA5 forcing (``jaxml/data/clmu/city_forcing_stats.csv``): a
  seasonal and a diurnal cycle plus AR(1) noise, pure JAX with an explicit key.

Every weather series has the five channels of ``CHANNELS`` (SI units, air temperature in K).
"""

from __future__ import annotations

import csv
import os
from functools import cache
from pathlib import Path
from typing import NamedTuple

import chex
import jax
import jax.numpy as jnp
import numpy as np

from jaxml.utils import checks

WEATHER_DIR = Path(__file__).parent / "weather"
EPW_NPZ = WEATHER_DIR / "epw_hourly.npz"
CITY_STATS_CSV = Path(__file__).parent / "clmu" / "city_forcing_stats.csv"

# Channels of every forcing array, in this order.
CHANNELS = ("tair", "sw_global", "sw_diffuse", "lw_down", "wind")
TAIR, SW_GLOBAL, SW_DIFFUSE, LW_DOWN, WIND = range(5)
# EPW column (0-based) of each channel: dry bulb (C), global and diffuse horizontal (Wh/m2 over
# the hour ending at the row's time, i.e. that hour's mean W/m2), horizontal infrared (W/m2),
# wind speed (m/s).
EPW_COLUMNS = {"tair": 6, "sw_global": 13, "sw_diffuse": 15, "lw_down": 12, "wind": 21}
# EPW's "missing" codes for those columns.
EPW_MISSING = {"tair": 99.9, "sw_global": 9999.0, "sw_diffuse": 9999.0, "lw_down": 9999.0,
               "wind": 999.0}  # fmt: skip
HOURS_PER_YEAR = 8760
CELSIUS = 273.15

CITIES = ("london", "newyork", "beijing", "hongkong", "singapore")
# Names in city_forcing_stats.csv, and the CLM grid cell (lat, lon) of each city's surface data.
CITY_CSV_NAMES = {"london": "London", "newyork": "New York", "beijing": "Beijing",
                  "hongkong": "Hong Kong", "singapore": "Singapore"}  # fmt: skip
CITY_LATLON = {"london": (51.525, -0.125), "newyork": (40.725, -74.025),
               "beijing": (39.925, 116.425), "hongkong": (22.375, 114.125),
               "singapore": (1.375, 103.775)}  # fmt: skip


# ------------------------------------------------------------------------------------ EPW data
class EPWWeather(NamedTuple):
    """One EPW year, hourly.

    Attributes:
      name: the site key (the EPW file name without ``.epw``).
      latitude, longitude: degrees (north, east).
      timezone: hours from UTC of the file's standard time.
      forcing: [8760, 5] float32 in ``CHANNELS`` order; row ``h`` is the hour ending at
        ``h + 1`` o'clock local standard time, hour 0 ending at 01:00 on 1 January.
    """

    name: str
    latitude: float
    longitude: float
    timezone: float
    forcing: np.ndarray


def read_epw(path: str | os.PathLike) -> EPWWeather:
    """Parses an EPW file (the 8 header lines and 8,760 hourly rows) into ``EPWWeather``.

    Air temperature is converted to K; the other channels keep their EPW units (W/m2, m/s).

    Raises:
      ValueError: naming the file (and the line and column) when the LOCATION header is
        malformed, the file has not 8,760 data rows, a value is not a number, or a used
        column holds EPW's missing-value code.
    """
    path = Path(path)
    lines = path.read_text(encoding="latin-1").splitlines()
    header = lines[0].split(",") if lines else []
    checks.expect(
        len(header) >= 10 and header[0] == "LOCATION",
        f"path ({path.name})",
        "an EPW file whose first line is LOCATION,... with 10 fields",
        lines[0][:60] if lines else "",
    )
    try:
        lat, lon, tz = float(header[6]), float(header[7]), float(header[8])
    except ValueError:
        raise ValueError(
            checks.message(f"path ({path.name})", "numeric latitude/longitude/timezone", header)
        ) from None
    rows = [line for line in lines[8:] if line.strip()]
    checks.expect(
        len(rows) == HOURS_PER_YEAR,
        f"path ({path.name})",
        f"{HOURS_PER_YEAR} hourly data rows after the 8 header lines",
        len(rows),
    )
    out = np.empty((HOURS_PER_YEAR, len(CHANNELS)), np.float64)
    for h, row in enumerate(rows):
        fields = row.split(",")
        for c, name in enumerate(CHANNELS):
            col = EPW_COLUMNS[name]
            where = f"path ({path.name}, line {h + 9}, column {col + 1} {name})"
            try:
                value = float(fields[col])
            except (IndexError, ValueError):
                got = fields[col] if col < len(fields) else "<missing field>"
                raise ValueError(checks.message(where, "a number", got)) from None
            checks.expect(value < EPW_MISSING[name], where, "a value (not EPW's missing code)",
                          value)  # fmt: skip
            out[h, c] = value
    out[:, TAIR] += CELSIUS
    return EPWWeather(path.stem, lat, lon, tz, out.astype(np.float32))


@cache
def _epw_archive() -> dict[str, np.ndarray]:
    with np.load(EPW_NPZ) as z:
        return {k: z[k] for k in z.files}


def sites() -> tuple[str, ...]:
    """The shipped EPW site keys (file names without ``.epw``), sorted."""
    return tuple(str(s) for s in _epw_archive()["sites"])


def load_site(name: str) -> EPWWeather:
    """The shipped EPW year of site ``name`` (one of ``sites()``), exactly as ``read_epw`` reads it.

    Raises:
      ValueError: for an unknown site (the message lists the shipped ones).
    """
    archive = _epw_archive()
    names = sites()
    checks.choice(name, "site", names)
    i = names.index(name)
    tenths = archive["forcing_tenths"][i].astype(np.float64) / 10.0  # [8760, 5], exact.
    tenths[:, TAIR] += CELSIUS
    lat, lon, tz = (float(v) for v in archive["location"][i])
    return EPWWeather(name, lat, lon, tz, tenths.astype(np.float32))


def hourly_to_steps(forcing: np.ndarray, step_seconds: int = 1800) -> np.ndarray:
    """[8760, 5] hourly means -> [8760 * 3600 / step_seconds, 5] values at each step's middle.

    An EPW row is the mean over the hour ending at its time, so it sits at the half hour; a step
    of length ``step_seconds`` starting at ``k * step_seconds`` takes the linear interpolation at
    its midpoint, wrapping around the year (the series is used as a cycle).
    """
    checks.expect(3600 % step_seconds == 0, "step_seconds", "a divisor of 3600", step_seconds)
    n = HOURS_PER_YEAR * 3600 // step_seconds
    t = (np.arange(n) + 0.5) * step_seconds / 3600.0 - 0.5  # In units of rows (row h at h+0.5).
    lo = np.floor(t).astype(int)
    frac = (t - lo)[:, None]
    lo_rows, hi_rows = forcing[lo % HOURS_PER_YEAR], forcing[(lo + 1) % HOURS_PER_YEAR]
    return ((1 - frac) * lo_rows + frac * hi_rows).astype(np.float32)


# ---------------------------------------------------------------------------- ERA5 statistics
class CityStats(NamedTuple):
    """Mean and standard deviation of a city's ERA5 forcing (from ``city_forcing_stats.csv``).

    Units are the CSV's: Tair K, SWdown and LWdown W/m2, Wind m/s.
    """

    city: str
    mean: dict[str, float]
    std: dict[str, float]


def load_city_stats(city: str) -> CityStats:
    """The ERA5 statistics of ``city`` (one of ``CITIES``).

    Raises:
      ValueError: for an unknown city.
    """
    checks.choice(city, "city", CITIES)
    with open(CITY_STATS_CSV, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["city"] == CITY_CSV_NAMES[city]]
    by_type = {r["type"]: {k: float(v) for k, v in r.items() if k not in ("city", "type")}
               for r in rows}  # fmt: skip
    return CityStats(city, by_type["mean"], by_type["std"])


# --------------------------------------------------------------------------------- generator
class GeneratorParams(NamedTuple):
    """A city's weather generator (arXiv 2505.07045 setting; fitted by ``fit_generator``).

    forcing(t) = cycles(t) + noise(t), with noise an AR(1) process per channel:

    - ``tair`` and ``lw_down``: ``mean + seasonal_amp * cos(2 pi (doy - peak_doy) / 365)
      + diurnal_amp * cos(2 pi (hour - peak_hour) / 24) + noise_std * n``;
    - ``sw_global``: ``solar_constant * cos(zenith)+ * transmissivity * (1 + noise_std * n)``
      (zero at night), ``sw_diffuse`` a fixed fraction of it;
    - ``wind``: ``mean + noise_std * n``, clipped at 0.

    ``n`` is a unit-variance AR(1) series: ``n_t = phi * n_{t-1} + sqrt(1 - phi^2) * eps_t``.
    Per-channel arrays are indexed by ``NOISE_CHANNELS`` (tair, sw, lw_down, wind).

    Attributes:
      latitude: [] degrees north (solar geometry).
      mean: [4] the cycle-free mean of each noise channel (the SW entry is unused: 0).
      seasonal_amp: [4] amplitude of the annual cosine (0 for sw and wind).
      diurnal_amp: [4] amplitude of the daily cosine (0 for sw and wind).
      noise_std: [4] standard deviation of the noise (relative for sw).
      phi_hour: [4] AR(1) coefficient per hour (correlation one hour apart).
      transmissivity: [] mean fraction of the top-of-atmosphere flux reaching the ground.
      diffuse_fraction: [] sw_diffuse / sw_global.
    """

    latitude: chex.Array
    mean: chex.Array
    seasonal_amp: chex.Array
    diurnal_amp: chex.Array
    noise_std: chex.Array
    phi_hour: chex.Array
    transmissivity: chex.Array
    diffuse_fraction: chex.Array


NOISE_CHANNELS = ("tair", "sw", "lw_down", "wind")
SOLAR_CONSTANT = 1361.0  # W/m2.
PEAK_DOY = 200.0  # Warmest day of the year in the northern hemisphere (about 19 July).
PEAK_HOUR = 15.0  # Warmest hour of the day, local solar time.
DIFFUSE_FRACTION = 0.35  # Chosen: a typical annual diffuse share of global irradiance.
# Correlation one hour apart: synoptic anomalies persist about 1.5 days (T, LW), cloudiness about
# half a day, wind about 8 hours (chosen, typical mid-latitude autocorrelation times).
PHI_HOUR = (np.exp(-1 / 36.0), np.exp(-1 / 12.0), np.exp(-1 / 36.0), np.exp(-1 / 8.0))


def variance_shares(latitude: float) -> tuple[float, float]:
    """(seasonal, diurnal) shares of the air-temperature variance at ``latitude`` (chosen).

    The ERA5 statistics give only the total variance, so its split into cycles and noise is a
    modelling choice: the seasonal cycle holds 80 % of the variance poleward of 20 degrees and
    fades to 0 at the equator; the diurnal cycle holds 10 % there and up to 60 % at the equator,
    where the year is flat (so Singapore's 1.3 K spread is mostly the day).
    """
    x = min(abs(latitude) / 20.0, 1.0)
    return 0.8 * x, 0.1 + 0.5 * (1.0 - x)


def _cos_zenith_np(latitude: float, doy: np.ndarray, hour: np.ndarray) -> np.ndarray:
    decl = np.deg2rad(23.44) * np.sin(2 * np.pi * (284.0 + doy) / 365.0)
    lat = np.deg2rad(latitude)
    hour_angle = np.deg2rad(15.0 * (hour - 12.0))
    return np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)


def fit_generator(city: str, step_seconds: int = 1800) -> GeneratorParams:
    """Fits the generator of ``city`` to its ERA5 mean and standard deviation.

    By construction the generated series has the CSV's mean of every channel and its standard
    deviation for tair, lw_down and wind (up to the wind clip at 0); for sw_global the noise
    level is solved from the variance of ``cos(zenith)+`` over the year and clipped to
    [0, 0.5] (at 0.5 the cycle alone may leave the spread a little short). The LW cycles share
    the air temperature's variance split.

    Raises:
      ValueError: for an unknown city.
    """
    stats = load_city_stats(city)
    lat = CITY_LATLON[city][0]
    seasonal, diurnal = variance_shares(lat)
    sign = 1.0 if lat >= 0 else -1.0  # The southern summer peaks half a year later.
    amp = {}
    for var, csv_name in (("tair", "Tair"), ("lw_down", "LWdown")):
        var_total = stats.std[csv_name] ** 2
        # A cosine of amplitude a has variance a^2 / 2.
        amp[var] = (
            sign * np.sqrt(2 * seasonal * var_total),
            np.sqrt(2 * diurnal * var_total),
            np.sqrt(max(1.0 - seasonal - diurnal, 0.0) * var_total),
        )
    # Shortwave: E[sw] = S0 tau E[c], E[sw^2] = S0^2 tau^2 (1 + s^2) E[c^2], c = cos(zenith)+.
    t = (np.arange(HOURS_PER_YEAR * 3600 // step_seconds) + 0.5) * step_seconds / 3600.0
    c = np.maximum(_cos_zenith_np(lat, t // 24, t % 24), 0.0)
    tau = stats.mean["SWdown"] / (SOLAR_CONSTANT * c.mean())
    ratio = (stats.std["SWdown"] ** 2 / (SOLAR_CONSTANT * tau) ** 2 + c.mean() ** 2) / np.mean(c**2)
    sw_noise = float(np.clip(np.sqrt(max(ratio - 1.0, 0.0)), 0.0, 0.5))
    f32 = lambda x: jnp.asarray(x, jnp.float32)
    return GeneratorParams(
        latitude=f32(lat),
        mean=f32([stats.mean["Tair"], 0.0, stats.mean["LWdown"], stats.mean["Wind"]]),
        seasonal_amp=f32([amp["tair"][0], 0.0, amp["lw_down"][0], 0.0]),
        diurnal_amp=f32([amp["tair"][1], 0.0, amp["lw_down"][1], 0.0]),
        noise_std=f32([amp["tair"][2], sw_noise, amp["lw_down"][2], stats.std["Wind"]]),
        phi_hour=f32(PHI_HOUR),
        transmissivity=f32(tau),
        diffuse_fraction=f32(DIFFUSE_FRACTION),
    )


def cos_zenith(latitude: chex.Array, doy: chex.Array, hour: chex.Array) -> chex.Array:
    """cos(solar zenith) at ``latitude`` (deg), day of year ``doy`` (0-based), solar ``hour``."""
    decl = jnp.deg2rad(23.44) * jnp.sin(2 * jnp.pi * (284.0 + doy) / 365.0)
    lat = jnp.deg2rad(latitude)
    hour_angle = jnp.deg2rad(15.0 * (hour - 12.0))
    return jnp.sin(lat) * jnp.sin(decl) + jnp.cos(lat) * jnp.cos(decl) * jnp.cos(hour_angle)


def cycles(params: GeneratorParams, hours: chex.Array) -> chex.Array:
    """The noise-free generator at ``hours`` since 1 January 00:00: [..., 5] (``CHANNELS``).

    Returns the deterministic part: ``mean + cycles`` for tair, lw_down and wind, the mean-cloud
    clear-sky shortwave for sw_global and sw_diffuse.
    """
    hours = jnp.asarray(hours, jnp.float32)
    doy = jnp.floor(hours / 24.0) % 365.0
    hour = hours % 24.0
    season = jnp.cos(2 * jnp.pi * (doy - PEAK_DOY) / 365.0)[..., None]
    day = jnp.cos(2 * jnp.pi * (hour - PEAK_HOUR) / 24.0)[..., None]
    lead = lambda x: jnp.reshape(
        x, (1,) * hours.ndim + (-1,)
    )  # [4] -> [1.., 4], no rank promotion.
    base = lead(params.mean) + lead(params.seasonal_amp) * season + lead(params.diurnal_amp) * day
    sw = SOLAR_CONSTANT * jnp.maximum(cos_zenith(params.latitude, doy, hour), 0.0)
    sw = sw * params.transmissivity
    return jnp.stack(
        [base[..., 0], sw, sw * params.diffuse_fraction, base[..., 2], base[..., 3]], axis=-1
    )


def apply_noise(params: GeneratorParams, base: chex.Array, noise: chex.Array) -> chex.Array:
    """[..., 5] forcing from the cycles ``base`` [..., 5] and unit AR(1) noise ``noise`` [..., 4].

    Shortwave noise is multiplicative (clouds scale the flux, and night stays dark); shortwave
    and wind are clipped at 0.
    """
    s = jnp.reshape(params.noise_std, (1,) * (noise.ndim - 1) + (-1,)) * noise
    sw_scale = jnp.maximum(1.0 + s[..., 1], 0.0)
    return jnp.stack(
        [
            base[..., 0] + s[..., 0],
            base[..., 1] * sw_scale,
            base[..., 2] * sw_scale,
            base[..., 3] + s[..., 2],
            jnp.maximum(base[..., 4] + s[..., 3], 0.0),
        ],
        axis=-1,
    )


def ar1_coefficients(params: GeneratorParams, step_seconds: float) -> chex.Array:
    """[4] AR(1) coefficient over one step of ``step_seconds``."""
    return params.phi_hour ** (step_seconds / 3600.0)


def ar1_step(noise: chex.Array, key: chex.PRNGKey, phi: chex.Array) -> chex.Array:
    """One AR(1) step of unit-variance noise [..., 4]: ``phi n + sqrt(1 - phi^2) eps``."""
    eps = jax.random.normal(key, noise.shape, noise.dtype)
    return phi * noise + jnp.sqrt(1.0 - phi**2) * eps


def generate(
    key: chex.PRNGKey,
    params: GeneratorParams,
    num_steps: int,
    *,
    start_hour: float = 0.0,
    step_seconds: int = 1800,
) -> chex.Array:
    """[num_steps, 5] generated forcing (``CHANNELS``) starting at ``start_hour`` of the year.

    The noise starts from its stationary distribution (a unit normal), so every step has the
    same marginal spread. Pure and jittable (``num_steps`` and ``step_seconds`` static).

    Args:
      key: PRNG key.
      params: a city's ``GeneratorParams`` (``fit_generator``).
      num_steps: number of steps.
      start_hour: hours since 1 January 00:00 of the first step's start.
      step_seconds: step length; each step's value is taken at its midpoint.
    """
    checks.positive_int(num_steps, "num_steps")
    phi = ar1_coefficients(params, step_seconds)
    init_key, scan_key = jax.random.split(key)
    n0 = jax.random.normal(init_key, (len(NOISE_CHANNELS),), jnp.float32)

    def body(n, k):
        return ar1_step(n, k, phi), n

    _, noise = jax.lax.scan(body, n0, jax.random.split(scan_key, num_steps))
    hours = start_hour + (jnp.arange(num_steps) + 0.5) * (step_seconds / 3600.0)
    return apply_noise(params, cycles(params, hours), noise)

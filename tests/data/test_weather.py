"""EPW reader and shipped archive, and the ERA5-fitted weather generator."""

import functools
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxml.data import weather

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "weather"
NEEDS_SHARED = pytest.mark.skipif(not SHARED.exists(), reason="shared/data/weather not present")
NY = "USA_NY_New.York-J.F.Kennedy.Intl.AP.744860_TMY3"


def test_shipped_archive_has_14_sites_and_sane_values():
    names = weather.sites()
    assert len(names) == 14 and NY in names
    for name in names:
        site = weather.load_site(name)
        f = site.forcing
        assert f.shape == (8760, 5) and f.dtype == np.float32
        assert np.all((f[:, 0] > 230) & (f[:, 0] < 330))  # K
        assert np.all(f[:, 1:3] >= 0) and np.all(f[:, 1:3] < 1400)
        assert np.all((f[:, 3] > 100) & (f[:, 3] < 550)) and np.all(f[:, 4] >= 0)
        assert -90 <= site.latitude <= 90 and -180 <= site.longitude <= 180


def test_known_rows_of_new_york():
    """The first rows of the JFK TMY3 file (values read off the file by eye)."""
    f = weather.load_site(NY).forcing
    # 1999,1,1,1: dry bulb -4.4 C, GHI 0, DHI 0, IR 243 W/m2, wind 7.2 m/s; hour 3: -3.9, 261, 6.7.
    np.testing.assert_allclose(f[0], [273.15 - 4.4, 0.0, 0.0, 243.0, 7.2], atol=1e-4)
    np.testing.assert_allclose(f[2], [273.15 - 3.9, 0.0, 0.0, 261.0, 6.7], atol=1e-4)
    assert weather.load_site(NY).latitude == pytest.approx(40.65)


@NEEDS_SHARED
@pytest.mark.parametrize("name", sorted(p.stem for p in SHARED.glob("*.epw")))
def test_archive_round_trips_a_direct_parse(name):
    path = SHARED / f"{name}.epw"
    shipped = weather.load_site(name)
    parsed = weather.read_epw(path)
    np.testing.assert_array_equal(shipped.forcing, parsed.forcing)
    # And read_epw against a naive split of the raw text.
    rows = path.read_text(encoding="latin-1").splitlines()[8:]
    cols = [weather.EPW_COLUMNS[c] for c in weather.CHANNELS]
    raw = np.array([[float(r.split(",")[c]) for c in cols] for r in rows])
    raw[:, 0] += 273.15
    np.testing.assert_allclose(parsed.forcing, raw, rtol=1e-6, atol=1e-4)


def _write(tmp_path, lines):
    path = tmp_path / "bad.epw"
    path.write_text("\n".join(lines) + "\n", encoding="latin-1")
    return path


@NEEDS_SHARED
def test_malformed_epw_raises_naming_the_problem(tmp_path):
    good = (SHARED / f"{NY}.epw").read_text(encoding="latin-1").splitlines()
    with pytest.raises(ValueError, match="bad.epw.*8760 hourly data rows"):
        weather.read_epw(_write(tmp_path, good[:-1]))
    with pytest.raises(ValueError, match="LOCATION"):
        weather.read_epw(_write(tmp_path, ["NOT AN EPW"] + good[1:]))
    row = good[20].split(",")
    row[6] = "warm"
    with pytest.raises(ValueError, match=r"line 21, column 7 tair\): expected a number"):
        weather.read_epw(_write(tmp_path, good[:20] + [",".join(row)] + good[21:]))
    row = good[20].split(",")
    row[13] = "9999"
    with pytest.raises(ValueError, match="sw_global.*missing code"):
        weather.read_epw(_write(tmp_path, good[:20] + [",".join(row)] + good[21:]))


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="^site: expected one of"):
        weather.load_site("Paris")
    with pytest.raises(ValueError, match="^city: expected one of"):
        weather.fit_generator("paris")


def test_hourly_to_steps_interpolates_at_step_midpoints():
    hourly = np.random.default_rng(0).normal(size=(8760, 5)).astype(np.float32)
    steps = weather.hourly_to_steps(hourly, 1800)
    assert steps.shape == (17520, 5)
    # Row h is the mean of hour h (centred at h + 0.5 h): step midpoints are at 0.25, 0.75, ...
    mid = (np.arange(17520) + 0.5) * 0.5
    centres = np.arange(-1, 8761) + 0.5
    ext = np.concatenate([hourly[-1:], hourly, hourly[:1]])
    for c in range(5):
        np.testing.assert_allclose(steps[:, c], np.interp(mid, centres, ext[:, c]), atol=1e-5)
    np.testing.assert_allclose(steps.mean(0), hourly.mean(0), atol=1e-4)  # Means survive.


def test_city_stats_are_the_csv():
    s = weather.load_city_stats("singapore")
    assert s.mean["Tair"] == pytest.approx(300.16338118019934)
    assert s.std["Wind"] == pytest.approx(1.9020935192216355)


NUM_SEEDS = 32


@functools.cache
def generated(city):
    """[NUM_SEEDS, 17520, 5] generated years of ``city``."""
    params = weather.fit_generator(city)
    gen = jax.jit(jax.vmap(lambda k: weather.generate(k, params, 17520)))
    keys = jax.random.split(jax.random.PRNGKey(0), NUM_SEEDS)
    return params, np.asarray(gen(keys), np.float64)


# Tolerances on the annual statistics over 32 generated years: the mean of a series with
# hour-scale persistence over 32 years is known to ~0.05 std; spreads to a few percent.
@pytest.mark.parametrize("city", weather.CITIES)
def test_generator_matches_the_era5_statistics(city):
    stats = weather.load_city_stats(city)
    _, x = generated(city)
    flat = x.reshape(-1, 5)
    for ch, name, mean_tol, std_tol in (
        (weather.TAIR, "Tair", 0.1, 0.05),
        (weather.SW_GLOBAL, "SWdown", 0.03, 0.08),
        (weather.LW_DOWN, "LWdown", 0.1, 0.05),
        (weather.WIND, "Wind", 0.05, 0.08),
    ):
        m, s = stats.mean[name], stats.std[name]
        assert abs(flat[:, ch].mean() - m) < mean_tol * s, (name, flat[:, ch].mean(), m)
        assert abs(flat[:, ch].std() - s) < std_tol * s, (name, flat[:, ch].std(), s)


@pytest.mark.parametrize("city", ["london", "beijing", "singapore"])
def test_generator_monthly_means_and_spreads_follow_the_cycles(city):
    """Monthly mean and spread of air temperature over 32 years against the closed form: the
    mean of the noise-free cycles over the month, and sqrt(within-month variance of the cycles
    + noise variance)."""
    params, x = generated(city)
    hours = (np.arange(17520) + 0.5) * 0.5
    month = np.minimum((hours // 24) // (365 / 12), 11).astype(int)
    base = np.asarray(weather.cycles(params, jnp.asarray(hours)), np.float64)[:, weather.TAIR]
    noise_var = float(params.noise_std[0]) ** 2
    for m in range(12):
        sel = month == m
        got = x[:, sel, weather.TAIR]
        want_mean = base[sel].mean()
        want_std = np.sqrt(base[sel].var() + noise_var)
        assert abs(got.mean() - want_mean) < 0.25 + 0.1 * np.sqrt(noise_var), (m, got.mean())
        assert abs(got.std() - want_std) < 0.08 * want_std, (m, got.std(), want_std)
    # Seasons: Beijing's July is far warmer than its January; Singapore's year is flat.
    jan, jul = base[month == 0].mean(), base[month == 6].mean()
    if city == "beijing":
        assert jul - jan > 20
    if city == "singapore":
        assert abs(jul - jan) < 1


def test_generator_noise_has_the_ar1_autocorrelation():
    params = weather.fit_generator("newyork")
    phi = np.asarray(weather.ar1_coefficients(params, 1800))
    step = jax.jit(lambda n, k: weather.ar1_step(n, k, jnp.asarray(phi)))
    keys = jax.random.split(jax.random.PRNGKey(1), 20000)
    n = jnp.zeros((4,))
    series = []
    for k in keys[:4000]:
        n = step(n, k)
        series.append(np.asarray(n))
    s = np.array(series)[500:]
    lag1 = [np.corrcoef(s[:-1, c], s[1:, c])[0, 1] for c in range(4)]
    np.testing.assert_allclose(lag1, phi, atol=0.03)

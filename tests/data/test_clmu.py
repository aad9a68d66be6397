"""CLM urban building parameters: the shipped JSON against the NetCDF files, and the lumping."""

from pathlib import Path

import numpy as np
import pytest

from jaxml.data import clmu

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "clmu"


def test_every_city_and_class_loads_with_physical_values():
    for city in clmu.CITIES:
        for cls in (1, 2, 3):
            b = clmu.load_building(city, cls)
            assert 5 <= b.height <= 200 and 0.2 < b.canyon_hwr < 10 and 0 < b.roof_fraction < 1
            assert 0.05 < b.roof_u < 20 and 0.05 < b.wall_u < 20
            assert 1e4 < b.roof_c < 1e6 and 1e4 < b.wall_c < 1e6 and 1e5 < b.road_c < 2e6
            for v in (b.roof_albedo, b.wall_albedo, b.road_albedo):
                assert 0 < v < 1


def test_lumping_of_london_medium_density():
    """Series conductance and capacity of 10 equal layers, recomputed from the raw fields."""
    raw = clmu.raw_fields("london")["fields"]
    b = clmu.load_building("london", 3)
    dz = raw["THICK_WALL"][2] / 10
    tk, cv = np.array(raw["TK_WALL"][2]), np.array(raw["CV_WALL"][2])
    assert b.wall_u == pytest.approx(1 / sum(dz / k for k in tk))
    assert b.wall_c == pytest.approx(sum(c * dz for c in cv))
    assert b.height == 15.0 and b.canyon_hwr == pytest.approx(0.75)
    assert raw["PCT_URBAN"] == [0.0, 0.0, 100.0]  # The populated class is numurbl 3.


def test_bad_city_or_class_raises():
    with pytest.raises(ValueError, match="^city: expected one of"):
        clmu.load_building("paris")
    with pytest.raises(ValueError, match="^density_class: expected one of"):
        clmu.load_building("london", 4)


@pytest.mark.skipif(not SHARED.exists(), reason="shared/data/clmu not present")
@pytest.mark.parametrize("city", clmu.CITIES)
def test_json_matches_the_netcdf(city):
    h5py = pytest.importorskip("h5py")
    with h5py.File(SHARED / f"surfdata_{city}.nc", "r") as f:
        fields = clmu.raw_fields(city)["fields"]
        for name in ("CANYON_HWR", "HT_ROOF", "WTLUNIT_ROOF", "THICK_WALL", "EM_WALL"):
            np.testing.assert_array_equal(fields[name], np.asarray(f[name])[:, 0, 0])
        for name in ("TK_ROOF", "CV_WALL", "ALB_ROOF_DIR"):
            np.testing.assert_array_equal(np.array(fields[name]).T, np.asarray(f[name])[..., 0, 0])
        assert clmu.raw_fields(city)["latitude"] == float(np.asarray(f["LATIXY"]).ravel()[0])

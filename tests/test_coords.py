"""WGS-84 / GCJ-02 / BD-09 against the STANDARDS.md vector and prcoords."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import prcoords
import pytest

from service_circle import CRSError
from service_circle.coords import (
    bd09_to_gcj02,
    bd09_to_wgs84,
    convert,
    gcj02_to_bd09,
    gcj02_to_wgs84,
    in_china,
    wgs84_to_bd09,
    wgs84_to_gcj02,
)
from service_circle.readers import read_points

EARTH_R = 6_371_000.0


def metres(lon1, lat1, lon2, lat2) -> np.ndarray:
    """Haversine distance in metres."""
    p1, p2 = np.radians(lat1), np.radians(lat2)
    dp, dl = p2 - p1, np.radians(np.asarray(lon2) - np.asarray(lon1))
    h = np.sin(dp / 2) ** 2 + np.cos(p1) * np.cos(p2) * np.sin(dl / 2) ** 2
    return 2 * EARTH_R * np.arcsin(np.sqrt(h))


@pytest.fixture(scope="module")
def china_points():
    rng = np.random.default_rng(2026)
    n = 12_000
    lon = rng.uniform(73.7, 134.7, n)
    lat = rng.uniform(18.2, 53.5, n)
    return lon, lat


def test_standards_test_vector():
    lon, lat = wgs84_to_gcj02(120.0, 40.0)
    assert float(lon) == pytest.approx(120.00567568355486, abs=1e-12)
    assert float(lat) == pytest.approx(40.0013047896019, abs=1e-12)


def test_forward_matches_prcoords(china_points):
    lon, lat = china_points
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    b_lon, b_lat = wgs84_to_bd09(lon, lat)
    for i in range(0, lon.size, 7):
        ref = prcoords.wgs_gcj((lat[i], lon[i]))
        assert g_lon[i] == pytest.approx(ref.lon, abs=1e-10)
        assert g_lat[i] == pytest.approx(ref.lat, abs=1e-10)
        ref_bd = prcoords.wgs_bd((lat[i], lon[i]))
        assert b_lon[i] == pytest.approx(ref_bd.lon, abs=1e-10)
        assert b_lat[i] == pytest.approx(ref_bd.lat, abs=1e-10)


def test_reverse_is_within_half_a_metre(china_points):
    lon, lat = china_points
    for forward, backward, name in (
        (wgs84_to_gcj02, gcj02_to_wgs84, "gcj02"),
        (wgs84_to_bd09, bd09_to_wgs84, "bd09"),
    ):
        back = backward(*forward(lon, lat))
        assert metres(lon, lat, *back).max() <= 0.5, name
        assert metres(lon, lat, *back).max() < 1e-3  # in fact well under a millimetre
        # prcoords' own precise reverse agrees too
        ref = prcoords.gcj_wgs_bored if name == "gcj02" else prcoords.bd_wgs_bored
        fwd_lon, fwd_lat = forward(lon[:2000], lat[:2000])
        theirs = np.array([ref((b, a)) for a, b in zip(fwd_lon, fwd_lat, strict=True)])
        assert metres(back[0][:2000], back[1][:2000], theirs[:, 1], theirs[:, 0]).max() <= 0.5


def test_the_one_step_reverse_would_not_be_good_enough(china_points):
    lon, lat = china_points
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    rough = np.array([prcoords.gcj_wgs((b, a)) for a, b in zip(g_lon, g_lat, strict=True)])
    assert metres(lon, lat, rough[:, 1], rough[:, 0]).max() > 0.5


def test_bd09_to_gcj02_round_trip(china_points):
    lon, lat = china_points
    back = bd09_to_gcj02(*gcj02_to_bd09(lon, lat))
    assert metres(lon, lat, *back).max() < 1e-3


def test_outside_china_is_left_alone():
    lon, lat = np.array([24.94, -74.0]), np.array([60.17, 40.7])  # Helsinki, New York
    assert not in_china(lon, lat).any()
    out = wgs84_to_gcj02(lon, lat)
    np.testing.assert_array_equal(out[0], lon)
    np.testing.assert_array_equal(gcj02_to_wgs84(lon, lat)[1], lat)


def test_haidong_offset_is_about_what_standards_says():
    # Haidong (36.5°N, 102.1°E): GCJ-02 lies a few hundred metres off, BD-09 ~1 km
    gcj = wgs84_to_gcj02(102.1, 36.5)
    bd = wgs84_to_bd09(102.1, 36.5)
    assert 100 < metres(102.1, 36.5, *gcj) < 700
    assert 700 < metres(102.1, 36.5, *bd) < 1500


def test_convert_names_and_errors():
    lon, lat = convert(116.3, 40.0, "amap", "baidu")
    assert (float(lon), float(lat)) == pytest.approx(tuple(map(float, gcj02_to_bd09(116.3, 40.0))))
    with pytest.raises(CRSError, match="unknown coordinate system"):
        convert(116.3, 40.0, "mars")
    with pytest.raises(CRSError, match="shape"):
        wgs84_to_gcj02([1.0, 2.0], [1.0])


def test_gcj02_csv_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    lon, lat = rng.uniform(116.3, 116.4, 500), rng.uniform(39.9, 40.0, 500)
    g_lon, g_lat = wgs84_to_gcj02(lon, lat)
    path = tmp_path / "amap.csv"
    pd.DataFrame({"id": range(500), "lon": g_lon, "lat": g_lat}).to_csv(path, index=False)
    frame = read_points(path, crs="gcj02")
    assert frame.crs.to_epsg() == 4326
    assert metres(lon, lat, frame.geometry.x, frame.geometry.y).max() < 0.01
    bd = tmp_path / "baidu.geojson"
    b_lon, b_lat = gcj02_to_bd09(g_lon, g_lat)
    import geopandas as gpd

    gpd.GeoDataFrame(geometry=gpd.points_from_xy(b_lon, b_lat), crs=4326).to_file(bd)
    again = read_points(bd, crs="bd09")
    assert metres(lon, lat, again.geometry.x, again.geometry.y).max() < 0.01
    projected = tmp_path / "metres.csv"
    pd.DataFrame({"x": [440_000.0], "y": [4_420_000.0]}).to_csv(projected, index=False)
    assert read_points(projected, crs="EPSG:32650").crs.to_epsg() == 32650
    with pytest.raises(CRSError, match="unknown coordinate system"):
        read_points(path, crs="EPSG:999999")


def test_math_sanity():
    assert math.isclose(float(metres(0, 0, 0, 1)), 111_195, rel_tol=1e-3)

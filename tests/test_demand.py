"""Demand points from buildings, polygons with counts, rasters and hexagons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import BEIJING, shared_file

from service_circle import InputError
from service_circle.cli import main
from service_circle.demand import (
    AGE_COLUMNS,
    DEFAULT_SHARES,
    buildings_from_osm,
    demand_from_buildings,
    demand_from_polygons,
    demand_from_raster,
    hex_demand,
    landuse_from_osm,
    residential_mask,
)


@pytest.fixture(scope="module")
def helsinki_buildings(helsinki_pbf):
    return buildings_from_osm(helsinki_pbf), landuse_from_osm(helsinki_pbf)


def test_population_grid_spread_onto_buildings_preserves_the_total(helsinki_buildings):
    grid = gpd.read_file(shared_file("helsinki_population_grid_2020.gpkg"))
    buildings, landuse = helsinki_buildings
    points = demand_from_polygons(grid, buildings=buildings, landuse=landuse)
    assert points["population"].sum() == pytest.approx(71_724, abs=1e-6)
    per_cell = points.groupby("polygon")["population"].sum()
    np.testing.assert_allclose(per_cell.to_numpy(), grid["population"].to_numpy()[per_cell.index])
    assert set(points["method"]) == {"buildings", "grid"}  # some cells have no home mapped
    assert set(points["source"]) == {"polygons", "polygons + osm"}
    assert points["pop_60plus"].sum() == pytest.approx(71_724 * DEFAULT_SHARES["pop_60plus"])
    hexes = hex_demand(points, 9)
    assert hexes["population"].sum() == pytest.approx(71_724, abs=1e-6)
    assert len(hexes) < len(points)


def test_polygon_age_columns_are_spread_too(helsinki_buildings):
    buildings, landuse = helsinki_buildings
    box = shapely.box(24.935, 60.165, 24.955, 60.175)
    polys = gpd.GeoDataFrame({"population": [1000], "pop_60plus": [300]}, geometry=[box], crs=4326)
    points = demand_from_polygons(polys, buildings=buildings, landuse=landuse)
    assert points["population"].sum() == pytest.approx(1000)
    assert points["pop_60plus"].sum() == pytest.approx(300)
    assert (points["method"] == "buildings").all()
    weights = points["population"] / points["population"].sum()
    np.testing.assert_allclose(points["pop_60plus"], 300 * weights)


def test_buildings_of_a_chinese_extract():
    path = shared_file(f"{BEIJING}.osm.pbf")
    buildings = buildings_from_osm(path)
    assert len(buildings) == 257  # ../shared/data/README.md
    landuse = landuse_from_osm(path)
    assert len(landuse) >= 10
    homes = residential_mask(buildings, landuse)
    assert homes[buildings["building"] == "residential"].all()
    assert not homes[buildings["building"].isin(["university", "school"])].any()
    points = demand_from_buildings(buildings, landuse=landuse)
    assert len(points) == homes.sum()
    np.testing.assert_allclose(points["population"], points["floor_area_m2"] / 40, rtol=1e-3)
    assert set(AGE_COLUMNS) <= set(points.columns)


def test_floor_area_uses_levels_and_documented_defaults():
    square = shapely.box(116.3, 40.0, 116.3 + 0.000117, 40.0 + 0.00009)  # ~10 m × 10 m
    frame = gpd.GeoDataFrame(
        {"id": ["a", "b", "c"], "building": ["apartments", "apartments", "house"],
         "levels": [10, np.nan, np.nan]},
        geometry=[square] * 3,
        crs=4326,
    )  # fmt: skip
    points = demand_from_buildings(frame, floor_area_per_person_m2=25)
    area = points["floor_area_m2"].to_numpy()
    assert area[0] == pytest.approx(10 * 99.9, rel=0.02)  # 10 storeys
    assert area[1] == pytest.approx(6 * 99.9, rel=0.02)  # apartments default: 6
    assert area[2] == pytest.approx(2 * 99.9, rel=0.02)  # house default: 2
    assert points["population"].iloc[0] == pytest.approx(area[0] / 25, rel=1e-3)


def test_polygon_without_buildings_is_spread_on_a_grid():
    box = gpd.GeoSeries([shapely.box(440_000, 4_420_000, 440_200, 4_420_100)], crs=32650)
    polys = gpd.GeoDataFrame({"population": [500]}, geometry=box.to_crs(4326))
    points = demand_from_polygons(polys)
    assert len(points) == 8  # 4 × 2 cells of 50 m
    np.testing.assert_allclose(points["population"], 62.5)


def test_bad_counts_are_errors():
    box = shapely.box(116.3, 40.0, 116.31, 40.01)
    polys = gpd.GeoDataFrame({"population": [100, -5, "many"]}, geometry=[box] * 3, crs=4326)
    # the file, the column, the rows (features counted from 1) and their values are named
    with pytest.raises(InputError, match=r"communities.gpkg: column 'population' .* on rows "
                       r"2 \(-5\), 3 \('many'\)"):  # fmt: skip
        demand_from_polygons(polys, what="communities.gpkg")
    with pytest.raises(InputError, match="no column 'people'"):
        demand_from_polygons(polys, population_column="people")


def test_raster_cells_become_points(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    values = np.array([[0, 10, 20], [-9999, 5, 0]], dtype=np.float32)
    path = tmp_path / "worldpop.tif"
    with rasterio.open(
        path, "w", driver="GTiff", height=2, width=3, count=1, dtype="float32",
        crs="EPSG:4326", transform=from_origin(116.30, 40.01, 0.001, 0.001), nodata=-9999,
    ) as dst:  # fmt: skip
        dst.write(values, 1)
    points = demand_from_raster(path)
    assert sorted(points["population"].tolist()) == [5, 10, 20]
    assert points["population"].sum() == 35
    xs = np.round(points.geometry.x.to_numpy(), 4).tolist()
    assert sorted(xs) == [116.3015, 116.3015, 116.3025]  # cell centres
    with pytest.raises(InputError, match="cannot read"):
        bogus = tmp_path / "bogus.tif"
        bogus.write_text("not a tiff")
        demand_from_raster(bogus)


def test_demand_command(tmp_path, capsys, helsinki_pbf):
    out = tmp_path / "demand.geojson"
    grid = shared_file("helsinki_population_grid_2020.gpkg")
    rc = main(["demand", "--polygons", str(grid), "--buildings", str(helsinki_pbf),
               "--hex", "9", "--shares", "pop_60plus=0.25", "--out", str(out)])  # fmt: skip
    assert rc == 0
    written = gpd.read_file(out)
    assert written["population"].sum() == pytest.approx(71_724, rel=1e-9)
    assert written["pop_60plus"].sum() == pytest.approx(71_724 * 0.25, rel=1e-9)
    assert "population 71,724" in capsys.readouterr().out
    assert main(["demand", "--out", str(out)]) == 2
    assert main(["demand", "--polygons", str(grid), "--shares", "old=2", "--out", str(out)]) == 2
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"x": [1]}).to_csv(bad)
    assert main(["demand", "--polygons", str(bad), "--out", str(out)]) == 2


def test_buildings_from_a_planning_file(tmp_path, capsys):
    from service_circle.coords import wgs84_to_bd09
    from service_circle.demand import buildings_from_file

    square = shapely.box(116.3, 40.0, 116.3 + 0.000117, 40.0 + 0.00009)
    moved = shapely.transform(square, lambda xy: np.column_stack(wgs84_to_bd09(xy[:, 0], xy[:, 1])))
    frame = gpd.GeoDataFrame(
        {"楼号": ["1号楼", "2号楼"], "building": ["residential", None], "levels": ["18", "6层"]},
        geometry=[moved, moved],
        crs=4326,
    )
    path = tmp_path / "buildings.geojson"
    frame.to_file(path)
    buildings = buildings_from_file(path, crs="bd09")
    assert buildings["levels"].tolist() == [18.0, 6.0]
    assert buildings["building"].tolist() == ["residential", "yes"]
    back = buildings.geometry.iloc[0].centroid
    assert back.x == pytest.approx(square.centroid.x, abs=1e-6)
    out = tmp_path / "demand.geojson"
    rc = main(["demand", "--buildings", str(path), "--crs", "bd09", "--out", str(out)])
    assert rc == 0
    assert "taken as BD-09, converted to WGS-84 (stated for this file)" in capsys.readouterr().err
    assert gpd.read_file(out)["population"].sum() == pytest.approx(24 * 99.9 / 40, rel=0.02)
    points = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=[square.centroid], crs=4326).to_file(points)
    with pytest.raises(InputError, match="no polygons"):
        buildings_from_file(points)

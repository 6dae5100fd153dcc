"""Study, coverage tables, isochrones and gaps on a real network, checked by brute force."""

from __future__ import annotations

import itertools

import geopandas as gpd
import numpy as np
import pytest
import shapely
from conftest import BEIJING, shared_file
from reference import reference_costs

from service_circle import InputError
from service_circle.cost import CostModel, Threshold
from service_circle.coverage import coverage_table, demand_times
from service_circle.demand import buildings_from_osm, demand_from_buildings, landuse_from_osm
from service_circle.facilities import facilities_from_osm
from service_circle.gaps import gaps
from service_circle.isochrones import isochrones
from service_circle.profiles import get_profile
from service_circle.study import Study
from service_circle.synthetic import random_points

THRESHOLDS = [Threshold.minutes(m) for m in (5, 10, 15)]


@pytest.fixture(scope="module")
def beijing_study(beijing_net):
    path = shared_file(f"{BEIJING}.osm.pbf")
    facilities, _ = facilities_from_osm(path)
    # no elderly canteen is mapped there: add three of our own
    canteens = random_points(beijing_net, 3, seed=7).to_crs(4326)
    canteens = canteens.assign(id=["c1", "c2", "c3"], category="elderly_canteen", name="助餐点")
    facilities = gpd.GeoDataFrame(
        gpd.pd.concat([facilities, canteens], ignore_index=True), crs="EPSG:4326"
    )
    demand = demand_from_buildings(buildings_from_osm(path), landuse=landuse_from_osm(path))
    return Study.build(beijing_net, facilities, demand, name="beijing")


@pytest.mark.parametrize("category", ["kindergarten", "convenience_store", "elderly_canteen"])
def test_covered_population_matches_brute_force(beijing_study, category):
    study = beijing_study
    table = coverage_table(study, THRESHOLDS, categories=[category], profile="elderly")
    profile = get_profile("elderly")
    net = study.network
    _, ref = reference_costs(
        net, study.facilities_of(category), study.demand_snap,
        CostModel.walking(profile).arc_costs(net), 1 / profile.speed_m_s,
    )  # fmt: skip
    pop = study.demand["population"].to_numpy()
    group = study.demand[study.catalogue[category].group_column].to_numpy()
    for row, threshold in zip(table.itertuples(), THRESHOLDS, strict=True):
        inside = ref <= threshold.cost_limit(profile) * (1 + 1e-9)
        assert row.covered == pytest.approx(pop[inside].sum())
        assert row.group_covered == pytest.approx(group[inside].sum())
        assert row.population == pytest.approx(pop.sum())
    assert table["share"].is_monotonic_increasing


def test_metre_thresholds(beijing_study):
    table = coverage_table(beijing_study, [Threshold.metres(300), Threshold.metres(1000)],
                           categories=["kindergarten"])  # fmt: skip
    assert table["unit"].tolist() == ["m", "m"] and table["profile"].tolist() == ["distance"] * 2
    assert 0 <= table["share"].iloc[0] <= table["share"].iloc[1] <= 1


@pytest.mark.parametrize("method", ["vector", "raster"])
def test_isochrones_hold_every_covered_home_and_gaps_none(beijing_study, method):
    study = beijing_study
    for category in ("kindergarten", "elderly_canteen"):
        iso = isochrones(study, category, THRESHOLDS, method=method)
        assert set(iso["method"]) == {method}
        assert iso.crs.to_epsg() == 4326 and (iso.geom_type == "MultiPolygon").all()
        assert iso["area_km2"].is_monotonic_increasing
        homes = study.demand.geometry.to_numpy()
        for threshold, area in zip(THRESHOLDS, iso.geometry, strict=True):
            found = study.search(category, threshold, None)
            covered = found.point_cost <= threshold.cost_limit(get_profile())
            inside = shapely.contains(area, homes) | (shapely.distance(area, homes) < 1e-7)
            assert inside[covered].all()
            gap = gaps(study, category, threshold, method=method)
            if len(gap):
                union = shapely.union_all(gap.geometry.to_numpy())
                assert not shapely.contains(union, homes[covered]).any()
            total = study.demand["population"].sum()
            table = coverage_table(study, [threshold], categories=[category])
            assert table["covered"].iloc[0] + gap["population"].sum() == pytest.approx(total)
            assert gap["population"].is_monotonic_decreasing


def test_gaps_carry_what_a_planner_needs(beijing_study):
    gap = gaps(beijing_study, "elderly_canteen", Threshold.minutes(5), profile="elderly")
    assert gap["rank"].tolist() == list(range(1, len(gap) + 1))
    assert {"population", "group_population", "homes", "nearest_time_s"} <= set(gap.columns)
    assert (gap["group_population"] <= gap["population"]).all()
    reachable = gap["nearest_time_s"].dropna()
    assert (reachable > 300).all()  # beyond the threshold, by definition


def test_demand_times_and_study_round_trip(beijing_study, tmp_path):
    times = demand_times(beijing_study, categories=["kindergarten", "pharmacy"])
    assert {"time_s_kindergarten", "time_s_pharmacy", "population"} <= set(times.columns)
    assert len(times) == len(beijing_study.demand)
    folder = beijing_study.save(tmp_path / "studies" / "beijing")
    again = Study.load(folder)
    a = coverage_table(beijing_study, THRESHOLDS, categories=["kindergarten"])
    b = coverage_table(again, THRESHOLDS, categories=["kindergarten"])
    np.testing.assert_allclose(a["covered"], b["covered"])
    beijing_study.save(folder)  # saving over an existing study replaces it whole
    assert sorted(p.name for p in (tmp_path / "studies").iterdir()) == ["beijing"]
    with pytest.raises(FileNotFoundError, match="not a study folder"):
        Study.load(tmp_path)


def test_study_refuses_unknown_categories(beijing_net):
    demand = random_points(beijing_net, 5).assign(population=1.0)
    fac = random_points(beijing_net, 2).assign(category="canteen")
    with pytest.raises(InputError, match="canteen"):
        Study.build(beijing_net, fac, demand)


def test_raster_and_vector_dissolves_agree(beijing_study):
    vector = isochrones(beijing_study, "convenience_store", THRESHOLDS, method="vector")
    raster = isochrones(beijing_study, "convenience_store", THRESHOLDS, method="raster")
    np.testing.assert_allclose(raster["area_km2"], vector["area_km2"], rtol=0.05)
    a = gaps(beijing_study, "kindergarten", THRESHOLDS[0], method="vector")
    b = gaps(beijing_study, "kindergarten", THRESHOLDS[0], method="raster")
    assert a["population"].sum() == pytest.approx(b["population"].sum())
    assert abs(len(a) - len(b)) <= max(1, len(a) // 5)


def test_holes_dropped_while_tracing_are_those_the_outline_would_drop():
    """Dropping block interiors as the rings are traced equals filling them afterwards."""
    from scipy import ndimage

    from service_circle._raster import Grid
    from service_circle.isochrones import _fill_holes

    grid = Grid((0.0, 0.0, 3000.0, 2500.0), 10.0, 0.0)
    rng = np.random.default_rng(7)
    streets = np.zeros(grid.shape, dtype=bool)
    rows = np.cumsum(rng.integers(5, 20, size=40))  # streets between blocks of every size
    cols = np.cumsum(rng.integers(5, 20, size=40))
    streets[rows[rows < grid.shape[0]], :] = True
    streets[:, cols[cols < grid.shape[1]]] = True
    mask = ndimage.binary_dilation(streets & (rng.random(grid.shape) < 0.9), iterations=1)
    mask[:40, :40] = False  # an open corner
    traced = grid.outlines(mask)[1]
    after = _fill_holes(traced, 10_000.0)
    during = grid.outlines(mask, min_hole_m2=10_000.0)[1]
    holes = [shapely.Polygon(h).area for p in shapely.get_parts(traced) for h in p.interiors]
    assert min(holes) < 10_000 < max(holes)  # some to fill, some to keep
    assert shapely.area(during) == pytest.approx(shapely.area(after), rel=1e-12)
    assert shapely.area(shapely.symmetric_difference(during, after)) < 1e-6
    assert shapely.area(during) > shapely.area(traced)


def test_outlines_follow_the_cells():
    """Traced outlines: cells joined at corners, each label apart, straight runs one edge."""
    from service_circle._raster import Grid

    grid = Grid((0.0, 0.0, 100.0, 100.0), 10.0, 0.0)  # 11 x 11 cells
    labels = np.zeros(grid.shape, dtype=np.int32)
    labels[2:6, 2:8] = 1  # a 4 x 6 block
    labels[6, 8] = 1  # touching it at a corner only
    labels[8:10, 1:3] = 2  # another label
    out = grid.outlines(labels)
    assert sorted(out) == [1, 2]
    one, two = out[1], out[2]
    assert len(one.geoms) == 1  # the corner cell joins the block
    # the outline runs through the cells' edges, cutting a corner by half a cell
    # 24 cells less four cut corners, the lone cell's diamond, the joint's three quarters
    assert one.area == pytest.approx((24 - 4 / 8 + 4 / 8 + (3 / 4 - 2 / 8)) * 100)
    assert two.area == pytest.approx((4 - 4 * 0.125) * 100)
    assert shapely.get_num_coordinates(two) == 9  # an octagon, closed
    # the block's centre cell and not its outside neighbour
    assert one.contains(shapely.Point(grid.minx + 4.5 * 10, grid.maxy - 3.5 * 10))
    assert not one.contains(shapely.Point(grid.minx + 0.5 * 10, grid.maxy - 0.5 * 10))


@pytest.mark.parametrize("radius", [0.5, 1.0, 2.3, 3.5, 4.0, 6.2])
def test_disc_minimum_equals_a_disc_footprint_filter(radius):
    from scipy import ndimage

    from service_circle._raster import Grid, disc_minimum

    rng = np.random.default_rng(int(radius * 10))
    field = np.where(rng.random((60, 70)) < 0.05, rng.random((60, 70)), np.inf).astype(np.float32)
    r = int(np.floor(radius))
    dy, dx = np.mgrid[-r : r + 1, -r : r + 1]
    footprint = dx**2 + dy**2 <= radius**2
    expected = ndimage.minimum_filter(field, footprint=footprint, mode="constant", cval=np.inf)
    np.testing.assert_array_equal(disc_minimum(field, radius), expected)
    # growing a mask by a disc is the same disc, as a maximum
    grid = Grid((0.0, 0.0, 690.0, 590.0), 10.0, 0.0)
    mask = np.isfinite(field)
    grown = ndimage.binary_dilation(mask, structure=footprint)
    np.testing.assert_array_equal(grid.grow(mask, radius * 10.0), grown)


def test_isochrones_share_one_field_and_nest(beijing_study):
    """Raster isochrones of nested thresholds nest, and small holes are filled."""
    iso = isochrones(beijing_study, "pharmacy", THRESHOLDS, method="raster")
    areas = iso.to_crs(beijing_study.network.crs).geometry.to_numpy()
    for inner, outer in itertools.pairwise(areas):
        assert shapely.area(shapely.difference(inner, outer)) < 1e-6 * shapely.area(inner) + 1
    holes = [h for g in shapely.get_parts(areas[-1]) for h in g.interiors]
    assert all(shapely.Polygon(h).area >= 9_900 for h in holes)  # 1 ha, reprojected
    kept = isochrones(beijing_study, "pharmacy", THRESHOLDS[-1:], method="raster", fill_holes_m2=0)
    assert kept["area_km2"].iloc[0] <= iso["area_km2"].iloc[-1]

"""Heights from a DEM and the walk that follows the slope in each direction (issue 17).

A street up a uniform 10 % plane, written as a GeoTIFF by the test, against the closed
form (Tobler: up at 0.705 of the flat speed, down at 1.0); the same plane in another CRS;
a DEM that misses the network, one that covers half of it, no-data holes; the flat case to
the last bit; and the Guixi extract on a hill against networkx with the same weights.
"""

from __future__ import annotations

from dataclasses import replace

import networkx as nx
import numpy as np
import pyproj
import pytest
import rasterio
from conftest import GUIXI, shared_file
from rasterio.transform import from_origin

from service_circle import InputError
from service_circle.cost import CostModel
from service_circle.network import load_network
from service_circle.profiles import (
    ADULT_STEP_S,
    ELDERLY_STEP_S,
    STEP_RUN_M,
    Profile,
    get_profile,
    tobler,
)
from service_circle.search import nearest
from service_circle.snapping import snap
from service_circle.terrain import add_terrain
from service_circle.walk_network import WalkNetwork, load_compiled

UTM = "EPSG:32647"  # Haidong's zone
X0, Y0 = 500_000.0, 4_040_000.0  # near Ledu, 36.5° N
GRADE = 0.10


def street(n: int = 11, length_m: float = 1000.0) -> WalkNetwork:
    """A street due north, ``n`` nodes from (X0, Y0), in Haidong's UTM zone."""
    y = Y0 + np.linspace(0, length_m, n)
    return WalkNetwork.from_edges(crs=UTM, node_x=np.full(n, X0), node_y=y,
                                  edge_u=np.arange(n - 1), edge_v=np.arange(1, n),
                                  source="test street")  # fmt: skip


def plane_dem(path, *, crs=UTM, grade=GRADE, nodata_box=None, extent=None, cell=10.0):
    """A GeoTIFF of the plane z = 2000 + grade × (northing − Y0), in ``crs``."""
    x0, y0, x1, y1 = extent or (X0 - 500, Y0 - 500, X0 + 500, Y0 + 1500)
    if pyproj.CRS(crs) != pyproj.CRS(UTM):
        to = pyproj.Transformer.from_crs(UTM, crs, always_xy=True)
        (x0, x1), (y0, y1) = to.transform([x0, x1], [y0, y1])
        cell = (x1 - x0) / 100
    w, h = round((x1 - x0) / cell), round((y1 - y0) / cell)
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    gx, gy = x0 + cols * cell, y1 - rows * cell
    if pyproj.CRS(crs) != pyproj.CRS(UTM):
        gx, gy = pyproj.Transformer.from_crs(crs, UTM, always_xy=True).transform(gx, gy)
    z = (2000 + grade * (gy - Y0)).astype(np.float32)
    if nodata_box is not None:
        bx0, by0, bx1, by1 = nodata_box
        z[(gx >= bx0) & (gx <= bx1) & (gy >= by0) & (gy <= by1)] = -9999
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float32",
                       crs=crs, transform=from_origin(x0, y1, cell, cell),
                       nodata=-9999) as ds:  # fmt: skip
        ds.write(z, 1)
    return path


def hill_dem(net: WalkNetwork, path):
    """A 20 m DEM over ``net``: ridges east-west and a 6 % rise to the north."""
    x0, y0, x1, y1 = net.bounds
    w, h, cell = int((x1 - x0) / 20) + 20, int((y1 - y0) / 20) + 20, 20.0
    cols, rows = np.meshgrid(np.arange(w) + 0.5, np.arange(h) + 0.5)
    gx, gy = x0 - 200 + cols * cell, y1 + 200 - rows * cell
    z = 40 + 30 * np.sin(gx / 400.0) + 0.06 * (gy - y0)
    with rasterio.open(path, "w", driver="GTiff", width=w, height=h, count=1, dtype="float64",
                       crs=net.crs, transform=from_origin(x0 - 200, y1 + 200, cell,
                                                          cell)) as ds:  # fmt: skip
        ds.write(z, 1)
    return path


def times_along(net: WalkNetwork, profile="adult") -> tuple[float, float]:
    """Seconds from the south end to a facility at the north end, and back the other way."""
    import geopandas as gpd
    import shapely

    south = gpd.GeoDataFrame({"id": ["s"]}, geometry=[shapely.Point(X0, Y0)], crs=UTM)
    north = gpd.GeoDataFrame({"id": ["n"]}, geometry=[shapely.Point(X0, Y0 + 1000)], crs=UTM)
    cost = CostModel.walking(profile)
    up = nearest(net, snap(net, north, what="f"), snap(net, south, what="p"), cost=cost)
    down = nearest(net, snap(net, south, what="f"), snap(net, north, what="p"), cost=cost)
    return float(up.point_cost[0]), float(down.point_cost[0])


def test_a_street_up_a_plane_follows_tobler_both_ways(tmp_path):
    net, report = add_terrain(street(), plane_dem(tmp_path / "plane.tif"))
    assert report.covered == 1.0 and report.flat_edges == 0
    assert report.rise_m == pytest.approx(100.0, abs=1e-6)  # 10 % of 1000 m
    assert net.terrain.node_z[[0, -1]] == pytest.approx([2000.0, 2100.0], abs=1e-6)
    nodes, edges = net.to_geodataframes()
    assert edges["rise_m"].sum() == pytest.approx(100.0) and edges["fall_m"].sum() == 0
    assert nodes["z_m"].iloc[-1] == pytest.approx(2100.0)
    up, down = times_along(net)
    # closed form: 1000 m at 1.43 m/s × tobler(±0.10)
    assert up == pytest.approx(1000 / (1.43 * np.exp(-3.5 * 0.10)), rel=1e-9)
    assert down == pytest.approx(1000 / (1.43 * 1.0), rel=1e-9)
    assert up / down == pytest.approx(1 / 0.7047, rel=1e-3)
    # an older walker, uphill
    assert times_along(net, "elderly")[0] == pytest.approx(1000 / (1.18 * tobler(0.10)))
    # a profile without a slope function walks it flat
    flat = get_profile("adult").__class__("adult_flat", 1.43, slope=None)
    assert times_along(net, flat) == pytest.approx((1000 / 1.43, 1000 / 1.43))


def test_the_flat_case_is_unchanged_to_the_last_bit():
    net = street()
    arc = CostModel.walking("elderly").arc_costs(net)
    assert np.array_equal(arc, net.arc_length_m / np.full(net.n_arcs, 1.18))
    up, down = times_along(net)
    assert up == down == float(np.sum(net.arc_length_m[net.arc_forward] / 1.43))


def test_a_dem_in_another_crs_gives_the_same_heights(tmp_path):
    utm, _ = add_terrain(street(), plane_dem(tmp_path / "utm.tif"))
    geo, _ = add_terrain(street(), plane_dem(tmp_path / "wgs84.tif", crs="EPSG:4326"))
    np.testing.assert_allclose(geo.terrain.node_z, utm.terrain.node_z, atol=0.05)
    assert times_along(geo)[0] == pytest.approx(times_along(utm)[0], rel=2e-3)


def test_several_tiles_are_one_mosaic(tmp_path):
    south = plane_dem(tmp_path / "s.tif", extent=(X0 - 500, Y0 - 500, X0 + 500, Y0 + 500))
    north = plane_dem(tmp_path / "n.tif", extent=(X0 - 500, Y0 + 500, X0 + 500, Y0 + 1500))
    net, report = add_terrain(street(), [south, north])
    assert report.covered == 1.0
    assert times_along(net)[0] == pytest.approx(1000 / (1.43 * tobler(GRADE)), rel=1e-9)


def test_a_dem_that_misses_the_network_is_refused(tmp_path):
    far = plane_dem(tmp_path / "far.tif", extent=(X0 + 50_000, Y0, X0 + 51_000, Y0 + 1000))
    with pytest.raises(InputError, match=r"far.tif does not cover the network \(lon 99\.0000"):
        add_terrain(street(), far)
    with pytest.raises(InputError, match="cannot read DEM"):
        (tmp_path / "bad.tif").write_text("not a raster")
        add_terrain(street(), tmp_path / "bad.tif")


def test_a_dem_over_part_of_the_network_is_used_there_and_says_so(tmp_path, caplog):
    half = plane_dem(tmp_path / "half.tif", extent=(X0 - 500, Y0 - 500, X0 + 500, Y0 + 450))
    net, report = add_terrain(street(), half)
    assert 0 < report.covered < 1 and report.flat_edges == 5
    assert report.flat_km == pytest.approx(0.5)
    assert "walked as flat" in caplog.text
    up, _ = times_along(net)
    # the covered half climbs 10 %, the rest is flat (the last covered edge reaches 450 m)
    assert 1000 / 1.43 < up < 1000 / (1.43 * tobler(GRADE))


def test_no_data_holes_are_bridged_along_the_edge(tmp_path):
    holes = plane_dem(tmp_path / "holes.tif",
                      nodata_box=(X0 - 50, Y0 + 300, X0 + 50, Y0 + 640))  # fmt: skip
    net, report = add_terrain(street(n=3), holes)  # the hole covers the middle node
    assert report.bridged > 0 and report.flat_edges == 0 and report.covered < 1
    # filled from the cells around: the plane comes back to within 0.01 %
    assert net.terrain.node_z[1] == pytest.approx(2050.0, abs=0.05)
    assert times_along(net)[0] == pytest.approx(1000 / (1.43 * tobler(GRADE)), rel=1e-4)


def test_heights_are_saved_with_the_network_and_old_files_load(tmp_path):
    net, _ = add_terrain(street(), plane_dem(tmp_path / "plane.tif"))
    back = load_compiled(net.save(tmp_path / "hill.npz"))
    assert back.terrain is not None and "plane.tif" in back.terrain.source
    np.testing.assert_array_equal(back.terrain.rise_m, net.terrain.rise_m)
    assert times_along(back) == times_along(net)
    flat = load_compiled(street().save(tmp_path / "flat.npz"))
    assert flat.terrain is None


def test_guixi_on_a_hill_against_networkx(tmp_path):
    """Times on a real network over a sloped DEM equal networkx's with the same weights."""
    import geopandas as gpd
    import shapely

    net = load_network(shared_file(f"{GUIXI}.osm.pbf"))
    hill, _ = add_terrain(net, hill_dem(net, tmp_path / "hill.tif"))
    cost = CostModel.walking("elderly")
    arc = cost.arc_costs(hill)
    assert not np.allclose(arc, arc[hill.arc_twin])  # up and down differ
    rng = np.random.default_rng(3)
    nodes = rng.choice(hill.n_nodes, 40, replace=False)
    points = gpd.GeoDataFrame({"id": np.arange(40)},
                              geometry=shapely.points(hill.node_x[nodes], hill.node_y[nodes]),
                              crs=hill.crs)  # fmt: skip
    fac_nodes = nodes[:3]
    facilities = points.iloc[:3].assign(id=["a", "b", "c"])
    result = nearest(hill, snap(hill, facilities, what="f"), snap(hill, points, what="p"),
                     cost=cost)  # fmt: skip
    # networkx: walk TO a facility = from the facilities over the reversed arcs
    graph = nx.DiGraph()
    tail = np.repeat(np.arange(hill.n_nodes), np.diff(hill.indptr))
    for t, hd, c in zip(tail, hill.arc_head, arc, strict=True):
        if not graph.has_edge(hd, t) or graph[hd][t]["w"] > c:
            graph.add_edge(int(hd), int(t), w=float(c))  # reversed: facility → home
    ref = nx.multi_source_dijkstra_path_length(graph, set(int(n) for n in fac_nodes), weight="w")
    expected = np.array([ref.get(int(n), np.inf) for n in nodes])
    np.testing.assert_allclose(result.point_cost, expected, rtol=1e-9, atol=1e-6)


def test_times_and_network_take_a_dem(tmp_path, capsys):
    import geopandas as gpd
    import pandas as pd
    import shapely

    from service_circle.cli import main

    dem = plane_dem(tmp_path / "plane.tif", crs="EPSG:4326")  # a DEM in another CRS
    street().save(tmp_path / "street.npz")
    assert main(["network", str(tmp_path / "street.npz"), "--dem", str(dem),
                 "--out", str(tmp_path / "hill.npz")]) == 0  # fmt: skip
    assert load_compiled(tmp_path / "hill.npz").terrain is not None
    to_wgs = pyproj.Transformer.from_crs(UTM, 4326, always_xy=True)
    top, bottom = to_wgs.transform(X0, Y0 + 1000), to_wgs.transform(X0, Y0)
    gpd.GeoDataFrame({"id": ["canteen"]}, geometry=[shapely.Point(*top)], crs=4326).to_file(
        tmp_path / "f.geojson")  # fmt: skip
    gpd.GeoDataFrame({"id": ["home"]}, geometry=[shapely.Point(*bottom)], crs=4326).to_file(
        tmp_path / "p.geojson")  # fmt: skip
    assert main(["times", "--network", str(tmp_path / "street.npz"), "--dem", str(dem),
                 "--facilities", str(tmp_path / "f.geojson"), "--points",
                 str(tmp_path / "p.geojson"), "--profile", "elderly",
                 "--out", str(tmp_path / "t.csv")]) == 0  # fmt: skip
    out = capsys.readouterr()
    assert "heights at 100.0%" in out.err and "slope tobler" in out.out
    time_s = pd.read_csv(tmp_path / "t.csv", encoding="utf-8-sig")["time_s"].iloc[0]
    # the older walker climbs 100 m over 1 km: 1000 / (1.18 × 0.705) s, not 1000 / 1.18
    assert time_s == pytest.approx(1000 / (1.18 * tobler(GRADE)), rel=3e-3)
    assert main(["times", "--network", str(tmp_path / "street.npz"), "--dem",
                 str(tmp_path / "none.tif"), "--facilities", str(tmp_path / "f.geojson"),
                 "--points", str(tmp_path / "p.geojson"), "--out",
                 str(tmp_path / "t2.csv")]) == 2  # fmt: skip
    assert "none.tif does not exist" in capsys.readouterr().err


def test_a_study_on_a_hill_reports_what_the_hills_cost(tmp_path):
    import json

    import pandas as pd

    from service_circle.cli import main

    pbf = shared_file(f"{GUIXI}.osm.pbf")
    dem = hill_dem(load_network(pbf), tmp_path / "hill.tif")
    demand = tmp_path / "demand.geojson"
    assert main(["demand", "--buildings", str(pbf), "--out", str(demand)]) == 0
    study = tmp_path / "study"
    assert main(["build", "--network", str(pbf), "--facilities", str(pbf), "--demand",
                 str(demand), "--dem", str(dem), "--out", str(study)]) == 0  # fmt: skip
    out = tmp_path / "out"
    assert main(["analyze", "--study", str(study), "--lang", "en", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    effect = pd.DataFrame(report["terrain_effect"]["summary"])
    assert len(effect) and set(effect["slope"]) == {"tobler"}
    assert "hill.tif" in report["terrain_effect"]["terrain"]
    # the hills change who is within reach, and the flat walk is the same walker's
    assert (effect["share_terrain"] != effect["share_flat"]).any()
    assert (effect["median_min_terrain"] != effect["median_min_flat"]).any()
    assert (effect["lost"] >= 0).all()
    table = pd.read_csv(out / "terrain_effect.csv", encoding="utf-8-sig")
    assert {"share, with the terrain", "share, on the flat"} <= set(table.columns)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "What the hills cost" in page and "id='terrain'" in page


def test_steps_are_refused_for_the_wheelchair_and_the_walker_frame():
    import geopandas as gpd
    import shapely

    # A → B by 50 m of steps, or round by a 200 m ramp via C
    net = WalkNetwork.from_edges(
        crs=UTM, node_x=np.array([X0, X0, X0 + 100]), node_y=np.array([Y0, Y0 + 50, Y0 + 25]),
        edge_u=np.array([0, 0, 2]), edge_v=np.array([1, 2, 1]),
        edge_length_m=np.array([50.0, 100.0, 100.0]),
        edge_highway=np.array(["steps", "footway", "footway"]),
    )  # fmt: skip
    a = gpd.GeoDataFrame({"id": ["a"]}, geometry=[shapely.Point(X0, Y0)], crs=UTM)
    b = gpd.GeoDataFrame({"id": ["b"]}, geometry=[shapely.Point(X0, Y0 + 50)], crs=UTM)

    def seconds(profile, network=net):
        result = nearest(network, snap(network, b, what="f"), snap(network, a, what="p"),
                         cost=CostModel.walking(profile))  # fmt: skip
        return float(result.point_cost[0])

    # up the steps: 50 m of 0.30 m treads, each at the time Oh-Park et al. measured
    assert seconds("elderly") == pytest.approx(50 / STEP_RUN_M * ELDERLY_STEP_S)
    assert seconds("adult") == pytest.approx(50 / STEP_RUN_M * ADULT_STEP_S)
    assert seconds(Profile.custom(1.18)) == pytest.approx(50 / 1.18)  # a path at the flat speed
    counted = replace(net, edge_step_count=np.array([40.0, np.nan, np.nan]), _cache={})
    assert seconds("elderly", counted) == pytest.approx(40 * ELDERLY_STEP_S)
    assert seconds("wheelchair") == pytest.approx(200 / 1.0)  # round by the ramp
    assert seconds("walker_frame") == pytest.approx(200 / 0.6)
    only_steps = WalkNetwork.from_edges(crs=UTM, node_x=np.array([X0, X0]),
                                        node_y=np.array([Y0, Y0 + 50]), edge_u=np.array([0]),
                                        edge_v=np.array([1]),
                                        edge_highway=np.array(["steps"]))  # fmt: skip
    assert seconds("wheelchair", only_steps) == np.inf  # unreachable, and said so


def test_a_wheelchair_cannot_take_a_ten_percent_street(tmp_path):
    net, _ = add_terrain(street(), plane_dem(tmp_path / "plane.tif"))
    assert times_along(net, "wheelchair") == (np.inf, np.inf)  # steeper than 1:12 both ways
    gentle, _ = add_terrain(street(), plane_dem(tmp_path / "gentle.tif", grade=0.05))
    up, down = times_along(gentle, "wheelchair")
    assert up == pytest.approx(1000 / (1.0 * (1 - 0.4 * 0.05 * 12)), rel=1e-9)
    assert down == pytest.approx(1000 / 1.0, rel=1e-9)


def test_isochrones_follow_the_walk_towards_the_facility(tmp_path):
    """5 minutes to a canteen at the foot of the hill reach further than to one at the top.

    Residents above the foot walk down to it (−10 %: the flat speed), residents below the
    top walk up (+10 %: 0.705 of it): the areas must differ the right way round.
    """
    import geopandas as gpd
    import shapely

    from service_circle.isochrones import isochrone_areas

    net, _ = add_terrain(street(n=41), plane_dem(tmp_path / "plane.tif"))
    cost = CostModel.walking("adult")
    reach = {}
    for name, y in (("foot", Y0), ("top", Y0 + 1000)):
        fac = gpd.GeoDataFrame({"id": [name]}, geometry=[shapely.Point(X0, y)], crs=UTM)
        result = nearest(net, snap(net, fac, what="f"), cost=cost)
        (area,), _ = isochrone_areas(net, result, [300.0], frontage_m=5, method="vector")
        ys = shapely.get_coordinates(area)[:, 1]
        reach[name] = ys.max() - Y0 if name == "foot" else Y0 + 1000 - ys.min()
    assert reach["foot"] == pytest.approx(300 * 1.43 + 5, abs=2)  # downhill to the foot
    assert reach["top"] == pytest.approx(300 * 1.43 * tobler(GRADE) + 5, abs=2)  # uphill


def test_winter_slows_the_walk_downhill_too(tmp_path):
    from service_circle.profiles import WINTER_SHARE, icy_slope

    net, _ = add_terrain(street(), plane_dem(tmp_path / "plane.tif"))
    up, down = times_along(net, "elderly_winter")
    assert up == pytest.approx(1000 / (1.08 * icy_slope(GRADE)), rel=1e-9)
    assert down == pytest.approx(up, rel=1e-9)  # on ice, no gain downhill
    assert down > times_along(net, "elderly")[1]  # slower than in the dry season
    # any profile takes the season, keeping its own limits
    chair = get_profile("wheelchair_winter")
    assert chair.speed_m_s == pytest.approx(WINTER_SHARE) and chair.avoid_steps
    gentle, _ = add_terrain(street(), plane_dem(tmp_path / "gentle.tif", grade=0.05))
    chair_up, chair_down = times_along(gentle, chair)
    assert chair_up == pytest.approx(1000 / (WINTER_SHARE * 0.76), rel=1e-9)  # its own ramp
    assert chair_down == pytest.approx(1000 / (WINTER_SHARE * icy_slope(-0.05)), rel=1e-9)
    assert times_along(net, chair) == (np.inf, np.inf)  # still no 10 % ramp
    with pytest.raises(Exception, match="any of them \\+ _winter"):
        get_profile("jogger_winter")


OSM_HILL = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
  <node id="20" lat="36.50000" lon="102.10000"/>
  <node id="10" lat="36.50450" lon="102.10000"/>
  <node id="30" lat="36.50900" lon="102.10000"/>
  <way id="1"><nd ref="20"/><nd ref="10"/>
    <tag k="highway" v="footway"/><tag k="incline" v="10%"/></way>
  <way id="2"><nd ref="30"/><nd ref="10"/>
    <tag k="highway" v="path"/><tag k="incline" v="down"/></way>
</osm>
"""


def test_osm_incline_tags_slope_the_walk_where_there_is_no_dem(tmp_path):
    from service_circle.terrain import incline_terrain

    path = tmp_path / "hill.osm"
    path.write_text(OSM_HILL, encoding="utf-8")
    net = load_network(path)
    # the first way climbs north (20 → 10), drawn against the node ids; the path goes down
    # from 30 (north) to 10, i.e. up walking north as well
    lo_hi = {(int(net.node_id[u]), int(net.node_id[v])): g for u, v, g in
             zip(net.edge_u, net.edge_v, net.edge_incline, strict=True)}  # fmt: skip
    assert lo_hi == {(10, 20): pytest.approx(-0.10), (10, 30): pytest.approx(0.05)}
    hill, report = incline_terrain(net)
    assert report.incline_edges == 2 and "sloped by their OSM incline tag" in report.summary()
    cost = CostModel.walking("adult").arc_costs(hill)
    forward = cost[hill.edge_arc]  # lo → hi
    backward = cost[hill.edge_arc_back]
    length = hill.edge_length_m
    # 10 → 20 is downhill at 10 %: the flat speed; 20 → 10 uphill at 0.705 of it
    np.testing.assert_allclose(forward[0], length[0] / (1.43 * tobler(-0.10)))
    np.testing.assert_allclose(backward[0], length[0] / (1.43 * tobler(0.10)))
    np.testing.assert_allclose(forward[1], length[1] / (1.43 * tobler(0.05)))
    with pytest.raises(InputError, match=r"no way of .* has an OSM incline tag"):
        incline_terrain(street())

"""Point files in, snapping, atomic writes, profiles and thresholds."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from networks import street_network

from service_circle import (
    InputError,
    InputNotFoundError,
    Profile,
    Threshold,
    UnknownProfileError,
    get_profile,
    snap,
)
from service_circle.readers import read_points
from service_circle.synthetic import grid_network, random_points
from service_circle.writers import write_csv, write_geojson


@pytest.fixture(scope="module")
def grid():
    return grid_network(20, drop=0.0)


def _lonlat(net, xy):
    pts = gpd.GeoSeries(shapely.points(xy), crs=net.crs).to_crs(4326)
    return pts.x.to_numpy(), pts.y.to_numpy()


def test_csv_points_with_lon_lat(tmp_path, grid):
    lon, lat = _lonlat(grid, [[440_500, 4_420_500], [440_700, 4_420_300]])
    path = tmp_path / "p.csv"
    path.write_text(
        "id,name,Longitude,Latitude\n"
        f"a,一号,{lon[0]},{lat[0]}\n"
        "b,bad,,\n"
        f"c,三号,{lon[1]},{lat[1]}\n"
        "d,text,east,north\n"
    )
    frame = read_points(path)
    assert frame.crs.to_epsg() == 4326
    assert len(frame) == 4  # the unreadable rows are kept, not dropped
    s = snap(grid, frame)
    assert s.status.tolist() == ["ok", "no_geometry", "ok", "no_geometry"]
    assert s.off_network_ids.tolist() == ["b", "d"]


def test_geojson_points_and_polygons(tmp_path, grid):
    polygon = shapely.box(440_480, 4_420_480, 440_520, 4_420_520)
    frame = gpd.GeoDataFrame(
        {"id": [1, 2]},
        geometry=[shapely.Point(440_300, 4_420_300), polygon],
        crs=grid.crs,
    ).to_crs(4326)
    path = tmp_path / "p.geojson"
    frame.to_file(path)
    s = snap(grid, read_points(path))
    assert s.on_network.all()
    assert shapely.contains_xy(polygon, s.x[1], s.y[1])  # a point inside the building


def test_bad_point_files(tmp_path):
    with pytest.raises(InputNotFoundError):
        read_points(tmp_path / "missing.csv")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InputError, match="empty"):
        read_points(empty)
    header = tmp_path / "header.csv"
    header.write_text("lon,lat\n")
    with pytest.raises(InputError, match="no rows"):
        read_points(header)
    nocols = tmp_path / "nocols.csv"
    nocols.write_text("name,address\nA,B\n")
    with pytest.raises(InputError, match="no coordinate columns"):
        read_points(nocols)
    nogeom = tmp_path / "nogeom.geojson"
    nogeom.write_text(
        '{"type":"FeatureCollection","features":['
        '{"type":"Feature","properties":{"id":1},"geometry":null}]}'
    )
    with pytest.raises(InputError, match="no geometry"):
        read_points(nogeom)
    broken = tmp_path / "broken.geojson"
    broken.write_text('{"type": "FeatureCollection", "features": [')
    with pytest.raises(InputError, match=r"broken\.geojson"):
        read_points(broken)
    odd = tmp_path / "points.xyz"
    odd.write_text("1 2 3")
    with pytest.raises(InputError, match="cannot tell the format"):
        read_points(odd)


def test_points_far_from_every_street(grid):
    pts = random_points(grid, 50, seed=1)
    far = gpd.GeoDataFrame(
        {"id": [100, 101]},
        geometry=shapely.points([[450_000, 4_430_000], [430_000, 4_410_000]]),
        crs=grid.crs,
    )
    s = snap(grid, gpd.pd.concat([pts, far], ignore_index=True))
    assert s.off_network_ids.tolist() == [100, 101]
    with pytest.raises(InputError, match="lon/lat swapped"):
        snap(grid, far)


def test_swapped_lon_lat_is_caught(grid):
    lon, lat = _lonlat(grid, [[440_500, 4_420_500]])
    swapped = gpd.GeoDataFrame(geometry=shapely.points([[lat[0], lon[0]]]), crs=4326)
    with pytest.raises(InputError, match="another CRS"):
        snap(grid, swapped)


def test_points_without_crs(grid):
    with pytest.raises(InputError, match="no CRS"):
        snap(grid, gpd.GeoDataFrame(geometry=shapely.points([[0, 0]])))
    with pytest.raises(InputError, match="max_access_m"):
        snap(grid, random_points(grid, 3), max_access_m=0)


def test_small_pieces_are_not_snapped_to():
    # a 1 km street and, 20 m off it, a 10 m fragment (entrance steps)
    net = street_network([(0, 0), (1000, 0), (500, 20), (500, 30)], [(0, 1), (2, 3)])
    home = gpd.GeoDataFrame(geometry=shapely.points([[440_500, 4_420_035]]), crs=net.crs)
    assert snap(net, home).edge.tolist() == [0]
    assert snap(net, home, min_piece_m=0).edge.tolist() == [1]


def test_atomic_writes_leave_no_partial_file(tmp_path):
    frame = gpd.GeoDataFrame(
        {"a": [1]}, geometry=shapely.points([[440_000, 4_420_000]]), crs="EPSG:32650"
    )
    path = write_geojson(frame, tmp_path / "x.geojson")
    text = path.read_text()
    assert '"coordinates": [116.29' in text  # RFC 7946: lon/lat
    write_csv(frame.drop(columns="geometry"), tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_bytes() == b"\xef\xbb\xbfa\n1\n"  # UTF-8 with a BOM

    class Boom(pd.DataFrame):
        def to_csv(self, fh, **kw):
            fh.write("half")
            raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_csv(Boom({"a": [2]}), tmp_path / "x.csv")
    assert (tmp_path / "x.csv").read_text(encoding="utf-8-sig") == "a\n1\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.csv", "x.geojson"]


def test_profiles_and_thresholds():
    assert get_profile().name == "adult"
    assert get_profile("Elderly").speed_m_s == 1.18
    assert get_profile("adult", speed_m_s=1.0).speed_m_s == 1.0
    with pytest.raises(UnknownProfileError, match="adult, adult_winter"):
        get_profile("jogger")
    with pytest.raises(InputError, match="km/h"):
        Profile.custom(5.4)
    with pytest.raises(InputError, match="positive"):
        Profile.custom(0)
    assert Threshold.minutes(15).cost_limit(get_profile()) == 900
    assert Threshold.metres(500).cost_limit(get_profile("slow")) == 500
    assert Threshold.metres(300).label == "300 m"
    with pytest.raises(InputError):
        Threshold.minutes(-1)
    with pytest.raises(InputError):
        Threshold(5, "h")  # type: ignore[arg-type]


def _two_banks():
    # street A along y=0, street B along y=100, a river line along y=40
    net = street_network([(0, 0), (1000, 0), (0, 100), (1000, 100)], [(0, 1), (2, 3)])
    river = gpd.GeoSeries(
        [shapely.LineString([(439_900, 4_420_040), (441_100, 4_420_040)])], crs=net.crs
    )
    return net, river


def test_barriers_keep_points_on_their_own_bank():
    net, river = _two_banks()
    # 45 m north of A (across the river), 55 m south of B (same bank)
    home = gpd.GeoDataFrame(geometry=shapely.points([[440_500, 4_420_045]]), crs=net.crs)
    assert snap(net, home).edge.tolist() == [0]
    s = snap(net, home, barriers=river)
    assert s.edge.tolist() == [1]
    assert s.access_m[0] == pytest.approx(55.0)
    # a point beyond the reach of B is blocked, not snapped across the water
    s = snap(net, home, barriers=river, max_access_m=50)
    assert s.status.tolist() == ["blocked"]
    assert s.off_network_ids.tolist() == [0]


def test_a_point_standing_in_water_walks_out_of_it():
    net, _ = _two_banks()
    pond = gpd.GeoSeries([shapely.box(440_400, 4_420_010, 440_600, 4_420_060)], crs=net.crs)
    pier = gpd.GeoDataFrame(geometry=shapely.points([[440_500, 4_420_020]]), crs=net.crs)
    assert snap(net, pier, barriers=pond).edge.tolist() == [0]
    behind = gpd.GeoDataFrame(geometry=shapely.points([[440_500, 4_420_070]]), crs=net.crs)
    assert snap(net, behind, barriers=pond).edge.tolist() == [1]


def test_water_of_a_real_city_is_respected(guixi_net):
    from conftest import GUIXI, shared_file

    from service_circle.network import barriers_from_osm

    water = barriers_from_osm(shared_file(f"{GUIXI}.osm.pbf"))
    assert len(water) >= 10 and set(water.geom_type) >= {"Polygon"}
    same = barriers_from_osm(shared_file(f"{GUIXI}.osm"))
    assert len(same) > 0
    pts = random_points(guixi_net, 3000, seed=11)
    plain = snap(guixi_net, pts)
    walled = snap(guixi_net, pts, barriers=water)
    moved = plain.edge != walled.edge
    assert moved.sum() > 0
    # no access leg of the walled snap crosses water, unless it starts in it
    lines = guixi_net.edge_geometries()
    ok = walled.on_network
    spots = shapely.line_interpolate_point(lines[walled.edge[ok]], walled.pos_m[ok])
    origin = shapely.points(walled.x[ok], walled.y[ok])
    legs = shapely.linestrings(
        np.stack([shapely.get_coordinates(origin), shapely.get_coordinates(spots)], axis=1)
    )
    walls = water.to_crs(guixi_net.crs).to_numpy()
    for leg, start in zip(legs, origin, strict=True):
        crossing = [w for w in walls if leg.intersects(w) and not w.contains(start)]
        assert not crossing


@pytest.mark.parametrize("winding", [False, True])
def test_snapping_from_segments_matches_shapely_on_every_point(guixi_net, winding):
    """Nearest edge, spot and distance as GEOS gives them (ties aside), without LineStrings."""
    import geopandas as gpd

    from service_circle.walk_network import WalkNetwork

    net = guixi_net
    if winding:  # every edge bent through a vertex beside its midpoint (a centre-line file)
        mx = (net.node_x[net.edge_u] + net.node_x[net.edge_v]) / 2
        my = (net.node_y[net.edge_u] + net.node_y[net.edge_v]) / 2
        net = WalkNetwork.from_edges(
            crs=net.crs, node_x=net.node_x, node_y=net.node_y, edge_u=net.edge_u,
            edge_v=net.edge_v, geom_offsets=np.arange(net.n_edges + 1),
            geom_xy=np.column_stack([mx + 7.0, my - 5.0]), edge_highway=net.edge_highway(),
        )  # fmt: skip
    rng = np.random.default_rng(11)
    x0, y0, x1, y1 = net.bounds
    points = gpd.GeoDataFrame(
        geometry=shapely.points(rng.uniform(x0, x1, 5000), rng.uniform(y0, y1, 5000)), crs=net.crs
    )
    lines = net.edge_geometries()
    for min_piece_m in (0.0, 500.0):
        got = snap(net, points, max_access_m=250, min_piece_m=min_piece_m)
        allowed = np.flatnonzero(net.snap_targets(min_piece_m))
        tree = shapely.STRtree(lines[allowed])
        (row, item), dist = tree.query_nearest(points.geometry.to_numpy(), max_distance=250,
                                               return_distance=True, all_matches=False)  # fmt: skip
        assert set(np.flatnonzero(got.edge >= 0)) == set(row)
        np.testing.assert_allclose(got.access_m[row], dist, atol=1e-6)
        # the same distance everywhere; where the edge differs, two edges are as near (ties
        # at a junction): the spot is the same node
        same = got.edge[row] == allowed[item]
        assert same.mean() > 0.9
        spot = shapely.line_locate_point(lines[allowed[item]], points.geometry.to_numpy()[row])
        np.testing.assert_allclose(got.pos_m[row][same], spot[same], atol=1e-6)
        # the spot a snapped point stands on, from the segments
        xy = net.edge_points(got.edge[row], got.pos_m[row])
        expected = shapely.line_interpolate_point(lines[got.edge[row]], got.pos_m[row])
        np.testing.assert_allclose(xy, shapely.get_coordinates(expected), atol=1e-6)
        theirs = shapely.line_interpolate_point(lines[allowed[item]], spot)
        np.testing.assert_allclose(xy[~same], shapely.get_coordinates(theirs)[~same], atol=1e-6)

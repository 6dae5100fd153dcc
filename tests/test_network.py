"""Network loaders: every source gives the walkable network, projected and compiled."""

from __future__ import annotations

import bz2
import json

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import pytest
import shapely
from conftest import BEIJING, GUIXI, shared_file

from service_circle import CRSError, EmptyNetworkError, InputError, InputNotFoundError
from service_circle._walkable import TAG_COLUMNS, walkable_mask
from service_circle.network import (
    load_network,
    network_around,
    network_from_bbox,
    network_from_lines,
    network_from_place,
    network_from_point,
)
from service_circle.walk_network import WalkNetwork, load_compiled


def edge_set(net: WalkNetwork) -> dict[tuple[int, int], list[float]]:
    """Edges keyed by their end nodes' source ids, with their lengths (two ways may join
    the same two junctions)."""
    u, v = net.node_id[net.edge_u], net.node_id[net.edge_v]
    lo, hi = np.minimum(u, v), np.maximum(u, v)
    out: dict[tuple[int, int], list[float]] = {}
    for key, length in zip(zip(lo.tolist(), hi.tolist(), strict=True), net.edge_length_m,
                           strict=True):  # fmt: skip
        out.setdefault(key, []).append(float(length))
    return {k: sorted(v) for k, v in out.items()}


@pytest.mark.parametrize("name", [BEIJING, GUIXI])
def test_xml_and_pbf_readers_give_the_same_network(name):
    pbf = load_network(shared_file(f"{name}.osm.pbf"))
    xml = load_network(shared_file(f"{name}.osm"))
    assert pbf.crs == xml.crs
    assert set(pbf.node_id) == set(xml.node_id)
    a, b = edge_set(pbf), edge_set(xml)
    assert a.keys() == b.keys()
    for key, lengths in a.items():
        np.testing.assert_allclose(lengths, b[key], rtol=1e-9)
    assert sorted(pbf.edge_highway()) == sorted(xml.edge_highway())


def test_bz2_xml_reads_like_plain_xml(tmp_path):
    src = shared_file(f"{GUIXI}.osm")
    packed = tmp_path / "guixi.osm.bz2"
    packed.write_bytes(bz2.compress(src.read_bytes()))
    assert edge_set(load_network(packed)).keys() == edge_set(load_network(src)).keys()


def test_walkable_filter_on_beijing(beijing_net):
    highway = set(beijing_net.edge_highway())
    # the extract holds a motorway (京藏高速) and its links: no one walks there
    assert not highway & {"motorway", "motorway_link", "construction"}
    assert {"footway", "path", "steps", "residential", "service", "living_street"} <= highway
    # counts from ../shared/data/README.md: 1 369 nodes raw; 484 once the nodes that only
    # bend a way are folded into its edges
    assert beijing_net.n_nodes == 484
    assert load_network(shared_file(f"{BEIJING}.osm.pbf"), simplify=False).n_nodes == 1369
    assert beijing_net.crs.to_epsg() == 32650  # local UTM 50N
    # disconnected pieces are kept
    assert beijing_net.n_components > 1


def test_helsinki_is_projected_to_utm_35n(helsinki_net):
    assert helsinki_net.crs.to_epsg() == 32635
    minx, miny, maxx, maxy = helsinki_net.bounds
    assert 380_000 < minx < maxx < 390_000 and 6_670_000 < miny < maxy < 6_680_000
    assert {"footway", "steps", "pedestrian"} <= set(helsinki_net.edge_highway())


def test_user_crs_is_used_and_checked(beijing_net):
    path = shared_file(f"{BEIJING}.osm.pbf")
    gk = load_network(path, crs="EPSG:4548")  # CGCS2000 3-degree GK, CM 117°E
    assert gk.crs.to_epsg() == 4548
    # a projection changes lengths by its scale factor only, well under 0.1 %
    assert gk.total_length_m == pytest.approx(beijing_net.total_length_m, rel=1e-3)
    with pytest.raises(CRSError, match="degrees"):
        load_network(path, crs="EPSG:4326")
    with pytest.raises(CRSError, match=r"EPSG:32650"):
        load_network(path, crs="EPSG:32633")  # UTM 33N is for Europe
    with pytest.raises(CRSError, match="not a CRS"):
        load_network(path, crs="EPSG:999999")


def test_compiled_network_round_trips(tmp_path, helsinki_net):
    path = helsinki_net.save(tmp_path / "net.npz")
    again = load_compiled(path)
    for name in ("node_x", "node_y", "node_id", "edge_u", "edge_v", "edge_length_m", "indptr"):
        np.testing.assert_array_equal(getattr(again, name), getattr(helsinki_net, name))
    assert again.crs == helsinki_net.crs
    assert again.class_names == helsinki_net.class_names
    assert load_network(path).n_edges == helsinki_net.n_edges
    assert load_network(path, crs="EPSG:32635").n_edges == helsinki_net.n_edges
    with pytest.raises(CRSError, match="compile it again"):
        load_network(path, crs="EPSG:3067")
    assert not list(tmp_path.glob(".*tmp"))  # nothing left from the atomic write


def test_not_a_compiled_network_is_a_clear_error(tmp_path):
    bogus = tmp_path / "x.npz"
    np.savez(bogus, a=np.arange(3))
    with pytest.raises(InputError, match="not a readable compiled service-circle network"):
        load_compiled(bogus)


def test_csr_arrays_are_consistent(beijing_net):
    net = beijing_net
    tail = np.repeat(np.arange(net.n_nodes), np.diff(net.indptr))
    e = net.arc_edge
    expected_head = np.where(net.arc_forward, net.edge_v[e], net.edge_u[e])
    expected_tail = np.where(net.arc_forward, net.edge_u[e], net.edge_v[e])
    np.testing.assert_array_equal(net.arc_head, expected_head)
    np.testing.assert_array_equal(tail, expected_tail)
    np.testing.assert_array_equal(net.arc_edge[net.arc_twin], net.arc_edge)
    np.testing.assert_array_equal(net.arc_forward[net.arc_twin], ~net.arc_forward)
    lengths = shapely.length(net.edge_geometries())
    np.testing.assert_allclose(lengths, net.edge_length_m, rtol=1e-9)


# ---------------------------------------------------------------------- graphs
def _osmnx_graph(name: str) -> nx.MultiDiGraph:
    """The raw osmnx graph of an extract, keeping the tags the walkable rule reads."""
    import osmnx as ox

    tags = ox.settings.useful_tags_way
    ox.settings.useful_tags_way = sorted(set(tags) | set(TAG_COLUMNS))
    try:
        return ox.graph_from_xml(shared_file(f"{name}.osm"), simplify=False, retain_all=True)
    finally:
        ox.settings.useful_tags_way = tags


def test_networkx_graph_and_graphml_give_the_xml_network(tmp_path):
    import osmnx as ox

    xml = load_network(shared_file(f"{GUIXI}.osm"))
    graph = _osmnx_graph(GUIXI)
    from_graph = load_network(graph)
    assert edge_set(from_graph).keys() == edge_set(xml).keys()
    ox.save_graphml(graph, tmp_path / "g.graphml")
    from_graphml = load_network(tmp_path / "g.graphml")
    assert edge_set(from_graphml).keys() == edge_set(xml).keys()


def test_simplified_graph_keeps_curved_geometry():
    import osmnx as ox

    graph = _osmnx_graph(BEIJING)
    # keep the walkable edges first, as osmnx's own walk download would
    raw = load_network(shared_file(f"{BEIJING}.osm"))
    edges = list(graph.edges(keys=True, data=True))
    tags = pd.DataFrame([{k: d.get(k) for k in TAG_COLUMNS} for *_, d in edges])
    graph.remove_edges_from(
        [(u, v, k) for (u, v, k, _), ok in zip(edges, walkable_mask(tags), strict=True) if not ok]
    )
    graph.remove_nodes_from([n for n in list(graph.nodes) if graph.degree(n) == 0])
    net = load_network(ox.simplify_graph(graph))
    assert net.n_nodes < raw.n_nodes
    assert net.geom_xy.shape[0] > 0  # edges with interior vertices
    assert net.total_length_m == pytest.approx(raw.total_length_m, rel=1e-6)
    start = shapely.get_point(net.edge_geometries(), 0)
    np.testing.assert_allclose(shapely.get_x(start), net.node_x[net.edge_u])


def test_graph_without_crs_needs_one():
    graph = nx.Graph()
    graph.add_node(1, x=440_000.0, y=4_420_000.0)
    graph.add_node(2, x=440_100.0, y=4_420_000.0)
    graph.add_edge(1, 2)
    with pytest.raises(CRSError, match="source_crs"):
        load_network(graph)
    net = load_network(graph, source_crs="EPSG:32650")
    assert net.edge_length_m.tolist() == pytest.approx([100.0])


# ---------------------------------------------------------------------- centre-lines
def test_centre_lines_are_noded_where_they_cross_or_meet(tmp_path):
    # an X crossing, a T whose stem ends on the bar, and a separate line
    lines = gpd.GeoDataFrame(
        {"name": ["a", "b", "bar", "stem", "lone"]},
        geometry=shapely.linestrings(
            np.add(
                [
                    [[0, 0], [200, 200]],
                    [[0, 200], [200, 0]],
                    [[400, 0], [600, 0]],
                    [[500, 0], [500, 150]],
                    [[0, 1000], [300, 1000]],
                ],
                [440_000, 4_420_000],
            )
        ),
        crs="EPSG:32650",
    ).to_crs(4326)
    path = tmp_path / "roads.geojson"
    lines.to_file(path)
    net = load_network(path, crs="EPSG:32650")
    assert net.n_edges == 4 + 3 + 1
    assert net.n_components == 3
    degree = np.bincount(np.concatenate([net.edge_u, net.edge_v]))
    assert sorted(degree[degree > 1].tolist()) == [3, 4]
    assert net.total_length_m == pytest.approx(2 * 200 * 2**0.5 + 200 + 150 + 300, rel=1e-6)


def test_centre_lines_from_a_real_network_keep_its_topology(tmp_path, guixi_net):
    # dissolve the OSM network into long lines with no shared vertices topology, then rebuild
    _, edges = guixi_net.to_geodataframes()
    merged = edges.dissolve(by="osmid").geometry.line_merge().explode(index_parts=False)
    path = tmp_path / "centre_lines.gpkg"
    gpd.GeoDataFrame(geometry=merged.to_numpy(), crs=edges.crs).to_file(path)
    net = network_from_lines(path)
    assert net.total_length_m == pytest.approx(guixi_net.total_length_m, rel=1e-4)
    assert net.n_components <= guixi_net.n_components + 2


def test_line_file_without_crs_needs_one(tmp_path):
    path = tmp_path / "roads.geojson"
    path.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {},
                        "geometry": {
                            "type": "LineString",
                            "coordinates": [[440_000, 4_420_000], [440_100, 4_420_000]],
                        },
                    }
                ],
            }
        )
    )
    frame = gpd.read_file(path).set_crs(None, allow_override=True)
    with pytest.raises(CRSError, match="source_crs"):
        network_from_lines(frame)
    assert network_from_lines(frame, source_crs="EPSG:32650").n_edges == 1


# ---------------------------------------------------------------------- online
def test_online_bbox_point_and_place_run_osmnx_for_real(offline_overpass):
    bbox_net = network_from_bbox((116.335, 40.0, 116.36, 40.015))
    assert offline_overpass and "highway" in offline_overpass[0]  # osmnx built a real query
    assert bbox_net.crs.to_epsg() == 32650
    assert "motorway" not in set(bbox_net.edge_highway())
    full = load_network(shared_file(f"{BEIJING}.osm"))
    assert 0 < bbox_net.n_edges < full.n_edges  # osmnx clipped to the box
    assert network_around(116.347, 40.007, 600).n_edges > 50  # longitude first
    with pytest.warns(DeprecationWarning, match="network_around"):  # the old (lat, lon) one
        assert network_from_point((40.007, 116.347), 600).n_edges > 50
    assert network_from_place("Haidian, Beijing").n_edges == pytest.approx(
        bbox_net.n_edges, rel=0.2
    )


def test_online_failure_says_what_to_do(monkeypatch):
    import osmnx as ox
    import requests
    from osmnx import _overpass

    def refuse(query):
        raise requests.exceptions.ConnectionError("no route to host")

    monkeypatch.setattr(_overpass, "_overpass_request", refuse)
    monkeypatch.setattr(ox.settings, "use_cache", False)
    monkeypatch.setattr(ox.settings, "overpass_rate_limit", False)
    from service_circle import NetworkDownloadError

    with pytest.raises(NetworkDownloadError, match=r"\.osm\.pbf"):
        network_from_bbox((116.335, 40.0, 116.36, 40.015))
    with pytest.raises(InputError, match="lat, lon"):
        network_from_bbox((40.0, 116.3, 40.1, 116.4))


# ---------------------------------------------------------------------- bad input
def test_missing_and_empty_files(tmp_path):
    with pytest.raises(InputNotFoundError, match="does not exist"):
        load_network(tmp_path / "nope.osm.pbf")
    empty = tmp_path / "empty.osm.pbf"
    empty.write_bytes(b"")
    with pytest.raises(EmptyNetworkError, match="empty"):
        load_network(empty)
    with pytest.raises(InputError, match="folder"):
        load_network(tmp_path)
    odd = tmp_path / "roads.txt"
    odd.write_text("x")
    with pytest.raises(InputError, match="cannot tell the format"):
        load_network(odd)


def test_corrupt_files_are_clear_errors(tmp_path):
    pbf = tmp_path / "bad.osm.pbf"
    pbf.write_bytes(np.random.default_rng(0).bytes(4000))
    with pytest.raises(InputError, match=r"bad\.osm\.pbf"):
        load_network(pbf)
    xml = tmp_path / "bad.osm"
    xml.write_text("<osm><node id='1' lat='1' lon='1'>")
    with pytest.raises(InputError, match=r"bad\.osm"):
        load_network(xml)
    gj = tmp_path / "bad.geojson"
    gj.write_text("{not json")
    with pytest.raises(InputError, match=r"bad\.geojson"):
        load_network(gj)


NO_WALKABLE = """<?xml version="1.0" encoding="UTF-8"?>
<osm version="0.6">
  <node id="1" lat="40.0" lon="116.30"/><node id="2" lat="40.0" lon="116.31"/>
  <node id="3" lat="40.01" lon="116.30"/><node id="4" lat="40.01" lon="116.31"/>
  <way id="10"><nd ref="1"/><nd ref="2"/><tag k="highway" v="motorway"/></way>
  <way id="11"><nd ref="3"/><nd ref="4"/><nd ref="3"/><tag k="building" v="yes"/></way>
  <way id="12"><nd ref="1"/><nd ref="3"/><tag k="highway" v="footway"/>
    <tag k="access" v="private"/></way>
</osm>
"""


def test_file_without_walkable_ways(tmp_path):
    path = tmp_path / "motorway_only.osm"
    path.write_text(NO_WALKABLE)
    with pytest.raises(EmptyNetworkError, match="no walkable ways"):
        load_network(path)


def test_foot_tag_overrides_access_and_cycleway(tmp_path):
    text = NO_WALKABLE.replace('v="private"/>', 'v="private"/><tag k="foot" v="yes"/>')
    path = tmp_path / "foot_yes.osm"
    path.write_text(text)
    assert load_network(path).edge_highway().tolist() == ["footway"]


def test_lines_file_with_only_points(tmp_path):
    path = tmp_path / "points.geojson"
    gpd.GeoDataFrame(geometry=shapely.points([[116.3, 40.0]]), crs=4326).to_file(path)
    with pytest.raises(InputError, match="no line geometries"):
        load_network(path)


def test_swapped_coordinates_in_a_line_file(tmp_path):
    frame = gpd.GeoDataFrame(
        geometry=shapely.linestrings([[[40.0, 116.3], [40.01, 116.31]]]), crs=None
    )
    with pytest.raises(CRSError, match="swapped"):
        network_from_lines(frame, source_crs="EPSG:4326")


@pytest.mark.parametrize("name", [BEIJING, GUIXI])
def test_folding_the_nodes_that_bend_a_way_changes_no_time(name):
    """A third of the nodes, the same streets: every time within 1e-9 of every OSM node's."""
    import geopandas as gpd
    import shapely

    from service_circle.cost import CostModel
    from service_circle.search import nearest
    from service_circle.snapping import snap

    path = shared_file(f"{name}.osm.pbf")
    raw, folded = load_network(path, simplify=False), load_network(path)
    assert folded.n_nodes < 0.45 * raw.n_nodes  # 56-76 % of OSM nodes only bend a way
    assert folded.total_length_m == pytest.approx(raw.total_length_m, rel=1e-12)
    assert folded.n_components == raw.n_components
    rng = np.random.default_rng(4)
    x0, y0, x1, y1 = raw.bounds
    homes = gpd.GeoDataFrame({"id": np.arange(2000)}, crs=raw.crs, geometry=shapely.points(
        rng.uniform(x0, x1, 2000), rng.uniform(y0, y1, 2000)))  # fmt: skip
    for cost in (CostModel.walking("elderly"), CostModel.distance()):
        times = [nearest(net, snap(net, homes.iloc[:6], what="f"), snap(net, homes, what="p"),
                         cost=cost).point_cost for net in (raw, folded)]  # fmt: skip
        assert np.array_equal(np.isfinite(times[0]), np.isfinite(times[1]))
        reached = np.isfinite(times[0])
        np.testing.assert_allclose(times[1][reached], times[0][reached], rtol=1e-9)

"""Crossing a major road: found where it happens, charged its wait and width, once.

A hand-built junction checks every case by hand: straight across, turning onto the road,
along it, a T junction, a signal at the stop line, a lanes tag; then a point halfway along
a side street against networkx with the same charges at the same ends, real OSM extracts
read both ways, the file, the command line and the report.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from conftest import BEIJING, shared_file
from networks import CRS, X0, Y0, snapped
from reference import reference_costs

from service_circle import InputError
from service_circle.cost import CostModel
from service_circle.crossings import (
    DEFAULT_LANES,
    LANE_WIDTH_M,
    SIGNALS,
    find_crossings,
    node_control,
)
from service_circle.network import load_network
from service_circle.profiles import CROSSING_WAITS, CrossingWaits, Profile, get_profile
from service_circle.search import nearest
from service_circle.walk_network import WalkNetwork, load_compiled

PRIMARY = CROSSING_WAITS.unsignalised_s[1]  # the wait for a gap in primary traffic
SIX_LANES_M = DEFAULT_LANES[1] * LANE_WIDTH_M  # a two-way primary road without lanes tag


def junction(*, north: bool = True, highway: str = "primary") -> WalkNetwork:
    """A side street S–X–N across a primary road W–X–E; X is node 0.

    Nodes: 0 X, 1 W, 2 E, 3 S, 4 N (100 m arms), 5 a signal 20 m west of X on the road.
    """
    xy = [(0, 0), (-100, 0), (100, 0), (0, -100), (0, 100), (-20, 0)]
    edges = [(0, 5), (5, 1), (0, 2), (0, 3), (0, 4)]
    classes = [highway, highway, highway, "residential", "residential"]
    if not north:
        edges, classes = edges[:4], classes[:4]
    xy_m = np.asarray(xy, dtype=float) + np.array([X0, Y0])
    return WalkNetwork.from_edges(
        crs=CRS, node_x=xy_m[:, 0], node_y=xy_m[:, 1],
        edge_u=np.array([u for u, _ in edges]), edge_v=np.array([v for _, v in edges]),
        edge_highway=np.array(classes),
    )  # fmt: skip


def seconds(net: WalkNetwork, start: int, end: int, profile="elderly") -> float:
    """Walking time from node ``start`` to node ``end`` (a facility there)."""
    edge_at = {int(n): e for e in range(net.n_edges) for n in (net.edge_u[e], net.edge_v[e])}

    def at(node: int):
        e = edge_at[node]
        return snapped([e], [0.0 if net.edge_u[e] == node else net.edge_length_m[e]], [0.0])

    result = nearest(net, at(end), at(start), cost=CostModel.walking(profile))
    return float(result.point_cost[0])


def test_a_crossing_is_charged_once_straight_across_half_on_turning_none_along():
    net = junction()
    net = net.with_crossings(find_crossings(net))
    assert net.crossings.n_crossings == 1 and net.crossings.node_class[0] == 1  # primary at X
    crossing = PRIMARY + SIX_LANES_M / 1.18  # the wait, then 21 m at the older walker's speed
    walk = 200 / 1.18
    assert seconds(net, 3, 4) == pytest.approx(walk + crossing)  # S → N: straight across
    assert seconds(net, 4, 3) == pytest.approx(walk + crossing)  # and back
    assert seconds(net, 3, 2) == pytest.approx(walk + crossing / 2)  # S → E: which side?
    assert seconds(net, 1, 2) == pytest.approx(walk)  # W → E along the road: nothing
    # a profile that crosses for free, and a network that knows no crossings
    assert seconds(net, 3, 4, Profile.custom(1.18)) == pytest.approx(walk)
    assert seconds(junction(), 3, 4) == pytest.approx(walk)


def test_a_t_junction_is_no_crossing_and_small_roads_cost_nothing():
    tee = junction(north=False)
    tee = tee.with_crossings(find_crossings(tee))
    assert tee.crossings.n_crossings == 0  # nothing leads across
    assert seconds(tee, 3, 2) == pytest.approx(200 / 1.18)
    lane = junction(highway="residential")
    assert find_crossings(lane).n_crossings == 0


def test_a_signal_at_the_stop_line_controls_the_junction_and_lanes_set_the_width():
    net = junction()
    control = np.zeros(net.n_nodes, np.int8)
    control[5] = node_control({"highway": "traffic_signals"})  # 20 m west of X
    assert control[5] == SIGNALS
    lanes = np.full(net.n_edges, np.nan)
    lanes[:3] = 8  # lanes=8 on the road
    found = find_crossings(net, node_control=control, edge_lanes=lanes)
    assert found.node_signals[0] and found.node_width_m[0] == 8 * LANE_WIDTH_M
    net = net.with_crossings(found)
    eight_lanes = CROSSING_WAITS.signal_s + 8 * LANE_WIDTH_M / 1.18
    assert seconds(net, 3, 4) == pytest.approx(200 / 1.18 + eight_lanes)
    # HCM's mean wait with GB/T 51439's longest red: 70² / (2 × 120) s
    assert CROSSING_WAITS.signal_s == pytest.approx(70**2 / 240)
    # one carriageway of a dual road is half the width
    oneway = find_crossings(net, edge_oneway=np.array([True] * 3 + [False] * 2))
    assert oneway.node_width_m[0] == SIX_LANES_M / 2


def test_a_point_halfway_along_a_side_street_matches_networkx():
    """Charges at the ends of edges, points inside them, both directions: as networkx."""
    net = junction()
    net = net.with_crossings(find_crossings(net))
    cost = CostModel.walking("elderly")
    ends = cost.crossing_costs(net)
    assert ends is not None
    # facilities on the north street and on the road; homes along every street
    edges = np.arange(net.n_edges)
    fac = snapped([4, 2], [60.0, 30.0], [5.0, 0.0])
    share = np.tile([0.0, 0.35, 0.8], net.n_edges)  # at the node, a third, most of the way
    where = share * np.repeat(net.edge_length_m, 3)
    homes = snapped(np.repeat(edges, 3), where, np.full(3 * net.n_edges, 2.0))
    for direction in ("to_facility", "from_facility"):
        result = nearest(net, fac, homes, cost=cost, direction=direction)
        ref_nodes, ref_points = reference_costs(
            net, fac, homes, cost.arc_costs(net), 1 / 1.18,
            to_facility=direction == "to_facility", ends=ends,
        )  # fmt: skip
        np.testing.assert_allclose(result.node_cost, ref_nodes, rtol=1e-12)
        np.testing.assert_allclose(result.point_cost, ref_points, rtol=1e-12)


def test_the_isochrone_stops_at_the_road_it_cannot_cross_in_time():
    """Five minutes to a clinic on the north street: the south street is across the road."""
    import shapely

    from service_circle.isochrones import isochrone_areas

    net = junction()
    net = net.with_crossings(find_crossings(net))
    fac = snapped([4], [50.0], [0.0])  # 50 m north of X
    result = nearest(net, fac, cost=CostModel.walking("elderly"))
    budget = 100.0  # seconds
    (area,), _ = isochrone_areas(net, result, [budget], frontage_m=1, method="vector")
    south = -shapely.get_coordinates(area)[:, 1].min() + Y0
    # 50 m to X, then the crossing, then what is left of the budget down the south street
    left = budget - 50 / 1.18 - (PRIMARY + SIX_LANES_M / 1.18)
    assert south == pytest.approx(left * 1.18 + 1, abs=0.5)


def test_osm_crossings_are_read_the_same_from_pbf_and_xml_and_saved(tmp_path):
    pbf = load_network(shared_file(f"{BEIJING}.osm.pbf"), crossings=True)
    xml = load_network(shared_file(f"{BEIJING}.osm"), crossings=True)

    def found(net: WalkNetwork) -> dict[int, tuple]:
        c = net.crossings
        return {int(net.node_id[x]): (int(c.node_class[x]), bool(c.node_signals[x]),
                                      float(c.node_width_m[x]))
                for x in np.flatnonzero(c.node_class >= 0)}  # fmt: skip

    assert found(pbf) == found(xml) and len(found(pbf)) > 20
    assert sum(s for _, s, _ in found(pbf).values()) > 10  # Beijing's junctions have signals
    path = pbf.save(tmp_path / "haidian.npz")
    again = load_compiled(path)
    assert found(again) == found(pbf)
    assert np.array_equal(again.crossings.arc_ends, pbf.crossings.arc_ends)
    cost = CostModel.walking("elderly")
    np.testing.assert_array_equal(cost.arc_costs(again), cost.arc_costs(pbf))
    plain = load_network(shared_file(f"{BEIJING}.osm.pbf"))
    assert plain.crossings is None
    plain.save(tmp_path / "plain.npz")
    with pytest.raises(InputError, match="compiled without its road crossings"):
        load_network(tmp_path / "plain.npz", crossings=True)


def test_the_waits_are_the_profiles_and_checked():
    assert get_profile("elderly").crossing == CROSSING_WAITS
    assert get_profile("wheelchair_winter").crossing == CROSSING_WAITS
    slow = get_profile("elderly_winter")
    assert slow.step_s > get_profile("elderly").step_s  # winter steps take longer too
    with pytest.raises(InputError, match="crossing waits"):
        CrossingWaits(unsignalised_s=(30.0, 20.0))
    with pytest.raises(InputError, match="crossing waits"):
        CrossingWaits(signal_s=-1.0)
    patient = replace(get_profile("adult"), crossing=CrossingWaits(signal_s=60.0))
    net = junction()
    control = np.zeros(net.n_nodes, np.int8)
    control[0] = SIGNALS
    net = net.with_crossings(find_crossings(net, node_control=control))
    assert seconds(net, 3, 4, patient) - seconds(net, 3, 4, "adult") == pytest.approx(
        60.0 - CROSSING_WAITS.signal_s
    )


def test_times_network_and_the_report_take_crossings(tmp_path, capsys):
    import json

    import pandas as pd

    from service_circle.cli import main

    pbf = str(shared_file(f"{BEIJING}.osm.pbf"))
    assert main(["network", pbf, "--crossings", "--out", str(tmp_path / "h.npz")]) == 0
    assert "crossings of major roads" in capsys.readouterr().err
    assert load_compiled(tmp_path / "h.npz").crossings is not None
    demand = tmp_path / "demand.geojson"
    assert main(["demand", "--buildings", pbf, "--out", str(demand)]) == 0
    study = tmp_path / "study"
    assert main(["build", "--network", str(tmp_path / "h.npz"), "--crossings", "--facilities",
                 pbf, "--demand", str(demand), "--out", str(study)]) == 0  # fmt: skip
    out = tmp_path / "out"
    assert main(["analyze", "--study", str(study), "--lang", "en", "--out", str(out)]) == 0
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    effect = pd.DataFrame(report["terrain_effect"]["summary"])
    assert len(effect) and "crossings of major roads" in report["terrain_effect"]["terrain"]
    # crossings only ever add time: as walked never reaches more than crossing free
    assert (effect["share_terrain"] <= effect["share_flat"] + 1e-12).all()
    assert (effect["median_min_terrain"] >= effect["median_min_flat"] - 1e-9).all()
    assert (effect["median_min_terrain"] > effect["median_min_flat"]).any()
    table = pd.read_csv(out / "terrain_effect.csv", encoding="utf-8-sig")
    assert {"share, with road crossings", "share, crossing free"} <= set(table.columns)
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "What road crossings cost" in page

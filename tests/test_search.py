"""The search against networkx on real networks, and property tests on random graphs."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from networks import random_network, snapped, street_network
from reference import reference_costs

from service_circle import InputError, Snapped, WalkNetwork, get_profile, snap
from service_circle.cost import CostModel, Threshold
from service_circle.profiles import Profile
from service_circle.search import nearest, network_distances, reach_pairs, travel_times
from service_circle.synthetic import grid_network, random_points

RTOL = 1e-6


def assert_costs_equal(ours: np.ndarray, ref: np.ndarray) -> None:
    np.testing.assert_array_equal(np.isfinite(ours), np.isfinite(ref))
    fin = np.isfinite(ref)
    np.testing.assert_allclose(ours[fin], ref[fin], rtol=RTOL, atol=1e-9)


def points_beside_facilities(net: WalkNetwork, fac: Snapped, n: int, seed: int):
    """Points on the same edges as facilities, a little way along (the same-edge case)."""
    rng = np.random.default_rng(seed)
    rows = rng.choice(np.flatnonzero(fac.on_network), n)
    lines = net.edge_geometries()[fac.edge[rows]]
    frac = rng.uniform(0, 1, n)
    spot = shapely.line_interpolate_point(lines, frac, normalized=True)
    offset = rng.uniform(-8, 8, (n, 2))
    return shapely.points(shapely.get_coordinates(spot) + offset)


@pytest.mark.parametrize("which", ["helsinki_net", "beijing_net", "guixi_net"])
def test_times_match_networkx_on_real_networks(which, request):
    import geopandas as gpd

    net: WalkNetwork = request.getfixturevalue(which)
    fac = snap(net, random_points(net, 15, seed=1))
    random_pts = random_points(net, 300, seed=2).geometry.to_numpy()
    beside = points_beside_facilities(net, fac, 60, seed=3)
    pts = snap(net, gpd.GeoDataFrame(geometry=np.concatenate([random_pts, beside]), crs=net.crs))
    assert (pts.edge[-60:][:, None] == fac.edge[None, :]).any(axis=1).sum() > 30
    for name in ("adult", "elderly"):
        profile = get_profile(name)
        result = travel_times(net, fac, pts, profile=profile)
        ref_nodes, ref_points = reference_costs(
            net, fac, pts, CostModel.walking(profile).arc_costs(net), 1 / profile.speed_m_s
        )
        assert_costs_equal(result.node_cost, ref_nodes)
        assert_costs_equal(result.point_cost, ref_points)


def test_nearest_facility_is_the_one_reported(beijing_net):
    net = beijing_net
    fac = snap(net, random_points(net, 10, seed=4))
    pts = snap(net, random_points(net, 200, seed=5))
    both = travel_times(net, fac, pts)
    for f in np.unique(both.point_facility[both.point_facility >= 0]):
        alone = travel_times(net, fac.take(np.arange(len(fac)) == f), pts)
        mine = both.point_facility == f
        np.testing.assert_allclose(both.point_cost[mine], alone.point_cost[mine], rtol=1e-12)


def test_cutoff_bounds_the_search_without_changing_times(helsinki_net):
    net = helsinki_net
    fac = snap(net, random_points(net, 5, seed=6))
    pts = snap(net, random_points(net, 400, seed=7))
    full = travel_times(net, fac, pts)
    cut = travel_times(net, fac, pts, limit_s=300)
    inside = full.point_cost <= 300
    assert 0 < inside.sum() < np.isfinite(full.point_cost).sum()
    np.testing.assert_allclose(cut.point_cost[inside], full.point_cost[inside])
    assert np.all(np.isinf(cut.point_cost[~inside]))
    assert np.all(cut.point_facility[~inside] == -1)
    frame = cut.to_frame()
    beyond = ~inside & np.isfinite(full.point_cost)
    assert set(frame["status"][beyond]) == {"beyond_threshold"}
    assert frame["time_s"][beyond].isna().all()
    assert np.all(cut.node_cost[np.isfinite(cut.node_cost)] <= 300)


def test_distance_is_time_times_speed(guixi_net):
    net = guixi_net
    fac = snap(net, random_points(net, 6, seed=8))
    pts = snap(net, random_points(net, 200, seed=9))
    metres = network_distances(net, fac, pts)
    seconds = travel_times(net, fac, pts, profile=Profile.custom(1.25))
    assert metres.to_frame().columns[1] == "distance_m"
    assert_costs_equal(metres.point_cost, seconds.point_cost * 1.25)


def _line_net(length_m: float = 100.0) -> WalkNetwork:
    # a straight street u=(0,0) → v=(length,0), with a side street to (length, 50)
    nodes = [(0, 0), (length_m, 0), (length_m, 50)]
    return street_network(nodes, [(0, 1), (1, 2)], at_origin=False)


def test_point_on_the_same_edge_walks_straight_along_it():
    net = _line_net()
    speed = 1.0
    fac = snapped([0], [30.0], [10.0])
    pts = snapped([0, 0, 1], [70.0, 10.0, 25.0], [5.0, 0.0, 2.0])
    result = travel_times(net, fac, pts, profile=Profile.custom(speed))
    # 70 m → 30 m along the edge, plus both access legs
    np.testing.assert_allclose(result.point_cost, [40 + 10 + 5, 20 + 10, 2 + 25 + 70 + 10])
    np.testing.assert_allclose(result.node_cost, [30 + 10, 70 + 10, 50 + 70 + 10])
    assert result.point_facility.tolist() == [0, 0, 0]


def test_snap_measures_position_and_access_leg():
    import geopandas as gpd

    net = _line_net()
    pts = gpd.GeoDataFrame(
        {"id": ["a", "b", "far"]},
        geometry=shapely.points([[30, 12], [100, 20], [5000, 5000]]),
        crs=net.crs,
    )
    s = snap(net, pts, max_access_m=50)
    assert s.edge.tolist() == [0, 1, -1]
    np.testing.assert_allclose(s.pos_m[:2], [30, 20])
    np.testing.assert_allclose(s.access_m[:2], [12, 0])
    assert s.status.tolist() == ["ok", "ok", "off_network"]
    assert s.off_network_ids.tolist() == ["far"]


def test_unreachable_points_are_reported_on_disconnected_pieces():
    # two separate streets 1 km apart; the facility is on the first
    net = street_network([(0, 0), (300, 0), (0, 1000), (300, 1000)], [(0, 1), (2, 3)])
    fac = snapped([0], [10.0], [0.0])
    pts = snapped([0, 1], [200.0, 100.0], [0.0, 0.0])
    frame = travel_times(net, fac, pts).to_frame()
    assert frame["status"].tolist() == ["ok", "unreachable"]
    assert np.isnan(frame["time_s"][1])
    assert frame["facility_id"][1] is None


def test_no_facility_on_the_network_means_every_point_unreachable():
    net = _line_net()
    fac = snapped([-1], [np.nan], [np.nan])
    pts = snapped([0], [10.0], [0.0])
    result = travel_times(net, fac, pts)
    assert np.isinf(result.point_cost).all()
    assert result.to_frame()["status"].tolist() == ["unreachable"]


def test_bad_search_arguments_are_errors():
    net = _line_net()
    fac = snapped([0], [1.0], [0.0])
    with pytest.raises(InputError, match="limit must be positive"):
        travel_times(net, fac, limit_s=-5)
    with pytest.raises(InputError, match="direction"):
        travel_times(net, fac, direction="sideways")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="GeoDataFrame"):
        travel_times(net, [1, 2, 3])  # type: ignore[arg-type]


# ---------------------------------------------------------------------- properties
@st.composite
def random_instance(draw):
    n_nodes = draw(st.integers(2, 25))
    n_edges = draw(st.integers(1, 45))
    u = np.array(draw(st.lists(st.integers(0, n_nodes - 1), min_size=n_edges, max_size=n_edges)))
    v = np.array(draw(st.lists(st.integers(0, n_nodes - 1), min_size=n_edges, max_size=n_edges)))
    length = np.array(
        draw(
            st.lists(
                st.one_of(st.just(0.0), st.floats(0.5, 500)), min_size=n_edges, max_size=n_edges
            )
        )
    )
    length[u == v] = np.maximum(length[u == v], 1.0)

    def points(k_min):
        k = draw(st.integers(k_min, 12))
        edge = np.array(
            draw(st.lists(st.integers(-1, n_edges - 1), min_size=k, max_size=k)), dtype=np.int64
        )
        frac = np.array(draw(st.lists(st.floats(0, 1), min_size=k, max_size=k)), dtype=float)
        access = np.array(draw(st.lists(st.floats(0, 80), min_size=k, max_size=k)), dtype=float)
        pos = np.where(edge >= 0, frac * length[np.maximum(edge, 0)], np.nan)
        return snapped(edge, pos, np.where(edge >= 0, access, np.nan))

    factors = np.array(
        draw(st.lists(st.floats(0.3, 2.0), min_size=2 * n_edges, max_size=2 * n_edges))
    )
    return u, v, length, points(1), points(0), factors


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_instance(), st.sampled_from(["to_facility", "from_facility"]), st.booleans())
def test_property_engine_equals_networkx_on_random_graphs(instance, direction, sloped):
    u, v, length, fac, pts, factors = instance
    net = random_network(u, v, length)
    profile = Profile("test", 1.3, arc_factor=(lambda n: factors[: n.n_arcs]) if sloped else None)
    result = travel_times(net, fac, pts, profile=profile, direction=direction)
    ref_nodes, ref_points = reference_costs(
        net,
        fac,
        pts,
        CostModel.walking(profile).arc_costs(net),
        1 / 1.3,
        to_facility=direction == "to_facility",
    )
    assert_costs_equal(result.node_cost, ref_nodes)
    assert_costs_equal(result.point_cost, ref_points)
    reached = np.isfinite(result.point_cost)
    assert np.all(result.point_facility[reached] >= 0)
    assert np.all(result.point_facility[~reached] == -1)


@settings(max_examples=80, deadline=None)
@given(random_instance(), st.floats(1, 600))
def test_property_limit_keeps_exactly_the_costs_within_it(instance, limit):
    u, v, length, fac, pts, _ = instance
    net = random_network(u, v, length)
    full = travel_times(net, fac, pts)
    cut = travel_times(net, fac, pts, limit_s=limit)
    within = full.point_cost <= limit
    np.testing.assert_allclose(cut.point_cost[within], full.point_cost[within], rtol=1e-12)
    assert np.all(np.isinf(cut.point_cost[~within]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_instance(), st.floats(1, 600), st.booleans())
def test_property_reach_pairs_are_each_facility_searched_alone(instance, limit, sloped):
    # the reach table (2SFCA, siting) searches many sources per call; each pair must be what
    # a search from that one facility gives, and every pair within the limit must be there
    u, v, length, fac, pts, factors = instance
    net = random_network(u, v, length)
    profile = Profile("test", 1.3, arc_factor=(lambda n: factors[: n.n_arcs]) if sloped else None)
    cost = CostModel.walking(profile)
    table = reach_pairs(net, fac, pts, cost=cost, limit=limit)
    expected = []
    for s in range(len(fac)):
        alone = travel_times(net, fac.take([s]), pts, profile=profile, limit_s=limit)
        for t in np.flatnonzero(alone.point_cost <= limit):
            expected.append((s, t, alone.point_cost[t]))
    got = sorted(zip(table["source"], table["target"], table["cost"], strict=True))
    assert [(s, t) for s, t, _ in got] == [(s, t) for s, t, _ in sorted(expected)]
    np.testing.assert_allclose(
        [c for *_, c in got], [c for *_, c in sorted(expected)], rtol=1e-12, atol=1e-9
    )


def test_reach_pairs_with_no_facility_on_the_network_is_empty():
    net = _line_net()
    table = reach_pairs(
        net, snapped([-1], [np.nan], [np.nan]), snapped([0], [10.0], [0.0]),
        cost=CostModel.distance(), limit=500.0,
    )  # fmt: skip
    assert table.empty and table.columns.tolist() == ["source", "target", "cost"]


def test_reach_pairs_on_a_real_network_in_batches(beijing_net):
    # more facilities than one batch, so the batching and the target indexes are exercised
    fac = snap(beijing_net, random_points(beijing_net, 150, seed=4))
    homes = snap(beijing_net, random_points(beijing_net, 3000, seed=5))
    cost = CostModel.walking("elderly")
    limit = cost.limit(Threshold.minutes(10))
    table = reach_pairs(beijing_net, fac, homes, cost=cost, limit=limit)
    assert len(table) > 0
    for s in (0, 64, 149):
        alone = travel_times(beijing_net, fac.take([s]), homes, profile="elderly", limit_s=limit)
        mine = table[table["source"] == s].sort_values("target")
        within = np.flatnonzero(alone.point_cost <= limit)
        np.testing.assert_array_equal(mine["target"].to_numpy(), within)
        np.testing.assert_allclose(mine["cost"].to_numpy(), alone.point_cost[within], rtol=1e-12)


def test_grid_network_search_reaches_every_node_of_a_connected_grid():
    net = grid_network(30, drop=0.0)
    fac = snap(net, random_points(net, 3, seed=1))
    result = travel_times(net, fac)
    assert net.n_components == 1
    assert np.isfinite(result.node_cost).all()
    assert set(np.unique(result.node_facility)) <= set(range(3))


def test_queries_reusing_the_arc_buffer_agree_across_models_and_threads(beijing_net):
    """Each thread writes its seeds after its own copy of the arcs: answers never mix."""
    from concurrent.futures import ThreadPoolExecutor

    from service_circle.synthetic import random_points

    net = beijing_net
    sets = [snap(net, random_points(net, n, seed=n), what="f") for n in (3, 7, 11, 20)]
    models = [CostModel.walking("adult"), CostModel.distance(), CostModel.walking("elderly")]
    fresh = {}
    for i, fac in enumerate(sets):
        for j, model in enumerate(models):
            alone = replace(net, _cache={})  # a network that has answered nothing before
            fresh[i, j] = nearest(alone, fac, cost=model, limit=1200.0).node_cost
    jobs = [(i, j) for _ in range(3) for i in range(len(sets)) for j in range(len(models))]

    def run(job):
        i, j = job
        return job, nearest(net, sets[i], cost=models[j], limit=1200.0).node_cost

    with ThreadPoolExecutor(4) as pool:
        for (i, j), cost in pool.map(run, jobs):
            np.testing.assert_array_equal(cost, fresh[i, j])

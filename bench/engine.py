"""Benchmark: time to the nearest facility for every node — ours, networkx and pandana.

Run ``python bench/engine.py`` (``pip install -e ".[bench]"`` first). On the Helsinki
network and on generated grids of 10k, 100k and 1M nodes it times, in one run and on the
same graph:

- ours: one bounded multi-source Dijkstra (``travel_times``), facilities edge-exact;
- networkx ``multi_source_dijkstra_path_length`` from the facilities' nodes;
- pandana: network build (contraction hierarchies) + ``set_pois`` + ``nearest_pois``.

Facilities sit exactly on nodes, so all three answer the same question and the script
checks that the answers agree. Every search is bounded at 15 minutes of walking (pandana
needs a bound); ours and networkx are also timed without a bound. Times are medians of
``--repeat`` runs; the last columns are ratios (how many times faster ours is).
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from pathlib import Path

import geopandas as gpd
import networkx as nx
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_time, print_table

from service_circle import get_profile, snap, travel_times
from service_circle.cost import CostModel
from service_circle.synthetic import grid_network
from service_circle.walk_network import WalkNetwork, load_compiled

CUTOFF_S = 15 * 60
GRID_SIDES = {"10k": 100, "100k": 317, "1M": 1000}
PROFILE = get_profile("adult")
COST = CostModel.walking(PROFILE)


def networks(sizes: list[str]):
    for size in sizes:
        if size == "helsinki":
            from service_circle.network import load_network
            from service_circle.sample import sample_pbf

            yield "Helsinki (OSM)", load_network(sample_pbf())
        else:
            n_side = GRID_SIDES[size]
            yield f"grid {n_side}×{n_side}", grid_network(n_side)


def facilities_on_nodes(
    net: WalkNetwork, count: int, seed: int = 0
) -> tuple[np.ndarray, gpd.GeoDataFrame]:
    rng = np.random.default_rng(seed)
    nodes = rng.choice(net.n_nodes, count, replace=False)
    points = gpd.GeoDataFrame(
        {"id": nodes}, geometry=shapely.points(net.node_x[nodes], net.node_y[nodes]), crs=net.crs
    )
    return nodes, points


def to_networkx(net: WalkNetwork, cost: np.ndarray) -> nx.Graph:
    graph = nx.Graph()
    graph.add_nodes_from(range(net.n_nodes))
    fwd = net.arc_forward
    graph.add_weighted_edges_from(
        zip(
            net.edge_u[net.arc_edge[fwd]].tolist(),
            net.edge_v[net.arc_edge[fwd]].tolist(),
            cost[fwd].tolist(),
            strict=True,
        )
    )
    return graph


def run(sizes: list[str], repeat: int, nx_max_nodes: int, pandana_max_nodes: int) -> list[dict]:
    rows = []
    for label, net in networks(sizes):
        gc.collect()
        rows.append(bench_network(label, net, repeat, nx_max_nodes, pandana_max_nodes))
        print(f"  done: {label}", file=sys.stderr, flush=True)
    return rows


def bench_network(
    label: str, net: WalkNetwork, repeat: int, nx_max_nodes: int, pandana_max_nodes: int
) -> dict:
    n_fac = max(10, net.n_nodes // 2000)
    fac_nodes, fac_points = facilities_on_nodes(net, n_fac)
    t_snap, fac = median_time(lambda: snap(net, fac_points, min_piece_m=0), repeat)
    t_ours, ours = median_time(lambda: travel_times(net, fac, limit_s=CUTOFF_S), repeat)
    t_full, ours_full = median_time(lambda: travel_times(net, fac), repeat)
    row = {
        "network": label,
        "nodes": net.n_nodes,
        "edges": net.n_edges,
        "facilities": n_fac,
        "ours_s": t_ours,
        "ours_unbounded_s": t_full,
        "snap_s": t_snap,
        "arrays_MB": net.nbytes / 1e6,
    }
    cost = COST.arc_costs(net)
    sources = set(fac_nodes.tolist())
    if net.n_nodes <= nx_max_nodes:
        graph = to_networkx(net, cost)
        nx_repeat = repeat if net.n_nodes <= 200_000 else 1
        t_nx, _ = median_time(
            lambda: nx.multi_source_dijkstra_path_length(graph, sources, cutoff=CUTOFF_S),
            nx_repeat,
        )
        t_nx_full, ref_full = median_time(
            lambda: nx.multi_source_dijkstra_path_length(graph, sources), nx_repeat
        )
        row |= {
            "networkx_s": t_nx,
            "networkx_unbounded_s": t_nx_full,
            "x_networkx": t_nx / t_ours,
            "x_networkx_unbounded": t_nx_full / t_full,
            "max_rel_diff_nx": _max_rel_diff(ours_full.node_cost, ref_full),
        }
        del graph
    if net.n_nodes <= pandana_max_nodes:
        t_pdna, (pdna_build, pdna_dist) = median_time(
            lambda: _pandana(net, cost, fac_nodes), max(1, repeat // 3)
        )
        row |= {
            "pandana_s": t_pdna,
            "pandana_build_s": pdna_build,
            "x_pandana": t_pdna / t_ours,
            "max_rel_diff_pandana": _max_rel_diff(ours.node_cost, pdna_dist, bounded=True),
        }
    return row


def _pandana(net: WalkNetwork, cost: np.ndarray, fac_nodes: np.ndarray):
    import pandana

    start = time.perf_counter()
    fwd = net.arc_forward
    edges = pd.DataFrame({"cost": cost[fwd]})
    network = pandana.Network(
        pd.Series(net.node_x),
        pd.Series(net.node_y),
        pd.Series(net.edge_u[net.arc_edge[fwd]]),
        pd.Series(net.edge_v[net.arc_edge[fwd]]),
        edges,
        twoway=True,
    )
    build = time.perf_counter() - start
    network.set_pois(
        "fac", CUTOFF_S, 1, pd.Series(net.node_x[fac_nodes]), pd.Series(net.node_y[fac_nodes])
    )
    found = network.nearest_pois(CUTOFF_S, "fac", num_pois=1)
    dist = found[1].to_numpy(dtype=np.float64, copy=True)
    dist[dist >= CUTOFF_S] = np.inf
    return build, dist


def _max_rel_diff(ours: np.ndarray, ref, *, bounded: bool = False) -> float:
    if isinstance(ref, dict):
        ref = np.array([ref.get(i, np.inf) for i in range(ours.size)])
    both = np.isfinite(ours) & np.isfinite(ref)
    if not bounded and not np.array_equal(np.isfinite(ours), np.isfinite(ref)):
        return float("inf")
    if not both.any():
        return 0.0
    return float(np.max(np.abs(ours[both] - ref[both]) / np.maximum(ref[both], 1e-9)))


def reload_times(repeat: int) -> list[dict]:
    import tempfile

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, net in networks(["helsinki", "1M"]):
            path = net.save(Path(tmp) / "net.npz")
            t_load, _ = median_time(lambda p=path: load_compiled(p), repeat)
            rows.append(
                {"network": label, "file_MB": path.stat().st_size / 1e6, "reload_s": t_load}
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes", default="helsinki,10k,100k,1M", help="comma-separated: helsinki,10k,100k,1M"
    )
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument(
        "--nx-max-nodes", type=int, default=1_000_000, help="skip networkx above this size"
    )
    parser.add_argument(
        "--pandana-max-nodes",
        type=int,
        default=200_000,
        help="skip pandana above this size (its CH build takes over 10 min at 1M)",
    )
    args = parser.parse_args()
    rows = run(args.sizes.split(","), args.repeat, args.nx_max_nodes, args.pandana_max_nodes)
    print(
        f"\nNearest facility for every node, cutoff {CUTOFF_S // 60} min at "
        f"{PROFILE.speed_m_s} m/s (medians of {args.repeat}); x_* = times faster than ours\n"
    )
    print_table(
        rows,
        [
            "network",
            "nodes",
            "facilities",
            "ours_s",
            "networkx_s",
            "x_networkx",
            "pandana_s",
            "pandana_build_s",
            "x_pandana",
        ],
    )
    print()
    print_table(
        rows,
        [
            "network",
            "ours_unbounded_s",
            "networkx_unbounded_s",
            "x_networkx_unbounded",
            "snap_s",
            "arrays_MB",
            "max_rel_diff_nx",
            "max_rel_diff_pandana",
        ],
    )
    print()
    print_table(reload_times(args.repeat), ["network", "file_MB", "reload_s"])


if __name__ == "__main__":
    main()

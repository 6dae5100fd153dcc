"""A networkx reference for the engine: points inserted as nodes on split edges.

Every facility and point splits its edge at its position (several on one edge split it in
order), hangs off that spot by its access leg, and networkx's multi-source Dijkstra runs
from the facility nodes. Directed: arc costs may differ per direction (slope factors).
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import networkx as nx
import numpy as np

from service_circle.snapping import Snapped
from service_circle.walk_network import WalkNetwork


def reference_costs(
    net: WalkNetwork,
    facilities: Snapped,
    points: Snapped,
    arc_cost: np.ndarray,
    access_per_m: float,
    *,
    to_facility: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Node costs and point costs to the nearest facility, computed by networkx."""
    forward = np.empty(net.n_edges)
    backward = np.empty(net.n_edges)
    forward[net.arc_edge[net.arc_forward]] = arc_cost[net.arc_forward]
    backward[net.arc_edge[~net.arc_forward]] = arc_cost[~net.arc_forward]

    on_edge: dict[int, list[tuple[float, object]]] = defaultdict(list)
    graph = nx.DiGraph()
    graph.add_nodes_from(range(net.n_nodes))
    for kind, snapped in (("F", facilities), ("P", points)):
        for i in np.flatnonzero(snapped.on_network):
            e = int(snapped.edge[i])
            length = net.edge_length_m[e]
            frac = snapped.pos_m[i] / length if length > 0 else 0.0
            spot = (kind, "spot", int(i))
            on_edge[e].append((min(max(frac, 0.0), 1.0), spot))
            leg = snapped.access_m[i] * access_per_m
            graph.add_edge((kind, int(i)), spot, weight=leg)
            graph.add_edge(spot, (kind, int(i)), weight=leg)
    for e in range(net.n_edges):
        u, v = int(net.edge_u[e]), int(net.edge_v[e])
        chain = [(0.0, u), *sorted(on_edge.get(e, []), key=lambda t: t[0]), (1.0, v)]
        for (fa, a), (fb, b) in itertools.pairwise(chain):
            _add_min(graph, a, b, forward[e] * (fb - fa))
            _add_min(graph, b, a, backward[e] * (fb - fa))
    sources = [("F", int(i)) for i in np.flatnonzero(facilities.on_network)]
    search = graph.reverse(copy=False) if to_facility else graph
    dist = nx.multi_source_dijkstra_path_length(search, sources, weight="weight") if sources else {}
    node_cost = np.array([dist.get(n, np.inf) for n in range(net.n_nodes)])
    point_cost = np.array([dist.get(("P", i), np.inf) for i in range(len(points))])
    return node_cost, point_cost


def _add_min(graph: nx.DiGraph, a: object, b: object, weight: float) -> None:
    if a == b:
        return
    if graph.has_edge(a, b):
        weight = min(weight, graph[a][b]["weight"])
    graph.add_edge(a, b, weight=weight)

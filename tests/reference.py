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
    ends: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Node costs and point costs to the nearest facility, computed by networkx.

    ``ends``: per arc, what is charged at its tail and at its head (half a road crossing,
    ``CostModel.crossing_costs``), included in ``arc_cost``: the piece of an edge next to an
    end carries it (even one of no length: a point at the node is on the edge's side), the
    rest is shared by length.
    """
    if ends is None:
        ends = (np.zeros(net.n_arcs), np.zeros(net.n_arcs))
    body = arc_cost - ends[0] - ends[1]
    forward, backward = np.empty(net.n_edges), np.empty(net.n_edges)
    fwd, bwd = net.arc_forward, ~net.arc_forward
    forward[net.arc_edge[fwd]], backward[net.arc_edge[bwd]] = body[fwd], body[bwd]
    f_tail, f_head = np.empty(net.n_edges), np.empty(net.n_edges)
    b_tail, b_head = np.empty(net.n_edges), np.empty(net.n_edges)
    f_tail[net.arc_edge[fwd]], f_head[net.arc_edge[fwd]] = ends[0][fwd], ends[1][fwd]
    b_tail[net.arc_edge[bwd]], b_head[net.arc_edge[bwd]] = ends[0][bwd], ends[1][bwd]

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
            # forward runs u → v: its tail charge on the piece at u, its head's at v
            at_u, at_v = a == u, b == v
            extra_f = (f_tail[e] if at_u else 0.0) + (f_head[e] if at_v else 0.0)
            extra_b = (b_head[e] if at_u else 0.0) + (b_tail[e] if at_v else 0.0)
            _add_min(graph, a, b, forward[e] * (fb - fa) + extra_f)
            _add_min(graph, b, a, backward[e] * (fb - fa) + extra_b)
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

"""The search: one bounded multi-source Dijkstra per category, in compiled code.

:func:`nearest` seeds both ends of every facility's edge with the partial-edge cost plus
the facility's access leg, and runs ONE Dijkstra from all of them at once, bounded by the
limit. It yields, for every node, the cost to the nearest facility and which facility that
is. A point then costs its access leg plus the cheaper of walking to either end of its
edge and on from there, or — when a facility sits on the same edge — walking straight
along the edge to it. What the search adds up is a :class:`~service_circle.cost.CostModel`
(seconds under a walking profile, or metres); :func:`travel_times` and
:func:`network_distances` are the two usual ones.

The kernel is ``scipy.sparse.csgraph.dijkstra`` (compiled, with one virtual node per
facility, ``min_only=True`` and ``limit``), tested against networkx. A radix-heap kernel of
our own in C was measured against it end to end and was only 1.04–1.33× faster at 100k,
1M and 3M nodes, so it was removed: installing needs no compiler.

By default costs run *to* the facility (people walk to the canteen); with asymmetric
per-arc costs (slope) the search runs on the reversed arcs, so that direction is right.
"""

from __future__ import annotations

import logging
import threading
import warnings
from dataclasses import dataclass
from typing import Literal

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.sparse import csgraph, csr_matrix

from service_circle import _deadline
from service_circle._errors import InputError
from service_circle.cost import CostModel
from service_circle.profiles import Profile
from service_circle.snapping import Snapped, as_snapped
from service_circle.walk_network import WalkNetwork

logger = logging.getLogger(__name__)

Direction = Literal["to_facility", "from_facility"]


@dataclass(frozen=True, eq=False)
class SearchResult:
    """The result of one search: cost to the nearest facility for nodes and points.

    Costs are in the cost model's unit (``unit``: ``"s"`` or ``"m"``); ``inf`` is beyond
    the limit or unreachable, and facility indices are ``-1`` there.

    Attributes
    ----------
    node_cost
        Cost from each network node to its nearest facility.
    node_facility
        Index (into ``facilities``) of that facility.
    point_cost, point_facility
        The same for each point of ``points`` (empty when no points were given).
    facilities, points
        The snapped inputs.
    cost
        What was added up (:class:`~service_circle.cost.CostModel`).
    limit
        The search bound in the cost's unit (``inf`` for none).
    direction
        ``"to_facility"`` or ``"from_facility"``.
    point_status
        Per point: ``ok``, ``beyond_threshold`` (reachable, not within the limit),
        ``unreachable`` (on a piece with no facility), ``off_network``, ``blocked`` or
        ``no_geometry``.
    """

    node_cost: np.ndarray
    node_facility: np.ndarray
    point_cost: np.ndarray
    point_facility: np.ndarray
    facilities: Snapped
    points: Snapped | None
    cost: CostModel
    limit: float
    direction: Direction
    point_status: np.ndarray

    @property
    def unit(self) -> Literal["s", "m"]:
        """``"s"`` or ``"m"``: the unit of every cost here."""
        return self.cost.unit

    @property
    def profile(self) -> Profile | None:
        """The walking profile (for times), else ``None``."""
        return self.cost.profile

    @property
    def cutoff(self) -> float:
        """The former name of :attr:`limit` (kept for one release)."""
        return self.limit

    @property
    def cost_column(self) -> str:
        """``"time_s"`` or ``"distance_m"``."""
        return self.cost.cost_column

    def to_frame(self) -> pd.DataFrame:
        """One row per point: ``point_id``, cost, ``facility_id``, ``access_m``, ``status``.

        The cost is empty (NaN) unless the status is ``ok``.
        """
        if self.points is None:
            raise InputError("no points were given to the search")
        cost = np.where(np.isfinite(self.point_cost), self.point_cost, np.nan)
        fac = self.point_facility
        fac_id = np.full(fac.size, None, dtype=object)
        fac_id[fac >= 0] = self.facilities.point_id[fac[fac >= 0]]  # none when no facility
        return pd.DataFrame(
            {
                "point_id": self.points.point_id,
                self.cost_column: cost,
                "facility_id": pd.array(fac_id, dtype=object),
                "access_m": self.points.access_m,
                "status": self.point_status,
            }
        )


#: The former name of :class:`SearchResult` (kept for one release).
TravelTimes = SearchResult


def travel_times(
    net: WalkNetwork,
    facilities: Snapped | gpd.GeoDataFrame,
    points: Snapped | gpd.GeoDataFrame | None = None,
    *,
    profile: str | Profile | None = None,
    limit_s: float | None = None,
    direction: Direction = "to_facility",
    cutoff_s: float | None = None,
) -> SearchResult:
    """Walking time in seconds from every node and point to the nearest facility.

    Parameters
    ----------
    net
        The compiled network.
    facilities
        The facilities of one category (snapped, or a GeoDataFrame to snap).
    points
        Optional demand points (snapped, or a GeoDataFrame to snap).
    profile
        A walking profile or its name (default ``"adult"``).
    limit_s
        Stop searching beyond this many seconds (``None``: no bound).
    direction
        ``"to_facility"`` (people walk to the facility) or ``"from_facility"``.
    cutoff_s
        The former name of ``limit_s`` (kept for one release).
    """
    if cutoff_s is not None:
        warnings.warn("travel_times(cutoff_s=) is now limit_s=", DeprecationWarning, stacklevel=2)
        limit_s = cutoff_s
    return nearest(net, facilities, points, cost=CostModel.walking(profile), limit=limit_s,
                   direction=direction)  # fmt: skip


def network_distances(
    net: WalkNetwork,
    facilities: Snapped | gpd.GeoDataFrame,
    points: Snapped | gpd.GeoDataFrame | None = None,
    *,
    limit_m: float | None = None,
    cutoff_m: float | None = None,
) -> SearchResult:
    """Network walking distance in metres to the nearest facility (GB 50180 thresholds).

    ``cutoff_m`` is the former name of ``limit_m`` (kept for one release).
    """
    if cutoff_m is not None:
        warnings.warn(
            "network_distances(cutoff_m=) is now limit_m=", DeprecationWarning, stacklevel=2
        )
        limit_m = cutoff_m
    return nearest(net, facilities, points, cost=CostModel.distance(), limit=limit_m)


class _EdgeCost:
    """Cost of walking edges in one direction, looked up only for the edges asked for.

    Part of an edge costs its share of the walk, plus what is charged at an end it reaches
    (half a road crossing: :meth:`CostModel.crossing_costs`) — a point on a side street is
    on that side of the road, even at its very end.
    """

    def __init__(
        self,
        arc_cost: np.ndarray,
        arc_of_edge: np.ndarray,
        ends: tuple[np.ndarray, np.ndarray] | None = None,
    ) -> None:
        self._arc_cost = arc_cost
        self._arc_of_edge = arc_of_edge
        self._ends = ends

    def __getitem__(self, edges: np.ndarray) -> np.ndarray:
        """The whole edge."""
        return self._arc_cost[self._arc_of_edge[edges]]

    def body(self, edges: np.ndarray) -> np.ndarray:
        """Each whole edge without what is charged at its ends."""
        cost = self[edges]
        if self._ends is None:
            return cost
        arcs = self._arc_of_edge[edges]
        return cost - self._ends[0][arcs] - self._ends[1][arcs]

    def arriving(self, edges: np.ndarray) -> np.ndarray | float:
        """What is charged at the end each edge arrives at (0 without crossings)."""
        return self._charged(edges, 1)

    def middle(self, edges: np.ndarray, share: np.ndarray) -> np.ndarray:
        """``share`` of each edge between its ends."""
        return _part(self.body(edges), share)

    def first(self, edges: np.ndarray, share: np.ndarray) -> np.ndarray:
        """The first ``share`` of each edge, from the end it starts at."""
        return self.middle(edges, share) + self._charged(edges, 0)

    def last(self, edges: np.ndarray, share: np.ndarray) -> np.ndarray:
        """The last ``share`` of each edge, to the end it arrives at."""
        return self.middle(edges, share) + self._charged(edges, 1)

    def _charged(self, edges: np.ndarray, end: int) -> np.ndarray | float:
        """What is charged at each edge's start (``end=0``) or arrival (``1``)."""
        return 0.0 if self._ends is None else self._ends[end][self._arc_of_edge[edges]]


def edge_costs(net: WalkNetwork, cost: CostModel) -> tuple[_EdgeCost, _EdgeCost]:
    """Per-edge cost of walking it ``u → v`` (forward) and ``v → u`` (backward)."""
    arc_cost, ends = cost.arc_costs(net), cost.crossing_costs(net)
    return _EdgeCost(arc_cost, net.edge_arc, ends), _EdgeCost(arc_cost, net.edge_arc_back, ends)


def _part(cost: np.ndarray, share: np.ndarray) -> np.ndarray:
    """The cost of ``share`` of an edge: none of an impassable edge (inf) costs nothing."""
    return np.where(share > 0, cost * np.where(share > 0, share, 1.0), 0.0)


def _fraction(pos_m: np.ndarray, length_m: np.ndarray) -> np.ndarray:
    """Share of the edge length from ``u`` to ``pos_m`` (0 on zero-length edges)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(length_m > 0, pos_m / length_m, 0.0)
    return np.clip(frac, 0.0, 1.0)


def nearest(
    net: WalkNetwork,
    facilities: Snapped | gpd.GeoDataFrame,
    points: Snapped | gpd.GeoDataFrame | None = None,
    *,
    cost: CostModel,
    limit: float | None = None,
    direction: Direction = "to_facility",
) -> SearchResult:
    """The cost from every node and point to the nearest facility, under a cost model.

    Parameters
    ----------
    net
        The compiled network.
    facilities, points
        Snapped points (or GeoDataFrames to snap with the defaults).
    cost
        What to add up (:class:`~service_circle.cost.CostModel`).
    limit
        Stop searching beyond this cost, in the model's unit (``None``: no bound).
    direction
        ``"to_facility"`` (people walk to the facility) or ``"from_facility"``.
    """
    if direction not in ("to_facility", "from_facility"):
        raise InputError(f"direction must be 'to_facility' or 'from_facility', got {direction!r}")
    bound = np.inf if limit is None else float(limit)
    if not bound > 0:
        raise InputError(f"the search limit must be positive, got {limit!r}")
    facilities = as_snapped(net, facilities, "facilities")
    points = None if points is None else as_snapped(net, points, "points")
    to_facility = direction == "to_facility"
    forward, backward = edge_costs(net, cost)
    # --- the search starts at both ends of every facility's edge, at the partial-edge cost
    seed_node, seed_cost, seed_source = _seeds(
        net, facilities, forward, backward, cost.access_costs, to_facility
    )
    if seed_node.size == 0 and len(facilities):  # none given at all is not worth a note
        # the commands name the facilities and why (Study.unplaced_facilities), in the
        # study's language; a search with no open or placed facility is not a fault
        logger.info("no facility snapped to the network: every point is unreachable")
    # searching on reversed arcs: the arc tail→head costs what walking head→tail costs
    data = cost.arc_costs(net, reverse=to_facility and not cost.symmetric_on(net))
    node_cost, node_fac = _search(net, data, seed_node, seed_cost, seed_source, bound)

    if points is None:
        empty = np.empty(0)
        return SearchResult(
            node_cost=node_cost,
            node_facility=node_fac,
            point_cost=empty,
            point_facility=empty.astype(np.int64),
            facilities=facilities,
            points=None,
            cost=cost,
            limit=bound,
            direction=direction,
            point_status=empty.astype(object),
        )

    point_cost, point_fac = _point_costs(
        net, facilities, points, node_cost, node_fac, forward, backward, cost.access_costs,
        to_facility,
    )  # fmt: skip
    over = point_cost > bound
    point_cost[over] = np.inf
    point_fac[over] = -1
    status = _point_status(net, facilities, points, point_cost)
    return SearchResult(
        node_cost=node_cost,
        node_facility=node_fac,
        point_cost=point_cost,
        point_facility=point_fac,
        facilities=facilities,
        points=points,
        cost=cost,
        limit=bound,
        direction=direction,
        point_status=status,
    )


def _seeds(
    net: WalkNetwork,
    facilities: Snapped,
    forward: _EdgeCost,
    backward: _EdgeCost,
    access_cost,
    to_facility: bool,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where the search starts: both ends of each facility's edge, with their costs.

    The cost of an end is the partial edge between it and the facility's spot, walked in
    the direction people walk, plus the facility's access leg.
    """
    rows = np.flatnonzero(facilities.on_network)
    edge = facilities.edge[rows]
    frac = _fraction(facilities.pos_m[rows], net.edge_length_m[edge])
    access = access_cost(facilities.access_m[rows])
    if to_facility:  # from u forward to the spot, from v backward to it
        cost_u = forward.first(edge, frac) + access
        cost_v = backward.first(edge, 1.0 - frac) + access
    else:  # from the spot backward to u, forward to v
        cost_u = backward.last(edge, frac) + access
        cost_v = forward.last(edge, 1.0 - frac) + access
    return (
        np.concatenate([net.edge_u[edge], net.edge_v[edge]]).astype(np.int32),
        np.concatenate([cost_u, cost_v]),
        np.concatenate([rows, rows]).astype(np.int64),
    )


def _search(
    net: WalkNetwork,
    arc_cost: np.ndarray,
    seed_node: np.ndarray,
    seed_cost: np.ndarray,
    seed_source: np.ndarray,
    limit: float,
) -> tuple[np.ndarray, np.ndarray]:
    """One multi-source Dijkstra: cost and source of the cheapest seed for every node.

    scipy's ``csgraph.dijkstra`` on the network's arcs plus one virtual node per source,
    linked to its seed nodes at the seeds' costs; ``min_only`` keeps, for each node, the
    cheapest virtual node and so the source.
    """
    n = net.n_nodes
    if seed_node.size == 0:
        return np.full(n, np.inf), np.full(n, -1, dtype=np.int64)
    graph, first_virtual = _seeded_graph(net, arc_cost, seed_node, seed_cost, seed_source)
    sources = np.unique(seed_source)
    dist, _, start = csgraph.dijkstra(
        graph,
        directed=True,
        indices=first_virtual + np.arange(sources.size),
        min_only=True,
        limit=limit,
        return_predecessors=True,
    )
    # the source each node was reached from (scipy: -9999 where none): one pass, no mask
    which = np.subtract(start[:n], first_virtual)  # kept in scipy's int32
    if sources[0] == 0 and sources[-1] == sources.size - 1:  # every source seeded: 0 … k-1
        return dist[:n], np.maximum(which, -1, out=which)
    return dist[:n], np.where(which >= 0, sources.take(which, mode="clip"), -1)


def _seeded_graph(
    net: WalkNetwork,
    arc_cost: np.ndarray,
    seed_node: np.ndarray,
    seed_cost: np.ndarray,
    seed_source: np.ndarray,
) -> tuple[csr_matrix, int]:
    """The network's arcs plus one virtual node per source, linked to its seed nodes.

    Virtual nodes follow the network's, one per distinct ``seed_source`` in ascending
    order, from the returned index on; each links to its seed nodes at the seeds' costs
    (the cheapest where a source seeds a node twice).

    The network's arcs are copied once per thread and cost array into a buffer with room
    for the seeds, which each call writes after them: a query costs its seeds, not a copy
    of every arc. The graph is valid until the next call on the same thread.
    """
    n = net.n_nodes
    order = np.lexsort((seed_cost, seed_node, seed_source))
    src, node, cost = seed_source[order], seed_node[order], seed_cost[order]
    first = np.ones(src.size, dtype=bool)
    first[1:] = (src[1:] != src[:-1]) | (node[1:] != node[:-1])
    src, node, cost = src[first], node[first], cost[first]
    _, per_source = np.unique(src, return_counts=True)
    k = per_source.size
    data, indices, indptr = _arc_buffer(net, arc_cost, cost.size)
    m = arc_cost.size
    data[m : m + cost.size] = cost
    indices[m : m + cost.size] = node
    seeds_indptr = (indptr[-1] + np.cumsum(per_source)).astype(indptr.dtype)
    graph = csr_matrix(
        (data[: m + cost.size], indices[: m + cost.size], np.concatenate([indptr, seeds_indptr])),
        shape=(n + k, n + k),
        copy=False,
    )
    return graph, n


def _arc_buffer(
    net: WalkNetwork, arc_cost: np.ndarray, room: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A copy of the arcs (costs, heads, CSR index) for this thread, ``room`` after them."""
    buffers = net._cache.setdefault("arc_buffers", {})
    key = threading.get_ident()
    entry = buffers.get(key)
    m = arc_cost.size
    if entry is None or entry[0] is not arc_cost or entry[1].size < m + room:
        size = m + max(room * 2, 4096)
        data = np.empty(size, dtype=np.float64)
        data[:m] = arc_cost
        small = size < np.iinfo(np.int32).max  # scipy's search takes 32-bit indices
        indices = np.empty(size, dtype=np.int32 if small else np.int64)
        indices[:m] = net.arc_head
        indptr = net.indptr.astype(indices.dtype)
        entry = buffers[key] = (arc_cost, data, indices, indptr)
    return entry[1], entry[2], entry[3]


def _points_by_node(net: WalkNetwork, points: Snapped) -> tuple[np.ndarray, np.ndarray]:
    """For every node, the points on an edge that ends there (CSR: ``indptr``, rows)."""
    rows = np.flatnonzero(points.on_network)
    edge = points.edge[rows]
    node = np.concatenate([net.edge_u[edge], net.edge_v[edge]])
    return _index(node, np.concatenate([rows, rows]), net.n_nodes)


def _points_by_edge(net: WalkNetwork, points: Snapped) -> tuple[np.ndarray, np.ndarray]:
    """For every edge, the points on it (CSR: ``indptr``, rows)."""
    rows = np.flatnonzero(points.on_network)
    return _index(points.edge[rows], rows, net.n_edges)


def _index(key: np.ndarray, value: np.ndarray, n_keys: int) -> tuple[np.ndarray, np.ndarray]:
    order = np.argsort(key, kind="stable")
    indptr = np.zeros(n_keys + 1, dtype=np.int64)
    np.cumsum(np.bincount(key, minlength=n_keys), out=indptr[1:])
    return indptr, value[order]


def _gather(index: tuple[np.ndarray, np.ndarray], keys: np.ndarray) -> np.ndarray:
    """The values of an :func:`_index` under ``keys``, concatenated."""
    indptr, values = index
    lo, hi = indptr[keys], indptr[keys + 1]
    count = hi - lo
    if not count.any():
        return values[:0]
    starts = np.repeat(lo - np.cumsum(count) + count, count)
    return values[starts + np.arange(count.sum())]


def _point_costs(
    net: WalkNetwork,
    facilities: Snapped,
    points: Snapped,
    node_cost: np.ndarray,
    node_fac: np.ndarray,
    forward: _EdgeCost,
    backward: _EdgeCost,
    access_cost,
    to_facility: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Edge-exact cost of each point: via either end of its edge, or along it."""
    m = len(points)
    cost = np.full(m, np.inf)
    fac = np.full(m, -1, dtype=np.int64)
    rows = np.flatnonzero(points.on_network)
    if rows.size == 0:
        return cost, fac
    e = points.edge[rows]
    frac = _fraction(points.pos_m[rows], net.edge_length_m[e])
    access = access_cost(points.access_m[rows])
    u, v = net.edge_u[e], net.edge_v[e]
    if to_facility:  # the point walks backward to u, forward to v
        via_u = backward.last(e, frac) + node_cost[u]
        via_v = forward.last(e, 1.0 - frac) + node_cost[v]
    else:  # arriving from u walks forward to the point, from v backward
        via_u = node_cost[u] + forward.first(e, frac)
        via_v = node_cost[v] + backward.first(e, 1.0 - frac)
    best = np.minimum(via_u, via_v)
    best_fac = np.where(via_u <= via_v, node_fac[u], node_fac[v])

    # facilities on the same edge: walk straight along it
    f_rows = np.flatnonzero(facilities.on_network)
    f_edge = facilities.edge[f_rows]
    order = np.argsort(f_edge, kind="stable")
    sorted_edge = f_edge[order]
    lo = np.searchsorted(sorted_edge, e, side="left")
    hi = np.searchsorted(sorted_edge, e, side="right")
    count = hi - lo
    if count.any():
        pair_pt = np.repeat(np.arange(rows.size), count)
        rank = np.arange(pair_pt.size) - np.repeat(np.cumsum(count) - count, count)
        pair_fac = f_rows[order[lo[pair_pt] + rank]]
        pe = e[pair_pt]
        f_frac = _fraction(facilities.pos_m[pair_fac], net.edge_length_m[pe])
        p_frac = frac[pair_pt]
        ahead = f_frac >= p_frac  # the facility lies towards v from the point
        gap = np.abs(f_frac - p_frac)
        if to_facility:
            along = np.where(ahead, forward.middle(pe, gap), backward.middle(pe, gap))
        else:
            along = np.where(ahead, backward.middle(pe, gap), forward.middle(pe, gap))
        along = along + access_cost(facilities.access_m[pair_fac])
        # the cheapest pair per point (ties: the earlier facility)
        first = np.lexsort((pair_fac, along, pair_pt))
        take = first[np.r_[True, pair_pt[first][1:] != pair_pt[first][:-1]]]
        better = along[take] < best[pair_pt[take]]
        best[pair_pt[take][better]] = along[take][better]
        best_fac[pair_pt[take][better]] = pair_fac[take][better]
    cost[rows] = best + access
    fac[rows] = np.where(np.isfinite(best), best_fac, -1)
    return cost, fac


def _point_status(
    net: WalkNetwork, facilities: Snapped, points: Snapped, point_cost: np.ndarray
) -> np.ndarray:
    status = points.status.copy()
    rows = np.flatnonzero(points.on_network & ~np.isfinite(point_cost))
    if rows.size:
        served = np.unique(net.node_component[net.edge_u[facilities.edge[facilities.on_network]]])
        comp = net.node_component[net.edge_u[points.edge[rows]]]
        status[rows] = np.where(np.isin(comp, served), "beyond_threshold", "unreachable")
    return status


def reach_pairs(
    net: WalkNetwork,
    sources: Snapped,
    targets: Snapped,
    *,
    cost: CostModel,
    limit: float,
) -> pd.DataFrame:
    """Every (source, target) pair within ``limit``, with its cost: a sparse reach table.

    One bounded search per source (the catchment of each facility, as two-step floating
    catchment and siting need), in the direction people walk: target → source. The graph
    with every source's virtual node is built once and searched a batch of sources per
    call, so the working memory is a batch's answers (≈ 25 MB) whatever the number of
    sources; only the targets on edges the search reached (found through an index of
    targets by node and by edge) are evaluated, so a source costs what it reaches, and the
    result holds only the pairs within ``limit`` (2 000 candidates × 100 000 homes on a
    100k-node grid, 10 minutes: 0.44 M pairs, 11 MB, 1.8 s). A time limit set around the
    call (:mod:`service_circle._deadline`) is checked between batches.

    Returns
    -------
    pandas.DataFrame
        ``source``, ``target`` (row indices into ``sources``/``targets``) and ``cost`` (in
        the cost model's unit), sorted by source then cost.
    """
    bound = float(limit)
    forward, backward = edge_costs(net, cost)
    data = cost.arc_costs(net, reverse=not cost.symmetric_on(net))
    s_rows = np.flatnonzero(sources.on_network)
    graph, first_virtual = _seeded_graph(
        net, data, *_seeds(net, sources.take(s_rows), forward, backward, cost.access_costs, True)
    )
    near_node, near_edge = _points_by_node(net, targets), _points_by_edge(net, targets)
    node_fac = np.full(net.n_nodes, -1, dtype=np.int64)
    # a few sources per call: one graph for all, each search bounded, and a dense answer
    # of batch × nodes that stays small (≈ 25 MB at 32 × 100k)
    batch = max(1, min(64, int(25e6 // (8 * (graph.shape[0] + 1)))))
    out_s, out_t, out_c = [], [], []
    for start in range(0, s_rows.size, batch):
        _deadline.check("the reach table")
        chunk = s_rows[start : start + batch]
        dist = csgraph.dijkstra(
            graph, directed=True, indices=first_virtual + start + np.arange(chunk.size),
            limit=bound,
        )  # fmt: skip
        for row, s in zip(dist, chunk, strict=True):
            node_cost = row[: net.n_nodes]
            reached = np.flatnonzero(np.isfinite(node_cost))
            near = np.union1d(_gather(near_node, reached), _gather(near_edge, sources.edge[[s]]))
            if near.size == 0:
                continue
            node_fac[reached] = 0
            pair_cost, _ = _point_costs(
                net, sources.take(np.array([s])), targets.take(near), node_cost, node_fac, forward,
                backward, cost.access_costs, True,
            )  # fmt: skip
            node_fac[reached] = -1
            ok = pair_cost <= bound
            out_s.append(np.full(int(ok.sum()), s))
            out_t.append(near[ok])
            out_c.append(pair_cost[ok])
    if not out_s:
        return pd.DataFrame({"source": [], "target": [], "cost": []}).astype(
            {"source": np.int64, "target": np.int64}
        )
    table = pd.DataFrame(
        {"source": np.concatenate(out_s), "target": np.concatenate(out_t),
         "cost": np.concatenate(out_c)}
    )  # fmt: skip
    return table.sort_values(["source", "cost"], kind="stable").reset_index(drop=True)

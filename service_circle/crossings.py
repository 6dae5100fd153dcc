"""Where people on foot cross a major road: junctions, mapped crossings, signals, widths.

A street network drawn as centre-lines says nothing of the kerb. This module finds, on a
compiled network, the places where a walker passes from one side of a major road
(:data:`~service_circle.profiles.CROSSED_CLASSES`: trunk, primary, secondary, tertiary; a
``*_link`` counts as its road) to the other:

- a node where the road runs *through* — two or more of its edges meet there, the widest
  class that does — and smaller ways (side streets, footways, a ``footway=crossing`` way)
  leave it on *both* sides. Each such way's end there is a crossing end: a walker who
  enters it from the other side has crossed. A side street on one side only (a T
  junction, a driveway) is no crossing: nothing there leads across.
- whether it is signalised: an OSM node ``highway=traffic_signals`` or ``crossing=
  traffic_signals`` (or ``crossing:signals=yes``) at the node, on a crossing way that
  meets it, or on the road within :data:`SIGNAL_REACH_M` of it (signals are drawn at the
  stop line, before the junction);
- its width: the road's ``lanes`` tag, else :data:`DEFAULT_LANES` for its class (half on
  a ``oneway`` carriageway), times :data:`LANE_WIDTH_M`.

The cost model (:mod:`service_circle.cost`) charges half of the crossing — the profile's
wait (:class:`~service_circle.profiles.CrossingWaits`) and the width walked at its speed —
at each crossing end, so walking straight across pays it once, turning from a side street
onto the major road half (the centre-line cannot say on which side the walk goes on), and
walking along the major road nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from service_circle.profiles import CROSSED_CLASSES
from service_circle.walk_network import Crossings, WalkNetwork

logger = logging.getLogger(__name__)

#: Lanes of a two-way road of each class of :data:`CROSSED_CLASSES` without a ``lanes``
#: tag: 主干路 6–8, 次干路 4, 支路 2 (CJJ 37-2012; check).
DEFAULT_LANES = (8, 6, 4, 2)
#: Width of a lane in metres (CJJ 37-2012 5.3.2: 3.5 m for cars and mixed traffic).
LANE_WIDTH_M = 3.5
#: A signal this close to a junction along the road controls it (check).
SIGNAL_REACH_M = 30.0

#: Control of a node or a crossing way: none, a crossing without signal, a signal.
NO_CONTROL, CROSSING, SIGNALS = 0, 1, 2
_SIGNAL_VALUES = frozenset({"traffic_signals", "traffic_lights", "signals"})
_NO_CROSSING = frozenset({"", "no", "nan", "none"})


def node_control(tags: Mapping[str, object] | None) -> int:
    """An OSM node's control of a crossing: :data:`SIGNALS`, :data:`CROSSING` or none.

    Examples
    --------
    >>> node_control({"highway": "traffic_signals"}), node_control({"highway": "crossing"})
    (2, 1)
    >>> node_control({"crossing": "zebra"}), node_control({"highway": "bus_stop"})
    (1, 0)
    """
    if not tags:
        return NO_CONTROL
    highway = str(tags.get("highway", "") or "")
    control = max(way_control(tags.get("crossing")), way_control(tags.get("crossing_ref")))
    if highway == "traffic_signals" or str(tags.get("crossing:signals", "")) == "yes":
        return SIGNALS
    if highway == "crossing":
        return max(control, CROSSING)
    return control


def way_control(value: object) -> int:
    """A ``crossing=*`` value as control: a signal, a crossing, or none.

    ``traffic_signals`` is :data:`SIGNALS`, any other crossing :data:`CROSSING`, nothing
    (or ``no``) :data:`NO_CONTROL`.
    """
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return NO_CONTROL
    text = str(value).split(";")[0].strip().lower()
    if text in _SIGNAL_VALUES:
        return SIGNALS
    return NO_CONTROL if text in _NO_CROSSING else CROSSING  # marked, zebra, uncontrolled …


def lane_count(value: object) -> float:
    """An OSM ``lanes`` tag as a number (the first of ``2;3``); NaN if it says none."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return float("nan")
    try:
        lanes = float(str(value).split(";")[0].strip())
    except ValueError:
        return float("nan")
    return lanes if np.isfinite(lanes) and 0 < lanes <= 20 else float("nan")


def is_oneway(value: object) -> bool:
    """Whether an OSM ``oneway`` value (or osmnx's bool) makes the way one carriageway."""
    if isinstance(value, bool | np.bool_):
        return bool(value)
    return str(value).strip().lower() in ("yes", "true", "1", "-1", "reverse")


def edge_rank(net: WalkNetwork) -> np.ndarray:
    """Per edge: its index in :data:`CROSSED_CLASSES` (``*_link`` as its road), -1 if none."""
    rank_of_class = np.array(
        [CROSSED_CLASSES.index(base) if (base := name.removesuffix("_link")) in CROSSED_CLASSES
         else -1 for name in net.class_names], dtype=np.int8,
    )  # fmt: skip
    return rank_of_class[net.edge_class]


def find_crossings(
    net: WalkNetwork,
    *,
    node_control: np.ndarray | None = None,
    edge_lanes: np.ndarray | None = None,
    edge_oneway: np.ndarray | None = None,
    source: str = "",
) -> Crossings:
    """The crossings of major roads on ``net`` (see the module's description).

    Parameters
    ----------
    net
        A network whose edges carry OSM highway classes.
    node_control
        Per node: :data:`SIGNALS`, :data:`CROSSING` or :data:`NO_CONTROL` (default none).
    edge_lanes
        Per edge: the ``lanes`` tag (NaN: none).
    edge_oneway
        Per edge: whether it is a one-way carriageway.
    source
        Where the tags came from, for the record.
    """
    n, m = net.n_nodes, net.n_edges
    rank = edge_rank(net)
    control = np.zeros(n, np.int8) if node_control is None else np.asarray(node_control, np.int8)
    lanes = np.full(m, np.nan) if edge_lanes is None else np.asarray(edge_lanes, np.float64)
    oneway = np.zeros(m, bool) if edge_oneway is None else np.asarray(edge_oneway, bool)
    default = np.array(DEFAULT_LANES, dtype=np.float64)[np.maximum(rank, 0)]
    default = np.where(oneway, np.maximum(default / 2, 1.0), default)
    width = np.where(np.isfinite(lanes), lanes, default) * LANE_WIDTH_M

    tail = np.repeat(np.arange(n), np.diff(net.indptr))
    arc_rank = rank[net.arc_edge]
    # the road that runs through each node: the widest class with two edges or more there
    through = np.full(n, -1, dtype=np.int8)
    for r in range(len(CROSSED_CLASSES) - 1, -1, -1):  # the widest last, so it wins
        count = np.bincount(tail[arc_rank == r], minlength=n)
        through[count >= 2] = r
    # a signal at the stop line controls the junction next to it along the road
    near = (rank >= 0) & (net.edge_length_m <= SIGNAL_REACH_M)
    signals = control == SIGNALS
    spread = signals.copy()
    spread[net.edge_u[near & signals[net.edge_v]]] = True
    spread[net.edge_v[near & signals[net.edge_u]]] = True

    # every arc leaving a node the road runs through: the road's own, and smaller ways
    at = through[tail]
    road = (at >= 0) & (arc_rank == at)
    smaller = (at >= 0) & ((arc_rank < 0) | (arc_rank > at))
    arcs = np.flatnonzero(road | smaller)
    node = tail[arcs]
    order = np.lexsort((_leaving_angle(net, arcs), node))  # round each node by angle
    arcs, node = arcs[order], node[order]
    is_road = road[arcs]
    # the sector a smaller way leaves into: how many of the road's edges come before it
    first = np.searchsorted(node, node, side="left")
    seen = np.cumsum(is_road) - is_road
    before = seen - seen[first]
    k = np.bincount(node[is_road], minlength=n)
    cross = ~is_road
    sector = before[cross] % np.maximum(k[node[cross]], 1)
    low, high = np.full(n, np.iinfo(np.int64).max), np.full(n, -1)
    np.minimum.at(low, node[cross], sector)
    np.maximum.at(high, node[cross], sector)
    is_crossing = high > low  # smaller ways leave on two sides or more: they lead across
    node_class = np.where(is_crossing, through, -1).astype(np.int8)
    node_width = np.zeros(n, dtype=np.float64)
    road_arcs = arcs[is_road & is_crossing[node]]
    np.maximum.at(node_width, tail[road_arcs], width[net.arc_edge[road_arcs]])
    crossers = arcs[cross & is_crossing[node]]
    arc_ends = np.zeros(net.n_arcs, dtype=np.uint8)
    arc_ends[crossers] |= 1  # leaving the node along a smaller way starts at the crossing
    arc_ends[net.arc_twin[crossers]] |= 2  # arriving along one ends there
    found = node_class >= 0
    result = Crossings(node_class=node_class, node_signals=found & spread,
                       node_width_m=node_width, arc_ends=arc_ends, source=source)  # fmt: skip
    logger.info("%s", result.summary())
    return result


def _leaving_angle(net: WalkNetwork, arcs: np.ndarray) -> np.ndarray:
    """The direction (radians) in which each arc leaves its tail: towards its first vertex."""
    edge = net.arc_edge[arcs]
    forward = net.arc_forward[arcs]
    start, stop = net.geom_offsets[edge], net.geom_offsets[edge + 1]
    inner = stop > start
    tail = np.where(forward, net.edge_u[edge], net.edge_v[edge])
    tx, ty = net.node_x[net.arc_head[arcs]], net.node_y[net.arc_head[arcs]]
    if inner.any():  # a bent edge leaves towards its first interior vertex
        vertex = np.where(forward, start, stop - 1)[inner]
        tx, ty = tx.copy(), ty.copy()
        tx[inner], ty[inner] = net.geom_xy[vertex, 0], net.geom_xy[vertex, 1]
    return np.arctan2(ty - net.node_y[tail], tx - net.node_x[tail])

"""The compiled walking network: CSR arrays in metres, saved and loaded in one file.

A :class:`WalkNetwork` is what every analysis runs on. It holds

- nodes: projected coordinates ``node_x``/``node_y`` (metres) and their source ids
  (OSM node ids, or generated ones);
- undirected edges: ``edge_u``/``edge_v`` (node indices), ``edge_length_m``, the OSM way id
  and highway class, and the interior vertices of each edge's geometry (a ragged array:
  straight edges cost nothing);
- arcs: each edge walked in both directions, sorted by tail node into CSR form
  (``indptr``/``arc_head``), with ``arc_edge``, ``arc_forward`` (whether the arc runs
  ``u → v``) and ``arc_twin`` (the opposite arc) so that per-direction costs (slope) need
  no other structure.

It is built by :func:`service_circle.network.load_network` (or :meth:`from_edges` for
arrays) and saved with :meth:`save` / :func:`load_compiled` as one uncompressed ``.npz``.

A network may carry its :class:`Terrain` (heights from a DEM: :mod:`service_circle.terrain`):
node heights and each edge's height profile, from which walking costs differ by direction;
and its :class:`Crossings` (where walkers cross major roads: :mod:`service_circle.crossings`).
A network compiled without them loads as before.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyproj
import shapely
from scipy.sparse import csgraph, csr_matrix

from service_circle._errors import EmptyNetworkError, InputError, InputNotFoundError
from service_circle._segments import SegmentIndex, edge_coords
from service_circle.folders import atomic_write
from service_circle.profiles import CROSSED_CLASSES

if TYPE_CHECKING:
    import geopandas as gpd

logger = logging.getLogger(__name__)
T = TypeVar("T")

FORMAT = "service-circle/walk-network"
FORMAT_VERSION = 1

#: Optional arrays of a network's :class:`Terrain`.
_TERRAIN_ARRAYS = ("node_z", "terrain_offsets", "terrain_length_m", "terrain_rise_m")
#: Optional: the grade of each edge's OSM ``incline`` tag, ``u → v`` (NaN: none).
_INCLINE = "edge_incline"
#: Optional: each edge's share of its way's OSM ``step_count`` (NaN: none).
_STEP_COUNT = "edge_step_count"
#: Optional arrays of a network's :class:`Crossings`.
_CROSSING_ARRAYS = ("crossing_node_class", "crossing_node_signals", "crossing_node_width_m",
                    "crossing_arc_ends")  # fmt: skip

_ARRAYS = (
    "node_x",
    "node_y",
    "node_id",
    "edge_u",
    "edge_v",
    "edge_length_m",
    "edge_osmid",
    "edge_class",
    "geom_offsets",
    "geom_xy",
    "indptr",
    "arc_head",
    "arc_edge",
    "arc_forward",
    "arc_twin",
    "node_component",
)


@dataclass(frozen=True, eq=False)
class Terrain:
    """Heights on a network: each edge's profile as segments from ``u`` to ``v``.

    Attributes
    ----------
    node_z
        Height of each node in metres (NaN where unknown).
    offsets
        The segments of edge ``i`` are ``offsets[i]:offsets[i + 1]``.
    length_m, rise_m
        Each segment's horizontal length and its rise from ``u`` towards ``v`` (negative
        downhill; 0 where the height is unknown).
    source
        Where the heights came from (the DEM files, their CRS, the sample spacing).
    """

    node_z: np.ndarray
    offsets: np.ndarray
    length_m: np.ndarray
    rise_m: np.ndarray
    source: str = ""

    def edge_rise_m(self) -> tuple[np.ndarray, np.ndarray]:
        """Per edge: the metres climbed and descended walking it ``u → v``."""
        edge = self.segment_edge()
        n = self.offsets.size - 1
        up = np.bincount(edge, weights=np.maximum(self.rise_m, 0), minlength=n)
        down = np.bincount(edge, weights=np.maximum(-self.rise_m, 0), minlength=n)
        return up, down

    def segment_edge(self) -> np.ndarray:
        """The edge of each segment."""
        return np.repeat(np.arange(self.offsets.size - 1), np.diff(self.offsets))

    def arc_factors(
        self, net: WalkNetwork, slope: Callable[[np.ndarray], np.ndarray]
    ) -> np.ndarray:
        """Each arc's speed factor over its height profile: its length ÷ Σ segment ÷ factor.

        ``slope`` maps a grade (rise ÷ run, + uphill in the direction walked) to a factor of
        the flat speed (Tobler's function, :func:`service_circle.profiles.tobler`); an arc
        walked at ``flat × factor`` takes as long as its segments walked one by one. 0 where
        a segment cannot be walked; 1 on arcs of no length.
        """
        with np.errstate(invalid="ignore", divide="ignore"):
            grade = np.where(self.length_m > 0, self.rise_m / self.length_m, 0.0)
        edge = self.segment_edge()
        factors = []
        for sign in (1.0, -1.0):  # u → v, then v → u
            f = np.asarray(slope(sign * grade), dtype=np.float64)
            with np.errstate(divide="ignore"):
                slow = np.where(f > 0, self.length_m / f, np.inf)  # metres "on the flat"
            flat_m = np.bincount(edge, weights=slow, minlength=net.n_edges)
            with np.errstate(invalid="ignore", divide="ignore"):
                factors.append(np.where(flat_m > 0, net.edge_length_m / flat_m, 1.0))
        forward, backward = factors
        return np.where(net.arc_forward, forward[net.arc_edge], backward[net.arc_edge])


@dataclass(frozen=True, eq=False)
class Crossings:
    """Where walkers cross major roads (found by :func:`service_circle.crossings.find_crossings`).

    Attributes
    ----------
    node_class
        Per node: the class crossed there (index into
        :data:`~service_circle.profiles.CROSSED_CLASSES`), -1 where nothing is crossed.
    node_signals
        Per node: whether the crossing is signalised.
    node_width_m
        Per node: the width of road crossed, in metres.
    arc_ends
        Per arc: bit 1 when its tail is a crossing it leads across, bit 2 its head.
    source
        Where the crossings came from.
    """

    node_class: np.ndarray
    node_signals: np.ndarray
    node_width_m: np.ndarray
    arc_ends: np.ndarray
    source: str = ""

    @property
    def n_crossings(self) -> int:
        """How many nodes are crossings of a major road."""
        return int(np.count_nonzero(self.node_class >= 0))

    def summary(self) -> str:
        """One line: how many crossings, how many signalised, of which roads."""
        found = self.node_class[self.node_class >= 0]
        per = np.bincount(found, minlength=len(CROSSED_CLASSES))
        classes = ", ".join(f"{c} {k}" for c, k in zip(CROSSED_CLASSES, per, strict=True) if k)
        signals = int(np.count_nonzero(self.node_signals))
        return (f"{found.size} crossings of major roads ({classes or 'none'}), {signals} "
                f"signalised{f'; {self.source}' if self.source else ''}")  # fmt: skip

    def arc_halves(self, net: WalkNetwork, node_cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per arc: half of ``node_cost`` (a crossing's, per node) at its tail and its head.

        Only at an end that is a crossing the arc leads across; 0 elsewhere.
        """
        tail = np.repeat(np.arange(net.n_nodes), np.diff(net.indptr))
        half_tail = np.where(self.arc_ends & 1, node_cost[tail] / 2, 0.0)
        half_head = np.where(self.arc_ends & 2, node_cost[net.arc_head] / 2, 0.0)
        return half_tail, half_head


@dataclass(frozen=True, eq=False)
class WalkNetwork:
    """A walking network compiled to arrays, in a projected CRS with metre units.

    Build it with :func:`service_circle.network.load_network` or :meth:`from_edges`;
    do not fill the fields by hand.
    """

    crs: pyproj.CRS
    node_x: np.ndarray
    node_y: np.ndarray
    node_id: np.ndarray
    edge_u: np.ndarray
    edge_v: np.ndarray
    edge_length_m: np.ndarray
    edge_osmid: np.ndarray
    edge_class: np.ndarray
    class_names: tuple[str, ...]
    geom_offsets: np.ndarray
    geom_xy: np.ndarray
    indptr: np.ndarray
    arc_head: np.ndarray
    arc_edge: np.ndarray
    arc_forward: np.ndarray
    arc_twin: np.ndarray
    node_component: np.ndarray
    source: str = ""
    _cache: dict = field(default_factory=dict, repr=False, compare=False)
    terrain: Terrain | None = field(default=None, repr=False)
    edge_incline: np.ndarray | None = field(default=None, repr=False)
    crossings: Crossings | None = field(default=None, repr=False)
    edge_step_count: np.ndarray | None = field(default=None, repr=False)

    def with_crossings(self, crossings: Crossings | None) -> WalkNetwork:
        """The same network with ``crossings`` (``None``: crossing is free), caches cleared.

        Raises
        ------
        InputError
            If the crossings' arrays do not match the network.
        """
        if crossings is not None:
            problem = _crossings_problem(self.n_nodes, self.n_arcs, crossings)
            if problem:
                raise InputError(f"crossings do not fit the network: {problem}")
        return replace(self, crossings=crossings, _cache={})

    def with_terrain(self, terrain: Terrain | None) -> WalkNetwork:
        """The same network with ``terrain`` (``None``: flat), its caches cleared.

        Raises
        ------
        InputError
            If the terrain's arrays do not match the network.
        """
        if terrain is not None:
            problem = _terrain_problem(self.n_nodes, self.n_edges, terrain)
            if problem:
                raise InputError(f"terrain does not fit the network: {problem}")
        return replace(self, terrain=terrain, _cache={})

    # ------------------------------------------------------------------ building
    @classmethod
    def from_edges(
        cls,
        *,
        crs: pyproj.CRS | str | int,
        node_x: np.ndarray,
        node_y: np.ndarray,
        edge_u: np.ndarray,
        edge_v: np.ndarray,
        node_id: np.ndarray | None = None,
        edge_length_m: np.ndarray | None = None,
        edge_osmid: np.ndarray | None = None,
        edge_highway: np.ndarray | None = None,
        geom_offsets: np.ndarray | None = None,
        geom_xy: np.ndarray | None = None,
        source: str = "",
        edge_incline: np.ndarray | None = None,
        edge_step_count: np.ndarray | None = None,
    ) -> WalkNetwork:
        """Compile a network from node coordinates and undirected edges.

        Parameters
        ----------
        crs
            The projected CRS of the coordinates (metres).
        node_x, node_y
            Node coordinates in ``crs``.
        edge_u, edge_v
            Node indices (0-based) of each edge's two ends.
        node_id
            Source ids of the nodes (OSM ids); defaults to ``0..n-1``.
        edge_length_m
            Edge lengths; computed from the geometries when omitted.
        edge_osmid
            OSM way id of each edge; ``-1`` where unknown.
        edge_highway
            Highway class of each edge (strings), stored as a categorical.
        geom_offsets, geom_xy
            Interior vertices of the edge geometries as a ragged array: the vertices of
            edge ``i`` (excluding both ends) are ``geom_xy[geom_offsets[i]:geom_offsets[i+1]]``,
            ordered from ``u`` to ``v``. Omitted: every edge is straight.
        source
            A description of where the network came from.
        edge_incline
            The grade of each edge's OSM ``incline`` tag walking ``u → v`` (NaN: none).
        edge_step_count
            The steps on each edge (its share of its way's ``step_count``; NaN: none).
        """
        crs = pyproj.CRS.from_user_input(crs)
        node_x = np.ascontiguousarray(node_x, dtype=np.float64)
        node_y = np.ascontiguousarray(node_y, dtype=np.float64)
        n_nodes = node_x.size
        edge_u = np.ascontiguousarray(edge_u, dtype=np.int32)
        edge_v = np.ascontiguousarray(edge_v, dtype=np.int32)
        n_edges = edge_u.size
        if n_edges == 0 or n_nodes == 0:
            raise EmptyNetworkError(f"network from {source or 'arrays'} has no edges")
        if min(edge_u.min(), edge_v.min()) < 0 or max(edge_u.max(), edge_v.max()) >= n_nodes:
            raise InputError("edge_u/edge_v must be node indices in 0..n_nodes-1")
        if geom_offsets is None:
            geom_offsets = np.zeros(n_edges + 1, dtype=np.int64)
            geom_xy = np.empty((0, 2), dtype=np.float64)
        geom_offsets = np.ascontiguousarray(geom_offsets, dtype=np.int64)
        geom_xy = np.ascontiguousarray(geom_xy, dtype=np.float64).reshape(-1, 2)
        if edge_length_m is None:
            edge_length_m = _polyline_lengths(node_x, node_y, edge_u, edge_v, geom_offsets, geom_xy)
        edge_length_m = np.ascontiguousarray(edge_length_m, dtype=np.float64)
        if not np.all(np.isfinite(edge_length_m)) or edge_length_m.min() < 0:
            raise InputError("edge lengths must be finite and non-negative")
        if node_id is None:
            node_id = np.arange(n_nodes, dtype=np.int64)
        if edge_osmid is None:
            edge_osmid = np.full(n_edges, -1, dtype=np.int64)
        if edge_highway is None:
            class_names: tuple[str, ...] = ("unknown",)
            edge_class = np.zeros(n_edges, dtype=np.int16)
        else:
            names, codes = np.unique(np.asarray(edge_highway, dtype=str), return_inverse=True)
            class_names = tuple(str(s) for s in names)
            edge_class = codes.astype(np.int16)

        # arcs: every edge in both directions, sorted by tail node (CSR rows)
        tail = np.concatenate([edge_u, edge_v])
        head = np.concatenate([edge_v, edge_u])
        order = np.argsort(tail, kind="stable").astype(np.int32)
        position = np.empty_like(order)
        position[order] = np.arange(order.size, dtype=np.int32)
        twin_original = np.where(order < n_edges, order + n_edges, order - n_edges)
        counts = np.bincount(tail, minlength=n_nodes)
        indptr = np.zeros(n_nodes + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        arc_edge = np.where(order < n_edges, order, order - n_edges).astype(np.int32)
        graph = csr_matrix((np.ones(order.size), head[order], indptr), shape=(n_nodes, n_nodes))
        _, component = csgraph.connected_components(graph, directed=False)
        return cls(
            crs=crs,
            node_x=node_x,
            node_y=node_y,
            node_id=np.ascontiguousarray(node_id, dtype=np.int64),
            edge_u=edge_u,
            edge_v=edge_v,
            edge_length_m=edge_length_m,
            edge_osmid=np.ascontiguousarray(edge_osmid, dtype=np.int64),
            edge_class=edge_class,
            class_names=class_names,
            geom_offsets=geom_offsets,
            geom_xy=geom_xy,
            indptr=indptr,
            arc_head=head[order].astype(np.int32),
            arc_edge=arc_edge,
            arc_forward=order < n_edges,
            arc_twin=position[twin_original].astype(np.int32),
            node_component=component.astype(np.int32),
            source=source,
            edge_incline=_per_edge(edge_incline, n_edges),
            edge_step_count=_per_edge(edge_step_count, n_edges),
        )  # fmt: skip

    # ------------------------------------------------------------------ sizes
    @property
    def n_nodes(self) -> int:
        """Number of nodes."""
        return int(self.node_x.size)

    @property
    def n_edges(self) -> int:
        """Number of undirected edges."""
        return int(self.edge_u.size)

    @property
    def n_arcs(self) -> int:
        """Number of arcs (two per edge)."""
        return int(self.arc_head.size)

    @property
    def n_components(self) -> int:
        """Number of connected pieces; all are kept."""
        return int(self.node_component.max()) + 1

    @property
    def total_length_m(self) -> float:
        """Total length of the edges in metres."""
        return float(self.edge_length_m.sum())

    @property
    def arc_length_m(self) -> np.ndarray:
        """Length of each arc in metres (CSR order).

        Computed when asked: the arc costs built from it are what is kept.
        """
        return self.edge_length_m[self.arc_edge]

    @property
    def nbytes(self) -> int:
        """Memory held by the compiled arrays, in bytes (caches excluded)."""
        return sum(getattr(self, name).nbytes for name in _ARRAYS)

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(minx, miny, maxx, maxy)`` of the nodes, in the network's CRS."""
        return (
            float(self.node_x.min()),
            float(self.node_y.min()),
            float(self.node_x.max()),
            float(self.node_y.max()),
        )

    def edge_highway(self) -> np.ndarray:
        """Highway class of each edge as strings."""
        return np.asarray(self.class_names, dtype=object)[self.edge_class]

    # ------------------------------------------------------------------ geometry
    def edge_geometries(self) -> np.ndarray:
        """Shapely LineStrings of the edges, from ``u`` to ``v`` (cached)."""
        if "geoms" not in self._cache:
            coords, n_coords = edge_coords(
                self.node_x, self.node_y, self.edge_u, self.edge_v, self.geom_offsets, self.geom_xy
            )
            index = np.repeat(np.arange(self.n_edges), n_coords)
            self._cache["geoms"] = shapely.linestrings(coords, indices=index)
        return self._cache["geoms"]

    def edge_samples(
        self, spacing_m: float, edges: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Points along the edges at most ``spacing_m`` apart, ends included.

        Not cached: at a few metres' spacing the samples of a whole network outweigh it,
        and a query samples only the ``edges`` it reached.

        Parameters
        ----------
        spacing_m
            Largest distance between neighbouring points, metres.
        edges
            The edges to sample (sorted); ``None`` for all.

        Returns
        -------
        xy : (n, 2) float64
            The points, in the network's CRS, edge by edge from ``u`` to ``v``.
        edge : (n,) int64
            The edge of each point (sorted).
        along_m : (n,) float64
            Distance from the edge's ``u`` end, scaled to ``edge_length_m``.
        """
        if edges is None:
            edges = np.arange(self.n_edges)
        edges = np.asarray(edges, dtype=np.int64)
        first = self.geom_offsets[edges]
        n_inner = self.geom_offsets[edges + 1] - first
        offsets = np.zeros(edges.size + 1, dtype=np.int64)
        np.cumsum(n_inner, out=offsets[1:])
        inner = np.repeat(first - offsets[:-1], n_inner) + np.arange(offsets[-1])
        coords, n_coords = edge_coords(
            self.node_x, self.node_y, self.edge_u[edges], self.edge_v[edges], offsets,
            self.geom_xy[inner],
        )  # fmt: skip
        n = edges.size
        last = np.cumsum(n_coords) - 1  # each edge's last vertex
        is_start = np.ones(coords.shape[0], dtype=bool)
        is_start[last] = False
        seg = np.flatnonzero(is_start)  # segment k runs from vertex seg[k] to seg[k] + 1
        seg_edge = np.repeat(np.arange(n), n_coords - 1)
        delta = coords[seg + 1] - coords[seg]
        seg_len = np.hypot(delta[:, 0], delta[:, 1])
        # distance along the edge at each segment's start
        seg_start = np.cumsum(seg_len) - seg_len
        edge_first_seg = np.cumsum(n_coords - 1) - (n_coords - 1)
        seg_start -= seg_start[edge_first_seg][seg_edge]
        n_pts = np.maximum(1, np.ceil(seg_len / spacing_m).astype(np.int64))
        owner = np.repeat(np.arange(seg.size), n_pts)
        step = np.arange(owner.size) - np.repeat(np.cumsum(n_pts) - n_pts, n_pts)
        t = step / n_pts[owner]
        xy = coords[seg[owner]] + delta[owner] * t[:, None]
        along = seg_start[owner] + seg_len[owner] * t
        # each edge's points, then its end point
        geom_len = np.bincount(seg_edge, weights=seg_len, minlength=n)
        point_edge = seg_edge[owner]
        end = np.cumsum(np.bincount(point_edge, minlength=n) + 1) - 1
        at = np.arange(owner.size) + point_edge  # after the end points of the edges before
        local = np.empty(owner.size + n, dtype=np.int64)
        local[at], local[end] = point_edge, np.arange(n)
        out_xy = np.empty((local.size, 2))
        out_xy[at], out_xy[end] = xy, coords[last]
        out_along = np.empty(local.size)
        out_along[at], out_along[end] = along, geom_len
        xy, along = out_xy, out_along
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(geom_len > 0, self.edge_length_m[edges] / geom_len, 0.0)
        return xy, edges[local], along * scale[local]

    @cached_property
    def edge_arc(self) -> np.ndarray:
        """Index of each edge's forward arc (``u → v``); its twin is the backward arc."""
        out = np.empty(self.n_edges, dtype=np.int64)
        forward = np.flatnonzero(self.arc_forward)
        out[self.arc_edge[forward]] = forward
        return out

    @cached_property
    def edge_arc_back(self) -> np.ndarray:
        """Index of each edge's backward arc (``v → u``)."""
        return self.arc_twin[self.edge_arc]

    @cached_property
    def piece_length_m(self) -> np.ndarray:
        """Total edge length of the connected piece each edge belongs to, in metres."""
        piece = self.node_component[self.edge_u]
        return np.bincount(piece, weights=self.edge_length_m)[piece]

    def snap_targets(self, min_piece_m: float = 0.0) -> np.ndarray:
        """Mask of the edges on pieces at least ``min_piece_m`` long (the longest always)."""
        min_piece_m = min(float(min_piece_m), float(self.piece_length_m.max()))
        return self.piece_length_m >= min_piece_m

    def segment_index(self) -> SegmentIndex:
        """The edges' straight segments, indexed for the nearest to a point (cached)."""
        if "segments" not in self._cache:
            self._cache["segments"] = SegmentIndex(self)
        return self._cache["segments"]

    def edge_points(self, edges: np.ndarray, pos_m: np.ndarray) -> np.ndarray:
        """The ``(x, y)`` of the spots ``pos_m`` along ``edges`` (metres of their geometry).

        From the segments, without a geometry per edge.
        """
        edges = np.asarray(edges, dtype=np.int64)
        return self.segment_index().points(edges, np.asarray(pos_m, dtype=np.float64))

    def to_geodataframes(self) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """Nodes and edges as GeoDataFrames in the network's CRS, for inspection.

        With terrain, nodes have ``z_m`` and edges ``rise_m`` / ``fall_m`` (walked ``u → v``).
        """
        import geopandas as gpd

        nodes = gpd.GeoDataFrame(
            {
                "node_id": self.node_id,
                "component": self.node_component,
            },
            geometry=shapely.points(self.node_x, self.node_y),
            crs=self.crs,
        )
        edges = gpd.GeoDataFrame(
            {
                "u": self.edge_u,
                "v": self.edge_v,
                "length_m": self.edge_length_m,
                "osmid": self.edge_osmid,
                "highway": self.edge_highway(),
            },
            geometry=self.edge_geometries(),
            crs=self.crs,
        )
        if self.terrain is not None:  # heights: each node's, and each edge's climb u → v
            nodes["z_m"] = self.terrain.node_z
            edges["rise_m"], edges["fall_m"] = self.terrain.edge_rise_m()
        return nodes, edges

    # ------------------------------------------------------------------ saving
    def save(self, path: str | os.PathLike) -> Path:
        """Write the compiled network to ``path`` (an ``.npz``), atomically.

        The file is written beside the target and renamed over it, so a reader never
        sees half a file.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "crs": self.crs.to_wkt(),
            "class_names": list(self.class_names),
            "source": self.source,
        }
        arrays = {name: getattr(self, name) for name in _ARRAYS}
        if self.edge_incline is not None:
            arrays[_INCLINE] = self.edge_incline
        if self.edge_step_count is not None:
            arrays[_STEP_COUNT] = self.edge_step_count
        if self.crossings is not None:
            c = self.crossings
            meta["crossings_source"] = c.source
            arrays |= dict(zip(_CROSSING_ARRAYS, (c.node_class, c.node_signals, c.node_width_m,
                                                  c.arc_ends), strict=True))  # fmt: skip
        if self.terrain is not None:
            t = self.terrain
            meta["terrain_source"] = t.source
            arrays |= {"node_z": t.node_z, "terrain_offsets": t.offsets,
                       "terrain_length_m": t.length_m, "terrain_rise_m": t.rise_m}  # fmt: skip
        with atomic_write(path, "wb") as fh:
            np.savez(fh, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
        logger.info("saved %s (%d nodes, %d edges)", path, self.n_nodes, self.n_edges)
        return path


def load_compiled(path: str | os.PathLike) -> WalkNetwork:
    """Load a network written by :meth:`WalkNetwork.save`.

    Raises
    ------
    InputNotFoundError
        If ``path`` does not exist.
    InputError
        If the file is not a compiled service-circle network.
    """
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"compiled network {path} does not exist")
    rebuild = "rebuild it with `service-circle network SOURCE --out FILE.npz`"
    try:
        # opened here so that a damaged zip cannot leak the file handle
        with path.open("rb") as fh, np.load(fh, allow_pickle=False) as npz:
            meta = json.loads(npz["meta"].tobytes().decode())
            arrays = {name: npz[name] for name in _ARRAYS}
            heights = {name: npz[name] for name in _TERRAIN_ARRAYS if name in npz.files}
            incline = npz[_INCLINE] if _INCLINE in npz.files else None
            steps = npz[_STEP_COUNT] if _STEP_COUNT in npz.files else None
            crossing = {name: npz[name] for name in _CROSSING_ARRAYS if name in npz.files}
    except Exception as exc:  # BadZipFile, EOFError, zlib/JSON errors …: name the file
        raise InputError(
            f"{path} is not a readable compiled service-circle network "
            f"({type(exc).__name__}: {exc}); {rebuild}"
        ) from None
    if (
        not isinstance(meta, dict)
        or meta.get("format") != FORMAT
        or (meta.get("version") != FORMAT_VERSION)
    ):
        found = meta if not isinstance(meta, dict) else meta.get("format")
        raise InputError(
            f"{path} has format {found!r}, expected {FORMAT!r} v{FORMAT_VERSION}: {rebuild}"
        )
    problem = _array_problem(arrays)
    if problem:
        raise InputError(f"{path} is damaged ({problem}); {rebuild}")
    try:
        crs = pyproj.CRS.from_wkt(meta["crs"])
        class_names = tuple(str(c) for c in meta["class_names"])
    except Exception as exc:
        raise InputError(f"{path} is damaged ({type(exc).__name__}: {exc}); {rebuild}") from None
    n_nodes, n_edges, n_arcs = (arrays[k].size for k in ("node_x", "edge_u", "arc_head"))

    def damaged(problem: str) -> str:
        return f"{path} is damaged ({problem}); {rebuild}"

    sources = {k: str(meta.get(f"{k}_source", "")) for k in ("terrain", "crossings")}
    terrain = _optional_part(heights, _TERRAIN_ARRAYS, "terrain", damaged,
                             lambda f: Terrain(f["node_z"], f["terrain_offsets"],
                                               f["terrain_length_m"], f["terrain_rise_m"],
                                               sources["terrain"]),
                             lambda t: _terrain_problem(n_nodes, n_edges, t))  # fmt: skip
    crossings = _optional_part(crossing, _CROSSING_ARRAYS, "crossings", damaged,
                               lambda f: Crossings(f["crossing_node_class"],
                                                   f["crossing_node_signals"],
                                                   f["crossing_node_width_m"],
                                                   f["crossing_arc_ends"], sources["crossings"]),
                               lambda c: _crossings_problem(n_nodes, n_arcs, c))  # fmt: skip
    for extra, what in ((incline, "inclines"), (steps, "step counts")):
        if extra is not None and extra.size != n_edges:
            raise InputError(damaged(f"{what} do not match the edges"))
    return WalkNetwork(crs=crs, class_names=class_names, source=meta.get("source", str(path)),
                       terrain=terrain, edge_incline=incline, crossings=crossings,
                       edge_step_count=steps, **arrays)  # fmt: skip


def _optional_part(
    found: dict[str, np.ndarray],
    names: tuple[str, ...],
    what: str,
    damaged: Callable[[str], str],
    build: Callable[[dict[str, np.ndarray]], T],
    problem_of: Callable[[T], str | None],
) -> T | None:
    """An optional part of a saved network (heights, crossings): whole and fitting, or None.

    ``damaged`` words the error for what is wrong.
    """
    if not found:
        return None
    if set(found) != set(names):
        raise InputError(damaged(f"part of its {what} is missing"))
    built = build(found)
    problem = problem_of(built)
    if problem:
        raise InputError(damaged(problem))
    return built


def _per_edge(values: np.ndarray | None, n_edges: int) -> np.ndarray | None:
    """An optional per-edge array as float64 (``None`` stays ``None``)."""
    if values is None:
        return None
    return np.ascontiguousarray(values, dtype=np.float64).reshape(n_edges)


def _crossings_problem(n_nodes: int, n_arcs: int, c: Crossings) -> str | None:
    """What does not fit between crossings and a network of this size, or None."""
    if not (c.node_class.size == c.node_signals.size == c.node_width_m.size == n_nodes):
        return "crossing nodes do not match the nodes"
    if c.arc_ends.size != n_arcs:
        return "crossing ends do not match the arcs"
    if not np.all(np.isfinite(c.node_width_m)) or np.any(c.node_width_m < 0):
        return "crossing widths that are not finite"
    if c.node_class.size and not (
        c.node_class.min() >= -1 and c.node_class.max() < len(CROSSED_CLASSES)
    ):
        return "crossing classes out of range"
    return None


def _terrain_problem(n_nodes: int, n_edges: int, t: Terrain) -> str | None:
    """What does not fit between a terrain and a network of this size, or None."""
    offsets = t.offsets
    if t.node_z.size != n_nodes:
        return "node heights do not match the nodes"
    if offsets.size != n_edges + 1 or offsets[0] != 0 or np.any(np.diff(offsets) < 0):
        return "terrain offsets do not match the edges"
    if not (t.length_m.size == t.rise_m.size == offsets[-1]):
        return "terrain segments of different lengths"
    if not (np.all(np.isfinite(t.length_m)) and np.all(np.isfinite(t.rise_m))) or np.any(
        t.length_m < 0
    ):
        return "terrain segments that are not finite"
    return None


def _array_problem(a: dict[str, np.ndarray]) -> str | None:
    """What is inconsistent in a network's arrays (the search trusts them), or None."""
    n, m = a["node_x"].size, a["edge_u"].size
    arcs = a["arc_head"].size
    checks = [
        (a["node_y"].size == n and a["node_id"].size == n and a["node_component"].size == n,
         "node arrays of different lengths"),
        (all(a[k].size == m for k in ("edge_v", "edge_length_m", "edge_osmid", "edge_class")),
         "edge arrays of different lengths"),
        (a["geom_offsets"].size == m + 1, "edge geometry offsets do not match the edges"),
        (a["indptr"].size == n + 1, "the CSR index does not match the nodes"),
        (arcs == 2 * m and all(a[k].size == arcs for k in ("arc_edge", "arc_forward",
                                                           "arc_twin")),
         "arc arrays do not match the edges"),
    ]  # fmt: skip
    for ok, text in checks:
        if not ok:
            return text
    if n == 0:
        return None
    indptr = a["indptr"]
    if indptr[0] != 0 or indptr[-1] != arcs or np.any(np.diff(indptr) < 0):
        return "the CSR index is not increasing"
    ranges = [("arc_head", n), ("edge_u", n), ("edge_v", n), ("arc_edge", m), ("arc_twin", arcs)]
    for name, upper in ranges:
        values = a[name]
        if values.size and (values.min() < 0 or values.max() >= upper):
            return f"{name} points outside the network"
    offsets = a["geom_offsets"]
    if offsets[0] != 0 or np.any(np.diff(offsets) < 0) or offsets[-1] > len(a["geom_xy"]):
        return "edge geometry offsets are not increasing"
    coords = (a["node_x"], a["node_y"], a["edge_length_m"])
    if not all(np.all(np.isfinite(v)) for v in coords) or np.any(a["edge_length_m"] < 0):
        return "coordinates or lengths that are not finite"
    return None


def _polyline_lengths(
    node_x: np.ndarray,
    node_y: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    geom_offsets: np.ndarray,
    geom_xy: np.ndarray,
) -> np.ndarray:
    """Length of each edge polyline ``u → interior vertices → v`` (vectorised)."""
    if geom_xy.shape[0] == 0:
        return np.hypot(node_x[edge_v] - node_x[edge_u], node_y[edge_v] - node_y[edge_u])
    coords, n_coords = edge_coords(node_x, node_y, edge_u, edge_v, geom_offsets, geom_xy)
    seg = np.hypot(np.diff(coords[:, 0]), np.diff(coords[:, 1]))
    seg_edge = np.repeat(np.arange(edge_u.size), n_coords)[:-1]
    keep = np.ones(seg.size, dtype=bool)
    keep[np.cumsum(n_coords)[:-1] - 1] = False  # the jumps from one edge to the next
    return np.bincount(seg_edge[keep], weights=seg[keep], minlength=edge_u.size)

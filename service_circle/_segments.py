"""The nearest spot on the network, from arrays: no Python geometry per edge.

Every edge's polyline is kept as straight segments (start, direction, distance along the
edge) and indexed by points along them: each segment is cut into pieces of at most
:data:`PIECE_M`, and a KD-tree holds the pieces' midpoints. A segment's distance to a
point is at least its piece's midpoint distance less half a piece, so the pieces whose
midpoints lie within (nearest allowed midpoint + half a piece) hold the nearest segment:
their exact point-to-segment distances decide, the same projection shapely's
``line_locate_point`` makes. At 1.9M edges this takes ~40 bytes a segment and the tree,
where a LineString per edge and an STRtree over them took ~400 bytes an edge.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy.spatial import cKDTree

if TYPE_CHECKING:
    from service_circle.walk_network import WalkNetwork

#: The longest piece a segment is indexed by, metres.
PIECE_M = 120.0
#: Candidates asked of the tree per point at first (more where these do not settle it).
FIRST_K = 16
#: Segments handled at a time while the index is built.
CHUNK = 1 << 18


def _workers(n_points: int) -> int:
    """Threads for a KD-tree query: every core for a large batch, one for a few points.

    Starting threads costs more than a handful of lookups.
    """
    return -1 if n_points >= 10_000 else 1


class SegmentIndex:
    """The segments of a network's edges, indexed for the nearest one to a point."""

    def __init__(self, net: WalkNetwork):
        self._net = net
        self._straight = net.geom_xy.shape[0] == 0  # a segment is its edge
        if self._straight:
            self.n_segments = net.n_edges
        else:
            self._from_polylines(net)
        # segments a chunk at a time: the temporaries stay small beside the network
        chunks = [np.arange(lo, min(lo + CHUNK, self.n_segments))
                  for lo in range(0, self.n_segments, CHUNK)]  # fmt: skip
        n_pieces = np.empty(self.n_segments, dtype=np.int32)  # pieces of at most PIECE_M
        longest_piece = 0.0
        for seg in chunks:
            _, _, dx, dy = self._geometry(seg)
            length = np.hypot(dx, dy)
            count = np.maximum(1, np.ceil(length / PIECE_M)).astype(np.int32)
            n_pieces[seg] = count
            longest_piece = max(longest_piece, float((length / count).max(initial=0.0)))
        self.half_piece = longest_piece / 2
        self.n_pieces = int(n_pieces.sum(dtype=np.int64))
        self._piece_segment: np.ndarray | None = None  # None: a piece per segment
        if self.n_pieces > self.n_segments:
            self._piece_segment = np.repeat(np.arange(self.n_segments, dtype=np.int32), n_pieces)
        mid = np.empty((self.n_pieces, 2))  # the pieces' midpoints, for the tree
        first = 0
        for seg in chunks:
            x0, y0, dx, dy = self._geometry(seg)
            count = n_pieces[seg]
            s = np.repeat(np.arange(seg.size), count)
            t = (np.arange(s.size) - np.repeat(np.cumsum(count) - count, count) + 0.5) / count[s]
            mid[first : first + s.size, 0] = x0[s] + t * dx[s]
            mid[first : first + s.size, 1] = y0[s] + t * dy[s]
            first += s.size
        del n_pieces
        # sliding-midpoint splits: built in a third of the time of a balanced tree and
        # queried faster on points spread like a city's streets
        self.tree = cKDTree(mid, leafsize=32, copy_data=False, balanced_tree=False,
                            compact_nodes=False)  # fmt: skip

    def _from_polylines(self, net: WalkNetwork) -> None:
        """The segments of edges with interior vertices (centre-line networks)."""
        coords, n_coords = edge_coords(
            net.node_x, net.node_y, net.edge_u, net.edge_v, net.geom_offsets, net.geom_xy
        )
        last = np.cumsum(n_coords) - 1
        is_start = np.ones(coords.shape[0], dtype=bool)
        is_start[last] = False
        start = np.flatnonzero(is_start)
        self.n_segments = start.size
        self._edge = np.repeat(np.arange(net.n_edges, dtype=np.int32), n_coords - 1)
        self._xy0 = coords[start]
        self._dxy = coords[start + 1] - self._xy0
        length = np.hypot(self._dxy[:, 0], self._dxy[:, 1])
        before = np.cumsum(length) - length  # along the edge, from its u end
        self._first = np.cumsum(n_coords - 1) - (n_coords - 1)
        self._start_along = before - before[self._first][self._edge]
        # where each edge starts on one line through all edges, a metre apart
        per_edge = np.bincount(self._edge, weights=length, minlength=net.n_edges) + 1.0
        self._edge_start = np.concatenate([[0.0], np.cumsum(per_edge)])[:-1]

    # ------------------------------------------------------------------ segments
    def edge_of(self, segment: np.ndarray) -> np.ndarray:
        """The edge of each segment."""
        return segment if self._straight else self._edge[segment]

    def _geometry(self, segment: np.ndarray) -> tuple[np.ndarray, ...]:
        """Start ``x0, y0`` and direction ``dx, dy`` of each segment."""
        if self._straight:
            net = self._net
            u, v = net.edge_u[segment], net.edge_v[segment]
            x0, y0 = net.node_x[u], net.node_y[u]
            return x0, y0, net.node_x[v] - x0, net.node_y[v] - y0
        return (self._xy0[segment, 0], self._xy0[segment, 1], self._dxy[segment, 0],
                self._dxy[segment, 1])  # fmt: skip

    def _along0(self, segment: np.ndarray) -> np.ndarray:
        """Where each segment starts along its edge's geometry."""
        return np.zeros(np.shape(segment)) if self._straight else self._start_along[segment]

    def _segment_of_piece(self, piece: np.ndarray) -> np.ndarray:
        return piece if self._piece_segment is None else self._piece_segment[piece]

    @property
    def nbytes(self) -> int:
        """Bytes held by the index's own arrays and the tree's points and order."""
        kept = () if self._straight else (self._edge, self._xy0, self._dxy, self._first,
                                          self._start_along, self._edge_start)  # fmt: skip
        own = sum(a.nbytes for a in kept)
        if self._piece_segment is not None:
            own += self._piece_segment.nbytes
        return own + self.tree.data.nbytes + self.tree.indices.nbytes

    def project(
        self, segment: np.ndarray, x: np.ndarray, y: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each point's distance to its segment, the spot's position along the edge, and t."""
        x0, y0, dx, dy = self._geometry(segment)
        length = np.hypot(dx, dy)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = ((x - x0) * dx + (y - y0) * dy) / (length * length)
        t = np.clip(np.nan_to_num(t, nan=0.0), 0.0, 1.0)
        dist = np.hypot(x - (x0 + t * dx), y - (y0 + t * dy))
        return dist, self._along0(segment) + t * length, t

    def points(self, edges: np.ndarray, pos_m: np.ndarray) -> np.ndarray:
        """The ``(x, y)`` of the spots ``pos_m`` along ``edges`` (metres of their geometry)."""
        segment = self._segment_at(edges, pos_m)
        x0, y0, dx, dy = self._geometry(segment)
        length = np.hypot(dx, dy)
        with np.errstate(invalid="ignore", divide="ignore"):
            t = np.where(length > 0, (pos_m - self._along0(segment)) / length, 0.0)
        t = np.clip(t, 0.0, 1.0)
        return np.column_stack([x0 + t * dx, y0 + t * dy])

    def _segment_at(self, edges: np.ndarray, pos_m: np.ndarray) -> np.ndarray:
        """The segment of each edge that holds the spot ``pos_m`` along it."""
        if self._straight:
            return edges
        line = self._edge_start[self._edge] + self._start_along  # sorted: by edge, then along
        seg = np.searchsorted(line, self._edge_start[edges] + pos_m, side="right") - 1
        last = np.r_[self._first[1:], self.n_segments] - 1
        return np.clip(seg, self._first[edges], last[edges])

    # ------------------------------------------------------------------ queries
    def nearest(
        self, x: np.ndarray, y: np.ndarray, max_dist: float, allowed: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """For each point: the nearest allowed edge within ``max_dist``, spot, distance.

        ``allowed`` is a mask over edges. Returns ``edge`` (-1 where none is within
        ``max_dist``), ``pos_m`` (along the edge's geometry from ``u``) and ``dist``.
        Ties go to the lower edge, then the earlier spot.
        """
        m = x.size
        edge = np.full(m, -1, dtype=np.int64)
        pos = np.full(m, np.nan)
        dist = np.full(m, np.nan)
        if m == 0 or self.n_pieces == 0:
            return edge, pos, dist
        xy = np.column_stack([x, y])
        bound = np.full(m, np.inf)
        finite = np.flatnonzero(np.isfinite(x) & np.isfinite(y))  # a projection can fail
        bound[finite] = self._nearest_allowed_midpoint(xy[finite], allowed)
        radius = bound + self.half_piece
        todo = np.flatnonzero(np.isfinite(bound) & (bound - self.half_piece <= max_dist))
        k = FIRST_K
        while todo.size:
            k = min(k, self.n_pieces)
            d, piece = self.tree.query(xy[todo], k=k, workers=_workers(todo.size))
            d, piece = d.reshape(todo.size, -1), piece.reshape(todo.size, -1)
            reach = radius[todo] + 1e-9
            # every piece within reach is among the k when the k-th lies beyond it
            settled = (d[:, -1] > reach) | (k == self.n_pieces)
            rows, cols = np.nonzero((d <= reach[:, None]) & settled[:, None])
            self._best(todo[rows], self._segment_of_piece(piece[rows, cols]), x, y, allowed,
                       max_dist, edge, pos, dist)  # fmt: skip
            todo, k = todo[~settled], k * 4  # more candidates where all k were within reach
        return edge, pos, dist

    def within(self, x: float, y: float, radius: float) -> np.ndarray:
        """The segments that may lie within ``radius`` of a point (a superset)."""
        pieces = self.tree.query_ball_point([x, y], radius + self.half_piece)
        return np.unique(self._segment_of_piece(np.asarray(pieces, dtype=np.int64)))

    def _nearest_allowed_midpoint(self, xy: np.ndarray, allowed: np.ndarray) -> np.ndarray:
        """Distance from each point to the nearest midpoint of an allowed edge's piece."""
        bound = np.full(xy.shape[0], np.inf)
        todo = np.arange(xy.shape[0])
        k = 1
        while todo.size:
            k = min(k, self.n_pieces)
            d, piece = self.tree.query(xy[todo], k=k, workers=_workers(todo.size))
            d, piece = d.reshape(todo.size, -1), piece.reshape(todo.size, -1)
            ok = allowed[self.edge_of(self._segment_of_piece(piece))]
            found = ok.any(axis=1)
            first = ok.argmax(axis=1)
            bound[todo[found]] = d[found, first[found]]
            if k == self.n_pieces:
                break
            todo, k = todo[~found], k * 8
        return bound

    def _best(
        self, point: np.ndarray, segment: np.ndarray, x: np.ndarray, y: np.ndarray,
        allowed: np.ndarray, max_dist: float, edge: np.ndarray, pos: np.ndarray,
        dist: np.ndarray,
    ) -> None:  # fmt: skip
        """Of each point's candidate segments, the nearest allowed one within ``max_dist``."""
        seg_edge = self.edge_of(segment)
        keep = allowed[seg_edge]
        point, segment, seg_edge = point[keep], segment[keep], seg_edge[keep]
        d, along, _ = self.project(segment, x[point], y[point])
        within = d <= max_dist
        point, seg_edge, d, along = point[within], seg_edge[within], d[within], along[within]
        if point.size == 0:
            return
        order = np.lexsort((along, seg_edge, d, point))
        first = order[np.r_[True, point[order][1:] != point[order][:-1]]]
        edge[point[first]], pos[point[first]], dist[point[first]] = (
            seg_edge[first], along[first], d[first])  # fmt: skip


def edge_coords(
    node_x: np.ndarray,
    node_y: np.ndarray,
    edge_u: np.ndarray,
    edge_v: np.ndarray,
    geom_offsets: np.ndarray,
    geom_xy: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Every edge's vertices ``u → interior → v`` stacked, and the vertex count per edge."""
    n_edges = edge_u.size
    n_inner = np.diff(geom_offsets)
    n_coords = n_inner + 2
    starts = np.zeros(n_edges, dtype=np.int64)
    np.cumsum(n_coords[:-1], out=starts[1:])
    coords = np.empty((int(n_coords.sum()), 2), dtype=np.float64)
    coords[starts, 0] = node_x[edge_u]
    coords[starts, 1] = node_y[edge_u]
    ends = starts + n_coords - 1
    coords[ends, 0] = node_x[edge_v]
    coords[ends, 1] = node_y[edge_v]
    if geom_xy.shape[0]:
        edge_of_vertex = np.repeat(np.arange(n_edges), n_inner)
        rank = np.arange(geom_xy.shape[0]) - geom_offsets[edge_of_vertex]
        coords[starts[edge_of_vertex] + 1 + rank] = geom_xy
    return coords, n_coords

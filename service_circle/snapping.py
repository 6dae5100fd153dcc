"""Snapping: every facility and home placed on the nearest point of the nearest street.

:func:`snap` keeps, for each point, the edge it lands on, the position along that edge
(``pos_m``, from the edge's ``u`` end) and the straight **access leg** from the point to
the street (``access_m``). Points farther than ``max_access_m`` from every street are kept
and reported as ``off_network``; with water barriers, a point whose access leg would cross
a river snaps to the nearest street on its own bank, or is reported as ``blocked``.
Nothing is dropped: a point without a location is ``no_geometry``.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely

from service_circle._errors import InputError
from service_circle._validate import check_number
from service_circle.walk_network import WalkNetwork

logger = logging.getLogger(__name__)

#: Default largest access leg: the distance from a point to the street it snaps to, metres.
DEFAULT_MAX_ACCESS_M = 300.0
#: Pieces of the network shorter than this in total are not snapped to: in OSM they are
#: almost always entrance steps or indoor corridors that the mapper did not join to the
#: street, and a home snapped to one would look cut off from everything.
DEFAULT_MIN_PIECE_M = 100.0
#: The former name of :data:`DEFAULT_MAX_ACCESS_M` (kept for one release).
DEFAULT_MAX_SNAP_M = DEFAULT_MAX_ACCESS_M


@dataclass(frozen=True, eq=False)
class Snapped:
    """Points placed on a network's edges.

    Attributes
    ----------
    point_id
        The caller's id of each point (from the id column, else the row number).
    edge
        Index of the edge each point snapped to; ``-1`` when off-network or without
        geometry.
    pos_m
        Distance along the edge from its ``u`` end to the snapped spot, in metres.
    access_m
        The access leg: the straight-line distance from the point to the snapped spot,
        in metres.
    x, y
        The point in the network's CRS (NaN without geometry).
    status
        ``"ok"``, ``"off_network"`` (farther than ``max_access_m`` from every street),
        ``"blocked"`` (every street within reach lies across a barrier such as a river) or
        ``"no_geometry"``.
    max_access_m
        The longest access leg allowed.
    """

    point_id: np.ndarray
    edge: np.ndarray
    pos_m: np.ndarray
    access_m: np.ndarray
    x: np.ndarray
    y: np.ndarray
    status: np.ndarray
    max_access_m: float

    @property
    def max_snap_m(self) -> float:
        """The former name of :attr:`max_access_m` (kept for one release)."""
        return self.max_access_m

    def __len__(self) -> int:
        return int(self.edge.size)

    @property
    def on_network(self) -> np.ndarray:
        """Mask of the points that snapped to an edge."""
        return self.edge >= 0

    @property
    def off_network_ids(self) -> np.ndarray:
        """Ids of the points that did not snap (off-network or without geometry)."""
        return self.point_id[~self.on_network]

    @classmethod
    def concat(cls, parts: list[Snapped]) -> Snapped:
        """Points of several snaps, in order (the first one's ``max_access_m``)."""
        return cls(
            **{
                name: np.concatenate([getattr(p, name) for p in parts])
                for name in ("point_id", "edge", "pos_m", "access_m", "x", "y", "status")
            },
            max_access_m=parts[0].max_access_m,
        )

    def take(self, mask: np.ndarray) -> Snapped:
        """The subset of points selected by a boolean mask or index array."""
        return Snapped(
            point_id=self.point_id[mask],
            edge=self.edge[mask],
            pos_m=self.pos_m[mask],
            access_m=self.access_m[mask],
            x=self.x[mask],
            y=self.y[mask],
            status=self.status[mask],
            max_access_m=self.max_access_m,
        )


def snap(
    net: WalkNetwork,
    points: gpd.GeoDataFrame | gpd.GeoSeries,
    *,
    max_access_m: float = DEFAULT_MAX_ACCESS_M,
    min_piece_m: float = DEFAULT_MIN_PIECE_M,
    barriers: gpd.GeoSeries | gpd.GeoDataFrame | None = None,
    id_column: str | None = "id",
    what: str = "points",
    max_snap_m: float | None = None,
) -> Snapped:
    """Snap points to the nearest point of the nearest walkable edge (vectorised).

    Parameters
    ----------
    net
        The network.
    points
        Points with a CRS; polygons (buildings, school grounds) are represented by a point
        inside them. They are reprojected to the network's CRS.
    max_access_m
        The longest access leg: points farther than this from every edge are kept with
        status ``"off_network"``.
    min_piece_m
        Only edges on connected pieces at least this long (in total) are snap targets; the
        smaller pieces stay in the network. ``0`` snaps to every piece. Points on a
        larger piece without a facility are reported as unreachable by the search.
    barriers
        Lines or polygons (rivers, open water, the coastline; see
        :func:`service_circle.network.barriers_from_osm`) that the access leg from a point
        to its street may not cross. Such a point snaps to the nearest street on its own
        side within ``max_access_m``, or gets status ``"blocked"``.
    id_column
        Column holding the point ids; the row number is used when it is absent.
    what
        Name of the input for messages, e.g. a file name.
    max_snap_m
        The former name of ``max_access_m`` (kept for one release).

    Raises
    ------
    InputError
        If ``points`` has no CRS, or not one point lies within ``max_access_m`` of the
        network (a wrong CRS or swapped coordinates, most often).
    """
    if max_snap_m is not None:
        warnings.warn("snap(max_snap_m=) is now max_access_m=", DeprecationWarning, stacklevel=2)
        max_access_m = max_snap_m
    check_number(max_access_m, "max_access_m (m)", gt=0)
    check_number(min_piece_m, "min_piece_m (m)", ge=0)
    if isinstance(points, gpd.GeoSeries):
        points = gpd.GeoDataFrame(geometry=points)
    if points.crs is None:
        raise InputError(f"{what} have no CRS: set one (e.g. gdf.set_crs('EPSG:4326'))")
    n = len(points)
    if id_column is not None and id_column in points.columns:
        point_id = points[id_column].to_numpy()
    else:
        point_id = np.arange(n)
    geoms = points.to_crs(net.crs).geometry.to_numpy()
    missing = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    not_point = ~missing & (shapely.get_type_id(geoms) != 0)
    geoms = geoms.copy()
    geoms[not_point] = shapely.point_on_surface(geoms[not_point])
    x = np.full(n, np.nan)
    y = np.full(n, np.nan)
    x[~missing] = shapely.get_x(geoms[~missing])
    y[~missing] = shapely.get_y(geoms[~missing])
    edge = np.full(n, -1, dtype=np.int32)
    pos_m = np.full(n, np.nan)
    access_m = np.full(n, np.nan)
    status = np.where(missing, "no_geometry", "off_network").astype(object)

    present = np.flatnonzero(~missing)
    if present.size:
        segments, allowed = net.segment_index(), net.snap_targets(min_piece_m)
        hit, pos, dist = segments.nearest(x[present], y[present], max_access_m, allowed)
        found = hit >= 0
        rows = present[found]
        edge[rows], pos_m[rows], access_m[rows] = hit[found], pos[found], dist[found]
        status[rows] = "ok"
        if barriers is not None and len(barriers):
            _respect_barriers(
                net, geoms, rows, edge, pos_m, access_m, status, barriers, allowed, max_access_m
            )
        if rows.size == 0:
            minx, miny, maxx, maxy = net.bounds
            px, py = np.nanmedian(x), np.nanmedian(y)
            raise InputError(
                f"none of the {present.size} {what} lies within {max_access_m:g} m of the "
                f"network (network extent x {minx:.0f}..{maxx:.0f}, y {miny:.0f}..{maxy:.0f} "
                f"in {net.crs.to_string()}; the points centre on x {px:.0f}, y {py:.0f}): "
                "are they in another CRS, or lon/lat swapped?"
            )
    n_off = int((status == "off_network").sum())
    n_blocked = int((status == "blocked").sum())
    if n_blocked:
        logger.warning("%s: %d blocked by barriers (water) from every street", what, n_blocked)
    if n_off or missing.any():
        logger.warning(
            "%s: %d of %d off-network (> %g m from a street), %d without geometry",
            what,
            n_off,
            n,
            max_access_m,
            int(missing.sum()),
        )
    return Snapped(
        point_id=point_id,
        edge=edge,
        pos_m=pos_m,
        access_m=access_m,
        x=x,
        y=y,
        status=status,
        max_access_m=float(max_access_m),
    )


def _respect_barriers(
    net: WalkNetwork,
    geoms: np.ndarray,
    rows: np.ndarray,
    edge: np.ndarray,
    pos_m: np.ndarray,
    access_m: np.ndarray,
    status: np.ndarray,
    barriers: gpd.GeoSeries | gpd.GeoDataFrame,
    allowed: np.ndarray,
    max_access_m: float,
) -> None:
    """Re-snap, in place, the points whose access leg crosses a barrier."""
    if barriers.crs is None:
        raise InputError("barriers have no CRS: set one (e.g. .set_crs('EPSG:4326'))")
    walls = np.asarray(barriers.to_crs(net.crs).geometry.to_numpy())
    walls = walls[~(shapely.is_missing(walls) | shapely.is_empty(walls))]
    if walls.size == 0:
        return
    wall_tree = shapely.STRtree(walls)
    segments = net.segment_index()

    def crosses(points: np.ndarray, spots: np.ndarray) -> np.ndarray:
        legs = shapely.linestrings(np.stack([shapely.get_coordinates(points), spots], axis=1))
        leg, wall = wall_tree.query(legs, predicate="intersects")
        # a point standing in the water (a pier, a moored ship) walks out of it
        inside = shapely.contains(walls[wall], points[leg])
        hit = np.zeros(legs.size, dtype=bool)
        hit[leg[~inside]] = True
        return hit

    for row in rows[crosses(geoms[rows], net.edge_points(edge[rows], pos_m[rows]))]:
        point = geoms[row]
        px, py = shapely.get_x(point), shapely.get_y(point)
        cand = segments.within(px, py, max_access_m)
        cand = cand[allowed[segments.edge_of(cand)]]
        n = cand.size
        dist, along, _ = segments.project(cand, np.full(n, px), np.full(n, py))
        order = np.lexsort((along, segments.edge_of(cand), dist))  # nearest first
        order = order[dist[order] <= max_access_m]
        cand_edge, dist, along = segments.edge_of(cand)[order], dist[order], along[order]
        spots = net.edge_points(cand_edge, along)
        ok = ~crosses(np.repeat(point, cand_edge.size), spots)
        if ok.any():
            best = np.flatnonzero(ok)[0]
            edge[row], pos_m[row], access_m[row] = cand_edge[best], along[best], dist[best]
        else:
            edge[row], pos_m[row], access_m[row] = -1, np.nan, np.nan
            status[row] = "blocked"


def as_snapped(net: WalkNetwork, value: Snapped | gpd.GeoDataFrame, what: str) -> Snapped:
    """``value`` itself when snapped, else the points snapped with the defaults."""
    if isinstance(value, Snapped):
        return value
    if isinstance(value, gpd.GeoDataFrame | gpd.GeoSeries):
        return snap(net, value, what=what)
    raise InputError(f"{what} must be a GeoDataFrame or a Snapped, got {type(value).__name__}")

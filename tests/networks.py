"""Small hand-built networks and snapped points for the tests that check a number by hand.

One way to draw them: nodes as (x, y) metres from a fixed origin in UTM 50N (around Beijing),
edges as node pairs. Real-street tests use the shared OSM extracts (conftest) instead.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from service_circle import Snapped, WalkNetwork

CRS = "EPSG:32650"
X0, Y0 = 440_000.0, 4_420_000.0


def street_network(
    nodes_xy_m: Sequence[tuple[float, float]],
    edges: Sequence[tuple[int, int]],
    *,
    length_m: Sequence[float] | np.ndarray | None = None,
    at_origin: bool = True,
) -> WalkNetwork:
    """A network of straight streets between ``nodes_xy_m`` (metres east/north of the origin).

    ``length_m`` overrides the straight-line lengths (a winding street); ``at_origin=False``
    takes the coordinates as they are.
    """
    xy = np.asarray(nodes_xy_m, dtype=float).reshape(-1, 2)
    if at_origin:
        xy = xy + np.array([X0, Y0])
    uv = np.asarray(edges, dtype=np.int64).reshape(-1, 2)
    return WalkNetwork.from_edges(
        crs=CRS,
        node_x=xy[:, 0],
        node_y=xy[:, 1],
        edge_u=uv[:, 0],
        edge_v=uv[:, 1],
        edge_length_m=None if length_m is None else np.asarray(length_m, dtype=float),
    )


def random_network(u: np.ndarray, v: np.ndarray, length_m: np.ndarray) -> WalkNetwork:
    """A network with the given edges and lengths, its nodes scattered over a square km."""
    n = int(max(u.max(), v.max())) + 1
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 1000, (n, 2))
    return street_network(xy, np.column_stack([u, v]), length_m=length_m)


def snapped(edge, pos_m, access_m, *, max_access_m: float = 300.0) -> Snapped:
    """Points placed by hand: on ``edge`` (-1 for none) at ``pos_m`` along it, ``access_m`` off."""
    n = len(edge)
    edge = np.asarray(edge, dtype=np.int32)
    return Snapped(
        point_id=np.arange(n),
        edge=edge,
        pos_m=np.asarray(pos_m, dtype=float),
        access_m=np.asarray(access_m, dtype=float),
        x=np.zeros(n),
        y=np.zeros(n),
        status=np.where(edge >= 0, "ok", "off_network").astype(object),
        max_access_m=max_access_m,
    )

"""Synthetic networks and points, shared by tests, benchmarks and users' experiments.

Grids are generated straight into arrays, so a million-node network costs a second, not
a graph library's minutes.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import shapely

from service_circle.walk_network import WalkNetwork

#: A projected CRS for synthetic data (UTM 50N, around Beijing).
SYNTHETIC_CRS = "EPSG:32650"
_ORIGIN = (440_000.0, 4_420_000.0)


def grid_network(
    n_side: int,
    *,
    spacing_m: float = 80.0,
    jitter: float = 0.25,
    drop: float = 0.05,
    seed: int = 0,
) -> WalkNetwork:
    """A jittered street grid of ``n_side × n_side`` nodes.

    Parameters
    ----------
    n_side
        Nodes per side; the network has ``n_side**2`` nodes.
    spacing_m
        Block size in metres.
    jitter
        Node displacement as a share of the spacing, so lengths differ.
    drop
        Share of edges removed at random (dead ends, missing links).
    seed
        Random seed.
    """
    rng = np.random.default_rng(seed)
    idx = np.arange(n_side * n_side).reshape(n_side, n_side)
    gx, gy = np.meshgrid(np.arange(n_side), np.arange(n_side))
    x = _ORIGIN[0] + (gx.ravel() + rng.uniform(-jitter, jitter, idx.size)) * spacing_m
    y = _ORIGIN[1] + (gy.ravel() + rng.uniform(-jitter, jitter, idx.size)) * spacing_m
    u = np.concatenate([idx[:, :-1].ravel(), idx[:-1, :].ravel()])
    v = np.concatenate([idx[:, 1:].ravel(), idx[1:, :].ravel()])
    keep = rng.random(u.size) >= drop
    return WalkNetwork.from_edges(
        crs=SYNTHETIC_CRS,
        node_x=x,
        node_y=y,
        edge_u=u[keep],
        edge_v=v[keep],
        source=f"synthetic grid {n_side}x{n_side}",
    )


def random_points(
    net: WalkNetwork, n: int, *, seed: int = 0, margin_m: float = 0.0
) -> gpd.GeoDataFrame:
    """``n`` uniformly random points over the network's extent, with ids ``0..n-1``."""
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = net.bounds
    x = rng.uniform(minx - margin_m, maxx + margin_m, n)
    y = rng.uniform(miny - margin_m, maxy + margin_m, n)
    return gpd.GeoDataFrame({"id": np.arange(n)}, geometry=shapely.points(x, y), crs=net.crs)

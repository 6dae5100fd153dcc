"""Helpers shared by the benchmark scripts: medians of repeated timings, tables."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from service_circle.demand import with_groups
from service_circle.synthetic import grid_network, random_points
from service_circle.walk_network import WalkNetwork


def median_time(func: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls, and the last result."""
    times = []
    result = None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def print_table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print rows as an aligned plain-text table (also valid Markdown)."""
    cells = [[_fmt(r.get(c)) for c in columns] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    print("| " + " | ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) + " |")


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 1:
            return f"{value:.2f}"
        return f"{value:.4f}"
    return str(value)


def synthetic_inputs(
    n_side: int, n_homes: int, categories: Sequence[str], per_category: int, seed: int
) -> tuple[WalkNetwork, gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """A jittered grid network, homes and facilities (WGS-84), all from ``seed``.

    Homes carry a gamma-distributed population and the age groups; each category gets
    ``per_category`` random facilities.
    """
    net = grid_network(n_side, seed=seed)
    rng = np.random.default_rng(seed)
    homes = random_points(net, n_homes, seed=seed + 1).to_crs(4326)
    homes["population"] = rng.gamma(2.0, 20.0, n_homes)
    frames = []
    for i, key in enumerate(categories):
        fac = random_points(net, per_category, seed=seed + 10 + i).to_crs(4326)
        fac["id"] = [f"{key}-{j}" for j in range(per_category)]
        fac["category"] = key
        frames.append(fac)
    facilities = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), crs=4326)
    return net, with_groups(homes), facilities

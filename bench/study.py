"""Benchmark: a whole study — 10 categories × 3 thresholds, 100k homes, a 100k-node network.

Run ``python bench/study.py``. Prints the time of each stage (medians of ``--repeat``):
snapping (Study.build), the engine (one search per category), the coverage table, the
isochrone polygons and the gap polygons (every category at every threshold), their total;
then, on a fresh study, what ``analyze`` computes end to end (``analyze_s``: one gap map
per category, at the threshold it is judged at). Issue 18's target: the total under 10 s,
polygons at most half of it.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from _common import print_table, synthetic_inputs

from service_circle.catalogue import load_catalogue
from service_circle.cost import Threshold
from service_circle.coverage import coverage_table
from service_circle.gaps import gaps
from service_circle.isochrones import isochrones
from service_circle.pipeline import analyze_study
from service_circle.study import Study

CATEGORIES = [
    "elderly_canteen", "elderly_daycare", "childcare", "kindergarten", "primary_school",
    "health_station", "pharmacy", "convenience_store", "fresh_market", "community_service",
]  # fmt: skip
THRESHOLDS = [Threshold.minutes(m) for m in (5, 10, 15)]


def run(n_side: int, n_homes: int, per_category: int, seed: int) -> dict[str, float]:
    net, homes, facilities = synthetic_inputs(n_side, n_homes, CATEGORIES, per_category, seed)
    times = {}
    start = time.perf_counter()
    study = Study.build(net, facilities, homes, catalogue=load_catalogue())
    times["snap_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for key in CATEGORIES:
        study.search(key, THRESHOLDS[0], None)
    times["engine_s"] = time.perf_counter() - start
    start = time.perf_counter()
    table = coverage_table(study, THRESHOLDS, categories=CATEGORIES)
    times["coverage_table_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for key in CATEGORIES:
        isochrones(study, key, THRESHOLDS)
    times["isochrones_s"] = time.perf_counter() - start
    start = time.perf_counter()
    for key in CATEGORIES:
        for t in THRESHOLDS:
            gaps(study, key, t)
    times["gaps_s"] = time.perf_counter() - start
    times["total_s"] = sum(times.values())
    times["mean_share_15min"] = float(table[table["threshold"] == 15]["share"].mean())
    # what `analyze` computes on a fresh study: every category's judged coverage, the plan's
    # indicators, each home's times, the isochrones and one gap map per category (at the
    # threshold it is judged at), without writing files
    fresh = Study.build(net, facilities, homes, catalogue=load_catalogue())
    start = time.perf_counter()
    analyze_study(fresh, THRESHOLDS, categories=CATEGORIES)
    times["analyze_s"] = time.perf_counter() - start
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--side", type=int, default=317, help="grid side (317 → 100k nodes)")
    parser.add_argument("--homes", type=int, default=100_000)
    parser.add_argument("--per-category", type=int, default=40)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runs = [run(args.side, args.homes, args.per_category, seed) for seed in range(args.repeat)]
    median = {k: float(np.median([r[k] for r in runs])) for k in runs[0]}
    print(f"\nWhole study: {len(CATEGORIES)} categories × {len(THRESHOLDS)} thresholds, "
          f"{args.homes:,} homes, {args.side ** 2:,}-node grid, {args.per_category} facilities "
          f"per category (medians of {args.repeat})\n")  # fmt: skip
    print_table([median], list(median))


if __name__ == "__main__":
    main()

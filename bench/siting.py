"""Benchmark: our siting models (HiGHS) against spopt (PuLP + bundled CBC), same matrices.

Run ``python bench/siting.py`` (``pip install -e ".[test]"`` brings spopt). For growing
instances — random homes and candidates on a 1 km² block per 1000 homes, a 400 m walking
radius — it solves MCLP (p = candidates / 20) and p-median with both, side by side, and
prints times, objectives, our status and gap, and the speed ratio. Medians of ``--repeat``
runs. spopt's p-median has a variable per pair and runs for long: by default it is run
at 50 × 500 only (``--spopt-pmedian-max 1000000 --repeat 1`` adds 200 × 2000, ~40 min).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from scipy import sparse

sys.path.insert(0, str(Path(__file__).parent))
from _common import median_time, print_table

from service_circle.siting import mclp, pmedian

SIZES = [(50, 500), (200, 2000), (500, 5000), (2000, 20000)]
RADIUS_M = 400.0


def instance(n_cand: int, n_demand: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    side = 1000.0 * np.sqrt(n_demand / 1000)
    demand = rng.uniform(0, side, (n_demand, 2))
    cand = rng.uniform(0, side, (n_cand, 2))
    cost = np.hypot(*(demand[:, None, :] - cand[None, :, :]).transpose(2, 0, 1))
    weights = rng.integers(1, 40, n_demand).astype(float)
    return cost, weights


def run(
    n_cand: int,
    n_demand: int,
    repeat: int,
    spopt_max: int,
    pmedian_max: int,
    spopt_pm_max: int,
    time_limit_s: float,
) -> list[dict]:
    import pulp
    from spopt.locate import MCLP, PMedian

    cost, weights = instance(n_cand, n_demand)
    p = max(1, n_cand // 20)
    rows = []
    reach = sparse.csr_matrix(cost <= RADIUS_M)
    t_ours, ours = median_time(lambda: mclp(reach, weights, p, time_limit_s=time_limit_s), repeat)
    size = {"candidates": n_cand, "homes": n_demand, "p": p}
    row = {"model": "MCLP", **size, "ours_s": t_ours, "ours_objective": ours.objective,
           "ours_status": ours.status, "ours_gap": ours.gap}  # fmt: skip
    if n_cand * n_demand <= spopt_max:
        solver = pulp.PULP_CBC_CMD(msg=False)
        t_sp, sp = median_time(
            lambda: MCLP.from_cost_matrix(cost, weights, RADIUS_M, p_facilities=p).solve(solver),
            repeat,
        )
        row |= {"spopt_s": t_sp, "spopt_objective": sp.problem.objective.value(),
                "ratio": t_sp / t_ours}  # fmt: skip
    rows.append(row)
    if n_cand * n_demand <= pmedian_max:
        t_ours, ours = median_time(
            lambda: pmedian(cost, weights, p, time_limit_s=time_limit_s), repeat
        )
        row = {"model": "p-median", **size, "ours_s": t_ours, "ours_objective": ours.objective,
               "ours_status": ours.status, "ours_gap": ours.gap}  # fmt: skip
        if n_cand * n_demand <= spopt_pm_max:
            solver = pulp.PULP_CBC_CMD(msg=False)
            t_sp, sp = median_time(
                lambda: PMedian.from_cost_matrix(cost, weights, p_facilities=p).solve(solver),
                repeat,
            )
            row |= {"spopt_s": t_sp, "spopt_objective": sp.problem.objective.value(),
                    "ratio": t_sp / t_ours}  # fmt: skip
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--max-size", type=int, default=2000, help="largest candidate count")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--spopt-max", type=int, default=10_000_000,
                        help="skip spopt above candidates × homes")  # fmt: skip
    parser.add_argument(
        "--pmedian-max",
        type=int,
        default=10_000_000,
        help="skip our p-median above candidates × homes",
    )
    parser.add_argument("--spopt-pmedian-max", type=int, default=25_000,
                        help="skip spopt p-median (a variable per pair) above this")  # fmt: skip
    parser.add_argument("--time-limit", type=float, default=120.0,
                        help="our solvers' time limit per model, seconds")  # fmt: skip
    args = parser.parse_args()
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    rows = []
    for n_cand, n_demand in SIZES:
        if n_cand <= args.max_size:
            rows += run(n_cand, n_demand, args.repeat, args.spopt_max, args.pmedian_max,
                        args.spopt_pmedian_max, args.time_limit)  # fmt: skip
            print(f"  done: {n_cand} × {n_demand}", file=sys.stderr, flush=True)
    print(f"\nSiting, radius {RADIUS_M:g} m (medians of {args.repeat}); ratio = spopt / ours\n")
    print_table(rows, ["model", "candidates", "homes", "p", "ours_s", "spopt_s", "ratio",
                       "ours_objective", "spopt_objective", "ours_status", "ours_gap"])  # fmt: skip


if __name__ == "__main__":
    main()

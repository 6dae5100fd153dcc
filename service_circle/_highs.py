"""HiGHS plumbing for the siting models (private): one call, the LP relaxation first.

:func:`solve` builds a model for ``highspy`` from a cost vector and linear constraints,
solves its linear relaxation and stops there when the optimum is integral (maximal
coverage's usually is), else runs the MIP under the time limit with a relative gap of
1e-7, and reports the status, objective, bound and gap. HiGHS's banner is kept off
stdout.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import LinearConstraint

from service_circle._errors import InputError
from service_circle._validate import check_number

logger = logging.getLogger(__name__)

_banner_shown = False


def highs() -> Any:
    """A ``highspy.Highs``, without the banner HiGHS prints on stdout the first time."""
    import os
    import sys

    import highspy

    global _banner_shown
    if _banner_shown:
        return highspy.Highs()
    _banner_shown = True
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with Path(os.devnull).open("w") as null:
            os.dup2(null.fileno(), 1)
            return highspy.Highs()
    finally:
        os.dup2(saved, 1)
        os.close(saved)


@dataclass(frozen=True)
class Solved:
    """What HiGHS returned: the solution, its status (0 optimal, 1 time limit), bounds."""

    x: np.ndarray
    status: int
    fun: float
    mip_dual_bound: float | None
    mip_gap: float | None


def solve(
    c: np.ndarray,
    n_binary: int,
    constraints: list[LinearConstraint],
    time_limit_s: float,
    model: str,
    start: np.ndarray | None = None,
    col_lower: np.ndarray | None = None,
) -> Solved:
    """HiGHS (highspy) on ``min c·v``, binary first variables, the rest in [0, 1].

    The first ``n_binary`` variables are binary; ``start`` is an optional feasible solution
    to begin from, ``col_lower`` optional lower bounds (1 fixes a site open). The relative
    gap is 1e-7, so that "optimal" is the optimum rather than one within HiGHS's default
    0.01 %. The linear relaxation is solved first: when its optimum is integral it is the
    optimum (MCLP's usually is, at a tenth of the MIP's fixed cost) and no MIP is run.
    """
    import highspy

    check_number(time_limit_s, "time_limit_s", gt=0)
    matrix = sparse.vstack([sparse.csr_matrix(k.A) for k in constraints]).tocsr()
    lower = np.concatenate([np.broadcast_to(k.lb, (k.A.shape[0],)) for k in constraints])
    upper = np.concatenate([np.broadcast_to(k.ub, (k.A.shape[0],)) for k in constraints])
    inf = highspy.kHighsInf
    lp = highspy.HighsLp()
    lp.num_col_ = int(c.size)
    lp.num_row_ = int(matrix.shape[0])
    lp.col_cost_ = np.asarray(c, dtype=np.float64)
    lp.col_lower_ = np.zeros(c.size) if col_lower is None else np.asarray(col_lower, np.float64)
    lp.col_upper_ = np.ones(c.size)
    lp.row_lower_ = np.where(np.isfinite(lower), lower, -inf).astype(np.float64)
    lp.row_upper_ = np.where(np.isfinite(upper), upper, inf).astype(np.float64)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
    lp.a_matrix_.start_ = matrix.indptr.astype(np.int32)
    lp.a_matrix_.index_ = matrix.indices.astype(np.int32)
    lp.a_matrix_.value_ = matrix.data.astype(np.float64)
    h = highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 1e-7)
    # presolve costs more than it saves on these models (5-10x on MCLP, measured)
    h.setOptionValue("presolve", "off")
    began = time.perf_counter()
    relaxed = integral_relaxation(h, lp, n_binary)
    if relaxed is not None:
        return relaxed
    left_s = max(float(time_limit_s) - (time.perf_counter() - began), 0.1)
    h.setOptionValue("time_limit", left_s)
    kinds = highspy.HighsVarType
    lp.integrality_ = [kinds.kInteger] * n_binary + [kinds.kContinuous] * (c.size - n_binary)
    h.passModel(lp)
    if start is not None:
        solution = highspy.HighsSolution()
        solution.col_value = list(np.asarray(start, dtype=np.float64))
        solution.value_valid = True
        h.setSolution(solution)
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    if status == highspy.HighsModelStatus.kInfeasible:
        raise InputError(
            f"{model} is infeasible: no choice of sites meets every constraint (for p-median, "
            "p sites cannot serve every home: raise p or give an unserved cost)"
        )
    has_solution = info.primal_solution_status == 2  # feasible
    if not has_solution:
        raise InputError(
            f"HiGHS found no solution for {model} ({h.modelStatusToString(status)}) within "
            f"{time_limit_s:g} s: raise the time limit or use the greedy method"
        )
    optimal = status == highspy.HighsModelStatus.kOptimal
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else None
    gap = float(info.mip_gap) if np.isfinite(info.mip_gap) else None
    return Solved(
        x=np.asarray(h.getSolution().col_value, dtype=np.float64),
        status=0 if optimal else 1,
        fun=float(info.objective_function_value),
        mip_dual_bound=bound,
        mip_gap=gap,
    )


def integral_relaxation(h: Any, lp: Any, n_binary: int) -> Solved | None:
    """The linear relaxation's optimum when its binary variables come out integral."""
    import highspy

    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return None
    x = np.asarray(h.getSolution().col_value, dtype=np.float64)
    binary = x[:n_binary]
    if np.any(np.abs(binary - np.round(binary)) > 1e-9):
        return None
    x[:n_binary] = np.round(binary)
    fun = float(h.getInfo().objective_function_value)
    return Solved(x=x, status=0, fun=fun, mip_dual_bound=fun, mip_gap=0.0)


def coverage_link(a: sparse.csr_matrix) -> LinearConstraint:
    """``y_i <= sum_j a_ij x_j`` over variables ``[x, y]``."""
    link = sparse.hstack([-a, sparse.identity(a.shape[0], format="csr")]).tocsr()
    return LinearConstraint(link, -np.inf, 0)

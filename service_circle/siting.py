"""Siting new facilities: maximal coverage (MCLP) and set cover to a target (LSCP).

Both models run on a reach matrix ``a`` (demand points × candidate sites; ``a[i, j] = 1``
when home ``i`` can walk to candidate ``j`` within the threshold), demand weights ``w``
(the group the category serves: 60+ for canteens, 0–3 for childcare …) and the homes that
existing facilities already cover, which count as covered and are left out of the models.

Exact solutions come from HiGHS (through ``highspy``; scipy's bundled HiGHS is an older,
much slower release on these models), with a time limit;
the result reports the status, objective, best bound and gap. The lazy-greedy heuristic
(CELF) is there for instances too large for the limit; the result says which was used,
and there is no silent fallback from one to the other.

p-median (:func:`pmedian`) minimises the total weighted walking time, solved exactly by its
own core (:mod:`service_circle._pmedian`: Lagrangian bound and branch and bound, or HiGHS
on the reduced model), and the capacitated variant (:func:`capacitated_mclp`) lets each
site serve at most its capacity.
"""

from __future__ import annotations

import heapq
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from scipy import sparse
from scipy.optimize import LinearConstraint

from service_circle import _deadline, _pmedian
from service_circle._errors import InputError
from service_circle._validate import check_number

logger = logging.getLogger(__name__)

Method = Literal["exact", "greedy"]
Objective = Literal["mclp", "lscp", "pmedian"]


@dataclass(frozen=True)
class SitingResult:
    """What a siting model chose, and how sure it is.

    Attributes
    ----------
    model
        ``"mclp"`` or ``"lscp"``.
    method
        ``"exact (HiGHS)"``, ``"lazy greedy (heuristic)"``, or for the p-median also
        ``"exact (Lagrangian bound)"`` / ``"exact (Lagrangian branch and bound)"``.
    status
        ``"optimal"``, ``"time limit"`` (best found, see ``gap``), ``"heuristic"``.
    chosen
        Candidate indices in rank order: each adds the most weight given those before it.
    marginal
        The weight each chosen site newly covers, in rank order.
    covered_before, covered_after, total
        Covered weight before and after, and the total weight.
    objective, bound, gap
        The solver's objective, its best bound and relative gap (``None`` for greedy,
        where ``bound`` is the (1 − 1/e) guarantee's upper bound for MCLP).
    """

    model: str
    method: str
    status: str
    chosen: np.ndarray
    marginal: np.ndarray
    covered_before: float
    covered_after: float
    total: float
    objective: float
    bound: float | None
    gap: float | None

    @property
    def share_before(self) -> float:
        """Share of the weight covered before."""
        return self.covered_before / self.total if self.total else float("nan")

    @property
    def share_after(self) -> float:
        """Share of the weight covered after."""
        return self.covered_after / self.total if self.total else float("nan")


def _prepare(reach, weights, covered):
    reach = sparse.csr_matrix(reach, dtype=np.float64)
    reach.data[:] = 1.0
    weights = np.asarray(weights, dtype=np.float64)
    if reach.shape[0] != weights.size:
        raise InputError(f"reach has {reach.shape[0]} rows but there are {weights.size} weights")
    if np.any(weights < 0) or not np.all(np.isfinite(weights)):
        raise InputError("demand weights must be finite and non-negative")
    covered = np.zeros(weights.size, bool) if covered is None else np.asarray(covered, bool)
    open_rows = np.flatnonzero(~covered & (weights > 0) & (np.diff(reach.indptr) > 0))
    return reach, weights, covered, open_rows


def _rank(reach: sparse.csr_matrix, weights: np.ndarray, rows: np.ndarray, chosen) -> tuple:
    """Order chosen sites by marginal gain (greedy over the chosen set)."""
    return _lazy_greedy(reach, weights, rows, p=len(chosen), columns=chosen)


def mclp(
    reach,
    weights,
    p: int,
    *,
    covered: np.ndarray | None = None,
    method: Method = "exact",
    time_limit_s: float = 60.0,
) -> SitingResult:
    r"""Maximal covering location: ``p`` new sites covering the most uncovered weight.

    .. math::

        \max \sum_i w_i y_i \quad \text{s.t.} \quad
        y_i \le \sum_j a_{ij} x_j \;\; \forall i, \qquad \sum_j x_j = p, \qquad
        x_j \in \{0, 1\}, \; 0 \le y_i \le 1

    over the homes ``i`` not yet covered (``y`` needs no integrality: with binary ``x`` the
    optimum has ``y_i = \min(1, \sum_j a_{ij} x_j)``).
    """
    reach, weights, covered, rows = _prepare(reach, weights, covered)
    n_cand = reach.shape[1]
    if not 0 < p <= n_cand:
        raise InputError(f"p must be between 1 and the {n_cand} candidates, got {p}")
    before = float(weights[covered].sum())
    total = float(weights.sum())
    if rows.size == 0:
        raise InputError(
            "no uncovered home lies within reach of any candidate: nothing to gain "
            f"(coverage stays {before / total:.1%}); add candidates inside the gaps"
        )
    if method == "greedy":
        chosen, gains = _lazy_greedy(reach, weights, rows, p=p)
        gained = float(gains.sum())
        return SitingResult("mclp", "lazy greedy (heuristic)", "heuristic", chosen, gains,
                            before, before + gained, total, gained,
                            gained / (1 - 1 / np.e), None)  # fmt: skip
    if method != "exact":
        raise InputError(f"method must be 'exact' or 'greedy', got {method!r}")
    a, w = _merge_rows(reach[rows], weights[rows])
    m = w.size
    # variables: x (n_cand, binary) then y (m, continuous)
    c = np.concatenate([np.zeros(n_cand), -w])
    count = sparse.csr_matrix(np.concatenate([np.ones(n_cand), np.zeros(m)])[None, :])
    constraints = [_coverage_link(a), LinearConstraint(count, p, p)]
    # the greedy sites are a good first incumbent
    greedy, _ = _lazy_greedy(reach, weights, rows, p=p)
    x0 = np.zeros(n_cand)
    x0[greedy] = 1.0
    if greedy.size < p:  # fewer useful sites than p: fill up with any others
        x0[np.flatnonzero(x0 == 0)[: p - greedy.size]] = 1.0
    start = np.concatenate([x0, np.minimum(1.0, a @ x0)])
    result = _solve(c, n_cand, constraints, time_limit_s, "mclp", start=start)
    return _exact_result("mclp", result, reach, weights, rows, n_cand, before, total)


def lscp(
    reach,
    weights,
    target_share: float,
    *,
    covered: np.ndarray | None = None,
    method: Method = "exact",
    time_limit_s: float = 60.0,
) -> SitingResult:
    r"""Set cover to a target: the fewest new sites that bring coverage to ``target_share``.

    .. math::

        \min \sum_j x_j \quad \text{s.t.} \quad
        \sum_i w_i y_i \ge T - W_0, \qquad y_i \le \sum_j a_{ij} x_j \;\; \forall i, \qquad
        x_j \in \{0, 1\}, \; 0 \le y_i \le 1

    with ``T`` the target share of the total weight and ``W_0`` the weight already covered.

    Raises
    ------
    InputError
        If no set of candidates reaches the target; the message gives the best share.
    """
    reach, weights, covered, rows = _prepare(reach, weights, covered)
    if not 0 < target_share <= 1:
        raise InputError(f"target share must be in (0, 1], got {target_share}")
    n_cand = reach.shape[1]
    total = float(weights.sum())
    before = float(weights[covered].sum())
    need = target_share * total - before
    best = before + float(weights[rows].sum())
    if best < target_share * total - 1e-9:
        raise InputError(
            f"no set of the {n_cand} candidates reaches {target_share:.0%}: with all of them "
            f"coverage is {best / total:.1%} (now {before / total:.1%}); add candidates or "
            "lower the target"
        )
    if need <= 0:
        empty = np.empty(0, dtype=np.int64)
        return SitingResult("lscp", "exact (HiGHS)", "optimal", empty, empty.astype(float),
                            before, before, total, 0.0, 0.0, 0.0)  # fmt: skip
    if method == "greedy":
        chosen, gains = _lazy_greedy(reach, weights, rows, need=need)
        return SitingResult("lscp", "lazy greedy (heuristic)", "heuristic", chosen, gains,
                            before, before + float(gains.sum()), total, float(chosen.size),
                            None, None)  # fmt: skip
    if method != "exact":
        raise InputError(f"method must be 'exact' or 'greedy', got {method!r}")
    a, w = _merge_rows(reach[rows], weights[rows])
    m = w.size
    c = np.concatenate([np.ones(n_cand), np.zeros(m)])
    reach_target = sparse.csr_matrix(np.concatenate([np.zeros(n_cand), w])[None, :])
    constraints = [_coverage_link(a), LinearConstraint(reach_target, need - 1e-9, np.inf)]
    result = _solve(c, n_cand, constraints, time_limit_s, "lscp")
    return _exact_result("lscp", result, reach, weights, rows, n_cand, before, total)


def _merge_rows(a: sparse.csr_matrix, w: np.ndarray) -> tuple[sparse.csr_matrix, np.ndarray]:
    """Homes reached by the same candidates merged into one row with their summed weight.

    An exact reduction (their ``y`` are equal at the optimum); homes in one building or
    block usually share their candidates, so real studies shrink a lot.
    """
    a = a.tocsr()
    a.sort_indices()
    keys = np.array(
        [a.indices[a.indptr[i] : a.indptr[i + 1]].tobytes() for i in range(a.shape[0])],
        dtype=object,
    )
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    return a[first], np.bincount(inverse.ravel(), weights=w, minlength=first.size)


_banner_shown = False


def _highs():
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
class _Solved:
    """What HiGHS returned: the solution, its status (0 optimal, 1 time limit), bounds."""

    x: np.ndarray
    status: int
    fun: float
    mip_dual_bound: float | None
    mip_gap: float | None


def _solve(
    c: np.ndarray,
    n_binary: int,
    constraints: list[LinearConstraint],
    time_limit_s: float,
    model: str,
    start: np.ndarray | None = None,
    col_lower: np.ndarray | None = None,
) -> _Solved:
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
    h = _highs()
    h.setOptionValue("output_flag", False)
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", 1e-7)
    # presolve costs more than it saves on these models (5-10x on MCLP, measured)
    h.setOptionValue("presolve", "off")
    began = time.perf_counter()
    relaxed = _integral_relaxation(h, lp, n_binary)
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
    return _Solved(
        x=np.asarray(h.getSolution().col_value, dtype=np.float64),
        status=0 if optimal else 1,
        fun=float(info.objective_function_value),
        mip_dual_bound=bound,
        mip_gap=gap,
    )


def _integral_relaxation(h, lp, n_binary: int) -> _Solved | None:
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
    return _Solved(x=x, status=0, fun=fun, mip_dual_bound=fun, mip_gap=0.0)


def _coverage_link(a: sparse.csr_matrix) -> LinearConstraint:
    """``y_i <= sum_j a_ij x_j`` over variables ``[x, y]``."""
    link = sparse.hstack([-a, sparse.identity(a.shape[0], format="csr")]).tocsr()
    return LinearConstraint(link, -np.inf, 0)


def _exact_result(model, result, reach, weights, rows, n_cand, before, total) -> SitingResult:
    status = "optimal" if result.status == 0 else "time limit"
    chosen = np.flatnonzero(result.x[:n_cand] > 0.5)
    order, gains = _rank(reach, weights, rows, chosen)
    sign = -1.0 if model == "mclp" else 1.0
    return SitingResult(
        model=model,
        method="exact (HiGHS)",
        status=status,
        chosen=order,
        marginal=gains,
        covered_before=before,
        covered_after=before + float(gains.sum()),
        total=total,
        objective=sign * float(result.fun),
        bound=None if result.mip_dual_bound is None else sign * float(result.mip_dual_bound),
        gap=None if result.mip_gap is None else float(result.mip_gap),
    )


def _lazy_greedy(
    reach: sparse.csr_matrix,
    weights: np.ndarray,
    rows: np.ndarray,
    *,
    p: int | None = None,
    need: float | None = None,
    columns=None,
) -> tuple[np.ndarray, np.ndarray]:
    """CELF lazy greedy: p sites, or sites until ``need`` weight is covered.

    ``columns`` restricts the candidates (all by default).
    """
    cols = reach[rows].tocsc()
    done = np.zeros(rows.size, bool)

    def gain(j: int) -> float:
        idx = cols.indices[cols.indptr[j] : cols.indptr[j + 1]]
        return float(weights[rows[idx[~done[idx]]]].sum())

    pool = range(cols.shape[1]) if columns is None else (int(j) for j in columns)
    heap = [(-gain(j), j) for j in pool]
    heapq.heapify(heap)
    chosen, gains, got = [], [], 0.0
    while heap and (p is None or len(chosen) < p) and (need is None or got < need - 1e-9):
        _, j = heapq.heappop(heap)
        fresh = gain(j)
        if heap and fresh < -heap[0][0] - 1e-12:  # stale: put back with its true gain
            heapq.heappush(heap, (-fresh, j))
            continue
        chosen.append(j)
        gains.append(fresh)
        got += fresh
        idx = cols.indices[cols.indptr[j] : cols.indptr[j + 1]]
        done[idx] = True
    return np.array(chosen, dtype=np.int64), np.array(gains, dtype=np.float64)


def pmedian(
    cost,
    weights,
    p: int,
    *,
    existing_cost: np.ndarray | None = None,
    time_limit_s: float = 60.0,
    nearest: int | None = None,
    unserved_cost: float | None = None,
    solver: Literal["lagrangian", "highs"] = "lagrangian",
) -> SitingResult:
    r"""p-median: ``p`` new sites minimising the total weighted walking cost.

    .. math::

        \min \sum_i \sum_j w_i d_{ij} z_{ij} + \sum_i w_i e_i z_{i0} \quad \text{s.t.} \quad
        \sum_j z_{ij} + z_{i0} = 1 \;\; \forall i, \qquad z_{ij} \le x_j, \qquad
        \sum_j x_j = p, \qquad x_j \in \{0, 1\}, \; z \ge 0

    ``cost`` is a dense (demand × candidates) array, ``inf`` where a candidate cannot be
    reached (no variable is made for it); ``e_i`` (``existing_cost``) is each home's cost
    to the facilities it has today (``inf`` for none; column ``z_{i0}`` exists only where
    finite). ``unserved_cost`` (optional) is the cost of a home no open site serves, e.g.
    a cap on walking time; without it every home must be served by a chosen site or an
    existing facility, and a ``p`` too small for that is reported as an error.

    Solved sparse and still exactly: each home first gets variables for its ``nearest``
    cheapest candidates only (default ``max(8, 3 m / p)``) plus one "beyond" variable
    priced at its next-cheapest cost, a lower bound on any assignment left out. When the
    optimum uses no "beyond" variable it is optimal for the full model; otherwise the
    homes that used one get twice as many candidates and the model is solved again.

    Each sparse model goes to :mod:`service_circle._pmedian`: an interchange incumbent, a
    Lagrangian bound that usually meets it (then no MIP is solved), reductions that drop
    the sites and pairs no better solution can use, then ``solver``: a Lagrangian branch
    and bound (default) or HiGHS on what is left. Both are exact up to HiGHS's relative
    gap of 1e-7; ``method`` in the result names the one that proved the optimum (or,
    at the time limit, the best bound).
    """
    check_number(time_limit_s, "time_limit_s", gt=0)
    cost = np.asarray(cost, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    n, m = cost.shape
    if not 0 < p <= m:
        raise InputError(f"p must be between 1 and the {m} candidates, got {p}")
    existing = np.full(n, np.inf) if existing_cost is None else np.asarray(existing_cost, float)
    if unserved_cost is not None:
        existing = np.fmin(existing, float(unserved_cost))
    unreachable = ~(np.isfinite(cost).any(axis=1) | np.isfinite(existing))
    if unreachable.any():
        raise InputError(
            f"{int(unreachable.sum())} homes reach no candidate and no existing facility: "
            "drop them or add candidates"
        )
    k = np.full(n, min(m, nearest or max(8, int(np.ceil(3 * m / p)))), dtype=np.int64)
    order = np.argsort(cost, axis=1, kind="stable")
    sorted_cost = np.take_along_axis(cost, order, axis=1)  # each home's, cheapest first
    while True:
        solution, beyond_used = _pmedian_restricted(
            cost, order, sorted_cost, weights, existing, k, p, time_limit_s, solver
        )
        if beyond_used.size == 0 or not solution.optimal:
            break
        logger.info("p-median: %d homes need more candidates", beyond_used.size)
        k[beyond_used] = np.minimum(m, 2 * k[beyond_used])
    # cost and assignment on the whole matrix: at a time limit the sparse model may still
    # lean on a "beyond" bound, which is no real assignment
    chosen = solution.open
    nearest_cost = cost[:, chosen].min(axis=1)
    nearest_site = chosen[cost[:, chosen].argmin(axis=1)]
    served = nearest_cost < existing  # homes keep today's facility when it is as near
    gain = np.bincount(nearest_site[served], weights=weights[served], minlength=m)
    paid = np.fmin(nearest_cost, existing)
    objective = float((weights * np.where(weights > 0, paid, 0.0)).sum())
    bound = min(solution.bound, objective)
    ranked = chosen[np.argsort(-gain[chosen], kind="stable")]
    total = float(weights.sum())
    return SitingResult(
        model="pmedian",
        method=f"exact ({solution.proof})",
        status="optimal" if solution.optimal else "time limit",
        chosen=ranked,
        marginal=gain[ranked],  # weight assigned to each site
        covered_before=float(weights[np.isfinite(existing)].sum()),
        covered_after=total,
        total=total,
        objective=objective,
        bound=bound,
        gap=(objective - bound) / objective if objective else 0.0,
    )


def _pmedian_restricted(cost, order, sorted_cost, weights, existing, k, p, time_limit_s, solver):
    """p-median over each home's ``k`` cheapest candidates plus a lower-bound "beyond".

    Returns the core's solution and the homes whose "beyond" it used.
    """
    n, m = cost.shape
    rank = np.arange(m)[None, :]
    keep = (rank < k[:, None]) & np.isfinite(sorted_cost)
    rows, slot = np.nonzero(keep)  # by home, cheapest first
    cols = order[rows, slot]
    # the next-cheapest cost bounds every assignment left out (none left: inf)
    nxt = np.where(k < m, sorted_cost[np.arange(n), np.minimum(k, m - 1)], np.inf)
    fallback = np.fmin(existing, nxt)
    core = _pmedian.Core(
        rows=rows,
        cols=cols,
        cost=weights[rows] * sorted_cost[rows, slot],
        fallback=np.where(
            np.isfinite(fallback), weights * np.where(np.isfinite(fallback), fallback, 0), np.inf
        ),
        n=n,
        m=m,
        p=p,
    )
    solution = _pmedian.solve(core, time_limit_s, _solve, solver)
    used = np.flatnonzero(solution.on_fallback & (nxt < existing))
    return solution, used


def capacitated_mclp(
    reach,
    weights,
    capacity,
    p: int,
    *,
    covered: np.ndarray | None = None,
    time_limit_s: float = 60.0,
) -> SitingResult:
    r"""Maximal coverage where each new site serves at most its capacity.

    .. math::

        \max \sum_{i,j} w_i z_{ij} \quad \text{s.t.} \quad
        \sum_j z_{ij} \le 1 \;\; \forall i, \qquad
        \sum_i w_i z_{ij} \le C_j x_j \;\; \forall j, \qquad z_{ij} \le x_j, \qquad
        \sum_j x_j = p, \qquad z_{ij} \in [0, a_{ij}], \; x_j \in \{0, 1\}

    (demand may be split between sites; ``C_j`` in the group's unit, e.g. places, capped at
    the weight the site reaches).
    """
    reach, weights, covered, rows = _prepare(reach, weights, covered)
    capacity = np.asarray(capacity, dtype=np.float64)
    n_cand = reach.shape[1]
    if capacity.shape != (n_cand,) or np.any(~np.isfinite(capacity)) or np.any(capacity < 0):
        raise InputError(f"capacity needs one finite, non-negative value per candidate ({n_cand})")
    if not 0 < p <= n_cand:
        raise InputError(f"p must be between 1 and the {n_cand} candidates, got {p}")
    if rows.size == 0:
        raise InputError("no uncovered home lies within reach of any candidate: nothing to gain")
    a = reach[rows].tocoo()
    i, j = a.row, a.col
    k = i.size
    w = weights[rows]
    c = np.concatenate([np.zeros(n_cand), -w[i]])
    once = sparse.hstack(
        [sparse.csr_matrix((rows.size, n_cand)),
         sparse.csr_matrix((np.ones(k), (i, np.arange(k))), shape=(rows.size, k))]
    ).tocsr()  # fmt: skip
    # a site never serves more than the weight it reaches: capping C_j there keeps the
    # big-M small, so an unopened site cannot leak service through solver tolerances
    reachable = np.bincount(j, weights=w[i], minlength=n_cand)
    cap = sparse.hstack(
        [sparse.diags(-np.minimum(capacity, reachable), format="csr"),
         sparse.csr_matrix((w[i], (j, np.arange(k))), shape=(n_cand, k))]
    ).tocsr()  # fmt: skip
    # z_ij <= x_j: the strong form (tighter bound, and no service from a closed site)
    link = sparse.hstack(
        [sparse.csr_matrix((-np.ones(k), (np.arange(k), j)), shape=(k, n_cand)),
         sparse.identity(k, format="csr")]
    ).tocsr()  # fmt: skip
    count = sparse.csr_matrix(np.concatenate([np.ones(n_cand), np.zeros(k)])[None, :])
    constraints = [
        LinearConstraint(once, -np.inf, 1),
        LinearConstraint(cap, -np.inf, 0),
        LinearConstraint(link, -np.inf, 0),
        LinearConstraint(count, p, p),
    ]
    result = _solve(c, n_cand, constraints, time_limit_s, "capacitated MCLP")
    is_open = result.x[:n_cand] > 0.5
    chosen = np.flatnonzero(is_open)
    served = np.zeros(n_cand)
    np.add.at(served, j, np.where(is_open[j], result.x[n_cand:], 0.0) * w[i])
    order = chosen[np.argsort(-served[chosen], kind="stable")]
    before = float(weights[covered].sum())
    return SitingResult(
        model="capacitated_mclp",
        method="exact (HiGHS)",
        status="optimal" if result.status == 0 else "time limit",
        chosen=order,
        marginal=served[order],
        covered_before=before,
        covered_after=before + float(served.sum()),
        total=float(weights.sum()),
        objective=-float(result.fun),
        bound=None if result.mip_dual_bound is None else -float(result.mip_dual_bound),
        gap=None if result.mip_gap is None else float(result.mip_gap),
    )


# ====================================================================== on a study
def generate_candidates(
    study,
    category: str,
    threshold,
    *,
    profile=None,
    spacing_m: float = 150.0,
    exclude=None,
    max_candidates: int | None = None,
):
    """Candidate sites on the network inside today's gaps, thinned to ``spacing_m``.

    The street spots of the homes the category does not cover within ``threshold``, one per
    ``spacing_m`` square (the most populous home's spot in it), outside ``exclude``
    polygons (WGS-84). With ``max_candidates``, the squares grow (× 1.5 at a time) until
    no more than that many remain, so that a large gap costs a bounded reach table.
    Returns a GeoDataFrame of points (WGS-84) with ``id``.
    """
    import geopandas as gpd
    import shapely

    from service_circle.profiles import get_profile

    prof = get_profile(profile)
    found = study.search(category, threshold, prof)
    limit = threshold.cost_limit(prof)
    s = study.demand_snap
    weight = study.demand[study.catalogue[category].group_column].to_numpy(np.float64)
    open_rows = np.flatnonzero(~(found.point_cost <= limit) & s.on_network & (weight > 0))
    if open_rows.size == 0:
        raise InputError(
            f"no gap to site {category} in: every home within reach of the network is "
            f"covered within {threshold.label}"
        )
    lines = study.network.edge_geometries()[s.edge[open_rows]]
    spots = shapely.line_interpolate_point(lines, s.pos_m[open_rows])
    xy = shapely.get_coordinates(spots)
    if not (np.isfinite(spacing_m) and spacing_m > 0):
        raise InputError(
            f"candidate spacing must be a positive number of metres, got {spacing_m!r}"
        )
    while True:
        cell = np.floor(xy / spacing_m).astype(np.int64)
        order = np.lexsort((-weight[open_rows], cell[:, 1], cell[:, 0]))
        first = np.r_[True, np.any(np.diff(cell[order], axis=0) != 0, axis=1)]
        keep = order[first]
        if max_candidates is None or keep.size <= max_candidates:
            break
        spacing_m *= 1.5
        logger.info("more than %d candidates: thinning to %.0f m", max_candidates, spacing_m)
    frame = gpd.GeoDataFrame(
        {"id": [f"cand-{i}" for i in range(keep.size)]},
        geometry=spots[keep],
        crs=study.network.crs,
    ).to_crs("EPSG:4326")
    if exclude is not None and len(exclude):
        zones = exclude.to_crs("EPSG:4326").geometry.to_numpy()
        blocked = np.zeros(len(frame), bool)
        idx, _ = shapely.STRtree(zones).query(frame.geometry.to_numpy(), predicate="within")
        blocked[idx] = True
        frame = frame[~blocked].reset_index(drop=True)
        if frame.empty:
            raise InputError("every candidate lies inside the excluded areas")
    return frame


def site_study(
    study,
    category: str,
    threshold,
    *,
    p: int | None = None,
    target_share: float | None = None,
    objective: Objective | None = None,
    candidates=None,
    profile=None,
    method: Method = "exact",
    time_limit_s: float = 60.0,
    spacing_m: float = 150.0,
    exclude=None,
    max_candidates: int | None = None,
):
    """Site new facilities of a category on a study; returns ``(result, sites, after)``.

    ``objective`` is ``"mclp"`` (needs ``p``; the default with ``p``), ``"lscp"`` (needs
    ``target_share``; the default with it) or ``"pmedian"`` (needs ``p``: least total
    walking time of the group served, over the homes some candidate reaches within the
    threshold; each may stay with its current facility). ``candidates`` (points, WGS-84)
    default to :func:`generate_candidates`. Existing facilities stay and count as
    covering. ``time_limit_s`` bounds the solver; a wall-time limit set around the call
    (:func:`service_circle._deadline.time_limit`, as the API does) bounds everything —
    candidates, reach table, model and solve — and the solver gets what is left of it.
    ``max_candidates`` refuses more candidate sites than that (and thins the generated
    ones to it). ``sites`` is a GeoDataFrame (WGS-84) with ``rank``, ``marginal_population``
    (of the group served; for p-median the group assigned to the site) and ``category``;
    ``after`` is the study with the new sites added, for coverage and gaps after.
    """
    import geopandas as gpd
    import pandas as pd

    from service_circle.engine import reach_pairs, snap
    from service_circle.profiles import get_profile
    from service_circle.study import Study

    if (p is None) == (target_share is None):
        raise InputError("give p (maximal coverage) or target_share (set cover), not both")
    objective = objective or ("mclp" if p is not None else "lscp")
    if objective not in ("mclp", "lscp", "pmedian"):
        raise InputError(f"objective must be mclp, lscp or pmedian, got {objective!r}")
    if (objective == "lscp") != (target_share is not None):
        raise InputError(
            "lscp needs target_share (and no p); mclp and pmedian need p (and no target_share)"
        )
    if objective == "pmedian" and method != "exact":
        raise InputError("p-median is solved exactly only: drop method='greedy'")
    check_number(time_limit_s, "time_limit_s", gt=0)
    prof = get_profile(profile)
    cat = study.catalogue[category]
    if candidates is None:
        candidates = generate_candidates(
            study, category, threshold, profile=prof, spacing_m=spacing_m, exclude=exclude,
            max_candidates=max_candidates,
        )  # fmt: skip
    elif max_candidates is not None and len(candidates) > max_candidates:
        raise InputError(
            f"candidates: {len(candidates)} sites, more than the {max_candidates} allowed: "
            "send fewer, or leave them out to site in today's gaps"
        )
    _deadline.check("siting")
    cand = snap(study.network, candidates, max_snap_m=study.demand_snap.max_snap_m,
                what="candidate sites")  # fmt: skip
    if not cand.on_network.any():
        raise InputError("no candidate site lies on the network: check their CRS and location")
    limit = threshold.cost_limit(prof)
    # p-median weighs walking times up to twice the threshold (farther counts at that cap)
    reach_limit = 2 * limit if objective == "pmedian" else limit
    pairs = reach_pairs(study.network, cand, study.demand_snap, profile=prof,
                        cutoff=reach_limit, unit="s" if threshold.is_time else "m")  # fmt: skip
    if objective != "pmedian":
        pairs = pairs[pairs["cost"] <= limit]
    reach = sparse.csr_matrix(
        (np.ones(len(pairs)), (pairs["target"].to_numpy(), pairs["source"].to_numpy())),
        shape=(len(study.demand), len(cand)),
    )
    weights = study.demand[cat.group_column].to_numpy(np.float64)
    current = study.search(category, threshold, prof).point_cost
    covered = current <= limit
    _deadline.check("siting")
    # the solver gets what is left of an overall limit set around this call
    time_limit_s = max(1e-3, min(time_limit_s, _deadline.remaining_s()))
    if objective == "pmedian":
        result = _pmedian_on_study(pairs, weights, current, limit, len(cand), p, time_limit_s)
    elif p is not None:
        result = mclp(reach, weights, p, covered=covered, method=method, time_limit_s=time_limit_s)
    else:
        result = lscp(reach, weights, target_share, covered=covered, method=method,
                      time_limit_s=time_limit_s)  # fmt: skip
    picked = candidates.to_crs("EPSG:4326").iloc[result.chosen]
    sites = gpd.GeoDataFrame(
        {
            "rank": np.arange(1, result.chosen.size + 1),
            "id": picked["id"].astype(str).to_numpy() if "id" in picked
            else [f"site-{r}" for r in range(1, result.chosen.size + 1)],
            "category": category,
            "marginal_population": result.marginal,
            "group": cat.group,
        },
        geometry=picked.geometry.to_numpy(),
        crs="EPSG:4326",
    )  # fmt: skip
    new = sites[["id", "category", "geometry"]].assign(name="proposed", capacity=np.nan)
    facilities = gpd.GeoDataFrame(pd.concat([study.facilities, new], ignore_index=True),
                                  crs="EPSG:4326")  # fmt: skip
    after = Study(
        name=study.name,
        network=study.network,
        facilities=facilities,
        demand=study.demand,
        catalogue=study.catalogue,
        facility_snap=_concat_snaps(study.facility_snap, cand.take(result.chosen)),
        demand_snap=study.demand_snap,
    )
    return result, sites, after


def _pmedian_on_study(pairs, weights, current, limit, n_cand, p, time_limit_s) -> SitingResult:
    """p-median over the homes some candidate reaches; the others keep what they have.

    Costs are walking times (``current``: to today's nearest facility) up to ``2 × limit``;
    a home farther from every open site and facility counts at ``2 × limit``.
    """
    rows = np.unique(pairs["target"].to_numpy())
    rows = rows[weights[rows] > 0]
    if rows.size == 0:
        raise InputError("no home of the group served lies within reach of any candidate")
    where = np.full(weights.size, -1)
    where[rows] = np.arange(rows.size)
    cost = np.full((rows.size, n_cand), np.inf)
    t = where[pairs["target"].to_numpy()]
    ok = t >= 0
    cost[t[ok], pairs["source"].to_numpy()[ok]] = pairs["cost"].to_numpy()[ok]
    existing = np.where(current[rows] <= 2 * limit, current[rows], np.inf)
    result = pmedian(cost, weights[rows], p, existing_cost=existing, time_limit_s=time_limit_s,
                     unserved_cost=2 * limit)  # fmt: skip
    # coverage within the threshold, before and after, over every home
    reached = np.zeros(weights.size, bool)
    reached[rows[(cost[:, result.chosen] <= limit).any(axis=1)]] = True
    before = float(weights[current <= limit].sum())
    after = float(weights[(current <= limit) | reached].sum())
    return SitingResult(
        model="pmedian",
        method=result.method,
        status=result.status,
        chosen=result.chosen,
        marginal=result.marginal,
        covered_before=before,
        covered_after=after,
        total=float(weights.sum()),
        objective=result.objective,
        bound=result.bound,
        gap=result.gap,
    )


def site_summary(result: SitingResult, study, category: str, threshold, profile=None) -> dict:
    """What a siting run chose and how sure it is, as a JSON-ready dict (CLI and API)."""
    from service_circle.profiles import get_profile

    return {
        "category": category,
        "threshold": threshold.value,
        "unit": threshold.unit,
        "profile": get_profile(profile).name if threshold.is_time else "distance",
        "model": result.model,
        "method": result.method,
        "status": result.status,
        "sites": int(result.chosen.size),
        "group": study.catalogue[category].group,
        "covered_before": result.covered_before,
        "covered_after": result.covered_after,
        "share_before": result.share_before,
        "share_after": result.share_after,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
    }


def _concat_snaps(a, b):
    from service_circle.engine import Snapped

    return Snapped(
        **{
            name: np.concatenate([getattr(a, name), getattr(b, name)])
            for name in ("point_id", "edge", "pos_m", "access_m", "x", "y", "status")
        },
        max_snap_m=a.max_snap_m,
    )

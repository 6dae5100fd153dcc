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

Everything here works on arrays (a reach matrix, weights, costs). Candidate sites come
from :mod:`.candidates`, siting on a study is :mod:`.siting_study`, and the HiGHS
plumbing is in :mod:`._highs`.

p-median (:func:`pmedian`) minimises the total weighted walking time, solved exactly by its
own core (:mod:`service_circle._pmedian`: Lagrangian bound and branch and bound, or HiGHS
on the reduced model), and the capacitated variant (:func:`capacitated_mclp`) lets each
site serve at most its capacity.
"""

from __future__ import annotations

import heapq
import logging
import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import sparse
from scipy.optimize import LinearConstraint

from service_circle import _highs, _pmedian
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


def _prepare(
    reach: sparse.spmatrix | np.ndarray, weights: npt.ArrayLike, covered: npt.ArrayLike | None
) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray, np.ndarray]:
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
    reach: sparse.spmatrix | np.ndarray,
    weights: npt.ArrayLike,
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
                            gained / (1 - 1 / math.e), None)  # fmt: skip
    if method != "exact":
        raise InputError(f"method must be 'exact' or 'greedy', got {method!r}")
    a, w = _merge_rows(reach[rows], weights[rows])
    m = w.size
    # variables: x (n_cand, binary) then y (m, continuous)
    c = np.concatenate([np.zeros(n_cand), -w])
    count = sparse.csr_matrix(np.concatenate([np.ones(n_cand), np.zeros(m)])[None, :])
    constraints = [_highs.coverage_link(a), LinearConstraint(count, p, p)]
    # the greedy sites are a good first incumbent
    greedy, _ = _lazy_greedy(reach, weights, rows, p=p)
    x0 = np.zeros(n_cand)
    x0[greedy] = 1.0
    if greedy.size < p:  # fewer useful sites than p: fill up with any others
        x0[np.flatnonzero(x0 == 0)[: p - greedy.size]] = 1.0
    start = np.concatenate([x0, np.minimum(1.0, a @ x0)])
    result = _highs.solve(c, n_cand, constraints, time_limit_s, "mclp", start=start)
    return _exact_result("mclp", result, reach, weights, rows, n_cand, before, total)


def lscp(
    reach: sparse.spmatrix | np.ndarray,
    weights: npt.ArrayLike,
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
    constraints = [_highs.coverage_link(a), LinearConstraint(reach_target, need - 1e-9, np.inf)]
    result = _highs.solve(c, n_cand, constraints, time_limit_s, "lscp")
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
    chosen: list[int] = []
    gains: list[float] = []
    got = 0.0
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
    cost: npt.ArrayLike,
    weights: npt.ArrayLike,
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
    solution = _pmedian.solve(core, time_limit_s, _highs.solve, solver)
    used = np.flatnonzero(solution.on_fallback & (nxt < existing))
    return solution, used


def capacitated_mclp(
    reach: sparse.spmatrix | np.ndarray,
    weights: npt.ArrayLike,
    capacity: npt.ArrayLike,
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
    result = _highs.solve(c, n_cand, constraints, time_limit_s, "capacitated MCLP")
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


def __getattr__(name: str):
    # site_study, site_summary and generate_candidates moved (kept here for one release)
    moved = {"site_study": "siting_study", "site_summary": "siting_study",
             "generate_candidates": "candidates"}  # fmt: skip
    if name in moved:
        import warnings
        from importlib import import_module

        module = f"service_circle.{moved[name]}"
        warnings.warn(f"service_circle.siting.{name} moved to {module}.{name}",
                      DeprecationWarning, stacklevel=2)  # fmt: skip
        return getattr(import_module(module), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

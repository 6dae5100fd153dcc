"""The p-median's exact core: incumbent, Lagrangian bound, reductions, branch and bound.

The instance is sparse: pairs ``(row, col, cost)`` of home ``row`` and candidate ``col``,
sorted by home and, within a home, by cost; ``cost`` is already weighted (``w_i d_ij``).
Each home may also have a ``fallback`` that needs no site opened (today's facility, the
cost of staying unserved, or the sparse model's "beyond" bound), ``inf`` for none.

1. **Incumbent**: greedy, then best-improvement interchange (one site out, one in; the
   gains of all swaps at once, after Whitaker's fast interchange) — an upper bound ``UB``.
   Every set of sites the relaxation below opens is costed too, and improved by
   interchange when promising (a Lagrangian heuristic).
2. **Lower bound**: Lagrangian relaxation of "each home is served once" with multipliers
   ``λ``; each site's value is ``ρ_j = Σ_i min(0, w_i d_ij − λ_i)`` and the bound is
   ``Σ λ_i + Σ_i min(0, f_i − λ_i) + (the p smallest ρ_j)``, raised by subgradient steps.
   It is at best the linear relaxation's bound, which for the p-median is often the
   optimum itself: when ``UB − LB`` is within HiGHS's relative gap (1e-7) the incumbent
   is proven optimal and nothing more is solved.
3. **Reductions**: a site whose opening alone lifts the bound above ``UB`` is in no
   better solution and is closed; one whose closing does is fixed open; a pair (home,
   site) or fallback whose forcing does is dropped. Each drop also raises the bound.
4. **Branch and bound**: best-first over the free sites, each node bounded, reduced and
   searched for solutions as above. Or (``solver="highs"``) HiGHS on what the root left.

Either way the result is exact up to the relative gap, or reports its bound at the time
limit.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import LinearConstraint

# subgradient schedule (tuned on bench/siting.py's instances): the root runs in rounds of
# ROUND steps, reducing the instance after each, until the step size falls below MIN_THETA
ROUND, ROOT_PATIENCE, MIN_THETA = 200, 40, 1e-5
# each node of the search: at most NODE_ITERS steps from θ = NODE_THETA, offering the
# relaxation's sites to the incumbent every OFFER_EVERY steps
NODE_ITERS, NODE_THETA, OFFER_EVERY = 400, 0.5, 10
REL_GAP = 1e-7  # as HiGHS's mip_rel_gap in _highs.solve


@dataclass(frozen=True)
class Core:
    """A sparse p-median instance (see the module docstring)."""

    rows: np.ndarray
    cols: np.ndarray
    cost: np.ndarray
    fallback: np.ndarray
    n: int
    m: int
    p: int


@dataclass(frozen=True)
class CoreSolution:
    """The sites opened, the homes left on their fallback, the bound and how it ended.

    The caller costs the sites on the whole instance (objective and gap).
    """

    open: np.ndarray  # candidate indices
    on_fallback: np.ndarray  # bool per home
    bound: float
    optimal: bool
    proof: str  # "Lagrangian bound", "Lagrangian branch and bound" or "HiGHS"


def solve(
    core: Core, time_limit_s: float, solve_mip: Callable[..., Any], solver: str = "lagrangian"
) -> CoreSolution:
    """Exact p-median on ``core``.

    ``solver="lagrangian"`` ends with the Lagrangian branch and bound, ``"highs"`` hands
    the reduced model to HiGHS through ``solve_mip`` (:func:`._highs.solve`) instead; both
    are exact and start from the same incumbent, bound and reductions.
    """
    deadline = time.perf_counter() + time_limit_s
    big = _big(core)
    start = _interchange(core, _greedy(core, big), big, deadline)
    if np.any(_nearest_two(core, start, big)[0] >= big):
        # the heuristic leaves some home unserved: HiGHS decides whether any choice does not
        everything = np.zeros(core.m, np.int8)
        return _mip(core, everything, np.ones(core.rows.size, bool),
                    np.isfinite(core.fallback), None, -np.inf, time_limit_s, solve_mip)  # fmt: skip
    incumbent = _Incumbent(core, big, start, deadline)
    status = np.zeros(core.m, np.int8)
    lam = _nearest_two(core, start, big)[0]
    small, bound, theta = core, -np.inf, 2.0
    while True:
        value, lam, status, theta = _ascend(
            small, status, lam, incumbent, ROUND, theta, deadline, patience=ROOT_PATIENCE
        )
        bound = min(max(bound, value), incumbent.cost)
        if incumbent.cost - bound <= REL_GAP * abs(incumbent.cost):
            incumbent.core = core
            return _finish(core, incumbent, bound, True, "Lagrangian bound")
        # the relaxation's sites are a poor solution early on, yet a good start to improve
        v = _value(small, lam, status)
        relaxed = np.zeros(core.m, bool)
        relaxed[v.chosen] = True
        incumbent.offer(relaxed | (status == 1), improve=True)
        small = _shrink(small, *_reduce(small, v, incumbent, status))
        incumbent.core = small
        if theta < MIN_THETA or time.perf_counter() > deadline:
            break
    if solver == "highs":
        keep = np.ones(small.rows.size, bool)
        mip = _mip(small, status, keep, np.isfinite(small.fallback), incumbent.open, bound,
                   max(deadline - time.perf_counter(), 1.0), solve_mip)  # fmt: skip
        incumbent.open = np.isin(np.arange(core.m), mip.open)
        incumbent.core = core
        return _finish(core, incumbent, mip.bound, mip.optimal, "HiGHS")
    bound, done = _branch_and_bound(small, status, lam, bound, incumbent, deadline)
    incumbent.core = core
    return _finish(core, incumbent, bound, done, "Lagrangian branch and bound")


def _big(core: Core) -> float:
    """A stand-in for "unserved" in the heuristic: worse than serving everyone else."""
    finite = np.concatenate([core.cost, core.fallback[np.isfinite(core.fallback)]])
    return float(core.n * (np.abs(finite).max() if finite.size else 1.0) + 1.0) * 4.0


def _nearest_two(core: Core, is_open: np.ndarray, big: float):
    """Each home's cheapest and second-cheapest open option, and the site of the cheapest.

    The fallback counts as an option that is always open (site ``-1``); ``big`` where
    there is none.
    """
    idx = np.flatnonzero(is_open[core.cols])
    r = core.rows[idx]
    first = np.ones(idx.size, bool)
    first[1:] = r[1:] != r[:-1]
    second = np.zeros(idx.size, bool)
    second[1:] = first[:-1] & ~first[1:]
    d1 = np.full(core.n, big)
    d2 = np.full(core.n, big)
    phi = np.full(core.n, -1, dtype=np.int64)
    d1[r[first]] = core.cost[idx[first]]
    phi[r[first]] = core.cols[idx[first]]
    d2[r[second]] = core.cost[idx[second]]
    fb = np.where(np.isfinite(core.fallback), core.fallback, big)
    use_fb = fb < d1
    d2 = np.where(use_fb, d1, np.minimum(d2, fb))
    d1 = np.where(use_fb, fb, d1)
    phi[use_fb] = -1
    return d1, d2, phi


def _greedy(core: Core, big: float) -> np.ndarray:
    """Greedy: the p sites that each save the most given those before them."""
    best = np.where(np.isfinite(core.fallback), core.fallback, big)
    is_open = np.zeros(core.m, bool)
    by_col = np.argsort(core.cols, kind="stable")
    ptr = np.searchsorted(core.cols[by_col], np.arange(core.m + 1))
    for _ in range(core.p):
        save = np.bincount(
            core.cols, weights=np.maximum(best[core.rows] - core.cost, 0), minlength=core.m
        )
        save[is_open] = -1.0
        j = int(np.argmax(save))
        is_open[j] = True
        s = by_col[ptr[j] : ptr[j + 1]]
        best[core.rows[s]] = np.minimum(best[core.rows[s]], core.cost[s])
    return is_open


def _interchange(
    core: Core, is_open: np.ndarray, big: float, deadline: float = np.inf
) -> np.ndarray:
    """Best-improvement swaps until none saves anything (or the deadline passes).

    For home ``i`` with cheapest open option ``d1`` (at site ``φ_i``) and second ``d2``,
    swapping site ``r`` out and ``a`` in saves
    ``gain(a) − loss(r) + extra(a, r)``: ``gain(a) = Σ_i max(0, d1_i − d_ia)``,
    ``loss(r) = Σ_{φ_i = r} (d2_i − d1_i)`` and
    ``extra(a, r) = Σ_{φ_i = r, d_ia < d2_i} (d2_i − max(d_ia, d1_i))``.
    """
    is_open = is_open.copy()
    p, m = core.p, core.m
    if p == m:
        return is_open
    for _ in range(50 * p + 100):
        if time.perf_counter() > deadline:
            break
        d1, d2, phi = _nearest_two(core, is_open, big)
        tol = 1e-12 * float(d1.sum()) + 1e-12
        gain = np.bincount(core.cols, weights=np.maximum(d1[core.rows] - core.cost, 0), minlength=m)
        served = phi >= 0
        loss = np.bincount(phi[served], weights=(d2 - d1)[served], minlength=m)
        sites = np.flatnonzero(is_open)
        pos = np.full(m, -1)
        pos[sites] = np.arange(p)
        r_phi = phi[core.rows]
        sel = ~is_open[core.cols] & (r_phi >= 0) & (core.cost < d2[core.rows])
        ri = core.rows[sel]
        val = d2[ri] - np.maximum(core.cost[sel], d1[ri])
        extra = np.bincount(
            core.cols[sel] * p + pos[r_phi[sel]], weights=val, minlength=m * p
        ).reshape(m, p)
        profit = gain[:, None] - loss[sites][None, :] + extra
        profit[is_open] = -np.inf
        a, r = np.unravel_index(int(np.argmax(profit)), profit.shape)
        if profit[a, r] <= tol:
            break
        is_open[a] = True
        is_open[sites[r]] = False
    return is_open


class _Incumbent:
    """The best sites found so far and their cost; improved by every relaxation's sites."""

    def __init__(self, core: Core, big: float, is_open: np.ndarray, deadline: float) -> None:
        self.core, self.big, self.deadline = core, big, deadline
        self.open = is_open.copy()
        self.cost = float(_nearest_two(core, is_open, big)[0].sum())
        self._costed: set[bytes] = set()  # site sets costed …
        self._improved: set[bytes] = set()  # … and improved by interchange

    def offer(self, is_open: np.ndarray, improve: bool = False) -> None:
        """Cost the sites ``is_open``; improve them by interchange if promising or asked to.

        Promising: within 2 % of the incumbent. On a reduced instance the cost may be
        overstated (pairs it dropped), never understated, so the incumbent's cost stays an
        upper bound on the optimum.
        """
        key = np.flatnonzero(is_open).tobytes()
        if key in self._improved or (key in self._costed and not improve):
            return
        self._costed.add(key)
        cost = float(_nearest_two(self.core, is_open, self.big)[0].sum())
        if improve or cost < 1.02 * self.cost:
            self._improved.add(key)
            is_open = _interchange(self.core, is_open, self.big, self.deadline)
            cost = float(_nearest_two(self.core, is_open, self.big)[0].sum())
        if cost < self.cost:
            self.open, self.cost = is_open.copy(), cost


@dataclass(frozen=True)
class _Value:
    """The Lagrangian bound at some ``λ`` under fixings ``status`` (1 open, −1 closed)."""

    value: float
    rho: np.ndarray  # each site's ρ, inf where it is not free
    chosen: np.ndarray  # the free sites the relaxation opens
    last: float  # the largest ρ chosen (-inf when none is)
    next: float  # the smallest ρ not chosen (inf when none is left)
    red: np.ndarray  # reduced pair costs
    fb_red: np.ndarray  # reduced fallback costs


def _value(core: Core, lam: np.ndarray, status: np.ndarray) -> _Value:
    """``Σ λ_i + Σ_i min(0, f_i − λ_i) + Σ_{forced} ρ_j + (the smallest free ρ_j)``."""
    red = core.cost - lam[core.rows]
    rho = np.bincount(core.cols, weights=np.minimum(red, 0), minlength=core.m)
    fb_red = core.fallback - lam  # inf where there is no fallback
    need = core.p - int(np.count_nonzero(status == 1))
    free_rho = np.where(status == 0, rho, np.inf)
    order = np.argsort(free_rho, kind="stable")
    chosen = order[:need]
    value = float(
        lam.sum() + np.minimum(fb_red, 0).sum() + rho[status == 1].sum() + free_rho[chosen].sum()
    )
    return _Value(
        value=value,
        rho=free_rho,
        chosen=chosen,
        last=float(free_rho[order[need - 1]]) if need > 0 else -np.inf,
        next=float(free_rho[order[need]]) if need < core.m else np.inf,
        red=red,
        fb_red=fb_red,
    )


def _ascend(core, status, lam, incumbent, max_iter, theta, deadline, offer_every=1, patience=20):
    """Subgradient ascent at a node of the search (the root: nothing fixed).

    Steps ``λ += θ (UB − L) g / |g|²`` with ``g_i = 1 −`` (options home ``i`` takes in the
    relaxation); ``θ`` halves after ``patience`` steps without a better bound. Sites whose opening
    (closing) alone lifts the bound above the incumbent are closed (opened) on the way.
    The relaxation's sites go to the incumbent every ``offer_every`` steps. Returns the
    best bound (``inf`` when the node holds nothing better than the incumbent), its
    ``λ``, the fixings and the step size reached.
    """
    status = status.copy()
    best, best_lam, stall = -np.inf, lam.copy(), 0
    in_p = np.zeros(core.m, bool)
    for step in range(max_iter):
        if _settled(core, status, incumbent):
            return np.inf, best_lam, status, theta
        v = _value(core, lam, status)
        if v.value > best + 1e-12 * abs(v.value):
            best, best_lam, stall = v.value, lam.copy(), 0
        else:
            stall += 1
        slack = incumbent.cost * (1 - REL_GAP) - v.value
        if slack <= 0:
            return np.inf, best_lam, status, theta
        in_p[:] = False
        in_p[v.chosen] = True
        close = (status == 0) & ~in_p & (v.rho - v.last > slack)
        fix = in_p & (v.next - v.rho > slack)
        if close.any() or fix.any():
            status[close] = -1
            status[fix] = 1
            continue
        in_p |= status == 1
        if step % offer_every == 0:
            incumbent.offer(in_p)
        if time.perf_counter() > deadline:
            break
        if stall >= patience:
            theta, stall = theta / 2, 0
            lam = best_lam.copy()
            if theta < MIN_THETA:
                break
            continue
        hit = (v.red < 0) & in_p[core.cols]
        g = 1.0 - (v.fb_red < 0) - np.bincount(core.rows[hit], minlength=core.n)
        norm = float(g @ g)
        if norm == 0:  # λ maximises the relaxation
            break
        lam = lam + theta * (incumbent.cost - v.value) / norm * g
    if _settled(core, status, incumbent):  # by the last fixings
        return np.inf, best_lam, status, theta
    return best, best_lam, status, theta


def _settled(core: Core, status: np.ndarray, incumbent: _Incumbent) -> bool:
    """Whether the fixings leave no choice: then the one solution left goes to the incumbent."""
    need = core.p - int(np.count_nonzero(status == 1))
    n_free = int(np.count_nonzero(status == 0))
    if need < 0 or need > n_free:  # no solution at all
        return True
    if need == 0 or need == n_free:
        incumbent.offer(status == 1 if need == 0 else status >= 0)
        return True
    return False


def _branch_and_bound(core, status, lam, bound, incumbent, deadline):
    """Best-first search over the free sites, each node bounded by :func:`_ascend`.

    Each node reduces its own instance (:func:`_reduce`) before it branches, so deeper
    nodes are smaller and their bounds stronger. Branches on the free site the relaxation
    opens with the least penalty for closing it (the most doubtful one): one child opens
    it, the other closes it. Returns the lowest bound of what is left unexplored (the
    incumbent's cost when nothing is) and whether the search ended.
    """
    heap = [(bound, 0, status, lam, core)]
    count = 1
    while heap:
        bound, _, status, lam, sub = heapq.heappop(heap)
        if bound >= incumbent.cost * (1 - REL_GAP):
            continue
        if time.perf_counter() > deadline:
            heapq.heappush(heap, (bound, count, status, lam, sub))
            break
        node, lam, status, _ = _ascend(
            sub, status, lam, incumbent, NODE_ITERS, NODE_THETA, deadline, OFFER_EVERY
        )
        node = max(node, bound)
        if node >= incumbent.cost * (1 - REL_GAP):
            continue
        v = _value(sub, lam, status)
        doubt = (v.next - v.rho)[v.chosen]
        site = int(v.chosen[np.argmin(doubt)])
        sub = _shrink(sub, *_reduce(sub, v, incumbent, status))
        for side in (1, -1):
            child = status.copy()
            child[site] = side
            heapq.heappush(heap, (node, count, child, lam, sub))
            count += 1
    live = [b for b, *_ in heap if b < incumbent.cost * (1 - REL_GAP)]
    return min(live, default=incumbent.cost), not live


def _reduce(core: Core, v: _Value, incumbent: _Incumbent, status: np.ndarray):
    """The pairs and fallbacks some solution better than the incumbent may still use.

    Forcing pair ``(i, j)`` opens ``j`` (raising the bound by ``ρ_j − ρ_last`` if the
    relaxation had it closed) and adds ``max(0, w_i d_ij − λ_i)``; a pair whose forcing
    lifts the bound above the incumbent is in no better solution. Pairs of closed sites go.
    ``v`` is the relaxation at the multipliers to reduce with.
    """
    slack = incumbent.cost * (1 - REL_GAP) - v.value
    in_p = np.zeros(core.m, bool)
    in_p[v.chosen] = True
    open_cost = np.where(in_p | (status == 1), 0.0, v.rho - v.last)  # inf for closed sites
    keep_pair = open_cost[core.cols] + np.maximum(v.red, 0) <= slack
    keep_fb = np.isfinite(core.fallback) & (np.maximum(v.fb_red, 0) <= slack)
    # the incumbent's own assignment stays, so that it remains a solution
    phi = _nearest_two(core, incumbent.open, incumbent.big)[2]
    keep_pair |= incumbent.open[core.cols] & (core.cols == phi[core.rows])
    keep_fb |= phi < 0
    return keep_pair, keep_fb


def _shrink(core: Core, keep_pair: np.ndarray, keep_fb: np.ndarray) -> Core:
    """The instance without the pairs and fallbacks :func:`_reduce` ruled out."""
    return Core(
        rows=core.rows[keep_pair],
        cols=core.cols[keep_pair],
        cost=core.cost[keep_pair],
        fallback=np.where(keep_fb, core.fallback, np.inf),
        n=core.n,
        m=core.m,
        p=core.p,
    )


def _finish(core, incumbent, bound, done, proof) -> CoreSolution:
    """The incumbent on the whole instance: who stays on a fallback, and the bound."""
    phi = _nearest_two(core, incumbent.open, incumbent.big)[2]
    return CoreSolution(
        open=np.flatnonzero(incumbent.open),
        on_fallback=phi < 0,
        bound=float(bound),
        optimal=done,
        proof=proof,
    )


def _mip(core, status, keep_pair, keep_fb, start, lb, time_limit_s, solve_mip) -> CoreSolution:
    """HiGHS on what the reductions left: x (sites), z (pairs), f (fallbacks).

    ``status``: 1 fixes a site open, -1 leaves it out; ``start``: sites to begin from.
    """
    n = core.n
    cols_k = np.flatnonzero(status >= 0)
    new_col = np.full(core.m, -1)
    new_col[cols_k] = np.arange(cols_k.size)
    pairs = np.flatnonzero(keep_pair & (status >= 0)[core.cols])
    fbs = np.flatnonzero(keep_fb)
    mk, a, f = cols_k.size, pairs.size, fbs.size
    c = np.concatenate([np.zeros(mk), core.cost[pairs], core.fallback[fbs]])
    assign = sparse.csr_matrix(
        (np.ones(a + f), (np.concatenate([core.rows[pairs], fbs]), mk + np.arange(a + f))),
        shape=(n, mk + a + f),
    )
    link = sparse.csr_matrix(
        (
            np.concatenate([-np.ones(a), np.ones(a)]),
            (
                np.tile(np.arange(a), 2),
                np.concatenate([new_col[core.cols[pairs]], mk + np.arange(a)]),
            ),
        ),
        shape=(a, mk + a + f),
    )
    count = sparse.csr_matrix(np.concatenate([np.ones(mk), np.zeros(a + f)])[None, :])
    constraints = [
        LinearConstraint(assign, 1, 1),
        LinearConstraint(link, -np.inf, 0),
        LinearConstraint(count, core.p, core.p),
    ]
    lower = np.zeros(mk + a + f)
    lower[:mk] = status[cols_k] == 1
    x0 = None
    if start is not None:
        phi = _nearest_two(core, start, _big(core))[2]
        x0 = np.concatenate(
            [
                start[cols_k],
                start[core.cols[pairs]] & (core.cols[pairs] == phi[core.rows[pairs]]),
                phi[fbs] < 0,
            ]
        ).astype(np.float64)
    result = solve_mip(c, mk, constraints, time_limit_s, "p-median", start=x0, col_lower=lower)
    x = result.x
    opened = cols_k[x[:mk] > 0.5]
    on_fb = np.zeros(n, bool)
    on_fb[fbs[x[mk + a :] > 0.5]] = True
    bound = max(lb, result.mip_dual_bound if result.mip_dual_bound is not None else -np.inf)
    return CoreSolution(
        open=opened,
        on_fallback=on_fb,
        bound=float(min(bound, result.fun)),
        optimal=result.status == 0,
        proof="HiGHS",
    )

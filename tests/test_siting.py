"""Siting models: exact optimum equals brute force; greedy within its guarantee."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from service_circle import InputError
from service_circle.siting import lscp, mclp


def _instance(seed: int, n_demand: int = 30, n_cand: int = 9, density: float = 0.18):
    rng = np.random.default_rng(seed)
    reach = sparse.csr_matrix(rng.random((n_demand, n_cand)) < density)
    weights = rng.integers(1, 50, n_demand).astype(float)
    covered = rng.random(n_demand) < 0.15
    return reach, weights, covered


def _covered_by(reach, sites, covered):
    sites = [int(s) for s in sites]
    if not sites:
        return covered.copy()
    return (np.asarray(reach[:, sites].sum(axis=1)).ravel() > 0) | covered


@settings(max_examples=40, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4))
def test_mclp_exact_equals_brute_force_and_greedy_is_within_its_guarantee(seed, p):
    reach, weights, covered = _instance(seed)
    best = max(
        weights[_covered_by(reach, combo, covered)].sum()
        for combo in itertools.combinations(range(reach.shape[1]), p)
    )
    try:
        exact = mclp(reach, weights, p, covered=covered)
    except InputError:  # nothing uncovered within reach of any candidate
        assert best == weights[covered].sum()
        return
    assert exact.status == "optimal" and exact.method == "exact (HiGHS)"
    assert exact.covered_after == pytest.approx(best)
    assert exact.covered_after == pytest.approx(
        weights[_covered_by(reach, exact.chosen, covered)].sum()
    )
    assert (np.diff(exact.marginal) <= 1e-9).all()  # ranked by marginal gain
    greedy = mclp(reach, weights, p, covered=covered, method="greedy")
    assert greedy.status == "heuristic"
    gain_opt = best - weights[covered].sum()
    gain_greedy = greedy.covered_after - weights[covered].sum()
    assert gain_greedy <= gain_opt + 1e-9
    assert gain_greedy >= (1 - 1 / np.e) * gain_opt - 1e-9


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.3, 0.9))
def test_lscp_exact_is_the_fewest_sites(seed, target):
    reach, weights, covered = _instance(seed, density=0.3)
    total = weights.sum()
    fewest = None
    for k in range(reach.shape[1] + 1):
        for combo in itertools.combinations(range(reach.shape[1]), k):
            if weights[_covered_by(reach, combo, covered)].sum() >= target * total - 1e-9:
                fewest = k
                break
        if fewest is not None:
            break
    if fewest is None:
        with pytest.raises(InputError, match="no set of the 9 candidates reaches"):
            lscp(reach, weights, target, covered=covered)
        return
    exact = lscp(reach, weights, target, covered=covered)
    assert exact.chosen.size == fewest
    assert exact.share_after >= target - 1e-9
    greedy = lscp(reach, weights, target, covered=covered, method="greedy")
    assert greedy.chosen.size >= fewest and greedy.share_after >= target - 1e-9


def test_bad_requests_get_clear_answers():
    reach, weights, _ = _instance(1)
    with pytest.raises(InputError, match="between 1 and the 9 candidates"):
        mclp(reach, weights, 12)
    with pytest.raises(InputError, match="target share"):
        lscp(reach, weights, 1.5)
    with pytest.raises(InputError, match="nothing to gain"):
        mclp(reach, weights, 2, covered=np.ones(weights.size, bool))
    done = lscp(reach, weights, 0.05, covered=np.ones(weights.size, bool))
    assert done.chosen.size == 0 and done.share_after == 1.0
    with pytest.raises(InputError, match="method"):
        mclp(reach, weights, 2, method="annealing")  # type: ignore[arg-type]


def test_time_limit_reports_the_gap():
    reach, weights, _ = _instance(5, n_demand=3000, n_cand=400, density=0.02)
    # a limit already spent when the solver starts: the answer does not hang on machine speed
    result = mclp(reach, weights, 25, time_limit_s=1e-6)
    assert result.status == "time limit" and result.chosen.size == 25
    assert result.gap is not None and result.gap > 0
    assert result.bound > result.objective


def _cost_instance(seed: int, n_demand: int = 25, n_cand: int = 8):
    rng = np.random.default_rng(seed)
    demand = rng.uniform(0, 1000, (n_demand, 2))
    cand = rng.uniform(0, 1000, (n_cand, 2))
    cost = np.hypot(*(demand[:, None, :] - cand[None, :, :]).transpose(2, 0, 1))
    weights = rng.integers(1, 30, n_demand).astype(float)
    return cost, weights


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 3))
def test_pmedian_equals_brute_force(seed, p):
    from service_circle.siting import pmedian

    cost, weights = _cost_instance(seed)
    best = min(
        (weights * cost[:, list(combo)].min(axis=1)).sum()
        for combo in itertools.combinations(range(cost.shape[1]), p)
    )
    result = pmedian(cost, weights, p)
    assert result.objective == pytest.approx(best, rel=1e-6)
    assert result.chosen.size == p


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.sampled_from(["lagrangian", "highs"]))
def test_pmedian_solvers_equal_brute_force_where_the_bound_has_a_gap(seed, p, solver):
    """Uniform random costs (with ties, gaps and today's facilities) leave the Lagrangian
    bound short of the optimum, so the branch and bound (or HiGHS) has to close it."""
    from service_circle.siting import pmedian

    rng = np.random.default_rng(seed)
    n, m = 40, 10
    cost = rng.uniform(1, 100, (n, m))
    if seed % 2:
        cost = np.round(cost / 10)  # ties
    cost[rng.random((n, m)) < 0.2] = np.inf
    existing = np.where(rng.random(n) < 0.3, rng.uniform(1, 100, n), np.inf)
    gaps = ~np.isfinite(cost).all(axis=1)
    existing[gaps] = np.fmin(existing[gaps], 80.0)  # any p sites serve every home somehow
    weights = rng.integers(0, 9, n).astype(float)
    best = min(
        (weights * np.fmin(existing, cost[:, list(c)].min(axis=1))).sum()
        for c in itertools.combinations(range(m), p)
    )
    result = pmedian(cost, weights, p, existing_cost=existing, solver=solver)
    assert result.status == "optimal"
    assert result.objective == pytest.approx(best, rel=1e-7, abs=1e-9)
    assert result.bound <= result.objective + 1e-9


def test_pmedian_branch_and_bound_and_highs_paths_are_taken():
    from service_circle.siting import pmedian

    rng = np.random.default_rng(0)
    cost = rng.uniform(1, 100, (40, 12))
    weights = rng.integers(1, 9, 40).astype(float)
    best = min(
        (weights * cost[:, list(c)].min(axis=1)).sum() for c in itertools.combinations(range(12), 3)
    )
    ours = pmedian(cost, weights, 3)
    highs = pmedian(cost, weights, 3, solver="highs")
    assert ours.method == "exact (Lagrangian branch and bound)"
    assert highs.method == "exact (HiGHS)"
    assert ours.objective == pytest.approx(best) == highs.objective


def test_pmedian_time_limit_reports_the_bound():
    from service_circle.siting import pmedian

    rng = np.random.default_rng(5)
    homes, cands = rng.uniform(0, 4000, (3000, 2)), rng.uniform(0, 4000, (300, 2))
    cost = np.hypot(*(homes[:, None, :] - cands[None, :, :]).transpose(2, 0, 1))
    weights = rng.integers(1, 40, 3000).astype(float)
    result = pmedian(cost, weights, 15, time_limit_s=1e-6)  # spent before the first bound
    assert result.status == "time limit" and result.chosen.size == 15
    assert 0 < result.bound < result.objective and result.gap > 0


def test_pmedian_with_existing_facilities_and_unreachable_homes():
    from service_circle.siting import pmedian

    cost, weights = _cost_instance(3)
    existing = np.full(cost.shape[0], 50.0)  # everyone is 50 m from a facility today
    result = pmedian(cost, weights, 2, existing_cost=existing)
    brute = min(
        (weights * np.minimum(existing, cost[:, list(c)].min(axis=1))).sum()
        for c in itertools.combinations(range(cost.shape[1]), 2)
    )
    assert result.objective == pytest.approx(brute, rel=1e-6)
    cost[0, :] = np.inf
    with pytest.raises(InputError, match="reach no candidate"):
        pmedian(cost, weights, 2)
    apart = np.array([[1.0, np.inf], [np.inf, 1.0]])  # one site cannot serve both
    with pytest.raises(InputError, match="p sites cannot serve every home"):
        pmedian(apart, np.ones(2), 1)


def test_capacitated_mclp_respects_capacity():
    from service_circle.siting import capacitated_mclp

    reach, weights, covered = _instance(11, density=0.4)
    free = mclp(reach, weights, 2, covered=covered)
    roomy = capacitated_mclp(reach, weights, np.full(9, 1e9), 2, covered=covered)
    assert roomy.covered_after == pytest.approx(free.covered_after)
    tight = capacitated_mclp(reach, weights, np.full(9, 40.0), 2, covered=covered)
    assert tight.covered_after - tight.covered_before <= 80 + 1e-6
    assert (tight.marginal <= 40 + 1e-6).all()
    with pytest.raises(InputError, match="capacity"):
        capacitated_mclp(reach, weights, np.ones(3), 2)


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # PuLP 3.3 on its own CBC command
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_same_optimum_as_spopt(seed):
    pulp = pytest.importorskip("pulp")
    from spopt.locate import LSCP, MCLP, PMedian

    from service_circle.siting import pmedian

    cost, weights = _cost_instance(seed, n_demand=60, n_cand=15)
    radius = 300.0
    solver = pulp.PULP_CBC_CMD(msg=False)

    theirs = MCLP.from_cost_matrix(cost, weights, radius, p_facilities=4).solve(solver)
    ours = mclp(sparse.csr_matrix(cost <= radius), weights, 4)
    assert ours.covered_after == pytest.approx(theirs.problem.objective.value())

    sub = cost[(cost <= radius).any(axis=1)]  # classic set cover: every home coverable
    theirs = LSCP.from_cost_matrix(sub, radius).solve(solver)
    ours = lscp(sparse.csr_matrix(sub <= radius), np.ones(sub.shape[0]), 1.0)
    assert ours.chosen.size == pytest.approx(theirs.problem.objective.value())

    theirs = PMedian.from_cost_matrix(cost, weights, p_facilities=3).solve(solver)
    ours = pmedian(cost, weights, 3)
    assert ours.objective == pytest.approx(theirs.problem.objective.value(), rel=1e-6)


def test_sparse_pmedian_grows_until_exact():
    """Starting from one candidate per home, the sparse p-median still finds the optimum."""
    from itertools import combinations

    from service_circle.siting import pmedian

    rng = np.random.default_rng(3)
    cost = rng.uniform(1, 100, (40, 9))
    weights = rng.integers(1, 9, 40).astype(float)
    result = pmedian(cost, weights, 3, nearest=1)
    best = min((weights * cost[:, list(c)].min(axis=1)).sum() for c in combinations(range(9), 3))
    assert result.objective == pytest.approx(best)
    assert result.status == "optimal"


def test_the_solver_prints_nothing(capfd):
    """HiGHS's banner would end up in the CLI's output: it is kept off stdout."""
    reach = sparse.identity(4, format="csr")
    mclp(reach, [1.0, 2.0, 3.0, 4.0], 2)
    mclp(reach, [1.0, 2.0, 3.0, 4.0], 3)
    assert "HiGHS" not in capfd.readouterr().out

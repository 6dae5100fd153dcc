"""Siting on a study: candidates, the reach table, the model, and the study after.

:func:`site_study` turns a study, a category and a threshold into the arrays the models
of :mod:`.siting` take (the reach matrix from bounded searches, the weights of the group
served, the homes today's facilities cover), solves, and returns the sites and the study
with them added; :func:`site_summary` says it in a JSON-ready dict.
"""

from __future__ import annotations

import logging

import geopandas as gpd
import numpy as np
from scipy import sparse

from service_circle import _deadline
from service_circle._errors import InputError
from service_circle._validate import check_number
from service_circle.candidates import generate_candidates
from service_circle.cost import CostModel, Threshold
from service_circle.judging import judging_rule
from service_circle.profiles import Profile, get_profile
from service_circle.search import reach_pairs
from service_circle.siting import Method, Objective, SitingResult, lscp, mclp, pmedian
from service_circle.snapping import Snapped, snap
from service_circle.study import Study

logger = logging.getLogger(__name__)


def site_study(
    study: Study,
    category: str,
    threshold: Threshold,
    *,
    p: int | None = None,
    target_share: float | None = None,
    objective: Objective | None = None,
    candidates: gpd.GeoDataFrame | None = None,
    profile: str | Profile | None = None,
    method: Method = "exact",
    time_limit_s: float = 60.0,
    spacing_m: float = 150.0,
    exclude: gpd.GeoDataFrame | None = None,
    max_candidates: int | None = None,
) -> tuple[SitingResult, gpd.GeoDataFrame, Study]:
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
    import pandas as pd

    if p is None and target_share is None:
        raise InputError("give p (how many sites: maximal coverage) or target_share (the share "
                         "to reach with the fewest sites: set cover)")  # fmt: skip
    if p is not None and target_share is not None:
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
    profile = judged_profile(study, category, profile)
    cost = CostModel.for_threshold(threshold, profile)
    cat = study.catalogue[category]
    if candidates is None:
        candidates = generate_candidates(
            study, category, threshold, profile=profile, spacing_m=spacing_m, exclude=exclude,
            max_candidates=max_candidates,
        )  # fmt: skip
    elif max_candidates is not None and len(candidates) > max_candidates:
        raise InputError(
            f"candidates: {len(candidates)} sites, more than the {max_candidates} allowed: "
            "send fewer, or leave them out to site in today's gaps"
        )
    _deadline.check("siting")
    cand = snap(study.network, candidates, max_access_m=study.demand_snap.max_access_m,
                what="candidate sites")  # fmt: skip
    if not cand.on_network.any():
        raise InputError("no candidate site lies on the network: check their CRS and location")
    limit = cost.limit(threshold)
    # p-median weighs walking times up to twice the threshold (farther counts at that cap)
    reach_limit = 2 * limit if objective == "pmedian" else limit
    pairs = reach_pairs(study.network, cand, study.demand_snap, cost=cost, limit=reach_limit)
    if objective != "pmedian":
        pairs = pairs[pairs["cost"] <= limit]
    reach = sparse.csr_matrix(
        (np.ones(len(pairs)), (pairs["target"].to_numpy(), pairs["source"].to_numpy())),
        shape=(len(study.demand), len(cand)),
    )
    weights = study.demand[cat.group_column].to_numpy(np.float64)
    current = study.search(category, cost).point_cost
    covered = current <= limit
    _deadline.check("siting")
    # the solver gets what is left of an overall limit set around this call
    time_limit_s = max(1e-3, min(time_limit_s, _deadline.remaining_s()))
    if objective == "pmedian":
        result = _pmedian_on_study(pairs, weights, current, limit, len(cand), p, time_limit_s)
    elif p is not None:
        result = mclp(reach, weights, p, covered=covered, method=method, time_limit_s=time_limit_s)
    else:
        assert target_share is not None  # checked above
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


def judged_profile(study: Study, category: str, profile: str | Profile | None) -> Profile:
    """``profile``, or the one the report judges ``category`` under.

    That is its group's own (the elderly canteen at the elderly's pace), so that siting
    starts from the report's figure.
    """
    if profile is not None:
        return get_profile(profile)
    return judging_rule(study.catalogue, [category])[category].profile


def site_summary(
    result: SitingResult,
    study: Study,
    category: str,
    threshold: Threshold,
    profile: str | Profile | None = None,
) -> dict:
    """What a siting run chose and how sure it is, as a JSON-ready dict (CLI and API)."""
    return {
        "category": category,
        "threshold": threshold.value,
        "unit": threshold.unit,
        "profile": CostModel.for_threshold(
            threshold, judged_profile(study, category, profile)
        ).name,
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


def _concat_snaps(a: Snapped, b: Snapped) -> Snapped:
    return Snapped(
        **{
            name: np.concatenate([getattr(a, name), getattr(b, name)])
            for name in ("point_id", "edge", "pos_m", "access_m", "x", "y", "status")
        },
        max_access_m=a.max_access_m,
    )

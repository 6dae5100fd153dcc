"""Accessibility to capacity: two-step floating catchment area (2SFCA), Gaussian variant.

For a category with capacities ``S_j`` (childcare places, canteen seats, beds, m²), demand
``P_i`` of the group it serves, and walking cost ``d_ij`` within the catchment ``d0``:

1. each facility's supply ratio ``R_j = S_j / Σ_i W(d_ij) P_i`` over the homes within
   ``d0``;
2. each home's accessibility ``A_i = Σ_j W(d_ij) R_j`` over the facilities within ``d0``.

``W = 1`` for the classic 2SFCA (Luo & Wang 2003); the Gaussian variant (Dai 2010) uses
``W(d) = (exp(-½ (d/d0)²) − exp(-½)) / (1 − exp(-½))``, 1 at the door and 0 at ``d0``.
``A_i × 1000`` reads as capacity per 1000 people of the group (e.g. childcare places per
1000 children under three), directly comparable with the plan's targets when multiplied by
the group's share. Facilities without a capacity are left out and counted, never guessed.
"""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd

from service_circle._errors import InputError
from service_circle.cost import CostModel, Threshold
from service_circle.profiles import Profile
from service_circle.search import reach_pairs
from service_circle.study import Study

logger = logging.getLogger(__name__)

Decay = Literal["none", "gaussian"]


def gaussian_weight(cost: np.ndarray, d0: float) -> np.ndarray:
    """Gaussian decay weight, 1 at zero cost and 0 at ``d0``."""
    edge = np.exp(-0.5)
    return np.clip((np.exp(-0.5 * (np.asarray(cost) / d0) ** 2) - edge) / (1 - edge), 0, 1)


def two_step_fca(
    study: Study,
    category: str,
    threshold: Threshold,
    *,
    profile: str | Profile | None = None,
    decay: Decay = "none",
) -> pd.DataFrame:
    """2SFCA accessibility of each demand point to a category's capacity.

    The catchment of each facility is ``threshold`` (minutes under ``profile``, or metres).

    Returns
    -------
    pandas.DataFrame
        One row per demand point: ``id``, ``population``, the group column, ``access``
        (capacity per person of the group) and ``access_per_1000``. Attributes
        ``frame.attrs["facilities_without_capacity"]`` and ``["facilities_used"]`` say what
        was left out.
    """
    if decay not in ("none", "gaussian"):
        raise InputError(f"decay must be 'none' or 'gaussian', got {decay!r}")
    cat = study.catalogue[category]
    cost = CostModel.for_threshold(threshold, profile)
    mine = np.flatnonzero(study.facilities["category"].to_numpy() == category)
    capacity = pd.to_numeric(study.facilities["capacity"].iloc[mine], errors="coerce").to_numpy()
    has = np.isfinite(capacity) & (capacity >= 0)
    missing = int((~has).sum())
    if missing:
        logger.warning("%s: %d facilities have no capacity and are left out", category, missing)
    demand = study.demand[cat.group_column].to_numpy(np.float64)
    d0 = cost.limit(threshold)
    facilities = study.facility_snap.take(mine[has])
    pairs = reach_pairs(study.network, facilities, study.demand_snap, cost=cost, limit=d0)
    src = pairs["source"].to_numpy()
    tgt = pairs["target"].to_numpy()
    w = np.ones(len(pairs)) if decay == "none" else gaussian_weight(pairs["cost"].to_numpy(), d0)
    served = np.bincount(src, weights=w * demand[tgt], minlength=len(facilities))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(served > 0, capacity[has] / served, 0.0)
    access = np.bincount(tgt, weights=w * ratio[src], minlength=len(study.demand))
    out = pd.DataFrame(
        {
            "id": study.demand["id"].to_numpy(),
            "population": study.demand["population"].to_numpy(),
            cat.group_column: demand,
            "access": access,
            "access_per_1000": access * 1000,
        }
    )
    out.attrs["facilities_used"] = int(has.sum())
    out.attrs["facilities_without_capacity"] = missing
    out.attrs["capacity_unit"] = cat.capacity_unit
    return out


def access_summary(
    access: pd.DataFrame, group_column: str, mask: np.ndarray | None = None
) -> dict[str, float]:
    """Group-weighted mean accessibility of a 2SFCA table (per person and per 1000).

    ``mask`` restricts it to some homes, e.g. a neighbourhood's
    (:func:`service_circle.neighbourhood.inside`).
    """
    if mask is not None:
        access = access[np.asarray(mask, bool)]
    weight = access[group_column].to_numpy()
    total = weight.sum()
    mean = float((access["access"].to_numpy() * weight).sum() / total) if total > 0 else np.nan
    return {"access": mean, "access_per_1000": mean * 1000, "group_population": float(total)}

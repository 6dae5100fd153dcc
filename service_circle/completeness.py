"""Completeness (配齐 / 缺配): which required categories each home reaches, and what it lacks.

:func:`completeness_table` works on arrays — which homes reach which categories — and
:func:`completeness` is the study adapter.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from service_circle import _deadline
from service_circle._errors import InputError
from service_circle.cost import CostModel, Threshold
from service_circle.profiles import Profile
from service_circle.study import Study

logger = logging.getLogger(__name__)


def completeness(
    study: Study,
    *,
    profile: str | Profile | None = None,
    scheme: str = "living_circle",
) -> pd.DataFrame:
    """Which required categories each home can reach, as a score and a list of what is missing.

    ``scheme="living_circle"`` requires every category of the catalogue within its own
    default minutes (GB 50180 tiers are cumulative: a home in a complete 5-minute circle
    also reaches the 10- and 15-minute facilities within 10 and 15 minutes);
    ``scheme="basic"`` requires MOFCOM's basic-guarantee categories. A category with no
    facility in the study is missing for everyone (缺配), as it is on the ground.

    Returns
    -------
    pandas.DataFrame
        See :func:`completeness_table`.
    """
    if scheme not in ("living_circle", "basic"):
        raise InputError(f"scheme must be 'living_circle' or 'basic', got {scheme!r}")
    cost = CostModel.walking(profile)
    cats = [c for c in study.catalogue if scheme == "living_circle" or c.basic_guarantee]
    reached = np.zeros((len(study.demand), len(cats)), dtype=bool)
    for j, cat in enumerate(cats):
        _deadline.check("the completeness table")
        result = study.search(cat.key, cost)
        reached[:, j] = result.point_cost <= cost.limit(Threshold.minutes(cat.minutes))
    return completeness_table(
        reached,
        [c.key for c in cats],
        study.demand["id"].to_numpy(),
        study.demand["population"].to_numpy(np.float64),
    )


def completeness_table(
    reached: np.ndarray, keys: Sequence[str], ids: np.ndarray, population: np.ndarray
) -> pd.DataFrame:
    """Score and 缺配 list per home from a (homes × categories) boolean ``reached`` matrix.

    Returns
    -------
    pandas.DataFrame
        ``id``, ``population``, ``score`` (share of required categories reached),
        ``reached``, ``required`` and ``missing`` (category keys joined by ``,``).
    """
    n = reached.shape[0]
    names = np.array(list(keys), dtype=object)
    return pd.DataFrame(
        {
            "id": ids,
            "population": population,
            "score": reached.mean(axis=1) if len(names) else np.ones(n),
            "reached": reached.sum(axis=1),
            "required": len(names),
            "missing": [",".join(names[~row]) for row in reached],
        }
    )


def completeness_summary(table: pd.DataFrame, mask: np.ndarray | None = None) -> dict:
    """Population-weighted score and, per category, the share of people missing it."""
    rows = table if mask is None else table[np.asarray(mask, bool)]
    pop = rows["population"].to_numpy(np.float64)
    total = pop.sum()
    lacking: dict[str, float] = {}
    for text, p in zip(rows["missing"], pop, strict=True):
        for key in filter(None, str(text).split(",")):
            lacking[key] = lacking.get(key, 0.0) + p
    return {
        "population": float(total),
        "score": float((rows["score"].to_numpy() * pop).sum() / total) if total else np.nan,
        "missing_share": {k: v / total for k, v in sorted(lacking.items(), key=lambda kv: -kv[1])}
        if total
        else {},
    }

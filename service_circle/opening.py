"""Open when needed: coverage in the windows a category is needed, next to all hours.

A canteen that serves lunch only on weekdays does not feed anyone on Sunday; a pharmacy
that closes at 20:00 is no help at 23:00. For each category the catalogue gives windows
(:attr:`~service_circle.catalogue.Category.windows`), the coverage of its served group at
the threshold it is judged at is computed twice: with every facility, and with only those
open throughout the window (:meth:`~service_circle.study.Study.open_at`). Facilities
without known hours count as open unless told otherwise, and the table says how many were
assumed so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from service_circle.coverage import coverage_table
from service_circle.judging import Judgement
from service_circle.study import Study

#: The window key of the row with every facility, whatever its hours.
ALL_HOURS = "all_hours"


@dataclass(frozen=True)
class OpenWhenNeeded:
    """Coverage in each window next to all hours, and what the hours are known of.

    Attributes
    ----------
    table
        One row per category and window (first the ``all_hours`` row): ``category``,
        ``window``, ``window_zh``, ``window_en``, ``days``, ``start``, ``end``,
        ``threshold``, ``unit``, ``profile``, ``group``, ``facilities`` (counted in that
        window), ``assumed_open`` (of those, without known hours), ``population``,
        ``covered``, ``share``, ``group_population``, ``group_covered``, ``group_share``
        and ``change`` (``group_share`` minus the all-hours one).
    hours
        Per category with facilities: ``facilities``, ``hours_known``, ``always_open``
        (24/7), ``hours_unknown`` and ``hours_invalid`` (given, not readable).
    unknown_open
        Whether facilities without known hours were counted open.
    """

    table: pd.DataFrame
    hours: pd.DataFrame
    unknown_open: bool

    def payload(self) -> dict:
        """JSON-ready."""
        import json

        return {
            "unknown_hours": "open" if self.unknown_open else "closed",
            "windows": json.loads(self.table.to_json(orient="records", force_ascii=False)),
            "hours": json.loads(self.hours.to_json(orient="records", force_ascii=False)),
        }


def hours_known(study: Study) -> pd.DataFrame:
    """Per category with facilities: how many have known, 24/7, unknown or unreadable hours."""
    fac = study.facilities
    hours = study.opening_hours
    status = (fac["hours_status"].to_numpy(dtype=object) if "hours_status" in fac
              else np.full(len(fac), "unknown", dtype=object))  # fmt: skip
    rows = []
    for key in dict.fromkeys(fac["category"]):
        mine = fac["category"].to_numpy() == key
        rows.append({
            "category": key,
            "facilities": int(mine.sum()),
            "hours_known": int(sum(h is not None for h in hours[mine])),
            "always_open": int(sum(h == "24/7" for h in hours[mine])),
            "hours_unknown": int((status[mine] == "unknown").sum()),
            "hours_invalid": int((status[mine] == "invalid").sum()),
        })  # fmt: skip
    return pd.DataFrame(rows, columns=["category", "facilities", "hours_known", "always_open",
                                       "hours_unknown", "hours_invalid"])  # fmt: skip


def open_when_needed(
    study: Study, judged: dict[str, Judgement], *, unknown_open: bool = True
) -> OpenWhenNeeded:
    """Coverage of each judged category with windows: all hours, then each window.

    Parameters
    ----------
    study
        The study (every facility, whatever its hours).
    judged
        The threshold and profile each category is judged at (:mod:`.judging`).
    unknown_open
        Count facilities without known hours as open (the default).
    """
    present = set(study.facilities["category"])
    rows = []
    for key, rule in judged.items():
        cat = study.catalogue[key]
        if not cat.windows or key not in present:
            continue
        rows.append(_row(study, key, rule, None, unknown_open))
        for window in cat.windows:
            rows.append(_row(study.open_at(window, unknown_open=unknown_open), key, rule,
                             window, unknown_open))  # fmt: skip
    columns = ["category", "window", "window_zh", "window_en", "days", "start", "end",
               "threshold", "unit", "profile", "group", "facilities", "assumed_open",
               "population", "covered", "share", "group_population", "group_covered",
               "group_share", "change"]  # fmt: skip
    table = pd.DataFrame(rows, columns=columns[:-1])
    if len(table):
        every = table["window"] == ALL_HOURS
        base = table["group_share"].where(every).ffill()
        table["change"] = table["group_share"] - base
    else:
        table["change"] = pd.Series(dtype=float)
    return OpenWhenNeeded(table[columns], hours_known(study), unknown_open)


def _row(view: Study, key: str, rule: Judgement, window, unknown_open: bool) -> dict:
    cov = coverage_table(view, [rule.threshold], categories=[key], profile=rule.profile).iloc[0]
    mine = view.facilities["category"].to_numpy() == key
    assumed = int(sum(h is None for h in view.opening_hours[mine]))
    names = ("全部时段", "all hours") if window is None else (window.name_zh, window.name_en)
    return {
        "category": key,
        "window": ALL_HOURS if window is None else window.key,
        "window_zh": names[0],
        "window_en": names[1],
        "days": "" if window is None else window.days,
        "start": "" if window is None else window.start,
        "end": "" if window is None else window.end,
        "threshold": rule.threshold.value,
        "unit": rule.threshold.unit,
        "profile": rule.profile.name,
        "group": cov["group"],
        "facilities": int(mine.sum()),
        "assumed_open": assumed if (window is not None and unknown_open) else 0,
        "population": float(cov["population"]),
        "covered": float(cov["covered"]),
        "share": float(cov["share"]),
        "group_population": float(cov["group_population"]),
        "group_covered": float(cov["group_covered"]),
        "group_share": float(cov["group_share"]),
    }

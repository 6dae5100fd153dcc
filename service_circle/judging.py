"""One threshold rule: how each category is judged in a run, stated everywhere it is used.

Each category is judged at one threshold — its catalogue default minutes (its GB 50180
metres when only metres were asked for), or the one ``--minutes`` / ``--metres`` value
given — and under the walking profile of the group it
serves: services for people 60+ under the ``elderly`` profile, the rest under ``adult``,
unless one profile is given for all. The coverage table, the report, the per-unit table,
the map's gap layer and the API all take their thresholds from :func:`judging_rule`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service_circle.catalogue import Catalogue
from service_circle.cost import CostModel, Threshold
from service_circle.profiles import Profile, get_profile, profile_label

logger = logging.getLogger(__name__)

#: The profile each served group walks under when no profile is given for all.
GROUP_PROFILES: Mapping[str, str] = {"60plus": "elderly"}


@dataclass(frozen=True)
class Judgement:
    """How one category is judged: its threshold and the profile of the people it serves."""

    category: str
    threshold: Threshold
    profile: Profile

    @property
    def cost(self) -> CostModel:
        """The cost model the threshold is measured in."""
        return CostModel.for_threshold(self.threshold, self.profile)

    @property
    def limit(self) -> float:
        """The threshold in the cost model's unit (seconds or metres)."""
        return self.cost.limit(self.threshold)

    def describe(self, lang: str = "en") -> str:
        """``"5 min, elderly 1.18 m/s"`` / ``"5分钟，老年人 1.18米/秒"``; metres name no speed."""
        if lang == "zh":
            unit = "分钟" if self.threshold.is_time else "米"
            text = f"{self.threshold.value:g}{unit}"
            walker = profile_label(self.profile.name, "zh")
            return text + (f"，{walker} {self.profile.speed_m_s:g}米/秒"
                           if self.threshold.is_time else "（路网距离）")  # fmt: skip
        text = self.threshold.label
        return text + (f", {self.profile.name} {self.profile.speed_m_s:g} m/s"
                       if self.threshold.is_time else " of network distance")  # fmt: skip

    def to_dict(self) -> dict:
        """JSON-ready: category, threshold, unit, profile, speed_m_s."""
        return {
            "category": self.category,
            "threshold": self.threshold.value,
            "unit": self.threshold.unit,
            "profile": self.profile.name,
            "speed_m_s": self.profile.speed_m_s,
        }


def judging_rule(
    catalogue: Catalogue,
    keys: Sequence[str] | None = None,
    *,
    threshold: Threshold | None = None,
    profile: str | Profile | None = None,
    unit: str = "min",
) -> dict[str, Judgement]:
    """The judgement of each category (default: every category of the catalogue).

    Parameters
    ----------
    catalogue
        The catalogue (default thresholds and served groups).
    keys
        The categories.
    threshold
        One threshold for every category (``--minutes 10`` or ``--metres 500``); default
        each category's own minutes, or its own metres with ``unit="m"``.
    profile
        One profile for every category; default the served group's
        (:data:`GROUP_PROFILES`, else ``adult``).
    unit
        The unit of the default thresholds: ``"min"`` (the catalogue's minutes) or ``"m"``
        (its GB 50180 metres).
    """
    given = None if profile is None else get_profile(profile)
    out = {}
    for key in keys if keys is not None else catalogue.keys():
        cat = catalogue[key]
        own = Threshold.metres(cat.metres) if unit == "m" else Threshold.minutes(cat.minutes)
        profile_of = given or get_profile(GROUP_PROFILES.get(cat.group))
        out[cat.key] = Judgement(cat.key, threshold or own, profile_of)
    return out


def judging_threshold(thresholds: Sequence[Threshold]) -> tuple[Threshold | None, str]:
    """What the user's thresholds say about judging.

    The one threshold given (else ``None``: each category's default), and the default's unit
    (``"m"`` when only metres were given).
    """
    if len(thresholds) == 1:
        return thresholds[0], thresholds[0].unit
    return None, "m" if thresholds and all(not t.is_time for t in thresholds) else "min"

"""The walking cost: one model for every search, and the only place units convert.

A :class:`CostModel` says what a search adds up along the streets:

- **time** — seconds of walking under a :class:`~service_circle.profiles.Profile`: each
  arc at the profile's flat speed times its per-arc factors (slope, season), steps at
  the profile's seconds per step (or closed), and half a crossing of a major road at
  each end that is one (:mod:`service_circle.crossings`); each access leg at the flat
  speed;
- **distance** — metres of network distance, the GB 50180-2018 way;
- **road time** — seconds on a drive network at a road speed (a bus, a motorbike: the
  township circle of TD/T 1062's 乡集镇 tier), the access leg to the road walked.

It turns a user's :class:`Threshold` (minutes or metres) into the limit a search runs to,
costs the arcs of a network (computed once per model and network, and cached with the
network) and the access legs of points, and turns costs back into minutes for people.
Times, coverage, isochrones, gaps, 2SFCA, siting, a point's reach and the report all take
one; no other module multiplies by 60 or divides by a speed.

Units are written the same way everywhere: a threshold's ``unit`` is ``"min"`` or
``"m"``, a cost model's (and so every search result's) ``unit`` is ``"s"`` or ``"m"``.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np

from service_circle._errors import InputError
from service_circle.profiles import STEP_RUN_M, Profile, get_profile

if TYPE_CHECKING:
    from service_circle.walk_network import WalkNetwork

logger = logging.getLogger(__name__)

SECONDS_PER_MINUTE = 60.0
KMH_PER_M_S = 3.6


@dataclass(frozen=True)
class Threshold:
    """A walking threshold: minutes under a profile, or metres of network distance.

    Examples
    --------
    >>> Threshold.minutes(15).label
    '15 min'
    >>> CostModel.for_threshold(Threshold.metres(500)).limit(Threshold.metres(500))
    500.0
    """

    value: float
    unit: Literal["min", "m"]

    def __post_init__(self) -> None:
        if self.unit not in ("min", "m"):
            raise InputError(f"threshold unit must be 'min' or 'm', got {self.unit!r}")
        if not (
            isinstance(self.value, int | float) and math.isfinite(self.value) and self.value > 0
        ):
            raise InputError(f"threshold must be a positive number, got {self.value!r}")

    @classmethod
    def minutes(cls, value: float) -> Threshold:
        """A threshold in minutes of walking."""
        return cls(float(value), "min")

    @classmethod
    def metres(cls, value: float) -> Threshold:
        """A threshold in metres of network distance."""
        return cls(float(value), "m")

    @property
    def is_time(self) -> bool:
        """Whether the threshold is a time (searched in seconds) rather than a distance."""
        return self.unit == "min"

    @property
    def label(self) -> str:
        """Human label, e.g. ``"15 min"`` or ``"500 m"``."""
        return f"{self.value:g} {self.unit}"

    def cost_limit(self, profile: str | Profile | None = None) -> float:
        """The search limit: seconds for a time threshold, metres for a distance one.

        Short for ``CostModel.for_threshold(self, profile).limit(self)``.
        """
        return CostModel.for_threshold(self, profile).limit(self)


def _is_steps(net: WalkNetwork) -> np.ndarray:
    """Per arc: whether its edge is ``highway=steps``."""
    steps = np.array([name == "steps" for name in net.class_names])
    return steps[net.edge_class[net.arc_edge]]


def _step_counts(net: WalkNetwork) -> np.ndarray:
    """Per edge: its steps, from ``step_count`` where tagged, else one per tread of run."""
    estimate = net.edge_length_m / STEP_RUN_M
    if net.edge_step_count is None:
        return estimate
    return np.where(np.isfinite(net.edge_step_count), net.edge_step_count, estimate)


@dataclass(frozen=True)
class CostModel:
    """What a search adds up: seconds under a walking profile, or metres.

    Build one with :meth:`walking`, :meth:`distance` or :meth:`for_threshold`.

    Attributes
    ----------
    kind
        ``"time"`` or ``"distance"``.
    profile
        The walking profile of a time model (``None`` for distance).
    """

    kind: Literal["time", "distance"]
    profile: Profile | None = None
    road_speed_m_s: float | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("time", "distance"):
            raise InputError(f"cost kind must be 'time' or 'distance', got {self.kind!r}")
        if (self.kind == "time") != (self.profile is not None):
            raise InputError("a time cost model needs a walking profile; distance takes none")
        speed = self.road_speed_m_s
        if speed is not None and not (math.isfinite(speed) and 0 < speed * KMH_PER_M_S <= 120):
            raise InputError(
                f"road speed must be between 0 and 120 km/h, got {speed * KMH_PER_M_S:g} km/h"
            )

    # ------------------------------------------------------------------ building
    @classmethod
    def walking(cls, profile: str | Profile | None = None) -> CostModel:
        """Seconds of walking under ``profile`` (a name, a Profile, or the default adult)."""
        return cls("time", get_profile(profile))

    @classmethod
    def road(cls, speed_kmh: float, access_profile: str | Profile | None = None) -> CostModel:
        """Seconds on a drive network at ``speed_kmh``; the leg to the road walked.

        For the township circle by road (a bus, a motorbike); give it a network loaded
        with ``mode="drive"``. The access leg from a home to the road is walked under
        ``access_profile`` (default adult).
        """
        if not (isinstance(speed_kmh, int | float) and math.isfinite(speed_kmh)):
            raise InputError(f"road speed must be a number of km/h, got {speed_kmh!r}")
        return cls("time", get_profile(access_profile), float(speed_kmh) / KMH_PER_M_S)

    @classmethod
    def distance(cls) -> CostModel:
        """Metres of network distance (GB 50180-2018 thresholds)."""
        return cls("distance", None)

    @classmethod
    def for_threshold(cls, threshold: Threshold, profile: str | Profile | None = None) -> CostModel:
        """The model a threshold is measured in: walking time for minutes, else distance."""
        return cls.walking(profile) if threshold.is_time else cls.distance()

    # ------------------------------------------------------------------ units
    @property
    def unit(self) -> Literal["s", "m"]:
        """The unit of its costs: ``"s"`` or ``"m"``."""
        return "s" if self.kind == "time" else "m"

    @property
    def name(self) -> str:
        """The profile's name for time, ``"road 30 km/h"`` by road, ``"distance"`` for metres."""
        if self.road_speed_m_s is not None:
            return f"road {self.road_speed_kmh:g} km/h"
        return self.profile.name if self.profile is not None else "distance"

    @property
    def road_speed_kmh(self) -> float | None:
        """The road speed in km/h (``None`` on foot)."""
        return None if self.road_speed_m_s is None else self.road_speed_m_s * KMH_PER_M_S

    @property
    def key(self) -> tuple:
        """What identifies the costs it gives (for caches)."""
        if self.profile is None:
            return ("distance",)
        if self.road_speed_m_s is not None:
            return ("road", self.road_speed_m_s, self.profile.name, self.profile.speed_m_s)
        p = self.profile
        factor, slope = p.arc_factor, p.slope
        return ("time", p.name, p.speed_m_s, id(factor) if factor else None,
                id(slope) if slope else None, p.avoid_steps, p.step_s, p.crossing)  # fmt: skip

    @property
    def symmetric(self) -> bool:
        """Whether an arc costs the same both ways on any network (no factor, no slope).

        Steps, crossings and closed steps cost the same both ways.
        """
        p = self.profile
        return (p is None or self.road_speed_m_s is not None
                or (p.arc_factor is None and p.slope is None))  # fmt: skip

    def symmetric_on(self, net: WalkNetwork) -> bool:
        """Whether an arc of ``net`` costs the same both ways (a flat network: no heights)."""
        return self.symmetric or (
            net.terrain is None and self.profile is not None and self.profile.arc_factor is None
        )

    @property
    def cost_column(self) -> str:
        """``"time_s"`` or ``"distance_m"``: how its costs are named in tables."""
        return "time_s" if self.kind == "time" else "distance_m"

    def limit(self, threshold: Threshold) -> float:
        """A threshold as a search limit in this model's unit.

        Raises
        ------
        InputError
            If the threshold's unit does not fit the model (metres under a time model).
        """
        if threshold.is_time != (self.kind == "time"):
            raise InputError(
                f"threshold {threshold.label} does not fit a {self.kind} cost model: minutes "
                "are walking time, metres network distance"
            )
        if self.kind == "time":
            return float(threshold.value) * SECONDS_PER_MINUTE
        return float(threshold.value)

    def reach_m(self, threshold: Threshold) -> float:
        """The farthest a walk (or ride) within ``threshold`` goes on the flat, metres.

        A distance threshold is its own metres; a time threshold is walked at the
        profile's flat speed (or ridden at the road speed).
        """
        if not threshold.is_time:
            return float(threshold.value)
        speed = self.road_speed_m_s or (self.profile.speed_m_s if self.profile else None)
        if speed is None:
            raise InputError(f"threshold {threshold.label} needs a walking profile's speed")
        return float(threshold.value) * SECONDS_PER_MINUTE * speed

    def to_minutes(self, cost: float | np.ndarray) -> float | np.ndarray:
        """Seconds as minutes (a time model only)."""
        if self.kind != "time":
            raise InputError("only walking times convert to minutes")
        return cost / SECONDS_PER_MINUTE

    def to_threshold_unit(self, cost: float | np.ndarray) -> float | np.ndarray:
        """Costs in the unit thresholds are given in: minutes for time, metres for distance."""
        return cost / SECONDS_PER_MINUTE if self.kind == "time" else cost

    def label(self, cost: float | None) -> str:
        """A cost for people: ``"5.3 min"`` or ``"420 m"``; ``"unreachable"`` when infinite."""
        if cost is None or not math.isfinite(cost):
            return "unreachable"
        return f"{cost / SECONDS_PER_MINUTE:.1f} min" if self.kind == "time" else f"{cost:,.0f} m"

    # ------------------------------------------------------------------ costs
    def arc_costs(self, net: WalkNetwork, *, reverse: bool = False) -> np.ndarray:
        """The cost of walking each arc of ``net`` (``net.arc_length_m`` order).

        With ``reverse``, each arc carries the cost of its twin: what a search over the
        reversed graph needs (towards a facility, on a network whose arcs differ by
        direction). Computed once per model and network, and cached with the network.
        """
        cache = net._cache.setdefault("arc_costs", {})
        key = (self.key, reverse)
        if key not in cache:
            cache[key] = (self.arc_costs(net)[net.arc_twin] if reverse
                          else self._arc_costs(net))  # fmt: skip
        return cache[key]

    def _arc_costs(self, net: WalkNetwork) -> np.ndarray:
        if self.profile is None:
            return net.arc_length_m
        if self.road_speed_m_s is not None:
            return net.arc_length_m / self.road_speed_m_s
        profile = self.profile
        flat = profile.speed_m_s
        factor = None
        if profile.arc_factor is not None:
            factor = np.asarray(profile.arc_factor(net), dtype=np.float64)
            if factor.shape != (net.n_arcs,) or not np.all(factor > 0):
                raise InputError(
                    f"profile {profile.name!r}: arc_factor must return {net.n_arcs} "
                    f"positive factors, got shape {factor.shape}"
                )
        if net.terrain is not None and profile.slope is not None:
            # segment by segment along each edge's height profile, per direction
            slope = net.terrain.arc_factors(net, profile.slope)
            factor = slope if factor is None else factor * slope
        if factor is None:
            cost = net.arc_length_m / flat
        else:
            with np.errstate(divide="ignore"):
                cost = net.arc_length_m / (flat * factor)
        steps = _is_steps(net)
        if steps.any() and profile.avoid_steps:  # a wheelchair, a walker frame: no steps
            cost = np.where(steps, np.inf, cost)
        elif steps.any() and profile.step_s is not None:  # step by step, up or down
            cost = np.where(steps, _step_counts(net)[net.arc_edge] * profile.step_s, cost)
        ends = self.crossing_costs(net)
        if ends is not None:
            cost = cost + ends[0] + ends[1]
        return cost

    def crossing_costs(self, net: WalkNetwork) -> tuple[np.ndarray, np.ndarray] | None:
        """Per arc: the seconds of crossing charged at its tail and at its head.

        Half a crossing of a major road at each crossing end (:mod:`.crossings`): the
        profile's wait and the road's width at its speed. ``None`` where the network knows
        no crossings or the profile crosses for free (and for distance or road models).
        """
        profile = self.profile
        if (net.crossings is None or profile is None or profile.crossing is None
                or self.road_speed_m_s is not None):  # fmt: skip
            return None
        cache = net._cache.setdefault("crossing_costs", {})
        key = (profile.crossing, profile.speed_m_s)
        if key not in cache:
            c = net.crossings
            waits = profile.crossing.waits_s()  # per class unsignalised, then at a signal
            wait = np.where(c.node_signals, waits[-1], waits[np.maximum(c.node_class, 0)])
            node_s = np.where(c.node_class >= 0, wait + c.node_width_m / profile.speed_m_s, 0.0)
            cache[key] = c.arc_halves(net, node_s)
        return cache[key]

    def access_costs(self, access_m: np.ndarray | float) -> np.ndarray:
        """The cost of access legs (point to street) of ``access_m`` metres, on the flat."""
        access = np.asarray(access_m, dtype=np.float64)
        if self.profile is None:
            return access
        return access / self.profile.speed_m_s

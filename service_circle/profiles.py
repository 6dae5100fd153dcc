"""Walking profiles: who walks, how fast, on what slopes, and where the figures come from.

A :class:`Profile` is a flat walking speed, a slope function, what steps and road
crossings cost its walker, and an optional per-arc factor. The slope function turns a
grade (rise ÷ run in the direction walked) into a factor of the flat speed — Tobler's
hiking function by default (:func:`tobler`) — and applies on a network that carries
heights (:mod:`service_circle.terrain`); uphill and downhill differ, so costs are per
*arc*, i.e. per direction of an edge. Steps take a time per step (:data:`ELDERLY_STEP_S`),
and crossing a major road a wait and its width (:class:`CrossingWaits`, where the network
knows its crossings: :mod:`service_circle.crossings`). Profiles are data; the cost of
walking under one, thresholds and every unit conversion live in :mod:`service_circle.cost`.

Default speeds are the medians measured in Helsinki by Willberg, Fink & Toivonen (2023),
*The 15-minute city for all? Measuring individual and temporal variations in walking
accessibility*, Journal of Transport Geography 106, 103521,
doi:10.1016/j.jtrangeo.2022.103521. They are editable defaults, not truths: pass your own
with :meth:`Profile.custom` or ``--speed`` on the command line.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from service_circle._errors import InputError, UnknownProfileError

if TYPE_CHECKING:
    from service_circle.walk_network import WalkNetwork

logger = logging.getLogger(__name__)

#: A per-arc speed factor: called with a network, returns one factor > 0 per arc
#: (``net.arc_edge`` order). 1 means the flat speed; 0.84 means 16 % slower.
ArcFactor = Callable[["WalkNetwork"], np.ndarray]

#: A slope function: grade (rise ÷ run, + uphill in the direction walked) → a factor of
#: the flat speed (1 on the flat, 0 for a grade that cannot be walked).
SlopeFunction = Callable[[np.ndarray], np.ndarray]

TOBLER_SOURCE = (
    "Tobler (1993), Three presentations on geographical analysis and modeling, NCGIA "
    "Technical Report 93-1: W = 6 exp(-3.5 |S + 0.05|) km/h, as a factor of the flat speed"
)


def tobler(grade: np.ndarray) -> np.ndarray:
    """Tobler's hiking function as a factor of the flat speed: ``exp(-3.5 (|s + 0.05| - 0.05))``.

    Examples
    --------
    >>> [round(float(tobler(s)), 3) for s in (0.0, 0.05, 0.10, -0.05, -0.10)]
    [1.0, 0.839, 0.705, 1.191, 1.0]
    """
    return np.exp(-3.5 * (np.abs(np.asarray(grade, dtype=np.float64) + 0.05) - 0.05))


ICE_SOURCE = (
    "on ice downhill slows too: Tobler's penalty for the grade's size both ways, "
    "exp(-3.5 |s|), no downhill gain (an editable default: check)"
)
#: Winter speed as a share of the dry season's (Willberg et al. 2023: adult 1.34 / 1.43,
#: older people 1.08 / 1.18 — about the same share).
WINTER_SHARE = 1.34 / 1.43


def icy_slope(grade: np.ndarray) -> np.ndarray:
    """Walking on ice: slower uphill and downhill alike, ``exp(-3.5 |s|)`` (check).

    Examples
    --------
    >>> [round(float(icy_slope(s)), 3) for s in (0.0, 0.05, -0.05, -0.10)]
    [1.0, 0.839, 0.839, 0.705]
    """
    return np.exp(-3.5 * np.abs(np.asarray(grade, dtype=np.float64)))


#: The steepest ramp a wheelchair may be asked to take (GB 50763-2012 《无障碍设计规范》
#: 3.4.4: 轮椅坡道最大坡度 1:12).
WHEELCHAIR_MAX_GRADE = 1 / 12
WHEELCHAIR_SOURCE = (
    "GB 50763-2012 无障碍设计规范 3.4.4 (ramps at most 1:12); 1.0 m/s on the flat and the "
    "slow-down uphill are editable defaults (check)"
)


def wheelchair_slope(grade: np.ndarray) -> np.ndarray:
    """A manual wheelchair on a slope: 0 (impassable) beyond 1:12 either way.

    Uphill the speed falls linearly to 0.6 of the flat speed at 1:12 (check); downhill
    within 1:12 it stays at the flat speed (a user brakes).

    Examples
    --------
    >>> [round(float(wheelchair_slope(s)), 2) for s in (0.0, 0.05, 1 / 12, 0.10, -0.10)]
    [1.0, 0.76, 0.6, 0.0, 0.0]
    """
    g = np.asarray(grade, dtype=np.float64)
    up = 1.0 - 0.4 * np.clip(g, 0, None) / WHEELCHAIR_MAX_GRADE
    return np.where(np.abs(g) <= WHEELCHAIR_MAX_GRADE + 1e-12, up, 0.0)


_WILLBERG = (
    "Willberg, Fink & Toivonen (2023), J. Transport Geography 106:103521, "
    "doi:10.1016/j.jtrangeo.2022.103521"
)

#: The run of one step in metres, where a way of steps does not say its ``step_count``
#: (GB 50352-2019 6.7.1: outdoor treads at least 0.30 m).
STEP_RUN_M = 0.30
#: Seconds per step for older people, up or down: 3 steps took 2.78 s up and 2.83 s down
#: (mean of 513 community-dwelling adults aged 70+, mean age 80.8).
ELDERLY_STEP_S = 2.8 / 3
#: Seconds per step for adults: about 0.5 m/s over 0.30 m treads (check).
ADULT_STEP_S = 0.6
STEP_SOURCE = (
    "steps: Oh-Park, Wang & Verghese (2011), Stair negotiation time in community-dwelling "
    "older adults, Arch. Phys. Med. Rehabil. 92(12):2006-2011 (70+: 3 steps in 2.78 s up, "
    "2.83 s down); adults 0.6 s per step (check); a step is 0.30 m of run unless the way "
    "has step_count (GB 50352-2019 6.7.1: treads at least 0.30 m)"
)


def signal_wait_s(cycle_s: float, red_s: float) -> float:
    """The mean wait of a walker arriving at random at a signal: ``red² / (2 cycle)``.

    HCM 2010's pedestrian delay at a signalised crossing, ``(C − g)² / 2C``, with ``C`` the
    cycle and ``C − g`` the time walkers may not start.

    Examples
    --------
    >>> round(signal_wait_s(120, 70), 1)  # GB/T 51439's longest wait in a 2-minute cycle
    20.4
    """
    return red_s**2 / (2 * cycle_s)


#: The classes of road whose crossing costs a wait (OSM ``highway``; ``*_link`` counts as
#: its road), from the widest.
CROSSED_CLASSES = ("trunk", "primary", "secondary", "tertiary")
CROSSING_SOURCE = (
    "crossings: the mean wait at a signal is HCM 2010's (C - g)^2/2C with GB/T 51439-2021 "
    "9.2.1's longest pedestrian wait, 70 s, in a 120 s cycle (check); without a signal "
    "30/20/10/5 s to find a gap in trunk/primary/secondary/tertiary traffic (check); the "
    "road's width is walked at the profile's speed"
)


@dataclass(frozen=True)
class CrossingWaits:
    """What crossing a major road costs a walker besides its width: the wait.

    Parameters
    ----------
    signal_s
        Mean wait at a signalised crossing (:func:`signal_wait_s`).
    unsignalised_s
        Mean wait for a gap without a signal, per class of :data:`CROSSED_CLASSES`.
    source
        Where the figures come from.
    """

    signal_s: float = signal_wait_s(120, 70)
    unsignalised_s: tuple[float, ...] = (30.0, 20.0, 10.0, 5.0)
    source: str = CROSSING_SOURCE

    def __post_init__(self) -> None:
        waits = (self.signal_s, *self.unsignalised_s)
        if len(self.unsignalised_s) != len(CROSSED_CLASSES) or not all(
            math.isfinite(w) and w >= 0 for w in waits
        ):
            raise InputError(
                f"crossing waits must be {len(CROSSED_CLASSES)} seconds ≥ 0, one per class "
                f"({', '.join(CROSSED_CLASSES)}), and one for a signal; got {waits}"
            )

    def waits_s(self) -> np.ndarray:
        """The wait per class of :data:`CROSSED_CLASSES` without a signal, then with one."""
        return np.array([*self.unsignalised_s, self.signal_s])


CROSSING_WAITS = CrossingWaits()


@dataclass(frozen=True)
class Profile:
    """A walking profile: a flat speed and an optional per-arc factor.

    Parameters
    ----------
    name
        Short key, e.g. ``"adult"``.
    speed_m_s
        Flat-ground walking speed in metres per second.
    description
        Who walks at this speed.
    source
        Where the speed comes from.
    arc_factor
        Optional per-arc speed factor (see :data:`ArcFactor`); ``None`` is flat.
    slope
        The slope function applied where the network has heights (default
        :func:`tobler`); ``None`` ignores the terrain.
    avoid_steps
        Whether ``highway=steps`` is impassable (a wheelchair, a walker frame).
    step_s
        Seconds per step on ``highway=steps``, up or down; ``None`` walks steps at the
        flat speed like a path.
    crossing
        What crossing a major road costs (:class:`CrossingWaits`), where the network knows
        its crossings; ``None`` crosses for free.
    """

    name: str
    speed_m_s: float
    description: str = ""
    source: str = ""
    arc_factor: ArcFactor | None = field(default=None, compare=False, repr=False)
    slope: SlopeFunction | None = field(default=tobler, compare=False, repr=False)
    avoid_steps: bool = False
    step_s: float | None = None
    crossing: CrossingWaits | None = None

    def __post_init__(self) -> None:
        if self.step_s is not None and not (math.isfinite(self.step_s) and self.step_s > 0):
            raise InputError(
                f"profile {self.name!r}: seconds per step must be positive, got {self.step_s!r}"
            )
        if not (math.isfinite(self.speed_m_s) and self.speed_m_s > 0):
            raise InputError(
                f"walking speed must be a positive number of m/s, got {self.speed_m_s!r} "
                f"for profile {self.name!r}"
            )
        if self.speed_m_s > 5:
            raise InputError(
                f"walking speed {self.speed_m_s} m/s for profile {self.name!r} is faster than "
                "running (~5 m/s): is it in km/h? Divide km/h by 3.6 to get m/s"
            )

    @classmethod
    def custom(cls, speed_m_s: float, *, name: str | None = None) -> Profile:
        """A user-defined flat profile, e.g. ``Profile.custom(1.0)``."""
        return cls(
            name=name or f"custom_{speed_m_s:g}m_s",
            speed_m_s=float(speed_m_s),
            description="user-defined speed",
            source="user",
        )

    @property
    def slope_name(self) -> str:
        """The slope function's name (``"tobler"``), ``"flat"`` for none."""
        return "flat" if self.slope is None else getattr(self.slope, "__name__", "custom")


_ADULT: dict[str, Any] = {"step_s": ADULT_STEP_S, "crossing": CROSSING_WAITS}
_OLDER: dict[str, Any] = {"step_s": ELDERLY_STEP_S, "crossing": CROSSING_WAITS}
_WINTER_STEPS = 1 / WINTER_SHARE  # steps take as much longer as the walk in winter

#: The built-in profiles. Keys are the names accepted by ``--profile``.
PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile("adult", 1.43, "adult, dry season (Helsinki median)",
                f"{_WILLBERG}; {STEP_SOURCE}; {CROSSING_SOURCE}", **_ADULT),
        Profile("adult_winter", 1.34, "adult, winter (Helsinki median); icy slopes",
                f"{_WILLBERG}; {ICE_SOURCE}; {STEP_SOURCE}; {CROSSING_SOURCE}",
                slope=icy_slope, **_ADULT | {"step_s": ADULT_STEP_S * _WINTER_STEPS}),
        Profile("elderly", 1.18, "older people, dry season (Helsinki median)",
                f"{_WILLBERG}; {STEP_SOURCE}; {CROSSING_SOURCE}", **_OLDER),
        Profile("elderly_winter", 1.08, "older people, winter (Helsinki median); icy slopes",
                f"{_WILLBERG}; {ICE_SOURCE}; {STEP_SOURCE}; {CROSSING_SOURCE}",
                slope=icy_slope, **_OLDER | {"step_s": ELDERLY_STEP_S * _WINTER_STEPS}),
        Profile("slow", 0.95, "slow walker (walk_slo), e.g. with small children",
                f"{_WILLBERG}; {STEP_SOURCE}; {CROSSING_SOURCE}", **_OLDER),
        Profile("wheelchair", 1.0, "manual wheelchair: no steps, ramps up to 1:12",
                f"{WHEELCHAIR_SOURCE}; {CROSSING_SOURCE}", slope=wheelchair_slope,
                avoid_steps=True, crossing=CROSSING_WAITS),
        Profile("walker_frame", 0.6, "older walker with a frame (rollator): no steps",
                f"0.6 m/s is an editable default (check); Tobler on slopes; {CROSSING_SOURCE}",
                avoid_steps=True, crossing=CROSSING_WAITS),
    )
}  # fmt: skip

DEFAULT_PROFILE = "adult"


def in_winter(profile: Profile) -> Profile:
    """Any profile in winter: :data:`WINTER_SHARE` of its speed, and slopes on ice.

    ``get_profile("wheelchair_winter")`` is ``in_winter(get_profile("wheelchair"))``; a
    profile that cannot take a slope at all (the wheelchair beyond 1:12) keeps that limit.
    """
    slope = profile.slope
    if slope is tobler:
        slope = icy_slope
    elif slope is not None:
        base = slope

        def slope(grade: np.ndarray) -> np.ndarray:  # its own limits, and ice
            return np.minimum(base(grade), icy_slope(grade))

        slope.__name__ = f"{getattr(base, '__name__', 'custom')}_icy"
    step_s = None if profile.step_s is None else profile.step_s / WINTER_SHARE
    return dataclasses.replace(
        profile, name=f"{profile.name}_winter", speed_m_s=profile.speed_m_s * WINTER_SHARE,
        step_s=step_s,
        description=f"{profile.description}; winter", slope=slope,
        source=f"{profile.source}; winter speed × {WINTER_SHARE:.3f} ({_WILLBERG}); {ICE_SOURCE}",
    )  # fmt: skip


@cache
def _builtin_in_winter(name: str) -> Profile:
    """A built-in profile in winter, made once (so its costs are cached once)."""
    return in_winter(PROFILES[name])


#: The profiles' names for a Chinese reader (a season's suffix is added: ``（冬季）``).
PROFILE_NAMES_ZH = {
    "adult": "成年人", "elderly": "老年人", "slow": "慢行者（带幼儿等）",
    "wheelchair": "轮椅使用者", "walker_frame": "助行器使用者",
}  # fmt: skip


def profile_label(name: str, lang: str = "zh") -> str:
    """A profile's name for people: ``老年人（冬季）`` in Chinese, its own name in English."""
    if lang != "zh":
        return name
    base, winter = (name.removesuffix("_winter"), name.endswith("_winter"))
    return PROFILE_NAMES_ZH.get(base, base) + ("（冬季）" if winter else "")


def get_profile(name: str | Profile | None = None, *, speed_m_s: float | None = None) -> Profile:
    """Return a profile by name, or a custom one when ``speed_m_s`` is given.

    Parameters
    ----------
    name
        A key of :data:`PROFILES`, a :class:`Profile` (returned as is) or ``None`` for
        the default (``"adult"``); any key with ``_winter`` is that profile in winter
        (:func:`in_winter`: ``"wheelchair_winter"``).
    speed_m_s
        A user-defined flat speed; takes precedence over ``name``.

    Raises
    ------
    UnknownProfileError
        If ``name`` is not a known profile.
    """
    if speed_m_s is not None:
        return Profile.custom(speed_m_s)
    if isinstance(name, Profile):
        return name
    key = DEFAULT_PROFILE if name is None else str(name).strip().lower()
    if key not in PROFILES and key.endswith("_winter") and key.removesuffix("_winter") in PROFILES:
        return _builtin_in_winter(key.removesuffix("_winter"))
    try:
        return PROFILES[key]
    except KeyError:
        known = ", ".join(PROFILES)
        raise UnknownProfileError(
            f"unknown walking profile {name!r}: use one of {known} (any of them + _winter), "
            "or give a speed in m/s"
        ) from None


def __getattr__(name: str) -> Any:
    # Threshold moved to service_circle.cost (the cost model); this alias lasts one release
    if name == "Threshold":
        warnings.warn(
            "service_circle.profiles.Threshold moved to service_circle.cost.Threshold",
            DeprecationWarning,
            stacklevel=2,
        )
        from service_circle.cost import Threshold

        return Threshold
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

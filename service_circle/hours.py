"""Opening hours: read in the forms offices and OSM write them, asked "open then?".

Every facility's hours are kept in one representation, OSM's ``opening_hours`` syntax,
parsed and evaluated by the maintained ``opening-hours-py`` parser (the Rust
``opening-hours`` crate), never by a grammar of our own. What Chinese POI exports write
(``24小时``, ``周一至周五 11:00-13:00``, ``早8:00-晚8:00``, ``周六、周日 09:00-17:00``) is
first rewritten into that syntax by :func:`normalise_hours`; what the parser then refuses
is ``invalid`` and counts as unknown, with the text kept for the report.

A moment is local wall time at the facilities (:func:`parse_at`): ``"Tue 23:00"`` or
``"周二 23:00"`` is that weekday of an ordinary week with no public holiday
(:data:`ORDINARY_MONDAY`), ``"2026-12-05T12:00"`` is that day (its public holidays
count). A :class:`Window` (the catalogue's named windows: the elderly canteen's weekday
lunch, the pharmacy's night) asks for a facility open throughout the window on every day
it names.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np

from service_circle._errors import InputError

#: Columns of a POI file that hold opening hours (the first present is read).
HOURS_COLUMNS = ("opening_hours", "营业时间", "开放时间", "营业时段", "服务时间", "开放时段",
                 "business_hours", "hours")  # fmt: skip
#: The Monday of the ordinary week a weekday-only moment falls in (no public holiday in
#: China or Finland from 9 to 15 March 2026).
ORDINARY_MONDAY = dt.date(2026, 3, 9)
#: What a facility's hours say about a moment.
Status = Literal["open", "closed", "unknown"]
#: Hours of many facilities: text in OSM syntax, ``None`` where unknown.
HoursLike = Sequence[str | None] | np.ndarray
DAYS = ("Mo", "Tu", "We", "Th", "Fr", "Sa", "Su")
_WEEKDAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")

_ZH_DAYS = {"一": "Mo", "二": "Tu", "三": "We", "四": "Th", "五": "Fr", "六": "Sa", "日": "Su",
            "天": "Su", "七": "Su"}  # fmt: skip
_EN_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_DAY = r"(?:周|星期|礼拜)([一二三四五六日天七])"
_ALWAYS = re.compile(
    r"^(?:24\s*(?:小时|h|hrs?|hours?)(?:营业|开放|服务)?|全天(?:24小时)?(?:营业|开放)?|"
    r"0?0:00\s*-\s*24:00|24/7|全年无休|全天候)$",
    re.I,
)
_WIDTH = str.maketrans({"：": ":", "～": "-", "〜": "-", "~": "-", "—": "-", "–": "-",
                        "－": "-", "，": ",", "、": ",", "；": ";", "　": " ", "（": "(",
                        "）": ")"})  # fmt: skip


def normalise_hours(text: object) -> tuple[str | None, Literal["ok", "unknown", "invalid"]]:
    """An hours text in OSM ``opening_hours`` syntax, and whether it could be read.

    ``None``, an empty cell or NaN is ``unknown``; text the parser refuses even after the
    Chinese forms are rewritten is ``invalid`` (returned as ``None``: it counts as unknown).

    Examples
    --------
    >>> normalise_hours("24小时")
    ('24/7', 'ok')
    >>> normalise_hours("周一至周五 11:00-13:00")
    ('Mo-Fr 11:00-13:00', 'ok')
    >>> normalise_hours("周一至周五 8:00-20:00，周六、周日 9:00-17:00")
    ('Mo-Fr 08:00-20:00; Sa-Su 09:00-17:00', 'ok')
    >>> normalise_hours(None)
    (None, 'unknown')
    """
    if text is None or (isinstance(text, float) and not np.isfinite(text)):
        return None, "unknown"
    raw = str(text).strip()
    if not raw or raw.lower() in ("nan", "none", "null", "[]", "-", "未知", "暂无"):
        return None, "unknown"
    parsed = _parse(raw) or _parse(_rewrite(raw))
    return (parsed, "ok") if parsed else (None, "invalid")


@lru_cache(maxsize=4096)
def _parse(text: str) -> str | None:
    """The parser's own normal form of ``text``, or ``None`` if it is not OSM syntax."""
    import opening_hours

    try:
        return str(opening_hours.OpeningHours(text).normalize())
    except Exception:  # the parser's ParserError (its stubs do not name it), SyntaxError
        return None


def _rewrite(raw: str) -> str:
    """Chinese hours written as OSM syntax (best effort; the parser has the last word)."""
    s = raw.translate(_WIDTH).strip()
    if _ALWAYS.match(s.replace(" ", "")):
        return "24/7"
    s = re.sub(r"(?:24\s*小时|全天)(?:营业|开放|服务)?", "00:00-24:00", s)
    s = re.sub(r"每天|每日|天天|全周|周一至周日|周一到周日|周一-周日", "Mo-Su ", s)
    s = re.sub(r"工作日", "Mo-Fr ", s)
    s = re.sub(r"周末|双休日", "Sa,Su ", s)
    s = re.sub(r"(?:法定)?节假日", "PH ", s)
    s = re.sub(rf"{_DAY}\s*(?:至|到|-)\s*{_DAY}",
               lambda m: f"{_ZH_DAYS[m[1]]}-{_ZH_DAYS[m[2]]} ", s)  # fmt: skip
    s = re.sub(_DAY, lambda m: f"{_ZH_DAYS[m[1]]} ", s)
    s = re.sub(r"(?:休息|关闭|不营业|闭馆|停业)", " off", s)
    # 上午 / 早 keep the hour; 下午 / 晚 add twelve to an hour before noon
    s = re.sub(r"(上午|早上|早晨|早|中午|下午|晚上|晚)\s*(\d{1,2})(?:[:点时](\d{2}|半)?分?)?",
               _clock, s)  # fmt: skip
    s = re.sub(r"(\d{1,2})点(\d{2}|半)?分?", lambda m: _hhmm(m[1], _minutes(m[2])), s)
    s = re.sub(r"(?<![\d:])(\d):(\d{2})", r"0\1:\2", s)
    s = re.sub(r"\s*(?:至|到|-)\s*(?=\d{2}:\d{2})", "-", s)
    s = re.sub(r"((?:Mo|Tu|We|Th|Fr|Sa|Su|PH)(?:-(?:Mo|Tu|We|Th|Fr|Sa|Su))?)\s*:\s*", r"\1 ", s)
    s = re.sub(r"(\d{2}:\d{2})\s+(?=\d{2}:\d{2}-)", r"\1,", s)  # two stretches of one day
    s = re.sub(r"(?<=[A-Za-z]{2})\s*,\s*(?=(?:Mo|Tu|We|Th|Fr|Sa|Su|PH)\b)", ",", s)
    # a new rule starts where a day follows a time
    s = re.sub(r"(\d{2}:\d{2}|off)\s*[,;]?\s*(?=(?:Mo|Tu|We|Th|Fr|Sa|Su|PH)\b)", r"\1; ", s)
    s = re.sub(r"\s+", " ", s).strip(" ,;")
    return s


def _hhmm(hour: str, minute: str) -> str:
    return f"{int(hour):02d}:{minute}"


def _minutes(text: str | None) -> str:
    return "30" if text == "半" else text or "00"


def _clock(m: re.Match) -> str:
    hour = int(m[2])
    if m[1] in ("下午", "晚上", "晚") and hour < 12:
        hour += 12
    return f"{hour:02d}:{_minutes(m[3])}"


# ---------------------------------------------------------------------- moments
def place_of(lon: float, lat: float) -> tuple[str | None, str]:
    """The holidays' country and the time zone of a place.

    The country is ``"CN"`` inside China, else ``None`` (no public holidays known).
    """
    from service_circle.coords import in_china

    china = bool(in_china(np.array([lon]), np.array([lat]))[0])
    return ("CN" if china else None), zone_at(lon, lat)


@lru_cache(maxsize=256)
def zone_at(lon: float, lat: float) -> str:
    """The time zone of a place (as the parser finds it from coordinates)."""
    import opening_hours

    probe = opening_hours.OpeningHours("Mo-Su 00:00-00:01", coords=(lat, lon))
    change = probe.next_change(dt.datetime.combine(ORDINARY_MONDAY, dt.time(12)))
    zone = getattr(change.tzinfo, "key", None) if change is not None else None
    return str(zone or "UTC")


def parse_at(text: str | dt.datetime, timezone: str = "Asia/Shanghai") -> dt.datetime:
    """A moment as local wall time (naive) at the study's place.

    ``"Tue 23:00"``, ``"周二 23:00"`` or ``"星期二 23:00"``: that weekday of the ordinary week
    (:data:`ORDINARY_MONDAY`); ``"2026-12-05T12:00"`` or ``"2026-12-05 12:00"``: that day,
    its public holidays included. A time with an offset (``…+08:00``, ``…Z``) is converted
    to ``timezone`` first.

    Raises
    ------
    InputError
        Anything else, naming the forms understood.
    """
    if isinstance(text, dt.datetime):
        moment = text
    else:
        s = str(text).strip().translate(_WIDTH)
        found = _weekday_time(s) or _iso(s)
        if found is None:
            raise InputError(
                f"at: cannot read {text!r} as a moment; write a weekday and a time "
                "('Tue 23:00', '周二 23:00') or a date and time ('2026-12-05T12:00')"
            )
        moment = found
    if moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(timezone)).replace(tzinfo=None)
    return moment


def _weekday_time(s: str) -> dt.datetime | None:
    m = re.fullmatch(r"(?:(?:周|星期|礼拜)([一二三四五六日天七])|([A-Za-z]{2,9})\.?)\s*"
                     r"(\d{1,2}):(\d{2})", s)  # fmt: skip
    if m is None:
        return None
    if m[1]:
        day = DAYS.index(_ZH_DAYS[m[1]])
    else:
        name = m[2].lower()
        day = _EN_DAYS.get(name[:3], DAYS.index(m[2]) if m[2] in DAYS else -1)
        if day < 0:
            return None
    hour, minute = int(m[3]), int(m[4])
    if hour > 23 or minute > 59:
        return None
    return dt.datetime.combine(ORDINARY_MONDAY + dt.timedelta(days=day), dt.time(hour, minute))


def _iso(s: str) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None


def describe_at(moment: dt.datetime, lang: str = "en") -> str:
    """``"Tue 23:00"`` for a moment of the ordinary week, else ``"2026-12-05 12:00"``."""
    monday = ORDINARY_MONDAY
    if monday <= moment.date() < monday + dt.timedelta(days=7):
        day = moment.weekday()
        name = "周" + "一二三四五六日"[day] if lang == "zh" else _WEEKDAY_NAMES[day]
        return f"{name} {moment:%H:%M}"
    return f"{moment:%Y-%m-%d %H:%M}"


@lru_cache(maxsize=4096)
def _hours(text: str, country: str | None) -> Any:
    """The parsed hours (public holidays of ``country``), once per text."""
    import opening_hours

    if country:
        return opening_hours.OpeningHours(text, country=country)
    return opening_hours.OpeningHours(text)


def status_at(hours: HoursLike, moment: dt.datetime, country: str | None = "CN") -> np.ndarray:
    """Each facility's state at ``moment``: ``"open"``, ``"closed"`` or ``"unknown"``.

    No hours is unknown, and so is what the hours leave open (``"Mo-Fr 10:00-12:00
    unknown"``). Each distinct hours text is evaluated once.
    """
    distinct, which = _distinct(hours)
    states = ["unknown" if text is None else
              str(_hours(text, country).state(moment)[0]).rsplit(".", 1)[-1].lower()
              for text in distinct]  # fmt: skip
    return np.array(states, dtype=object)[which]


def _distinct(hours: HoursLike) -> tuple[list[str | None], np.ndarray]:
    """The distinct hours texts (``None`` for unknown) and each facility's index into them."""
    texts = [h if isinstance(h, str) else None for h in hours]
    index: dict[str | None, int] = {}
    which = np.array([index.setdefault(t, len(index)) for t in texts], dtype=np.int64)
    return list(index), which


def open_mask(
    hours: HoursLike,
    moment: dt.datetime,
    *,
    unknown_open: bool = True,
    country: str | None = "CN",
) -> np.ndarray:
    """Which facilities are open at ``moment`` (those of unknown hours: ``unknown_open``)."""
    state = status_at(hours, moment, country)
    return (state == "open") | ((state == "unknown") & unknown_open)


@dataclass(frozen=True)
class Window:
    """A named stretch of the week when a category is needed.

    ``days`` are OSM day codes (``"Mo-Fr"``, ``"Mo-Su"``, ``"Sa,Su"``); ``start`` and
    ``end`` are ``"HH:MM"`` (an end at or before the start runs past midnight; ``"24:00"``
    is midnight). A facility serves the window when it is open throughout it on every
    one of those days of the ordinary week.
    """

    key: str
    name_zh: str
    name_en: str
    days: str
    start: str
    end: str

    def name(self, lang: str = "en") -> str:
        """The window's name in ``"zh"`` or ``"en"``."""
        return self.name_zh if lang == "zh" else self.name_en

    def day_numbers(self) -> list[int]:
        """The weekdays (0 = Monday) the window covers."""
        out: list[int] = []
        for part in self.days.split(","):
            first, _, last = part.strip().partition("-")
            a = DAYS.index(first)
            b = DAYS.index(last) if last else a
            out += list(range(a, b + 1)) if a <= b else [*range(a, 7), *range(b + 1)]
        return sorted(set(out))

    def spans(self) -> list[tuple[dt.datetime, dt.datetime]]:
        """Each day's stretch as local wall times of the ordinary week."""
        start, end = _clock_time(self.start), _clock_time(self.end)
        out = []
        for day in self.day_numbers():
            date = ORDINARY_MONDAY + dt.timedelta(days=day)
            a = dt.datetime.combine(date, dt.time()) + start
            b = dt.datetime.combine(date, dt.time()) + end
            out.append((a, b if b > a else b + dt.timedelta(days=1)))
        return out

    def open_mask(
        self, hours: HoursLike, *, unknown_open: bool = True, country: str | None = "CN"
    ) -> np.ndarray:
        """Which facilities are open throughout the window (unknown hours: ``unknown_open``)."""
        distinct, which = _distinct(hours)
        spans = self.spans()
        served = [unknown_open if text is None else _open_throughout(_hours(text, country), spans)
                  for text in distinct]  # fmt: skip
        return np.array(served, dtype=bool)[which]

    def to_dict(self) -> dict[str, str]:
        """JSON-ready."""
        return {"key": self.key, "name_zh": self.name_zh, "name_en": self.name_en,
                "days": self.days, "start": self.start, "end": self.end}  # fmt: skip


def _clock_time(text: str) -> dt.timedelta:
    hour, minute = (int(v) for v in text.split(":"))
    return dt.timedelta(hours=hour, minutes=minute)


def _open_throughout(parsed: Any, spans: list[tuple[dt.datetime, dt.datetime]]) -> bool:
    for start, end in spans:
        state, _ = parsed.state(start)
        if str(state).rsplit(".", 1)[-1].lower() != "open":
            return False
        change = parsed.next_change(start)
        if change is not None and change.replace(tzinfo=None) < end:
            return False
    return True

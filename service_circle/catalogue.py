"""The facility category catalogue: what a category is called, who it serves, how to find it.

The default catalogue ships as ``service_circle/data/categories.toml`` (see its header for
the fields and their sources). A user catalogue in the same format replaces it; a malformed
one is refused with a message that names the entry and the field.
"""

from __future__ import annotations

import logging
import math
import os
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

from service_circle._errors import InputError, InputNotFoundError, UnknownCategoryError
from service_circle._validate import MAX_METRES, MAX_MINUTES
from service_circle.hours import DAYS, Window

logger = logging.getLogger(__name__)

#: The tiers of the living circle, (English, Chinese): GB 50180-2018's four urban levels and
#: TD/T 1062-2021's two rural ones (see ``docs/standards.md``).
LEVEL_NAMES: dict[str, tuple[str, str]] = {
    "block": ("block", "居住街坊"),
    "5min": ("5-minute", "五分钟生活圈"),
    "10min": ("10-minute", "十分钟生活圈"),
    "15min": ("15-minute", "十五分钟生活圈"),
    "village": ("village", "村/组层级"),
    "township": ("township", "乡集镇层级"),
}
LEVELS = tuple(LEVEL_NAMES)
#: MOFCOM's two formats of the convenience living circle (城市一刻钟便民生活圈建设指南, 2021).
FORMAT_NAMES: dict[str, tuple[str, str]] = {
    "basic": ("basic guarantee", "基本保障类"),
    "quality": ("quality improvement", "品质提升类"),
}
#: The groups every demand carries; any other age band ``A_B`` (ages A to B-1, e.g.
#: ``12_15`` for 初中) or ``Aplus`` is accepted too, its column made when a study is built.
GROUPS = ("everyone", "60plus", "0_3", "3_6", "6_12")
CAPACITY_UNITS = ("places", "seats", "beds", "m2", "none")
#: The population column each named demand group is counted in (see :func:`group_column`).
GROUP_COLUMNS = {g: "population" if g == "everyone" else f"pop_{g}" for g in GROUPS}
#: The oldest age a band may name.
MAX_AGE = 100
#: OSM keys that make a feature a POI whose name keywords may be read.
POI_KEYS = ("amenity", "shop", "office", "healthcare", "social_facility", "leisure", "craft")

TagRule = Mapping[str, tuple[str, ...]]
_BAND = re.compile(r"^(\d{1,3})_(\d{1,3})$|^(\d{1,3})plus$")
_BRACKETS = re.compile(r"[(（\[【][^()（）\[\]【】]*[)）\]】]")


def age_band(group: str) -> tuple[int, int | None] | None:
    """The ages a group covers, ``(first, end)`` with ``end`` excluded (``None``: no end).

    ``"0_3"`` is ages 0, 1 and 2: ``(0, 3)``; ``"60plus"`` is ``(60, None)``;
    ``"everyone"`` and anything that is not an age band give ``None``.

    Examples
    --------
    >>> age_band("12_15"), age_band("60plus"), age_band("everyone")
    ((12, 15), (60, None), None)
    """
    m = _BAND.match(group)
    if not m:
        return None
    if m.group(3) is not None:
        return int(m.group(3)), None
    return int(m.group(1)), int(m.group(2))


def group_column(group: str) -> str:
    """The demand column a group is counted in: ``population`` or ``pop_<group>``."""
    return "population" if group == "everyone" else f"pop_{group}"


def check_group(group: object, where: str) -> str:
    """A valid group (``everyone``, ``A_B`` with A < B ≤ :data:`MAX_AGE`, ``Aplus``).

    Raises
    ------
    InputError
        Naming ``where`` and the groups accepted.
    """
    band = age_band(group) if isinstance(group, str) else None
    if group == "everyone" or (band is not None and band[0] <= MAX_AGE and (
            band[1] is None or band[0] < band[1] <= MAX_AGE)):  # fmt: skip
        return str(group)
    raise InputError(
        f"{where}: field 'group' is {group!r}, expected everyone, an age band A_B (ages A to "
        f"B-1, A < B <= {MAX_AGE}, e.g. 12_15) or Aplus (e.g. 60plus)"
    )


def _head_name(name: str) -> str:
    """The name without bracketed parts (``全家便利店(西城店)`` → ``全家便利店``)."""
    out = _BRACKETS.sub("", name)
    return out if out.strip() else name


@dataclass(frozen=True)
class Category:
    """One facility category of the catalogue (see ``data/categories.toml``)."""

    key: str
    name_zh: str
    name_en: str
    level: str
    minutes: float
    metres: float
    group: str
    capacity_unit: str
    basic_guarantee: bool
    osm: tuple[TagRule, ...]
    keywords: tuple[str, ...]
    amap_typecodes: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    clause: str = ""
    mofcom: str = ""
    road_minutes: float | None = None
    #: when it is needed (the elderly canteen: weekday lunch; the pharmacy: night)
    windows: tuple[Window, ...] = ()

    def name(self, lang: str = "en") -> str:
        """The display name in ``"zh"`` or ``"en"``."""
        return self.name_zh if lang == "zh" else self.name_en

    def level_name(self, lang: str = "en") -> str:
        """The tier's name, e.g. ``"十五分钟生活圈"``."""
        return LEVEL_NAMES[self.level][1 if lang == "zh" else 0]

    def format_name(self, lang: str = "en") -> str:
        """MOFCOM's format (``"基本保障类"`` / ``"品质提升类"``), ``""`` for none."""
        return FORMAT_NAMES[self.mofcom][1 if lang == "zh" else 0] if self.mofcom else ""

    @property
    def group_column(self) -> str:
        """The demand column this category is measured against (``pop_60plus`` …)."""
        return group_column(self.group)

    def osm_keys(self) -> set[str]:
        """The OSM keys its tag rules read."""
        return {k for rule in self.osm for k in rule}

    def matches_tags(self, tags: Mapping[str, str]) -> bool:
        """Whether any tag rule matches a feature's tags."""
        return any(_rule_matches(rule, tags) for rule in self.osm)

    def keyword_match(self, name: str | None) -> tuple[bool, int, int]:
        """How well a keyword names ``name``: ``(outside brackets, end, length)``.

        A Chinese name ends in what the place is (its head: 幼儿园 in 阳光幼儿园, 公厕 in
        幼儿园公厕), so of several keywords the one ending last wins, then the longest.
        Bracketed parts (a branch, ``(西城店)``) count only when the rest names nothing,
        and below any match outside them. ``(False, 0, 0)``: no keyword, or an exclusion.
        """
        if not name or self.excluded(name):
            return False, 0, 0
        head = _head_name(name).lower()
        for outside, text in ((True, head), (False, name.lower())):
            found = [(text.rfind(k.lower()) + len(k), len(k)) for k in self.keywords
                     if k and k.lower() in text]  # fmt: skip
            if found:
                return (outside, *max(found))
        return False, 0, 0

    def excluded(self, name: str | None) -> bool:
        """Whether ``name`` holds one of the category's exclusions (口腔 for a clinic …)."""
        low = (name or "").lower()
        return bool(low) and any(k.lower() in low for k in self.exclude)

    def matches_typecode(self, typecode: str) -> bool:
        """Whether an Amap typecode (``"141204"``, or ``"141204|141203"``) belongs here."""
        codes = [c.strip() for c in str(typecode).split("|") if c.strip()]
        return any(c.startswith(p) for c in codes for p in self.amap_typecodes)


def _loose(text: str) -> str:
    import unicodedata

    folded = unicodedata.normalize("NFKC", str(text)).strip().lower()
    return "".join(folded.replace("_", " ").replace("-", " ").split())


def _rule_matches(rule: TagRule, tags: Mapping[str, str]) -> bool:
    for key, wanted in rule.items():
        value = tags.get(key)
        if value is None:
            return False
        if "*" in wanted:
            continue
        if not {v.strip() for v in str(value).split(";")} & set(wanted) and value not in wanted:
            return False
    return True


@dataclass(frozen=True)
class Catalogue:
    """The categories, in catalogue order, and where they came from."""

    categories: tuple[Category, ...]
    source: str
    exclude: tuple[str, ...] = ()

    def __iter__(self):
        return iter(self.categories)

    def __len__(self) -> int:
        return len(self.categories)

    def __contains__(self, key: object) -> bool:
        return any(c.key == key for c in self.categories)

    def keys(self) -> list[str]:
        """The category keys."""
        return [c.key for c in self.categories]

    def __getitem__(self, key: str) -> Category:
        for category in self.categories:
            if category.key == key:
                return category
        raise UnknownCategoryError(
            f"unknown category {key!r}: the catalogue ({self.source}) has {', '.join(self.keys())}"
        )

    def select(self, keys: Sequence[str] | None) -> Catalogue:
        """A catalogue of the given keys only (all when ``keys`` is empty or ``None``)."""
        if not keys:
            return self
        return Catalogue(tuple(self[k] for k in keys), self.source, self.exclude)

    def classify(
        self,
        name: str | None = None,
        *,
        tags: Mapping[str, str] | None = None,
        typecode: str | None = None,
    ) -> list[str]:
        """The categories of a POI, from its OSM tags, its Amap typecode and its name.

        1. A name holding one of the catalogue's exclusions (停车场, 旧址, 批发 …) is no
           facility at all.
        2. Tag rules first, else the primary (first) Amap typecode; a category whose own
           exclusions are in the name (口腔 for a clinic) is not taken.
        3. When the name says something more specific than the tags or the code — a
           keyword of three characters or more of another category, ending later or longer
           than any of theirs (社区卫生服务中心 tagged as a clinic, 街道党群服务中心 tagged
           as a community centre) — the name wins; of several tag hits, the one the name
           names.
        4. Without tags or a code: the category the name says (:meth:`classify_name`), if the
           feature is a POI at all (an OSM feature needs an amenity/shop/office… tag).
        """
        name = name if name is not None else (tags or {}).get("name")
        if self.excluded(name):
            return []
        hits = [c.key for c in self.categories if c.matches_tags(tags)] if tags else []
        if not hits and typecode:
            hits = self.classify_typecode(typecode)[:1]
        hits = [k for k in hits if not self[k].excluded(name)]
        best = self.classify_name(name)
        if hits:
            if best and best not in hits:
                own = max(self[k].keyword_match(name) for k in hits)
                better = self[best].keyword_match(name)
                if better[2] >= 3 and better > own:
                    return [best]
            if len(hits) > 1 and best in hits:
                return [best]
            return hits
        if tags is not None and not any(k in tags for k in POI_KEYS):
            return []
        return [best] if best else []

    def excluded(self, name: str | None) -> bool:
        """Whether ``name`` holds one of the catalogue-wide exclusions (停车场, 旧址 …)."""
        low = (name or "").lower()
        return bool(low) and any(k.lower() in low for k in self.exclude)

    def classify_tags(self, tags: Mapping[str, str]) -> list[str]:
        """Categories of an OSM feature (:meth:`classify` with its tags and name)."""
        return self.classify(tags=tags)

    def classify_name(self, name: str | None) -> str | None:
        """The category a name says, if any: the keyword ending last, then the longest.

        The catalogue's and each category's exclusions are respected (see
        :meth:`Category.keyword_match`).
        """
        if self.excluded(name):
            return None
        scored = [(c.keyword_match(name), -i, c.key) for i, c in enumerate(self.categories)]
        score, _, key = max(scored, default=((False, 0, 0), 0, None))
        return key if score[2] else None

    def classify_typecode(self, typecode: str) -> list[str]:
        """Categories of an Amap typecode, the first code of ``"a|b"`` first.

        Amap lists a POI's primary type first; a category matched only by a later code
        comes after (and a reader takes the first).
        """
        out: list[str] = []
        for code in [c.strip() for c in str(typecode).split("|") if c.strip()]:
            for c in self.categories:
                if c.key not in out and c.matches_typecode(code):
                    out.append(c.key)
        return out

    def resolve(self, value: str) -> str | None:
        """The key of a category named by its key, its Chinese or English name, or an alias.

        ``"老年食堂"``, ``"elderly canteen"`` and ``"elderly_canteen"`` all give
        ``"elderly_canteen"``: a value matches a key, a name (or one part of a name written
        ``"A / B"``) or a keyword, compared without case, spaces or width differences.
        ``None`` when nothing, or more than one category, matches exactly.
        """
        wanted = _loose(value)
        if not wanted:
            return None
        for c in self.categories:
            if wanted == _loose(c.key):
                return c.key
        hits = []
        for c in self.categories:
            names = [c.name_en, *c.name_zh.split("/"), *c.name_en.split("/"), *c.keywords]
            if any(wanted == _loose(n) for n in names):
                hits.append(c.key)
        return hits[0] if len(hits) == 1 else None

    def osm_keys(self) -> set[str]:
        """Every OSM key the catalogue reads (tag rules, POI keys and ``name``)."""
        return set().union(*(c.osm_keys() for c in self.categories)) | set(POI_KEYS) | {"name"}


def classification_scores(
    rows: Sequence[Mapping[str, str]], catalogue: Catalogue | None = None
) -> list[dict[str, Any]]:
    """Precision and recall per category of :meth:`Catalogue.classify` on labelled POIs.

    Each row has ``name``, ``tags`` (``"amenity=clinic;healthcare=clinic"``, empty for none),
    ``typecode`` and ``expected`` (a key, or empty: no category). A row with tags is read
    as an OSM feature, else as an export row (name and typecode).

    Returns
    -------
    list of dict
        Per category: ``category``, ``positives``, ``true``, ``false_positive``,
        ``false_negative``, ``precision``, ``recall`` (NaN when undefined), and
        ``errors`` (the names misread).
    """
    catalogue = catalogue or load_catalogue()
    counts = {c.key: {"tp": 0, "fp": 0, "fn": 0, "n": 0} for c in catalogue}
    errors: dict[str, list[str]] = {c.key: [] for c in catalogue}
    for row in rows:
        tags_text = (row.get("tags") or "").strip()
        tags = dict(part.split("=", 1) for part in tags_text.split(";") if "=" in part)
        name = row.get("name") or None
        if tags and name:
            tags.setdefault("name", name)
        got = set(catalogue.classify(name, tags=tags or None,
                                     typecode=row.get("typecode") or None))  # fmt: skip
        want = {row["expected"]} if row.get("expected") else set()
        for key in want:
            if key not in counts:
                raise InputError(f"labelled POI {name!r}: unknown category {key!r}")
            counts[key]["n"] += 1
        for key in got | want:
            if key in got and key in want:
                counts[key]["tp"] += 1
            elif key in got:
                counts[key]["fp"] += 1
                errors[key].append(f"{name} (not {key})")
            else:
                counts[key]["fn"] += 1
                errors[key].append(f"{name} (missed)")
    out = []
    for key, c in counts.items():
        found, labelled = c["tp"] + c["fp"], c["tp"] + c["fn"]
        out.append({
            "category": key, "positives": c["n"], "true": c["tp"],
            "false_positive": c["fp"], "false_negative": c["fn"],
            "precision": c["tp"] / found if found else float("nan"),
            "recall": c["tp"] / labelled if labelled else float("nan"),
            "errors": errors[key],
        })  # fmt: skip
    return out


def load_catalogue(path: str | os.PathLike | None = None) -> Catalogue:
    """Load a catalogue file, or the default one shipped with the package.

    Raises
    ------
    InputError
        If the file is not TOML, or an entry misses a field or has a wrong value; the
        message names the entry and the field.
    """
    if path is None:
        return _default_catalogue()
    path = Path(path)
    if not path.exists():
        raise InputNotFoundError(f"catalogue {path} does not exist")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"catalogue {path} is not valid TOML: {exc}") from None
    return parse_catalogue(data, source=str(path))


@cache
def _default_catalogue() -> Catalogue:
    text = resources.files("service_circle").joinpath("data/categories.toml").read_text("utf-8")
    return parse_catalogue(tomllib.loads(text), source="built-in catalogue")


def parse_catalogue(data: Mapping[str, Any], *, source: str) -> Catalogue:
    """Validate a parsed catalogue (a ``{"category": [...]}`` mapping)."""
    entries = data.get("category")
    if not isinstance(entries, list) or not entries:
        raise InputError(f"catalogue {source} has no [[category]] entries")
    categories = []
    seen: set[str] = set()
    for i, entry in enumerate(entries, start=1):
        where = f"catalogue {source}: category #{i}"
        if not isinstance(entry, dict):
            raise InputError(f"{where} is not a table")
        key = entry.get("key")
        if not isinstance(key, str) or not key.strip():
            raise InputError(f"{where}: field 'key' is missing or not a string")
        where = f"{where} ({key!r})"
        if key in seen:
            raise InputError(f"{where}: the key is used twice")
        seen.add(key)
        categories.append(_parse_entry(entry, key, where))
    exclude = data.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(v, str) and v for v in exclude):
        raise InputError(f"catalogue {source}: 'exclude' must be a list of name keywords")
    return Catalogue(tuple(categories), source, tuple(exclude))


def _parse_entry(entry: dict, key: str, where: str) -> Category:
    def text(field: str) -> str:
        value = entry.get(field)
        if not isinstance(value, str) or not value.strip():
            raise InputError(f"{where}: field {field!r} is missing or not a string")
        return value

    def number(field: str) -> float:
        value = entry.get(field)
        if (isinstance(value, bool) or not isinstance(value, int | float)
                or not math.isfinite(value) or value <= 0):  # fmt: skip
            raise InputError(f"{where}: field {field!r} must be a positive number, got {value!r}")
        most = {"minutes": MAX_MINUTES, "metres": MAX_METRES}.get(field)
        if most is not None and value > most:
            raise InputError(f"{where}: field {field!r} is {value!r}, more than a walking "
                             f"threshold can be (at most {most:g})")  # fmt: skip
        return float(value)

    def choice(field: str, allowed: tuple[str, ...]) -> str:
        value = text(field)
        if value not in allowed:
            raise InputError(
                f"{where}: field {field!r} is {value!r}, expected one of {', '.join(allowed)}"
            )
        return value

    def strings(field: str) -> tuple[str, ...]:
        value = entry.get(field, [])
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise InputError(f"{where}: field {field!r} must be a list of strings")
        return tuple(value)

    rules = entry.get("osm", [])
    if not isinstance(rules, list) or not all(isinstance(r, dict) and r for r in rules):
        raise InputError(f"{where}: field 'osm' must be a list of tag tables, e.g. "
                         '[{ amenity = ["kindergarten"] }]')  # fmt: skip
    parsed_rules = []
    for rule in rules:
        parsed = {}
        for tag, values in rule.items():
            values = [values] if isinstance(values, str) else values
            if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                raise InputError(f"{where}: field 'osm', tag {tag!r} needs a list of strings")
            parsed[tag] = tuple(values)
        parsed_rules.append(parsed)
    basic = entry.get("basic_guarantee")
    if basic is not None and not isinstance(basic, bool):
        raise InputError(f"{where}: field 'basic_guarantee' must be true or false")
    mofcom = entry.get("mofcom", "basic" if basic else "")
    if mofcom not in ("", *FORMAT_NAMES):
        raise InputError(
            f"{where}: field 'mofcom' is {mofcom!r}, expected basic (基本保障类) or quality "
            "(品质提升类), or leave it out"
        )
    if basic is not None and basic != (mofcom == "basic"):
        raise InputError(
            f"{where}: basic_guarantee = {str(basic).lower()} contradicts mofcom = "
            f"{mofcom!r}: give one of them"
        )
    road = entry.get("road_minutes")
    if road is not None:
        road = number("road_minutes")
    keywords, exclude = strings("keywords"), strings("exclude")
    clash = sorted({k for k in keywords if any(x.lower() in k.lower() for x in exclude)})
    if clash:
        raise InputError(
            f"{where}: keyword(s) {', '.join(clash)} hold one of its own exclusions: the "
            "category could never be found by them"
        )
    windows = _windows(entry.get("windows", []), where)
    clause = entry.get("clause", "")
    if not isinstance(clause, str):
        raise InputError(f"{where}: field 'clause' must be a string (the standard's clause)")
    return Category(
        key=key,
        name_zh=text("name_zh"),
        name_en=text("name_en"),
        level=choice("level", LEVELS),
        minutes=number("minutes"),
        metres=number("metres"),
        group=check_group(entry.get("group"), where),
        capacity_unit=choice("capacity_unit", CAPACITY_UNITS),
        basic_guarantee=mofcom == "basic",
        osm=tuple(parsed_rules),
        keywords=keywords,
        amap_typecodes=strings("amap_typecodes"),
        exclude=exclude,
        clause=clause,
        mofcom=mofcom,
        road_minutes=road,
        windows=windows,
    )


_CLOCK = re.compile(r"^(?:[01]\d|2[0-3]):[0-5]\d$|^24:00$")
_DAY_LIST = re.compile(rf"^(?:{'|'.join(DAYS)})(?:-(?:{'|'.join(DAYS)}))?"
                       rf"(?:,(?:{'|'.join(DAYS)})(?:-(?:{'|'.join(DAYS)}))?)*$")  # fmt: skip


def _windows(value: Any, where: str) -> tuple[Window, ...]:
    """A category's named windows: ``[{key, name_zh, name_en, days, start, end}]``."""
    example = ('[{ key = "lunch", name_zh = "工作日午餐", name_en = "weekday lunch", '
               'days = "Mo-Fr", start = "11:30", end = "12:30" }]')  # fmt: skip
    if not isinstance(value, list):
        raise InputError(f"{where}: field 'windows' must be a list of tables, e.g. {example}")
    out = []
    for item in value:
        fields = ("key", "name_zh", "name_en", "days", "start", "end")
        if not isinstance(item, dict) or not all(isinstance(item.get(f), str) for f in fields):
            raise InputError(f"{where}: each window needs {', '.join(fields)} (text), e.g. "
                             f"{example}")  # fmt: skip
        if not _DAY_LIST.match(item["days"]):
            raise InputError(f"{where}: window {item['key']!r}: days {item['days']!r} must be "
                             "OSM day codes such as Mo-Fr, Mo-Su or Sa,Su")  # fmt: skip
        for f in ("start", "end"):
            if not _CLOCK.match(item[f]):
                raise InputError(f"{where}: window {item['key']!r}: {f} {item[f]!r} must be "
                                 "HH:MM (00:00 to 24:00)")  # fmt: skip
        out.append(Window(*(item[f] for f in fields)))
    return tuple(out)

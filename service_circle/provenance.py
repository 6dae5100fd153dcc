"""Where a study's data came from, and the attribution its outputs must carry.

A study records a :class:`Source` for each input it was built from — the street network,
each facility file, the demand — and every map, report and API answer shows the
attribution of those sources: "© OpenStreetMap contributors (ODbL 1.0)" where OSM data
was used (the ODbL asks for it on derived maps and databases), a bureau's file by its
name, WorldPop with its licence. A study built only from a planning office's files does
not claim to be OpenStreetMap's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import PurePath

import pandas as pd

#: The attribution OSM's licence asks for.
OSM = "© OpenStreetMap contributors (ODbL 1.0)"
WORLDPOP = "WorldPop (CC BY 4.0)"
_OSM_FILES = (".pbf", ".osm", ".osm.bz2", ".osm.xml", ".graphml")


@dataclass(frozen=True)
class Source:
    """One input of a study.

    Attributes
    ----------
    role
        What it gave: ``"network"``, ``"facilities"``, ``"demand"``.
    name
        The file or service it came from.
    attribution
        What outputs built from it must show.
    """

    role: str
    name: str
    attribution: str

    def to_dict(self) -> dict[str, str]:
        """As a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Source:
        """From :meth:`to_dict`'s output."""
        return cls(str(data["role"]), str(data["name"]), str(data["attribution"]))


def attribution_of_file(name: str) -> str:
    """What outputs built from a file must show: OSM's licence for OSM data, else its name."""
    return _file_attribution(name)


def _file_attribution(name: str) -> str:
    lower = name.lower()
    if lower.endswith(_OSM_FILES) or lower.startswith(("osm ", "osm:", "openstreetmap")):
        return OSM
    if "worldpop" in lower:
        return WORLDPOP
    return PurePath(name).name or name


def network_source(source: str) -> Source:
    """The source of a network, from its ``WalkNetwork.source`` text."""
    if not source:
        return Source("network", "a network given in memory", "street network given by the user")
    return Source("network", source, _file_attribution(source))


def frame_sources(role: str, frame: pd.DataFrame) -> list[Source]:
    """The sources of facility or demand rows, from their ``source`` column.

    ``osm`` rows are OpenStreetMap's; other values name a file; several sources of one row
    are joined by `` + `` (a census file spread onto OSM buildings).
    """
    if "source" not in frame.columns or frame.empty:
        return [Source(role, f"{role} given in memory", f"{role} given by the user")]
    out = []
    names = {part.strip() for v in frame["source"].dropna() for part in str(v).split(" + ")}
    for value in sorted(names):
        if value.lower().startswith("osm"):
            out.append(Source(role, value, OSM))
        elif value in ("buildings", "polygons", "grid", "h3", ""):
            out.append(Source(role, value or role, f"{role} given by the user"))
        else:
            out.append(Source(role, value, _file_attribution(value)))
    return out


def attribution(sources: Iterable[Source]) -> str:
    """The attributions of ``sources``, each once, OSM's first."""
    seen: list[str] = []
    for source in sources:
        if source.attribution not in seen:
            seen.append(source.attribution)
    seen.sort(key=lambda a: a != OSM)
    return "; ".join(seen)


def sources_of(network_text: str, frames: Sequence[tuple[str, pd.DataFrame]]) -> list[Source]:
    """The sources of a study built from a network and (role, frame) inputs."""
    out = [network_source(network_text)]
    for role, frame in frames:
        out.extend(frame_sources(role, frame))
    return out

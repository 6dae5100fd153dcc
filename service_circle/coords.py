"""Chinese coordinate systems: WGS-84 ↔ GCJ-02 ↔ BD-09, vectorised over whole columns.

POIs exported from Amap or Tencent are in GCJ-02 (about 100–700 m off the truth), Baidu's
in BD-09 (GCJ-02 plus another ~1 km); OSM, GPS and WorldPop are WGS-84 (official CGCS2000,
EPSG:4490, equals WGS-84 at planning scale). Mixing them unconverted moves a kindergarten
across half a 5-minute circle, so every input is brought to WGS-84 first.

- WGS-84 → GCJ-02: the published offset on the Krasovsky 1940 ellipsoid
  (a = 6 378 245 m, e² = 0.00669342162296594323), applied only inside China's rough
  bounding box (:func:`in_china`), as the offset itself is.
- GCJ-02 → BD-09: Baidu's rotation and shift.
- The reverse directions iterate the forward transform to a fixed point (error well below
  a millimetre), not the one-step approximation (1–2 m).

Every function takes and returns ``(lon, lat)`` arrays (or scalars) in degrees.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from service_circle._errors import CRSError

logger = logging.getLogger(__name__)

GCJ_A = 6378245.0
GCJ_EE = 0.00669342162296594323
BD_DLON = 0.0065
BD_DLAT = 0.006
_BD_K = np.pi * 3000.0 / 180.0

#: Names accepted for the Chinese systems (and WGS-84 itself).
ChineseCRS = Literal["wgs84", "gcj02", "bd09"]
_ALIASES = {
    "wgs84": "wgs84",
    "wgs-84": "wgs84",
    "epsg:4326": "wgs84",
    "4326": "wgs84",
    "cgcs2000": "wgs84",
    "epsg:4490": "wgs84",
    "gcj02": "gcj02",
    "gcj-02": "gcj02",
    "gcj": "gcj02",
    "amap": "gcj02",
    "tencent": "gcj02",
    "bd09": "bd09",
    "bd-09": "bd09",
    "baidu": "bd09",
}

Pair = tuple[np.ndarray, np.ndarray]


def chinese_crs(name: str) -> ChineseCRS | None:
    """``"wgs84"``, ``"gcj02"`` or ``"bd09"`` for a name or alias; ``None`` otherwise."""
    return _ALIASES.get(str(name).strip().lower())  # type: ignore[return-value]


def in_china(lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
    """Whether points lie in the box where GCJ-02 is applied.

    The box is 72.004–137.8347°E, 0.8293–55.8271°N, as in prcoords and eviltransform.
    """
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    return (lon >= 72.004) & (lon <= 137.8347) & (lat >= 0.8293) & (lat <= 55.8271)


def _gcj_offset(lon: np.ndarray, lat: np.ndarray) -> Pair:
    """GCJ-02 minus WGS-84, in degrees, at WGS-84 ``(lon, lat)``."""
    x = lon - 105.0
    y = lat - 35.0
    wave_x = (20 * np.sin(6 * np.pi * x) + 20 * np.sin(2 * np.pi * x)) * 2 / 3
    d_lat_m = (
        -100.0 + 2 * x + 3 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * np.sqrt(np.abs(x))
        + wave_x
        + (20 * np.sin(np.pi * y) + 40 * np.sin(np.pi * y / 3)) * 2 / 3
        + (160 * np.sin(np.pi * y / 12) + 320 * np.sin(np.pi * y / 30)) * 2 / 3
    )  # fmt: skip
    d_lon_m = (
        300.0 + x + 2 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * np.sqrt(np.abs(x))
        + wave_x
        + (20 * np.sin(np.pi * x) + 40 * np.sin(np.pi * x / 3)) * 2 / 3
        + (150 * np.sin(np.pi * x / 12) + 300 * np.sin(np.pi * x / 30)) * 2 / 3
    )  # fmt: skip
    rad = np.radians(lat)
    magic = 1 - GCJ_EE * np.sin(rad) ** 2
    sqrt_magic = np.sqrt(magic)
    d_lat = d_lat_m * 180.0 / ((GCJ_A * (1 - GCJ_EE)) / (magic * sqrt_magic) * np.pi)
    d_lon = d_lon_m * 180.0 / (GCJ_A / sqrt_magic * np.cos(rad) * np.pi)
    return d_lon, d_lat


def _arrays(lon, lat) -> Pair:
    lon = np.asarray(lon, dtype=np.float64)
    lat = np.asarray(lat, dtype=np.float64)
    if lon.shape != lat.shape:
        raise CRSError(f"lon and lat differ in shape: {lon.shape} and {lat.shape}")
    return lon, lat


def wgs84_to_gcj02(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    """WGS-84 → GCJ-02 (Amap, Tencent); points outside China are returned unchanged."""
    lon, lat = _arrays(lon, lat)
    d_lon, d_lat = _gcj_offset(lon, lat)
    inside = in_china(lon, lat)
    return np.where(inside, lon + d_lon, lon), np.where(inside, lat + d_lat, lat)


def gcj02_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    """GCJ-02 → BD-09 (Baidu)."""
    lon, lat = _arrays(lon, lat)
    z = np.hypot(lon, lat) + 2e-5 * np.sin(lat * _BD_K)
    theta = np.arctan2(lat, lon) + 3e-6 * np.cos(lon * _BD_K)
    return z * np.cos(theta) + BD_DLON, z * np.sin(theta) + BD_DLAT


def wgs84_to_bd09(lon: npt.ArrayLike, lat: npt.ArrayLike) -> Pair:
    """WGS-84 → BD-09."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def _invert(forward: Callable[..., Pair], lon, lat, *, tol_deg: float, max_iter: int) -> Pair:
    """Solve ``forward(x) = (lon, lat)`` by fixed-point iteration, all points at once."""
    lon, lat = _arrays(lon, lat)
    x, y = lon.copy(), lat.copy()
    for _ in range(max_iter):
        fx, fy = forward(x, y)
        dx, dy = fx - lon, fy - lat
        x, y = x - dx, y - dy
        if not np.any(np.abs(dx) > tol_deg) and not np.any(np.abs(dy) > tol_deg):
            break
    return x, y


def gcj02_to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> Pair:
    """GCJ-02 → WGS-84 by iterating the forward offset (error ≪ 1 mm)."""
    return _invert(wgs84_to_gcj02, lon, lat, tol_deg=tol_deg, max_iter=max_iter)


def bd09_to_gcj02(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> Pair:
    """BD-09 → GCJ-02 by iterating Baidu's forward transform."""
    return _invert(gcj02_to_bd09, lon, lat, tol_deg=tol_deg, max_iter=max_iter)


def bd09_to_wgs84(
    lon: npt.ArrayLike, lat: npt.ArrayLike, *, tol_deg: float = 1e-10, max_iter: int = 30
) -> Pair:
    """BD-09 → WGS-84 by iterating the forward transform."""
    return _invert(wgs84_to_bd09, lon, lat, tol_deg=tol_deg, max_iter=max_iter)


_TO_WGS84: dict[str, Callable[..., Pair]] = {
    "wgs84": lambda lon, lat: _arrays(lon, lat),
    "gcj02": gcj02_to_wgs84,
    "bd09": bd09_to_wgs84,
}
_FROM_WGS84: dict[str, Callable[..., Pair]] = {
    "wgs84": lambda lon, lat: _arrays(lon, lat),
    "gcj02": wgs84_to_gcj02,
    "bd09": wgs84_to_bd09,
}


def convert(lon: npt.ArrayLike, lat: npt.ArrayLike, source: str, target: str = "wgs84") -> Pair:
    """Convert ``(lon, lat)`` between ``wgs84``, ``gcj02`` and ``bd09`` (or their aliases).

    Raises
    ------
    CRSError
        If a name is not one of the three systems.
    """
    src, dst = chinese_crs(source), chinese_crs(target)
    for name, parsed in ((source, src), (target, dst)):
        if parsed is None:
            raise CRSError(
                f"unknown coordinate system {name!r}: use wgs84, gcj02 (Amap, Tencent) or "
                "bd09 (Baidu)"
            )
    assert src is not None and dst is not None
    return _FROM_WGS84[dst](*_TO_WGS84[src](lon, lat))


def geometry_to_wgs84(geoms: Any, source: str) -> Any:
    """Shapely geometries (or an array of them) with coordinates converted to WGS-84."""
    import shapely

    system = chinese_crs(source)
    if system is None:
        raise CRSError(f"unknown coordinate system {source!r}: use wgs84, gcj02 or bd09")
    if system == "wgs84":
        return geoms
    return shapely.transform(geoms, lambda xy: np.column_stack(convert(xy[:, 0], xy[:, 1], system)))

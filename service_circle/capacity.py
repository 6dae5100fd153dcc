"""The former name of :mod:`service_circle.accessibility` (2SFCA), kept for one release."""

from __future__ import annotations

import warnings
from typing import Any


def __getattr__(name: str) -> Any:
    from service_circle import accessibility

    if hasattr(accessibility, name) and not name.startswith("_"):
        warnings.warn(
            f"service_circle.capacity.{name} moved to service_circle.accessibility.{name}",
            DeprecationWarning,
            stacklevel=2,
        )
        return getattr(accessibility, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

"""Exception classes of service-circle.

Every exception subclasses :class:`ServiceCircleError` *and* a builtin, so callers can
catch either (``except ValueError`` keeps working). A message names the input that was
wrong and says how to fix it; the CLI prints it as one line and the API maps each class to
one HTTP status.
"""

from __future__ import annotations


class ServiceCircleError(Exception):
    """Base class of every error raised on purpose by service-circle."""


class InputError(ServiceCircleError, ValueError):
    """An input file or object cannot be used as given (format, content, columns)."""


class InputNotFoundError(ServiceCircleError, FileNotFoundError):
    """An input path does not exist."""


class EmptyNetworkError(InputError):
    """A network source holds no walkable way."""


class CRSError(InputError):
    """A coordinate reference system is missing, unknown or does not fit the data."""


class UnknownCategoryError(ServiceCircleError, LookupError):
    """A facility category key is not in the catalogue."""


class UnknownProfileError(ServiceCircleError, LookupError):
    """A walking profile name is not known."""


class NetworkDownloadError(ServiceCircleError, ConnectionError):
    """An online OSM download failed (no internet, Overpass or Nominatim refused)."""


class TimeLimitError(ServiceCircleError, TimeoutError):
    """A computation ran past the time limit it was given (see :mod:`._deadline`)."""

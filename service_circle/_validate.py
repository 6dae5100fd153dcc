"""Validation of every number that enters: finite, in range, of the right type.

One place for the rules, so that the command line, the library and the API say the same
thing about the same mistake. Messages name the input (file, column, rows or option) and
what would be accepted; the CLI prints them as one line, the API as a 422.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from service_circle._errors import InputError

#: How many offending rows a message lists.
SHOWN_ROWS = 10


def _range_text(gt, ge, lt, le) -> str:
    low = f"> {gt:g}" if gt is not None else (f"≥ {ge:g}" if ge is not None else "")
    high = f"< {lt:g}" if lt is not None else (f"≤ {le:g}" if le is not None else "")
    return " and ".join(p for p in (low, high) if p)


#: The longest walking threshold a study is asked about, minutes: a living circle is
#: measured in minutes (5, 10, 15; 30 for a village's own), never hours.
MAX_MINUTES = 60.0
#: The longest walking threshold in metres of network distance (GB 50180's are 300-1000).
MAX_METRES = 5000.0


def check_number(
    value: Any,
    name: str,
    *,
    gt: float | None = None,
    ge: float | None = None,
    lt: float | None = None,
    le: float | None = None,
    integer: bool = False,
) -> float:
    """``value`` as a finite number in range, or an :class:`InputError` naming ``name``.

    Examples
    --------
    >>> check_number(5, "minutes", gt=0)
    5.0
    >>> check_number(float("nan"), "time_limit_s", gt=0)
    Traceback (most recent call last):
    ...
    service_circle._errors.InputError: time_limit_s must be a finite number > 0, got nan
    """
    wanted = ("a whole number" if integer else "a finite number") + (
        f" {_range_text(gt, ge, lt, le)}" if _range_text(gt, ge, lt, le) else ""
    )
    if isinstance(value, bool) or value is None:
        raise InputError(f"{name} must be {wanted}, got {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be {wanted}, got {value!r}") from None
    bad = not math.isfinite(number)
    bad |= integer and not number.is_integer()
    bad |= gt is not None and not number > gt
    bad |= ge is not None and not number >= ge
    bad |= lt is not None and not number < lt
    bad |= le is not None and not number <= le
    if bad:
        raise InputError(f"{name} must be {wanted}, got {value!r}")
    return number


def parse_numbers(
    text: str, name: str, *, gt: float | None = 0, le: float | None = None, at_most: int = 6
) -> list[float]:
    """Comma-separated numbers (``"5,10,15"``), each finite and in range.

    Raises
    ------
    InputError
        Naming ``name`` and the offending part, e.g. ``--minutes: '0' is not a number > 0``.
    """
    parts = [p.strip() for p in str(text).replace("，", ",").split(",")]
    if not any(parts):
        raise InputError(f"{name}: give numbers separated by commas, e.g. 5,10,15")
    values = []
    for part in parts:
        if not part:
            continue
        try:
            values.append(check_number(part, name, gt=gt, le=le))
        except InputError:
            rule = _range_text(gt, None, None, le)
            raise InputError(
                f"{name}: {part!r} is not a finite number{' ' + rule if rule else ''}"
            ) from None
    if len(values) > at_most:
        raise InputError(f"{name}: at most {at_most} values, got {len(values)}")
    return values


def _value_text(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
        return "empty"
    if isinstance(value, int | float | np.number) and not isinstance(value, bool):
        return f"{float(value):g}"
    return repr(str(value))


def _shown(values: pd.Series, rows: np.ndarray, first_row: int) -> str:
    parts = [f"{int(r) + first_row} ({_value_text(values.iloc[r])})" for r in rows[:SHOWN_ROWS]]
    more = f" and {rows.size - SHOWN_ROWS} more" if rows.size > SHOWN_ROWS else ""
    return ", ".join(parts) + more


def check_counts(
    frame: pd.DataFrame,
    columns: Sequence[str],
    what: str,
    *,
    first_row: int = 2,
    missing_ok: bool = False,
) -> dict[str, np.ndarray]:
    """Columns of counts (people, places) as finite numbers ≥ 0.

    Parameters
    ----------
    frame
        The table.
    columns
        The columns to check.
    what
        The input's name for messages (a file name).
    first_row
        The line number of the first row (2 for a CSV with a header; 1 for features).
    missing_ok
        Accept empty cells (they become NaN: "not known"), still refusing text,
        negatives and infinities.

    Raises
    ------
    InputError
        Naming the file, the column and the first offending rows with their values.
    """
    out = {}
    for col in columns:
        raw = frame[col]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(np.float64)
        # only what did not read as a number can be an empty cell: the text of those rows
        unread = np.flatnonzero(np.isnan(values))
        text = raw.iloc[unread].astype("string").str.strip()
        empty = np.zeros(values.size, dtype=bool)
        empty[unread] = (text.isna() | (text == "")).fillna(True).to_numpy(bool)
        bad = ~np.isfinite(values) | (values < 0)
        if missing_ok:
            bad &= ~empty
        if bad.any():
            rows = np.flatnonzero(bad)
            raise InputError(
                f"{what}: column {col!r} has {rows.size} value(s) that are not counts "
                f"(a finite number ≥ 0) on rows {_shown(raw, rows, first_row)}: fix them "
                "or drop those rows"
            )
        out[col] = np.where(empty, np.nan, values) if missing_ok else values
    return out

"""Periods and time units: wall-clock timestamps to whole-period ordinals (private).

Ground floor: every scorer that measures time in days, weeks or months uses these.
"""

from __future__ import annotations

from typing import Literal, TypeAlias

import numpy as np
import numpy.typing as npt

TimeUnit: TypeAlias = Literal["D", "W", "M"]
TIME_UNITS: tuple[TimeUnit, ...] = ("D", "W", "M")

IntArray: TypeAlias = npt.NDArray[np.int64]

_NS_PER_DAY = 86_400_000_000_000
_NAT = np.iinfo(np.int64).min  # NaT as int64


def to_periods(stamps: npt.NDArray[np.datetime64], time_unit: TimeUnit) -> IntArray:
    """Period ordinals of wall-clock timestamps: days, Monday-based weeks or months.

    Ordinals count from the Unix epoch, so differences between them are whole
    numbers of periods; a week runs Monday to Sunday, as pandas' ``"W"`` (``W-SUN``)
    periods do.
    """
    if time_unit == "M":
        return stamps.astype("datetime64[M]").view(np.int64)
    if stamps.dtype == np.dtype("datetime64[ns]"):
        # Integer floor division: the same days as numpy's cast, in half the time.
        ns = stamps.view(np.int64)
        days = ns // _NS_PER_DAY
        nat = ns == _NAT
        if nat.any():
            days[nat] = _NAT
    else:
        days = stamps.astype("datetime64[D]").view(np.int64)
    if time_unit == "D":
        return days
    # 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Monday.
    return (days + 3) // 7

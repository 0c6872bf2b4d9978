"""Shared churn test helpers: event logs relative to AS_OF, a closed-form BG/NBD oracle."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from crmscore import (
    WARNING_SIGNALS,
    EarlyWarning,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from crmscore.churn import (
        ChurnSignal,
    )


AS_OF = pd.Timestamp("2024-06-30")
NAMES = [s.name for s in WARNING_SIGNALS]
Row = tuple[Any, float, str, float | None]


def log(rows: Sequence[Row]) -> pd.DataFrame:
    """Events from (customer, days before AS_OF, kind, value); fractions are times of day."""
    return pd.DataFrame(
        {
            "customer_id": [r[0] for r in rows],
            "timestamp": [AS_OF - pd.Timedelta(days=r[1]) for r in rows],
            "kind": [r[2] for r in rows],
            "value": [np.nan if r[3] is None else r[3] for r in rows],
        }
    )


def measure(signal: ChurnSignal, rows: Sequence[Row]) -> pd.DataFrame:
    return EarlyWarning(signals=(signal,), rules=()).predict(log(rows), as_of=AS_OF)


def fired_value(signal: ChurnSignal, rows: Sequence[Row]) -> tuple[bool, float]:
    row = measure(signal, rows).iloc[0]
    return bool(row[signal.name]), float(row[f"{signal.name}_value"])


# --- P(alive): a closed-form oracle (checked against lifetimes in test_churn_signals) -----


class ClosedFormBGNBD:
    """P(alive) of the BG/NBD model, Fader, Hardie and Lee (2005), eq. 13."""

    def __init__(self, r: float, alpha: float, a: float, b: float) -> None:
        self.r, self.alpha, self.a, self.b = r, alpha, a, b

    def probability_alive(self, table: pd.DataFrame) -> pd.Series[float]:
        x = table["frequency"].to_numpy(float)
        t_x = table["recency"].to_numpy(float)
        big_t = table["T"].to_numpy(float)
        with np.errstate(divide="ignore"):
            odds = (
                self.a
                / (self.b + x - 1)
                * ((self.alpha + big_t) / (self.alpha + t_x)) ** (self.r + x)
            )
        p = 1 / (1 + np.where(x > 0, odds, 0.0))
        return pd.Series(p, index=table.index, name="p_alive")


PARAMS = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


# --- a small event log for the warning and its evaluation -----------------------------


SAMPLE = [
    ("quiet", 200, "purchase", 300.0),
    ("quiet", 150, "purchase", 300.0),
    ("quiet", 120, "purchase", 300.0),
    ("quiet", 100, "purchase", 300.0),
    ("quiet", 41, "interaction", None),
    ("quiet", 20, "complaint", None),
    ("quiet", 8, "complaint", None),
    ("quiet", 3, "complaint", None),
    ("quiet", 5, "account_change", None),
    ("happy", 10, "purchase", 50.0),
    ("happy", 2, "interaction", None),
]

"""The tables of a churn backtest, from per-cut-off scores and outcomes (private)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, TypeAlias

import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore.churn._metrics import (
    average_precision,
    brier_score,
    calibration_bins,
    precision_at_recall,
    roc_auc,
)
from crmscore.churn.rules import LEVELS

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["RECALLS", "Scores", "pooled_tables", "rule_table", "summary_row"]

FloatArray: TypeAlias = npt.NDArray[np.float64]
BoolArray: TypeAlias = npt.NDArray[np.bool_]

#: Recall levels of the precision-at-recall columns.
RECALLS: tuple[float, ...] = (0.1, 0.25, 0.5)


class Scores:
    """What one method said at one cut-off, for the active customers."""

    __slots__ = ("levels", "probability", "score", "warned")

    def __init__(
        self,
        *,
        score: FloatArray,
        probability: FloatArray | None,
        warned: npt.NDArray[np.bool_],
        levels: npt.NDArray[np.int8] | None = None,
    ) -> None:
        self.score = score
        self.probability = probability
        self.warned = warned
        self.levels = levels


def summary_row(y: FloatArray, s: Scores) -> dict[str, float]:
    n = y.size
    positives = float(y.sum())
    warned = float(s.warned.sum())
    hits = float((s.warned & (y == 1)).sum())
    row = {
        "customers": n,
        "churners": int(positives),
        "base_rate": positives / n if n else math.nan,
        "auc": roc_auc(y, s.score),
        "average_precision": average_precision(y, s.score),
        "brier": brier_score(y, s.probability) if s.probability is not None else math.nan,
    }
    for r in RECALLS:
        row[f"precision_at_recall_{round(100 * r)}"] = precision_at_recall(y, s.score, r)
    row["warned"] = int(warned)
    row["precision"] = hits / warned if warned else math.nan
    row["recall"] = hits / positives if positives else math.nan
    return row


def _deciles(y: FloatArray, score: FloatArray, method: str) -> list[dict[str, Any]]:
    n = y.size
    order = np.argsort(-score, kind="stable")
    decile = np.empty(n, dtype=np.int64)
    decile[order] = np.arange(n) * 10 // max(n, 1)
    base = y.mean() if n else math.nan
    total = y.sum()
    rows, cumulative, cum_n = [], 0.0, 0
    for d in range(10):
        inside = decile == d
        count = int(inside.sum())
        hits = float(y[inside].sum())
        cumulative += hits
        cum_n += count
        precision = hits / count if count else math.nan
        rows.append(
            {
                "method": method,
                "decile": d + 1,
                "customers": count,
                "churners": int(hits),
                "precision": precision,
                "cumulative_recall": cumulative / total if total else math.nan,
                "lift": precision / base if base else math.nan,
                "cumulative_lift": (cumulative / cum_n) / base if cum_n and base else math.nan,
            }
        )
    return rows


def _level_rows(
    y: FloatArray, ahead: FloatArray, levels: npt.NDArray[np.int8], method: str, lead: int
) -> list[dict[str, Any]]:
    rows = []
    positives = y.sum()
    for code, name in [*list(enumerate(LEVELS))[1:], (-1, "any")]:
        warned = levels > 0 if code < 0 else levels == code
        hits = warned & (y == 1)
        churned = warned & np.isfinite(ahead)
        leads = ahead[churned]
        rows.append(
            {
                "method": method,
                "level": name,
                "warned": int(warned.sum()),
                "precision": hits.sum() / warned.sum() if warned.any() else math.nan,
                "recall": hits.sum() / positives if positives else math.nan,
                "too_soon": int((churned & (ahead < lead)).sum()),
                "median_lead_days": float(np.median(leads)) if leads.size else math.nan,
            }
        )
    return rows


def rule_table(
    parts: dict[tuple[str, str], list[BoolArray]],
    outcomes: Sequence[tuple[FloatArray, FloatArray]],
    *,
    lead: int,
    levels: Sequence[npt.NDArray[np.int8]],
    without: dict[str, list[npt.NDArray[np.int8]]],
) -> pd.DataFrame:
    """Per rule and signal: firing, precision, recall, AUC alone and contribution, lead.

    ``levels`` are the rule set's level codes per cut-off and ``without[name]`` the
    codes with the rule ``name`` left out: a rule's ``auc_contribution`` is the AUC of
    the levels minus the AUC without it.
    """
    y = np.concatenate([o[0] for o in outcomes])
    ahead = np.concatenate([o[1] for o in outcomes])
    positives = y.sum()
    level_auc = roc_auc(y, np.concatenate(levels).astype(np.float64)) if levels else math.nan
    rows = []
    for (name, level), pieces in parts.items():
        warned = np.concatenate(pieces)
        churned = warned & np.isfinite(ahead)
        leads = ahead[churned]
        hits = float((warned & (y == 1)).sum())
        rest = without.get(name)
        contribution = (
            level_auc - roc_auc(y, np.concatenate(rest).astype(np.float64))
            if rest is not None
            else math.nan
        )
        rows.append(
            {
                "name": name,
                "level": level,
                "warned": int(warned.sum()),
                "share_warned": float(warned.mean()) if warned.size else math.nan,
                "precision": hits / warned.sum() if warned.any() else math.nan,
                "recall": hits / positives if positives else math.nan,
                "auc": roc_auc(y, warned.astype(np.float64)),
                "auc_contribution": contribution,
                "share_too_soon": float(np.mean(leads < lead)) if leads.size else math.nan,
                "median_lead_days": float(np.median(leads)) if leads.size else math.nan,
            }
        )
    return pd.DataFrame(rows).set_index("name")


def _calibration_rows(
    y: FloatArray, probability: FloatArray, method: str, n_bins: int
) -> list[dict[str, Any]]:
    low, count, predicted, observed = calibration_bins(y, probability, n_bins=n_bins)
    return [
        {
            "method": method,
            "bin": f"{low[k]:.2f}-{low[k] + 1 / n_bins:.2f}",
            "customers": int(count[k]),
            "mean_predicted": predicted[k],
            "observed": observed[k],
        }
        for k in range(n_bins)
    ]


def _lead_row(
    ahead: FloatArray, warned: npt.NDArray[np.bool_], method: str, lead: int
) -> dict[str, Any]:
    leads = ahead[warned & np.isfinite(ahead)]
    quantiles = np.quantile(leads, [0.1, 0.25, 0.5, 0.75, 0.9]) if leads.size else [math.nan] * 5
    return {
        "method": method,
        "warned_churners": int(leads.size),
        **{f"q{q}": float(v) for q, v in zip((10, 25, 50, 75, 90), quantiles, strict=True)},
        "share_too_soon": float(np.mean(leads < lead)) if leads.size else math.nan,
    }


def pooled_tables(
    pooled: dict[str, list[tuple[FloatArray, FloatArray, Scores]]], *, lead: int, n_bins: int
) -> dict[str, pd.DataFrame]:
    """Build the tables of every method over all cut-offs together."""
    comparison, level_rows, decile_rows, calibration_rows, lead_rows = [], [], [], [], []
    for method, parts in pooled.items():
        if not parts:
            continue
        y = np.concatenate([p[0] for p in parts])
        ahead = np.concatenate([p[1] for p in parts])
        score = np.concatenate([p[2].score for p in parts])
        warned = np.concatenate([p[2].warned for p in parts])
        probabilities = [p[2].probability for p in parts]
        probability = (
            None
            if any(p is None for p in probabilities)
            else np.concatenate([p for p in probabilities if p is not None])
        )
        comparison.append(
            {
                "method": method,
                **summary_row(y, Scores(score=score, probability=probability, warned=warned)),
            }
        )
        levels = [p[2].levels for p in parts]
        if all(v is not None for v in levels):
            stacked = np.concatenate([v for v in levels if v is not None])
            level_rows.extend(_level_rows(y, ahead, stacked, method, lead))
        if method != "warn everyone":
            decile_rows.extend(_deciles(y, score, method))
            if probability is not None:
                calibration_rows.extend(_calibration_rows(y, probability, method, n_bins))
        lead_rows.append(_lead_row(ahead, warned, method, lead))
    return {
        "comparison": pd.DataFrame(comparison).set_index("method"),
        "levels": pd.DataFrame(level_rows).set_index(["method", "level"]),
        "deciles": pd.DataFrame(decile_rows).set_index(["method", "decile"]),
        "calibration": pd.DataFrame(calibration_rows).set_index(["method", "bin"]),
        "lead_times": pd.DataFrame(lead_rows).set_index("method"),
    }

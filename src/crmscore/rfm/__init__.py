"""Recency, frequency, monetary value: the per-customer table, scores and segments.

Three steps, each a pure function or a frozen value:

1. :func:`rfm_table` turns a transaction log into one row per customer, with the
   BG/NBD columns (``frequency``, ``recency``, ``T``, ``monetary_value``, as in
   *lifetimes* and *pymc-marketing*) and the classic RFM columns.
2. :class:`RFMScorer` turns columns of that table into scores 1..n, by quantiles,
   by fixed business thresholds, or above/below a reference such as the mean. It
   is fitted (:meth:`RFMScorer.fit`) to a population, and the fitted edges
   (:class:`FittedRFMScorer`) can be applied to new customers unchanged.
3. :class:`SegmentMap` names cells of the score grid. Two maps are built in: the
   classic eleven-segment map (:data:`CLASSIC_SEGMENTS`) and the eight-class value
   matrix of the policy texts (:data:`VALUE_MATRIX_SEGMENTS`).

:func:`rfm_segments` chains steps 2 and 3.
"""

from crmscore._periods import TIME_UNITS, TimeUnit
from crmscore.rfm._scores import (
    FittedRFMScorer,
    FixedBins,
    QuantileBins,
    ReferenceBins,
    RFMScorer,
    ScoreDimension,
)
from crmscore.rfm._segments import (
    CLASSIC_SEGMENTS,
    VALUE_MATRIX_SEGMENTS,
    Segment,
    SegmentMap,
    rfm_segments,
)
from crmscore.rfm._table import rfm_table

__all__ = [
    "CLASSIC_SEGMENTS",
    "TIME_UNITS",
    "VALUE_MATRIX_SEGMENTS",
    "FittedRFMScorer",
    "FixedBins",
    "QuantileBins",
    "RFMScorer",
    "ReferenceBins",
    "ScoreDimension",
    "Segment",
    "SegmentMap",
    "TimeUnit",
    "rfm_segments",
    "rfm_table",
]

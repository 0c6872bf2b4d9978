"""The RFM table: transactions to one row per customer (BG/NBD and classic columns)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

from crmscore._columns import TransactionColumns
from crmscore._frames import is_dask_frame
from crmscore._purchases import summarise_transactions
from crmscore.errors import InvalidParameterError

if TYPE_CHECKING:
    from crmscore._periods import TimeUnit

#: Column order of the table returned by :func:`rfm_table`.
RFM_COLUMNS: tuple[str, ...] = (
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "time_since_last",
    "n_purchases",
    "total_spend",
    "average_spend",
    "first_purchase",
    "last_purchase",
)


def rfm_table(
    transactions: pd.DataFrame,
    *,
    as_of: Any,
    time_unit: TimeUnit = "D",
    customer_col: str = "customer_id",
    timestamp_col: str = "timestamp",
    amount_col: str = "amount",
    negative_amounts: Literal["error", "net"] = "error",
) -> pd.DataFrame:
    r"""Summarise a transaction log into one row per customer.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per purchase, with a customer id, a ``datetime64`` timestamp (naive
        or time-zone aware) and a numeric amount. Not modified. For a Dask log, call
        :func:`crmscore.scaleout.rfm_table_dask`.
    as_of : date-like
        End of the observation period. Time is measured in whole periods of
        ``time_unit``: every transaction in the period that contains ``as_of``
        counts, later ones are left out (the ``observation_period_end`` convention
        of *lifetimes*).
    time_unit : {"D", "W", "M"}, default "D"
        The period: calendar day, week (Monday to Sunday, pandas' ``"W"``) or
        calendar month.
    customer_col : str, default "customer_id"
        Column of customer ids in ``transactions``.
    timestamp_col : str, default "timestamp"
        Column of timestamps in ``transactions``.
    amount_col : str, default "amount"
        Column of amounts in ``transactions``.
    negative_amounts : {"error", "net"}, default "error"
        What to do with negative amounts (returns, refunds). ``"error"`` raises.
        ``"net"`` subtracts each refund from the customer's latest purchase period
        at or before it; a refund never creates a purchase period itself. Two cases
        raise, naming the customers: a refund before a customer's first purchase,
        and refunds that take a purchase period's net spend below zero (purchases
        of 10 and 20, then a refund of 50, would give a negative ``monetary_value``
        and ``total_spend``). A period refunded exactly in full nets to 0 and is
        kept.

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (sorted; index name ``customer_col``). Columns:

        ``frequency`` (int)
            Repeat purchase periods: distinct periods with a purchase, minus one.
        ``recency`` (float)
            Periods from the first to the last purchase period.
        ``T`` (float)
            Periods from the first purchase period to the ``as_of`` period.
        ``monetary_value`` (float)
            Mean spend per repeat purchase period (0 when ``frequency`` is 0).
        ``time_since_last`` (float)
            Classic recency: periods from the last purchase period to ``as_of``
            (``T - recency``).
        ``n_purchases`` (int)
            Purchase transactions (rows with a non-negative amount).
        ``total_spend``, ``average_spend`` (float)
            Net spend, and net spend per purchase transaction.
        ``first_purchase``, ``last_purchase`` (datetime64)
            Timestamps of the first and last purchase, in wall-clock time.

        ``attrs`` holds ``as_of`` and ``time_unit``.

    Raises
    ------
    ColumnNotFoundError
        A required column is missing.
    InvalidDataError
        An empty log; null ids (the error's ``ids`` are then row positions, as ids
        are missing); null timestamps; non-datetime timestamps or non-numeric amounts
        (object and text columns are not converted: the error names the customers
        whose values are not dates or numbers, if any, and suggests
        ``pd.to_datetime``/``pd.to_numeric``); non-finite amounts; negative amounts
        with ``negative_amounts="error"``; with ``"net"``, a refund before any
        purchase or a purchase period netting below zero; no purchase at or before
        ``as_of``. Except for the empty log and the ``as_of`` case, the error's
        ``ids`` and ``n_offending`` name the offending customers.
    InvalidParameterError
        A parameter outside its domain; ``transactions`` not a pandas DataFrame (a
        Dask DataFrame: the message says to call
        :func:`crmscore.scaleout.rfm_table_dask`).

    See Also
    --------
    RFMScorer : scores 1..n from this table.
    rfm_segments : scores and named segments in one call.

    Notes
    -----
    Purchases are first grouped into periods: two purchases on the same day count
    once in daily units, and their amounts are summed. With :math:`x` repeat
    periods, first period :math:`t_0`, last period :math:`t_x` and observation
    period :math:`\tau` (that of ``as_of``), ``frequency`` is :math:`x`,
    ``recency`` is :math:`t_x - t_0` and ``T`` is :math:`\tau - t_0`, the inputs of
    the BG/NBD model (Fader, Hardie and Lee, 2005). ``monetary_value`` is the mean
    of the period sums of the :math:`x` repeat periods, the input of the
    Gamma-Gamma spend model. In days and weeks these equal
    ``lifetimes.utils.summary_data_from_transaction_data`` with
    ``observation_period_end=as_of`` and ``freq=time_unit``.

    The computation is a sort of one packed ``(customer, period)`` integer per
    transaction plus a few ``numpy.bincount`` calls: no Python loop and no pandas
    group-by.

    Examples
    --------
    >>> import pandas as pd
    >>> tx = pd.DataFrame({
    ...     "customer_id": ["a", "a", "a", "b"],
    ...     "timestamp": pd.to_datetime(
    ...         ["2024-01-01", "2024-01-01", "2024-01-11", "2024-01-05"]),
    ...     "amount": [10.0, 5.0, 30.0, 8.0],
    ... })
    >>> table = rfm_table(tx, as_of="2024-01-31")
    >>> table[["frequency", "recency", "T", "monetary_value"]]
                 frequency  recency     T  monetary_value
    customer_id
    a                    1     10.0  30.0            30.0
    b                    0      0.0  26.0             0.0
    >>> table[["time_since_last", "n_purchases", "total_spend"]]
                 time_since_last  n_purchases  total_spend
    customer_id
    a                       20.0            3         45.0
    b                       26.0            1          8.0
    """
    received: object = transactions  # checked at run time, whatever the annotation says
    if is_dask_frame(received):
        raise InvalidParameterError(
            "The 'transactions' parameter of rfm_table must be a pandas DataFrame. Got a "
            "Dask DataFrame instead: call crmscore.rfm_table_dask (from crmscore.scaleout) "
            "for the lazy Dask table."
        )
    if not isinstance(received, pd.DataFrame):
        raise InvalidParameterError.for_value(
            name="transactions",
            owner="rfm_table",
            allowed="a pandas DataFrame",
            got=type(received).__name__,
        )
    return summarise_transactions(
        transactions,
        as_of=as_of,
        time_unit=time_unit,
        columns=TransactionColumns(
            customer=customer_col, timestamp=timestamp_col, amount=amount_col
        ),
        negative_amounts=negative_amounts,
        allow_empty=False,
    )

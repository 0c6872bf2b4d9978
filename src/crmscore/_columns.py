"""Column specs: the column names of a transaction log and of an event log (private).

Ground floor. The public functions keep their ``*_col`` keyword arguments (the
caller's vocabulary); each builds one spec at its door, and everything below
passes the spec on instead of forwarding five or three names by hand.
"""

from __future__ import annotations

from typing import TypedDict

import attrs

__all__ = ["EventColumnNames", "EventColumns", "TransactionColumns"]


class EventColumnNames(TypedDict):
    """The public keyword arguments that name an event log's columns."""

    customer_col: str
    timestamp_col: str
    kind_col: str
    value_col: str
    event_id_col: str


@attrs.frozen(kw_only=True)
class TransactionColumns:
    """Column names of a transaction log: one row per purchase.

    Examples
    --------
    >>> TransactionColumns(amount="total_cny")
    TransactionColumns(customer='customer_id', timestamp='timestamp', amount='total_cny')
    """

    customer: str = "customer_id"
    """Customer id."""

    timestamp: str = "timestamp"
    """Purchase time (``datetime64``)."""

    amount: str = "amount"
    """Purchase amount."""


@attrs.frozen(kw_only=True)
class EventColumns:
    """Column names of an event log (churn signals, rescoring).

    Examples
    --------
    >>> EventColumns(customer="member_no").as_kwargs()["customer_col"]
    'member_no'
    """

    customer: str = "customer_id"
    """Customer id."""

    timestamp: str = "timestamp"
    """Event time (``datetime64``)."""

    kind: str = "kind"
    """Event kind (``purchase``, ``complaint``, ...)."""

    value: str = "value"
    """Numeric value (a purchase amount, a review rating); optional in the log."""

    event_id: str = "event_id"
    """Event id, for de-duplication; optional in the log."""

    def as_kwargs(self) -> EventColumnNames:
        """Return the names as the public keyword arguments (``customer_col=...``)."""
        return EventColumnNames(
            customer_col=self.customer,
            timestamp_col=self.timestamp,
            kind_col=self.kind,
            value_col=self.value,
            event_id_col=self.event_id,
        )

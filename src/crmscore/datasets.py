"""Seeded synthetic customer books: no files, no downloads.

:func:`make_transactions` simulates a transaction log from known BG/NBD and
Gamma-Gamma parameters and returns those parameters and every customer's latent
truth alongside, so that fitted models can be checked against the truth.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import numpy.typing as npt
import pandas as pd

from crmscore._params import BetaGeoParams, GammaGammaParams
from crmscore._validation import as_timestamp
from crmscore.errors import InvalidParameterError

__all__ = [
    "DEFAULT_PURCHASE",
    "DEFAULT_SPEND",
    "SyntheticBook",
    "make_rfm_summary",
    "make_transactions",
]

#: Default purchase process, per day: a mean purchase cycle of 45 days (the
#: training course's figure) and about one dropout in eight repeat purchases.
DEFAULT_PURCHASE = BetaGeoParams(r=1.0, alpha=45.0, a=1.0, b=7.0)

#: Default spend per transaction: population mean 300 (CNY).
DEFAULT_SPEND = GammaGammaParams(p=6.0, q=4.0, v=150.0)

_SECONDS_PER_DAY = 86_400


def _to_ns(days: npt.NDArray[np.float64]) -> npt.NDArray[np.int64]:
    """Fractional days to nanoseconds, truncated to whole seconds like a real log."""
    return np.floor(days * _SECONDS_PER_DAY).astype(np.int64) * 10**9


@attrs.frozen(kw_only=True, eq=False)
class SyntheticBook:
    """A simulated customer book and the truth it was drawn from."""

    transactions: pd.DataFrame
    """``customer_id`` (int), ``timestamp`` (datetime64[ns]), ``amount`` (float), in time order."""

    customers: pd.DataFrame
    """Latent truth per customer, indexed by ``customer_id``: ``first_purchase``,
    ``purchase_rate`` (per day), ``dropout_probability``, ``mean_spend``,
    ``n_repeat`` (repeat purchases simulated) and ``dropout_at`` (time of the
    purchase after which the customer left; NaT if still alive at ``as_of``)."""

    purchase: BetaGeoParams
    """The BG/NBD parameters, per day."""

    spend: GammaGammaParams
    """The Gamma-Gamma parameters."""

    as_of: pd.Timestamp
    """The last day of the observation window."""


def _check_count(value: object, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise InvalidParameterError.for_value(
            name=name, owner="make_transactions", allowed=f"an integer >= {minimum}", got=value
        )
    return int(value)


def _grouped_cumsum(
    values: npt.NDArray[np.float64], counts: npt.NDArray[np.int64]
) -> npt.NDArray[np.float64]:
    """Cumulative sums restarted at every group of ``counts`` consecutive values."""
    total = np.cumsum(values)
    ends = np.cumsum(counts)
    before = np.concatenate(([0.0], total))[ends - counts]
    result: npt.NDArray[np.float64] = total - np.repeat(before, counts)
    return result


def make_transactions(
    n_customers: int = 10_000,
    *,
    seed: int | np.random.Generator,
    purchase: BetaGeoParams = DEFAULT_PURCHASE,
    spend: GammaGammaParams = DEFAULT_SPEND,
    start: Any = "2024-01-01",
    acquisition_days: int = 365,
    observation_days: int = 730,
) -> SyntheticBook:
    r"""Simulate a transaction log from the BG/NBD and Gamma-Gamma models.

    Parameters
    ----------
    n_customers : int, default 10000
        Number of customers; each makes a first purchase in the window.
    seed : int or numpy.random.Generator
        Source of randomness; the same seed gives the same book.
    purchase : BetaGeoParams, default DEFAULT_PURCHASE
        Purchase-process parameters **per day**.
    spend : GammaGammaParams, default DEFAULT_SPEND
        Spend-per-transaction parameters.
    start : date-like, default "2024-01-01"
        First day of the observation window.
    acquisition_days : int, default 365
        First purchases fall uniformly in the first ``acquisition_days`` days.
    observation_days : int, default 730
        Length of the observation window in days; ``as_of`` is its last day.

    Returns
    -------
    SyntheticBook
        The transactions, the latent truth per customer and the parameters.

    Notes
    -----
    Customer :math:`i` makes a first purchase at a uniform time :math:`b_i`, draws
    :math:`\lambda_i \sim \text{Gamma}(r, \alpha)` and
    :math:`p_i \sim \text{Beta}(a, b)`, then buys as a Poisson process of rate
    :math:`\lambda_i` and drops out after the :math:`J_i`-th repeat purchase,
    :math:`J_i \sim \text{Geometric}(p_i)`. In the window of length :math:`h_i`
    the customer makes :math:`k_i = \min(N_i, J_i)` repeat purchases with
    :math:`N_i \sim \text{Poisson}(\lambda_i h_i)`; their times are the first
    :math:`k_i` order statistics of :math:`N_i` uniforms, drawn without drawing
    the others as normalised exponential spacings (the remaining spacings sum to a
    single Gamma draw). Each transaction's value is
    :math:`z \sim \text{Gamma}(p, \nu_i)` with :math:`\nu_i \sim \text{Gamma}(q, v)`,
    rounded to cents. Everything is vectorised; a million customers take a few
    seconds.

    Examples
    --------
    >>> book = make_transactions(1_000, seed=42)
    >>> list(book.transactions.columns)
    ['customer_id', 'timestamp', 'amount']
    >>> book.transactions["customer_id"].nunique()
    1000
    >>> str(book.as_of.date())
    '2025-12-30'
    """
    n = _check_count(n_customers, "n_customers", 1)
    acquisition = _check_count(acquisition_days, "acquisition_days", 1)
    window = _check_count(observation_days, "observation_days", 1)
    if acquisition > window:
        raise InvalidParameterError.for_value(
            name="acquisition_days",
            owner="make_transactions",
            allowed=f"at most observation_days ({window})",
            got=acquisition,
        )
    origin = as_timestamp(start, name="start", owner="make_transactions").normalize()
    rng = np.random.default_rng(seed)

    birth = rng.uniform(0.0, acquisition, n)
    horizon = window - birth
    rate = rng.gamma(purchase.r, 1.0 / purchase.alpha, n)
    dropout = rng.beta(purchase.a, purchase.b, n)
    possible = rng.poisson(rate * horizon)
    lifetime = rng.geometric(dropout)
    repeats = np.minimum(possible, lifetime).astype(np.int64)
    dropped = lifetime <= possible

    # First k of N sorted uniforms on [0, h]: S_i / S_{N+1} with exponential
    # spacings, where the N + 1 - k spacings not drawn sum to one Gamma variate.
    spacings = _grouped_cumsum(rng.standard_exponential(int(repeats.sum())), repeats)
    last = np.zeros(n)
    has_repeat = repeats > 0
    last[has_repeat] = spacings[np.cumsum(repeats)[has_repeat] - 1]
    scale = (last + rng.gamma((possible - repeats + 1).astype(np.float64), 1.0)) / horizon
    owner_repeat = np.repeat(np.arange(n), repeats)
    repeat_time = birth[owner_repeat] + spacings / scale[owner_repeat]

    owner = np.concatenate((np.arange(n), owner_repeat))
    day = np.concatenate((birth, repeat_time))
    customer_scale = rng.gamma(spend.q, 1.0 / spend.v, n)
    amount = np.maximum(np.round(rng.gamma(spend.p, 1.0 / customer_scale[owner]), 2), 0.01)

    stamp = origin.value + _to_ns(day)
    order = np.argsort(stamp, kind="stable")
    ids = np.arange(1, n + 1, dtype=np.int64)
    transactions = pd.DataFrame(
        {
            "customer_id": ids[owner[order]],
            "timestamp": stamp[order].view("datetime64[ns]"),
            "amount": amount[order],
        }
    )
    dropout_stamp = np.full(n, np.iinfo(np.int64).min, dtype=np.int64)  # NaT
    dropout_stamp[dropped] = stamp[n + np.cumsum(repeats)[dropped] - 1]
    customers = pd.DataFrame(
        {
            "first_purchase": stamp[:n].view("datetime64[ns]"),
            "purchase_rate": rate,
            "dropout_probability": dropout,
            "mean_spend": spend.p / customer_scale,
            "n_repeat": repeats,
            "dropout_at": dropout_stamp.view("datetime64[ns]"),
        },
        index=pd.Index(ids, name="customer_id"),
    )
    return SyntheticBook(
        transactions=transactions,
        customers=customers,
        purchase=purchase,
        spend=spend,
        as_of=origin + pd.Timedelta(days=window - 1),
    )


def make_rfm_summary(
    n_customers: int = 10_000,
    *,
    seed: int | np.random.Generator,
    purchase: BetaGeoParams = DEFAULT_PURCHASE,
    spend: GammaGammaParams = DEFAULT_SPEND,
    min_age: float = 365.0,
    max_age: float = 730.0,
) -> pd.DataFrame:
    r"""Simulate a BG/NBD summary directly, in continuous time.

    Unlike :func:`make_transactions`, no transaction is drawn and time is not rounded
    to days: each customer's (frequency, recency, T, monetary_value) is drawn from
    its exact distribution, so millions of customers take a second and a model
    fitted to the result estimates exactly the parameters it was drawn from.

    Parameters
    ----------
    n_customers : int, default 10000
        Number of customers.
    seed : int or numpy.random.Generator
        Source of randomness.
    purchase : BetaGeoParams, default DEFAULT_PURCHASE
        Purchase-process parameters, per unit of ``T``.
    spend : GammaGammaParams, default DEFAULT_SPEND
        Spend-per-transaction parameters.
    min_age, max_age : float, default 365 and 730
        Customer ages ``T`` are uniform between them.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``customer_id`` (1..n): ``frequency`` (int), ``recency``, ``T``,
        ``monetary_value`` (mean spend of the repeat purchases; 0 without any).

    Notes
    -----
    With :math:`\lambda \sim \text{Gamma}(r, \alpha)`,
    :math:`p \sim \text{Beta}(a, b)`, :math:`N \sim \text{Poisson}(\lambda T)`
    purchase opportunities and a dropout after the :math:`J`-th repeat purchase,
    :math:`J \sim \text{Geometric}(p)`, the customer makes :math:`x = \min(N, J)`
    repeat purchases; given :math:`N`, purchase times are uniform order statistics,
    so the last one is :math:`t_x = T\,U_{(x:N)}`,
    :math:`U_{(x:N)} \sim \text{Beta}(x, N - x + 1)`. The mean of :math:`x`
    spends :math:`z \sim \text{Gamma}(p, \nu)` is :math:`\text{Gamma}(p x, x \nu)`.

    Examples
    --------
    >>> summary = make_rfm_summary(1_000, seed=1)
    >>> list(summary.columns)
    ['frequency', 'recency', 'T', 'monetary_value']
    >>> bool((summary["recency"] <= summary["T"]).all())
    True
    """
    n = _check_count(n_customers, "n_customers", 1)
    low, high = float(min_age), float(max_age)
    if not (np.isfinite(low) and np.isfinite(high) and 0 <= low <= high):
        raise InvalidParameterError.for_value(
            name="max_age",
            owner="make_rfm_summary",
            allowed=f"finite, with 0 <= min_age ({min_age}) <= max_age",
            got=max_age,
        )
    rng = np.random.default_rng(seed)
    age = rng.uniform(low, high, n)
    rate = rng.gamma(purchase.r, 1.0 / purchase.alpha, n)
    dropout = rng.beta(purchase.a, purchase.b, n)
    possible = rng.poisson(rate * age)
    repeats = np.minimum(possible, rng.geometric(dropout))
    has_repeat = repeats > 0
    recency = np.zeros(n)
    recency[has_repeat] = age[has_repeat] * rng.beta(
        repeats[has_repeat], possible[has_repeat] - repeats[has_repeat] + 1
    )
    customer_scale = rng.gamma(spend.q, 1.0 / spend.v, n)
    monetary = np.zeros(n)
    monetary[has_repeat] = rng.gamma(
        spend.p * repeats[has_repeat], 1.0 / (repeats[has_repeat] * customer_scale[has_repeat])
    )
    return pd.DataFrame(
        {
            "frequency": repeats.astype(np.int64),
            "recency": recency,
            "T": age,
            "monetary_value": monetary,
        },
        index=pd.Index(np.arange(1, n + 1, dtype=np.int64), name="customer_id"),
    )

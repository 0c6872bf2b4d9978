"""The distributed review (issue 18): ``review_dask`` equals the in-process ``review``.

The book is built so that every rule of a review fires: what fell due (override
expiry, follow-ups, win-back offers), churn levels moving both ways, the CLV refit,
the scorecard's re-normalisation, upgrades, the retention rule (holds and
downgrades), a cap rule moving a tier down at once, overrides ending at the review,
a base tier changing under an override, and customers rated for the first time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import dask
import dask.dataframe as dd
import numpy as np
import pandas as pd
import pytest
from dask import distributed
from dask.base import compute

import crmscore as cs
from crmscore.churn import EarlyWarning
from crmscore.rescoring import (
    Book,
    CLVStage,
    RescoringPolicy,
    TierAdjustment,
    ingest,
    open_book,
    review,
    set_override,
)
from crmscore.rescoring.partitioned import ReviewContext, review_part
from crmscore.scaleout import DistributedReview, review_dask
from crmscore.tiering import Criterion, FixedRange, Indicator, PercentileRank, Scorecard, TierRule

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: Deselect with ``-m "not dask"`` (see docs/development.md, "Tests").
pytestmark = pytest.mark.dask

T1 = pd.Timestamp("2025-06-30 23:59:59")  # the book opens
T2 = pd.Timestamp("2025-09-30 23:59:59")  # first quarterly review
LAST = pd.Timestamp("2025-12-10 23:59:59")  # the last batch before the review
T3 = pd.Timestamp("2025-12-30 23:59:59")  # the review under test

#: Rules whose audit rows the review under test must give (each one fires).
EVERY_RULE = {
    "override_expired",  # a manual override with a time limit, due before T3
    "follow_up",
    "win_back",
    "no rule holds",  # churn levels back to none
    "lapsing",  # ... and up
    "review_upgrade",
    "review_downgrade",
    "retention_hold",
    "disputes cap",  # the cap rule moves a tier down at once
    "override_ended_at_review",
    "first_rating",
}


def _policy() -> RescoringPolicy:
    card = Scorecard(
        hierarchy=Criterion(
            name="value",
            weights={"clv": 0.4, "p_alive": 0.2, "total_spend": 0.2, "churn_level": 0.2},
        ),
        indicators=[
            Indicator(name="clv", direction="benefit", normaliser=PercentileRank()),
            Indicator(name="p_alive", direction="benefit", normaliser=FixedRange(low=0, high=1)),
            Indicator(name="total_spend", direction="benefit", normaliser=PercentileRank()),
            Indicator(name="churn_level", direction="cost", normaliser=FixedRange(low=0, high=3)),
        ],
        rules=[
            TierRule(
                name="disputes cap", column="disputes", op=">=", threshold=2, tier="silver",
                kind="cap",
            )
        ],
    )  # fmt: skip
    return RescoringPolicy(
        scorecard=card,
        clv=CLVStage(horizon=12),
        churn=EarlyWarning(),
        large_transaction=1500.0,
        signing_adjustment=TierAdjustment(steps=1, expires_after_days=30),
        win_back_days=7,
    )


def _log(n: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A synthetic log with defaults, signings and three late newcomers; attributes."""
    data = cs.make_events(n, seed=seed)
    rng = np.random.default_rng(seed)
    ids = data.events["customer_id"].unique()
    extra = [
        pd.DataFrame(
            {"customer_id": rng.choice(ids, 12, replace=False), "timestamp": when, "kind": kind}
        )
        for kind, when in (
            ("default", T2 - pd.Timedelta(days=30)),
            ("strategic_signing", T2 - pd.Timedelta(days=20)),
            ("default", LAST - pd.Timedelta(days=10)),
            ("strategic_signing", LAST - pd.Timedelta(days=25)),
            ("strategic_signing", LAST - pd.Timedelta(days=5)),
        )
    ]
    newcomers = pd.DataFrame(
        {
            "customer_id": [10_001, 10_002, 10_003],
            "timestamp": T2 + pd.Timedelta(days=50),
            "kind": "purchase",
            "value": [20.0, 300.0, 2000.0],
        }
    )
    log = pd.concat([data.events.drop(columns="event_id"), *extra, newcomers], ignore_index=True)
    log = log.assign(kind=log["kind"].astype(str)).sort_values(
        "timestamp", kind="stable", ignore_index=True
    )
    log["event_id"] = [f"e{i}" for i in range(len(log))]
    disputes = rng.integers(0, 4, ids.size).astype(float)
    attributes = pd.DataFrame({"disputes": disputes}, index=pd.Index(ids, name="customer_id"))
    return log[log["timestamp"] <= T3].reset_index(drop=True), attributes


def _between(log: pd.DataFrame, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
    return log[(log["timestamp"] > start) & (log["timestamp"] <= end)]


def _every_rule_book() -> tuple[Book, pd.DataFrame]:
    """A reviewed book, two months of batches and overrides later; and its log."""
    log, attributes = _log(300, seed=5)
    book = open_book(_policy(), log[log["timestamp"] <= T1], as_of=T1, attributes=attributes).book
    book = ingest(book, _between(log, T1, T2), as_of=T2).book
    book = review(book, log[log["timestamp"] <= T2], as_of=T2).book
    mid = T2 + pd.Timedelta(days=40)
    book = ingest(book, _between(log, T2, mid), as_of=mid).book
    customers = book.customers
    free = customers["tier"].notna() & (customers["override_kind"] == "")
    high = customers.index[free & customers["base_tier"].isin(["Gold", "Diamond"])]
    rated = customers.index[free & ~customers.index.isin(high[-8:])]
    # Disputes cap eight high customers at silver; the last also has a manual override.
    capped = pd.DataFrame({"disputes": 3.0}, index=pd.Index(high[-8:], name="customer_id"))
    book = cs.set_attributes(book, attributes=capped)
    overrides: list[tuple[Any, str, Any]] = [
        (high[-1], "ordinary", None),
        (rated[0], "diamond", "review"),
        (rated[1], "ordinary", T3 - pd.Timedelta(days=3)),
        (rated[2], "gold", None),
    ]
    for who, tier, expires in overrides:
        book = set_override(
            book, customer_id=who, tier=tier, reason="appeal", author="ana", as_of=mid,
            expires=expires,
        ).book  # fmt: skip
    return ingest(book, _between(log, mid, LAST), as_of=LAST).book, log


@pytest.fixture(scope="module")
def every_rule() -> tuple[Book, pd.DataFrame]:
    return _every_rule_book()


@pytest.fixture
def client() -> Iterator[object]:
    """Two workers in this process: distributed's scheduler and shuffle, no worker start-up."""
    cluster = distributed.LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2,
        threads_per_worker=1,
        processes=False,
        dashboard_address=None,
        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
    )
    with cluster, distributed.Client(cluster) as dask_client:  # type: ignore[no-untyped-call]
        yield dask_client


def _lazy(frame: pd.DataFrame, *, npartitions: int) -> dd.DataFrame:
    lazy: dd.DataFrame = dd.from_pandas(frame, npartitions=npartitions)  # type: ignore[no-untyped-call]
    return lazy


def _synchronous() -> Any:
    """The synchronous scheduler, with the shuffle it can run.

    (Once a distributed client exists in the process, as the LocalCluster test's,
    Dask plans its own p2p shuffle, which only a distributed worker can run.)
    """
    return dask.config.set({"scheduler": "synchronous", "dataframe.shuffle.method": "tasks"})


def _state(book: Book) -> pd.DataFrame:
    """What a service stores per customer: the book's columns and its attributes."""
    return book.to_frame().join(book.attributes)


def _run(book: Book, log: pd.DataFrame, **options: Any) -> DistributedReview:
    return review_dask(
        _lazy(_state(book), npartitions=4),
        _lazy(log, npartitions=3),
        policy=book.policy,
        as_of=T3,
        state_as_of=book.as_of,
        scorecard=book.scorecard,
        purchase_model=book.purchase_model,
        spend_model=book.spend_model,
        **options,
    )


def _computed(result: DistributedReview) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The new state and the audit rows, computed together (``dask.compute``, untyped)."""
    state, changes = compute(result.state, result.changes)  # type: ignore[no-untyped-call]
    return state, changes


def _plain(values: pd.Series[Any]) -> list[Any]:
    """Values as Python objects, every missing value as None (strings or objects alike)."""
    return [None if pd.isna(v) else v for v in values.astype(object)]


def _text(values: pd.Series[Any]) -> bool:
    """A column of text: pandas strings, or objects that are all strings or missing."""
    if isinstance(values.dtype, pd.StringDtype):
        return True
    return values.dtype == object and all(isinstance(v, str) for v in values.dropna())


def _sorted_rows(changes: pd.DataFrame) -> pd.DataFrame:
    """Audit rows in one order: partitions give each customer's rows, not the book's order."""
    keyed = changes.assign(_id=changes["customer_id"].astype(str))
    return keyed.sort_values(
        ["_id", "at", "change", "rule", "detail"], kind="stable", ignore_index=True
    ).drop(columns="_id")


def _assert_same_review(
    state: pd.DataFrame, changes: pd.DataFrame, expected: cs.RescoringResult, *, rtol: float
) -> None:
    want = _state(expected.book).sort_index()
    got = state.sort_index()
    assert got.index.equals(want.index)
    assert list(got.columns) == list(want.columns)
    for column in want.columns:
        if _text(want[column]):
            # Dask holds text as strings where pandas 2 holds objects (its
            # "dataframe.convert-string"): the same text, Dask's dtype.
            assert _text(got[column]), column
            assert _plain(got[column]) == _plain(want[column]), column
            continue
        assert got[column].dtype == want[column].dtype, column
        if want[column].dtype.kind == "f":
            np.testing.assert_allclose(got[column], want[column], rtol=rtol, err_msg=column)
        else:
            assert got[column].equals(want[column]), column
    rows, wanted = _sorted_rows(changes), _sorted_rows(expected.changes)
    assert len(rows) == len(wanted)
    for column in wanted.columns:
        if column == "score":
            np.testing.assert_allclose(rows[column], wanted[column], rtol=rtol)
        else:
            assert _plain(rows[column]) == _plain(wanted[column]), column


def test_every_rule_fires_in_the_book_under_test(every_rule: tuple[Book, pd.DataFrame]) -> None:
    book, log = every_rule
    changes = review(book, log, as_of=T3).changes
    assert set(changes["rule"]) >= EVERY_RULE
    assert changes["detail"].str.contains("override still applies").any()  # base moved under it
    assert (changes["change"] == "churn_level").any()


def test_review_dask_equals_review_where_every_rule_fires(
    every_rule: tuple[Book, pd.DataFrame],
) -> None:
    """On the synchronous scheduler: each fit's optimiser step is a computation."""
    book, log = every_rule
    expected = review(book, log, as_of=T3)
    with _synchronous():
        result = _run(book, log)
        state, changes = _computed(result)
    # The population-wide fits agree to the optimiser's tolerance (summed per partition).
    assert result.purchase_model is not None
    assert expected.book.purchase_model is not None
    assert result.spend_model is not None
    assert expected.book.spend_model is not None
    for got, want in (
        (result.purchase_model.params.to_dict(), expected.book.purchase_model.params.to_dict()),
        (result.spend_model.params.to_dict(), expected.book.spend_model.params.to_dict()),
    ):
        for name, value in want.items():
            assert got[name] == pytest.approx(value, rel=1e-8)
    assert expected.book.scorecard is not None
    for got_scale, want_scale in zip(
        result.scorecard.scales, expected.book.scorecard.scales, strict=True
    ):
        np.testing.assert_allclose(got_scale.params, want_scale.params, rtol=1e-8)
    assert result.as_of == T3
    assert result.state._meta.dtypes.equals(state.dtypes)
    assert result.changes._meta.dtypes.equals(changes.dtypes)
    assert set(changes["rule"]) >= EVERY_RULE
    _assert_same_review(state, changes, expected, rtol=1e-9)


def test_without_refits_the_review_is_the_same_to_the_last_bit(
    client: object, every_rule: tuple[Book, pd.DataFrame], tmp_path: Path
) -> None:
    """No fit to differ: the same values, bit for bit, from a state read back from Parquet.

    On a LocalCluster: its shuffle must bring each customer's events to its state too.
    """
    book, log = every_rule
    assert book.policy.clv is not None
    policy = attrs.evolve(
        book.policy,
        refit_on_review=False,
        clv=attrs.evolve(book.policy.clv, refit_on_review=False),
    )
    book = attrs.evolve(book, policy=policy)
    expected = review(book, log, as_of=T3)
    _state(book).to_parquet(tmp_path / "state.parquet")
    # (pandas reads it: dask's read_parquet warns under pandas 3.1)
    stored = _lazy(pd.read_parquet(tmp_path / "state.parquet"), npartitions=4)
    result = review_dask(
        stored,
        _lazy(log, npartitions=2),
        policy=policy,
        as_of=T3,
        state_as_of=book.as_of,
        scorecard=book.scorecard,
        purchase_model=book.purchase_model,
        spend_model=book.spend_model,
        npartitions=3,
    )
    assert result.scorecard is book.scorecard
    assert result.purchase_model is book.purchase_model
    state, changes = _computed(result)
    # A Parquet round trip keeps every column's values (the stored dtypes may differ).
    state = state.astype(_state(book).dtypes.to_dict())
    _assert_same_review(state, changes, expected, rtol=0.0)


def test_wrong_frames_and_parameters_are_typed_errors(
    every_rule: tuple[Book, pd.DataFrame],
) -> None:
    book, log = every_rule
    state = _lazy(_state(book), npartitions=2)
    events = _lazy(log, npartitions=2)
    common: dict[str, Any] = {"policy": book.policy, "as_of": T3, "state_as_of": book.as_of}
    with pytest.raises(cs.InvalidParameterError, match=r"state.*pandas function"):
        review_dask(_state(book), events, **common)  # type: ignore[arg-type]
    with pytest.raises(cs.InvalidParameterError, match=r"events.*pandas function"):
        review_dask(state, log, **common)  # type: ignore[arg-type]
    with pytest.raises(cs.InvalidParameterError, match="churn step"):
        review_dask(state, **common)
    with pytest.raises(cs.InvalidParameterError, match="before state_as_of"):
        review_dask(state, events, **{**common, "as_of": T1})
    with pytest.raises(cs.InvalidParameterError, match="policy"):
        review_dask(state, events, **{**common, "policy": book.policy.to_dict()})
    with pytest.raises(cs.InvalidParameterError, match="purchase_model"):
        review_dask(state, events, **common, purchase_model=book.spend_model)  # type: ignore[arg-type]
    with pytest.raises(cs.ColumnNotFoundError, match="base_tier"):
        review_dask(_lazy(_state(book).drop(columns="base_tier"), npartitions=2), events, **common)
    with pytest.raises(cs.InvalidDataError, match=r"'segment' of state .* not numeric"):
        review_dask(_lazy(_state(book).assign(segment="a"), npartitions=2), events, **common)
    with pytest.raises(cs.ColumnNotFoundError, match="kind"):
        review_dask(state, _lazy(log.drop(columns="kind"), npartitions=2), **common)


def test_a_partition_whose_events_all_follow_the_review_measures_nobody(
    every_rule: tuple[Book, pd.DataFrame],
) -> None:
    """On the whole log, events after ``as_of`` are left out; alone in a part, likewise.

    (The warning itself raises for a log without an event on or before ``as_of``.)
    """
    book, log = every_rule
    who = book.to_frame().index[book.to_frame()["churn_level"] > 0][0]
    mine = log[log["customer_id"] == who]
    later = mine.assign(timestamp=T3 + pd.Timedelta(days=3), event_id="late-" + mine["event_id"])
    whole = pd.concat([log[log["customer_id"] != who], later], ignore_index=True)
    expected = review(book, whole, as_of=T3)
    assert book.as_of is not None
    context = ReviewContext(
        policy=book.policy,
        as_of=T3,
        state_as_of=book.as_of,
        scorecard=expected.book.scorecard,
        purchase_model=expected.book.purchase_model,
        spend_model=expected.book.spend_model,
        attribute_columns=("disputes",),
    )
    state, changes = review_part(_state(book).loc[[who]], later, context=context)
    assert state.loc[who, "churn_level"] == 0
    pd.testing.assert_frame_equal(state, _state(expected.book).loc[[who]])
    wanted = expected.changes[expected.changes["customer_id"] == who].reset_index(drop=True)
    pd.testing.assert_frame_equal(changes, wanted)
    assert "none: no events" in set(changes["detail"])


def test_a_learned_warning_gives_the_same_probabilities_reasons_and_rows(
    every_rule: tuple[Book, pd.DataFrame],
) -> None:
    """The learned warning scores each customer from its own events (fixed parameters)."""
    book, log = every_rule
    warning = cs.LearnedWarningFitter(n_windows=2).fit(log[log["timestamp"] <= T2], as_of=T2)
    assert book.policy.clv is not None
    policy = attrs.evolve(
        book.policy,
        churn=warning,
        refit_on_review=False,
        clv=attrs.evolve(book.policy.clv, refit_on_review=False),
    )
    book = attrs.evolve(book, policy=policy)
    expected = review(book, log, as_of=T3)
    assert "learned warning" in set(expected.changes["rule"])
    with _synchronous():
        state, changes = _computed(_run(book, log))
    # The warning's linear predictor is summed term by term, so a customer's
    # probability does not depend on the rows scored with it: equal to the last bit.
    _assert_same_review(state, changes, expected, rtol=0)
    assert state["churn_probability"].notna().any()

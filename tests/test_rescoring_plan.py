"""The action plan (rescoring/_plan.py): schedules as data, dated actions, contact caps."""

from __future__ import annotations

import functools
import json
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

import crmscore as cs
from crmscore import (
    DEFAULT_SCHEDULES,
    ActionSchedule,
    Book,
    InvalidDataError,
    InvalidParameterError,
    action_plan,
)


def _book(rows: list[tuple[str, str, str, float]], *, as_of: str, **policy: Any) -> Book:
    card = cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
        indicators=[
            cs.Indicator(
                name="total_spend",
                direction="benefit",
                normaliser=cs.FixedRange(low=0, high=2000),
            )
        ],
    )
    events = pd.DataFrame(rows, columns=["customer_id", "timestamp", "kind", "value"])
    events["timestamp"] = pd.to_datetime(events["timestamp"])
    events["event_id"] = np.arange(len(events))
    return cs.open_book(cs.RescoringPolicy(scorecard=card, **policy), events, as_of=as_of).book


def _only(action: str, **fields: Any) -> tuple[ActionSchedule, ...]:
    chosen = [s for s in DEFAULT_SCHEDULES if s.action == action]
    return tuple(
        ActionSchedule(**{**s.to_dict(), **fields}) for s in chosen
    )  # a default schedule, changed


def _days(plan: pd.DataFrame, customer: str) -> list[str]:
    return [d.date().isoformat() for d in plan.loc[plan["customer_id"] == customer, "date"]]


def test_weekly_win_back_offers_fall_on_the_chosen_weekday_from_the_follow_up() -> None:
    # last purchase 2025-01-10: six months later, 2025-07-10 (a Thursday)
    book = _book([("a", "2025-01-10", "purchase", 300.0)], as_of="2025-07-01")
    plan = action_plan(
        book, start="2025-07-01", end="2025-08-04", schedules=_only("win_back_offer")
    )
    assert _days(plan, "a") == ["2025-07-14", "2025-07-21", "2025-07-28", "2025-08-04"]
    assert set(plan["date"].dt.day_of_week) == {0}  # Mondays, as the text says
    friday = action_plan(
        book,
        start="2025-07-01",
        end="2025-08-04",
        schedules=_only("win_back_offer", weekday="friday"),
    )
    assert _days(friday, "a") == ["2025-07-11", "2025-07-18", "2025-07-25", "2025-08-01"]
    thursday = action_plan(
        book, start="2025-07-01", end="2025-07-17", schedules=_only("win_back_offer", weekday=3)
    )
    assert _days(thursday, "a") == ["2025-07-10", "2025-07-17"]  # the due day itself counts
    later = action_plan(
        book, start="2025-07-22", end="2025-07-28", schedules=_only("win_back_offer")
    )
    assert _days(later, "a") == ["2025-07-28"]  # a flag raised before the period continues


def test_follow_up_once_when_it_falls_due_in_the_period() -> None:
    book = _book(
        [("a", "2025-01-10", "purchase", 300.0), ("b", "2024-11-30", "purchase", 300.0)],
        as_of="2025-07-01",
    )
    plan = action_plan(book, start="2025-07-01", end="2025-07-31", schedules=_only("follow_up"))
    assert plan["customer_id"].tolist() == ["a"]  # b fell due on 2025-05-30, before
    assert _days(plan, "a") == ["2025-07-10"]
    assert plan["label"].tolist() == ["Follow-up"]
    zh = action_plan(
        book, start="2025-07-01", end="2025-07-31", schedules=_only("follow_up"), language="zh"
    )
    assert zh["label"].tolist() == ["重点跟进"]
    three = action_plan(
        book,
        start="2025-04-01",
        end="2025-04-30",
        schedules=_only("follow_up"),
        follow_up_months=3,
    )
    assert _days(three, "a") == ["2025-04-10"]


def test_vip_invitations_follow_the_trail_and_the_threshold() -> None:
    rows = [
        ("a", "2025-01-10", "purchase", 1200.0),  # reached 1000 before the period
        ("b", "2025-07-05", "purchase", 1500.0),  # reaches it during the period
        ("c", "2025-01-10", "purchase", 999.0),
    ]
    # the engine invites at the purchase: a's invitation is recorded before the period
    recorded = _book(rows[:1] + rows[2:], as_of="2025-07-01")
    recorded = cs.ingest(recorded, _events(rows[1:2], first_id=10), as_of="2025-07-31").book
    plan = action_plan(
        recorded, start="2025-07-01", end="2025-07-31", schedules=_only("vip_invitation")
    )
    assert plan["customer_id"].tolist() == ["b"]
    assert _days(plan, "b") == ["2025-07-05"]
    # a policy that does not invite: candidates are invited on the period's first day
    silent = _book(rows[:1] + rows[2:], as_of="2025-07-01", invitation_spend=None)
    plan = action_plan(
        silent,
        start="2025-07-01",
        end="2025-07-31",
        schedules=_only("vip_invitation"),
        invitation_spend=1000,
    )
    assert plan["customer_id"].tolist() == ["a"]
    assert _days(plan, "a") == ["2025-07-01"]
    lower = action_plan(
        silent,
        start="2025-07-01",
        end="2025-07-31",
        schedules=_only("vip_invitation"),
        invitation_spend=999,
    )
    assert lower["customer_id"].tolist() == ["a", "c"]
    with pytest.raises(InvalidParameterError, match="threshold"):
        action_plan(silent, start="2025-07-01", end="2025-07-31", schedules=_only("vip_invitation"))


def _events(rows: list[tuple[str, str, str, float]], *, first_id: int) -> pd.DataFrame:
    events = pd.DataFrame(rows, columns=["customer_id", "timestamp", "kind", "value"])
    events["timestamp"] = pd.to_datetime(events["timestamp"])
    events["event_id"] = np.arange(first_id, first_id + len(events))
    return events


def test_quarterly_wake_up_for_the_dormant_on_each_quarters_first_day() -> None:
    book = _book(
        [
            ("a", "2025-01-01", "purchase", 10.0),
            ("b", "2025-01-03", "purchase", 10.0),
            ("c", "2025-06-01", "purchase", 10.0),
        ],
        as_of="2025-06-30",
    )
    plan = action_plan(book, start="2025-06-15", end="2025-12-31", schedules=_only("wake_up"))
    # 2025-07-01 is 181 days after a's purchase and 179 after b's; 2025-10-01 is 122 after c's
    assert plan[["customer_id", "date"]].astype(str).to_numpy().tolist() == [
        ["a", "2025-07-01"],
        ["a", "2025-10-01"],
        ["b", "2025-10-01"],
    ]
    # the caller's activity (logins, say) replaces the last purchase
    activity = pd.Series(pd.to_datetime(["2025-06-20", "2024-12-01"]), index=["a", "c"])
    seen = action_plan(
        book,
        start="2025-06-15",
        end="2025-12-31",
        schedules=_only("wake_up"),
        last_activity=activity,
    )
    assert seen["customer_id"].tolist() == ["c", "c"]  # a active, b unknown, c dormant
    with pytest.raises(InvalidDataError, match="last_activity"):
        action_plan(book, start="2025-06-15", end="2025-12-31", last_activity=pd.Series([1.0]))


def test_schedules_can_be_limited_to_tiers() -> None:
    book = _book(
        [("a", "2025-01-10", "purchase", 1900.0), ("b", "2025-01-10", "purchase", 100.0)],
        as_of="2025-07-01",
        invitation_spend=None,
    )
    assert book.customers["tier"].to_dict() == {"a": "Diamond", "b": "Ordinary"}
    plan = action_plan(
        book,
        start="2025-07-01",
        end="2025-07-31",
        schedules=_only("follow_up", tiers=["diamond"]),
    )
    assert plan["customer_id"].tolist() == ["a"]
    assert plan["tier"].tolist() == ["Diamond"]


@functools.cache
def _synthetic() -> Book:
    log = cs.make_events(60, seed=4).events
    card = cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
        indicators=[
            cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.PercentileRank())
        ],
    )
    opening = pd.Timestamp("2025-06-30 23:59")
    return cs.open_book(
        cs.RescoringPolicy(scorecard=card, invitation_spend=None),
        log[log["timestamp"] <= opening],
        as_of=opening,
    ).book


@given(
    start_offset=st.integers(0, 60),
    length=st.integers(0, 100),
    max_contacts=st.integers(1, 3),
    cap_days=st.integers(1, 30),
    weekday=st.integers(0, 6),
)
def test_caps_hold_in_every_window_and_drop_only_what_does_not_fit(
    start_offset: int, length: int, max_contacts: int, cap_days: int, weekday: int
) -> None:
    book = _synthetic()
    start = pd.Timestamp("2025-07-01") + pd.Timedelta(days=start_offset)
    end = start + pd.Timedelta(days=length)
    schedules = [
        *(s for s in DEFAULT_SCHEDULES if s.action != "win_back_offer"),
        ActionSchedule(**{**DEFAULT_SCHEDULES[2].to_dict(), "weekday": weekday}),
    ]
    common: dict[str, Any] = {
        "start": start,
        "end": end,
        "schedules": schedules,
        "invitation_spend": 1000.0,
    }
    full = action_plan(book, **common)
    capped = action_plan(book, max_contacts=max_contacts, cap_days=cap_days, **common)
    assert full["date"].between(start, end).all()
    assert capped.attrs["capped"] == len(full) - len(capped)
    key = ["customer_id", "date", "action"]
    merged = full.merge(capped[key], on=key, how="left", indicator=True)
    assert (merged["_merge"] != "right_only").all()  # the capped plan is part of the full
    day_number = capped["date"].to_numpy("datetime64[D]").astype(np.int64)
    kept = {
        c: np.sort(d) for c, d in pd.Series(day_number).groupby(capped["customer_id"].to_numpy())
    }
    offsets = np.arange(cap_days)
    for days in kept.values():  # at most max_contacts in every window of cap_days days
        starts = days[:, None]
        inside = ((days[None, :] >= starts) & (days[None, :] < starts + cap_days)).sum(axis=1)
        assert (inside <= max_contacts).all()
    dropped = merged[merged["_merge"] == "left_only"]
    dropped_days = dropped["date"].to_numpy("datetime64[D]").astype(np.int64)
    for customer, day in zip(dropped["customer_id"], dropped_days, strict=True):
        days = np.append(kept.get(customer, np.empty(0, np.int64)), day)
        windows = (day - offsets)[:, None]  # every window holding the dropped day
        counts = ((days[None, :] >= windows) & (days[None, :] < windows + cap_days)).sum(axis=1)
        assert counts.max() > max_contacts  # adding it back would break the cap
    ordered = capped.sort_values(["date", "customer_id", "priority"], kind="stable")
    assert capped.index.equals(pd.RangeIndex(len(capped)))
    assert capped[key].equals(ordered[key].reset_index(drop=True))


def test_the_plan_names_customers_after_the_books_customer_col() -> None:
    rows = [("a", "2025-01-10", "purchase", 1500.0), ("b", "2025-03-01", "purchase", 100.0)]
    events = pd.DataFrame(rows, columns=["member_no", "timestamp", "kind", "value"])
    events["timestamp"] = pd.to_datetime(events["timestamp"])
    events["event_id"] = np.arange(len(events))
    card = cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights={"total_spend": 1.0}),
        indicators=[
            cs.Indicator(
                name="total_spend", direction="benefit", normaliser=cs.FixedRange(low=0, high=2000)
            )
        ],
    )
    policy = cs.RescoringPolicy(scorecard=card)
    renamed = cs.open_book(policy, events, as_of="2025-03-31", customer_col="member_no").book
    plain = _book(rows, as_of="2025-03-31")
    plan = action_plan(renamed, start="2025-04-01", end="2025-12-31")
    assert plan.columns[0] == "member_no"
    assert len(plan) > 0
    pd.testing.assert_frame_equal(
        plan.rename(columns={"member_no": "customer_id"}),
        action_plan(plain, start="2025-04-01", end="2025-12-31"),
    )


def test_schedules_are_values() -> None:
    for schedule in DEFAULT_SCHEDULES:
        again = ActionSchedule.from_dict(json.loads(json.dumps(schedule.to_dict())))
        assert again == schedule
    offer = DEFAULT_SCHEDULES[2]
    assert (offer.audience, offer.cadence, offer.weekday) == ("follow_up", "weekly", 0)
    assert offer.describe() == "win_back_offer: follow_up, weekly on Monday"
    assert ActionSchedule(**{**offer.to_dict(), "weekday": "Sunday"}).weekday == 6
    for bad in (7, -1, "someday", 1.5, True):
        with pytest.raises(InvalidParameterError, match="weekday"):
            ActionSchedule(**{**offer.to_dict(), "weekday": bad})
    with pytest.raises(ValueError, match="cadence"):
        ActionSchedule(**{**offer.to_dict(), "cadence": "daily"})
    with pytest.raises(InvalidParameterError, match="action"):
        ActionSchedule(**{**offer.to_dict(), "action": ""})


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start": "2025-07-02", "end": "2025-07-01"}, "before start"),
        ({"max_contacts": 0}, "max_contacts"),
        ({"cap_days": 0}, "cap_days"),
        ({"dormant_days": 1.5}, "dormant_days"),
        ({"follow_up_months": 0}, "follow_up_months"),
        ({"schedules": ["follow_up"]}, "schedules"),
        ({"language": "fr"}, "language"),
    ],
)
def test_plan_parameters_are_checked(kwargs: dict[str, Any], match: str) -> None:
    book = _book([("a", "2025-01-10", "purchase", 300.0)], as_of="2025-07-01")
    arguments = {"start": "2025-07-01", "end": "2025-07-31", **kwargs}
    with pytest.raises(InvalidParameterError, match=match):
        action_plan(book, **arguments)

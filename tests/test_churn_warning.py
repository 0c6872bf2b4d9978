"""The early warning on event logs (output, explanation, properties) and its action map."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from crmscore import (
    DEFAULT_ACTIONS,
    DEFAULT_SIGNALS,
    ActionMap,
    EarlyWarning,
    Fired,
    InteractionStop,
    InvalidDataError,
    InvalidParameterError,
    PAliveBelow,
    Rule,
    SpendDrop,
    b2b_scorecard,
    make_b2b_indicators,
)
from crmscore.churn import (
    condition_from_dict,
    signal_from_dict,
)
from crmscore.tiering import POLICY_TIERS
from tests.churn_logs import AS_OF, NAMES, PARAMS, SAMPLE, ClosedFormBGNBD, log
from tests.strategies import event_logs


def test_warning_round_trips_through_json() -> None:
    warning = EarlyWarning(
        signals=(
            *DEFAULT_SIGNALS[:3],
            InteractionStop(name="silent_60", days=60, kinds=("interaction",)),
        ),
        rules=(Rule(name="r", level="red", when=Fired(name="silent_60")),),
    )
    assert EarlyWarning.from_dict(json.loads(json.dumps(warning.to_dict()))) == warning
    assert (
        EarlyWarning.from_dict(json.loads(json.dumps(EarlyWarning().to_dict()))) == EarlyWarning()
    )
    model = ClosedFormBGNBD(**PARAMS)
    with_model = EarlyWarning(signals=(PAliveBelow(model=model, threshold=0.3),), rules=())
    data = json.loads(json.dumps(with_model.to_dict()))
    assert EarlyWarning.from_dict(data, model=model) == with_model
    with pytest.raises(InvalidParameterError, match="pass model="):
        EarlyWarning.from_dict(data)
    for signal in DEFAULT_SIGNALS:
        assert signal_from_dict(json.loads(json.dumps(signal.to_dict()))) == signal


# --- the warning on event logs: output, explanation, properties -----------------------


def test_output_and_explanation() -> None:
    warning = EarlyWarning()
    result = warning.predict(log(SAMPLE), as_of=AS_OF)
    assert list(result.index) == ["happy", "quiet"]
    assert result.attrs["as_of"] == AS_OF
    assert list(result.columns[:4]) == ["level", "rule", "signals", "n_signals"]
    quiet = result.loc["quiet"]
    assert quiet["level"] == "red"
    assert quiet["rule"] == "distress_confirmed"
    # quiet's complaints are all recent (20, 8, 3 days ago) but interactions count
    # complaints, so the last activity was 3 days ago.
    assert not quiet["interaction_stop"]
    assert quiet["signals"] == (
        "purchase_frequency_drop, account_anomaly, complaint_rise, spend_drop"
    )
    text = warning.explain(result, customers=["quiet", "happy"])
    # By hand: purchases' baseline covers ages 60..200 (141 days) with 4 purchases,
    # 4 * 30 / 141 = 0.85 a month; complaints' baseline ages 14..195 (182 days) holds
    # the one at age 20, 7 / 182 = 0.04 a week; spend's baseline ages 90..200 (111
    # days) holds 1200, 1200 * 30 / 111 = 324.32 a month, and nothing since.
    assert text.loc["quiet"] == (
        "red (rule 'distress_confirmed'): at most 0 purchase(s) in each of the last 2 months "
        "of 30 days, vs a mean of 0.85 a month; 1 login IP or device change(s) in the last "
        "30 days; at least 1 complaint(s) in each of the last "
        "2 weeks, vs a mean of 0.04 a week; spend 100 % below the historical mean of "
        "324.32 a month"
    )
    assert text.loc["happy"] == "none: no signal fired"
    assert list(warning.explain(result).index) == ["quiet"]
    with pytest.raises(InvalidDataError, match=r"not in warnings .*\['ghost'\]"):
        warning.explain(result, customers=["ghost"])


def test_level_column_is_ordered() -> None:
    result = EarlyWarning().predict(log(SAMPLE), as_of=AS_OF)
    assert result["level"].cat.ordered
    assert list(result["level"].cat.categories) == ["none", "blue", "yellow", "red"]
    assert (result["level"] > "none").tolist() == [False, True]


def has_past_events(logs: pd.DataFrame) -> bool:
    """Whether the log has an event on or before AS_OF's day (else nobody to evaluate)."""
    return bool((logs["timestamp"].dt.normalize() <= AS_OF).any())


#: A log whose only event is after AS_OF: evaluate rejects it (nobody to evaluate).
ONLY_FUTURE = log([("c0", -3, "interaction", None)])
#: A log with one event on AS_OF's day.
ONE_TODAY = log([("c0", 0, "interaction", None)])


def test_a_log_with_only_future_events_is_rejected() -> None:
    with pytest.raises(InvalidDataError, match="no event on or before as_of"):
        EarlyWarning().predict(ONLY_FUTURE, as_of=AS_OF)


@given(logs=event_logs(), data=st.data())
@example(logs=ONLY_FUTURE, data=None).via("a log with only events after as_of")
def test_row_order_and_no_mutation(logs: pd.DataFrame, data: st.DataObject) -> None:
    assume(has_past_events(logs))
    before = logs.copy(deep=True)
    result = EarlyWarning().predict(logs, as_of=AS_OF)
    pd.testing.assert_frame_equal(logs, before)
    order = data.draw(st.permutations(range(len(logs))))
    shuffled = logs.iloc[list(order)].reset_index(drop=True)
    pd.testing.assert_frame_equal(EarlyWarning().predict(shuffled, as_of=AS_OF), result)


@given(logs=event_logs(), other=event_logs())
@example(logs=ONE_TODAY, other=ONLY_FUTURE).via("the stranger's events all after as_of")
@example(logs=ONLY_FUTURE, other=ONE_TODAY).via("the log's events all after as_of")
def test_an_unrelated_customer_changes_no_one_else(logs: pd.DataFrame, other: pd.DataFrame) -> None:
    assume(has_past_events(logs))
    # The stranger has at least one event on or before as_of, else it is not evaluated.
    assume(has_past_events(other))
    stranger = other.assign(customer_id="stranger")
    alone = EarlyWarning().predict(logs, as_of=AS_OF)
    together = EarlyWarning().predict(pd.concat([logs, stranger]), as_of=AS_OF)
    pd.testing.assert_frame_equal(together.drop(index="stranger"), alone, check_categorical=False)


@given(logs=event_logs())
@example(logs=ONLY_FUTURE).via("a log with only events after as_of")
def test_values_are_consistent_with_firing(logs: pd.DataFrame) -> None:
    assume(has_past_events(logs))
    result = EarlyWarning().predict(logs, as_of=AS_OF)
    for signal in DEFAULT_SIGNALS:
        value = result[f"{signal.name}_value"]
        fired = result[signal.name]
        assert not fired[value.isna()].any()  # customers not judged never fire
    assert (result["interaction_stop_value"] >= 0).all()
    assert (result["interaction_stop"] == (result["interaction_stop_value"] >= 30)).all()
    assert (result["n_signals"] == result[NAMES].sum(axis=1)).all()
    assert ((result["level"] == "none") == result["rule"].isna()).all()


# --- actions ---------------------------------------------------------------------------


def test_action_map() -> None:
    warnings = pd.DataFrame(
        {"level": ["red", "blue", "none", "yellow"]}, index=pd.Index(["a", "b", "c", "d"])
    )
    tiers = pd.Series({"a": "diamond", "b": "ordinary", "c": "gold"})
    actions = DEFAULT_ACTIONS.recommend(warnings, tiers=tiers)
    assert actions.tolist() == [
        "account_manager_visit_with_retention_budget",
        "newsletter",
        None,
        "manual_review",  # no tier known
    ]
    assert ActionMap.from_dict(json.loads(json.dumps(DEFAULT_ACTIONS.to_dict()))) == DEFAULT_ACTIONS
    assert {(t, lv) for t, lv, _ in DEFAULT_ACTIONS.entries} == {
        (t, lv)
        for t in ("diamond", "gold", "silver", "ordinary")
        for lv in ("blue", "yellow", "red")
    }
    with pytest.raises(InvalidParameterError, match="'entries'"):
        ActionMap(entries={("gold", "purple"): "x"})
    with pytest.raises(InvalidParameterError, match="repeat"):
        ActionMap(entries=[("gold", "red", "x"), ("gold", "red", "y")])
    with pytest.raises(InvalidParameterError, match="repeat"):
        ActionMap(entries=[("gold", "red", "x"), ("Gold", "red", "y")])


def test_action_map_reads_the_tiers_of_a_real_scorecard() -> None:
    # The tier column of a b2b_scorecard result holds labels ("Gold", "黄金级"),
    # not the keys DEFAULT_ACTIONS is written with: both languages must match.
    indicators = make_b2b_indicators(400, seed=7)
    fitted = b2b_scorecard().fit(indicators)
    ids = indicators.index
    cycle = ["red", "yellow", "blue", "none"]
    warnings = pd.DataFrame({"level": [cycle[i % 4] for i in range(len(ids))]}, index=ids)
    for language in ("en", "zh"):
        tiers = fitted.score(indicators, language=language)["tier"]
        assert set(tiers.astype(str)) >= set(POLICY_TIERS.labels(language)[:3])
        actions = DEFAULT_ACTIONS.recommend(warnings, tiers=tiers)
        keys = tiers.astype(str).map(lambda t: POLICY_TIERS.keys[POLICY_TIERS.index(t)])
        table = {(t, lv): lb for t, lv, lb in DEFAULT_ACTIONS.entries}
        expected = [
            None if lv == "none" else table[(k, lv)]
            for k, lv in zip(keys, warnings["level"], strict=True)
        ]
        assert actions.tolist() == expected
        assert "manual_review" not in set(actions)
    # Case-insensitive on keys without a scheme; unknown tiers get the fallback.
    plain = ActionMap(entries={("gold", "red"): "call"}, fallback="review")
    upper = pd.Series({"a": "GOLD", "b": "Platinum"})
    two = pd.DataFrame({"level": ["red", "red"]}, index=["a", "b"])
    assert plain.recommend(two, tiers=upper).tolist() == ["call", "review"]
    assert plain.label("黄金级", "red") == "review"  # no scheme: Chinese labels unknown
    with_scheme = ActionMap(entries={("gold", "red"): "call"}, scheme=POLICY_TIERS)
    assert with_scheme.label("黄金级", "red") == "call"
    assert ActionMap.from_dict(json.loads(json.dumps(with_scheme.to_dict()))) == with_scheme


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: ActionMap(entries={"gold": "x"}), "'entries' parameter of ActionMap"),
        (lambda: ActionMap(entries=5), "'entries' parameter of ActionMap"),
        (lambda: ActionMap(entries=[("gold", "red")]), "'entries' parameter of ActionMap"),
        (lambda: ActionMap(entries={}, scheme="policy"), "'scheme' parameter of ActionMap"),  # type: ignore[arg-type]
        (lambda: ActionMap.from_dict({"fallback": "x"}), r"\['entries'\] are required"),
        (lambda: InteractionStop(kinds=5), "'kinds' parameter of InteractionStop"),  # type: ignore[arg-type]
        (lambda: EarlyWarning(signals=5), "'signals' parameter of EarlyWarning"),  # type: ignore[arg-type]
        (lambda: EarlyWarning(rules=5), "'rules' parameter of EarlyWarning"),  # type: ignore[arg-type]
        (lambda: EarlyWarning(rules="abc"), "'rules' parameter of EarlyWarning"),  # type: ignore[arg-type]
        (lambda: EarlyWarning.from_dict({"signals": []}), r"\['rules'\] are required"),
        (lambda: condition_from_dict({"op": "fired"}), "'name' parameter of condition_from_dict"),
        (lambda: condition_from_dict({"op": "at_least", "of": []}), "'n' parameter"),
        (lambda: condition_from_dict({"op": "any_of", "of": 3}), "'of' parameter"),
        (lambda: condition_from_dict([1]), "'data' parameter of condition_from_dict"),  # type: ignore[arg-type]
        (lambda: Rule.from_dict({"name": "r"}), r"\['level', 'when'\] are required"),
        (
            lambda: signal_from_dict({"type": "interaction_stop", "dayz": 3}),
            r"no parameters \['dayz'\]",
        ),
        (
            lambda: DEFAULT_ACTIONS.recommend(
                pd.DataFrame({"level": ["red"]}, index=["a"]),
                tiers={"a": "gold"},  # type: ignore[arg-type]
            ),
            "'tiers' parameter of ActionMap.recommend",
        ),
        (
            lambda: DEFAULT_ACTIONS.recommend(
                [1],  # type: ignore[arg-type]
                tiers=pd.Series(dtype=object),
            ),
            "'warnings' parameter of ActionMap.recommend",
        ),
    ],
)
def test_bad_settings_raise_typed_errors(make: Any, match: str) -> None:
    with pytest.raises(InvalidParameterError, match=match):
        make()


def test_summary_lists_signals_thresholds_and_rules() -> None:
    summary = EarlyWarning().summary()
    assert list(summary.index) == NAMES
    assert list(summary.columns) == ["group", "type", "parameters", "used_by"]
    stop = summary.loc["interaction_stop"]
    assert stop["group"] == "behaviour"
    assert stop["parameters"].startswith("days=30, kinds=['interaction',")
    assert stop["used_by"] == (
        "distress_confirmed (red), disengaged_and_declining (yellow), three_signals (yellow), "
        "account_anomaly_corroborated (yellow)"
    )
    assert summary.loc["purchase_lapse", "used_by"] == (
        "disengaged_and_declining (yellow), three_signals (yellow), lapsing (blue)"
    )
    # Emotion signals are used through their group by every rule.
    assert str(summary.loc["complaint_rise", "used_by"]).split(", ")[:2] == [
        "distress_confirmed (red)",
        "dissatisfied (yellow)",
    ]
    assert summary.loc["negative_reviews", "parameters"] == (
        "min_count=3, max_rating=2.0, window_days=90"
    )
    lonely = EarlyWarning(signals=(SpendDrop(),), rules=()).summary()
    assert lonely.loc["spend_drop", "used_by"] == ""

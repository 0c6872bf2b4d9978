"""The training course's warning target (85 % right, 30 days ahead) in evaluate_warnings."""

from __future__ import annotations

import pandas as pd
import pytest

from crmscore import PRECISION_TARGET, InvalidParameterError, evaluate_warnings

WARNINGS = pd.DataFrame(
    {
        "level": pd.Categorical(
            ["red", "blue", "blue", "none"],
            categories=["none", "blue", "yellow", "red"],
            ordered=True,
        )
    },
    index=pd.Index(["a", "b", "c", "d"], name="customer_id"),
)
# a leaves 45 days after the warning (right, 30 days ahead), b 10 days after (right,
# too late), c stays
CHURN = pd.Series(pd.to_datetime(["2024-02-15", "2024-01-11"]), index=["a", "b"])


def test_meets_target_compares_precision_at_lead_with_the_target() -> None:
    scored = evaluate_warnings(WARNINGS, churn_dates=CHURN, as_of="2024-01-01")
    assert PRECISION_TARGET == 0.85
    assert scored.attrs["target_precision"] == 0.85
    assert scored["precision_at_lead"].tolist()[:1] == [0.0]  # blue: b left too soon
    assert scored["precision_at_lead"]["red"] == 1.0
    assert scored["precision_at_lead"]["any"] == pytest.approx(1 / 3)
    assert scored["meets_target"].to_dict() == {
        "blue": False,
        "yellow": False,  # nobody warned
        "red": True,
        "any": False,
    }
    lower = evaluate_warnings(
        WARNINGS, churn_dates=CHURN, as_of="2024-01-01", target_precision=1 / 3
    )
    assert lower["meets_target"]["any"]


@pytest.mark.parametrize("bad", [1.5, -0.1, "high"])
def test_target_precision_is_a_share(bad: object) -> None:
    with pytest.raises(InvalidParameterError, match="target_precision"):
        evaluate_warnings(WARNINGS, churn_dates=CHURN, as_of="2024-01-01", target_precision=bad)  # type: ignore[arg-type]

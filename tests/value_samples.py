"""One valid instance of every value class with ``to_dict``/``from_dict`` (test helper)."""

from __future__ import annotations

from typing import Any

import pandas as pd

import crmscore as cs
from crmscore.rescoring import CLVStage, RescoringPolicy, TierAdjustment


def samples() -> list[Any]:
    """Instances covering every class whose values serialise (fitted ones included)."""
    tx = cs.make_transactions(300, seed=3).transactions
    table = cs.rfm_table(tx, as_of="2025-12-31")
    card = cs.b2b_scorecard()
    spend = cs.Indicator(name="total_spend", direction="benefit", normaliser=cs.ZScore())
    simple = cs.Scorecard(
        hierarchy=cs.Criterion(name="value", weights={"total_spend": 0.7, "frequency": 0.3}),
        indicators=[
            spend,
            cs.Indicator(name="frequency", direction="benefit", normaliser=cs.PercentileRank()),
        ],
        rules=[
            cs.TierRule(
                name="cap", column="frequency", op="<", threshold=1.0, tier="Silver", kind="cap"
            )
        ],
    )
    fitted = simple.fit(table)
    purchase = cs.BetaGeoFitter().fit(table)
    gamma = cs.GammaGammaFitter().fit(table)
    scorer = cs.RFMScorer()
    kmeans = cs.KMeansTiering(seed=1)
    values: list[Any] = [
        cs.BetaGeoParams(r=0.2, alpha=4.0, a=0.8, b=2.4),
        cs.GammaGammaParams(p=6.0, q=4.0, v=15.0),
        cs.BetaGeoFitter(),
        cs.GammaGammaFitter(),
        purchase,
        gamma,
        purchase.convergence,
        card,
        simple,
        fitted,
        fitted.scales[0],
        spend,
        simple.hierarchy,
        simple.tiers,
        simple.rules[0],
        cs.PairwiseMatrix(labels=["a", "b"], values=[[1, 3], [1 / 3, 1]]),
        cs.DirectWeights(labels=["a", "b"], values=[0.25, 0.75]),
        scorer,
        scorer.recency,
        scorer.fit(table),
        cs.CLASSIC_SEGMENTS,
        kmeans,
        kmeans.fit(table, scorecard=fitted),
        cs.EarlyWarning(),
        cs.DEFAULT_ACTIONS,
        *cs.DEFAULT_RULES,
        *cs.DEFAULT_SIGNALS,
        TierAdjustment(steps=-1),
        TierAdjustment(to_tier="gold", expires_after_days=180),
        CLVStage(),
        RescoringPolicy(scorecard=simple, clv=CLVStage()),
        cs.ModifiedBetaGeoFitter(),
        cs.ModifiedBetaGeoFitter().fit(table),
        cs.ParetoNBDParams(r=0.55, alpha=10.58, s=0.61, beta=11.67),
        cs.ParetoNBDFitter(),
        cs.ParetoNBDModel.from_params({"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}),
        cs.BetaGeoBetaBinomParams(alpha=1.204, beta=0.75, gamma=0.657, delta=2.783),
        cs.BetaGeoBetaBinomFitter(),
        cs.BetaGeoBetaBinomFitter().fit_aggregated(
            pd.DataFrame(
                {
                    "frequency": [0, 1, 1, 2, 2, 3],
                    "recency": [0, 1, 3, 2, 3, 3],
                    "n_periods": [3, 3, 3, 3, 3, 3],
                    "count": [40, 10, 12, 8, 9, 20],
                }
            )
        ),
        cs.ShiftedBetaGeoParams(alpha=0.704, beta=1.182),
        cs.ShiftedBetaGeoFitter(),
        cs.ShiftedBetaGeoFitter().fit([1000, 631, 468, 382, 326, 289, 262, 241]),
        cs.high_value_rule(),
        cs.high_value_rule().tiers[0],
        cs.high_value_rule().tiers[0].all_of[0],
        *cs.DEFAULT_SCHEDULES,
        cs.BetaGeoCovariateFitter(trans_covariates=["web"], life_covariates=["web", "north"]),
        cs.BetaGeoCovariateFitter(trans_covariates=["web"]).fit(
            table.assign(web=(table.index.to_series() % 2).astype(float)), time_unit="D"
        ),
        cs.ParetoNBDCovariateFitter(life_covariates=["north"], penalizer=0.01),
        cs.ParetoNBDCovariateModel(
            params=cs.ParetoNBDParams(r=0.55, alpha=10.58, s=0.61, beta=11.67),
            trans_covariates=["web"],
            trans_gamma=[0.3],
            time_unit="W",
        ),
        cs.GammaGammaCovariateFitter(spend_covariates=["web"]),
        cs.GammaGammaCovariateModel(
            params=cs.GammaGammaParams(p=6.0, q=4.0, v=15.0),
            spend_covariates=["web"],
            spend_gamma=[-0.2],
        ),
    ]
    return values

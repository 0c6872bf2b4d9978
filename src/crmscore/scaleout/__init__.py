"""Beyond one machine: the same pure functions on Dask (and Spark) partitions.

crmscore has no cluster code of its own. Per-customer work is co-located by a
shuffle on the customer id and then done by the unchanged pandas functions, one
partition at a time (:func:`map_customers_dask`, :func:`map_customers_spark`);
model fits add up per-partition log-likelihoods and their derivatives
(:func:`fit_dask`), or count small sufficient statistics
(:func:`sufficient_statistics_dask`).

Dask and Spark are optional extras (``pip install "crmscore[dask]"``,
``"crmscore[spark]"``) imported only when these functions run.
"""

from __future__ import annotations

from crmscore.scaleout._dask import (
    fit_dask,
    map_customers,
    map_customers_dask,
    rfm_table_dask,
    sufficient_statistics_dask,
)
from crmscore.scaleout._population import fit_scorecard_dask
from crmscore.scaleout._review import DistributedReview, review_dask
from crmscore.scaleout._scorers import early_warning_dask, predict_clv_dask, score_tiers_dask
from crmscore.scaleout._spark import (
    fit_spark,
    map_customers_spark,
    rfm_table_spark,
    spark_schema,
    sufficient_statistics_spark,
)
from crmscore.scaleout._spark_population import fit_scorecard_spark
from crmscore.scaleout._spark_review import review_spark
from crmscore.scaleout._spark_scorers import (
    early_warning_spark,
    predict_clv_spark,
    score_tiers_spark,
)

__all__ = [
    "DistributedReview",
    "early_warning_dask",
    "early_warning_spark",
    "fit_dask",
    "fit_scorecard_dask",
    "fit_scorecard_spark",
    "fit_spark",
    "map_customers",
    "map_customers_dask",
    "map_customers_spark",
    "predict_clv_dask",
    "predict_clv_spark",
    "review_dask",
    "review_spark",
    "rfm_table_dask",
    "rfm_table_spark",
    "score_tiers_dask",
    "score_tiers_spark",
    "spark_schema",
    "sufficient_statistics_dask",
    "sufficient_statistics_spark",
]

"""Frame helpers that tell frame libraries apart without importing them (private)."""

from __future__ import annotations


def is_dask_frame(obj: object) -> bool:
    """Tell a Dask DataFrame from a pandas one without importing Dask."""
    return type(obj).__module__.startswith("dask") and hasattr(obj, "map_partitions")


def is_spark_frame(obj: object) -> bool:
    """Tell a Spark DataFrame (classic or Connect) from others without importing Spark."""
    return type(obj).__module__.startswith("pyspark.sql") and hasattr(obj, "sparkSession")

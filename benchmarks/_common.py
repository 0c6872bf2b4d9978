"""Helpers shared by the benchmark scripts: timing, peak memory, the standard book."""

from __future__ import annotations

import argparse
import gc
import os
import platform
import time
import tracemalloc
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

import crmscore as cs

if TYPE_CHECKING:
    from collections.abc import Callable

T = TypeVar("T")

#: About ten transactions per customer over two years: 1M customers give ~10M rows.
BENCH_PURCHASE = cs.BetaGeoParams(r=1.0, alpha=28.0, a=1.0, b=12.0)


def parser(description: str, *, customers: int) -> argparse.ArgumentParser:
    """Argument parser with the options every benchmark takes."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--customers", type=int, default=customers, help="customers in the book")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of our code (best kept)")
    p.add_argument("--seed", type=int, default=2026)
    return p


def book(n_customers: int, seed: int) -> cs.SyntheticBook:
    """The standard benchmark book."""
    return cs.make_transactions(n_customers, seed=seed, purchase=BENCH_PURCHASE)


def timed(function: Callable[[], T], *, repeat: int = 1) -> tuple[T, float]:
    """Best wall time of ``repeat`` calls, and the last result."""
    best = np.inf
    result: Any = None
    for _ in range(repeat):
        gc.collect()
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return result, best


def peak_memory(function: Callable[[], Any]) -> float:
    """Peak memory (MB) allocated by one call, beyond what existed before it.

    Measured with tracemalloc, which sees numpy's and pandas' buffers.
    """
    gc.collect()
    tracemalloc.start()
    try:
        function()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak / 2**20


def machine() -> str:
    """One line describing where the figures come from."""
    return (
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}, {os.cpu_count()} CPUs, "
        f"{platform.machine()}"
    )


def row(label: str, seconds: float, memory_mb: float | None = None) -> str:
    """A result line."""
    memory = "" if memory_mb is None else f"   peak {memory_mb:8.0f} MB"
    return f"  {label:<44} {seconds:9.3f} s{memory}"

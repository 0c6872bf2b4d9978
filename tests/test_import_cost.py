"""``import crmscore`` loads only what every user needs (issue 19).

Modules that one feature needs (scipy.stats for the churn metrics, scipy.optimize for
the fits, scipy.cluster for k-means tiering, matplotlib for the plots, the scale-out
engines) are imported by that feature, not by ``import crmscore``: a fresh
interpreter shows which modules the import loaded. The time is measured by
``benchmarks/bench_import.py`` (a wall-clock target does not belong in a test on a
shared machine).
"""

from __future__ import annotations

import ast
import subprocess
import sys

HEAVY = (
    "scipy.stats",
    "scipy.optimize",
    "scipy.cluster",
    "matplotlib",
    "sklearn",
    "dask",
    "pyspark",
)


def _loaded_after(code: str) -> list[str]:
    """The heavy modules loaded in a fresh interpreter after running ``code``."""
    child = f"import sys\n{code}\nprint(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))"
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True)
    loaded: list[str] = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    return loaded


def test_import_crmscore_loads_no_feature_only_module() -> None:
    assert _loaded_after("import crmscore") == []


def test_the_features_still_load_what_they_need() -> None:
    """The check above can fail: the same probe sees a feature's lazy import."""
    code = (
        "import numpy as np, crmscore as cs\n"
        "cs.BetaGeoFitter().fit(cs.make_rfm_summary(300, seed=1))\n"
        "from crmscore.churn._metrics import roc_auc\n"
        "roc_auc(np.array([0.0, 1.0, 1.0]), np.array([0.1, 0.4, 0.3]))\n"
    )
    loaded = _loaded_after(code)
    assert "scipy.optimize" in loaded
    assert "scipy.stats" in loaded
    assert "matplotlib" not in loaded

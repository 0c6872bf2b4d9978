"""Dask and Spark are optional: importing crmscore (and crmscore.scaleout) loads neither."""

from __future__ import annotations

import subprocess
import sys


def test_importing_crmscore_does_not_import_dask_or_spark() -> None:
    code = (
        "import sys, crmscore, crmscore.scaleout; "
        "loaded = sorted({m.split('.')[0] for m in sys.modules} & "
        "{'dask', 'distributed', 'pyspark'}); "
        "sys.exit(str(loaded) if loaded else 0)"
    )
    run = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr

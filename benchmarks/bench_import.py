"""What ``import crmscore`` costs beyond numpy, pandas and scipy.special.

    python benchmarks/bench_import.py              # best of 3 fresh interpreters
    python benchmarks/bench_import.py --repeat 1   # a quick run

Each run starts a fresh interpreter with ``-X importtime``, imports numpy, pandas
and scipy.special first (every crmscore user pays for those), then crmscore: the
cumulative time of the ``crmscore`` line is what crmscore itself adds. The target
(issue 19) is under 0.5 s; the script also lists the heavy modules that only one
feature needs (scipy.stats, scipy.optimize, scipy.cluster, matplotlib, scikit-learn,
dask, pyspark) and fails if ``import crmscore`` loads any of them.
``--customers`` is accepted, like every benchmark's, and not used.
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys

from _common import machine, parser

TARGET_SECONDS = 0.5
#: Loaded only by the feature that needs it, never by ``import crmscore``.
HEAVY = (
    "scipy.stats",
    "scipy.optimize",
    "scipy.cluster",
    "matplotlib",
    "sklearn",
    "dask",
    "pyspark",
)
CHILD = (
    "import numpy, pandas, scipy.special\n"
    "import crmscore, sys\n"
    f"print(sorted(m for m in sys.modules if m.startswith({HEAVY!r})))\n"
)
LINE = re.compile(r"^import time:\s+\d+\s+\|\s+(?P<cumulative>\d+)\s+\|\s*(?P<module>\S+)$")


def one_run() -> tuple[float, float, list[str]]:
    """(crmscore's seconds, the base modules' seconds, heavy modules loaded) of one fresh import."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", CHILD],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )
    cumulative = {}
    for line in done.stderr.splitlines():
        match = LINE.match(line)
        if match and match["module"] in {"numpy", "pandas", "scipy.special", "crmscore"}:
            cumulative[match["module"]] = int(match["cumulative"]) / 1e6
    base = sum(cumulative[name] for name in ("numpy", "pandas", "scipy.special"))
    heavy = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    return cumulative["crmscore"], base, heavy


def main() -> None:
    args = parser(__doc__.splitlines()[0], customers=0).parse_args()
    runs = [one_run() for _ in range(max(args.repeat, 1))]
    own = min(run[0] for run in runs)
    base = min(run[1] for run in runs)
    heavy = sorted({module for run in runs for module in run[2]})
    print(machine())
    print(f"  numpy + pandas + scipy.special              {base:9.3f} s")
    verdict = "within" if own < TARGET_SECONDS else "OVER"
    target = f"({verdict} the {TARGET_SECONDS} s target)"
    print(f"  import crmscore beyond them                 {own:9.3f} s   {target}")
    if heavy:
        sys.exit(f"import crmscore loads modules only one feature needs: {heavy}")
    print(f"  none of {', '.join(HEAVY)} is loaded")


if __name__ == "__main__":
    main()

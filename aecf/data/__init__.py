"""The digits benchmark and its parts (docs/architecture.md, "Raw benchmark").

BENCHMARK_DIR lives here, not in `build.py`, so that `assets.py` (demo inputs, written by
`data build --assets`) need not import the builder that calls it.
"""

from aecf.constants import DATA_DIR

BENCHMARK_DIR = DATA_DIR / "benchmark"

"""`make bench`: `python bench/run.py [--duration 5] [--warmup 2] [--out bench] [--keep-work-dir]`.

Trains both models, measures the in-process floor, the framework floor, the predict API and the
seed baseline with wrk on loopback, and writes bench/results.md, results.json and results.png.
See bench/main.py for the order of the run.
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the `bench` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.main import main

if __name__ == "__main__":
    sys.exit(main())

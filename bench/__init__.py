"""`make bench`: the predict API against the framework and in-process floors and the seed design.

`python bench/run.py` runs everything once on this machine and writes `bench/results.md`,
`bench/results.json` and `bench/results.png`. The apps in this package (`floor_app`, `seed_app`)
exist only for the benchmark.
"""
